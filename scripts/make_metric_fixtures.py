"""Write tests/fixtures/metrics.json: generated texts and the scores the reference implementations give them.

The references, none of them ever a gptlite dependency:

* Google's `rouge-score` (ROUGE-1/2/L F1, with and without its Porter stemmer), and NLTK's `PorterStemmer`
  in its default mode (the stemmer rouge-score uses) on a word list of its own;
* `sacrebleu.corpus_bleu` with its defaults (13a tokenisation), on corpora with one reference per prediction
  and on corpora with several reference streams, some holding None;
* the SQuAD official script's answer normalisation and F1 / exact match, as `torchmetrics` ships it
  (`torchmetrics.functional.text.squad`; its F1 is computed in float32 torch tensors, so the test compares it to
  1e-6, and the normalised tokens exactly).

The texts are drawn with a fixed seed from words chosen to exercise each step of the stemmer, punctuation,
digits with periods, commas and hyphens, HTML entities, Unicode, repeated n-grams, and empty or punctuation-only
strings. Run in the reference environment:

    .venv-ref/bin/python scripts/make_metric_fixtures.py
"""

import json
import random
from importlib.metadata import version
from pathlib import Path

import sacrebleu
from nltk.stem.porter import PorterStemmer
from rouge_score.rouge_scorer import RougeScorer
from torchmetrics.functional.text.squad import _compute_exact_match_score, _compute_f1_score, _get_tokens

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "metrics.json"
SEED = 22

# Words whose stems exercise Porter's steps (the examples of Porter 1980 among them) and NLTK's departures.
STEM_WORDS = """caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated troubled sized
hopping tanned falling hissing fizzed failing filing happy sky relational conditional rational valenci hesitanci
digitizer conformabli radicalli differentli vileli analogousli vietnamization predication operator feudalism
decisiveness hopefulness callousness formaliti sensitiviti sensibiliti triplicate formative formalize electriciti
electrical hopeful goodness revival allowance inference airliner gyroscopic adjustable defensible irritant
replacement adjustment dependent adoption homologou communism activate angulariti homologous effective bowdlerize
probate rate cease controll roll generalization oscillators dying lying tying skies news innings inning outings
canning cannings howe proceed exceed succeed dies lies tied cried spied enjoy enjoyment spy fly try syzygy toy
yyyy ayyy yay yelling theology geology analogi fully carefulli hopefulli logically radically generously
national internationalization running swimmed stopped filed hoped hopped saying sayings played played studies
studying agreement agreed disagreeing feed needed seeded bleeding speeding proceeded succeeded exceeding
emotional emotionally traditionally computers computational computing computed pies fries flies skis ski
tiptoe canoe shoe shoes ball balls fall falls tall taller smaller greatest 1990s 2nd covid19 abcd""".split()

WORDS = (
    STEM_WORDS
    + """the a an of and to in is was he she it they we you I said says new old police
president minister government people year years day week report reported reports according officials city
un des le la les est et une bonjour monde chat chats maison maisons""".split()
)
PUNCT = [".", ",", "!", "?", ";", ":", "'", '"', "(", ")", "-", "--", "...", "/", "&", "%", "$", "@", "#", "[", "]"]
SPECIAL = ["3.14", "1,000", "2,5", "5-year", "well-known", "e-mail", "U.S.", "Mr.", "&amp;", "&quot;", "&lt;b&gt;",
           "<skipped>", "l'homme", "aujourd'hui", "can't", "don't", "o'clock", "naïve", "café", "Über", "straße",
           "İstanbul", "\u212aelvin", "ǅemal", "中文", "日本語", "русский", "ελληνικά", "😀", "👍🏽", "½", "٣", "x²",
           "ﬁne", "\u00a0", "\t", "\n", "-\n", "“quoted”", "‘single’", "—", "…", "A.I.", "$5.00",
           "10%", "2026-12-01"]  # fmt: skip
FIXED_TEXTS = ["", " ", "\n", ".", "!!! ??? ...", "- - -", "the", "a an the", "The The THE the", "'", "&amp;",
               "a b a b a b a b", "the cat the cat the cat", "x", "Ünïcödé ōnly", "中文 中文 中文", "😀😀"]  # fmt: skip


def random_word(rng):
    """A made-up word from letters that make Porter's consonant/vowel and y rules work hard."""
    letters = "aeiouy" * 2 + "bcdfglmnrstvwxz" + "yy"
    stem = "".join(rng.choice(letters) for _ in range(rng.randint(1, 9)))
    return stem + rng.choice(["", "", "s", "es", "ies", "ed", "ied", "eed", "ing", "ly", "ness", "ation", "al",
                              "ement", "ize", "ous", "ive", "ful", "ll", "e", "y", "logi", "alli", "bli"])  # fmt: skip


def token(rng):
    kind = rng.random()
    if kind < 0.55:
        word = rng.choice(WORDS)
    elif kind < 0.7:
        word = random_word(rng)
    elif kind < 0.85:
        word = rng.choice(PUNCT)
    else:
        word = rng.choice(SPECIAL)
    if rng.random() < 0.15:
        word = word.capitalize() if rng.random() < 0.7 else word.upper()
    return word


