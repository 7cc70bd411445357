"""Notebook 02, "The forward pass by hand" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, md

CELLS = [
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
