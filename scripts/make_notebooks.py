"""Write the course in notebooks/ and run it, so that the committed notebooks carry their outputs.

    python scripts/make_notebooks.py            # writes and executes notebooks/*.ipynb

Each notebook is kept here as a list of cells (Markdown prose, then code), so that a change to the course is a
change to one readable file; tests/test_notebooks.py executes the committed notebooks on every run.
Needs the test extras (nbformat, nbclient, ipykernel).
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks"


def md(text):
    return nbformat.v4.new_markdown_cell(text.strip())


def code(text):
    return nbformat.v4.new_code_cell(text.strip())


TOKENIZER = [
    md("""
# 1. The tokenizer, step by step

A language model reads numbers, not letters. GPT-2's tokenizer turns text into token ids in three steps, and
this notebook takes each one apart: **bytes** (so that any text at all can be encoded), **BPE merges** (so that
common sequences of bytes become single tokens), and **ids** (a lookup in the vocabulary). The code is
`gptlite/tokenizer.py`; GPT-2's own is `encoder.py` in openai/gpt-2.

Everything here runs offline: GPT-2's vocabulary ships with gptlite.
"""),
    code("""
from gptlite import Tokenizer
from gptlite.tokenizer import PATTERN, bytes_to_unicode

tok = Tokenizer.from_pretrained("gpt2")
tok
"""),
    md("""
## Step 1: pre-tokenize

A regular expression cuts the text into pieces: words with the space before them, numbers, runs of
punctuation, runs of whitespace, and a few English contractions. BPE never merges across two pieces, so
" the" and "the" are different tokens, and so are "Hello" and " Hello".
"""),
    code("""
text = "Hello world! GPT-2's tokenizer handles 2026 emoji 😀 too."
PATTERN.findall(text)
"""),
    md("""
## Step 2: bytes become symbols

Each piece is encoded as UTF-8 bytes, and each of the 256 byte values is shown as one printable character,
so that the vocabulary file is plain text. Printable ASCII stays itself; the space becomes `Ġ` and a newline
`Ċ`. The emoji is four bytes, so four symbols.
"""),
    code("""
table = bytes_to_unicode()
for piece in [" world", "!", " 😀"]:
    symbols = "".join(table[b] for b in piece.encode("utf-8"))
    print(repr(piece), "->", list(piece.encode("utf-8")), "->", list(symbols))
"""),
    md("""
## Step 3: merge, best pair first

The merge list (`vocab.bpe`, 50,000 pairs learned from WebText) is ranked: the first pair learned is the most
common. BPE repeatedly merges the adjacent pair that ranks best, until no adjacent pair is in the list. Here is
every merge of one word, in the order BPE makes them:
"""),
    code("""
def merges_of(word):
    parts = list("".join(table[b] for b in word.encode("utf-8")))
    while True:
        pairs = [(tok.ranks.get(pair, float("inf")), i) for i, pair in enumerate(zip(parts, parts[1:]))]
        rank, i = min(pairs, default=(float("inf"), 0))
        if rank == float("inf"):
            return parts
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
        print(f"merge {rank:>5}: {parts}")

merges_of(" tokenizer")
"""),
    md("""
Each final symbol is looked up in the vocabulary (`encoder.json`) to get its id. The whole of it is one call,
and decoding goes back the same way:
"""),
    code("""
ids = tok.encode(" tokenizer")
ids, tok.to_str_tokens(ids), tok.decode(ids)
"""),
    code("""
ids = tok.encode(text)
print(len(text.encode("utf-8")), "bytes ->", len(ids), "tokens")
print(tok.to_str_tokens(ids))
"""),
    md("""
The emoji came out as pieces that are not text on their own (`�`): its four bytes are split across tokens, and
only together do they decode. `tok.stream_decoder()` handles that when text is printed token by token.

## Train a small BPE yourself

`train_bpe` learns merges the same way GPT-2's were learned: count every adjacent pair, merge the most frequent,
repeat. On one paragraph the first merges are the commonest pairs of English letters.
"""),
    code("""
from gptlite.tokenizer import train_bpe

