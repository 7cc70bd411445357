"""The metrics the GPT-2 paper reports for its zero-shot tasks: ROUGE, BLEU, token F1 and exact match.

Each is computed as the reference implementation the field uses computes it, and `tests/test_metrics.py` checks
them against those packages on hundreds of pairs (`scripts/make_metric_fixtures.py` writes the fixture):

* ROUGE-1, ROUGE-2, ROUGE-L (Lin 2004, "ROUGE: A Package for Automatic Evaluation of Summaries"), as Google's
  `rouge-score` package computes them. Tokens are the runs of [a-z0-9] in the lower-cased text (every other
  character separates tokens); with stem=True each token longer than 3 characters goes through the Porter
  stemmer, in NLTK's default mode, as `rouge-score` applies it. With P = precision and R = recall:

      ROUGE-N:  overlap = sum over n-grams g of min(count_pred(g), count_ref(g))
                P = overlap / max(n-grams in prediction, 1),  R = overlap / max(n-grams in reference, 1)
      ROUGE-L:  P = LCS / tokens in prediction,  R = LCS / tokens in reference  (0 if either is empty)
      F1 = 2 P R / (P + R), or 0 when P + R = 0

  LCS is the length of the longest common subsequence of the two token lists.
* BLEU (Papineni et al. 2002), as `sacrebleu`'s `corpus_bleu` computes it (Post 2018, "A Call for Clarity in
  Reporting BLEU Scores"), with its defaults: mteval-v13a tokenisation, case kept, "exp" smoothing. Over the whole
  corpus, with c_n the clipped n-gram matches and t_n the prediction's n-grams (n = 1..4), summed over segments:

      p_n = 100 c_n / t_n, or, where c_n = 0, 100 / (2^k t_n) for the k-th such order (NIST smoothing)
      BP = 1 if hyp_len >= ref_len else exp(1 - ref_len / hyp_len)
      BLEU = BP exp(mean of log p_n)     (0 if no n-gram matches at all, or if some t_n = 0)

  A segment's n-gram counts are clipped by the largest count in any of its references, and its reference length
  is the one closest to the prediction's (the shorter on a tie).
* Token F1 and exact match, as the SQuAD official evaluation script (Rajpurkar et al. 2016, v2.0's
  `evaluate-v2.0.py`) and CoQA's (Reddy et al. 2019, `evaluate-v1.0.py`) normalise answers: lower-case, remove
  ASCII punctuation (Python's `string.punctuation`), remove the words a, an, the, split on whitespace. F1 is the
  harmonic mean of precision and recall of the shared tokens (counted with multiplicity); when either answer has
  no tokens, F1 is 1 if both have none and 0 otherwise. Given several gold answers, the best score counts
  (SQuAD's "max over ground truths").
"""

import math
import re
import string
from collections import Counter

# ---------------------------------------------------------------- the Porter stemmer, NLTK's default mode

# Porter (1980), "An algorithm for suffix stripping", with the departures NLTK makes in its default mode
# (NLTK_EXTENSIONS, described in nltk/stem/porter.py): a few irregular words kept whole or mapped, "ies"/"ied" of
# four letters kept as "ie", y -> i only after a consonant that is not the whole stem, and the rules "bli",
# "alli" (applied again after), "fulli" and "logi" in step 2.

IRREGULAR = {"skies": "sky", "sky": "sky", "dying": "die", "lying": "lie", "tying": "tie", "news": "news",
             "innings": "inning", "inning": "inning", "outings": "outing", "outing": "outing",
             "cannings": "canning", "canning": "canning", "howe": "howe", "proceed": "proceed",
             "exceed": "exceed", "succeed": "succeed"}  # fmt: skip


def consonants(word):
    """For each letter, whether it is a consonant: not a, e, i, o, u, and not a y that follows a consonant."""
    flags = []
    for i, ch in enumerate(word):
        flags.append(ch not in "aeiou" and (ch != "y" or i == 0 or not flags[i - 1]))
    return flags


