"""Training GPT-2 in NumPy: the backward pass written out, AdamW, and a resumable training loop.

Sources: the GPT-2 paper and openai/gpt-2 `src/model.py` for the forward pass (the
same layer functions as `model.py`, here recording what the backward pass needs);
Loshchilov & Hutter 2019 ("Decoupled Weight Decay Regularization") for AdamW;
the chain rule for everything else.

Training minimises the cross-entropy of predicting token t+1 from tokens <= t:

    loss = mean over positions of  -log softmax(logits)[next token]

`forward` computes it and keeps the activations; `backward` walks the layers in
reverse and returns a gradient for every parameter, in the same nested layout as
the parameters. Each `*_backward` function takes the gradient of the loss with
respect to a layer's output and returns the gradients with respect to its inputs.

The loop (`python -m gptlite.train`): seeded random windows of a token file,
warmup then cosine learning rate, gradient clipping, AdamW, held-out evaluation
every N steps, and checkpoints in gptlite's layout (loadable by
`GPT.from_pretrained`) plus the optimizer state, so `--resume` continues exactly
where Ctrl-C or a crash stopped it: bit for bit the run that was never stopped.
"""

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import safetensors
from .checkpoint import WEIGHTS_FILE, save_converted
from .files import atomic_write
from .cli import ArgumentParser, run
from .model import Config, attention_mask, flatten, gelu, init_params, layer_norm, linear, lm_head, nest, softmax
from .tokenizer import Tokenizer, find_vocab_files

# ---------------------------------------------------------------- forward, keeping activations


def attention_forward(q, k, v, mask):
    """Causal attention over a whole sequence; returns the output and the attention probabilities."""
    scores = (q * (1 / math.sqrt(q.shape[-1]))) @ k.swapaxes(-1, -2)  # [B, H, T, D] @ [B, H, D, T] -> [B, H, T, T]
    probs = softmax(scores + mask)  # [B, H, T, T], rows sum to 1 over the visible keys
    return probs @ v, probs  # [B, H, T, T] @ [B, H, T, D] -> [B, H, T, D]


def block_forward(x, h, n_head, mask):
    """One block, as model.block computes it, returning (output, activations for the backward pass)."""
    B, T, C = x.shape
    a = {"x": x}
    a["ln_1"] = layer_norm(x, **h["ln_1"])  # [B, T, C]
    qkv = linear(a["ln_1"], **h["attn"]["c_attn"])  # [B, T, C] -> [B, T, 3C]
    a["q"], a["k"], a["v"] = qkv.reshape(B, T, 3, n_head, C // n_head).transpose(2, 0, 3, 1, 4)  # 3 x [B, H, T, D]
    y, a["probs"] = attention_forward(a["q"], a["k"], a["v"], mask)  # [B, H, T, D], [B, H, T, T]
    a["y"] = y.transpose(0, 2, 1, 3).reshape(B, T, C)  # heads side by side: [B, T, C]
    x = x + linear(a["y"], **h["attn"]["c_proj"])  # [B, T, C]
    a["x2"] = x
    a["ln_2"] = layer_norm(x, **h["ln_2"])  # [B, T, C]
    a["fc"] = linear(a["ln_2"], **h["mlp"]["c_fc"])  # [B, T, C] -> [B, T, 4C]
    a["gelu"] = gelu(a["fc"])  # [B, T, 4C]
    x = x + linear(a["gelu"], **h["mlp"]["c_proj"])  # [B, T, 4C] -> [B, T, C]
    return x, a


def forward(params, ids, targets, n_head):
    """Mean cross-entropy of predicting targets [B, T] from ids [B, T]; returns (loss, activations)."""
    B, T = ids.shape
    mask = attention_mask(np.ones((B, T), bool), T)  # [B, 1, T, T]
    x = params["wte"][ids] + params["wpe"][:T]  # [B, T] -> [B, T, C]
    acts = []
    for h in params["h"]:
        x, a = block_forward(x, h, n_head, mask)
        acts.append(a)
    xf = layer_norm(x, **params["ln_f"])  # [B, T, C]
    logits = lm_head(xf, params["wte"])  # [B, T, C] -> [B, T, V]
    logp = logits - logits.max(axis=-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=-1, keepdims=True))  # log softmax: [B, T, V]
    loss = -np.take_along_axis(logp, targets[..., None], axis=-1).mean()
    return loss, {"ids": ids, "targets": targets, "blocks": acts, "x": x, "xf": xf, "logp": logp}


# ---------------------------------------------------------------- backward, layer by layer