paragraph = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
    "it was the season of Darkness, it was the spring of hope, it was the winter of despair."
)
encoder, merges = train_bpe(paragraph, vocab_size=300)
print([a + " + " + b for a, b in merges[:12]])
small = Tokenizer(encoder, merges)
print(small.to_str_tokens(small.encode("it was the age of wisdom")))
"""),
    md("""
With only 43 merges, whole words like " was" and " the" are already single tokens. GPT-2's 50,000 merges go
much further: most common English words are one token. `gptlite-shakespeare`, the model that ships with
gptlite, has its own 2,048-token vocabulary trained this way on Shakespeare.
"""),
]

FORWARD = [
    md("""
# 2. The forward pass by hand

This notebook computes GPT-2's output for a prompt with nothing but the functions in `gptlite/model.py` and a
few lines of NumPy, then checks the result against `gpt(ids)`. It uses the bundled model (4 layers, 256 wide,
4 heads), which runs offline; with `GPT.from_pretrained("gpt2")` every cell works the same, with 12 layers.
"""),
    code("""
import numpy as np
from gptlite import GPT
from gptlite.model import gelu, layer_norm, linear, softmax, MASKED

gpt = GPT.from_pretrained("gptlite-shakespeare")
params, config = gpt.params, gpt.config
ids = gpt.tokenizer.encode("To be, or not to be")
print(config)
print(gpt.to_str_tokens(ids))
"""),
    md("""
## Embeddings

Each token id picks a row of the token embedding `wte`, each position a row of the position embedding `wpe`;
their sum is the residual stream that every block reads from and writes back to.
"""),
    code("""
n_seq = len(ids)
x = params["wte"][ids] + params["wpe"][np.arange(n_seq)]   # [n_seq, n_embd]
x.shape
"""),
    md("""
## Attention, written out

The first block normalises the stream (`ln_1`), then projects it to queries, keys and values in one matrix
(`c_attn`), splits them into heads, and lets each position look at the positions before it.
"""),
    code("""
h = params["h"][0]
n_head, d_head = config.n_head, config.d_head

a = layer_norm(x, **h["ln_1"])                          # [n_seq, n_embd]
qkv = linear(a, **h["attn"]["c_attn"])                  # [n_seq, 3 * n_embd]
q, k, v = np.split(qkv, 3, axis=-1)                     # 3 x [n_seq, n_embd]
def heads(t):
    return t.reshape(n_seq, n_head, d_head).transpose(1, 0, 2)       # [n_seq, n_embd] -> [n_head, n_seq, d_head]

q, k, v = heads(q), heads(k), heads(v)

scores = q @ k.transpose(0, 2, 1) / np.sqrt(d_head)     # [n_head, n_seq, n_seq]
causal = np.tril(np.ones((n_seq, n_seq), bool))
scores = np.where(causal, scores, MASKED)               # a position may not look ahead
pattern = softmax(scores)                               # each row sums to 1
z = pattern @ v                                         # [n_head, n_seq, d_head]
attn_out = linear(z.transpose(1, 0, 2).reshape(n_seq, -1), **h["attn"]["c_proj"])
np.round(pattern[0], 2)                                 # head 0: who looks at whom
"""),
    md("""
Row *i* of the pattern is how position *i* spreads its attention over positions 0..*i*; the zeros above the
diagonal are the causal mask at work.

## The MLP, and the rest of the block

The block adds attention's output to the stream, normalises again (`ln_2`), and runs a two-layer MLP that is
4 times wider in the middle, with GPT-2's gelu in between.
"""),
    code("""
x = x + attn_out                                         # the residual connection
m = layer_norm(x, **h["ln_2"])
x = x + linear(gelu(linear(m, **h["mlp"]["c_fc"])), **h["mlp"]["c_proj"])
x.shape
"""),
    md("""
## All the blocks, and the output head

The remaining blocks do the same with their own weights; `model.block` is exactly the code above. After the
last one, `ln_f` normalises, and the output head, the token embedding itself (GPT-2 ties the two), turns each
position into one score per vocabulary entry.
"""),
    code("""
from gptlite.model import KVCache, attention_mask, block

mask = attention_mask(np.ones((1, n_seq), bool), n_seq)
cache = KVCache(config, 1, n_seq)
stream = x[None]                                          # the batch axis the model functions expect
for i in range(1, config.n_layer):
    stream = block(stream, params["h"][i], config, i, mask, cache.layers[i])
