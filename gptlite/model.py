"""The GPT-2 transformer in NumPy: token ids in, next-token logits out.

Sources: openai/gpt-2 `src/model.py` (the reference implementation), the GPT-2
paper (Radford et al. 2019, Section 2.3) and "Attention Is All You Need"
(Vaswani et al. 2017) for attention itself.

    x = wte[ids] + wpe[positions]                 token + learned position embeddings
    for each of n_layer blocks:                   "pre-LN": normalise, then add back
        x = x + attn(ln_1(x))                     causal multi-head self-attention
        x = x + mlp(ln_2(x))                      gelu MLP, 4x wide
    logits = ln_f(x) @ wte.T                      output head tied to the token embedding

Every function works on a batch of sequences, `x: [n_batch, n_seq, n_embd]`,
and keeps float32 from end to end. Names follow the checkpoint: `wte`, `wpe`,
`h` (the blocks), `ln_1`, `attn.c_attn` (fused q, k, v), `attn.c_proj`, `ln_2`,
`mlp.c_fc`, `mlp.c_proj`, `ln_f`; linear layers hold `w` [n_in, n_out] and `b`,
layer norms hold `g` (gain) and `b` (bias), as in OpenAI's checkpoint.

Generation reuses work through a KV cache: the keys and values of positions
already seen are kept, so each new token costs one position, not a pass over
the whole sequence. The uncached forward pass is the same code with an empty
cache.
"""

import math
from dataclasses import dataclass

import numpy as np

MASKED = np.finfo(np.float32).min  # added to attention scores a query must not see; finite, so no NaNs
QUERY_BLOCK = 128  # queries per attention block on long prompts (see attention)


@dataclass(frozen=True)
class Config:
    n_vocab: int = 50257  # 256 bytes + 50,000 BPE merges + <|endoftext|>
    n_ctx: int = 1024  # longest sequence: rows of wpe
    n_embd: int = 768  # width of the residual stream
    n_head: int = 12  # attention heads; each is n_embd // n_head wide
    n_layer: int = 12  # transformer blocks

    def __post_init__(self):
        for field in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer"):
            if not isinstance(getattr(self, field), int) or getattr(self, field) < 1:
                raise ValueError(f"config: {field} must be a positive integer, got {getattr(self, field)!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"config: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")

    @property
    def d_head(self):
        return self.n_embd // self.n_head


# The released models, by name (Radford et al. 2019, Table 2; distilgpt2 from Sanh et al. 2019).
CONFIGS = {
    "gpt2": Config(n_embd=768, n_head=12, n_layer=12),
    "gpt2-medium": Config(n_embd=1024, n_head=16, n_layer=24),
    "gpt2-large": Config(n_embd=1280, n_head=20, n_layer=36),
    "gpt2-xl": Config(n_embd=1600, n_head=25, n_layer=48),
    "distilgpt2": Config(n_embd=768, n_head=12, n_layer=6),
}


def param_shapes(config):
    """Every tensor of a GPT-2 checkpoint, by its name in gptlite's layout, with its shape."""
    e, f = config.n_embd, 4 * config.n_embd
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
    return shapes | {"ln_f.g": (e,), "ln_f.b": (e,)}


def nest(flat):
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


def flatten(tree, prefix=""):
    """The inverse of nest: {"h": [{"ln_1": {"g": a}}]} -> {"h.0.ln_1.g": a}."""
    flat = {}
    for key, value in enumerate(tree) if isinstance(tree, list) else tree.items():
        if isinstance(value, (dict, list)):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def init_params(config, seed=0):
    """Random weights as GPT-2 initialises them: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer).

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
            std = 0.02 / math.sqrt(2 * config.n_layer) if name.endswith("c_proj.w") else 0.02
            flat[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    return nest(flat)


def gelu(x):
    """GPT-2's activation: the tanh approximation of x * Phi(x) (Hendrycks & Gimpel 2016); "gelu_new" in transformers.

        gelu(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))

    Computed in one buffer, step by step, because x is the widest array in the model ([.., 4*n_embd]).
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


def softmax(x):
    """exp(x) / sum(exp(x)) over the last axis, overwriting x (callers pass a temporary)."""
    x -= x.max(axis=-1, keepdims=True)  # subtract the max: exp never overflows
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x  # shape unchanged, rows sum to 1


def layer_norm(x, g, b, eps=1e-5):
    """Normalise each position to zero mean and unit variance over n_embd, then scale by g and shift by b."""
    mean = x.mean(axis=-1, keepdims=True)  # [..., n_embd] -> [..., 1]
    var = x.var(axis=-1, keepdims=True)  # [..., n_embd] -> [..., 1]
    return g * ((x - mean) / np.sqrt(var + eps)) + b  # [..., n_embd]


def linear(x, w, b):
    """GPT-2's "Conv1D": a dense layer with w stored [n_in, n_out]."""
    out = x @ w  # [..., n_in] @ [n_in, n_out] -> [..., n_out]
    out += b  # in place: no second [..., n_out] array
    return out


