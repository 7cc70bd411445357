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
import os
import struct

import numpy as np

from . import bfloat16_to_float32
from .files import atomic_write

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,  # bf16: upper half of a float32
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}  # fmt: skip
DTYPE_NAMES = {np.dtype(v): k for k, v in DTYPES.items() if k != "BF16"}


def read_header(path):
    """Return (header dict, byte offset where the data starts), checking the header against the file size."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
        (n,) = struct.unpack("<Q", prefix)
        if n > size - 8:
            raise ValueError(
                f"{path}: not a safetensors file, or truncated (header of {n} bytes in a {size}-byte file)"
            )
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: broken safetensors header ({e})") from None
    data_size = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if info["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        expected = int(np.prod(info["shape"], dtype=np.int64)) * np.dtype(DTYPES[info["dtype"]]).itemsize
        if not 0 <= begin <= end <= data_size or end - begin != expected:
            raise ValueError(f"{path}: tensor {name} has data offsets {begin}..{end} that do not fit the file")
    return header, 8 + n


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


def save(path, tensors, metadata=None):
    """Write {name: np.ndarray} as a safetensors file, atomically; the data starts 64-byte aligned."""
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
