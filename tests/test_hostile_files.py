"""Files made to hurt: every reader answers with one short line, in bounded time and memory, or reads them right.

Attacked as classes, not as single examples: random truncations and bit flips of every format, declared sizes
far beyond the file, shapes and strides that alias, compressed storages, recursive structures, absurd configs
and vocabularies.
"""

import json
import pickle
import shutil
import sys
import time
import tracemalloc
import types
import zipfile
import zlib
from collections import OrderedDict
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import gptlite
from gptlite import GPT, Tokenizer
from gptlite.tokenizer import bytes_to_unicode
from gptlite.weights import safetensors, tf_checkpoint, torch_checkpoint
from gptlite.weights.checkpoint import load_dir

from helpers import MODELS

ASSETS = Path(gptlite.__file__).parent / "assets"
MAX_MB = 64  # far above what these small files justify, far below what the attacks would take


def refuses(call, exceptions=(ValueError, OSError)):
    """Run call; it must raise one of `exceptions` with a one-line message of sane length, quickly and in
    bounded memory. Returns the message."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(exceptions) as raised:
            call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    message = str(raised.value)
    assert "\n" not in message and len(message) < 500, message[:1000]
    assert time.perf_counter() - start < 10, "took too long"
    assert peak < MAX_MB * 2**20, f"allocated {peak / 2**20:.0f} MB"
    return message


def reads_or_refuses(call):
    """Damage that may leave a readable file (a flipped bit inside a float): either it loads, or it refuses
    as `refuses` demands. Never another exception type, never a hang."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        call()
    except (ValueError, OSError) as e:
        assert "\n" not in str(e) and len(str(e)) < 500, str(e)[:1000]
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - start < 10 and peak < MAX_MB * 2**20


def damaged(tmp_path, source, rng, kind):
    """A copy of `source` cut at a random length, or with random bits flipped."""
    data = bytearray(source.read_bytes())
    if kind == "truncate":
        data = data[: rng.integers(0, len(data))]
    else:
        for position in rng.integers(0, len(data), 3):
            data[position] ^= 1 << int(rng.integers(0, 8))
    path = tmp_path / source.name
    path.write_bytes(bytes(data))
    return path


# ---------------------------------------------------------------- every format, randomly damaged


@pytest.mark.parametrize("kind", ["truncate", "flip"])
@pytest.mark.parametrize(
    "source",
    [MODELS / "f16" / "model.safetensors", MODELS / "depth6-bin" / "pytorch_model.bin",
     MODELS / "depth6-bin-legacy" / "pytorch_model.bin"],
    ids=["safetensors", "torch-zip", "torch-legacy"],
)  # fmt: skip
def test_random_damage_to_weight_files(tmp_path, source, kind):
    rng = np.random.default_rng(zlib.crc32(f"{source.parent.name} {kind}".encode()))  # the same every run
    reader = safetensors.load if source.suffix == ".safetensors" else torch_checkpoint.load
    for _ in range(25):
        path = damaged(tmp_path, source, rng, kind)
        if kind == "truncate":
            refuses(lambda path=path: reader(path))
        else:
            reads_or_refuses(lambda path=path: reader(path))


@pytest.mark.parametrize("kind", ["truncate", "flip"])
@pytest.mark.parametrize("part", ["model.ckpt.index", "model.ckpt.data-00000-of-00001"])
def test_random_damage_to_tensorflow_bundles(tmp_path, part, kind):
    rng = np.random.default_rng(len(part) + len(kind))
    for i in range(20 if part.endswith("index") else 4):  # every damaged data file costs a CRC of all of it
        directory = tmp_path / str(i)
        shutil.copytree(MODELS / "depth6-tf", directory)
        damaged(directory, MODELS / "depth6-tf" / part, rng, kind)
        refuses(
            lambda prefix=str(directory / "model.ckpt"): tf_checkpoint.load(prefix)
        )  # TF checks a CRC on everything


def test_long_varints_and_cut_fixed_fields():
    refuses(lambda: tf_checkpoint.varint(b"\x80" * 1_000_000 + b"\x01", 0))  # 11 bytes is already too many
    refuses(lambda: list(tf_checkpoint.proto_fields(b"\x09\x01\x02")))  # fixed64 with 2 of its 8 bytes
    refuses(lambda: list(tf_checkpoint.proto_fields(b"\x0d\x01")))  # fixed32 cut short


# ---------------------------------------------------------------- safetensors, by hand


def write_safetensors(path, header, data=b""):
    encoded = json.dumps(header).encode() if not isinstance(header, bytes) else header
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + data)
    return path


