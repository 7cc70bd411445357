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
import numbers
import os
import re
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backprop import backward, forward
from .checks import available_memory
from .cli import ArgumentParser, at_least, positive, run
from .files import atomic_write
from .gpt import GPT
from .model import Config, flatten, init_params, nest
from .progress import progress_bar
from .tokenizer import Tokenizer, find_vocab_files
from .weights import safetensors
from .weights.checkpoint import checkpoint_folder, converted_config, converted_tensors, save_converted

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; two trainings into one OUT are then unguarded
    fcntl = None

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


def evaluate(params, tokens, config, batch_size, n_ctx=None, max_batches=8):
    """Mean cross-entropy (nats per token) over the first max_batches x batch_size windows of n_ctx held-out
    tokens (default: the model's context)."""
    n_ctx = n_ctx or config.n_ctx
    n_windows = min(max_batches * batch_size, (len(tokens) - 1) // n_ctx)
    starts = np.arange(n_windows) * n_ctx
    losses = []
    for i in range(0, n_windows, batch_size):
        window = np.stack([tokens[s : s + n_ctx + 1] for s in starts[i : i + batch_size]]).astype(np.int64)
        losses.append(forward(params, window[:, :-1], window[:, 1:], config)[0])
    return float(np.mean(losses))


def sha256_text(*texts):
    """One sha256 over several texts' UTF-8 bytes, each ended by a NUL (so that the split between them counts)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", errors="surrogatepass") + b"\0")
    return digest.hexdigest()


def vocabulary_sha256(tokenizer):
    """A fingerprint of a tokenizer's vocabulary and merges."""
    symbols = "\n".join(f"{s} {i}" for s, i in sorted(tokenizer.encoder.items(), key=lambda item: item[1]))
    return sha256_text(symbols, "\n".join(f"{a} {b}" for a, b in tokenizer.ranks))


def split_point(text, val_fraction=0.05):
    """Where the held-out part begins: the last val_fraction of the text, from a line break."""
    cut = int(len(text) * (1 - val_fraction))
    return text.rfind("\n", 0, cut) + 1 or cut


def tokens_of(data, tokenizer, val_fraction=0.05):
    """Training data (a text, a text file's path, or token ids) -> (train ids, held-out ids, held-out bytes
    per token or None, fingerprint). Text is cut at a line break; ids at val_fraction."""
    if isinstance(data, (str, os.PathLike)) and not isinstance(data, str) or (isinstance(data, str) and "\n" not in data
                                                                                and os.path.isfile(data)):  # fmt: skip
        data = Path(data).read_text(encoding="utf-8")
    if isinstance(data, str):
        if tokenizer is None:
            raise ValueError("training on text needs a tokenizer")
        cut = split_point(data, val_fraction)
        train = np.array(tokenizer.encode(data[:cut], allowed_special="all"), np.int64)
        val = np.array(tokenizer.encode(data[cut:], allowed_special="all"), np.int64)
        bytes_per_token = len(data[cut:].encode("utf-8")) / max(len(val), 1)
        fingerprint = sha256_text(data)
    else:
        ids = np.asarray(data)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or ids.size < 4:
            raise ValueError("data must be a text, a text file's path, or a list of token ids")
        cut = int(len(ids) * (1 - val_fraction))
        train, val, bytes_per_token = ids[:cut].astype(np.int64), ids[cut:].astype(np.int64), None
        fingerprint = hashlib.sha256(ids.astype("<i8").tobytes()).hexdigest()
    return train, val, bytes_per_token, fingerprint


def check_tokens(train, val, tokenizer, n_ctx):
    """The ids fit the tokenizer, and both parts are longer than a training window."""
    if tokenizer is not None and max(train.max(initial=0), val.max(initial=0)) >= tokenizer.n_vocab:
        raise ValueError(f"the data has token ids beyond the tokenizer's {tokenizer.n_vocab}")
    if min(len(train), len(val)) <= n_ctx + 1:
        raise ValueError(f"the data is too short for n_ctx={n_ctx}: both parts need more tokens than that")


def save_tokens(out_dir, train, val, bytes_per_token, fingerprint):
    """The token files of a run in OUT: train.bin, val.bin (uint16 when the ids fit) and data.json."""
    dtype = np.uint16 if max(train.max(initial=0), val.max(initial=0)) < 1 << 16 else np.uint32
    for name, ids in (("train", train), ("val", val)):
        with atomic_write(out_dir / f"{name}.bin") as f:
            f.write(ids.astype(dtype).tobytes())
    meta = {"dtype": np.dtype(dtype).name, "fingerprint": fingerprint, "bytes_per_token": bytes_per_token,
            "train": {"tokens": len(train)}, "val": {"tokens": len(val)}}  # fmt: skip
    with atomic_write(out_dir / "data.json", "w") as f:
        json.dump(meta, f, indent=2)


def load_tokens(out_dir):
    """(train ids, held-out ids, metadata) of a run in OUT, memory-mapped."""
    with open(out_dir / "data.json", encoding="utf-8") as f:
        meta = json.load(f)
    train, val = (np.memmap(out_dir / f"{name}.bin", dtype=meta["dtype"], mode="r") for name in ("train", "val"))
    return train, val, meta


# ---------------------------------------------------------------- checkpoints
#
# A checkpoint is one folder, OUT/checkpoints/step-NNNNNNNN: the model in gptlite's layout (so that
# GPT.from_pretrained(OUT) loads it), the optimizer's state and train_state.json. It is written whole
# first; then OUT/LATEST, a one-line file replaced atomically, names it: that rename is the moment the
# new checkpoint counts. A crash, a second Ctrl-C or a full disk at any point before it leaves LATEST
# naming the previous checkpoint, complete and untouched; older folders are removed only after it.


def save_checkpoint(out_dir, config, params, optimizer, step, tokenizer, state):
    """Write the checkpoint of `step` aside, then name it in LATEST; `state` is train_state.json's content."""
    name = f"step-{step:08d}"
    current = checkpoint_folder(out_dir)
    if current is not None and current.name == name:
        return  # the same step again (Ctrl-C just after a save): it is already saved
    folder = out_dir / "checkpoints" / name
    shutil.rmtree(folder, ignore_errors=True)  # a leftover of a save that never reached LATEST
    try:
        tokenizer.save(folder)
        save_converted(folder, config, flatten(params), None, source="gptlite.train")
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


def c_order_copies(flat):
    """Writable float32 copies, each in C order whatever order it was loaded in (the converted layout hands
    back some matrices as transposed views): a run resumed from a checkpoint, a run that never stopped and a
    fine-tune multiply the same arrays in the same order, so they add up the same sums."""
    return {name: np.array(array, dtype=np.float32, order="C") for name, array in flat.items()}


def load_checkpoint(out_dir, optimizer):
    """Restore weights (as writable float32 copies) and optimizer state; return (params, train state)."""
    folder = checkpoint_folder(out_dir)
    flat = c_order_copies(converted_tensors(folder))
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


# ---------------------------------------------------------------- one training per OUT
#
# A run holds an exclusive advisory lock (flock) on OUT/.lock from before it reads OUT until it returns; a
# second training into the same OUT, fresh or resuming, is refused at once instead of interleaving its writes
# with the first's. The kernel drops the lock when the process ends, however it ends, so a killed run never
# leaves OUT locked. Holding it, the run may remove what a killed run left behind.

LOCK_FILE = ".lock"
WRITTEN = ("LATEST", "train.bin", "val.bin", "data.json")  # the files of OUT itself, each written by atomic_write


@contextmanager
def exclusive(out):
    """Hold OUT's lock for the duration (creating OUT), or a one-line ValueError while another process holds it."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "a") as f:
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ValueError(
                    f"{out} is in use by another training (it holds {out / LOCK_FILE}): wait for it to end, "
                    "or choose another --out"
                ) from None
        yield


def remove_leftovers(out):
    """Delete what a killed run leaves in OUT: atomic_write's temporary files and checkpoint folders that LATEST
    does not name (a save that never finished). Only names gptlite.train writes are touched."""
    for name in WRITTEN:
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)
    current = checkpoint_folder(out)
    if (out / "checkpoints").is_dir():
        for folder in (out / "checkpoints").iterdir():
            if folder != current and re.fullmatch(r"step-\d{8}", folder.name):
                shutil.rmtree(folder, ignore_errors=True)


def holds_tokens(out, fingerprint):
    """Whether OUT's token files are those of the data with this fingerprint."""
    try:
        with open(out / "data.json", encoding="utf-8") as f:
            return json.load(f).get("fingerprint") == fingerprint
    except (OSError, ValueError, AttributeError):
        return False


# ---------------------------------------------------------------- settings


ARCHITECTURE = {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_ctx": 128}
TRAINING = {"batch_size": 16, "steps": 2000, "lr": 2e-3, "warmup": 100, "weight_decay": 0.1, "clip": 1.0,
            "eval_every": 100, "save_every": 100, "seed": 0}  # fmt: skip
CHANGEABLE = ("steps", "eval_every", "save_every")  # what resuming may change; the rest is the run
LOWEST = {"n_layer": 1, "n_head": 1, "n_embd": 1, "n_ctx": 2, "batch_size": 1, "steps": 1, "warmup": 0,
          "eval_every": 1, "save_every": 1, "seed": 0}  # integers, and their smallest values  # fmt: skip


def check_settings(given):
    """Each setting given is of the right kind and range, or a one-line ValueError naming it."""
    for key, value in given.items():
        if key in LOWEST:
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < LOWEST[key]:
                raise ValueError(f"{key} must be an integer >= {LOWEST[key]}, got {value!r}")
        elif not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{key} must be a number, got {value!r}")
        elif (key == "weight_decay" and value < 0) or (key != "weight_decay" and value <= 0):
            raise ValueError(f"{key} must be {'>= 0' if key == 'weight_decay' else '> 0'}, got {value!r}")
    return {k: int(v) if k in LOWEST else float(v) for k, v in given.items()}


def merge_settings(given, saved, model_config=None):
    """Every setting of the run: the saved ones when resuming (given ones must agree with them, but for
    CHANGEABLE), a fine-tuned model's architecture, else what is given, with the defaults for the rest."""
    if saved is not None:
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
    if model_config is not None:
        fixed = {k: getattr(model_config, k) for k in ("n_layer", "n_head", "n_embd")}
        for key, value in given.items():
            if key in fixed and value != fixed[key]:
                raise ValueError(f"{key}={value} differs from the model being fine-tuned ({key}={fixed[key]})")
        if given.get("n_ctx", 0) > model_config.n_ctx:
            raise ValueError(f"n_ctx={given['n_ctx']} is longer than the model's context of {model_config.n_ctx}")
        return {**TRAINING, **fixed, "n_ctx": model_config.n_ctx, **given}
    return {**ARCHITECTURE, **TRAINING, **given}


def check_memory(config, batch_size, n_ctx):
    """Refuse a run whose activations cannot fit in the memory this machine has free, before it starts (the
    kernel would otherwise kill it without a word). The estimate counts what forward and backward keep."""
    n_tokens = batch_size * n_ctx
    per_layer = 18 * n_tokens * config.n_embd + 3 * batch_size * config.n_head * n_ctx**2  # floats
    needed = 4 * (config.n_layer * per_layer + 4 * n_tokens * config.n_vocab)  # + logits, log-probs, gradients
    available = available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"a step needs about {needed / 2**30:.1f} GiB for activations and {available / 2**30:.1f} GiB "
            "are free: use a smaller --batch-size or --n-ctx"
        )


# ---------------------------------------------------------------- the loop


@dataclass
class Training:
    """What `fit` returns: the trained model and how the training went."""

    gpt: GPT  # the trained model, with its own writable weights
    history: list  # one entry per evaluation: step, train_loss, val_loss, val_bits_per_byte
    losses: list  # the training loss of every step this call ran
    step: int  # steps done in all (a resumed run counts the earlier ones)
    interrupted: bool = False  # stopped by Ctrl-C or a notebook's interrupt; the last checkpoint is kept

    @property
    def val_loss(self) -> float | None:
        """The latest held-out loss (nats per token)."""
        return self.history[-1]["val_loss"] if self.history else None


def fit(data=None, *, model=None, tokenizer=None, out=None, resume=False, quiet=False, n_layer=None, n_head=None,
        n_embd=None, n_ctx=None, batch_size=None, steps=None, lr=None, warmup=None, weight_decay=None, clip=None,
        eval_every=None, save_every=None, seed=None) -> Training:  # fmt: skip
    """Train a GPT-2 from scratch, or fine-tune `model` (a loaded GPT, left as it was: the result is a new one).

    data: a text, a text file's path, or token ids; its last 5% (cut at a line break) is held out. tokenizer:
    a Tokenizer or a directory (default: the model's, else GPT-2's). out: a directory for checkpoints (each
    written whole, then named in OUT/LATEST); with resume=True a run there continues bit for bit with its
    saved settings. The other arguments are the settings (None: the run's, the model's or the defaults of
    ARCHITECTURE and TRAINING). An interrupt (Ctrl-C, or a notebook's stop button) saves, when there is an
    out, and returns what was done so far with `interrupted=True`.
    """
    named = {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd, "n_ctx": n_ctx, "batch_size": batch_size,
             "steps": steps, "lr": lr, "warmup": warmup, "weight_decay": weight_decay, "clip": clip,
             "eval_every": eval_every, "save_every": save_every, "seed": seed}  # fmt: skip
    given = check_settings({k: v for k, v in named.items() if v is not None})
    if resume and out is None:
        raise ValueError("resuming needs the run's directory: pass out")
    if out is None:
        return train_run(data, model, tokenizer, None, resume, quiet, given)
    with exclusive(Path(out)):
        remove_leftovers(Path(out))
        return train_run(data, model, tokenizer, Path(out), resume, quiet, given)


def train_run(data, model, tokenizer, out, resume, quiet, given):
    """fit() once the settings are checked and OUT (if any) is held: the run in OUT resumed or a new one."""
    folder = checkpoint_folder(out) if out is not None else None
    if folder is not None and not resume:
        raise ValueError(f"{out} already holds a training run: resume it (--resume), or choose another --out")
    saved = json.loads((folder / "train_state.json").read_text(encoding="utf-8")) if folder is not None else None
    if model is not None and saved is not None:
        raise ValueError(f"{out} holds a run already: resume it without a model, or fine-tune into another --out")
    if model is not None:
        base = Config(model.config.n_vocab, model.config.n_ctx, model.config.n_embd, model.config.n_head,
                      model.config.n_layer, layer_norm=model.config.layer_norm)  # fmt: skip
        if model.config != base:  # GPT-2's blocks or GPT-1's, with GPT-2's other options
            raise ValueError("fine-tuning supports GPT-2's own architecture (gelu_new, tied head, default scaling)")
    run_settings = merge_settings(given, saved, model.config if model is not None else None)
    s = argparse.Namespace(**run_settings)

    # The tokenizer and the tokens.
    if folder is not None:
        tokenizer = Tokenizer.from_files(*find_vocab_files(folder))
    elif model is not None:
        tokenizer = model.tokenizer
    elif tokenizer is None or isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = Tokenizer.from_pretrained("gpt2" if tokenizer is None else tokenizer)
    if data is None and saved is None:
        raise ValueError("data is needed to start a run (--data; resuming reads it from OUT)")
    fingerprint = None
    if model is not None:
        config = model.config
    elif folder is not None:  # the checkpoint's own: a fine-tune's may be GPT-1's, or longer than its windows
        config = converted_config(folder)
    else:
        config = Config(tokenizer.n_vocab, s.n_ctx, s.n_embd, s.n_head, s.n_layer)
    if data is not None:  # checked whole before anything is written, so that a refused start leaves nothing
        train_ids, val_ids, bytes_per_token, data_sha = tokens_of(data, tokenizer)
        fingerprint = {"data_sha256": data_sha, "tokenizer_sha256": vocabulary_sha256(tokenizer)}
        if saved is not None and fingerprint != saved["data"]:
            raise ValueError(f"{out} was trained on other data or another tokenizer: leave them out to resume it")
        check_tokens(train_ids, val_ids, tokenizer, s.n_ctx)
    check_memory(config, s.batch_size, s.n_ctx)
    if out is not None:
        if saved is None and data is not None and not holds_tokens(out, fingerprint):
            save_tokens(out, train_ids, val_ids, bytes_per_token, fingerprint)  # no run yet: OUT's tokens are ours
        train_ids, val_ids, meta = load_tokens(out)
        if fingerprint is not None and meta.get("fingerprint") != fingerprint:
            raise ValueError(f"{out} holds the tokens of other data: use another --out")
        fingerprint, bytes_per_token = fingerprint or saved["data"], meta["bytes_per_token"]
        check_tokens(train_ids, val_ids, tokenizer, s.n_ctx)

    # The model and the optimizer.
    params = nest(c_order_copies(flatten(model.params))) if model is not None else init_params(config, seed=s.seed)
    optimizer = AdamW(flatten(params), weight_decay=s.weight_decay)
    step, history = 0, []
    if folder is not None:
        params, state = load_checkpoint(out, optimizer)
        step, history = state["step"], state["history"]
    flat = flatten(params)  # views into params: the optimizer updates them in place

    def save():
        if out is not None:
            state = {"history": history, "settings": run_settings, "data": fingerprint}
            save_checkpoint(out, config, params, optimizer, step, tokenizer, state)

    def stop_unless_finite(what, finite):
        if not finite:
            kept = checkpoint_folder(out) if out is not None else None
            raise ValueError(
                f"the training diverged at step {step + 1}: {what} is not finite (a smaller learning rate, --lr, "
                "may help); "
                + (f"the last finite checkpoint, step {int(kept.name[5:])}, is kept" if kept else "nothing was saved")
            )

    losses, interrupted = [], False
    bar = progress_bar(quiet, total=s.steps, initial=step, unit="step", desc="training")
    tokens_done, t0 = 0, time.perf_counter()
    try:
        while step < s.steps:
            ids, targets = batch(train_ids, step, s.seed, s.batch_size, s.n_ctx)
            with np.errstate(over="ignore", invalid="ignore"):  # a divergence is caught below, in one line
                loss, acts = forward(params, ids, targets, config)
                stop_unless_finite("the loss", math.isfinite(loss))
                grads = flatten(backward(params, acts))
                stop_unless_finite("the gradient", math.isfinite(clip_gradients(grads, s.clip)))
                optimizer.step(flat, grads, learning_rate(step, s.lr, s.warmup, s.steps))
                stop_unless_finite("a weight", all(np.isfinite(p).all() for p in flat.values()))
            step += 1
            losses.append(float(loss))
            tokens_done += ids.size
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_done / (time.perf_counter() - t0):.0f}")
            bar.update(1)
            if step % s.eval_every == 0 or step == s.steps:
                val = evaluate(params, val_ids, config, s.batch_size, n_ctx=s.n_ctx)
                bits = val / math.log(2) / bytes_per_token if bytes_per_token else None
                history.append({"step": step, "train_loss": float(loss), "val_loss": val, "val_bits_per_byte": bits})
                if not quiet:
                    shown = f" ({bits:.3f} bits per byte)" if bits else ""
                    bar.write(f"step {step}: train loss {loss:.3f}, held-out loss {val:.3f}{shown}")
            if step % s.save_every == 0 or step == s.steps:
                save()
    except KeyboardInterrupt:
        interrupted = True
        bar.write(f"interrupted at step {step}" + (": saved; resuming continues from here" if out else ""))
        save()
    finally:
        bar.close()
    trained = GPT(config, params, tokenizer, source=str(out) if out is not None else "gptlite.train.fit")
    return Training(trained, history, losses, step, interrupted)