def measure(stem):
    """m in [C](VC)^m[V]: how many times a vowel is followed by a consonant."""
    flags = consonants(stem)
    return sum(1 for a, b in zip(flags, flags[1:]) if not a and b)


def has_vowel(stem):
    return not all(consonants(stem))


def ends_double_consonant(word):
    return len(word) >= 2 and word[-1] == word[-2] and consonants(word)[-1]


def ends_cvc(word):
    """*o: consonant-vowel-consonant, the last not w, x or y; in NLTK's mode also a two-letter vowel-consonant."""
    flags = consonants(word)
    if len(word) >= 3:
        return flags[-3] and not flags[-2] and flags[-1] and word[-1] not in "wxy"
    return len(word) == 2 and not flags[0] and flags[1]


def positive(stem):
    return measure(stem) > 0


def above_one(stem):
    return measure(stem) > 1


def first_rule(word, rules):
    """Apply the first rule (suffix, replacement, condition on the stem) whose suffix ends the word; if its
    condition fails, the word is left as it is (no later rule is tried)."""
    for suffix, replacement, condition in rules:
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)]
            return stem + replacement if condition(stem) else word
    return word


def always(stem):
    return True


def step1a(word):
    if word.endswith("ies") and len(word) == 4:
        return word[:-3] + "ie"
    return first_rule(word, [("sses", "ss", always), ("ies", "i", always), ("ss", "ss", always), ("s", "", always)])


def step1b(word):
    if word.endswith("ied"):
        return word[:-3] + ("ie" if len(word) == 4 else "i")
    if word.endswith("eed"):
        return word[:-1] if positive(word[:-3]) else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and has_vowel(word[: -len(suffix)]):
            return step1b_tidy(word[: -len(suffix)])
    return word


def step1b_tidy(stem):
    """After -ed or -ing: put an e back after at, bl, iz; undouble a final consonant but l, s, z; add an e to a
    short cvc stem."""
    if stem.endswith(("at", "bl", "iz")):
        return stem + "e"
    if ends_double_consonant(stem):
        return stem if stem[-1] in "lsz" else stem[:-1]
    return stem + "e" if measure(stem) == 1 and ends_cvc(stem) else stem


def step1c(word):
    return first_rule(word, [("y", "i", lambda stem: len(stem) > 1 and consonants(stem)[-1])])


