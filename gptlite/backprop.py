"""The backward pass of GPT-2 (and GPT-1), written out by hand: the gradient of the loss with respect to every
parameter.

Sources: the chain rule, layer by layer in the order of llm.c's `train_gpt2.c`
(Karpathy 2024), whose backward functions mirror the forward ones as these do;
the forward pass is `model.py`'s, run once with a `hooks.Record`.

Training minimises the cross-entropy of predicting token t+1 from tokens <= t:

    loss = mean over positions of  -log softmax(logits)[next token]

`forward` runs the model and keeps the activations the backward pass needs
(`h.{i}.resid_pre`, `h.{i}.attn.pattern`, ...: the names of `hooks.py`).
`backward` walks the layers in reverse and returns a gradient for every
parameter, in the same nested layout as the parameters. Each `*_backward`
function takes the gradient of the loss with respect to a layer's output
(`d_out`) and returns the gradients with respect to its input and its
parameters; `d_name` is always "d loss / d name".

GPT-1's post-LN block (`model.block_post_ln`) has the same pieces in another order, so its backward pass
(`post_ln_block_backward`) is the same steps in the reverse of that order: through ln_2 first, then the MLP,
ln_1 and attention; and with no ln_f, the head's gradient goes straight to the last block's output.
"""

import math

import numpy as np

from .hooks import Record
from .model import Config, KVCache, attention_mask, hidden_states, lm_head, log_softmax

NEEDED = [
    "h.*.resid_pre",
    "h.*.ln_1.normalized",
    "h.*.attn.q",
    "h.*.attn.k",
    "h.*.attn.v",
    "h.*.attn.pattern",
    "h.*.attn.z",
    "h.*.resid_mid",
    "h.*.ln_2.normalized",
    "h.*.mlp.pre",
    "h.*.mlp.post",
]


def forward(params, ids, targets, config):
    """Mean cross-entropy of predicting targets [n_batch, n_seq] from ids [n_batch, n_seq]; returns (loss, acts).

    The backward pass is written for GPT-2 itself (gelu_new, scaled attention, a tied head) and for GPT-1's
    post-LN blocks with the same options.
    """
    shape = (config.n_vocab, config.n_ctx, config.n_embd, config.n_head, config.n_layer)
    if config != Config(*shape, layer_norm=config.layer_norm):
        raise ValueError("training supports GPT-2's own architecture only (gelu_new, tied head, default scaling)")
    n_batch, n_seq = ids.shape
    wte = params["wte"]
    n_layer = config.n_layer
    ends = ["h.*.resid_post"] if config.layer_norm == "post" else [f"h.{n_layer - 1}.resid_post", "ln_f.normalized"]
    record = Record(NEEDED + ends, n_layer=n_layer)
    mask = attention_mask(np.ones((n_batch, n_seq), bool), n_seq)  # [n_batch, 1, n_seq, n_seq]
    cache = KVCache(config, n_batch, n_seq, dtype=wte.dtype)  # float64 parameters (gradient checks) stay float64
    x = hidden_states(params, ids, np.arange(n_seq)[None], mask, cache, config, record)  # [n_batch, n_seq, n_embd]
    logp = log_softmax(lm_head(x, wte))  # [n_batch, n_seq, n_vocab]
    loss = -np.take_along_axis(logp, targets[..., None], axis=-1).mean()
    return loss, {"ids": ids, "targets": targets, "logp": logp, "layer_norm": config.layer_norm, **record.records}


def linear_backward(d_out, x, w):
    """out = x @ w + b  =>  d_x = d_out @ w.T, d_w = x.T @ d_out, d_b = sum of d_out (over every position)."""
    d_x = d_out @ w.T  # [..., n_out] @ [n_out, n_in] -> [..., n_in]
    x_rows, d_rows = x.reshape(-1, x.shape[-1]), d_out.reshape(-1, d_out.shape[-1])  # [n_rows, n_in], [n_rows, n_out]
    return d_x, {"w": x_rows.T @ d_rows, "b": d_rows.sum(axis=0)}  # [n_in, n_out], [n_out]


