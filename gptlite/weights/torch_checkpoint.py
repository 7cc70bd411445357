"""Reading PyTorch's `pytorch_model.bin` state dicts without torch, and without running their code.

Source: `torch/serialization.py` (`torch.save` / `torch.load`) and Python's pickle protocol.

A state dict is pickled; each tensor in the pickle is the call
`torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks)`,
and each storage is a "persistent id", `("storage", torch.FloatStorage, key, location, numel, ...)`,
whose bytes live outside the pickle. Two layouts exist:

* zip (torch >= 1.6): a zip archive of stored (uncompressed) entries:
  `<root>/data.pkl` is the pickle and `<root>/data/<key>` the raw bytes of each storage.
* legacy: one stream of pickles: a magic number, a protocol version, system info,
  the state dict, the list of storage keys; then, per key in that order, an
  8-byte little-endian element count and the storage's raw bytes.

A tensor is a strided view of its storage: element (i, j) of a 2-D tensor is at
storage_offset + i*stride[0] + j*stride[1], so transposed or sliced tensors work.

Safety: unpickling can call any importable function (`os.system`, say), so a
downloaded checkpoint could run code. The unpickler here resolves only the few
globals a state dict needs and refuses everything else, before anything runs.
"""

import io
import math
import os
import pickle
import pickletools
import zipfile
from collections import OrderedDict

import numpy as np

from . import bfloat16_to_float32

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "HalfStorage": np.float16, "BFloat16Storage": np.uint16, "DoubleStorage": np.float64,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}  # fmt: skip
LEGACY_MAGIC, LEGACY_PROTOCOL = 0x1950A86A20F9469CFC6C, 1001
MAX_PICKLE = 1 << 30  # bytes; a state dict's pickle is tens of kilobytes per thousand tensors


class StorageType:
    """Stands in for `torch.FloatStorage` and friends: just the element type."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name]).newbyteorder("<")


class Storage:
    """A storage's raw elements, filled in once its bytes are read."""

    def __init__(self, storage_type, key, numel):
        self.type, self.key, self.numel = storage_type, key, numel
        self.array = None


class TensorRef:
    """What `_rebuild_tensor_v2` returns here: where a tensor's elements are, made into an array later."""

    def __init__(self, storage, offset, size, stride, *_ignored):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def where(self, name):
        """(storage key, offset, size, stride), checked: the tensor lies inside its storage and no element of
        it is another of its elements (a stride of 0 would make a huge tensor of one stored number)."""
        ok = (
            isinstance(self.storage, Storage)
            and _is_index(self.offset)
            and isinstance(self.size, tuple)
            and isinstance(self.stride, tuple)
            and len(self.size) == len(self.stride)
            and all(_is_index(n) for n in self.size)
            and all(_is_index(s) for s in self.stride)
        )
        if not ok:
            raise ValueError(f"tensor {name[:80]} is not a plain view of a storage")
        if math.prod(self.size) > 1 and any(n > 1 and s == 0 for n, s in zip(self.size, self.stride)):
            raise ValueError(f"tensor {name[:80]} repeats its elements (a stride of 0): not a saved parameter")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if math.prod(self.size) and last >= self.storage.numel:
            raise ValueError(
                f"tensor {name[:80]} reaches outside its storage "
                f"(offset {self.offset}, size {list(self.size)}, stride {list(self.stride)})"
            )
        return self.storage.key, self.offset, self.size, self.stride

    def to_numpy(self):
        elements = self.storage.array
        view = np.lib.stride_tricks.as_strided(
            elements[self.offset :],
            shape=self.size,
            strides=[s * elements.itemsize for s in self.stride],
            writeable=False,
        )
        array = np.array(view)  # a contiguous copy of the strided view
        if self.storage.type.name == "BFloat16Storage":  # bf16 is the upper half of a float32
            array = bfloat16_to_float32(array)
        return array


def _is_index(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _allowed(module, name):
    """A fresh callable for each global a state dict may name: the pickle's BUILD opcode can set attributes on
    what a global resolves to, and a fresh object takes those changes with it when the load ends."""
    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
        return lambda *args: TensorRef(*args)
    if (module, name) == ("torch._utils", "_rebuild_parameter"):
        return lambda data, *_requires_grad_and_hooks: data  # an nn.Parameter is its tensor here
    if (module, name) == ("collections", "OrderedDict"):
        return lambda *args: OrderedDict(*args)
    return None


class Refused(ValueError):
    """A pickle asked for something a state dict never needs."""


class StateDictUnpickler(pickle.Unpickler):
    """An unpickler that can build a state dict and nothing else."""

    def __init__(self, file, source, storages):
        super().__init__(file)
        self.source, self.storages = source, storages  # storages: key -> Storage, filled as ids are seen

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)  # appears inside persistent ids, never called
        allowed = _allowed(module, name)
        if allowed is None:
            raise Refused(
                f"{self.source}: refusing to unpickle {str(module)[:60]}.{str(name)[:60]}: a state dict never "
                "needs it, and loading a checkpoint must not run code"
            )
        return allowed

    def persistent_load(self, pid):
        # Never repr() pid: nested references can make its text exponentially long (a "billion laughs").
        if not (isinstance(pid, tuple) and len(pid) >= 5 and isinstance(pid[0], str) and pid[0] == "storage"):
            raise Refused(f"{self.source}: unexpected persistent id (a {type(pid).__name__}, not a storage)")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, StorageType) or not isinstance(key, (str, int)) or not _is_index(numel):
            raise Refused(f"{self.source}: malformed storage reference")
        storage = self.storages.setdefault(str(key)[:100], Storage(storage_type, str(key)[:100], numel))
        if storage.numel != numel or storage.type.name != storage_type.name:
            raise Refused(f"{self.source}: storage {storage.key} is described two different ways")
        return storage


