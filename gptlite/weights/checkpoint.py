"""Loading GPT-2 (and GPT-1) checkpoints from a directory, and gptlite's own converted layout.

Three kinds of directory load:

* A Hugging Face GPT-2 directory, as the hub serves it: `config.json`
  (`vocab_size`, `n_positions`, `n_embd`, `n_head`, `n_layer`),
  `model.safetensors` or else `pytorch_model.bin` (read by `torch_checkpoint`),
  and `vocab.json` + `merges.txt`. Tensor names are
  `wte.weight`, `h.0.attn.c_attn.weight`, ... with or without a `transformer.`
  prefix; the causal-mask buffers `attn.bias` / `attn.masked_bias` and the tied
  `lm_head.weight` are not weights and are skipped. F16 and BF16 are widened to
  float32.
  GPT-1 (`openai-community/openai-gpt`) comes in the same layout, with `model_type`
  "openai-gpt" in its config (`vocab_size`, `n_positions`, `n_embd`, `n_head`,
  `n_layer`, `afn`, `layer_norm_epsilon`: transformers' `OpenAIGPTConfig`), the
  embeddings named `tokens_embed` and `positions_embed`, no `ln_f`, and GPT-1's
  vocabulary files (`gpt1_tokenizer.py`): it loads as a post-LN model.
* OpenAI's original release: `hparams.json` (`n_vocab`, `n_ctx`, `n_embd`,
  `n_head`, `n_layer`), the TensorFlow checkpoint `model.ckpt.*` (read by
  `tf_checkpoint`), and `encoder.json` + `vocab.bpe`.
* gptlite's converted layout, one format for every source: `gptlite.json`
  (format, version, config, where it came from), `weights.safetensors`
  (float32, names as in `model.param_shapes`, memory-mapped at load; or
  float16, widened at load, for the bundled model) and
  `encoder.json` + `vocab.bpe`. Each matrix is stored in the order its
  product `x @ m` streams fastest, which depends on how wide the output is
  (`transposed_on_disk`): the matrices with wide outputs (the head, `c_attn`,
  `c_fc`) as [n_in, n_out], those with narrow ones (both `c_proj`, whose
  outputs are n_embd wide) as [n_out, n_in]. Where that is the transpose of
  gptlite's shape for the tensor (the head is [n_vocab, n_embd]; `w` is
  [n_in, n_out]) `gptlite.json` lists it in `"stored_transposed"`, and loading
  hands back the transpose of what the file holds: a view of the same bytes,
  so the shapes are gptlite's as ever, only the strides differ, and nothing is
  copied. OpenBLAS picks its kernel by that order. On an AMD EPYC Zen 2 with
  two threads, one row times a matrix ran:
  * the head 1.05x to 1.4x faster as [n_embd, n_vocab] than as [n_vocab, n_embd]
    (version 2);
  * `mlp.c_proj` [3072, 768] 1.2x to 1.8x faster and `attn.c_proj` [768, 768]
    1.1x to 1.5x faster as [n_out, n_in] (version 3). `c_attn` and `c_fc` run
    1.0x to 1.1x slower that way, so they are not stored so.
  gpt2's whole decode step ran 1.16x faster (README, "Beside llama.cpp").
  Batches of 2 to 512 rows gain 1.0x to 1.2x through the `c_proj` order too.
  Versions 1 (everything stored as named) and 2 (only the head transposed)
  still load. A `stored_transposed` other than the one its version writes is
  refused: the shapes cannot tell a square `attn.c_proj` stored one way from
  the other.

Every tensor is checked against the shapes the config implies, so a wrong or
missing tensor is named with its expected and found shape instead of failing
somewhere inside a matrix product.
"""

import json
import math
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..model import ACTIVATIONS, Config, param_shapes
from ..releases import GPT2_VOCAB
from ..vocab import find_vocab_files
from . import safetensors, tf_checkpoint, torch_checkpoint

FORMAT, VERSION, READABLE_VERSIONS = "gptlite", 3, (1, 2, 3)
# What each version's `stored_transposed` lists (`check_stored_transposed`).
STORED_TRANSPOSED = {1: "nothing", 2: "the head alone", 3: "the head and every block's c_proj.w"}
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


