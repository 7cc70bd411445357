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

import argparse
import hashlib
import json
import math
import shutil
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
from .weights.checkpoint import WEIGHTS_FILE, checkpoint_folder, save_converted
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


def sha256_of(*paths):
    """One sha256 over the contents of several files, read in blocks."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def split_point(text, val_fraction=0.05):
    """Where the held-out part begins: the last val_fraction of the text, from a line break."""
    cut = int(len(text) * (1 - val_fraction))
    return text.rfind("\n", 0, cut) + 1 or cut


def prepare_data(text_path, tokenizer, out_dir, fingerprint, val_fraction=0.05):
    """Tokenize a text file into train.bin and val.bin (uint16 when the vocabulary fits), and data.json: their
    dtype, sizes, and the fingerprint of the text and tokenizer they came from."""
    text = Path(text_path).read_text(encoding="utf-8")
    cut = split_point(text, val_fraction)
    dtype = np.uint16 if tokenizer.n_vocab <= 1 << 16 else np.uint32
    stats = {}
    for name, part in (("train", text[:cut]), ("val", text[cut:])):
        ids = np.array(tokenizer.encode(part, allowed_special="all"), dtype=dtype)
        with atomic_write(out_dir / f"{name}.bin") as f:
            f.write(ids.tobytes())
        stats[name] = {"tokens": int(ids.size), "bytes": len(part.encode("utf-8"))}
    with atomic_write(out_dir / "data.json", "w") as f:
        json.dump({"dtype": np.dtype(dtype).name, "fingerprint": fingerprint, **stats}, f, indent=2)


def load_tokens(out_dir, name):
    with open(out_dir / "data.json", encoding="utf-8") as f:
        meta = json.load(f)
    return np.memmap(out_dir / f"{name}.bin", dtype=meta["dtype"], mode="r"), meta


# ---------------------------------------------------------------- checkpoints
#
# A checkpoint is one folder, OUT/checkpoints/step-NNNNNNNN: the model in gptlite's layout (so that
# GPT.from_pretrained(OUT) loads it), the optimizer's state and train_state.json. It is written whole
# first; then OUT/LATEST, a one-line file replaced atomically, names it: that rename is the moment the
# new checkpoint counts. A crash, a second Ctrl-C or a full disk at any point before it leaves LATEST
# naming the previous checkpoint, complete and untouched; older folders are removed only after it.


def save_checkpoint(out_dir, config, params, optimizer, step, vocab, state):
    """Write the checkpoint of `step` aside, then name it in LATEST; `state` is train_state.json's content."""
    name = f"step-{step:08d}"
    current = checkpoint_folder(out_dir)
    if current is not None and current.name == name:
        return  # the same step again (Ctrl-C just after a save): it is already saved
    folder = out_dir / "checkpoints" / name
    shutil.rmtree(folder, ignore_errors=True)  # a leftover of a save that never reached LATEST
    try:
        save_converted(folder, config, flatten(params), vocab, source="gptlite.train")
        moments = {f"m.{k}": v for k, v in optimizer.m.items()} | {f"v.{k}": v for k, v in optimizer.v.items()}
        safetensors.save(folder / "optimizer.safetensors", moments, metadata={"step": step, "t": optimizer.t})
        with atomic_write(folder / "train_state.json", "w") as f:
            json.dump({**state, "step": step}, f, indent=2)
        with atomic_write(out_dir / "LATEST", "w") as f:
            f.write(name + "\n")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # LATEST still names the last complete checkpoint
        raise
    for old in (out_dir / "checkpoints").iterdir():
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(out_dir, optimizer):
    """Restore weights (as writable float32 copies) and optimizer state; return (params, train state)."""
    folder = checkpoint_folder(out_dir)
    flat = {k: np.array(v, dtype=np.float32) for k, v in safetensors.load(folder / WEIGHTS_FILE).items()}
    moments = safetensors.load(folder / "optimizer.safetensors")
    header, _ = safetensors.read_header(folder / "optimizer.safetensors")
    if set(moments) != {f"{m}.{k}" for m in "mv" for k in optimizer.m}:
        raise ValueError(f"{folder}: the optimizer state does not match the model")
    for k in optimizer.m:
        optimizer.m[k], optimizer.v[k] = np.array(moments[f"m.{k}"]), np.array(moments[f"v.{k}"])
    optimizer.t = int(header["__metadata__"]["t"])
    with open(folder / "train_state.json", encoding="utf-8") as f:
        state = json.load(f)
    return nest(flat), state


