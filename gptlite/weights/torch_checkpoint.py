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

import pickle
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
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self, name):
        elements = self.storage.array
        last = (
            self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
            if all(self.size)
            else self.offset - 1
        )
        if self.offset < 0 or last >= len(elements) or min(self.stride, default=0) < 0:
            raise ValueError(
                f"tensor {name} reaches outside its storage "
                f"(offset {self.offset}, size {self.size}, stride {self.stride})"
            )
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


def rebuild_parameter(data, requires_grad, backward_hooks):
    return data  # an nn.Parameter is its tensor here


ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): TensorRef,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
}


class StateDictUnpickler(pickle.Unpickler):
    """An unpickler that can build a state dict and nothing else."""

    def __init__(self, file, source, storages):
        super().__init__(file)
        self.source, self.storages = source, storages  # storages: key -> Storage, filled as ids are seen

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)  # appears inside persistent ids, never called
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        raise ValueError(
            f"{self.source}: refusing to unpickle {module}.{name}: a state dict never needs it, and loading "
            "a checkpoint must not run code"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise ValueError(f"{self.source}: unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, StorageType):
            raise ValueError(f"{self.source}: unknown storage type in {pid!r}")
        return self.storages.setdefault(str(key), Storage(storage_type, str(key), numel))


def _unpickle(file, source, storages):
    try:
        return StateDictUnpickler(file, source, storages).load()
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{source}: not a readable PyTorch state dict ({e})") from None


def _tensors(state_dict, source):
    if not isinstance(state_dict, dict) or not all(isinstance(v, TensorRef) for v in state_dict.values()):
        raise ValueError(f"{source}: does not hold a state dict of tensors")
    return {name: ref.to_numpy(name) for name, ref in state_dict.items()}


def _read_storage(storage, raw, source):
    expected = storage.numel * storage.type.dtype.itemsize
    if len(raw) < expected:
        raise ValueError(f"{source}: storage {storage.key} is truncated ({len(raw)} of {expected} bytes)")
    storage.array = np.frombuffer(raw, dtype=storage.type.dtype, count=storage.numel)


def load(path):
    """Read a `pytorch_model.bin` (zip or legacy layout) into {name: np.ndarray}."""
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    return _load_legacy(path)


def _load_zip(path):
    storages = {}
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path}: a zip file, but not a PyTorch checkpoint (no <root>/data.pkl)")
        root = pickles[0][: -len("data.pkl")]
        with archive.open(pickles[0]) as f:
            state_dict = _unpickle(f, path, storages)
        for storage in storages.values():
            try:
                raw = archive.read(f"{root}data/{storage.key}")
            except KeyError:
                raise ValueError(f"{path}: storage {storage.key} is missing from the archive") from None
            _read_storage(storage, raw, path)
    return _tensors(state_dict, path)


def _load_legacy(path):
    storages = {}
    with open(path, "rb") as f:
        if _unpickle(f, path, storages) != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a PyTorch checkpoint (no zip archive, no legacy magic number)")
        if _unpickle(f, path, storages) != LEGACY_PROTOCOL:
            raise ValueError(f"{path}: unsupported legacy PyTorch protocol version")
        _unpickle(f, path, storages)  # system info: byte order and type sizes
        state_dict = _unpickle(f, path, storages)
        keys = _unpickle(f, path, storages)
        for key in keys:
            storage = storages[str(key)]
            count = np.frombuffer(f.read(8), dtype="<i8")
            if count.size != 1 or count[0] != storage.numel:
                raise ValueError(f"{path}: storage {key} header does not match its size (truncated file?)")
            _read_storage(storage, f.read(storage.numel * storage.type.dtype.itemsize), path)
    return _tensors(state_dict, path)