def read_json_object(path):
    """A JSON file that must hold an object; anything else is a one-line ValueError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (ValueError, RecursionError) as e:  # bad UTF-8, bad JSON, or an integer of more than 4,300 digits
        raise ValueError(f"{path}: not valid JSON ({str(e)[:100]})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(raw).__name__}")
    return raw


# What each field of a config file must hold, checked before any is used (a list where a string belongs would
# otherwise surface as a TypeError deep inside). Ranges are Config's to check; LARGEST bounds every number so
# that no message quotes a thousand digits and no shape is computed from one.
INTEGER, OPTIONAL_INTEGER, NUMBER, TEXT, BOOLEAN = (
    "an integer", "null or an integer", "a finite number", "a string", "true or false"
)  # fmt: skip
LARGEST = 2**31 - 1
HF_KINDS = {"model_type": TEXT, "add_cross_attention": BOOLEAN, "activation_function": TEXT, "vocab_size": INTEGER,
            "n_positions": INTEGER, "n_ctx": INTEGER, "n_embd": INTEGER, "n_head": INTEGER, "n_layer": INTEGER,
            "n_inner": OPTIONAL_INTEGER, "layer_norm_epsilon": NUMBER, "scale_attn_weights": BOOLEAN,
            "scale_attn_by_inverse_layer_idx": BOOLEAN, "tie_word_embeddings": BOOLEAN}  # fmt: skip
GPT1_KINDS = {"vocab_size": INTEGER, "n_positions": INTEGER, "n_embd": INTEGER, "n_head": INTEGER, "n_layer": INTEGER,
              "afn": TEXT, "layer_norm_epsilon": NUMBER, "tie_word_embeddings": BOOLEAN}  # fmt: skip
OPENAI_KINDS = {k: INTEGER for k in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")}
CONVERTED_KINDS = {**OPENAI_KINDS, "n_inner": OPTIONAL_INTEGER, "activation": TEXT, "layer_norm_epsilon": NUMBER,
                   "scale_attn_weights": BOOLEAN, "scale_attn_by_inverse_layer_idx": BOOLEAN,
                   "tie_word_embeddings": BOOLEAN, "layer_norm": TEXT}  # fmt: skip
# OpenAIGPTConfig's `afn` -> gptlite's activation: transformers' GPT-1 computes "gelu" in the tanh form (gelu_new).
GPT1_ACTIVATIONS = {"gelu": "gelu_new", "relu": "relu", "silu": "silu", "swish": "silu"}
# GPT-1's tensor names for the embeddings -> GPT-2's, which the rest of the model's names already are.
GPT1_NAMES = {"tokens_embed.weight": "wte.weight", "positions_embed.weight": "wpe.weight"}


def is_kind(value, kind):
    """Whether a JSON value is of one of the kinds above (a bool is no number; NaN and infinities are none)."""
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind == TEXT:
        return isinstance(value, str)
    if value is None:
        return kind == OPTIONAL_INTEGER
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind == NUMBER:
        return (isinstance(value, int) or math.isfinite(value)) and abs(value) <= LARGEST
    return isinstance(value, int) and abs(value) <= LARGEST


def check_kinds(raw, kinds, path):
    """Each field of `kinds` that `raw` holds is of its kind, or a one-line ValueError naming file and field."""
    for key, kind in kinds.items():
        if key in raw and not is_kind(raw[key], kind):
            shown = repr(raw[key])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            bound = f" of at most {LARGEST}" if kind in (INTEGER, OPTIONAL_INTEGER, NUMBER) else ""
            raise ValueError(f"{path}: {key} must be {kind}{bound}, got {shown}")


def hf_config(path):
    """Read a Hugging Face GPT-2 `config.json` into a Config.

    Every `GPT2Config` field that changes the computation is either computed as transformers computes it
    (`activation_function`, `n_inner`, `layer_norm_epsilon`, `scale_attn_weights`,
    `scale_attn_by_inverse_layer_idx`, `tie_word_embeddings`; `reorder_and_upcast_attn` only changes the
    precision of a half-precision model, and gptlite computes in float32 anyway) or refused in one line.
    """
    raw = read_json_object(path)
    if raw.get("model_type") == "openai-gpt":
        return gpt1_config(raw, path)
    check_kinds(raw, HF_KINDS, path)
    if raw.get("model_type", "gpt2") != "gpt2":
        raise ValueError(f"{path}: model_type {str(raw['model_type'])[:40]!r} is not GPT-2")
    if raw.get("add_cross_attention"):
        raise ValueError(f"{path}: add_cross_attention=true (an encoder-decoder model) is not supported")
    activation = raw.get("activation_function", "gelu_new")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{path}: activation_function={str(activation)[:40]!r} is not supported "
            f"(gptlite has {', '.join(ACTIVATIONS)})"
        )
    try:
        return Config(
            n_vocab=raw["vocab_size"],
            n_ctx=raw.get("n_positions", raw.get("n_ctx")),
            n_embd=raw["n_embd"],
            n_head=raw["n_head"],
            n_layer=raw["n_layer"],
            n_inner=raw.get("n_inner"),
            activation=activation,
            layer_norm_epsilon=raw.get("layer_norm_epsilon", 1e-5),
            scale_attn_weights=raw.get("scale_attn_weights", True),
            scale_attn_by_inverse_layer_idx=raw.get("scale_attn_by_inverse_layer_idx", False),
            tie_word_embeddings=raw.get("tie_word_embeddings", True),
        )
    except KeyError as e:
        raise ValueError(f"{path}: missing {e.args[0]}") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def gpt1_config(raw, path):
    """A Hugging Face GPT-1 `config.json` (model_type "openai-gpt", already read into `raw`) -> a post-LN Config.

    transformers' `OpenAIGPTModel` fixes what GPT2Config makes optional: the MLP is 4 * n_embd wide, scores
    are divided by sqrt(d_head), and there is no final layer norm; `afn` is its activation (GPT1_ACTIVATIONS)."""
    check_kinds(raw, GPT1_KINDS, path)
    afn = raw.get("afn", "gelu")
    if afn not in GPT1_ACTIVATIONS:
        raise ValueError(f"{path}: afn={afn[:40]!r} is not supported (GPT-1's are {', '.join(GPT1_ACTIVATIONS)})")
    try:
        return Config(
            n_vocab=raw.get("vocab_size", 40478),
            n_ctx=raw.get("n_positions", 512),
            n_embd=raw.get("n_embd", 768),
            n_head=raw.get("n_head", 12),
            n_layer=raw.get("n_layer", 12),
            activation=GPT1_ACTIVATIONS[afn],
            layer_norm_epsilon=raw.get("layer_norm_epsilon", 1e-5),
            tie_word_embeddings=raw.get("tie_word_embeddings", True),
            layer_norm="post",
        )
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def openai_config(path):
    """Read OpenAI's `hparams.json`; its keys are gptlite's."""
    raw = read_json_object(path)
    check_kinds(raw, OPENAI_KINDS, path)
    try:
        return Config(**{k: raw[k] for k in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")})
    except KeyError as e:
        raise ValueError(f"{path}: missing {e.args[0]}") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def check_shapes(tensors, config, source):
    """Raise ValueError naming the first tensor that is missing, unexpected or of the wrong shape."""
    if 12 * config.n_layer > len(tensors):  # before listing the names a config implies: n_layer may be absurd
        raise ValueError(
            f"{source}: the config has {config.n_layer} layers, but the weights hold {len(tensors)} tensors"
        )
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


def from_hf_tensors(tensors, config):
    """Hugging Face names -> gptlite names, dropping buffers, and the head unless it is untied. GPT-1's
    embeddings are renamed first (GPT1_NAMES), and its `position_ids` buffer, if saved, is dropped too."""
    if config.layer_norm == "post":
        renamed = ((k.removeprefix("transformer."), v) for k, v in tensors.items() if not k.endswith("position_ids"))
        tensors = {GPT1_NAMES.get(k, k): v for k, v in renamed}
    out = {hf_name(k): v for k, v in tensors.items() if not k.endswith(SKIPPED_SUFFIXES)}
    if not config.tie_word_embeddings and "lm_head.weight" in tensors:
        out["lm_head"] = tensors["lm_head.weight"]
    return out


def checkpoint_folder(directory):
    """The checkpoint a training run's LATEST file names (`gptlite.train` writes both), or None without one."""
    latest = Path(directory) / "LATEST"
    if not latest.is_file():
        return None
    name = latest.read_text(encoding="utf-8", errors="replace").strip()
    folder = Path(directory) / "checkpoints" / name
    if not re.fullmatch(r"step-\d{8}", name) or not folder.is_dir():
        raise ValueError(f"{latest}: names no checkpoint of this run ({name[:40]!r})")
    return folder