# ---------------------------------------------------------------- settings


ARCHITECTURE = {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_ctx": 128}
TRAINING = {"batch_size": 16, "steps": 2000, "lr": 2e-3, "warmup": 100, "weight_decay": 0.1, "clip": 1.0,
            "eval_every": 100, "save_every": 100, "seed": 0}  # fmt: skip
CHANGEABLE = ("steps", "eval_every", "save_every")  # what --resume lets a run change; the rest is the run


def settings(args, saved):
    """Every setting of the run: the saved ones when resuming (a flag given again must agree with them,
    but for CHANGEABLE), else the flags, with ARCHITECTURE's and TRAINING's defaults for the rest."""
    given = {k: getattr(args, k) for k in (*ARCHITECTURE, *TRAINING) if getattr(args, k) is not None}
    if saved is None:
        return {**ARCHITECTURE, **TRAINING, **given}
    run_settings = {**saved["settings"]}
    for key, value in given.items():
        if key not in CHANGEABLE and value != run_settings[key]:
            flag = "--" + key.replace("_", "-")
            raise ValueError(
                f"{flag} {value} differs from the run being resumed ({flag} {run_settings[key]}): leave it out "
                "to continue that run, or start a new one in another --out"
            )
        run_settings[key] = value
    return run_settings


def check_memory(config, batch_size):
    """Refuse a run whose activations cannot fit in the memory this machine has free, before it starts (the
    kernel would otherwise kill it without a word). The estimate counts what forward and backward keep."""
    n_tokens = batch_size * config.n_ctx
    per_layer = 18 * n_tokens * config.n_embd + 3 * batch_size * config.n_head * config.n_ctx**2  # floats
    needed = 4 * (config.n_layer * per_layer + 4 * n_tokens * config.n_vocab)  # + logits, log-probs, gradients
    available = available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"a step needs about {needed / 2**30:.1f} GiB for activations and {available / 2**30:.1f} GiB "
            "are free: use a smaller --batch-size or --n-ctx"
        )


def available_memory():
    """Bytes of memory free for a new process (Linux's MemAvailable), or None where that cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def data_fingerprint(data, tokenizer_dir):
    """What the token files are made of: the sha256 of the text and of the tokenizer's files."""
    return {"data_sha256": sha256_of(data), "tokenizer_sha256": sha256_of(*find_vocab_files(tokenizer_dir))}


# ---------------------------------------------------------------- the loop