STEP2 = [("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
         ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"), ("ization", "ize"),
         ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"),
         ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"), ("fulli", "ful")]  # fmt: skip
STEP3 = [("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", "")]
STEP4 = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou", "ism", "ate",
         "iti", "ous", "ive", "ize"]  # fmt: skip


def step2(word):
    if word.endswith("alli") and positive(word[:-4]):
        return step2(word[:-4] + "al")
    rules = [(s, r, positive) for s, r in STEP2] + [("logi", "log", lambda stem: positive(stem + "l"))]
    return first_rule(word, rules)


def step3(word):
    return first_rule(word, [(s, r, positive) for s, r in STEP3])


def step4(word):
    def condition(suffix):
        if suffix == "ion":
            return lambda stem: above_one(stem) and stem[-1] in "st"
        return above_one

    return first_rule(word, [(s, "", condition(s)) for s in STEP4])


def step5(word):
    if word.endswith("e"):
        stem = word[:-1]
        m = measure(stem)
        if m > 1 or (m == 1 and not ends_cvc(stem)):
            word = stem
    if word.endswith("ll") and above_one(word[:-1]):
        word = word[:-1]
    return word


def porter_stem(word):
    """A word's Porter stem, as NLTK's `PorterStemmer().stem` gives it in its default mode (lower-cased)."""
    stem = word.lower()
    if stem in IRREGULAR:
        return IRREGULAR[stem]
    if len(word) <= 2:
        return stem
    for step in (step1a, step1b, step1c, step2, step3, step4, step5):
        stem = step(stem)
    return stem


# ---------------------------------------------------------------- ROUGE


def check_text(value, name):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    return value


def rouge_tokens(text, stem=False):
    """rouge-score's tokens: runs of [a-z0-9] in the lower-cased text, stemmed when longer than 3 characters."""
    tokens = re.findall(r"[a-z0-9]+", text.lower())
    return [porter_stem(t) if stem and len(t) > 3 else t for t in tokens]


def f_measure(precision, recall):
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def ngrams(tokens, n):
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(pred, ref, n):
    pred_ngrams, ref_ngrams = ngrams(pred, n), ngrams(ref, n)
    overlap = sum(min(count, pred_ngrams[g]) for g, count in ref_ngrams.items())
    precision = overlap / max(sum(pred_ngrams.values()), 1)
    recall = overlap / max(sum(ref_ngrams.values()), 1)
    return f_measure(precision, recall)


def lcs_length(a, b):
    """The length of the longest common subsequence, by the usual dynamic programme, one row at a time."""
    row = [0] * (len(b) + 1)
    for x in a:
        previous_diagonal = 0
        for j, y in enumerate(b, start=1):
            above = row[j]
            row[j] = previous_diagonal + 1 if x == y else max(above, row[j - 1])
            previous_diagonal = above
    return row[-1]


def rouge_l(pred, ref):
    if not pred or not ref:
        return 0.0
    lcs = lcs_length(ref, pred)
    return f_measure(lcs / len(pred), lcs / len(ref))


def rouge(prediction: str, reference: str, stem: bool = False) -> dict:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 of a prediction against its reference, in [0, 1], as `rouge-score`'s
    `RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stem).score(reference, prediction)` gives them."""
    pred = rouge_tokens(check_text(prediction, "prediction"), stem)
    ref = rouge_tokens(check_text(reference, "reference"), stem)
    return {"rouge1": rouge_n(pred, ref, 1), "rouge2": rouge_n(pred, ref, 2), "rougeL": rouge_l(pred, ref)}


# ---------------------------------------------------------------- BLEU

# mteval-v13a's tokenisation as sacrebleu writes it: these ASCII symbols become tokens of their own; a period or
# comma is split off unless a digit stands on both sides; a hyphen after a digit is split off.
SYMBOLS_13A = re.compile(r"([{|}~\[\\\]^_` !\"#$%&()*+:;<=>?@/])")
STEPS_13A = [(SYMBOLS_13A, r" \1 "), (re.compile(r"([^0-9])([.,])"), r"\1 \2 "),
             (re.compile(r"([.,])([^0-9])"), r" \1 \2"), (re.compile(r"([0-9])(-)"), r"\1 \2 ")]  # fmt: skip
ENTITIES = [("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")]
MAX_ORDER = 4


def tokenize_13a(line):
    """A segment's tokens as sacrebleu's default "13a" tokenizer gives them (after its right strip)."""
    line = line.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        for entity, char in ENTITIES:
            line = line.replace(entity, char)
    line = f" {line} "
    for pattern, replacement in STEPS_13A:
        line = pattern.sub(replacement, line)
    return line.split()


def all_ngrams(tokens):
    return Counter(tuple(tokens[i : i + n]) for n in range(1, MAX_ORDER + 1) for i in range(len(tokens) - n + 1))


def closest_length(hyp_len, ref_lens):
    """The reference length closest to the prediction's; the shorter of two equally close."""
    return min(ref_lens, key=lambda n: (abs(hyp_len - n), n))


def segment_statistics(prediction, references):
    """[hyp_len, ref_len, matches for n = 1..4, prediction n-grams for n = 1..4] of one segment."""
    hyp = tokenize_13a(prediction)
    refs = [tokenize_13a(r) for r in references]
    ref_counts = Counter()
    for ref in refs:
        ref_counts |= all_ngrams(ref)  # | keeps the largest count of each n-gram
    correct, total = [0] * MAX_ORDER, [0] * MAX_ORDER
    for gram, count in all_ngrams(hyp).items():
        total[len(gram) - 1] += count
        correct[len(gram) - 1] += min(count, ref_counts[gram])
    return [len(hyp), closest_length(len(hyp), [len(r) for r in refs]), *correct, *total]


def bleu_from_statistics(hyp_len, ref_len, correct, total):
    """Corpus BLEU (0-100) from the summed statistics, with sacrebleu's "exp" smoothing."""
    bp = 1.0 if hyp_len >= ref_len else (math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0)
    if not any(correct) or not all(total):
        return 0.0  # sacrebleu floors log 0 at -9999999999, which makes the score exactly 0
    precisions, halvings = [], 1.0
    for c, t in zip(correct, total):
        if c == 0:
            halvings *= 2
            precisions.append(100.0 / (halvings * t))
        else:
            precisions.append(100.0 * c / t)
    return bp * math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)


