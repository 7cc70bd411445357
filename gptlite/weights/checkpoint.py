"""Loading GPT-2 checkpoints from a directory, and gptlite's own converted layout.

Three kinds of directory load:

* A Hugging Face GPT-2 directory, as the hub serves it: `config.json`
  (`vocab_size`, `n_positions`, `n_embd`, `n_head`, `n_layer`),
  `model.safetensors` or else `pytorch_model.bin` (read by `torch_checkpoint`),
  and `vocab.json` + `merges.txt`. Tensor names are
  `wte.weight`, `h.0.attn.c_attn.weight`, ... with or without a `transformer.`
  prefix; the causal-mask buffers `attn.bias` / `attn.masked_bias` and the tied
  `lm_head.weight` are not weights and are skipped. F16 and BF16 are widened to
  float32.
* OpenAI's original release: `hparams.json` (`n_vocab`, `n_ctx`, `n_embd`,
  `n_head`, `n_layer`), the TensorFlow checkpoint `model.ckpt.*` (read by
  `tf_checkpoint`), and `encoder.json` + `vocab.bpe`.
* gptlite's converted layout, one format for every source: `gptlite.json`
  (format, version, config, where it came from), `weights.safetensors`
  (float32, names as in `model.param_shapes`, memory-mapped at load; or
  float16, widened at load, for the bundled model) and
  `encoder.json` + `vocab.bpe`.

Every tensor is checked against the shapes the config implies, so a wrong or
missing tensor is named with its expected and found shape instead of failing
somewhere inside a matrix product.
"""

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..model import Config, param_shapes
from ..releases import GPT2_VOCAB
from ..tokenizer import find_vocab_files
from . import safetensors, tf_checkpoint, torch_checkpoint
from .files import atomic_write

FORMAT, VERSION = "gptlite", 1
META_FILE, WEIGHTS_FILE = "gptlite.json", "weights.safetensors"
# Buffers and tied copies that Hugging Face checkpoints carry besides the weights.
SKIPPED_SUFFIXES = (".attn.bias", ".attn.masked_bias", "lm_head.weight")


def hf_name(name):
    """Hugging Face's tensor name -> gptlite's: "transformer.h.0.ln_1.weight" -> "h.0.ln_1.g"."""
    name = name.removeprefix("transformer.")
    if name in ("wte.weight", "wpe.weight"):
        return name.removesuffix(".weight")
    stem, _, kind = name.rpartition(".")
    is_norm = stem.rpartition(".")[2].startswith("ln_")
    return stem + "." + {"weight": "g" if is_norm else "w", "bias": "b"}.get(kind, kind)


def hf_config(path):
    """Read a Hugging Face GPT-2 `config.json` into a Config, refusing options GPT-2's architecture does not have."""
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    unsupported = {
        "activation_function": ("gelu_new", raw.get("activation_function", "gelu_new")),
        "layer_norm_epsilon": (1e-5, raw.get("layer_norm_epsilon", 1e-5)),
        "n_inner": (None, raw.get("n_inner")),
    }
    for key, (expected, found) in unsupported.items():
        if found != expected:
            raise ValueError(f"{path}: {key}={found!r} is not supported (GPT-2 uses {expected!r})")
    try:
        return Config(
            n_vocab=raw["vocab_size"],
            n_ctx=raw.get("n_positions", raw.get("n_ctx")),
            n_embd=raw["n_embd"],
            n_head=raw["n_head"],
            n_layer=raw["n_layer"],
        )
    except KeyError as e:
        raise ValueError(f"{path}: missing {e.args[0]}") from None


def openai_config(path):
    """Read OpenAI's `hparams.json`; its keys are gptlite's."""
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    try:
        return Config(**{k: raw[k] for k in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")})
    except KeyError as e:
        raise ValueError(f"{path}: missing {e.args[0]}") from None


def check_shapes(tensors, config, source):
    """Raise ValueError naming the first tensor that is missing, unexpected or of the wrong shape."""
    expected = param_shapes(config)
    for name, shape in expected.items():
        if name not in tensors:
            raise ValueError(f"{source}: missing tensor {name} (expected shape {list(shape)})")
        if tuple(tensors[name].shape) != shape:
            raise ValueError(f"{source}: tensor {name} has shape {list(tensors[name].shape)}, expected {list(shape)}")
    for name in tensors:
        if name not in expected:
            raise ValueError(f"{source}: unexpected tensor {name} (not part of GPT-2 with this config)")


def to_float32(tensors):
    """Widen every tensor to float32; float32 tensors are passed through without a copy."""
    return {name: t if t.dtype == np.float32 else t.astype(np.float32) for name, t in tensors.items()}


def from_hf_tensors(tensors):
    """Hugging Face names -> gptlite names, dropping buffers and the tied head."""
    return {hf_name(k): v for k, v in tensors.items() if not k.endswith(SKIPPED_SUFFIXES)}


def is_converted(directory):
    return (Path(directory) / META_FILE).is_file()


def load_dir(directory):
    """Load a checkpoint directory -> (Config, {name: float32 array}, (encoder path, merges path) or None)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: model directory not found")
    if is_converted(directory):
        with open(directory / META_FILE, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError(f"{directory / META_FILE}: not a gptlite v{VERSION} model")
        config = Config(**meta["config"])
        tensors = safetensors.load(directory / WEIGHTS_FILE)
    elif (directory / "config.json").is_file():
        config = hf_config(directory / "config.json")
        if (directory / "model.safetensors").is_file():
            tensors = from_hf_tensors(safetensors.load(directory / "model.safetensors"))
        elif (directory / "pytorch_model.bin").is_file():
            tensors = from_hf_tensors(torch_checkpoint.load(directory / "pytorch_model.bin"))
        else:
            raise FileNotFoundError(f"{directory}: no model.safetensors or pytorch_model.bin")
    elif (directory / "hparams.json").is_file():
        config = openai_config(directory / "hparams.json")
        tensors = tf_checkpoint.load_openai(str(directory / "model.ckpt"))
    else:
        raise FileNotFoundError(
            f"{directory}: not a model directory (no {META_FILE}, Hugging Face config.json or OpenAI hparams.json)"
        )
    tensors = to_float32(tensors)
    check_shapes(tensors, config, directory)
    return config, tensors, vocab_files(directory, config)


def vocab_files(directory, config):
    """The directory's tokenizer files; GPT-2's bundled ones for a 50,257-token model that has none (a
    fine-tune); None for any other model without them (it can still be run on token ids)."""
    try:
        return find_vocab_files(directory)
    except FileNotFoundError:
        return GPT2_VOCAB if config.n_vocab == 50257 else None


def save_converted(directory, config, tensors, vocab, source, dtype=np.float32):
    """Write gptlite's layout. Files are written atomically and gptlite.json last, so a half-written
    directory is never taken for a model. dtype float16 halves the size; loading widens it to float32."""
    check_shapes(tensors, config, source)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / META_FILE).unlink(missing_ok=True)
    for src, name in zip(vocab or (), ("encoder.json", "vocab.bpe")):
        with atomic_write(directory / name) as f, open(src, "rb") as g:
            shutil.copyfileobj(g, f)
    names = param_shapes(config)  # canonical order: embeddings, then block by block
    safetensors.save(directory / WEIGHTS_FILE, {n: np.asarray(tensors[n], dtype) for n in names})
    meta = {"format": FORMAT, "version": VERSION, "config": asdict(config), "source": str(source)}
    with atomic_write(directory / META_FILE, "w") as f:
        json.dump(meta, f, indent=2)
