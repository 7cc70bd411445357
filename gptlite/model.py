"""The GPT-2 transformer in NumPy: token ids in, next-token logits out.

Sources: openai/gpt-2 `src/model.py` (the reference implementation), the GPT-2
paper (Radford et al. 2019, Section 2.3) and "Attention Is All You Need"
(Vaswani et al. 2017) for attention itself.

    x = wte[ids] + wpe[positions]                 token + learned position embeddings
    for each of n_layer blocks:                   "pre-LN": normalise, then add back
        x = x + attn(ln_1(x))                     causal multi-head self-attention
        x = x + mlp(ln_2(x))                      gelu MLP, 4x wide
    logits = ln_f(x) @ wte.T                      output head tied to the token embedding

GPT-1 (Radford et al. 2018) is the same model but for where the layer norms sit, "post-LN" (`Config.layer_norm
= "post"`, `block_post_ln`): each sub-layer reads the stream as it is and the sum is normalised, and the last
block's output goes to the head as it is (no ln_f). The GPT-2 paper, Section 2.3, names the change: "Layer
normalization was moved to the input of each sub-block ... and an additional layer normalization was added
after the final self-attention block".

    x = ln_1(x + attn(x))                         GPT-1, post-LN        x = x + attn(ln_1(x))   GPT-2, pre-LN
    x = ln_2(x + mlp(x))                                                x = x + mlp(ln_2(x))

Every function works on a batch of sequences, `x: [n_batch, n_seq, n_embd]`,
and keeps float32 from end to end. Names follow the checkpoint: `wte`, `wpe`,
`h` (the blocks), `ln_1`, `attn.c_attn` (fused q, k, v), `attn.c_proj`, `ln_2`,
`mlp.c_fc`, `mlp.c_proj`, `ln_f`; linear layers hold `w` [n_in, n_out] and `b`,
layer norms hold `g` (gain) and `b` (bias), as in OpenAI's checkpoint.

Generation reuses work through a KV cache: the keys and values of positions
already seen are kept, so each new token costs one position, not a pass over
the whole sequence. The uncached forward pass is the same code with an empty
cache.

Looking inside: at each named point of the forward pass (`h.3.resid_mid`,
`h.3.attn.pattern`, ...: the table is in `hooks.py`) the code calls
`hooks(name, activation)` and carries on with what comes back. The default
`NO_HOOKS` hands every activation back untouched, so inference pays nothing;
`hooks.Record` keeps copies, or swaps in what a user's function returns. The
training code's backward pass reads its activations from such a record.

Reading order: the forward pass first (gelu, softmax, layer_norm, linear,
attention in its textbook form and then in blocks, attn, mlp, block,
hidden_states, lm_head); then the KV cache; then `Config`, with the options of
other GPT-2-shaped models (other activations, scalings, an untied head); last
the checkpoint's layout (`param_shapes`, `nest`, `init_params`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MASKED = np.finfo(np.float32).min  # added to attention scores a query must not see; finite, so no NaNs
QUERY_BLOCK = 128  # queries per attention block on long prompts (see attention)

# Shapes in the comments: n_batch sequences of n_seq new positions, attending to n_kv keys
# (n_past cached + n_seq new); n_embd wide, split into n_head heads of d_head; n_vocab tokens.


class Hooks:
    """The named points of the forward pass, doing nothing: every activation comes back as it went in.

    `hooks.Record` is the one that records and patches. The model calls `hooks(name, x)`
    with a name relative to the block it is in; `scope("h.3")` gives that block's hooks.
    """

    def __call__(self, name: str, x: np.ndarray) -> np.ndarray:
        return x

    def wants(self, name: str) -> bool:
        """Whether anything is done at `name` (attention then computes its pattern whole, not in blocks)."""
        return False

    def scope(self, prefix: str) -> Hooks:
        return self


NO_HOOKS = Hooks()


def gelu(x: np.ndarray) -> np.ndarray:
    """GPT-2's activation: the tanh approximation of x * Phi(x) (Hendrycks & Gimpel 2016); "gelu_new" in transformers.

        gelu(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))

    Computed in one new buffer, step by step, because x is the widest array in the model ([.., 4*n_embd]).
    """
    h = x * x  # x^2 (x * x * x, not x**3: numpy's pow of a negative float32 is 100x slower)
    h *= x  # x^3
    h *= 0.044715
    h += x
    h *= math.sqrt(2 / math.pi)
    np.tanh(h, out=h)
    h += 1
    h *= x
    h *= 0.5
    return h  # shape unchanged


def softmax(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """exp(x) / sum(exp(x)) over the last axis. out=x works in place, overwriting x, and saves a buffer."""
    out = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)  # subtract the max: exp never overflows
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out  # shape unchanged, rows sum to 1


def log_softmax(x: np.ndarray) -> np.ndarray:
    """log(softmax(x)) over the last axis, computed without overflow: [..., n] -> [..., n]."""
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalise each position to zero mean and unit variance over n_embd, then scale by g and shift by b:

        g * (x - mean) / sqrt(var + eps) + b,   var = mean((x - mean)^2)

    The sums are np.add.reduce, what x.mean() and x.var() call after Python-level checks that cost more than the
    sums at decode sizes; the steps after the first work in place in one new array."""
    n_embd = np.float32(x.shape[-1])
    centered = x - np.add.reduce(x, axis=-1, keepdims=True) / n_embd  # x - mean: [..., n_embd]
    var = np.add.reduce(centered * centered, axis=-1, keepdims=True) / n_embd  # [..., n_embd] -> [..., 1]
    centered /= np.sqrt(var + np.float32(eps))
    centered *= g
    centered += b
    return centered  # [..., n_embd]


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """GPT-2's "Conv1D": a dense layer with w stored [n_in, n_out]."""
    out = x @ w  # [..., n_in] @ [n_in, n_out] -> [..., n_out]
    out += b  # in place: no second [..., n_out] array
    return out


