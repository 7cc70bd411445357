"""Notebook 05, "Measuring a model" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 5. Measuring a model

How surprised is a model by a text? Everything in this notebook rests on one quantity: the log-probability of
each token given the ones before it, `log p(t_i | t_<i)`, read off the logits at the position before it. From
those numbers:

- the **negative log-likelihood** (NLL) of the text is minus their *sum*, in nats;
- the **loss** is minus their *mean*: nats per token, the number training minimises;
- the **perplexity** is the exponential of the loss: the model is as unsure as if it chose uniformly among that
  many tokens at every step;
- **bits per byte** is the NLL in bits (the sum divided by ln 2) divided by the number of UTF-8 bytes of the text.
  Perplexity depends on the tokenizer (a model with longer tokens predicts fewer, harder ones); bits per byte
  does not, so it compares models with different vocabularies.

`gpt.score(text)` computes all four. You will compute them yourself, then score texts longer than the model's
context with sliding windows, as Hugging Face's perplexity guide does.
"""),
    code("""
import math

import matplotlib.pyplot as plt
import numpy as np

from gptlite import GPT, course, scoring
from gptlite.course import check
from gptlite.model import log_softmax

gpt = GPT.from_pretrained("gptlite-shakespeare")
sonnet = "Shall I compare thee to a summer's day? Thou art more lovely and more temperate."
office = "The quarterly earnings call was moved to Thursday because of the software update."
for text in (sonnet, office):
    s = gpt.score(text)
    print(f"{s.perplexity:8.1f} perplexity, {s.bits_per_byte:.2f} bits per byte: {text!r}")
assert gpt.score(sonnet).bits_per_byte < gpt.score(office).bits_per_byte
"""),
    md("""
The bundled model was trained on Shakespeare's plays, and the first lines of Sonnet 18 surprise it far less than
a line of office English. The sonnet was not in its training text (the sonnets are poems, not plays): the model
is not remembering it, it finds its words, spelling and rhythm familiar. That is what a held-out measurement
shows: how well a model predicts text *like* its training text.

### Exercise 1: log-probabilities by hand

`gpt(ids)` returns the logits `[n_seq, n_vocab]` of one sequence; the logits at position i are the model's scores
for token i + 1. Compute the log-probability of every token of a text given the tokens before it, as
`gpt.score` does:

1. encode the text (`gpt.tokenizer.encode`) and put `<|endoftext|>` (`gpt.tokenizer.eot_token`) in front, so that
   the first token has something to be predicted from;
2. run the model on every token but the last (the last one is only ever a target);
3. take `log_softmax` (from `gptlite.model`, or write it: `z - log(sum(exp(z)))` after subtracting the max) in
   float64, and gather each position's target.
"""),
    exercise("""
def token_logprobs(gpt, text):
    \"\"\"log p(token | the tokens before it) for every token of text, the first given <|endoftext|>:
    [n_tokens] float64.\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_logprobs(gpt, text):
    return gpt.score(text).logprobs


check(token_logprobs, library_logprobs, [(gpt, sonnet), (gpt, office)])
"""),
    solution("""
def token_logprobs(gpt, text):
    ids = [gpt.tokenizer.eot_token, *gpt.tokenizer.encode(text)]
    logits = gpt(ids[:-1]).astype(np.float64)  # [n_tokens, n_vocab]: position i predicts ids[i + 1]
    return log_softmax(logits)[np.arange(len(ids) - 1), ids[1:]]


assert check(token_logprobs, library_logprobs, [(gpt, sonnet), (gpt, office)])
"""),
    md("""
Token by token, the surprisal `-log2 p` (in bits) shows where each text is hard. A token the model was sure of
costs almost nothing; one it thought unlikely costs many bits.
"""),
    code("""
for text in (sonnet, office):
    s = gpt.score(text)
    print(" ".join(f"{t!r}:{-lp / math.log(2):.1f}" for t, lp in zip(gpt.to_str_tokens(s.targets), s.logprobs)))
    print()
"""),
    md("""
## Why the first token costs 19 bits

The sonnet's first token, `'Shall'`, costs about 19 bits: the model gave it a probability of about 2^-19, one in
half a million. A uniform guess over the 2,048 tokens would have cost 11 bits. Why is the model worse than
guessing?

GPT-2 was trained on web pages separated by `<|endoftext|>`, so for gpt2 that token means "a new document starts
here". The bundled model's training text is the plays joined by blank lines, with no `<|endoftext|>` anywhere
(the held-out split below has none either): it never saw that token as an input. At position 0 it gets an
embedding it never learned to read, and it predicts what usually follows a word in the middle of a line:
punctuation or the end of the line. A capitalised word with no space before it comes after a line break, which the
model does not know has happened. Give it the line break and `'Shall'` costs 9 bits.

The first token's cost is a fact about the convention, not about the text. That is why Hugging Face's guide does
not score the first token at all (`gpt.score(text, prepend_eot=False)` does the same), and why a sliding window
scores each token once, with as much context as it can (below).
"""),
    code("""
s = gpt.score(sonnet)
first_bits = -s.logprobs[0] / math.log(2)
uniform_bits = math.log2(gpt.config.n_vocab)
after_newline = gpt.score("\\n" + sonnet, prepend_eot=False)  # 'Shall' predicted from '\\n'
newline_bits = -after_newline.logprobs[0] / math.log(2)
after_eot = log_softmax(gpt([gpt.tokenizer.eot_token])[0].astype(np.float64))  # what it expects first
print(f"'Shall' after <|endoftext|>: {first_bits:.2f} bits; after a line break: {newline_bits:.2f} bits; "
      f"a uniform guess: {uniform_bits:.0f} bits")
print("likeliest first tokens:", [(gpt.token_str(i), f"{-after_eot[i] / math.log(2):.1f} bits")
                                  for i in np.argsort(-after_eot)[:5]])
assert gpt.to_str_tokens(s.targets)[0] == gpt.to_str_tokens(after_newline.targets)[0] == "Shall"
assert abs(first_bits - 19) < 0.5 and uniform_bits == 11 and abs(newline_bits - 9) < 0.5
assert "<|endoftext|>" not in course.text("heldout")
assert gpt.token_str(int(np.argmax(after_eot))) == "\\n"
"""),
    md("""
### Exercise 2: loss, perplexity and bits per byte

From the log-probabilities of a text and its length in UTF-8 bytes, compute the three numbers of the introduction:
the loss (nats per token, the mean of -log p), the perplexity (its exponential) and bits per byte (the *sum* of
-log p, divided by ln 2 and by the bytes). Return them as one float64 array. The check compares them with
`scoring.Score`, the object `gpt.score` returns.
"""),
    exercise("""
def measures(logprobs, n_bytes):
    \"\"\"logprobs [n_tokens] float64, n_bytes an int -> np.array([nats per token, perplexity, bits per byte]).\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_measures(logprobs, n_bytes):
    s = scoring.Score(logprobs, n_bytes)
    return np.array([s.mean_nll, s.perplexity, s.bits_per_byte])


measure_cases = [(gpt.score(text).logprobs, len(text.encode("utf-8"))) for text in (sonnet, office)]
assert all(gpt.score(text).n_bytes == len(text.encode("utf-8")) for text in (sonnet, office))
check(measures, library_measures, measure_cases)
"""),
    solution("""
def measures(logprobs, n_bytes):
    nll = -logprobs.sum()  # nats, for the whole text
    loss = nll / len(logprobs)
    return np.array([loss, math.exp(loss), nll / math.log(2) / n_bytes])


assert check(measures, library_measures, measure_cases)
"""),
    md("""
## Loss against position in the window

A model with a context of 128 tokens predicts token 2 from 1 token, token 3 from 2, ... token 128 from 127. The
first few tokens of context matter most. Cut the held-out text (the end of the plays, from the middle of *Romeo
and Juliet*'s prologue on, never trained on) into windows of 129 tokens, score every token of each window given the ones before it in that
window, and average over windows at each position:
"""),
    code("""
heldout = course.text("heldout")
assert "SCENE I. Verona" in heldout[:1000]  # Romeo and Juliet
heldout_ids = np.array(gpt.tokenizer.encode(heldout[:30_000]))
n_ctx, n_windows = gpt.config.n_ctx, 64
windows = heldout_ids[: n_windows * (n_ctx + 1)].reshape(n_windows, n_ctx + 1)  # [64, 129], no overlap
logits = gpt(list(windows[:, :-1]))  # 64 arrays [128, n_vocab], run as one batch
losses = -np.stack([scoring.target_logprobs(lg, w[1:]) for lg, w in zip(logits, windows)])  # [64, 128]
by_position = losses.mean(axis=0)  # [128]: position i has i + 1 tokens of context
edges = [1, 2, 3, 5, 9, 17, 33, 65, 129]  # bins of context length 1, 2, 3-4, 5-8, ..., 65-128
bins = [losses[:, a - 1 : b - 1] for a, b in zip(edges[:-1], edges[1:])]
binned = [x.mean() for x in bins]
errors = [x.std() / math.sqrt(x.size) for x in bins]  # standard error of each bin's mean

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(np.arange(1, n_ctx + 1), by_position, lw=0.8, alpha=0.4, label="each position")
middles = [math.sqrt(a * (b - 1)) for a, b in zip(edges[:-1], edges[1:])]
ax.errorbar(middles, binned, yerr=errors, fmt="o-", capsize=3, label="mean over a bin, with its standard error")
ax.set(title=f"Held-out loss by context length ({n_windows} windows of {n_ctx})", xscale="log",
       xlabel="tokens of context before the target", ylabel="loss (nats per token)")
ax.legend()
plt.show()
print("mean loss by bin:", " ".join(f"{a}-{b - 1}: {m:.2f}" for a, b, m in zip(edges[:-1], edges[1:], binned)))
assert binned[0] > max(binned[4:]) + 0.5  # one token of context: over half a nat above any bin from 9 on
assert min(binned[:4]) > max(binned[4:])  # every bin below 9 tokens of context is above every bin from 9 on
"""),
    md("""
64 windows make a noisy curve at each position; the bins, wider as the context grows, show the trend. A token predicted from one token of
context costs over half a nat more than one with nine or more before it: the first few tokens tell the model what
kind of word, line and speaker it is in, and beyond about nine tokens more context changes little for this small
model. So a long text cut into windows
that do not overlap is measured pessimistically: the start of every window is predicted with almost no context.

## Long texts: sliding windows

Hugging Face's perplexity guide ("Perplexity of fixed-length models") moves a window of the full context along
the text by a *stride*. Each window scores only the tokens that no earlier window scored, the last `stride` of
them, and uses the rest of the window as their context. With stride = context the windows do not overlap (the
fastest, the worst); with stride = context / 2 every token after the first window has at least half a context
before it; with stride 1 every token has a full context (the best, one window per token).

### Exercise 3: a sliding window

Score token ids as the guide does: windows `ids[begin : begin + context]` for begin = 0, stride, 2 stride, ...,
stopping after the first window that reaches the end. From each window keep the log-probabilities of the tokens
not scored before (the first window: all but its first token, which has nothing before it). Use `gpt(window)`
as in exercise 1.
"""),
    exercise("""
def sliding_logprobs(gpt, ids, context, stride):
    \"\"\"log p of ids[1:], each given the tokens before it in the first window that scores it:
    [len(ids) - 1] float64.\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_sliding(gpt, ids, context, stride):
    return gpt.score(ids, prepend_eot=False, context=context, stride=stride).logprobs


short = heldout_ids[:200]
window_cases = [(gpt, short, 128, 64), (gpt, short, 32, 16), (gpt, short[:50], 128, 64)]
check(sliding_logprobs, library_sliding, window_cases)
"""),
    solution("""
def sliding_logprobs(gpt, ids, context, stride):
    out, scored_to = [], 1  # ids[:scored_to] need no more scoring (the first has nothing before it)
    for begin in range(0, len(ids), stride):
        window = ids[begin : begin + context]
        logp = log_softmax(gpt(window[:-1]).astype(np.float64))  # position i predicts window[i + 1]
        targets = logp[np.arange(len(window) - 1), window[1:]]
        out.append(targets[scored_to - begin - 1 :])  # the targets from ids[scored_to] on
        scored_to = begin + len(window)
        if scored_to == len(ids):
            break
    return np.concatenate(out)


assert check(sliding_logprobs, library_sliding, window_cases)
"""),
    md("""
## The guide's perplexity and the exact one

`gpt.perplexity(text, stride=...)` runs those windows over a whole text, several at a time (`batch_size`). It
reports two numbers. `perplexity` is the exact one: the exponential of the sum of -log p over every scored token
divided by their number, each token counted once. `guide_perplexity` reproduces the guide's code, which adds up
each window's *mean* loss times its number of labelled tokens minus one. For the first window that is right (its
first token has nothing before it), and for windows that do not overlap (stride = context: the first token of
each is not scored either); but a window that overlaps the one before scored one token more than that. So with a
stride below the context the guide weights the first window a little more than the others, and its number
differs from the exact one in the last digits; the exact one is what `gpt.score` gives on the same windows. A smaller stride gives every token more context and a
lower perplexity, and costs more windows.
"""),
    code("""
text = heldout[:4_000]
results = {stride: gpt.perplexity(text, stride=stride, batch_size=8) for stride in (128, 64, 32)}
for stride, p in results.items():
    print(f"stride {stride:3d}: perplexity {p.perplexity:.4f} (the guide's weighting: {p.guide_perplexity:.4f}), "
          f"{p.bits_per_byte:.3f} bits per byte, {p.windows} windows")
exact = gpt.score(text, prepend_eot=False, stride=64)  # the same windows, one at a time
assert math.isclose(results[64].perplexity, exact.perplexity, rel_tol=1e-5)
assert results[64].n_scored == exact.n_tokens
assert results[128].perplexity > results[64].perplexity > results[32].perplexity
assert results[128].windows < results[64].windows < results[32].windows
assert math.isclose(results[128].guide_perplexity, results[128].perplexity, rel_tol=1e-12)  # no overlap: the same
assert all(0 < abs(p.guide_perplexity / p.perplexity - 1) < 1e-3 for p in (results[64], results[32]))
"""),
    md("""
The same from the shell, for a file of any size, is `python -m gptlite.eval FILE --stride 64`; `--task lambada`
(the last word of a passage) and `--task choice` (multiple choice by likelihood) run two zero-shot benchmarks. With gpt2 on WikiText-2 the guide's own numbers
come out (the README has the commands; gpt2 cannot be downloaded in this offline course).
"""),
]