def linear_backward(dout, x, w):
    """y = x @ w + b  =>  dx = dy @ w.T, dw = x.T @ dy, db = sum of dy (over every position)."""
    dx = dout @ w.T  # [..., n_out] @ [n_out, n_in] -> [..., n_in]
    x2, d2 = x.reshape(-1, x.shape[-1]), dout.reshape(-1, dout.shape[-1])  # [N, n_in], [N, n_out]
    return dx, {"w": x2.T @ d2, "b": d2.sum(axis=0)}  # [n_in, n_out], [n_out]


def layer_norm_backward(dout, x, g, eps=1e-5):
    """y = g * xhat + b with xhat = (x - mean) / std. The mean and std depend on every x, hence the two means."""
    mean = x.mean(axis=-1, keepdims=True)  # [..., 1]
    rstd = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)  # [..., 1]
    xhat = (x - mean) * rstd  # [..., C]
    dxhat = dout * g  # [..., C]
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    flat = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731
    return dx, {"g": (flat(dout) * flat(xhat)).sum(axis=0), "b": flat(dout).sum(axis=0)}  # [..., C], [C], [C]


def gelu_backward(dout, x):
    """d/dx of 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)."""
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x * x * x))
    return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))  # shape unchanged


def attention_backward(dy, q, k, v, probs):
    """Through y = P v, P = softmax(S), S = q k^T / sqrt(D) (+ mask, which has no gradient)."""
    scale = 1 / math.sqrt(q.shape[-1])
    dprobs = dy @ v.swapaxes(-1, -2)  # [B, H, T, D] @ [B, H, D, T] -> [B, H, T, T]
    dv = probs.swapaxes(-1, -2) @ dy  # [B, H, T, T] @ [B, H, T, D] -> [B, H, T, D]
    dscores = probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))  # softmax's Jacobian: [B, H, T, T]
    dq = (dscores @ k) * scale  # [B, H, T, T] @ [B, H, T, D] -> [B, H, T, D]
    dk = (dscores.swapaxes(-1, -2) @ q) * scale  # [B, H, T, T] @ [B, H, T, D] -> [B, H, T, D]
    return dq, dk, dv