def attention_scale(config: Config, layer: int) -> float:
    """What block `layer`'s attention scores are multiplied by: 1/sqrt(d_head) in GPT-2, which keeps the dot
    products' variance near 1 (Vaswani et al. 2017, 3.2.1); some GPT-2-shaped models also divide by layer + 1."""
    scale = 1 / math.sqrt(config.d_head) if config.scale_attn_weights else 1.0
    return scale / (layer + 1) if config.scale_attn_by_inverse_layer_idx else scale


def textbook_attention(q, k, v, mask, scale):
    """softmax(q k^T * scale + mask) v, all queries at once: the formula of Vaswani et al. 2017 (3.2.1), as a
    learner first writes it, and the test oracle for `attention` below, which computes the same in blocks.

    q [n_batch, n_head, n_seq, d_head]; k, v [n_batch, n_head, n_kv, d_head]; mask [n_batch, 1, n_seq, n_kv].
    """
    scores = q @ k.swapaxes(-1, -2) * np.float32(scale) + mask  # [n_batch, n_head, n_seq, n_kv]
    return softmax(scores) @ v  # [n_batch, n_head, n_seq, n_kv] @ [.., n_kv, d_head] -> [.., n_seq, d_head]


def attention(q, k, v, mask, scale=None, hooks=NO_HOOKS):
    """Scaled dot-product attention: softmax(q k^T * scale + mask) v, scale = 1/sqrt(d_head) unless given.

    q [n_batch, n_head, n_seq, d_head]; k, v [n_batch, n_head, n_kv, d_head]; mask [n_batch, 1, n_seq, n_kv].
    The same numbers as `textbook_attention` (the tests hold the two together), computed faster: long prompts
    go QUERY_BLOCK queries at a time, and a block's queries cannot see the keys after its last query (the
    causal mask), so those are left out of its products instead of being computed and then masked to zero.
    A hook on the scores or the pattern is called with the array it names, [n_batch, n_head, n_seq, n_kv];
    blocks would hand it pieces of different widths, so when one is wanted all queries go in one block:
    the algorithm is the same, only the block size changes (and the results do not: the test says so).
    """
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    q = q * np.float32(scale)  # scale q, not the scores: n_seq x d_head values, not n_seq x n_kv
    n_seq, n_kv = q.shape[-2], k.shape[-2]
    block = n_seq if hooks.wants("attn.scores") or hooks.wants("attn.pattern") else QUERY_BLOCK
    z = np.empty_like(q)  # [n_batch, n_head, n_seq, d_head]
    for start in range(0, n_seq, block):
        stop = min(start + block, n_seq)
        n_visible = n_kv - n_seq + stop  # keys up to the block's last query
        k_visible, v_visible = k[:, :, :n_visible], v[:, :, :n_visible]  # [n_batch, n_head, n_visible, d_head]
        scores = q[:, :, start:stop] @ k_visible.swapaxes(-1, -2)  # [.., block, d_head] @ [.., d_head, n_visible]
        scores += mask[:, :, start:stop, :n_visible]  # [n_batch, 1, block, n_visible]: 0 = may look, MASKED = not
        scores = hooks("attn.scores", scores)  # [n_batch, n_head, block, n_visible]
        pattern = hooks("attn.pattern", softmax(scores, out=scores))  # in place; rows sum to 1
        z[:, :, start:stop] = pattern @ v_visible  # [.., block, n_visible] @ [.., n_visible, d_head]
    return z


