"""Notebook 05, "Measuring a model" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, md

CELLS = [
    md("""
# 5. Measuring a model

How surprised is the model by a text? `gpt.score(text)` gives the log-probability of every token given the
ones before it; minus their mean is the loss in nats per token, its exponential the perplexity, and divided
by ln 2 and by the text's bytes, bits per byte: a number that compares models with different tokenizers.
"""),
    code("""
import numpy as np
from gptlite import GPT

gpt = GPT.from_pretrained("gptlite-shakespeare")
known = "Shall I compare thee to a summer's day? Thou art more lovely and more temperate."
unknown = "The quarterly earnings call was moved to Thursday because of the software update."
for text in (known, unknown):
    s = gpt.score(text)
    print(f"{s.perplexity:8.1f} perplexity, {s.bits_per_byte:.2f} bits per byte: {text!r}")
"""),
    md("""
The model trained on Shakespeare finds the sonnet far less surprising than a line of office English. Token by
token, surprisal (-log2 p, in bits) shows where:
"""),
    code("""
for text in (known, unknown):
    s = gpt.score(text)
    tokens = gpt.to_str_tokens(s.targets)
    print(" ".join(f"{t!r}:{-lp / np.log(2):.0f}" for t, lp in zip(tokens, s.logprobs)))
    print()
"""),
    md("""
## Long texts: sliding windows

A text longer than the context (128 tokens for this model, 1024 for gpt2) is scored in windows. Hugging Face's
perplexity guide moves a window of the full context by a stride: a smaller stride gives every token more
context, and costs more windows. `perplexity` reports the guide's own number and the exact one.
"""),
    code("""
from gptlite import course

text = course.text("heldout")[:20_000]  # plays the bundled model was not trained on
for stride in (128, 64):
    p = gpt.perplexity(text, stride=stride, batch_size=8)
    print(f"stride {stride:3d}: perplexity {p.perplexity:.2f} (the guide's weighting: {p.guide_perplexity:.2f}), "
          f"{p.bits_per_byte:.3f} bits per byte, {p.windows} windows")
"""),
    md("""
The same from the shell, for any size of file, is `python -m gptlite.eval FILE --stride 64`; `--task lambada`
and `--task choice` run the zero-shot tasks. With gpt2 on WikiText-2 the guide's numbers come out (the README
has the commands).
"""),
]