def _check_memo(file, source):
    """Walk the pickle's opcodes once without running them, then rewind: refuse memo indices that a real
    pickler never writes. Python's unpickler grows its memo table to the largest index it is given, so a
    single flipped byte (LONG_BINPUT 2**28) would make it allocate and zero gigabytes."""
    start, puts = file.tell(), 0
    for opcode, arg, _ in pickletools.genops(file):
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            if opcode.name != "MEMOIZE" and not (isinstance(arg, int) and 0 <= arg <= puts):
                raise Refused(f"{source}: a pickle memo index out of sequence ({str(arg)[:20]} after {puts})")
            puts += 1
        elif opcode.name in ("GET", "BINGET", "LONG_BINGET") and not (isinstance(arg, int) and 0 <= arg < puts):
            raise Refused(f"{source}: a pickle refers to a memo entry it never made")
    file.seek(start)


def _unpickle(file, source, storages):
    try:
        _check_memo(file, source)
        return StateDictUnpickler(file, source, storages).load()
    except Refused:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError, KeyError, ValueError,
            RecursionError, OverflowError, UnicodeDecodeError, MemoryError, zipfile.BadZipFile) as e:  # fmt: skip
        raise ValueError(f"{source}: not a readable PyTorch state dict ({type(e).__name__}: {str(e)[:100]})") from None


def _tensors(state_dict, source, budget):
    """Materialise every tensor, at most `budget` bytes in all; a tensor saved twice (tied weights) is one array."""
    if not isinstance(state_dict, dict) or not all(isinstance(v, TensorRef) for v in state_dict.values()):
        raise ValueError(f"{source}: does not hold a state dict of tensors")
    places = {}
    for name, ref in state_dict.items():
        if not isinstance(name, str):
            raise ValueError(f"{source}: a state dict key is not a string")
        try:
            places[name] = ref.where(name)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None
    distinct = {place: state_dict[name] for name, place in places.items()}
    needed = sum(math.prod(ref.size) * ref.storage.type.dtype.itemsize for ref in distinct.values())
    if needed > budget:
        raise ValueError(f"{source}: its tensors would take {needed} bytes, more than the {budget} bytes it stores")
    arrays = {place: ref.to_numpy() for place, ref in distinct.items()}
    return {name: arrays[place] for name, place in places.items()}


def _read_storage(storage, raw, source):
    expected = storage.numel * storage.type.dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{source}: storage {storage.key} holds {len(raw)} bytes, not {expected} (truncated file?)")
    storage.array = np.frombuffer(raw, dtype=storage.type.dtype, count=storage.numel)


def load(path):
    """Read a `pytorch_model.bin` (zip or legacy layout) into {name: np.ndarray}."""
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    return _load_legacy(path)


def _load_zip(path):
    storages = {}
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ValueError(f"{path}: a broken zip archive ({str(e)[:100]})") from None
    with archive:
        entries = {info.filename: info for info in archive.infolist()}
        if any(info.compress_type != zipfile.ZIP_STORED for info in entries.values()):
            # torch.save stores every entry as is; a compressed one could inflate to any size
            raise ValueError(f"{path}: compressed zip entries: not a checkpoint torch.save wrote")
        pickles = [n for n in entries if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path}: a zip file, but not a PyTorch checkpoint (no <root>/data.pkl)")
        root = pickles[0][: -len("data.pkl")]
        if entries[pickles[0]].file_size > MAX_PICKLE:
            raise ValueError(f"{path}: its pickle is {entries[pickles[0]].file_size} bytes: not a state dict")
        state_dict = _unpickle(io.BytesIO(archive.read(pickles[0])), path, storages)
        for storage in storages.values():
            info = entries.get(f"{root}data/{storage.key}")
            if info is None:
                raise ValueError(f"{path}: storage {storage.key} is missing from the archive")
            if info.file_size != storage.numel * storage.type.dtype.itemsize:
                raise ValueError(f"{path}: storage {storage.key} has {info.file_size} bytes, not the size it declares")
            try:
                raw = archive.read(info)
            except (zipfile.BadZipFile, OSError) as e:
                raise ValueError(f"{path}: storage {storage.key} cannot be read ({str(e)[:100]})") from None
            _read_storage(storage, raw, path)
    return _tensors(state_dict, path, sum(info.file_size for info in entries.values()))


def _load_legacy(path):
    storages = {}
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(1) != b"\x80":  # the PROTO opcode every pickle of protocol 2 or later begins with
            raise ValueError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)")
        f.seek(0)
        if _unpickle(f, path, storages) != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a PyTorch checkpoint (no zip archive, no legacy magic number)")
        if _unpickle(f, path, storages) != LEGACY_PROTOCOL:
            raise ValueError(f"{path}: unsupported legacy PyTorch protocol version")
        _unpickle(f, path, storages)  # system info: byte order and type sizes
        state_dict = _unpickle(f, path, storages)
        keys = _unpickle(f, path, storages)
        if not isinstance(keys, list) or not all(isinstance(k, (str, int)) and str(k) in storages for k in keys):
            raise ValueError(f"{path}: the list of storages does not match the state dict")
        for key in keys:
            storage = storages[str(key)]
            count = np.frombuffer(f.read(8), dtype="<i8")
            n_bytes = storage.numel * storage.type.dtype.itemsize
            if count.size != 1 or count[0] != storage.numel or f.tell() + n_bytes > size:
                raise ValueError(f"{path}: storage {storage.key} does not match its size (truncated file?)")
            _read_storage(storage, f.read(n_bytes), path)
    return _tensors(state_dict, path, size)