logits = layer_norm(stream[0], **params["ln_f"]) @ params["wte"].T   # [n_seq, n_vocab]

difference = np.abs(logits - gpt(ids)).max()
print("largest difference from gpt(ids):", difference)
assert difference < 1e-4, "the blocks by hand should give the model's own logits"
"""),
    md("""
Equal up to float32 rounding: the model is nothing more than these lines. The last row of `logits` scores
every possible next token:
"""),
    code("""
top = np.argsort(-logits[-1])[:5]
[(gpt.tokenizer.decode([int(t)]), round(float(logits[-1, t]), 2)) for t in top]
"""),
]

SAMPLING = [
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

INSIDE = [
    md("""
# 4. Looking inside

`gpt.run(text)` runs the model once and keeps every activation by name (the table is at the top of
`gptlite/hooks.py`; TransformerLens's names work too). Hooks change activations on the way through, which is
how ablation and activation patching work. Everything here also renders as HTML, offline.
"""),
    code("""
import numpy as np
from gptlite import GPT

gpt = GPT.from_pretrained("gptlite-shakespeare")
run = gpt.run("When the king and the queen came to the castle, the king gave a crown to the")
print(run.tokens)
print(run["h.3.attn.pattern"].shape, run["blocks.3.attn.hook_pattern"].shape)
run.top(5)
"""),
    md("""
## Tokens by probability

Each token coloured by how likely the model found it; hover for what it expected instead.
"""),
    code("""
run
"""),
    md("""
## Attention

Pick a layer and a head; point at a token in the row below the heatmap to see where it looks.
"""),
    code("""
run.attention()
"""),
    md("""
## The logit lens

Decode the residual stream after each block as if it were the last one: the prediction forms layer by layer.
"""),
    code("""
print(run.logit_lens())
"""),
    md("""
## Ablation

Zero one attention head's output (`h.{i}.attn.z` holds each head's output before `c_proj` mixes them) and see
how the prediction moves. The hook gets the activation and its name, and returns what the model goes on with.
"""),
    code("""
def zero_head(layer, head):
    def hook(z, name):
        z = z.copy()
        z[head] = 0
        return z
    return {f"h.{layer}.attn.z": hook}

king, queen = gpt.tokenizer.encode(" king")[0], gpt.tokenizer.encode(" queen")[0]
def king_minus_queen(result):
    return float(result.logits[-1, king] - result.logits[-1, queen])

text = "When the king and the queen came to the castle, the king gave a crown to the"
print("clean:", round(king_minus_queen(run), 3))
for layer in range(gpt.config.n_layer):
    effects = [king_minus_queen(gpt.run(text, names=[], hooks=zero_head(layer, h))) for h in range(gpt.config.n_head)]
    print(f"layer {layer}:", [round(e, 3) for e in effects])
"""),
    md("""
## Activation patching

Run a clean prompt and a corrupted one (the second "king" becomes "queen"), then write one clean activation
into the corrupted run: where the patch restores the clean answer, that activation carries the information.
"""),
    code("""
clean = run
corrupt_text = text.replace("the king gave", "the queen gave")
corrupt = gpt.run(corrupt_text)
position = clean.tokens.index(" king", 3)
at = np.arange(len(clean.ids))[:, None] == position
print("clean", round(king_minus_queen(clean), 3), " corrupted", round(king_minus_queen(corrupt), 3))
def patch(x, name):
    return np.where(at, clean[name], x)  # the clean activation at one position, the corrupted one elsewhere

for layer in range(gpt.config.n_layer):
    patched = gpt.run(corrupt_text, names=[], hooks={f"h.{layer}.resid_pre": patch})
    print(f"patch before layer {layer}:", round(king_minus_queen(patched), 3))
"""),
    md("""
Before layer 0 the patch restores the clean answer fully; later it helps less, because by then the name has
been copied to other positions. With `gpt2`, the same experiment on "After John and Mary went to the store,
John gave a bottle of milk to" finds the indirect-object circuit of Wang et al. (2022).
"""),
]

MEASURING = [
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
from pathlib import Path
import gptlite

heldout = (Path(gptlite.__file__).parents[1] / "tests" / "fixtures" / "shakespeare_heldout.txt")
text = heldout.read_text(encoding="utf-8")[:20_000] if heldout.exists() else known * 200
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

TRAINING = [
    md("""