def train(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = checkpoint_folder(out)
    if folder is not None and not args.resume:
        raise ValueError(f"{out} already holds a training run: pass --resume to continue it, or choose another --out")
    saved = json.loads((folder / "train_state.json").read_text(encoding="utf-8")) if folder is not None else None
    run_settings = settings(args, saved)
    if saved is None and (args.data is None or args.tokenizer is None):
        raise ValueError("--data and --tokenizer are needed to start a run (--resume reads them from OUT)")
    given = args.data is not None and args.tokenizer is not None
    fingerprint = data_fingerprint(args.data, args.tokenizer) if given else saved["data"]
    if saved is not None and fingerprint != saved["data"]:
        raise ValueError(f"{out} was trained on another --data or --tokenizer: leave them out to resume it")
    vocab = find_vocab_files(folder if folder is not None else args.tokenizer)
    tokenizer = Tokenizer.from_files(*vocab)
    if not (out / "data.json").is_file():
        prepare_data(args.data, tokenizer, out, fingerprint)
    train_tokens, meta = load_tokens(out, "train")
    val_tokens, _ = load_tokens(out, "val")
    if meta.get("fingerprint") != fingerprint:
        raise ValueError(f"{out} holds the tokens of another --data or --tokenizer: use another --out")
    config = Config(n_vocab=tokenizer.n_vocab, **{k: run_settings[k] for k in ARCHITECTURE})
    s = argparse.Namespace(**run_settings)
    if min(len(train_tokens), len(val_tokens)) <= config.n_ctx + 1:
        raise ValueError(f"the text is too short for --n-ctx {config.n_ctx}: both parts need more tokens than that")
    check_memory(config, s.batch_size)
    params = init_params(config, seed=s.seed)
    optimizer = AdamW(flatten(params), weight_decay=s.weight_decay)
    step, history = 0, []
    if folder is not None:
        params, state = load_checkpoint(out, optimizer)
        step, history = state["step"], state["history"]
    flat = flatten(params)  # views into params: the optimizer updates them in place
    bytes_per_token = meta["val"]["bytes"] / meta["val"]["tokens"]

    def save():
        state = {"history": history, "settings": run_settings, "data": fingerprint}
        save_checkpoint(out, config, params, optimizer, step, vocab, state)

    bar = tqdm(total=s.steps, initial=step, unit="step", dynamic_ncols=True, disable=args.quiet)
    tokens_done, t0 = 0, time.perf_counter()
    try:
        while step < s.steps:
            ids, targets = batch(train_tokens, step, s.seed, s.batch_size, s.n_ctx)
            loss, acts = forward(params, ids, targets, config)
            grads = flatten(backward(params, acts))
            clip_gradients(grads, s.clip)
            optimizer.step(flat, grads, learning_rate(step, s.lr, s.warmup, s.steps))
            step += 1
            tokens_done += ids.size
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_done / (time.perf_counter() - t0):.0f}")
            bar.update(1)
            if step % s.eval_every == 0 or step == s.steps:
                val = evaluate(params, val_tokens, config, s.batch_size)
                bits = val / math.log(2) / bytes_per_token
                history.append({"step": step, "train_loss": float(loss), "val_loss": val, "val_bits_per_byte": bits})
                bar.write(f"step {step}: train loss {loss:.3f}, held-out loss {val:.3f} ({bits:.3f} bits per byte)")
            if step % s.save_every == 0 or step == s.steps:
                save()
    except KeyboardInterrupt:
        bar.write(f"interrupted at step {step}: saving; --resume continues from here")
        save()
        raise
    finally:
        bar.close()
    return history


def parser():
    a, t = ARCHITECTURE, TRAINING
    p = ArgumentParser(prog="gptlite.train", description="Train a GPT-2-architecture model in NumPy.")
    p.add_argument("--data", help="a UTF-8 text file (tokenized once into OUT/train.bin, OUT/val.bin)")
    p.add_argument("--tokenizer", help="a directory with encoder.json + vocab.bpe")
    p.add_argument("--out", required=True, help="where checkpoints go (GPT.from_pretrained(OUT) loads the latest)")
    p.add_argument("--n-layer", type=at_least(1), help=f"transformer blocks (default: {a['n_layer']})")
    p.add_argument("--n-head", type=at_least(1), help=f"attention heads (default: {a['n_head']})")
    p.add_argument("--n-embd", type=at_least(1), help=f"width, divisible by --n-head (default: {a['n_embd']})")
    p.add_argument("--n-ctx", type=at_least(1), help=f"training window and context (default: {a['n_ctx']})")
    p.add_argument("--batch-size", type=at_least(1), help=f"windows per step (default: {t['batch_size']})")
    p.add_argument("--steps", type=at_least(1), help=f"optimizer steps in all (default: {t['steps']})")
    p.add_argument("--lr", type=positive, help=f"peak learning rate (default: {t['lr']})")
    p.add_argument("--warmup", type=at_least(0), help=f"steps of linear warmup (default: {t['warmup']})")
    p.add_argument("--weight-decay", type=at_least(0.0, float), help=f"AdamW's decay (default: {t['weight_decay']})")
    p.add_argument("--clip", type=positive, help=f"global gradient norm limit (default: {t['clip']})")
    p.add_argument("--eval-every", type=at_least(1), help=f"steps between evaluations (default: {t['eval_every']})")
    p.add_argument("--save-every", type=at_least(1), help=f"steps between checkpoints (default: {t['save_every']})")
    p.add_argument("--seed", type=at_least(0), help=f"initialisation and batch order (default: {t['seed']})")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT, with its saved settings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return run("gptlite.train", lambda: train(args))  # Ctrl-C: train() has saved and said how to resume


if __name__ == "__main__":
    sys.exit(main())