def reference_sets(references, n):
    """Each prediction's references, from one reference per prediction (a list of strings) or sacrebleu's
    reference streams (a list of lists, stream k holding every prediction's k-th reference; None: none there)."""
    if not isinstance(references, (list, tuple)) or not references:
        raise ValueError("references must be a list of strings, or a list of reference lists")
    streams = [references] if all(isinstance(r, str) for r in references) else references
    for k, stream in enumerate(streams):
        if not isinstance(stream, (list, tuple)) or not all(r is None or isinstance(r, str) for r in stream):
            raise ValueError("references must be a list of strings, or a list of lists of strings (or None)")
        if len(stream) != n:
            raise ValueError(f"reference list {k} has {len(stream)} references for {n} predictions")
    sets = [[s[i] for s in streams if s[i] is not None] for i in range(n)]
    missing = next((i for i, refs in enumerate(sets) if not refs), None)
    if missing is not None:
        raise ValueError(f"prediction {missing} has no reference")
    return sets


def bleu(predictions, references) -> float:
    """Corpus BLEU (0-100), as `sacrebleu.corpus_bleu(predictions, references)` computes it with its defaults.

    `references`: one string per prediction, or sacrebleu's list of reference streams (each a list with one
    reference per prediction, None where a prediction has fewer references)."""
    if not isinstance(predictions, (list, tuple)) or not predictions:
        raise ValueError("predictions must be a non-empty list of strings")
    for p in predictions:
        check_text(p, "each prediction")
    sums = [0] * (2 + 2 * MAX_ORDER)
    for prediction, refs in zip(predictions, reference_sets(references, len(predictions))):
        sums = [a + b for a, b in zip(sums, segment_statistics(prediction, refs))]
    return bleu_from_statistics(sums[0], sums[1], sums[2 : 2 + MAX_ORDER], sums[2 + MAX_ORDER :])


# ---------------------------------------------------------------- token F1 and exact match (SQuAD, CoQA)

PUNCTUATION = frozenset(string.punctuation)
ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
    """Lower-case, drop ASCII punctuation, drop the articles a, an, the, and collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in PUNCTUATION)
    return " ".join(ARTICLES.sub(" ", text).split())


def answers_of(answer):
    answers = [answer] if isinstance(answer, str) else answer
    if not isinstance(answers, (list, tuple)) or not answers or not all(isinstance(a, str) for a in answers):
        raise ValueError("answer must be a string or a non-empty list of strings")
    return answers


def f1_one(prediction, answer):
    pred, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answer) -> float:
    """Token F1 in [0, 1] of a prediction against a gold answer (or the best of a list of them)."""
    check_text(prediction, "prediction")
    return max(f1_one(prediction, a) for a in answers_of(answer))


def exact_match(prediction: str, answer) -> float:
    """1.0 if the normalised prediction equals the normalised gold answer (or one of a list of them), else 0.0."""
    check_text(prediction, "prediction")
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers_of(answer)))