# 6. Training

Training is the forward pass, the backward pass (`gptlite/backprop.py`, every gradient written out by hand)
and AdamW, over and over. `gptlite.train.fit` does it from Python: from scratch on a text, or fine-tuning a
loaded model. This notebook trains a tiny model on the first pages of Hamlet in under a minute, then
fine-tunes the bundled model on a new text.
"""),
    code("""
from pathlib import Path

import gptlite
from gptlite import GPT, Tokenizer
from gptlite.tokenizer import train_bpe
from gptlite.train import fit

hamlet = (Path(gptlite.__file__).parents[1] / "scripts" / "bench_data" / "hamlet.md").read_text(encoding="utf-8")
pages = hamlet[:40_000]  # about ten pages; the last 5% is held out
tokenizer = Tokenizer(*train_bpe(pages, vocab_size=512))
tokenizer
"""),
    md("""
## From scratch

Two layers, 64 wide, a context of 64 tokens: small enough to train in under a minute on a laptop's CPU. Watch
the held-out loss fall (the held-out part is the end of these pages, never trained on), and the samples turn
from noise into something with the shape of a play.
"""),
    code("""
def sample(model):
    return model.complete("HAMLET", 40, temperature=0.8, seed=0)

settings = dict(tokenizer=tokenizer, n_layer=2, n_head=2, n_embd=64, n_ctx=64, batch_size=8, lr=3e-3, warmup=20)
untrained = fit(pages, steps=1, quiet=True, **settings)
print("before:", repr(sample(untrained.gpt)))
result = fit(pages, steps=400, eval_every=100, **settings)
print("after: ", repr(sample(result.gpt)))
"""),
    code("""
for h in result.history:
    print(f"step {h['step']:4d}: held-out {h['val_loss']:.3f} nats per token, {h['val_bits_per_byte']:.3f} bits/byte")
"""),
    md("""
## Fine-tuning the bundled model

`fit(text, model=gpt)` continues training a loaded model (the one passed in is left as it was; the result is a
new model). A few dozen steps on a modern paragraph are enough to move its style.
"""),
    code("""
bundled = GPT.from_pretrained("gptlite-shakespeare")
modern = '''
The train was late again this morning, so I bought a coffee and read the news on my phone. The weather today is
cold but bright, and the forecast says it will rain in the afternoon. At work the meeting was moved to Thursday,
and my manager asked everyone to send their reports by email before the end of the week.
''' * 8
print("before:", repr(bundled.complete("The weather today is", 24, seed=1)))
tuned = fit(modern, model=bundled, steps=30, batch_size=4, n_ctx=64, lr=1e-3, warmup=4, eval_every=10)
print("after: ", repr(tuned.gpt.complete("The weather today is", 24, seed=1)))
"""),
    md("""
The text is short and repeats itself, so the model learns it almost by heart: enough to see fine-tuning move a
model, not enough to teach it modern English. With `out="my-run"`, `fit` writes checkpoints that
`GPT.from_pretrained("my-run")` loads, and `resume=True` continues a stopped run bit for bit; the notebook's stop
button saves and returns what was done. The shell has the same as `python -m gptlite.train`. With `gpt2` (124M
parameters) a step takes far longer on a CPU: fine-tune it with a small batch and a short context.
"""),
]

TASKS = [
    md("""
# 7. Zero-shot tasks, as the GPT-2 paper ran them

The GPT-2 paper (Radford et al. 2019, Sections 3.5-3.8) asks a plain language model to summarise, translate and
answer questions with nothing but a prompt: no training for the task, just text laid out the way such a task
looks on the web. `gptlite.tasks` builds those prompts with the paper's settings, and `gptlite.metrics` scores
the answers as the field's reference packages do.

Say it plainly first: the bundled model has 3.7M parameters and has read only Shakespeare. It does not summarise
the news, translate French or know who wrote anything. What it shows here is the protocol: the exact prompt, the
generation settings, how the output is cut, and how the metrics read it. The last cells run the same with `gpt2`
on a machine with network.
"""),
    code("""