def layer_norm_backward(d_out, x, g, eps=1e-5):
    """out = g * xhat + b with xhat = (x - mean) / std. The mean and std depend on every x, hence the two means."""
    mean = x.mean(axis=-1, keepdims=True)  # [..., 1]
    rstd = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)  # [..., 1]
    xhat = (x - mean) * rstd  # [..., n_embd]
    d_xhat = d_out * g  # [..., n_embd]
    d_x = rstd * (d_xhat - d_xhat.mean(axis=-1, keepdims=True) - xhat * (d_xhat * xhat).mean(axis=-1, keepdims=True))
    rows = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731
    return d_x, {
        "g": (rows(d_out) * rows(xhat)).sum(axis=0),
        "b": rows(d_out).sum(axis=0),
    }  # [.., n_embd], [n_embd] x 2


def gelu_backward(d_out, x):
    """d/dx of 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)."""
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x * x * x))
    return d_out * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))  # shape unchanged


def attention_backward(d_z, q, k, v, pattern):
    """Through z = pattern v, pattern = softmax(scores), scores = q k^T / sqrt(d_head) (+ mask: no gradient).

    q, k, v, d_z: [n_batch, n_head, n_seq, d_head]; pattern: [n_batch, n_head, n_seq, n_seq].
    """
    scale = 1 / math.sqrt(q.shape[-1])
    d_pattern = d_z @ v.swapaxes(-1, -2)  # [.., n_seq, d_head] @ [.., d_head, n_seq] -> [.., n_seq, n_seq]
    d_v = pattern.swapaxes(-1, -2) @ d_z  # [.., n_seq, n_seq] @ [.., n_seq, d_head] -> [.., n_seq, d_head]
    d_scores = pattern * (d_pattern - (d_pattern * pattern).sum(axis=-1, keepdims=True))  # softmax's Jacobian
    d_q = (d_scores @ k) * scale  # [.., n_seq, n_seq] @ [.., n_seq, d_head] -> [.., n_seq, d_head]
    d_k = (d_scores.swapaxes(-1, -2) @ q) * scale  # [.., n_seq, n_seq] @ [.., n_seq, d_head] -> [.., n_seq, d_head]
    return d_q, d_k, d_v


def mlp_backward(d_out, h, a, x):
    """Through out = mlp(x): d out -> (d x, d mlp parameters); x: the name of what the MLP read."""
    grads = {}
    d_post, grads["c_proj"] = linear_backward(d_out, a("mlp.post"), h["mlp"]["c_proj"]["w"])  # [.., d_mlp]
    d_pre = gelu_backward(d_post, a("mlp.pre"))  # [n_batch, n_seq, d_mlp]
    d_x, grads["c_fc"] = linear_backward(d_pre, a(x), h["mlp"]["c_fc"]["w"])  # [n_batch, n_seq, n_embd]
    return d_x, grads