def is_converted(directory):
    return (Path(directory) / META_FILE).is_file()


def converted_meta(directory):
    """The checked `gptlite.json` of a directory in gptlite's layout."""
    path = Path(directory) / META_FILE
    meta = read_json_object(path)
    version, config = meta.get("version"), meta.get("config")
    if meta.get("format") != FORMAT or version not in READABLE_VERSIONS or not isinstance(config, dict):
        versions = ", ".join(map(str, READABLE_VERSIONS[:-1])) + f" or {READABLE_VERSIONS[-1]}"
        raise ValueError(f"{path}: not a gptlite model of version {versions}")
    transposed = meta.get("stored_transposed", [])
    names = transposed if isinstance(transposed, list) and all(isinstance(n, str) for n in transposed) else None
    if names is None or len(set(names)) < len(names):
        raise ValueError(f"{path}: stored_transposed must be a list of tensor names, each once")
    check_kinds(config, CONVERTED_KINDS, path)
    return meta


def check_stored_transposed(meta, config, path):
    """Refuse a `stored_transposed` other than the one this version's `save_converted` writes for this config:
    the shapes cannot tell a square matrix (attn.c_proj) stored one way from the other, so any other list would
    load wrong weights without an error."""
    names, version = meta.get("stored_transposed", []), meta["version"]
    if version == 1:
        right = not names
    elif version == 2:
        right = names == [head_name(config)]
    else:  # the length first: it bounds the list built to compare with by the file's own size
        right = len(names) == 1 + 2 * config.n_layer and set(names) == set(transposed_on_disk(config))
    if not right:
        raise ValueError(f"{path}: stored_transposed must list {STORED_TRANSPOSED[version]} in version {version}")