from gptlite import GPT
from gptlite.metrics import bleu, exact_match, normalize_answer, rouge, rouge_tokens, token_f1
from gptlite.tasks import TLDR, answer, answer_from_memory, conversation, qa_prompt, sentences, summarize
from gptlite.tasks import translate, translation_prompt

gpt = GPT.from_pretrained("gptlite-shakespeare")
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
"""),
    code("""
out = summarize(gpt, article, seed=0)
print("prompt:   ", repr(out.prompt), "(cut)" if out.truncated else "")
print("settings: ", out.settings)
print("generated:", repr(out.generated))
print("sentences:", sentences(out.generated)[:4])
print("summary:  ", repr(out.text))
"""),
    md("""
ROUGE compares the summary with the reference highlights word by word: lower-case runs of letters and digits,
optionally Porter-stemmed, then F1 over shared unigrams (ROUGE-1), bigrams (ROUGE-2) and the longest common
subsequence (ROUGE-L). A sonnet fragment scores near zero; a sensible summary would not.
"""),
    code("""
print(rouge_tokens(highlights, stem=True))
print("the model's:", rouge(out.text, highlights, stem=True))
print("a person's: ", rouge("The bridge closes for repairs; traffic takes the ferry.", highlights, stem=True))
"""),
    md("""
## Translate: example pairs, then "sentence ="

Section 3.7 conditions on example pairs `english sentence = french sentence` and then `english sentence =`,
decodes greedily and keeps the first generated sentence. The paper does not say how many pairs; the command
takes 8. BLEU (sacrebleu's corpus BLEU, 13a tokenisation) counts matching 1- to 4-grams, with a brevity
penalty.
"""),
    code("""
pairs = [("Good morning.", "Bonjour."), ("Thank you very much.", "Merci beaucoup."),
         ("Where is the king?", "Où est le roi ?")]
print(translation_prompt(pairs, "Good night."))
out = translate(gpt, "Good night.", pairs, max_new_tokens=24)
print("->", repr(out.generated), "->", repr(out.text), out.settings)
print("BLEU:", bleu([out.text], ["Bonne nuit."]))
print("a near miss:", bleu(["Bonne nuit, mon roi."], ["Bonne nuit, mon seigneur."]))
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
"""),
    md("""
## Answer from memory (Natural Questions)

Section 3.8 seeds the context with question-answer pairs, then asks; exact match is the metric (GPT-2: 4.1%).
The probability of the answer matters too: on the 1% of questions it was most sure of, GPT-2 was right 63.1% of
the time. `probability` is the product of the answer tokens' probabilities.
"""),
    code("""
examples = [("What say you?", "I say nothing, my lord."), ("Where is the king?", "He is gone to the court.")]
print(qa_prompt(examples, "What is your name?"))
out = answer_from_memory(gpt, "What is your name?", examples, max_new_tokens=12)
print("->", repr(out.text), f"probability {out.probability:.2e}", "exact match:", exact_match(out.text, "Romeo"))
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
"""),
    md("""
## With gpt2, on a machine with network

Set `RUN_GPT2 = True` to download gpt2 (548 MB, once) and run the same tasks with a model that has read the web.
The paper's numbers are for its largest model, 1542M parameters in the paper (OpenAI's folder calls it 1558M),
`gpt2-xl`; the README has the commands for each test set.
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