class KVCache:
    """The keys and values of every layer for the positions seen so far, preallocated and written in place.

    k, v: [n_layer, n_batch, n_head, max_len, d_head]; positions [0, n_past) are filled.
    """

    def __init__(self, config, n_batch, max_len):
        shape = (config.n_layer, n_batch, config.n_head, max_len, config.d_head)
        self.k = np.empty(shape, np.float32)
        self.v = np.empty(shape, np.float32)
        self.n_past = 0

    def extend(self, layer, k, v):
        """Store one layer's new keys and values [n_batch, n_head, n_seq, d_head]; return all so far."""
        start, end = self.n_past, self.n_past + k.shape[2]
        if end > self.k.shape[3]:
            raise ValueError(f"KV cache full: {end} positions do not fit in {self.k.shape[3]}")
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # [n_batch, n_head, n_past + n_seq, d_head]

    def keep_rows(self, rows):
        """Drop the batch rows not in `rows` (finished sequences stop costing work)."""
        self.k = self.k[:, rows]
        self.v = self.v[:, rows]


def attention(q, k, v, mask):
    """Scaled dot-product attention: softmax(q k^T / sqrt(d_head) + mask) v.

    Long prompts go QUERY_BLOCK queries at a time: a block's queries cannot see the
    keys after its last query (the causal mask), so those are left out of its
    products instead of being computed and then masked to zero.
    """
    q = q * (1 / math.sqrt(q.shape[-1]))  # scale q, not the scores: n_seq x d_head values, not n_seq x n_kv
    n_seq, n_kv = q.shape[-2], k.shape[-2]
    out = np.empty_like(q)  # [n_batch, n_head, n_seq, d_head]
    for start in range(0, n_seq, QUERY_BLOCK):
        stop = min(start + QUERY_BLOCK, n_seq)
        seen = n_kv - n_seq + stop  # keys up to the block's last query
        scores = q[:, :, start:stop] @ k[:, :, :seen].swapaxes(-1, -2)  # [.., block, d_head] @ [.., d_head, seen]
        scores += mask[:, :, start:stop, :seen]  # [n_batch, 1, block, seen]: 0 where a query may look, MASKED where not
        out[:, :, start:stop] = softmax(scores) @ v[:, :, :seen]  # [.., block, seen] @ [.., seen, d_head]
    return out


def attn(x, c_attn, c_proj, n_head, mask, cache, layer):
    """Causal multi-head self-attention with fused q, k, v projections."""
    n_batch, n_seq, n_embd = x.shape
    qkv = linear(x, **c_attn)  # [n_batch, n_seq, n_embd] -> [n_batch, n_seq, 3*n_embd]
    qkv = qkv.reshape(n_batch, n_seq, 3, n_head, n_embd // n_head)  # -> [n_batch, n_seq, 3, n_head, d_head]
    q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # -> 3 x [n_batch, n_head, n_seq, d_head]
    k, v = cache.extend(layer, k, v)  # -> 2 x [n_batch, n_head, n_past + n_seq, d_head]
    out = attention(q, k, v, mask)  # -> [n_batch, n_head, n_seq, d_head]
    out = out.transpose(0, 2, 1, 3).reshape(n_batch, n_seq, n_embd)  # heads side by side: [n_batch, n_seq, n_embd]
    return linear(out, **c_proj)  # [n_batch, n_seq, n_embd] -> [n_batch, n_seq, n_embd]


def mlp(x, c_fc, c_proj):
    """The position-wise feed-forward network: widen 4x, gelu, project back."""
    h = gelu(linear(x, **c_fc))  # [n_batch, n_seq, n_embd] -> [n_batch, n_seq, 4*n_embd]
    return linear(h, **c_proj)  # [n_batch, n_seq, 4*n_embd] -> [n_batch, n_seq, n_embd]


def block(x, ln_1, attn_params, ln_2, mlp_params, n_head, mask, cache, layer):
    """One transformer block, pre-LN: each sub-layer reads a normalised copy and adds its output back."""
    x = x + attn(layer_norm(x, **ln_1), **attn_params, n_head=n_head, mask=mask, cache=cache, layer=layer)
    x = x + mlp(layer_norm(x, **ln_2), **mlp_params)
    return x  # [n_batch, n_seq, n_embd]


def attention_mask(seen, n_seq):
    """Additive mask [n_batch, 1, n_seq, n_kv] for n_seq new queries over n_kv = n_past + n_seq keys.

    seen: [n_batch, n_kv] bool, False at padding. Query i (at key position n_past + i)
    may look at key j when j <= n_past + i (causal) and key j is not padding.
    """
    n_kv = seen.shape[1]
    causal = np.tri(n_seq, n_kv, k=n_kv - n_seq, dtype=bool)  # [n_seq, n_kv]
    allowed = causal[None, :, :] & seen[:, None, :]  # [n_batch, n_seq, n_kv]
    return np.where(allowed, np.float32(0), MASKED)[:, None, :, :]  # [n_batch, 1, n_seq, n_kv], float32


def hidden_states(params, ids, positions, mask, cache, n_head):
    """Token ids [n_batch, n_seq] -> final normalised hidden states [n_batch, n_seq, n_embd]."""
    x = params["wte"][ids] + params["wpe"][positions]  # [n_batch, n_seq] -> [n_batch, n_seq, n_embd]
    for layer, h in enumerate(params["h"]):
        x = block(x, h["ln_1"], h["attn"], h["ln_2"], h["mlp"], n_head, mask, cache, layer)
    cache.n_past += ids.shape[1]
    return layer_norm(x, **params["ln_f"])  # [n_batch, n_seq, n_embd]


def lm_head(x, wte):
    """Logits from hidden states, through the transposed token embedding (GPT-2 ties the two)."""
    return x @ wte.T  # [..., n_embd] @ [n_embd, n_vocab] -> [..., n_vocab]