def attn_backward(d_out, h, a, x):
    """Through out = attn(x): d out -> (d x, d attention parameters); x: the name of what attention read."""
    n_batch, n_seq, n_embd = d_out.shape
    n_head = a("attn.q").shape[1]
    grads = {}
    z = a("attn.z").transpose(0, 2, 1, 3).reshape(n_batch, n_seq, n_embd)  # heads side by side, as c_proj reads them
    d_z, grads["c_proj"] = linear_backward(d_out, z, h["attn"]["c_proj"]["w"])  # [n_batch, n_seq, n_embd]
    d_z = d_z.reshape(n_batch, n_seq, n_head, n_embd // n_head).transpose(0, 2, 1, 3)  # [.., n_head, n_seq, d_head]
    d_q, d_k, d_v = attention_backward(d_z, a("attn.q"), a("attn.k"), a("attn.v"), a("attn.pattern"))
    d_qkv = np.stack([d_q, d_k, d_v]).transpose(1, 3, 0, 2, 4).reshape(n_batch, n_seq, 3 * n_embd)  # [.., 3*n_embd]
    d_x, grads["c_attn"] = linear_backward(d_qkv, a(x), h["attn"]["c_attn"]["w"])  # [n_batch, n_seq, n_embd]
    return d_x, grads


def block_backward(d_resid_post, h, acts, i):
    """Gradients through block i, pre-LN: d resid_post -> (d resid_pre, d block parameters). acts: forward's
    record."""
    a = lambda name: acts[f"h.{i}.{name}"]  # noqa: E731
    grads = {}
    # resid_post = resid_mid + mlp(ln_2(resid_mid)): the MLP path
    d_ln_2, grads["mlp"] = mlp_backward(d_resid_post, h, a, "ln_2.normalized")  # [n_batch, n_seq, n_embd]
    d_mlp_path, grads["ln_2"] = layer_norm_backward(d_ln_2, a("resid_mid"), h["ln_2"]["g"])
    d_resid_mid = d_resid_post + d_mlp_path  # the residual adds the two paths' gradients: [n_batch, n_seq, n_embd]
    # resid_mid = resid_pre + attn(ln_1(resid_pre)): the attention path
    d_ln_1, grads["attn"] = attn_backward(d_resid_mid, h, a, "ln_1.normalized")
    d_attn_path, grads["ln_1"] = layer_norm_backward(d_ln_1, a("resid_pre"), h["ln_1"]["g"])
    return d_resid_mid + d_attn_path, grads  # [n_batch, n_seq, n_embd]


def post_ln_block_backward(d_out, h, acts, i):
    """Gradients through block i, post-LN: d of its output (ln_2.normalized) -> (d resid_pre, d block
    parameters). acts: forward's record."""
    a = lambda name: acts[f"h.{i}.{name}"]  # noqa: E731
    grads = {}
    # out = ln_2(resid_post), resid_post = n + mlp(n), n = ln_1.normalized: the MLP path
    d_resid_post, grads["ln_2"] = layer_norm_backward(d_out, a("resid_post"), h["ln_2"]["g"])
    d_mlp_path, grads["mlp"] = mlp_backward(d_resid_post, h, a, "ln_1.normalized")
    d_normalized = d_resid_post + d_mlp_path  # n reaches resid_post twice: as it is and through the MLP
    # n = ln_1(resid_mid), resid_mid = resid_pre + attn(resid_pre): the attention path
    d_resid_mid, grads["ln_1"] = layer_norm_backward(d_normalized, a("resid_mid"), h["ln_1"]["g"])
    d_attn_path, grads["attn"] = attn_backward(d_resid_mid, h, a, "resid_pre")
    return d_resid_mid + d_attn_path, grads  # [n_batch, n_seq, n_embd]


def backward(params, acts):
    """Gradients of the mean cross-entropy with respect to every parameter, nested like params."""
    logp, targets, ids = acts["logp"], acts["targets"], acts["ids"]
    n_batch, n_seq = ids.shape
    n_layer = len(params["h"])
    d_logits = np.exp(logp)  # softmax: [n_batch, n_seq, n_vocab]
    np.put_along_axis(d_logits, targets[..., None], np.take_along_axis(d_logits, targets[..., None], -1) - 1, -1)
    d_logits /= n_batch * n_seq  # d(mean of -log p[target]) = (p - onehot) / N
    grads = {}
    post_ln = acts["layer_norm"] == "post"
    d_final = d_logits @ params["wte"]  # through the tied head: [.., n_vocab] @ [n_vocab, n_embd] -> [.., n_embd]
    final = acts[f"h.{n_layer - 1}.ln_2.normalized" if post_ln else "ln_f.normalized"]  # what the head read
    d_wte = d_logits.reshape(-1, d_logits.shape[-1]).T @ final.reshape(-1, d_final.shape[-1])  # [n_vocab, n_embd]
    if post_ln:  # no ln_f: the head read the last block's output
        d_resid = d_final
    else:
        d_resid, grads["ln_f"] = layer_norm_backward(d_final, acts[f"h.{n_layer - 1}.resid_post"], params["ln_f"]["g"])
    grads["h"] = [None] * n_layer
    for i in reversed(range(n_layer)):
        through = post_ln_block_backward if post_ln else block_backward
        d_resid, grads["h"][i] = through(d_resid, params["h"][i], acts, i)
    np.add.at(d_wte, ids, d_resid)  # the embedding lookup: each position's gradient goes back to its token's row
    grads["wte"] = d_wte
    grads["wpe"] = np.zeros_like(params["wpe"])
    grads["wpe"][:n_seq] = d_resid.sum(axis=0)  # [n_seq, n_embd]
    return grads