FAMILY = [
    md("""
# 8. The GPT family, from GPT-1 to GPT-4o

GPT-2 is one chapter of a story that runs from GPT-1 (2018) to GPT-4o (2024). Two more chapters are public
and exact in gptlite: GPT-1's weights and block (`openai-gpt`), and the tokenizers of GPT-3.5/GPT-4
(`cl100k_base`) and GPT-4o (`o200k_base`), shipped with the package, so everything here runs offline. This
notebook compares the tokenizers, puts GPT-1's block beside GPT-2's and trains both kinds on the same text.
"""),
    md("""
## Four tokenizers, the same texts

GPT-2, GPT-4 and GPT-4o all use byte-level BPE: any text at all encodes, nothing is ever unknown. GPT-1 came
before that: it lower-cases, strips accents and splits off punctuation (BERT's rules, as transformers runs
it), then runs BPE over characters with `</w>` marking a word's end; characters outside its vocabulary
become `<unk>`. Its vocabulary is not shipped (it comes with `GPT.from_pretrained("openai-gpt")`), so below
it shows the words its BPE starts from.
"""),
    code("""
from gptlite import Tokenizer
from gptlite.gpt1_tokenizer import WORD, normalize
from gptlite.tokenizer import ENCODINGS, PATTERN

tokenizers = {name: Tokenizer.from_pretrained(name) for name in ("gpt2", "cl100k_base", "o200k_base")}
texts = {
    "prose": "The weather today is cold, but the forecast says it won't rain.",
    "numbers": "In 2026 I paid $1,234.50 for 12345678 bytes.",
    "code": "def add(a, b):\\n        return a + b\\n",
    "another language": "Привет, мир! Как дела?",
}
for kind, text in texts.items():
    counts = {name: len(tok.encode(text)) for name, tok in tokenizers.items()}
    print(f"{kind:17s} {len(text):3d} characters ->", counts, f"| GPT-1 words: {len(WORD.findall(normalize(text)))}")
"""),
    code("""
for kind in ("numbers", "code"):
    for name, tok in tokenizers.items():
        print(f"{name:12s}", tok.to_str_tokens(tok.encode(texts[kind])))
    print(f"{'GPT-1 words':12s}", WORD.findall(normalize(texts[kind])))
    print()
"""),
    md("""
Why they split as they do is in each pre-tokenizer, the regular expression that cuts the text into pieces
before BPE (BPE never merges across two pieces):
"""),
    code("""
print("GPT-2:      ", PATTERN.pattern)
print("GPT-4:      ", ENCODINGS["cl100k_base"].pattern)
print("GPT-4o:     ", ENCODINGS["o200k_base"].pattern)
"""),
    md("""
* **Digits.** GPT-2's ` ?\\p{N}+` takes a whole run of digits as one piece, which BPE then cuts wherever its
  merges happen to fall: `12345678` can become pieces of any length. GPT-4's and GPT-4o's `\\p{N}{1,3}` cut
  every run into groups of at most three digits, from the left, so numbers tokenize regularly (the cell
  below counts how many of the numbers 0 to 999 are one token of their own).
* **Whitespace and code.** All three keep runs of spaces together (`\\s+(?!\\S)`), but GPT-4's vocabulary has
  tokens for long runs of spaces and indented newlines (`\\s*[\\r\\n]`), which makes indented code far
  cheaper than with GPT-2.
* **Case.** GPT-4's contractions are matched case-insensitively (`(?i:...)`), and GPT-4o's word pattern
  splits words at a change from lower to upper case (`camelCase` -> `camel`, `Case`). GPT-1 lower-cases
  everything first: it never sees case at all.
* **Other languages.** A bigger vocabulary learned from more languages covers more of them: the Russian text
  takes fewer tokens with each newer tokenizer.
"""),
    code("""
for name, tok in tokenizers.items():
    print(f"{name:12s} {sum(len(tok.encode(str(n))) == 1 for n in range(1000)):4d} of the numbers 0-999 are one token")
assert [len(tok.encode(texts["another language"])) for tok in tokenizers.values()] == sorted(
    [len(tok.encode(texts["another language"])) for tok in tokenizers.values()], reverse=True)
"""),
    md("""
## GPT-1's block beside GPT-2's

The GPT-2 paper (Radford et al. 2019, Section 2.3): "Layer normalization was moved to the input of each
sub-block ... and an additional layer normalization was added after the final self-attention block". GPT-1
normalises after adding each sub-layer's output ("post-LN"); GPT-2 normalises the input of each sub-layer
and adds its output to an un-normalised residual stream ("pre-LN"), with one more layer norm, `ln_f`, before
the head. In `gptlite/model.py` the two are one line apart:
"""),
    code("""
import inspect

from gptlite import model

print(inspect.getsource(model.block_post_ln))
print(inspect.getsource(model.block_pre_ln))
"""),
    md("""
## Training deeper than is comfortable

Xiong et al. 2020 ("On Layer Normalization in the Transformer Architecture") showed why the move mattered:
in a post-LN transformer the gradients near the output are large at initialisation, so training without a
learning-rate warmup is unstable; pre-LN trains without one. Here is the same small, deep model (12 blocks,
32 wide) trained both ways on the same text, from the same initial weights, with a high learning rate and no
warmup. It is a tiny experiment that runs in seconds, so look at what it shows rather than trust it far.
"""),
    code("""
from pathlib import Path

import gptlite
from gptlite import GPT, Config
from gptlite.model import init_params
from gptlite.tokenizer import train_bpe
from gptlite.train import fit

hamlet = (Path(gptlite.__file__).parents[1] / "scripts" / "bench_data" / "hamlet.md").read_text(encoding="utf-8")
pages = hamlet[:20_000]
small = Tokenizer(*train_bpe(pages, vocab_size=356))
curves = {}
for layer_norm in ("pre", "post"):
    config = Config(n_vocab=small.n_vocab, n_ctx=32, n_embd=32, n_head=2, n_layer=12, layer_norm=layer_norm)
    untrained = GPT(config, init_params(config, seed=0), small)
    result = fit(pages, model=untrained, steps=60, batch_size=8, lr=1e-2, warmup=0, eval_every=5, quiet=True)
    curves[layer_norm] = [(h["step"], h["val_loss"]) for h in result.history]
for (step, pre), (_, post) in zip(curves["pre"], curves["post"]):
    print(f"step {step:3d}: held-out loss pre-LN {pre:6.3f}   post-LN {post:6.3f}")
"""),
    code("""
worst = {name: max(loss for _, loss in curve[1:]) for name, curve in curves.items()}
print("highest held-out loss after the start:", {name: round(loss, 3) for name, loss in worst.items()})
print("the bumpier curve:", max(worst, key=worst.get) + "-LN")
"""),
    md("""
## The family

| model | year | parameters | layers | context | vocabulary | trained on | what changed | source |
|---|---|---|---|---|---|---|---|---|
| GPT-1 | 2018 | 117M | 12 | 512 | 40,478 (BPE over lower-cased characters) | BooksCorpus, over 7,000 unpublished books | generative pre-training, then fine-tuning per task; post-LN | Radford et al. 2018 |
| GPT-2 | 2019 | 117M-1542M | 12-48 | 1,024 | 50,257 (byte-level BPE) | WebText: 8 million web pages, 40 GB | pre-LN and a final layer norm; residual weights scaled by 1/sqrt(N); zero-shot tasks | Radford et al. 2019, Table 2 |
| GPT-3 | 2020 | 175B | 96 | 2,048 | GPT-2's | 300B tokens of filtered Common Crawl, WebText2, books, Wikipedia | in-context learning from examples in the prompt; alternating dense and locally banded sparse attention | Brown et al. 2020, Section 2.1, Table 2.1 |
| GPT-3.5, GPT-4 | 2022-2023 | not published | not published | 8,192 and up | `cl100k_base`: 100,256 ranked tokens | not published | GPT-4: "no further details about the architecture (including model size)" | OpenAI 2023, GPT-4 Technical Report |
| GPT-4o | 2024 | not published | not published | not published here | `o200k_base`: 199,998 ranked tokens | not published | one model across text, audio and images | OpenAI 2024 |

The tokenizers are the only part of the last two rows that is public, and it is exact here: gptlite's ids are
tiktoken's (see the README's Correctness section).
"""),
]

NOTEBOOKS = {
    "01_tokenizer.ipynb": TOKENIZER,
    "02_forward_pass.ipynb": FORWARD,
    "03_sampling.ipynb": SAMPLING,
    "04_looking_inside.ipynb": INSIDE,
    "05_measuring.ipynb": MEASURING,
    "06_training.ipynb": TRAINING,
    "07_tasks.ipynb": TASKS,
    "08_family.ipynb": FAMILY,
}


def main():
    OUT.mkdir(exist_ok=True)
    names = sys.argv[1:] or list(NOTEBOOKS)
    for name in names:
        notebook = nbformat.v4.new_notebook(cells=NOTEBOOKS[name])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(OUT)}}
        ).execute()
        nbformat.write(notebook, OUT / name)
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