def attn(x, c_attn, c_proj, n_head, mask, cache, scale=None, hooks=NO_HOOKS):
    """Causal multi-head self-attention with fused q, k, v projections; `cache` is this layer's LayerCache."""
    n_batch, n_seq, n_embd = x.shape
    qkv = linear(x, **c_attn)  # [n_batch, n_seq, n_embd] -> [n_batch, n_seq, 3*n_embd]
    qkv = qkv.reshape(n_batch, n_seq, 3, n_head, n_embd // n_head)  # -> [n_batch, n_seq, 3, n_head, d_head]
    q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # -> 3 x [n_batch, n_head, n_seq, d_head]
    q, k, v = hooks("attn.q", q), hooks("attn.k", k), hooks("attn.v", v)
    k, v = cache.extend(k, v)  # -> 2 x [n_batch, n_head, n_kv, d_head]
    z = attention(q, k, v, mask, scale, hooks)  # -> [n_batch, n_head, n_seq, d_head]: each head's output
    z = hooks("attn.z", z)
    z = z.transpose(0, 2, 1, 3).reshape(n_batch, n_seq, n_embd)  # heads side by side: [n_batch, n_seq, n_embd]
    return linear(z, **c_proj)  # [n_batch, n_seq, n_embd] -> [n_batch, n_seq, n_embd]


def mlp(x, c_fc, c_proj, activation=gelu, hooks=NO_HOOKS):
    """The position-wise feed-forward network: widen (4x in GPT-2), gelu, project back."""
    pre = hooks("mlp.pre", linear(x, **c_fc))  # [n_batch, n_seq, n_embd] -> [n_batch, n_seq, d_mlp]
    post = hooks("mlp.post", activation(pre))  # [n_batch, n_seq, d_mlp], d_mlp = 4*n_embd in GPT-2
    return linear(post, **c_proj)  # [n_batch, n_seq, d_mlp] -> [n_batch, n_seq, n_embd]


def block(x, h, config, layer, mask, cache, hooks=NO_HOOKS):
    """Block number `layer`, as `config.layer_norm` says: GPT-2's pre-LN block (below) or GPT-1's post-LN one."""
    compose = block_pre_ln if config.layer_norm == "pre" else block_post_ln
    return compose(x, h, config, layer, mask, cache, hooks)


def block_pre_ln(x, h, config, layer, mask, cache, hooks=NO_HOOKS):
    """GPT-2's block, pre-LN: each sub-layer reads a normalised copy of the residual stream and adds its output
    back. h: the block's parameters (ln_1, attn, ln_2, mlp); cache: its LayerCache."""
    eps, scale = config.layer_norm_epsilon, attention_scale(config, layer)
    resid_pre = hooks("resid_pre", x)  # [n_batch, n_seq, n_embd]
    normalized = hooks("ln_1.normalized", layer_norm(resid_pre, **h["ln_1"], eps=eps))
    attn_out = hooks("attn.out", attn(normalized, **h["attn"], n_head=config.n_head, mask=mask, cache=cache,
                                      scale=scale, hooks=hooks))  # fmt: skip
    resid_mid = hooks("resid_mid", resid_pre + attn_out)  # [n_batch, n_seq, n_embd]
    normalized = hooks("ln_2.normalized", layer_norm(resid_mid, **h["ln_2"], eps=eps))
    mlp_out = hooks("mlp.out", mlp(normalized, **h["mlp"], activation=ACTIVATIONS[config.activation], hooks=hooks))
    return hooks("resid_post", resid_mid + mlp_out)  # [n_batch, n_seq, n_embd]


def block_post_ln(x, h, config, layer, mask, cache, hooks=NO_HOOKS):
    """GPT-1's block, post-LN: each sub-layer reads the stream as it is, and its sum with the sub-layer's output
    is normalised; the normalised sums (`ln_1.normalized`, `ln_2.normalized`) are the stream that goes on,
    `resid_mid` and `resid_post` the sums before the norms, as TransformerLens names them for post-LN models."""
    eps, scale = config.layer_norm_epsilon, attention_scale(config, layer)
    resid_pre = hooks("resid_pre", x)  # [n_batch, n_seq, n_embd]
    attn_out = hooks("attn.out", attn(resid_pre, **h["attn"], n_head=config.n_head, mask=mask, cache=cache,
                                      scale=scale, hooks=hooks))  # fmt: skip
    resid_mid = hooks("resid_mid", resid_pre + attn_out)  # [n_batch, n_seq, n_embd]
    normalized = hooks("ln_1.normalized", layer_norm(resid_mid, **h["ln_1"], eps=eps))  # what goes on
    mlp_out = hooks("mlp.out", mlp(normalized, **h["mlp"], activation=ACTIVATIONS[config.activation], hooks=hooks))
    resid_post = hooks("resid_post", normalized + mlp_out)  # [n_batch, n_seq, n_embd]
    return hooks("ln_2.normalized", layer_norm(resid_post, **h["ln_2"], eps=eps))  # the block's output


def attention_mask(real, n_seq):
    """Additive mask [n_batch, 1, n_seq, n_kv] for n_seq new queries over n_kv = n_past + n_seq keys.

    real: [n_batch, n_kv] bool, False at padding. Query i (at key position n_past + i)
    may look at key j when j <= n_past + i (causal) and key j is a real token.
    """
    n_kv = real.shape[1]
    causal = np.tri(n_seq, n_kv, k=n_kv - n_seq, dtype=bool)  # [n_seq, n_kv]
    allowed = causal[None, :, :] & real[:, None, :]  # [n_batch, n_seq, n_kv]
    return np.where(allowed, np.float32(0), MASKED)[:, None, :, :]  # [n_batch, 1, n_seq, n_kv], float32


def hidden_states(params, ids, positions, mask, cache, config, hooks=NO_HOOKS):
    """Token ids [n_batch, n_seq] at positions [n_batch, n_seq] -> final normalised hidden states
    [n_batch, n_seq, n_embd] (through ln_f; post-LN: the last block's output, normalised already). Extends every
    layer of `cache` by n_seq positions."""
    embed = hooks("embed", params["wte"][ids])  # [n_batch, n_seq] -> [n_batch, n_seq, n_embd]
    pos_embed = hooks("pos_embed", params["wpe"][positions])  # [n_batch, n_seq] -> [n_batch, n_seq, n_embd]
    x = embed + pos_embed  # the residual stream: [n_batch, n_seq, n_embd]
    for i, (h, layer_cache) in enumerate(zip(params["h"], cache.layers)):
        x = block(x, h, config, i, mask, layer_cache, hooks.scope(f"h.{i}"))
    return final_norm(params, x, config, hooks)


def final_norm(params, x, config, hooks=NO_HOOKS):
    """What the head reads of the residual stream after the last block [.., n_embd]: ln_f of it (pre-LN), or
    the stream as it is (post-LN: each block ends in a layer norm of its own)."""
    if config.layer_norm == "post":
        return x
    normalized = layer_norm(x, **params["ln_f"], eps=config.layer_norm_epsilon)  # [.., n_embd]
    return hooks("ln_f.normalized", normalized)


def lm_head(x, weight, hooks=NO_HOOKS):
    """Logits from hidden states: x @ weight.T, weight being `head_weight(params)`."""
    return hooks("logits", x @ weight.T)  # [..., n_embd] @ [n_embd, n_vocab] -> [..., n_vocab]


def head_weight(params):
    """The output head [n_vocab, n_embd]: the token embedding itself (GPT-2 ties the two), or an untied lm_head."""
    return params.get("lm_head", params["wte"])


# ---------------------------------------------------------------- the KV cache


class LayerCache:
    """One layer's keys and values for the positions seen so far, preallocated; each `extend` appends.

    k, v: [n_batch, n_head, max_len, d_head]; positions [0, length) are filled.
    """

    def __init__(self, n_batch, n_head, max_len, d_head, dtype=np.float32):
        self.k = np.empty((n_batch, n_head, max_len, d_head), dtype)
        self.v = np.empty((n_batch, n_head, max_len, d_head), dtype)
        self.length = 0

    def extend(self, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Append new keys and values [n_batch, n_head, n_seq, d_head]; return every one so far."""
        n_seq = k.shape[2]
        k, v = self.write(k, v)
        self.length += n_seq
        return k, v  # [n_batch, n_head, n_kv, d_head], n_kv = length

    def write(self, k: np.ndarray, v: np.ndarray, heads=slice(None)):
        """Put new keys and values [n_batch, len(heads), n_seq, d_head] after the `length` cached ones, for some
        heads, without counting them yet (`extend` does); return those heads' keys and values, new ones included."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.k.shape[2]:
            raise ValueError(f"KV cache full: {end} positions do not fit in {self.k.shape[2]}")
        self.k[:, heads, start:end] = k
        self.v[:, heads, start:end] = v
        return self.k[:, heads, :end], self.v[:, heads, :end]  # [n_batch, len(heads), n_kv, d_head]

    def keep_rows(self, rows):
        """Drop the batch rows not in `rows` (finished sequences stop costing work)."""
        self.k, self.v = self.k[rows], self.v[rows]


class KVCache:
    """Every layer's `LayerCache`: `layers[i]` is block i's own. A forward pass over n_seq new
    positions extends each layer by n_seq, so afterwards `n_past` has grown by n_seq."""

    def __init__(self, config: Config, n_batch: int, max_len: int, dtype=np.float32):
        self.layers = [LayerCache(n_batch, config.n_head, max_len, config.d_head, dtype) for _ in range(config.n_layer)]

    @property
    def n_past(self) -> int:
        """Positions every layer holds (the last layer is extended last)."""
        return self.layers[-1].length

    def keep_rows(self, rows):
        """Keep only the batch rows `rows` (indices, in the order given; one may repeat, as beams do)."""
        for layer in self.layers:
            layer.keep_rows(rows)

    def keep_positions(self, keep):
        """Keep, in each row, the positions where keep [n_batch, n_past] is True, moved to the end of the row in
        their order (the row is left-padded), and drop the rest; n_past becomes the most any row keeps. What
        dropped positions held never counts again: it is as if the kept ones had come alone."""
        kept = keep.sum(axis=1)  # [n_batch]
        n_keep = int(kept.max(initial=0))
        for layer in self.layers:
            for row in range(keep.shape[0]):
                where = np.flatnonzero(keep[row])  # [kept[row]]
                start = n_keep - kept[row]
                layer.k[row, :, start:n_keep] = layer.k[row][:, where]  # a gather makes a copy: overlap is safe
                layer.v[row, :, start:n_keep] = layer.v[row][:, where]  # [n_head, kept[row], d_head]
            layer.length = n_keep

    def rewind(self, n: int):
        """Drop the last n positions of every row: every layer is set to n_past - n (a layer a failed pass
        extended beyond n_past is cut back with the rest). The arrays keep their room; later passes overwrite."""
        if not 0 <= n <= self.n_past:
            raise ValueError(f"cannot rewind {n} positions of a cache holding {self.n_past}")
        length = self.n_past - n
        for layer in self.layers:
            layer.length = length


# ---------------------------------------------------------------- the shape, and options of GPT-2-shaped models


@dataclass(frozen=True)
class Config:
    """A GPT-2's shape. The first five fields are GPT-2's own; the rest are options that other models of
    GPT-2's architecture use (Hugging Face's `GPT2Config` names them), with GPT-2's values as defaults, and
    `layer_norm`, which says whether the blocks are GPT-2's (pre-LN) or GPT-1's (post-LN)."""

    n_vocab: int = 50257  # 256 bytes + 50,000 BPE merges + <|endoftext|>
    n_ctx: int = 1024  # longest sequence: rows of wpe
    n_embd: int = 768  # width of the residual stream
    n_head: int = 12  # attention heads; each is n_embd // n_head wide
    n_layer: int = 12  # transformer blocks
    n_inner: int | None = None  # width of the MLP; None: 4 * n_embd
    activation: str = "gelu_new"  # the MLP's nonlinearity: a key of ACTIVATIONS
    layer_norm_epsilon: float = 1e-5
    scale_attn_weights: bool = True  # divide attention scores by sqrt(d_head)
    scale_attn_by_inverse_layer_idx: bool = False  # and by the block's number, counting from 1 (Stanford CRFM)
    tie_word_embeddings: bool = True  # the output head is wte; False: a separate lm_head [n_vocab, n_embd]
    layer_norm: str = "pre"  # "pre": GPT-2's blocks and a final ln_f; "post": GPT-1's blocks (block_post_ln), no ln_f

    def __post_init__(self):
        for field in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer"):
            if not _is_int(getattr(self, field)) or getattr(self, field) < 1:
                raise ValueError(f"config: {field} must be a positive integer, got {getattr(self, field)!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"config: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_inner is not None and (not _is_int(self.n_inner) or self.n_inner < 1):
            raise ValueError(f"config: n_inner must be a positive integer or None, got {self.n_inner!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"config: activation {self.activation!r} is not one of {', '.join(ACTIVATIONS)}")
        if not isinstance(self.layer_norm_epsilon, (int, float)) or not 0 < self.layer_norm_epsilon < 1:
            raise ValueError(f"config: layer_norm_epsilon must be in (0, 1), got {self.layer_norm_epsilon!r}")
        for field in ("scale_attn_weights", "scale_attn_by_inverse_layer_idx", "tie_word_embeddings"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"config: {field} must be true or false, got {getattr(self, field)!r}")
        if self.layer_norm not in ("pre", "post"):
            raise ValueError(f"config: layer_norm must be 'pre' (GPT-2) or 'post' (GPT-1), got {self.layer_norm!r}")

    @property
    def d_head(self) -> int:
        return self.n_embd // self.n_head

    @property
    def d_mlp(self) -> int:
        return self.n_inner or 4 * self.n_embd


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def gelu_exact(x: np.ndarray) -> np.ndarray:
    """x * Phi(x) with the Gaussian CDF Phi through erf; "gelu" in transformers.

    NumPy has no erf, so it is Abramowitz & Stegun's 7.1.26 (|error| < 1.5e-7, below float32's resolution):
    erf(a) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-a^2), t = 1 / (1 + p a), for a >= 0.
    """
    a = np.abs(x) * np.float32(1 / math.sqrt(2))  # Phi(x) = (1 + erf(x / sqrt(2))) / 2
    t = 1 / (1 + np.float32(0.3275911) * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1 - poly * np.exp(-a * a)  # erf(|x| / sqrt(2))
    return (0.5 * x * (1 + np.sign(x) * erf)).astype(x.dtype)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def silu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x); sigmoid(x) = (1 + tanh(x / 2)) / 2 never overflows."""
    return x * (0.5 + 0.5 * np.tanh(0.5 * x))


def quick_gelu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(1.702 x), a cheaper gelu (CLIP's)."""
    return x * (0.5 + 0.5 * np.tanh(0.851 * x))


# The MLP's nonlinearity by Hugging Face's `activation_function` name. GPT-2's is gelu_new; "gelu_pytorch_tanh"
# is the same formula computed by torch.
ACTIVATIONS = {"gelu_new": gelu, "gelu_pytorch_tanh": gelu, "gelu": gelu_exact, "relu": relu, "silu": silu,
               "quick_gelu": quick_gelu}  # fmt: skip


# ---------------------------------------------------------------- the checkpoint's layout


def param_shapes(config: Config) -> dict[str, tuple[int, ...]]:
    """Every tensor of a GPT-2 (or GPT-1) checkpoint, by its name in gptlite's layout, with its shape."""
    e, f = config.n_embd, config.d_mlp
    shapes = {"wte": (config.n_vocab, e), "wpe": (config.n_ctx, e)}
    for i in range(config.n_layer):
        shapes |= {
            f"h.{i}.ln_1.g": (e,), f"h.{i}.ln_1.b": (e,),
            f"h.{i}.attn.c_attn.w": (e, 3 * e), f"h.{i}.attn.c_attn.b": (3 * e,),
            f"h.{i}.attn.c_proj.w": (e, e), f"h.{i}.attn.c_proj.b": (e,),
            f"h.{i}.ln_2.g": (e,), f"h.{i}.ln_2.b": (e,),
            f"h.{i}.mlp.c_fc.w": (e, f), f"h.{i}.mlp.c_fc.b": (f,),
            f"h.{i}.mlp.c_proj.w": (f, e), f"h.{i}.mlp.c_proj.b": (e,),
        }  # fmt: skip
    if config.layer_norm == "pre":  # post-LN blocks end in a layer norm of their own: no ln_f
        shapes |= {"ln_f.g": (e,), "ln_f.b": (e,)}
    return shapes if config.tie_word_embeddings else shapes | {"lm_head": (config.n_vocab, e)}


def nest(flat: dict) -> dict:
    """{"h.0.ln_1.g": a, "wte": b} -> {"h": [{"ln_1": {"g": a}}], "wte": b}: the tree the model code walks."""
    tree = {}
    for name, value in flat.items():
        *path, leaf = name.split(".")
        node = tree
        for key in path:
            node = node.setdefault(key, {})
        node[leaf] = value
    if "h" in tree:
        tree["h"] = [tree["h"][str(i)] for i in range(len(tree["h"]))]
    return tree


def flatten(tree, prefix: str = "") -> dict:
    """The inverse of nest: {"h": [{"ln_1": {"g": a}}]} -> {"h.0.ln_1.g": a}."""
    flat = {}
    for key, value in enumerate(tree) if isinstance(tree, list) else tree.items():
        if isinstance(value, (dict, list)):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def init_params(config: Config, seed: int = 0) -> dict:
    """Random weights as OpenAI's `model.py` initialises them: N(0, 0.02), wpe N(0, 0.01), gains 1, biases 0;
    the residual projections (`c_proj`) scaled by 1/sqrt(2 n_layer), as the GPT-2 paper (Section 2.3) says.

    Used for tests and benchmarks of the real shapes without a download.
    """
    rng = np.random.default_rng(seed)
    flat = {}
    for name, shape in param_shapes(config).items():
        if name.endswith(".g"):
            flat[name] = np.ones(shape, np.float32)
        elif name.endswith(".b"):
            flat[name] = np.zeros(shape, np.float32)
        else:
            std = {"wpe": 0.01}.get(name, 0.02) / (math.sqrt(2 * config.n_layer) if name.endswith("c_proj.w") else 1)
            flat[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    return nest(flat)
