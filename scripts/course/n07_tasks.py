"""Notebook 07, "Zero-shot tasks, as the GPT-2 paper ran them" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 7. Zero-shot tasks, as the GPT-2 paper ran them

The GPT-2 paper (Radford et al. 2019, Sections 3.5-3.8) asks a plain language model to summarise, translate and
answer questions with nothing but a prompt: no training for the task, just text laid out the way such a task
looks on the web. `gptlite.tasks` builds those prompts with the paper's settings, and `gptlite.metrics` scores
the answers as the field's reference packages do.

Say it plainly first: the bundled model has 3.7M parameters and has read only Shakespeare. It does not summarise
the news, translate French or know who wrote anything. What it shows here is the protocol: the exact prompt, the
generation settings, how the output is cut, and how the metrics read it. You write four pieces of those metrics
yourself, each checked against `gptlite.metrics` (which the test suite checks against the reference packages,
`rouge-score` and `sacrebleu`). The last cells run the same with `gpt2` on a machine with network.
"""),
    code("""
import re
import string
from collections import Counter

import numpy as np
from gptlite import GPT
from gptlite.course import check
from gptlite.metrics import MAX_ORDER, bleu, exact_match, normalize_answer, rouge, rouge_tokens, segment_statistics
from gptlite.metrics import token_f1, tokenize_13a
from gptlite.model import Config, flatten, log_softmax
from gptlite.tasks import TLDR, answer, answer_from_memory, conversation, qa_prompt, sentences, summarize
from gptlite.tasks import translate, translation_prompt

gpt = GPT.from_pretrained("gptlite-shakespeare")
n_params = sum(a.size for a in flatten(gpt.params).values())
assert round(n_params / 1e6, 1) == 3.7
gpt
"""),
    md("""
## Summarise: the article, then TL;DR:

Section 3.6: "we add the text TL;DR: after the article and generate 100 tokens with Top-k random sampling with
k = 2", and the summary is the first 3 generated sentences. OpenAI's layout (openai/gpt-2#33) puts TL;DR: on a
line of its own. The prompt and the 100 new tokens must fit in the context together: 1024 tokens for gpt2, only
128 here, so the article is cut at its end until the whole prompt has at most 28 tokens.
"""),
    code("""
article = ("The city council voted on Tuesday to close the old bridge over the river for repairs. "
           "Traffic will move to the ferry until the work is done in the spring, officials said.")
highlights = "The old bridge will close for repairs.\\nTraffic moves to the ferry until spring."
print(repr(article + TLDR))
print(len(gpt.encode_prompt(article + TLDR)), "tokens; room beside 100 new ones:", gpt.config.n_ctx - 100)
assert (Config().n_ctx, gpt.config.n_ctx, gpt.config.n_ctx - 100) == (1024, 128, 28)   # gpt2's context, and ours
"""),
    code("""
out = summarize(gpt, article, seed=0)
print("prompt:   ", repr(out.prompt), "(cut)" if out.truncated else "")
print("settings: ", out.settings)
print("generated:", repr(out.generated))
print("sentences:", sentences(out.generated)[:4])
print("summary:  ", repr(out.text))
assert out.settings == {"max_new_tokens": 100, "temperature": 1.0, "top_k": 2, "seed": 0}   # the paper's settings
assert out.truncated and len(gpt.encode_prompt(out.prompt)) <= 28 and out.prompt.endswith(TLDR)
assert out.text == " ".join(sentences(out.generated)[:3])                                 # the first 3 sentences
"""),
    md("""
ROUGE compares the summary with the reference highlights word by word: lower-case runs of letters and digits,
optionally Porter-stemmed, then F1 over shared unigrams (ROUGE-1), bigrams (ROUGE-2) and the longest common
subsequence (ROUGE-L). The model's "summary" is a scrap of dialogue that shares a single word with the
highlights, "the"; a person's summary shares many, and bigrams besides:
"""),
    code("""
print(rouge_tokens(highlights, stem=True))
print("the model's:", rouge(out.text, highlights, stem=True))
person = "The bridge closes for repairs; traffic takes the ferry."
print("a person's: ", rouge(person, highlights, stem=True))
shared = sorted(set(rouge_tokens(out.text, stem=True)) & set(rouge_tokens(highlights, stem=True)))
print("words the model's summary shares with the highlights:", shared)
assert shared == ["the"]
assert rouge(out.text, highlights, stem=True)["rouge2"] == 0 < rouge(person, highlights, stem=True)["rouge2"]
assert rouge(out.text, highlights, stem=True)["rouge1"] < rouge(person, highlights, stem=True)["rouge1"]
"""),
    md("""
### Exercise 1: ROUGE-1

Write ROUGE-1's F1 without stemming. The tokens are the runs of `[a-z0-9]` in the lower-cased text; the overlap
counts each shared word as often as it occurs in *both* (`Counter`'s `&` takes the smaller count); precision is
the overlap over the prediction's tokens, recall over the reference's, and F1 is 0 when both are 0.
"""),
    exercise("""
def rouge_1(prediction, reference):
    \"\"\"Two strings -> ROUGE-1 F1, a float in [0, 1], as rouge-score computes it without a stemmer.\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_rouge_1(prediction, reference):
    return rouge(prediction, reference)["rouge1"]

rouge_cases = [(out.text, highlights), (person, highlights), ("the the the", "the cat"), ("", highlights),
               ("Bridge, BRIDGE; bridge!", "the bridge")]
check(rouge_1, library_rouge_1, rouge_cases);
"""),
    solution("""
def rouge_1(prediction, reference):
    pred = re.findall(r"[a-z0-9]+", prediction.lower())
    ref = re.findall(r"[a-z0-9]+", reference.lower())
    overlap = sum((Counter(pred) & Counter(ref)).values())
    precision, recall = overlap / max(len(pred), 1), overlap / max(len(ref), 1)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


assert check(rouge_1, library_rouge_1, rouge_cases)
"""),
    md("""
## Translate: example pairs, then "sentence ="

Section 3.7 conditions on example pairs `english sentence = french sentence` and then `english sentence =`,
decodes greedily and keeps the first generated sentence. The paper does not say how many pairs; the command
takes 8. BLEU (sacrebleu's corpus BLEU, 13a tokenisation) counts matching 1- to 4-grams, with a brevity
penalty. A wrong translation scores 0; a near miss that gets the first words right scores about half marks:
"""),
    code("""
pairs = [("Good morning.", "Bonjour."), ("Thank you very much.", "Merci beaucoup."),
         ("Where is the king?", "Où est le roi ?")]
print(translation_prompt(pairs, "Good night."))
out = translate(gpt, "Good night.", pairs, max_new_tokens=24)
print("->", repr(out.generated), "->", repr(out.text), out.settings)
print("BLEU:", bleu([out.text], ["Bonne nuit."]))
near_miss = bleu(["Bonne nuit, mon roi."], ["Bonne nuit, mon seigneur."])
print("a near miss:", near_miss)
assert out.settings["temperature"] == 0 and out.text == sentences(out.generated)[0]   # greedy, the first sentence
assert bleu([out.text], ["Bonne nuit."]) == 0 and round(near_miss / 100, 1) == 0.5
assert MAX_ORDER == 4

from gptlite.eval import parser
assert parser().parse_args(["data.jsonl", "--task", "translate"]).examples == 8   # the command's default
"""),
    md("""
### Exercise 2: BLEU's clipped n-gram counts

BLEU's core is the *clipped* n-gram precision: of the prediction's n-grams, how many occur in the reference,
each counted at most as often as the reference has it, so that "le le le le" earns no more than the
reference's one "le". Tokenise both with `tokenize_13a` (sacrebleu's default tokeniser), and return the clipped
matches and the prediction's number of n-grams; `bleu` sums these over the corpus for n = 1..4 and takes the
geometric mean of the ratios.
"""),
    exercise("""
def clipped_ngrams(prediction, reference, n):
    \"\"\"Two strings, n >= 1 -> (clipped matches, n-grams in the prediction): a tuple of two ints.\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_clipped_ngrams(prediction, reference, n):
    statistics = segment_statistics(prediction, [reference])   # [hyp_len, ref_len, matches 1-4, totals 1-4]
    return statistics[1 + n], statistics[1 + MAX_ORDER + n]

bleu_cases = [("Bonne nuit, mon roi.", "Bonne nuit, mon seigneur.", n) for n in range(1, 5)]
bleu_cases += [("le le le le", "le roi", 1), ("le le le le", "le roi", 2), ("nuit", "Bonne nuit.", 3)]
check(clipped_ngrams, library_clipped_ngrams, bleu_cases);
"""),
    solution("""
def clipped_ngrams(prediction, reference, n):
    def grams(tokens):
        return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))

    hyp, ref = grams(tokenize_13a(prediction)), grams(tokenize_13a(reference))
    return sum((hyp & ref).values()), sum(hyp.values())


assert check(clipped_ngrams, library_clipped_ngrams, bleu_cases)
"""),
    md("""
## Answer about a passage (CoQA)

Section 3.5 gives the model the document, the conversation so far and a final `A:`, decodes greedily and reads
the answer to the end of the line. The metric is token F1 after the SQuAD/CoQA normalisation: lower-case, no
punctuation, no a/an/the.
"""),
    code("""
story = "Romeo loves Juliet. They meet at a feast in Verona, and marry in secret."
history = [("Who loves Juliet?", "Romeo")]
print(story + "\\n\\n" + conversation(history, "Where do they meet?"))
out = answer(gpt, story, history, "Where do they meet?", max_new_tokens=16)
print("->", repr(out.text))
print(normalize_answer("At a feast, in Verona!"), "| F1:", token_f1(out.text, "at a feast in Verona"),
      "| a close answer:", token_f1("a feast in Verona", "at a feast in Verona"))
assert normalize_answer("At a feast, in Verona!") == "at feast in verona"
"""),
    md("""
### Exercise 3: the SQuAD normalisation

Lower-case the answer, drop every ASCII punctuation character (`string.punctuation`), replace the whole words
a, an and the by a space (`re.sub(r"\\b(a|an|the)\\b", " ", ...)`: "theatre" keeps its "the"), and join what is
left by single spaces. Exact match compares two answers after this.
"""),
    exercise("""
def normalize(text):
    \"\"\"A string -> the normalised string that SQuAD's and CoQA's evaluation scripts compare.\"\"\"
    raise NotImplementedError
"""),
    code("""
normal_cases = [("At a feast, in Verona!",), ("  The THEATRE, an   apple; a pear.",), ("Romeo's",), ("",),
                ("the",)]
check(normalize, normalize_answer, normal_cases);
"""),
    solution("""
def normalize(text):
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\\b(a|an|the)\\b", " ", text).split())


assert check(normalize, normalize_answer, normal_cases)
"""),
    md("""
### Exercise 4: token F1

Split both normalised answers into words; the shared words, counted with multiplicity, give precision (over the
prediction's words) and recall (over the gold's), and F1 is their harmonic mean. When either answer has no words
left, F1 is 1 if both are empty and 0 otherwise. Use your `normalize` (or the library's `normalize_answer`).
"""),
    exercise("""
def f1(prediction, gold):
    \"\"\"Two strings -> token F1, a float in [0, 1], as SQuAD's evaluate-v2.0.py computes it.\"\"\"
    raise NotImplementedError
"""),
    code("""
f1_cases = [(out.text, "at a feast in Verona"), ("a feast in Verona", "at a feast in Verona"),
            ("Verona Verona", "Verona"), ("the", "a"), ("the", "Romeo"), ("Romeo and Juliet", "Juliet, and Romeo")]
check(f1, token_f1, f1_cases);
"""),
    solution("""
def f1(prediction, gold):
    pred, ref = normalize(prediction).split(), normalize(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


assert check(f1, token_f1, f1_cases)
"""),
    md("""
## Answer from memory (Natural Questions)

Section 3.8 seeds the context with question-answer pairs, then asks; exact match is the metric (the paper
reports 4.1% for its largest model). The probability of the answer matters too: the paper reports that on the 1%
of questions GPT-2 was most sure of, it was right 63.1% of the time. (Those two are the paper's figures, which
no offline cell can recompute.) `probability` is the product of the answer tokens' probabilities, which the cell
after this one recomputes from `gpt(ids)`.
"""),
    code("""
examples = [("What say you?", "I say nothing, my lord."), ("Where is the king?", "He is gone to the court.")]
print(qa_prompt(examples, "What is your name?"))
out = answer_from_memory(gpt, "What is your name?", examples, max_new_tokens=12)
print("->", repr(out.text), f"probability {out.probability:.2e}", "exact match:", exact_match(out.text, "Romeo"))
"""),
    code("""
prompt_ids = gpt.encode_prompt(out.prompt)
new_ids = gpt.generate(prompt_ids, **out.settings)          # greedy: the same tokens answer_from_memory got
line_end = next(i for i, t in enumerate(new_ids) if "\\n" in gpt.token_str(t))
answer_ids = new_ids[:line_end]                              # the answer: the tokens before the line break
assert gpt.tokenizer.decode(answer_ids).strip() == out.text
full = prompt_ids + answer_ids
rows = log_softmax(gpt(full)[:-1].astype(np.float64))     # row i predicts token i + 1
by_hand = np.exp(rows[np.arange(len(prompt_ids) - 1, len(full) - 1), answer_ids].sum())
print(f"by hand: {by_hand:.3e}; answer_from_memory: {out.probability:.3e}")
assert np.isclose(by_hand, out.probability, rtol=1e-4)
"""),
    md("""
## The same from the shell

`python -m gptlite.eval FILE --task summarize|translate|qa|nq` reads JSON Lines in the formats the `datasets` hub
ships, prints the metrics on the paper's 0-100 scale, and with `--out` keeps every generation and resumes an
interrupted run:
"""),
    code("""
import json, tempfile
from pathlib import Path
from gptlite.eval import main

folder = Path(tempfile.mkdtemp())
item = {"story": story, "questions": ["Who loves Juliet?", "Where do they meet?"],
        "answers": {"input_text": ["Romeo", "at a feast in Verona"]}}
(folder / "coqa.jsonl").write_text(json.dumps(item) + "\\n")
main([str(folder / "coqa.jsonl"), "--task", "qa", "--max-new-tokens", "16", "--out", str(folder / "out.jsonl"),
      "--quiet"])
print((folder / "out.jsonl").read_text())

from gptlite.tasks import report
scale = report("qa", [{"f1": [0.5, 1.0], "exact_match": [0.0, 1.0]}])   # two answers: F1 0.5 and 1, one exact
print("the 0-100 scale:", scale)
assert scale == {"stories": 1, "questions": 2, "f1": 75.0, "exact_match": 50.0}
"""),
    md("""
## With gpt2, on a machine with network

Set `RUN_GPT2 = True` to download gpt2 (124M parameters, about half a gigabyte, once) and run the same tasks
with a model that has read the web. The paper's numbers are for its largest model, `gpt2-xl`: 1542M parameters in
the paper's Table 2, 1558M by count (OpenAI's folder name). The README has the commands for each test set. The
counts come from the shapes alone, a formula checked here on the bundled model first:
"""),
    code("""
from gptlite.releases import RELEASES

def n_parameters(c):
    \"\"\"wte and wpe, then per block 2 layer norms, attention (qkv and out) and the MLP (4x wide), then ln_f.\"\"\"
    d = c.n_embd
    return c.n_vocab * d + c.n_ctx * d + c.n_layer * (12 * d * d + 13 * d) + 2 * d

assert n_parameters(gpt.config) == n_params
counts = {name: n_parameters(Config(**RELEASES[name].shape)) for name in ("gpt2", "gpt2-xl")}
print({name: f"{n / 1e6:.1f}M" for name, n in counts.items()}, f"gpt2 in float32: {counts['gpt2'] * 4 / 1e9:.2f} GB")
assert round(counts["gpt2"] / 1e6) == 124 and round(counts["gpt2-xl"] / 1e6) == 1558
assert RELEASES["gpt2-xl"].openai_folder == "1558M" and round(counts["gpt2"] * 4 / 1e9, 1) == 0.5
"""),
    code("""
RUN_GPT2 = False  # True: needs network the first time
if RUN_GPT2:
    big = GPT.from_pretrained("gpt2")
    print(summarize(big, article, seed=0).text)
    print(translate(big, "Good night.", pairs).text)
    print(answer(big, story, history, "Where do they meet?").text)
    qa = [("Who wrote the Odyssey?", "Homer"), ("What is the capital of Italy?", "Rome")]
    print(answer_from_memory(big, "Who wrote Hamlet?", qa))
"""),
]