@pytest.mark.parametrize(
    "header, data, message",
    [([1, 2, 3], b"", "not a JSON object"),
     ({"a": {"dtype": "F32", "shape": [10**12, 10**12], "data_offsets": [0, 4]}}, b"\0" * 4, "do not fit"),
     ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
       "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, "overlaps"),
     ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "hole"),
     ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8, "truncated"),
     ({"a": {"dtype": "X99", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "dtype"),
     ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "shape"),
     ({"a": {"dtype": "F32", "shape": [1], "data_offsets": "0..4"}}, b"\0" * 4, "data_offsets"),
     ({"a": "F32"}, b"", "dtype"),
     ({"__metadata__": {"k": 1}}, b"", "__metadata__"),
     (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {}}', b"\0" * 4, "twice"),
     (b"[" * 100_000 + b"]" * 100_000, b"", "broken safetensors header")],
)  # fmt: skip
def test_hostile_safetensors_headers(tmp_path, header, data, message):
    path = write_safetensors(tmp_path / "x.safetensors", header, data)
    assert message in refuses(lambda: safetensors.load(path))


def test_a_header_length_beyond_the_file(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes((2**63).to_bytes(8, "little") + b"{}")
    assert "truncated" in refuses(lambda: safetensors.load(path))


# ---------------------------------------------------------------- PyTorch pickles, by hand


class StorageRef:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        return sys.modules["torch._utils"]._rebuild_tensor_v2, (*self.args, False, OrderedDict())


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a `torch` module for pickle to write references to its globals; gptlite never imports it."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called here: pickle only records its name")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage, torch._utils, utils._rebuild_tensor_v2 = FloatStorage, utils, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def dumps(obj, fake_torch, pid=None):
    class TorchPickler(pickle.Pickler):
        def persistent_id(self, value):
            if isinstance(value, StorageRef):
                return pid if pid is not None else ("storage", fake_torch.FloatStorage, value.key, "cpu", value.numel)
            return None

    import io

    buffer = io.BytesIO()
    TorchPickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def write_zip(path, pickled, storages, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        z.writestr("archive/data.pkl", pickled, compress_type=zipfile.ZIP_STORED)
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)
    return path