def train(args):
    """The command: fit() with the flags; exit status 130 after an interrupt."""
    given = {k: getattr(args, k) for k in (*ARCHITECTURE, *TRAINING) if getattr(args, k) is not None}
    data = Path(args.data) if args.data is not None else None
    if data is not None and not data.is_file():
        raise FileNotFoundError(f"{data}: no such file")
    result = fit(data, tokenizer=args.tokenizer, out=args.out, resume=args.resume, quiet=args.quiet, **given)
    if result.interrupted:
        raise KeyboardInterrupt


def parser():
    a, t = ARCHITECTURE, TRAINING
    p = ArgumentParser(prog="gptlite.train", description="Train a GPT-2-architecture model in NumPy.")
    p.add_argument("--data", help="a UTF-8 text file (tokenized once into OUT/train.bin, OUT/val.bin)")
    p.add_argument("--tokenizer", help="a directory with encoder.json + vocab.bpe (default: GPT-2's)")
    p.add_argument("--out", required=True, help="where checkpoints go (GPT.from_pretrained(OUT) loads the latest)")
    p.add_argument("--n-layer", type=at_least(1), help=f"transformer blocks (default: {a['n_layer']})")
    p.add_argument("--n-head", type=at_least(1), help=f"attention heads (default: {a['n_head']})")
    p.add_argument("--n-embd", type=at_least(1), help=f"width, divisible by --n-head (default: {a['n_embd']})")
    p.add_argument("--n-ctx", type=at_least(2), help=f"training window and context (default: {a['n_ctx']})")
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
    return run("gptlite.train", lambda: train(args))  # an interrupt: fit() has saved and said how to resume


if __name__ == "__main__":
    sys.exit(main())
