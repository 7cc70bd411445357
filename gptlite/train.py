"""Training GPT-2 in NumPy: AdamW, a learning-rate schedule, and a resumable training loop.

Sources: Loshchilov & Hutter 2019 ("Decoupled Weight Decay Regularization") for
AdamW; the GPT-3 paper (Brown et al. 2020, Appendix B) for warmup, cosine decay
and clipping at a global norm of 1. The gradients come from `backprop.py`.

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

from .backprop import backward, forward
from .cli import ArgumentParser, at_least, positive, run
from .model import Config, flatten, init_params, nest
from .tokenizer import Tokenizer, find_vocab_files
from .weights import safetensors
from .weights.checkpoint import WEIGHTS_FILE, save_converted
from .weights.files import atomic_write

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


def evaluate(params, tokens, config, batch_size, max_batches=8):
    n_ctx = config.n_ctx
    """Mean cross-entropy (nats per token) over the first max_batches x batch_size windows of held-out tokens."""
    n_windows = min(max_batches * batch_size, (len(tokens) - 1) // n_ctx)
    starts = np.arange(n_windows) * n_ctx
    losses = []
    for i in range(0, n_windows, batch_size):
        window = np.stack([tokens[s : s + n_ctx + 1] for s in starts[i : i + batch_size]]).astype(np.int64)
        losses.append(forward(params, window[:, :-1], window[:, 1:], config)[0])
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
    config = Config(
        n_vocab=tokenizer.n_vocab, n_ctx=args.n_ctx, n_embd=args.n_embd, n_head=args.n_head, n_layer=args.n_layer
    )
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
            loss, acts = forward(params, ids, targets, config)
            grads = flatten(backward(params, acts))
            clip_gradients(grads, args.clip)
            optimizer.step(flat, grads, learning_rate(step, args.lr, args.warmup, args.steps))
            step += 1
            tokens_done += ids.size
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_done / (time.perf_counter() - t0):.0f}")
            bar.update(1)
            if step % args.eval_every == 0 or step == args.steps:
                val = evaluate(params, val_tokens, config, args.batch_size)
                history.append(
                    {
                        "step": step,
                        "train_loss": float(loss),
                        "val_loss": val,
                        "val_bits_per_byte": val / math.log(2) / bytes_per_token,
                    }
                )
                bar.write(
                    f"step {step}: train loss {loss:.3f}, held-out loss {val:.3f} "
                    f"({history[-1]['val_bits_per_byte']:.3f} bits per byte)"
                )
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
    p.add_argument("--n-layer", type=at_least(1), default=4, help="transformer blocks (default: %(default)s)")
    p.add_argument("--n-head", type=at_least(1), default=4, help="attention heads (default: %(default)s)")
    p.add_argument(
        "--n-embd", type=at_least(1), default=256, help="width, divisible by --n-head (default: %(default)s)"
    )
    p.add_argument(
        "--n-ctx", type=at_least(1), default=128, help="training window and context length (default: %(default)s)"
    )
    p.add_argument("--batch-size", type=at_least(1), default=16, help="windows per step (default: %(default)s)")
    p.add_argument("--steps", type=at_least(1), default=2000, help="optimizer steps in all (default: %(default)s)")
    p.add_argument("--lr", type=positive, default=2e-3, help="peak learning rate (default: %(default)s)")
    p.add_argument("--warmup", type=at_least(0), default=100, help="steps of linear warmup (default: %(default)s)")
    p.add_argument(
        "--weight-decay", type=at_least(0.0, float), default=0.1, help="AdamW's decay (default: %(default)s)"
    )
    p.add_argument("--clip", type=positive, default=1.0, help="global gradient norm limit (default: %(default)s)")
    p.add_argument(
        "--eval-every", type=at_least(1), default=100, help="steps between held-out evaluations (default: %(default)s)"
    )
    p.add_argument(
        "--save-every", type=at_least(1), default=100, help="steps between checkpoints (default: %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="initialisation and batch order (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in OUT")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return run("gptlite.train", lambda: train(args))  # Ctrl-C: train() has saved and said how to resume


if __name__ == "__main__":
    sys.exit(main())