def block_backward(dx, h, a, n_head):
    """Gradients through one block: returns (d input, d block parameters)."""
    B, T, C = dx.shape
    grads = {"attn": {}, "mlp": {}}
    d_gelu, grads["mlp"]["c_proj"] = linear_backward(dx, a["gelu"], h["mlp"]["c_proj"]["w"])  # [B, T, 4C]
    d_fc = gelu_backward(d_gelu, a["fc"])  # [B, T, 4C]
    d_ln2, grads["mlp"]["c_fc"] = linear_backward(d_fc, a["ln_2"], h["mlp"]["c_fc"]["w"])  # [B, T, C]
    d_x2, grads["ln_2"] = layer_norm_backward(d_ln2, a["x2"], h["ln_2"]["g"])
    dx = dx + d_x2  # the residual adds the two paths' gradients: [B, T, C]
    d_y, grads["attn"]["c_proj"] = linear_backward(dx, a["y"], h["attn"]["c_proj"]["w"])  # [B, T, C]
    d_y = d_y.reshape(B, T, n_head, C // n_head).transpose(0, 2, 1, 3)  # [B, H, T, D]
    dq, dk, dv = attention_backward(d_y, a["q"], a["k"], a["v"], a["probs"])  # 3 x [B, H, T, D]
    d_qkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(B, T, 3 * C)  # [B, T, 3C]
    d_ln1, grads["attn"]["c_attn"] = linear_backward(d_qkv, a["ln_1"], h["attn"]["c_attn"]["w"])  # [B, T, C]
    d_x, grads["ln_1"] = layer_norm_backward(d_ln1, a["x"], h["ln_1"]["g"])
    return dx + d_x, grads


def backward(params, acts, n_head):
    """Gradients of the mean cross-entropy with respect to every parameter, nested like params."""
    logp, targets, ids = acts["logp"], acts["targets"], acts["ids"]
    B, T = ids.shape
    dlogits = np.exp(logp)  # softmax: [B, T, V]
    np.put_along_axis(dlogits, targets[..., None], np.take_along_axis(dlogits, targets[..., None], -1) - 1, -1)
    dlogits /= B * T  # d(mean of -log p[target]) = (p - onehot) / N
    grads = {}
    dxf = dlogits @ params["wte"]  # through the tied head: [B, T, V] @ [V, C] -> [B, T, C]
    dwte = dlogits.reshape(-1, dlogits.shape[-1]).T @ acts["xf"].reshape(-1, acts["xf"].shape[-1])  # [V, C]
    dx, grads["ln_f"] = layer_norm_backward(dxf, acts["x"], params["ln_f"]["g"])
    grads["h"] = [None] * len(params["h"])
    for i in reversed(range(len(params["h"]))):
        dx, grads["h"][i] = block_backward(dx, params["h"][i], acts["blocks"][i], n_head)
    np.add.at(dwte, ids, dx)  # the embedding lookup: each row's gradient goes back to its token
    grads["wte"] = dwte
    grads["wpe"] = np.zeros_like(params["wpe"])
    grads["wpe"][:T] = dx.sum(axis=0)  # [T, C]
    return grads


# ---------------------------------------------------------------- optimizer and schedule


def learning_rate(step, max_lr, warmup, total, min_ratio=0.1):
    """Linear warmup to max_lr, then a cosine decay to min_ratio * max_lr at the last step."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return max_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


class AdamW:
    """Adam with decoupled weight decay, applied to matrices only (not to biases and layer-norm gains)."""

    def __init__(self, flat_params, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8):
        self.m = {k: np.zeros_like(v) for k, v in flat_params.items()}  # first moment
        self.v = {k: np.zeros_like(v) for k, v in flat_params.items()}  # second moment
        self.t = 0  # steps taken
        self.weight_decay, self.betas, self.eps = weight_decay, betas, eps

    def step(self, flat_params, flat_grads, lr):
        self.t += 1
        b1, b2 = self.betas
        for k, p in flat_params.items():
            g = flat_grads[k]
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1**self.t)
            v_hat = self.v[k] / (1 - b2**self.t)
            if p.ndim >= 2:
                p -= lr * self.weight_decay * p  # decoupled: shrink the weight itself, not its gradient
            p -= lr * m_hat / (np.sqrt(v_hat) + self.eps)


def clip_gradients(flat_grads, max_norm):
    """Scale all gradients down together if their global L2 norm exceeds max_norm; return the norm."""
    norm = math.sqrt(sum(float((g * g).sum()) for g in flat_grads.values()))
    if norm > max_norm:
        for g in flat_grads.values():
            g *= max_norm / norm
    return norm


# ---------------------------------------------------------------- data


def batch(tokens, step, seed, batch_size, n_ctx):
    """Random windows of a token array, chosen by (seed, step) alone, so a resumed run sees the same batches."""
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, len(tokens) - n_ctx - 1, batch_size)
    window = np.stack([tokens[s : s + n_ctx + 1] for s in starts]).astype(np.int64)  # [B, T + 1]
    return window[:, :-1], window[:, 1:]  # inputs and the tokens that follow them


def evaluate(params, tokens, n_head, n_ctx, batch_size, max_batches=8):
    """Mean cross-entropy (nats per token) over the first max_batches x batch_size windows of held-out tokens."""
    n_windows = min(max_batches * batch_size, (len(tokens) - 1) // n_ctx)
    starts = np.arange(n_windows) * n_ctx
    losses = []
    for i in range(0, n_windows, batch_size):
        window = np.stack([tokens[s : s + n_ctx + 1] for s in starts[i : i + batch_size]]).astype(np.int64)
        losses.append(forward(params, window[:, :-1], window[:, 1:], n_head)[0])
    return float(np.mean(losses))


def prepare_data(text_path, tokenizer, out_dir, val_fraction=0.05):
    """Tokenize a text file into train.bin and val.bin (uint16 when the vocabulary fits); return the val text's
    bytes per token (for bits per byte)."""
    text = Path(text_path).read_text(encoding="utf-8")
    cut = int(len(text) * (1 - val_fraction))
    cut = text.rfind("\n", 0, cut) + 1 or cut  # split at a line break
    dtype = np.uint16 if tokenizer.n_vocab <= 1 << 16 else np.uint32
    stats = {}
    for name, part in (("train", text[:cut]), ("val", text[cut:])):
        ids = np.array(tokenizer.encode(part, allowed_special="all"), dtype=dtype)
        with atomic_write(out_dir / f"{name}.bin") as f:
            f.write(ids.tobytes())
        stats[name] = {"tokens": int(ids.size), "bytes": len(part.encode("utf-8"))}
    with atomic_write(out_dir / "data.json", "w") as f:
        json.dump({"dtype": np.dtype(dtype).name, **stats}, f, indent=2)


def load_tokens(out_dir, name):
    with open(out_dir / "data.json", encoding="utf-8") as f:
        meta = json.load(f)
    return np.memmap(out_dir / f"{name}.bin", dtype=meta["dtype"], mode="r"), meta


# ---------------------------------------------------------------- checkpoints


def save_checkpoint(out_dir, config, params, optimizer, step, vocab, history):
    """Weights in gptlite's layout (gptlite.json last), then the optimizer state; both written atomically."""
    save_converted(out_dir, config, flatten(params), vocab, source="gptlite.train")
    state = {f"m.{k}": v for k, v in optimizer.m.items()} | {f"v.{k}": v for k, v in optimizer.v.items()}
    safetensors.save(out_dir / "optimizer.safetensors", state, metadata={"step": step, "t": optimizer.t})
    with atomic_write(out_dir / "train_state.json", "w") as f:
        json.dump({"step": step, "history": history}, f, indent=2)


def load_checkpoint(out_dir, optimizer):
    """Restore weights (as writable float32 copies) and optimizer state; return (params, step, history)."""
    flat = {k: np.array(v, dtype=np.float32) for k, v in safetensors.load(out_dir / WEIGHTS_FILE).items()}
    state = safetensors.load(out_dir / "optimizer.safetensors")
    header, _ = safetensors.read_header(out_dir / "optimizer.safetensors")
    for k in optimizer.m:
        optimizer.m[k], optimizer.v[k] = np.array(state[f"m.{k}"]), np.array(state[f"v.{k}"])
    optimizer.t = int(header["__metadata__"]["t"])
    with open(out_dir / "train_state.json", encoding="utf-8") as f:
        meta = json.load(f)
    return nest(flat), meta["step"], meta["history"]


# ---------------------------------------------------------------- the loop


def train(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vocab = find_vocab_files(args.tokenizer)
    tokenizer = Tokenizer.from_files(*vocab)
    if not (out / "data.json").is_file():
        prepare_data(args.data, tokenizer, out)
    train_tokens, meta = load_tokens(out, "train")
    val_tokens, _ = load_tokens(out, "val")
    config = Config(n_vocab=tokenizer.n_vocab, n_ctx=args.n_ctx, n_embd=args.n_embd,
                    n_head=args.n_head, n_layer=args.n_layer)  # fmt: skip
    params = init_params(config, seed=args.seed)
    optimizer = AdamW(flatten(params), weight_decay=args.weight_decay)
    step, history = 0, []
    if args.resume and (out / "train_state.json").is_file():
        params, step, history = load_checkpoint(out, optimizer)
    flat = flatten(params)  # views into params: the optimizer updates them in place
    bytes_per_token = meta["val"]["bytes"] / meta["val"]["tokens"]
    bar = tqdm(total=args.steps, initial=step, unit="step", dynamic_ncols=True, disable=args.quiet)
    tokens_done, t0 = 0, time.perf_counter()
    try:
        while step < args.steps:
            ids, targets = batch(train_tokens, step, args.seed, args.batch_size, args.n_ctx)
            loss, acts = forward(params, ids, targets, config.n_head)
            grads = flatten(backward(params, acts, config.n_head))
            clip_gradients(grads, args.clip)
            optimizer.step(flat, grads, learning_rate(step, args.lr, args.warmup, args.steps))
            step += 1
            tokens_done += ids.size
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_done / (time.perf_counter() - t0):.0f}")
            bar.update(1)
            if step % args.eval_every == 0 or step == args.steps:
                val = evaluate(params, val_tokens, config.n_head, config.n_ctx, args.batch_size)
                history.append({"step": step, "train_loss": float(loss), "val_loss": val,
                                "val_bits_per_byte": val / math.log(2) / bytes_per_token})  # fmt: skip
                bar.write(f"step {step}: train loss {loss:.3f}, held-out loss {val:.3f} "
                          f"({history[-1]['val_bits_per_byte']:.3f} bits per byte)")  # fmt: skip
            if step % args.save_every == 0 or step == args.steps:
                save_checkpoint(out, config, params, optimizer, step, vocab, history)
    except KeyboardInterrupt:
        bar.write(f"interrupted at step {step}: saving; --resume continues from here")
        save_checkpoint(out, config, params, optimizer, step, vocab, history)
        raise
    finally:
        bar.close()
    return history


def parser():
    p = ArgumentParser(prog="gptlite.train", description="Train a GPT-2-architecture model in NumPy.")
    p.add_argument("--data", required=True, help="a UTF-8 text file (tokenized once into OUT/train.bin, OUT/val.bin)")
    p.add_argument("--tokenizer", required=True, help="a directory with encoder.json + vocab.bpe")
    p.add_argument("--out", required=True, help="where checkpoints go (gptlite's layout + optimizer state)")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--n-ctx", type=int, default=128, help="training window and context length")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    p.add_argument("--warmup", type=int, default=100, help="steps of linear warmup")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0, help="global gradient norm limit")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in OUT")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return run("gptlite.train", lambda: train(args))  # Ctrl-C: train() has saved and said how to resume


if __name__ == "__main__":
    sys.exit(main())
