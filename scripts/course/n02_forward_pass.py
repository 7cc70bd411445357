"""Notebook 02, "The forward pass by hand" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 2. The forward pass by hand

GPT-2 turns a list of token ids into one score (a logit) per vocabulary entry at every position. This notebook
computes those scores with nothing but NumPy and a few functions you write yourself, in the spirit of picoGPT's
"GPT in 60 lines of NumPy", and then asserts that the result is exactly what `gpt(ids)` gives. At the end it
generates text twice: once the simple way, running the whole model for every new token, and once with a KV
cache, the way `gpt.generate` does it.

It uses the bundled model (4 layers, 256 wide, 4 heads, a 2,048-token vocabulary), which runs offline; with
`GPT.from_pretrained("gpt2")` every cell works the same, with 12 layers of 12 heads.

The plan: three small functions (exercises 1 to 3), the embeddings, attention on three tokens with numbers you
can follow, one attention head (exercise 4), the first block step by step, all four blocks, and generation.
"""),
    code("""
import math
import time

import matplotlib.pyplot as plt
import numpy as np

from gptlite import GPT, course, model
from gptlite.course import check

gpt = GPT.from_pretrained("gptlite-shakespeare")
params, config = gpt.params, gpt.config
n_head, d_head = config.n_head, config.d_head
ids = gpt.tokenizer.encode("To be, or not to be")
tokens = gpt.to_str_tokens(ids)
n_seq = len(ids)
print(config)
print(tokens)
"""),
    md("""
## Three small functions

Apart from matrix products and additions, GPT-2 is built from three functions. You write each one in two to four lines of
NumPy; the cell after it compares yours with the library's (`gptlite.model`) on a few inputs and says what
differs. The worked answer is in the folded cell below each check, and the rest of the notebook uses it.

One trap shows up in all three: the model computes in float32, and NumPy turns a float32 array into float64 as
soon as it meets a float64 *array or NumPy scalar*: `np.sqrt(2 / np.pi) * x` is float64, because `np.sqrt` of
a Python number returns a NumPy float64. Plain Python numbers (`0.5`, `np.pi`, `math.sqrt(2 / math.pi)`) keep the
array float32. The checks compare the dtype too, and the next cell shows the difference:

"""),
    code("""
x32 = np.ones(3, np.float32)
print((np.sqrt(2 / np.pi) * x32).dtype, (math.sqrt(2 / math.pi) * x32).dtype, (np.pi * x32).dtype)
assert (np.sqrt(2 / np.pi) * x32).dtype == np.float64
assert (math.sqrt(2 / math.pi) * x32).dtype == (np.pi * x32).dtype == np.float32
"""),
    md("""
### Exercise 1: softmax

Softmax turns a row of scores into probabilities: `exp(x) / sum(exp(x))` over the last axis. Subtract each row's
maximum first. It changes nothing mathematically (the factor `exp(-max)` cancels between top and bottom), but
without it `exp` overflows to infinity for scores above about 88 in float32, which is why the check also tries
scores 100 times larger.
"""),
    exercise("""
def softmax(x):
    \"\"\"exp(x) / sum(exp(x)) over the last axis: [..., n] -> [..., n], each row summing to 1, float32 in and out.

    Subtract each row's maximum before taking exp (keepdims=True keeps the axis for broadcasting).\"\"\"
    raise NotImplementedError
"""),
    code("""
rng = np.random.default_rng(0)
rows = rng.standard_normal((3, 5), dtype=np.float32)
check(softmax, model.softmax, [(rows,), (rows * 100,)])
"""),
    solution("""
def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


assert check(softmax, model.softmax, [(rows,), (rows * 100,)])
"""),
    md("""
### Exercise 2: layer norm

Layer norm rescales each position's vector (the last axis, `n_embd` wide) to mean 0 and variance 1, then
multiplies by a learned gain `g` and adds a learned bias `b`:

    g * (x - mean) / sqrt(var + eps) + b

`eps` (1e-5 in GPT-2) keeps the division finite for a vector that is nearly constant. The check uses the gain
and bias of block 0's first layer norm.
"""),
    exercise("""
def layer_norm(x, g, b, eps=1e-5):
    \"\"\"Normalise x [..., n_embd] over its last axis to mean 0 and variance 1, then scale by g and shift by b
    (both [n_embd]). Returns [..., n_embd] float32.\"\"\"
    raise NotImplementedError
"""),
    code("""
ln_1 = params["h"][0]["ln_1"]
wide = rng.standard_normal((4, config.n_embd), dtype=np.float32) * 3 + 1
check(layer_norm, model.layer_norm, [(wide, ln_1["g"], ln_1["b"]), (wide[:1] * 0.01, ln_1["g"], ln_1["b"])])
"""),
    solution("""
def layer_norm(x, g, b, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return g * (x - mean) / np.sqrt(var + eps) + b


assert check(layer_norm, model.layer_norm, [(wide, ln_1["g"], ln_1["b"]), (wide[:1] * 0.01, ln_1["g"], ln_1["b"])])
"""),
    md("""
### Exercise 3: gelu

The MLP in each block uses GPT-2's gelu, a smooth version of `max(0, x)`: `x * Phi(x)`, where `Phi` is the
standard normal's cumulative distribution. GPT-2 computes it with a tanh approximation (Hendrycks & Gimpel 2016),
and to match the checkpoint you must use the same one:

    gelu(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))
"""),
    exercise("""
def gelu(x):
    \"\"\"GPT-2's gelu, the tanh approximation above, elementwise: any shape, float32 in and out.\"\"\"
    raise NotImplementedError
"""),
    code("""
grid = np.linspace(-6, 6, 121, dtype=np.float32)
check(gelu, model.gelu, [(grid,), (wide,)])
"""),
    solution("""
def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


assert check(gelu, model.gelu, [(grid,), (wide,)])
"""),
    code("""
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(grid, gelu(grid), label="gelu(x)")
ax.plot(grid, np.maximum(grid, 0), "--", label="max(0, x)")
ax.set(title="GPT-2's gelu is a smooth max(0, x)", xlabel="x", ylabel="activation")
ax.legend()
plt.show()
"""),
    md("""
## Embeddings

Each token id picks a row of the token embedding `wte` [n_vocab, n_embd]; each position picks a row of the
position embedding `wpe` [n_ctx, n_embd]. Their sum is the **residual stream**: one vector per position that
every block reads from and adds its output to.
"""),
    code("""
x0 = params["wte"][ids] + params["wpe"][np.arange(n_seq)]   # [n_seq, n_embd]
x0.shape
"""),
    md("""
Attention (below) compares every query with every key in the same way, wherever they sit; apart from the causal
mask, the order of the tokens enters only through `wpe`, whose rows (128 here, 1,024 in GPT-2) are learned like
any other weight. The heatmap
shows how similar each row is to each other one (the cosine of the angle between them): positions close
together get similar vectors, so the model can tell "just before" from "long ago".
"""),
    code("""
wpe = np.asarray(params["wpe"])
unit = wpe / np.linalg.norm(wpe, axis=1, keepdims=True)
similarity = unit @ unit.T                                  # [n_ctx, n_ctx], 1 on the diagonal

fig, ax = plt.subplots(figsize=(5, 4))
image = ax.imshow(similarity, cmap="RdBu_r", vmin=-1, vmax=1)
ax.set(title="Cosine similarity of the position embeddings (wpe)", xlabel="position", ylabel="position")
fig.colorbar(image, ax=ax)
plt.show()

neighbours, far = np.diagonal(similarity, 1).mean(), np.diagonal(similarity, 64).mean()
print(f"mean similarity of positions 1 apart: {neighbours:.2f}; 64 apart: {far:.2f}")
assert neighbours > 0.5 > far
"""),
    md("""
## Attention on three tokens, with numbers

In attention every position makes three vectors from its residual stream, each by a learned linear map:

- a **query** `q`: what this position is looking for;
- a **key** `k`: what this position offers to be found by;
- a **value** `v`: what it hands over to whoever finds it.

Position *i* scores every position *j* by the dot product `q_i . k_j`, divides by `sqrt(d_head)`, turns the
scores of its row into weights with softmax, and takes the weighted average of the values. Here is one head
with `d_head = 2` and three tokens, with vectors small enough to follow by hand:
"""),
    code("""
q3 = np.array([[1, 0], [0, 1], [1, 1]], np.float32)        # [3 tokens, d_head = 2]
k3 = np.array([[1, 0], [1, 1], [0, 2]], np.float32)
v3 = np.array([[1, 0], [0, 1], [-1, 1]], np.float32)

scores3 = q3 @ k3.T / math.sqrt(2)                         # [3, 3]: row i = query i against every key
masked3 = np.where(np.tri(3, dtype=bool), scores3, -np.inf)
pattern3 = softmax(masked3)
z3 = pattern3 @ v3                                         # [3, d_head]: each row a weighted average of values
print("scores / sqrt(2):", np.round(scores3, 3), sep="\\n")
print("after the causal mask:", np.round(masked3, 3), sep="\\n")
print("softmax, the pattern:", np.round(pattern3, 3), sep="\\n")
print("output:", np.round(z3, 3), sep="\\n")

assert np.array_equal(pattern3[0], [1, 0, 0]) and np.array_equal(z3[0], v3[0])    # token 0 sees only itself
assert math.isclose(pattern3[1, 1], math.exp(1 / math.sqrt(2)) / (1 + math.exp(1 / math.sqrt(2))), rel_tol=1e-6)
assert np.allclose(pattern3.sum(axis=1), 1)
"""),
    md("""
Read it row by row. The **causal mask** sets the scores above the diagonal to minus infinity, so that softmax
gives them weight 0: a position attends to itself and the positions before it, never to one after it (when the
model is trained to predict token *i + 1*, it must not see it). So token 0 can only copy its own value. Token 1
scores key 0 with 0 and key 1 with 1/sqrt(2) ≈ 0.707, and softmax turns that into weights
1/(1 + e^0.707) and e^0.707/(1 + e^0.707), about one third and two thirds (asserted above). Token 2 sees all three.

**Why divide by sqrt(d_head)?** If the entries of `q` and `k` are roughly independent with variance 1, their dot
product is a sum of `d_head` such products, with variance `d_head` (Vaswani et al. 2017, footnote 4). At
`d_head = 64`, the head width of this model and of every GPT-2, the raw scores have a standard deviation of
about 8, and softmax of numbers that far apart puts most of the weight on one key, where its gradient is
almost zero. Dividing by sqrt(64) = 8 brings the spread back to about 1:
"""),
    code("""
assert d_head == 64 == model.Config().d_head               # the bundled model and GPT-2 124M alike
q_random = rng.standard_normal((10_000, 16, d_head), dtype=np.float32)   # 10,000 queries, each against 16 keys
k_random = rng.standard_normal((10_000, 16, d_head), dtype=np.float32)
raw = np.einsum("nkd,nkd->nk", q_random, k_random)                        # [10000, 16] dot products
scaled = raw / math.sqrt(d_head)
print(f"standard deviation: raw {raw.std():.2f}, divided by sqrt(d_head) {scaled.std():.2f}")
print(f"mean weight on the top key: raw {softmax(raw).max(axis=1).mean():.2f}, "
      f"scaled {softmax(scaled).max(axis=1).mean():.2f}")
assert abs(raw.std() / math.sqrt(d_head) - 1) < 0.05 and abs(scaled.std() - 1) < 0.05
assert softmax(raw).max(axis=1).mean() > 2 * softmax(scaled).max(axis=1).mean()
"""),
    md("""
**Why several heads?** One head produces one pattern per position: one way of choosing where to look. GPT-2
splits its width into `n_head` heads (4 of 64 here; 12 of 64 in GPT-2 124M), each with its own queries, keys and
values, so that one head can look at the previous token while another looks for, say, the subject of the
sentence. Their outputs are laid side by side and mixed by one more linear map, `c_proj`. It costs no more than
one head of the full width: the same number of multiplications, split differently.

### Exercise 4: one attention head

Write one causal head for a whole sequence: scores `q @ k.T / sqrt(d_head)`, minus infinity above the diagonal
(`np.tri` or `np.triu` help), softmax over each row (your own, from exercise 1), then the weighted sum of values.
The check runs it on the three tokens above and on random vectors, against the library's `model.attention`.
"""),
    exercise("""
def attention_head(q, k, v):
    \"\"\"One causal attention head: q, k, v [n_seq, d_head] -> [n_seq, d_head] float32. Row i is the average of the
    values of positions 0..i, weighted by softmax over j of q_i . k_j / sqrt(d_head).\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_head(q, k, v):
    \"\"\"model.attention on one sequence and one head: it takes [n_batch, n_head, n_seq, d_head] and a mask.\"\"\"
    mask = model.attention_mask(np.ones((1, len(q)), bool), len(q))
    return model.attention(q[None, None], k[None, None], v[None, None], mask)[0, 0]


qkv_random = rng.standard_normal((3, 9, d_head), dtype=np.float32)
check(attention_head, library_head, [(q3, k3, v3), tuple(qkv_random)])
"""),
    solution("""
def attention_head(q, k, v):
    scores = q @ k.T / math.sqrt(q.shape[-1])
    scores = np.where(np.tri(len(q), dtype=bool), scores, -np.inf)
    return softmax(scores) @ v


assert check(attention_head, library_head, [(q3, k3, v3), tuple(qkv_random)])
"""),
    md("""
## Block 0, step by step

Now the real thing, on the prompt. Block 0 normalises the stream (`ln_1`), projects it to queries, keys and
values for all heads in one matrix (`c_attn`, [n_embd, 3 * n_embd]), and splits each of the three into `n_head`
heads of `d_head`. Every array gets a new name: re-running a cell never changes what an earlier cell made.
"""),
    code("""
h0 = params["h"][0]

def split_heads(t):
    \"\"\"[n_seq, n_embd] -> [n_head, n_seq, d_head]: the columns of each head side by side, moved to the front.\"\"\"
    return t.reshape(len(t), n_head, d_head).transpose(1, 0, 2)

a0 = layer_norm(x0, **h0["ln_1"])                                          # [n_seq, n_embd]
qkv0 = a0 @ h0["attn"]["c_attn"]["w"] + h0["attn"]["c_attn"]["b"]          # [n_seq, 3 * n_embd]
q0, k0, v0 = (split_heads(t) for t in np.split(qkv0, 3, axis=-1))         # 3 x [n_head, n_seq, d_head]
scores0 = q0 @ k0.transpose(0, 2, 1) / math.sqrt(d_head)                  # [n_head, n_seq, n_seq]
causal = np.tri(n_seq, dtype=bool)                                         # True on and below the diagonal
pattern0 = softmax(np.where(causal, scores0, -np.inf))                     # [n_head, n_seq, n_seq], rows sum to 1
z0 = pattern0 @ v0                                                         # [n_head, n_seq, d_head]
assert np.allclose(z0, [attention_head(q0[i], k0[i], v0[i]) for i in range(n_head)], atol=1e-6)
np.round(pattern0[0], 2)                                                   # head 0.0: who looks at whom
"""),
    md("""
The same three steps as with three tokens, for head 0 of layer 0 ("head 0.0"): the scores, the mask, the
softmax. Grey cells are minus infinity, positions a query may not see:
"""),
    code("""
def show_pattern(ax, matrix, title):
    grey_where_masked = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    image = ax.imshow(np.where(np.isfinite(matrix), matrix, np.nan), cmap=grey_where_masked)
    ax.set(title=title, xticks=range(n_seq), yticks=range(n_seq), xlabel="key (attended to)")
    ax.set_xticklabels(tokens, rotation=90)
    ax.set_yticklabels(tokens)
    return image

fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
panels = [(scores0[0], "1. scores q.k / sqrt(d_head)"),
          (np.where(causal, scores0[0], -np.inf), "2. −inf above the diagonal"),
          (pattern0[0], "3. softmax: the pattern")]
for ax, (matrix, title) in zip(axes, panels):
    fig.colorbar(show_pattern(ax, matrix, title), ax=ax, shrink=0.8)
axes[0].set_ylabel("query (attending)")
fig.suptitle("Causal self-attention, layer 0, head 0")
fig.tight_layout()
plt.show()
"""),
    md("""
Look at the diagonal just below the main one in head 0.0's pattern: in five of the six rows that have a
previous token, the largest weight sits on the **previous** token. This is a *previous-token head*; it is
measured properly below, once all the blocks run. The other three heads of layer 0 spread their attention
differently:
"""),
    code("""
on_previous = pattern0[0, 1:].argmax(axis=1) == np.arange(n_seq - 1)     # row i's largest weight on key i - 1?
assert (on_previous.sum(), len(on_previous)) == (5, 6)
fig, axes = plt.subplots(1, n_head, figsize=(12, 3.4))
for head, ax in enumerate(axes):
    show_pattern(ax, pattern0[head], f"head 0.{head}")
axes[0].set_ylabel("query (attending)")
fig.suptitle("The attention patterns of layer 0")
fig.tight_layout()
plt.show()
"""),
    md("""
## The rest of block 0

The heads' outputs are laid side by side again and mixed by `c_proj`, and the result is **added** to the
residual stream: the block writes into the stream rather than replacing it. Then a second layer norm (`ln_2`),
and the MLP: a linear map to 4 times the width (1,024 here), gelu, and a linear map back, added to the stream
too. Each step makes a new array (`x0` stays what the embeddings made), so this cell can run any number of times.
"""),
    code("""
attn_out0 = z0.transpose(1, 0, 2).reshape(n_seq, -1) @ h0["attn"]["c_proj"]["w"] + h0["attn"]["c_proj"]["b"]
x0_mid = x0 + attn_out0                                                    # the first residual connection
m0 = layer_norm(x0_mid, **h0["ln_2"])
hidden0 = gelu(m0 @ h0["mlp"]["c_fc"]["w"] + h0["mlp"]["c_fc"]["b"])      # [n_seq, 4 * n_embd]
x1 = x0_mid + hidden0 @ h0["mlp"]["c_proj"]["w"] + h0["mlp"]["c_proj"]["b"]  # the second: the stream after block 0
assert hidden0.shape == (n_seq, 4 * config.n_embd) == (n_seq, 1024)
x1.shape
"""),
    md("""
## All the blocks, and the output head

The same block, now as one function, runs four times, each time with its own weights. After the last one,
`ln_f` normalises the stream, and the output head, the token embedding `wte` itself (GPT-2 ties the two), turns
each position into one score per vocabulary entry. This is the whole model:
"""),
    code("""
def dense(x, layer):
    \"\"\"A linear layer as the checkpoint stores it: w [n_in, n_out], b [n_out].\"\"\"
    return x @ layer["w"] + layer["b"]


def block_by_hand(x, h):
    \"\"\"One of GPT-2's blocks on one sequence: x [n_seq, n_embd] -> (the new stream, its pattern
    [n_head, n_seq, n_seq]).\"\"\"
    a = layer_norm(x, **h["ln_1"])
    q, k, v = (split_heads(t) for t in np.split(dense(a, h["attn"]["c_attn"]), 3, axis=-1))
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(d_head)
    pattern = softmax(np.where(np.tri(len(x), dtype=bool), scores, -np.inf))
    z = (pattern @ v).transpose(1, 0, 2).reshape(len(x), -1)                # the heads side by side again
    mid = x + dense(z, h["attn"]["c_proj"])
    out = mid + dense(gelu(dense(layer_norm(mid, **h["ln_2"]), h["mlp"]["c_fc"])), h["mlp"]["c_proj"])
    return out, pattern


def gpt_by_hand(ids):
    \"\"\"ids [n_seq] -> (logits [n_seq, n_vocab], patterns [n_layer, n_head, n_seq, n_seq]).\"\"\"
    x = params["wte"][ids] + params["wpe"][np.arange(len(ids))]
    patterns = []
    for h in params["h"]:
        x, pattern = block_by_hand(x, h)
        patterns.append(pattern)
    return layer_norm(x, **params["ln_f"]) @ params["wte"].T, np.array(patterns)


assert np.allclose(block_by_hand(x0, h0)[0], x1, atol=1e-5)               # the function is the steps above
logits, patterns = gpt_by_hand(ids)
difference = np.abs(logits - gpt(ids)).max()
print("largest difference from gpt(ids):", difference)
assert logits.dtype == np.float32 and np.allclose(logits, gpt(ids), atol=1e-4)
library_run = gpt.run(ids, names=["h.*.attn.pattern"])
assert all(np.allclose(patterns[i], library_run[f"h.{i}.attn.pattern"], atol=1e-6) for i in range(config.n_layer))
"""),
    md("""
Equal up to float32 rounding (the library adds up the same numbers in a different order), and every attention
pattern is the library's too. The last row of `logits` scores every possible next token:
"""),
    code("""
top = np.argsort(-logits[-1])[:5]
[(gpt.token_str(int(t)), round(float(logits[-1, t]), 2)) for t in top]
"""),
    md("""
## Head 0.0 is a previous-token head

On a short prompt any head puts a good share of its weight on the previous token, because there are few tokens
to choose from. So measure on 64 tokens of held-out text: for each head, the mean weight a position puts on the
position just before it. A head that spread its weight evenly would put `1 / (i + 1)` there at position *i*.
"""),
    code("""
passage = gpt.tokenizer.encode(course.text("heldout"))[:64]
_, passage_patterns = gpt_by_hand(passage)
previous = np.diagonal(passage_patterns, -1, axis1=-2, axis2=-1).mean(axis=-1)   # [n_layer, n_head]
even = np.mean(1 / np.arange(2, len(passage) + 1))                               # an even spread, for comparison
print("mean weight on the previous token, layers down, heads across:", np.round(previous, 2), sep="\\n")
print(f"an even spread would give {even:.2f}")
others = np.delete(previous.ravel(), 0)
assert previous[0, 0] > max(0.4, 2 * others.max(), 5 * even)
"""),
    md("""
The patterns of all sixteen heads, on the first 24 tokens of the passage, show the same: only head 0.0 has a
bright line just below the diagonal. (The first 24 rows of a pattern only see the first 24 keys, so each row
shown still sums to 1.)
"""),
    code("""
fig, axes = plt.subplots(config.n_layer, n_head, figsize=(8, 8))
for (layer, head), ax in np.ndenumerate(axes):
    ax.imshow(passage_patterns[layer, head, :24, :24], cmap="viridis", vmin=0, vmax=1)
    ax.set(title=f"head {layer}.{head}", xticks=[], yticks=[])
fig.suptitle("Every head's pattern on 24 tokens of held-out text (query down, key across)")
fig.tight_layout()
plt.show()
"""),
    md("""
Head 0.0 puts more than twice as much weight on the previous token as any other head, and more than five times
what an even spread would. A previous-token head copies information about token *i - 1* into position *i*,
so that later layers can use pairs of tokens, not just the current one.

It is also the head the model can least do without: zeroing it raises the loss more than twice as much as
zeroing any other head. Here each head's output in turn is set to zero (at `h.{layer}.attn.z`,
before `c_proj`; notebook 04 explains these hooks and ablation), and the loss is measured on the same passage:
"""),
    code("""
def zero_head(layer, head):
    def hook(z, name):
        z = z.copy()                    # a new array: the model's own stays as it was
        z[head] = 0
        return z
    return {f"h.{layer}.attn.z": hook}


def passage_loss(logits):
    \"\"\"The mean cross-entropy of predicting each token of the passage from the ones before it, in nats.\"\"\"
    log_probs = model.log_softmax(logits[:-1])
    return float(-log_probs[np.arange(len(passage) - 1), passage[1:]].mean())


clean_loss = passage_loss(gpt(passage))
rise = np.array([[passage_loss(gpt.run(passage, names=[], hooks=zero_head(layer, head)).logits) - clean_loss
                  for head in range(n_head)] for layer in range(config.n_layer)])
print(f"loss {clean_loss:.3f} nats; its rise when each head is zeroed (layers down, heads across):")
print(np.round(rise, 3))
assert np.unravel_index(rise.argmax(), rise.shape) == (0, 0) and rise[0, 0] > 2 * np.delete(rise.ravel(), 0).max()
"""),
    md("""
## Generation, the simple way

To generate, run the model, take the highest-scoring next token (greedy decoding; notebook 03 does sampling),
append it, and run the model again on the longer sequence. That is picoGPT's whole generation loop:
"""),
    code("""
def generate_uncached(prompt, n_new):
    \"\"\"Greedy decoding, running the whole model on the whole sequence for every new token.\"\"\"
    sequence, step_logits = list(prompt), []
    for _ in range(n_new):
        last = gpt(sequence)[-1]                      # every position again, though only the last is used
        sequence.append(int(np.argmax(last)))
        step_logits.append(last)
    return sequence[len(prompt):], np.array(step_logits)


n_new = 24
start = time.perf_counter()
uncached_ids, uncached_logits = generate_uncached(ids, n_new)
uncached_s = time.perf_counter() - start
print(repr(gpt.tokenizer.decode(ids + uncached_ids)))
"""),
    md("""
It works, but it is wasteful: step *t* pushes all `len(prompt) + t` positions through every layer again, although
only the last position's logits are used, and although everything about the earlier positions is the same as the
step before.

## The KV cache

Why is it the same? Because of the causal mask. What position *j* computes in any layer depends only on tokens
0..*j*: appending a token later cannot change it. The one thing a *new* position needs from the old ones is, in
every layer, their **keys and values**: its query is scored against their keys, and it averages their values.
So keep them. A `KVCache` holds, for each layer, one `LayerCache` with two preallocated arrays, `k` and `v`, of
shape [n_batch, n_head, max_len, d_head], and counts how many positions are filled (`n_past`). Each forward
pass computes q, k and v for its new positions only, appends the new k and v (`LayerCache.extend`), and attends
over everything so far.

It is exact, not an approximation: the cached keys are the very numbers the uncached pass recomputes. Both
facts can be checked. Run the prompt through `model.hidden_states` with an empty cache:
"""),
    code("""
cache = model.KVCache(config, 1, len(ids) + n_new)                         # room for the prompt and what follows
prompt_mask = model.attention_mask(np.ones((1, n_seq), bool), n_seq)
model.hidden_states(params, np.array([ids]), np.arange(n_seq)[None], prompt_mask, cache, config)
print(f"{len(cache.layers)} layers; n_past = {cache.n_past}; each layer's k and v: {cache.layers[0].k.shape}")
assert cache.n_past == n_seq and cache.layers[0].k.shape == (1, n_head, n_seq + n_new, d_head)
assert np.allclose(cache.layers[0].k[0, :, :n_seq], k0, atol=1e-5)        # the keys of block 0, step by step above
assert np.allclose(cache.layers[0].v[0, :, :n_seq], v0, atol=1e-5)

everything = ids + uncached_ids                                            # the prompt and all that followed it
long_cache = model.KVCache(config, 1, len(everything))
long_mask = model.attention_mask(np.ones((1, len(everything)), bool), len(everything))
model.hidden_states(params, np.array([everything]), np.arange(len(everything))[None], long_mask, long_cache, config)
for short, long in zip(cache.layers, long_cache.layers):                   # the future does not change the past
    assert np.allclose(short.k[:, :, :n_seq], long.k[:, :, :n_seq], atol=1e-5)
    assert np.allclose(short.v[:, :, :n_seq], long.v[:, :, :n_seq], atol=1e-5)
"""),
    md("""
The cache costs memory: two arrays per layer, `n_embd` numbers per position each. For GPT-2 124M (12 layers,
768 wide) and its full context of 1,024 tokens that is, in float32:
"""),
    code("""
gpt2 = model.Config()                                                      # GPT-2 124M's shape: the defaults
cache_bytes = 2 * gpt2.n_layer * gpt2.n_ctx * gpt2.n_embd * 4              # k and v, every layer, float32
print(f"{cache_bytes / 1e6:.1f} MB per sequence")
assert round(cache_bytes / 1e6, 1) == 75.5
"""),
    md("""
## Generation with the cache

The same greedy loop, through the model's `Engine` (`gpt.engine`, which `gpt.generate` uses): first the whole
prompt in one pass, which fills the cache, then one position a pass. Each pass says where its positions are
(`positions`, for `wpe`) and which keys they may see (the mask: a new token sees every cached one, and itself).
"""),
    code("""
def generate_cached(prompt, n_new):
    \"\"\"Greedy decoding with a KV cache: the prompt once, then one new position per pass.\"\"\"
    engine = gpt.engine
    cache = engine.new_cache(1, len(prompt) + n_new)
    new, new_ids, step_logits = list(prompt), [], []
    for _ in range(n_new):
        n_past, n_in = cache.n_past, len(new)
        positions = np.arange(n_past, n_past + n_in)[None]                  # [1, n_in]: where the new ones are
        mask = model.attention_mask(np.ones((1, n_past + n_in), bool), n_in)     # causal over cached + new
        last = engine.last_logits(np.array([new]), positions, mask, cache)[0]    # extends the cache by n_in
        new = [int(np.argmax(last))]                                       # from now on, one position a pass
        new_ids += new
        step_logits.append(last)
    return new_ids, np.array(step_logits)


start = time.perf_counter()
cached_ids, cached_logits = generate_cached(ids, n_new)
cached_s = time.perf_counter() - start

assert cached_ids == uncached_ids == gpt.generate(ids, n_new, temperature=0, eos_token_id=None)
assert np.allclose(cached_logits, uncached_logits, atol=1e-4)
positions_uncached = sum(range(len(ids), len(ids) + n_new))                 # every pass the whole sequence
positions_cached = len(ids) + n_new - 1                                     # each position once
print(f"the same {n_new} tokens; largest difference in logits {np.abs(cached_logits - uncached_logits).max():.1e}")
print(f"without the cache: {uncached_s:.2f} s, {positions_uncached} positions through the model")
print(f"with the cache:    {cached_s:.2f} s, {positions_cached} positions through the model")
assert len(ids) == 7 and (positions_uncached, positions_cached) == (444, 30)
"""),
    md("""
The same tokens and the same logits (up to float32 rounding), and the same tokens as `gpt.generate`. The
uncached loop pushed 444 positions through the model to make 24 tokens; the cached one 30, each position once
(the last token generated is never fed back). The times above depend on the machine and on what else it is doing,
and on a model this small each pass also has a fixed cost, whatever its length. The difference in work grows
with the length of the text: without a cache, step *t* pushes `len(prompt) + t` positions through every layer;
with one, after the prompt, it pushes one, and only its attention grows, by one cached key per step.
"""),
]
