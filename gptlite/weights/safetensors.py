"""A pure-NumPy reader and writer for the safetensors format.

Source: the safetensors specification (huggingface/safetensors, README "Format").

    [8 bytes]  N, the header's length: unsigned 64-bit little-endian
    [N bytes]  a JSON object: {name: {"dtype": "F32", "shape": [768, 2304],
               "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
    [rest]     the tensors' raw little-endian bytes, back to back; offsets are
               relative to the start of this part and leave no holes

Because the data is raw, a float32 tensor can be used straight from a memory
map of the file: loading costs no copy, and pages are read from disk only when
the model first touches them.
"""

import json
import math
import os
import struct

import numpy as np

from ..files import atomic_write
from . import bfloat16_to_float32

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,  # bf16: upper half of a float32
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}  # fmt: skip
DTYPE_NAMES = {np.dtype(v): k for k, v in DTYPES.items() if k != "BF16"}


MAX_HEADER = 100_000_000  # bytes; the reference implementation refuses larger headers too


def read_header(path):
    """Return (header dict, byte offset where the data starts), checking it against the spec and the file.

    Every tensor must have a known dtype, a shape of non-negative integers and offsets that hold exactly its
    bytes; together the tensors must tile the data, with no overlap and no hole (the spec's rule). So no
    tensor is ever read twice, and nothing allocated for a file can exceed what the file itself holds.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
        (n,) = struct.unpack("<Q", prefix)
        if n > size - 8 or n > MAX_HEADER:
            raise ValueError(
                f"{path}: not a safetensors file, or truncated (header of {n} bytes in a {size}-byte file)"
            )
        try:
            header = json.loads(f.read(n), object_pairs_hook=_no_duplicate_names)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise ValueError(f"{path}: broken safetensors header ({str(e)[:100]})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the safetensors header is not a JSON object")
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: __metadata__ must map strings to strings")
    spans = []
    for name, info in header.items():
        if name != "__metadata__":
            spans.append((*_check_entry(path, name, info), name))
    end_of_previous = 0
    for begin, end, name in sorted(spans):
        if begin != end_of_previous:
            what = "overlaps the tensor before it" if begin < end_of_previous else "leaves a hole before it"
            raise ValueError(f"{path}: tensor {name[:80]} {what} (offsets {begin}..{end})")
        end_of_previous = end
    if end_of_previous != size - 8 - n:
        raise ValueError(f"{path}: the tensors hold {end_of_previous} bytes, the file {size - 8 - n} (truncated?)")
    return header, 8 + n


def _no_duplicate_names(pairs):
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("a name appears twice in the safetensors header")
    return dict(pairs)


def _check_entry(path, name, info):
    """(begin, end) of one tensor's bytes, after checking its dtype, shape and offsets."""
    if not isinstance(info, dict) or info.get("dtype") not in DTYPES:
        dtype = info.get("dtype") if isinstance(info, dict) else None
        raise ValueError(f"{path}: tensor {name[:80]} has no supported dtype ({str(dtype)[:20]})")
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ValueError(f"{path}: tensor {name[:80]} has a shape that is not a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise ValueError(f"{path}: tensor {name[:80]} has data_offsets that are not two integers")
    begin, end = offsets
    if begin < 0 or end - begin != math.prod(shape) * np.dtype(DTYPES[info["dtype"]]).itemsize:
        raise ValueError(f"{path}: tensor {name[:80]} has data offsets {begin}..{end} that do not fit its shape")
    return begin, end


def load(path, mmap=True):
    """Read every tensor of a safetensors file into {name: np.ndarray}.

    With mmap, tensors are read-only views of a memory map of the file. BF16
    tensors are widened to float32 (bf16 is the top 16 bits of a float32).
    """
    header, start = read_header(path)
    if mmap:
        buffer = np.memmap(path, dtype=np.uint8, mode="r")
    else:
        with open(path, "rb") as f:
            buffer = np.frombuffer(f.read(), dtype=np.uint8)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = buffer[start + begin : start + end]
        array = raw.view(np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")).reshape(info["shape"])
        if info["dtype"] == "BF16":
            array = bfloat16_to_float32(array)
        tensors[name] = array
    return tensors


def save(path, tensors, metadata=None, progress=None):
    """Write {name: np.ndarray} as a safetensors file, atomically; the data starts 64-byte aligned.
    `progress(n_bytes)` is told of each tensor written."""
    header, offset = {}, 0
    for name, array in tensors.items():
        dtype = DTYPE_NAMES.get(array.dtype)
        if dtype is None:
            raise ValueError(f"cannot save tensor {name} of dtype {array.dtype} as safetensors")
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-(8 + len(encoded)) % 64)  # the spec allows trailing spaces in the header
    with atomic_write(path) as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for array in tensors.values():
            f.write(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())
            if progress is not None:
                progress(array.nbytes)