def converted_config(directory):
    """The Config in the `gptlite.json` of a directory in gptlite's layout, checked."""
    return meta_config(converted_meta(directory), Path(directory) / META_FILE)


def meta_config(meta, path):
    """The Config that a checked `gptlite.json` (converted_meta) holds; a bad one is named with its path."""
    try:
        return Config(**meta["config"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None


def converted_tensors(directory):
    """The weights of a directory in gptlite's layout, by gptlite's names and in their shapes: a tensor stored
    transposed comes back as the transpose of what the file holds (a view; no copy): its shape is gptlite's, its
    strides those of the other order."""
    meta, path = converted_meta(directory), Path(directory) / META_FILE
    check_stored_transposed(meta, meta_config(meta, path), path)
    tensors = safetensors.load(Path(directory) / WEIGHTS_FILE)
    for name in meta.get("stored_transposed", []):
        if name in tensors:
            tensors[name] = tensors[name].T  # e.g. the head: [n_embd, n_vocab] on disk -> [n_vocab, n_embd]
    return tensors


def transposed_on_disk(config):
    """The tensors that gptlite's layout stores as the transpose of their shape in `param_shapes`, so that each
    product `x @ m` reads its matrix in the order OpenBLAS streams fastest for it (the module's docstring): the
    head, [n_vocab, n_embd], goes to disk as [n_embd, n_vocab], and each `c_proj.w`, [n_in, n_out] with n_out =
    n_embd, as [n_out, n_in]."""
    blocks = [f"h.{i}.{kind}.c_proj.w" for i in range(config.n_layer) for kind in ("attn", "mlp")]
    return [head_name(config), *blocks]


def head_name(config):
    """The tensor that is the output head: the token embedding when tied (GPT-2), else `lm_head`."""
    return "wte" if config.tie_word_embeddings else "lm_head"


def no_model_directory(path) -> FileNotFoundError:
    """The error for a path to load that is not a directory: nothing there, or something else (a file)."""
    what = "not a directory (a model is a directory of files)" if Path(path).exists() else "model directory not found"
    return FileNotFoundError(f"{path}: {what}")


def load_dir(directory, progress=None):
    """Load a checkpoint directory -> (Config, {name: float32 array}, (encoder path, merges path) or None)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise no_model_directory(directory)
    directory = checkpoint_folder(directory) or directory  # a training run's folder: its latest checkpoint
    if is_converted(directory):
        config = converted_config(directory)
        tensors = converted_tensors(directory)
    elif (directory / "config.json").is_file():
        config = hf_config(directory / "config.json")
        if (directory / "model.safetensors").is_file():
            tensors = from_hf_tensors(safetensors.load(directory / "model.safetensors"), config)
        elif (directory / "pytorch_model.bin").is_file():
            tensors = from_hf_tensors(torch_checkpoint.load(directory / "pytorch_model.bin"), config)
        else:
            raise FileNotFoundError(f"{directory}: no model.safetensors or pytorch_model.bin")
    elif (directory / "hparams.json").is_file():
        config = openai_config(directory / "hparams.json")
        tensors = tf_checkpoint.load_openai(str(directory / "model.ckpt"), progress)
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


def save_converted(directory, config, tensors, vocab, source, dtype=np.float32, progress=None):
    """Write gptlite's layout. Files are written atomically and gptlite.json last, so a half-written
    directory is never taken for a model. dtype float16 halves the size; loading widens it to float32."""
    check_shapes(tensors, config, source)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / META_FILE).unlink(missing_ok=True)
    for src, name in zip(vocab or (), ("encoder.json", "vocab.bpe")):
        with atomic_write(directory / name) as f, open(src, "rb") as g:
            shutil.copyfileobj(g, f)
    stored = {n: np.asarray(tensors[n], dtype) for n in param_shapes(config)}  # embeddings, then block by block
    transposed = transposed_on_disk(config)
    # Views: safetensors.save writes each tensor in C order, one at a time, so the file holds e.g. the head as
    # [n_embd, n_vocab], and no transposed copy of the model is ever in memory whole.
    for name in transposed:
        stored[name] = stored[name].T
    safetensors.save(directory / WEIGHTS_FILE, stored, progress=progress)
    meta = {"format": FORMAT, "version": VERSION, "config": asdict(config), "source": str(source)}
    meta["stored_transposed"] = transposed
    with atomic_write(directory / META_FILE, "w") as f:
        json.dump(meta, f, indent=2)
