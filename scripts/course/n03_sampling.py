"""Notebook 03, "Sampling: from scores to a next token" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, md

CELLS = [
    md("""
# 3. Sampling: from scores to a next token

The model gives a score (a logit) for every token; generation has to pick one. This notebook shows what each
of the usual knobs does to the next-token distribution, in the order Hugging Face transformers applies them
(`gptlite/sampling.py`): repetition penalty, temperature, top-k, top-p, then a random draw, or the argmax when
the temperature is 0.
"""),
    code("""
import numpy as np
from gptlite import GPT, Sampler
from gptlite.model import softmax

gpt = GPT.from_pretrained("gptlite-shakespeare")
prompt = "The king"
ids = gpt.tokenizer.encode(prompt)
logits = gpt(ids)[-1]

def show(row, k=8):
    p = softmax(row.astype(np.float64))
    kept = int(np.isfinite(row).sum())
    top = np.argsort(-p)[:k]
    print(f"{kept:5d} tokens can be drawn; top {k}:",
          ", ".join(f"{gpt.tokenizer.decode([int(t)])!r} {p[t]:.0%}" for t in top))

show(logits)
"""),
    md("""
## Greedy

`temperature=0` always takes the likeliest token. It is deterministic, and it tends to loop.
"""),
    code("""
print(prompt + gpt.complete(prompt, 40, temperature=0))
"""),
    md("""
## Temperature

Dividing the logits by T before the softmax sharpens the distribution (T < 1) or flattens it (T > 1). The
entropy, in bits, measures how spread out it is.
"""),
    code("""
for t in [0.5, 0.8, 1.0, 1.5]:
    p = softmax((logits / t).astype(np.float64))
    entropy = -(p * np.log2(p + 1e-30)).sum()
    print(f"T = {t}: entropy {entropy:.2f} bits, likeliest token {p.max():.0%}")
"""),
    md("""
## Top-k and top-p

Top-k keeps the k likeliest tokens; top-p (nucleus) keeps the smallest set whose probability passes p. Both
cut off the long tail of unlikely tokens, where most of the nonsense lives.
"""),
    code("""
for sampler in [Sampler(temperature=1.0, top_k=0), Sampler(temperature=1.0, top_k=40),
                Sampler(temperature=1.0, top_k=0, top_p=0.9), Sampler(temperature=1.0, top_k=0, top_p=0.5)]:
    print(f"top_k={sampler.top_k:>2}, top_p={sampler.top_p}:", end=" ")
    show(sampler.process(logits, ids), k=4)
"""),
    md("""
## Repetition penalty

Every token already in the text has its logit divided by the penalty (multiplied, if negative), so repeats get
less likely. Compare the greedy continuation above with this one:
"""),
    code("""
print(prompt + gpt.complete(prompt, 40, temperature=0, repetition_penalty=1.3))
"""),
    md("""
## Sampling, reproducibly

With a seed, sampling repeats exactly; each seed gives a different text. The defaults (temperature 0.8,
top-k 40) are a common middle ground. With `gpt2` instead of the bundled model, the same calls continue in
modern English rather than in Shakespeare's.
"""),
    code("""
for seed in range(3):
    print(f"seed {seed}:", repr(gpt.complete(prompt, 24, seed=seed)))
"""),
    md("""
## Several tokens a pass: prompt lookup

A decode step reads every weight of the model to produce one token, so on a CPU it is bound by memory, not by
arithmetic; a pass over a few more positions reads the weights once too and costs little more. Speculative
decoding uses that: something cheap *proposes* the next few tokens, the model checks them all in one pass, and
keeps a proposal only while it is what the model itself would have picked there (Leviathan et al. 2023).
Prompt lookup (transformers' `prompt_lookup_num_tokens`) proposes without any second model: find the text's
last two tokens earlier in the text, and propose the tokens that followed them there.
"""),
    code("""
from gptlite.decoding import Stats
from gptlite.speculative import prompt_lookup

text = "First Citizen:\\nWe are accounted poor citizens.\\n\\nFirst Citizen:\\nWe are accounted"
ids = gpt.encode_prompt(text)
print("the text ends with", gpt.to_str_tokens(ids[-2:]), "-> proposed:", gpt.to_str_tokens(prompt_lookup(ids, 5, 2)))
"""),
    md("""
Generation with proposals gives exactly the tokens it gives without them: a proposal the model disagrees with
is replaced by the model's own pick, and the rest of that pass's proposals are dropped from the KV cache. What
changes is how many passes it takes:
"""),
    code("""
stats = Stats()
with_lookup = gpt.complete(text, 60, temperature=0, prompt_lookup_num_tokens=5, stats=stats)
assert with_lookup == gpt.complete(text, 60, temperature=0)  # token for token the plain greedy text
print(repr(with_lookup[:120]))
print(stats)
print(f"{stats.accepted} of {stats.proposed} proposals kept: {stats.tokens_per_pass:.2f} tokens a pass instead of 1")
"""),
    md("""
The bundled model is small and repeats itself little, so few proposals survive; a text whose continuation
quotes its prompt (a summary, an answer about a passage, code being edited) keeps many more. With a seed,
sampling with prompt lookup gives the seeded plain sample itself; a draft model (`assistant_model=`) gives the
same distribution as plain sampling but other draws (README, "Speculative decoding").
"""),
]