def test_a_hand_made_checkpoint_loads(tmp_path, fake_torch):
    """The builder is right: a plain file made this way reads back, and tied weights are one array."""
    storage = StorageRef("0", 6)
    state = {"a": FakeTensor(storage, 0, (2, 3), (3, 1)), "b": FakeTensor(storage, 0, (2, 3), (3, 1)),
             "t": FakeTensor(storage, 0, (3, 2), (1, 3))}  # fmt: skip
    raw = np.arange(6, dtype="<f4").tobytes()
    tensors = torch_checkpoint.load(write_zip(tmp_path / "m.bin", dumps(state, fake_torch), {"0": raw}))
    np.testing.assert_array_equal(tensors["a"], [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(tensors["t"], tensors["a"].T)
    assert tensors["a"] is tensors["b"]


@pytest.mark.parametrize(
    "size, stride, offset, message",
    [((100_000, 100_000), (0, 0), 0, "stride of 0"), ((10**9,), (1,), 0, "outside its storage"),
     ((2,), (-1,), 0, "not a plain view"), ((2,), (1,), -1, "not a plain view"), ((2, 2), (1,), 0, "not a plain view")],
)  # fmt: skip
def test_tensors_that_would_allocate_far_more_than_the_file(tmp_path, fake_torch, size, stride, offset, message):
    state = {"w": FakeTensor(StorageRef("0", 4), offset, size, stride)}
    path = write_zip(tmp_path / "m.bin", dumps(state, fake_torch), {"0": b"\0" * 16})
    assert message in refuses(lambda: torch_checkpoint.load(path))


def test_many_overlapping_views_of_one_storage(tmp_path, fake_torch):
    storage = StorageRef("0", 10_000)
    state = {f"w{i}": FakeTensor(storage, i, (9_000,), (1,)) for i in range(1000)}  # 36 MB of copies of 40 kB
    path = write_zip(tmp_path / "m.bin", dumps(state, fake_torch), {"0": b"\0" * 40_000})
    assert "more than the" in refuses(lambda: torch_checkpoint.load(path))


def test_compressed_storages_are_refused(tmp_path, fake_torch):
    state = {"w": FakeTensor(StorageRef("0", 50_000_000), 0, (50_000_000,), (1,))}  # 200 MB of zeros, deflated
    path = write_zip(tmp_path / "m.bin", dumps(state, fake_torch), {"0": b"\0" * 200_000_000}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1_000_000
    assert "compressed" in refuses(lambda: torch_checkpoint.load(path))


def test_declared_sizes_beyond_the_file(tmp_path, fake_torch):
    state = {"w": FakeTensor(StorageRef("0", 10**15), 0, (10,), (1,))}
    path = write_zip(tmp_path / "m.bin", dumps(state, fake_torch), {"0": b"\0" * 40})
    refuses(lambda: torch_checkpoint.load(path))
    legacy = tmp_path / "legacy.bin"
    with open(legacy, "wb") as f:
        for obj in (torch_checkpoint.LEGACY_MAGIC, torch_checkpoint.LEGACY_PROTOCOL, {}):
            pickle.dump(obj, f, protocol=2)
        f.write(dumps(state, fake_torch))
        pickle.dump(["0"], f, protocol=2)
        f.write((10**15).to_bytes(8, "little") + b"\0" * 40)
    assert "truncated" in refuses(lambda: torch_checkpoint.load(legacy))


def test_a_billion_laughs_persistent_id_is_never_printed(tmp_path, fake_torch):
    laugh = ("ha",)
    for _ in range(40):
        laugh = (laugh, laugh)  # 2**40 leaves when printed; a few hundred bytes pickled
    state = {"w": FakeTensor(StorageRef("0", 1), 0, (1,), (1,))}
    pickled = dumps(state, fake_torch, pid=(laugh, laugh, laugh, laugh, laugh))
    path = write_zip(tmp_path / "m.bin", pickled, {"0": b"\0" * 4})
    assert "persistent id" in refuses(lambda: torch_checkpoint.load(path))


def test_a_refused_pickle_leaves_no_trace(tmp_path):
    """BUILD sets attributes on what GLOBAL pushed: if that were gptlite's own class, every later load would
    see the change. After such a file is refused, a good file must load exactly as before."""
    build_on_global = (
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n"  # GLOBAL: whatever find_class returns
        b"N}X\x05\x00\x00\x00wherec__builtin__\nprint\nsb"  # BUILD with slot state {"where": print}
        b"\x86b."  # (None, {...}) then BUILD, STOP
    )
    path = tmp_path / "m.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", build_on_global)
    refuses(lambda: torch_checkpoint.load(path))
    build_on_global = build_on_global.replace(b"c__builtin__\nprint\n", b"K\x01")  # an allowed value this time
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", build_on_global)
    refuses(lambda: torch_checkpoint.load(path))
    assert not hasattr(torch_checkpoint.TensorRef, "where") or callable(torch_checkpoint.TensorRef.where)
    expected = safetensors.load(MODELS / "depth6" / "model.safetensors")
    got = torch_checkpoint.load(MODELS / "depth6-bin" / "pytorch_model.bin")
    assert sorted(got) == sorted(expected)


# ---------------------------------------------------------------- configs and vocabularies


def model_copy(tmp_path, name="f16"):
    directory = tmp_path / "model"
    source = ASSETS / "gptlite-shakespeare" if name == "shakespeare" else MODELS / name
    shutil.copytree(source, directory, ignore=shutil.ignore_patterns("reference.npz", "inside.npz"))
    return directory


@pytest.mark.parametrize(
    "edit, message",
    [({"n_layer": 1_000_000}, "1000000 layers"), ({"n_layer": 10**30}, "n_layer"), ({"n_embd": "32"}, "n_embd"),
     ({"n_head": 0}, "n_head"), ({"vocab_size": -5}, "n_vocab"), ({"layer_norm_epsilon": "x"}, "layer_norm_epsilon"),
     ({"scale_attn_weights": "yes"}, "scale_attn_weights"), ({"model_type": "llama"}, "not GPT-2"),
     ({"n_inner": 10**12}, "n_inner"), ({"n_inner": 10**6}, "shape")],
)  # fmt: skip
def test_hostile_configs(tmp_path, edit, message):
    directory = model_copy(tmp_path)
    config = json.loads((directory / "config.json").read_text()) | edit
    (directory / "config.json").write_text(json.dumps(config))
    assert message in refuses(lambda: load_dir(directory))


# What each config field read must be, in each of the three config files (None: null is allowed too).
INTEGER, NUMBER, TEXT, BOOLEAN = (int,), (int, float), (str,), (bool,)
HF_KINDS = {"model_type": TEXT, "add_cross_attention": BOOLEAN, "activation_function": TEXT, "vocab_size": INTEGER,
            "n_positions": INTEGER, "n_ctx": INTEGER, "n_embd": INTEGER, "n_head": INTEGER, "n_layer": INTEGER,
            "n_inner": (*INTEGER, None), "layer_norm_epsilon": NUMBER, "scale_attn_weights": BOOLEAN,
            "scale_attn_by_inverse_layer_idx": BOOLEAN, "tie_word_embeddings": BOOLEAN}  # fmt: skip
OPENAI_KINDS = {k: INTEGER for k in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")}
CONVERTED_KINDS = {**OPENAI_KINDS, "n_inner": (*INTEGER, None), "activation": TEXT, "layer_norm_epsilon": NUMBER,
                   "scale_attn_weights": BOOLEAN, "scale_attn_by_inverse_layer_idx": BOOLEAN,
                   "tie_word_embeddings": BOOLEAN}  # fmt: skip
HOSTILE = [["gelu"], {"gelu": 1}, [], "12", "gelu", True, False, 12.5, float("nan"), float("inf"), -1, 0, 10**30,
           10**400, None]  # fmt: skip


def of_kind(value, kinds):
    """Whether a value is of the kind a field takes (a bool is no number; NaN and infinities are no numbers)."""
    if value is None or isinstance(value, bool):
        return None in kinds if value is None else bool in kinds
    types = tuple(k for k in kinds if k is not None)
    return isinstance(value, types) and (not isinstance(value, float) or abs(value) < float("inf"))


def hostile_config(tmp_path, name, file, field, value):
    directory = model_copy(tmp_path, name)
    if file == "gptlite.json":
        meta = json.loads((directory / file).read_text())
        meta["config"][field] = value
    else:
        meta = json.loads((directory / file).read_text()) | {field: value}
    (directory / file).write_text(json.dumps(meta))
    return directory


@pytest.mark.parametrize(
    "name, file, kinds",
    [("f16", "config.json", HF_KINDS), ("depth6-tf", "hparams.json", OPENAI_KINDS),
     ("shakespeare", "gptlite.json", CONVERTED_KINDS)],
)  # fmt: skip
def test_every_config_field_of_a_wrong_kind_is_refused_naming_it(tmp_path, name, file, kinds):
    """Every field of every config file, given lists, objects, strings for numbers, bools for numbers, floats
    for integers, NaN, infinities and huge numbers: a value of the wrong kind is refused in one line that names
    the file and the field; one of the right kind loads or is refused in one line."""
    for field, allowed in kinds.items():
        for i, value in enumerate(HOSTILE):
            directory = hostile_config(tmp_path / f"{field}-{i}", name, file, field, value)
            if of_kind(value, allowed):
                reads_or_refuses(partial(load_dir, directory))
            else:
                message = refuses(partial(load_dir, directory))
                assert file in message and field in message, (field, value, message)


@pytest.mark.parametrize("text", ["[1, 2]", "{", '"config"', "[" * 100_000, '{"n_layer": 1' + "0" * 5000 + "}"])
def test_configs_that_are_not_objects(tmp_path, text):
    directory = model_copy(tmp_path)
    (directory / "config.json").write_text(text)
    assert "config.json" in refuses(lambda: load_dir(directory))


def vocab_dir(tmp_path, encoder, merges=()):
    directory = tmp_path / "vocab"
    directory.mkdir(exist_ok=True)
    (directory / "encoder.json").write_text(json.dumps(encoder) if not isinstance(encoder, str) else encoder)
    (directory / "vocab.bpe").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return directory


def byte_vocab():
    """The smallest vocabulary that works: one symbol per byte, ids 0..255."""
    return {symbol: i for i, symbol in enumerate(bytes_to_unicode().values())}


@pytest.mark.parametrize(
    "edit, merges, message",
    [(lambda v: v | {"big": 500_000_000}, [], "ids are not"), (lambda v: v | {"neg": -1}, [], "ids are not"),
     (lambda v: {k: i for k, i in v.items() if i != 65}, [], "ids are not"),
     (lambda v: {k: i - (i > 65) for k, i in v.items() if i != 65}, [], "lacks a symbol for some byte"),
     (lambda v: v | {"\u20ac": 256}, [], "not made of byte symbols"),
     (lambda v: v | {"ab": 256}, [("a", "q")], "merge"),
     (lambda v: v | {"x": True}, [], "integer ids"), (lambda v: list(v), [], "integer ids")],
)  # fmt: skip
def test_hostile_vocabularies(tmp_path, edit, merges, message):
    directory = vocab_dir(tmp_path, edit(byte_vocab()), merges)
    assert message in refuses(lambda: Tokenizer.from_pretrained(directory))


def test_a_model_whose_tokenizer_is_refused_is_not_loaded(tmp_path):
    directory = model_copy(tmp_path, "tiny")
    (directory / "vocab.json").write_text('{"a": 500000000}')
    assert "vocab.json" in refuses(lambda: GPT.from_pretrained(directory))


def test_a_memo_index_that_would_make_pickle_allocate_gigabytes(tmp_path):
    """LONG_BINPUT 2**28: Python's unpickler would grow and zero its memo table to 2**29 entries (4 GB)."""
    path = tmp_path / "m.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}r\x00\x00\x00\x10.")  # EMPTY_DICT, LONG_BINPUT 2**28, STOP
    assert "memo" in refuses(lambda: torch_checkpoint.load(path))