def text(rng, n_max=30):
    tokens = [token(rng) for _ in range(rng.randint(0, n_max))]
    if tokens and rng.random() < 0.3:  # a repeated n-gram
        i = rng.randrange(len(tokens))
        tokens[i:i] = tokens[i : i + rng.randint(1, 3)] * rng.randint(2, 4)
    glue = rng.choice([" ", " ", " ", "", "  ", "\n"])
    return glue.join(tokens) + rng.choice(["", "", ".", " .", "\n", "  "])


def related(rng, source):
    """A text that shares words with the source: some dropped, some replaced, some moved."""
    tokens = source.split()
    out = []
    for t in tokens:
        r = rng.random()
        if r < 0.15:
            continue
        out.append(token(rng) if r < 0.3 else t)
    if out and rng.random() < 0.3:
        rng.shuffle(out)
    if rng.random() < 0.2:
        out += [token(rng) for _ in range(rng.randint(1, 5))]
    return " ".join(out)


def pairs(rng, n):
    """(prediction, reference) pairs: the fixed texts against each other and against drawn ones, then drawn."""
    out = [(a, b) for a in FIXED_TEXTS[:8] for b in FIXED_TEXTS[:8]]
    out += [(a, text(rng)) for a in FIXED_TEXTS] + [(text(rng), a) for a in FIXED_TEXTS]
    while len(out) < n:
        reference = text(rng)
        out.append((related(rng, reference) if rng.random() < 0.8 else text(rng), reference))
    return out


def rouge_cases(rng):
    scorers = {stem: RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stem) for stem in (False, True)}
    cases = []
    for prediction, reference in pairs(rng, 400):
        stem = rng.random() < 0.5
        scores = scorers[stem].score(reference, prediction)  # rouge-score takes (target, prediction)
        cases.append({"prediction": prediction, "reference": reference, "stem": stem,
                      **{k: scores[k].fmeasure for k in ("rouge1", "rouge2", "rougeL")}})  # fmt: skip
    return cases


def stem_cases(rng):
    stemmer = PorterStemmer()  # NLTK_EXTENSIONS, the default mode, as rouge-score constructs it
    words = sorted(set(STEM_WORDS + [random_word(rng) for _ in range(3000)]))
    return {"words": words, "stems": [stemmer.stem(w) for w in words]}


def corpus(rng, size):
    references = [text(rng) for _ in range(size)]
    predictions = [related(rng, r) if rng.random() < 0.85 else text(rng) for r in references]
    return predictions, references


def bleu_cases(rng):
    cases = []
    for prediction, reference in pairs(rng, 250):  # one segment each: BLEU of single sentences
        cases.append({"predictions": [prediction], "references": [reference]})
    for _ in range(60):  # corpora, one reference per prediction
        predictions, references = corpus(rng, rng.randint(2, 25))
        cases.append({"predictions": predictions, "references": references})
    for _ in range(40):  # corpora with 2-4 reference streams; some segments have fewer references (None)
        predictions, first = corpus(rng, rng.randint(1, 15))
        streams = [first] + [[related(rng, r) if rng.random() < 0.8 else None for r in first]
                             for _ in range(rng.randint(1, 3))]  # fmt: skip
        cases.append({"predictions": predictions, "references": streams})
    for case in cases:
        streams = case["references"]
        streams = [streams] if all(isinstance(r, str) for r in streams) else streams
        case["bleu"] = sacrebleu.corpus_bleu(case["predictions"], streams).score
    return cases


def answer_text(rng):
    """A short answer, as CoQA's and SQuAD's are: a few words, articles, punctuation, case."""
    words = [rng.choice(["the", "a", "an", "The", "A", "An", "THE"]) if rng.random() < 0.25 else token(rng)
             for _ in range(rng.randint(0, 6))]  # fmt: skip
    return " ".join(words)


def squad_cases(rng):
    fixed = ["", "the", "a", "An", "the the", "!", "...", "The cat.", "cat", "a cat", "the cat", "cats", "Théâtre",
             "l'homme", "“yes”", "yes", "no", "unknown", "an an an", "a-b", "ab", "2,000", "2000",
             "Anne", "theatre"]  # fmt: skip
    items = [(a, b) for a in fixed for b in fixed]
    while len(items) < 1000:
        gold = answer_text(rng)
        items.append((related(rng, gold) if rng.random() < 0.7 else answer_text(rng), gold))
    cases = [{"prediction": p, "answer": a, "tokens": _get_tokens(p), "f1": float(_compute_f1_score(p, a)),
              "exact_match": int(_compute_exact_match_score(p, a))} for p, a in items]  # fmt: skip
    return cases


def main():
    rng = random.Random(SEED)
    fixture = {
        "versions": {name: version(name) for name in ("rouge-score", "nltk", "sacrebleu", "torchmetrics")},
        "rouge": rouge_cases(rng),
        "porter": stem_cases(rng),
        "bleu": bleu_cases(rng),
        "squad": squad_cases(rng),
    }
    OUT.write_text(json.dumps(fixture, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
