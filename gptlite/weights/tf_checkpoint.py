"""Reading TensorFlow V2 checkpoints (OpenAI's original GPT-2 release) without TensorFlow.

Sources: TensorFlow's `core/util/tensor_bundle/tensor_bundle.{h,cc}` and
`core/protobuf/tensor_bundle.proto`; LevelDB's table format (`doc/table_format.md`).

A checkpoint `model.ckpt` is an index and one or more data shards:

* `model.ckpt.index`: a sorted table of tensor name -> `BundleEntryProto`, in
  LevelDB's "SSTable" format. From the end of the file:
    - footer, 48 bytes: the metaindex block's handle and the index block's handle
      (each a varint offset and a varint size), zero padding to 40 bytes, then the
      magic number 0xdb4775248b80fb57 (8 bytes, little-endian);
    - the index block maps the last key of each data block to that block's handle;
    - every block ends with a 5-byte trailer: compression type (0 = none) and a
      masked CRC-32C of the block and that type byte;
    - a block holds entries, each key stored as the length it shares with the
      previous key, the length of the rest, the value's length, the rest of the
      key and the value (three varints, then bytes), followed by "restart points"
      (uint32 offsets where a full key is stored) and their count (uint32).
  The entry under the empty key is the header (`BundleHeaderProto`: shard count).
* `model.ckpt.data-00000-of-00001`: tensors as raw little-endian bytes. Each
  `BundleEntryProto` gives dtype (field 1), shape (2), shard (3), offset (4),
  size (5) and a masked CRC-32C of those bytes (6), checked here.

OpenAI's variables are `model/wte`, `model/h0/attn/c_attn/w` and so on; the
weights of their "conv1d" layers carry a leading dimension of 1.
"""

import math
import os
import struct

import numpy as np

from . import bfloat16_to_float32
from .crc32c import crc32c, mask

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64, 10: np.bool_,
          14: np.uint16, 19: np.float16}  # fmt: skip  # TensorFlow's DataType enum; 14 = bfloat16
BFLOAT16 = 14


def varint(buf, pos):
    """Decode a protobuf / LevelDB varint at pos: 7 bits per byte, low bits first, high bit = more follows.
    A 64-bit number takes at most 10 bytes; a longer one is a broken file, not a bigger number."""
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise ValueError("varint runs past the end of its buffer")
        byte = buf[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
    raise ValueError("varint longer than 10 bytes")


def proto_fields(buf):
    """Yield (field number, value) of a protobuf message: ints for varint and fixed fields, bytes for the rest."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire in (1, 5):  # fixed64, fixed32
            size = 8 if wire == 1 else 4
            if pos + size > len(buf):
                raise ValueError("fixed-size protobuf field runs past the end of its message")
            value, pos = int.from_bytes(buf[pos : pos + size], "little"), pos + size
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = bytes(buf[pos : pos + length]), pos + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("protobuf field runs past the end of its message")
        yield field, value


def parse_entry(buf):
    """BundleEntryProto -> dict(dtype, shape, shard, offset, size, crc32c)."""
    entry = {"dtype": 0, "shape": [], "shard": 0, "offset": 0, "size": 0, "crc32c": None}
    for field, value in proto_fields(buf):
        if field == 1:
            entry["dtype"] = value
        elif field == 2:  # TensorShapeProto: repeated Dim dim = 2, each with int64 size = 1
            entry["shape"] = [dict(proto_fields(dim)).get(1, 0) for f, dim in proto_fields(value) if f == 2]
        elif field in (3, 4, 5, 6):
            entry[{3: "shard", 4: "offset", 5: "size", 6: "crc32c"}[field]] = value
        elif field == 7:
            raise ValueError("partitioned (sliced) variables are not supported")
    if not all(isinstance(v, int) for k, v in entry.items() if k != "shape" and v is not None) or not all(
        isinstance(d, int) for d in entry["shape"]
    ):
        raise ValueError("a tensor entry has a field of the wrong type")
    return entry


def read_block(data, handle, source):
    """A block's contents, after checking its trailer's masked CRC."""
    offset, size = handle
    if offset + size + 5 > len(data):
        raise ValueError(f"{source}: block at {offset} runs past the end of the file (truncated?)")
    block = data[offset : offset + size]
    compression, stored = data[offset + size], struct.unpack_from("<I", data, offset + size + 1)[0]
    if mask(crc32c(data[offset : offset + size + 1])) != stored:
        raise ValueError(f"{source}: block at {offset} fails its checksum (corrupted file)")
    if compression != 0:
        raise ValueError(f"{source}: compressed blocks are not supported")
    return block


def block_entries(block, source):
    """Yield (key, value) from a block, undoing the shared-prefix key compression."""
    if len(block) < 4:
        raise ValueError(f"{source}: block too short")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts  # entries stop where the restart array begins
    if end < 0:
        raise ValueError(f"{source}: block has a broken restart array")
    pos, key = 0, b""
    while pos < end:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        value_len, pos = varint(block, pos)
        if shared > len(key) or pos + unshared + value_len > end:
            raise ValueError(f"{source}: block entry at {pos} is malformed")
        key = key[:shared] + bytes(block[pos : pos + unshared])
        pos += unshared
        yield key, bytes(block[pos : pos + value_len])
        pos += value_len


def read_index(path):
    """The index file -> (header fields, {tensor name: entry dict})."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _parse_index(data, path)
    except (struct.error, UnicodeDecodeError, TypeError) as e:  # struct: a fixed field cut short
        raise ValueError(f"{path}: broken checkpoint index ({str(e)[:100]})") from None
    except ValueError as e:
        message = str(e)
        raise ValueError(message if message.startswith(str(path)) else f"{path}: {message[:200]}") from None


def _parse_index(data, path):
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != MAGIC:
        raise ValueError(f"{path}: not a TensorFlow checkpoint index (no table magic number; truncated?)")
    footer = data[-FOOTER_SIZE:]
    _meta_offset, pos = varint(footer, 0)
    _meta_size, pos = varint(footer, pos)
    index_offset, pos = varint(footer, pos)
    index_size, pos = varint(footer, pos)
    header, entries = None, {}
    for _last_key, handle in block_entries(read_block(data, (index_offset, index_size), path), path):
        block_offset, p = varint(handle, 0)
        block_size, _ = varint(handle, p)
        for key, value in block_entries(read_block(data, (block_offset, block_size), path), path):
            if key == b"":
                header = dict(proto_fields(value))
            else:
                entries[key.decode("utf-8")] = parse_entry(value)
    if header is None:
        raise ValueError(f"{path}: checkpoint index has no header entry")
    return header, entries


def load(prefix, progress=None):
    """Read every tensor of the checkpoint `prefix` (e.g. "dir/model.ckpt") into {name: np.ndarray};
    `progress(n_bytes)` is told of each tensor checked (the CRC of a large checkpoint takes a while)."""
    header, entries = read_index(f"{prefix}.index")
    n_shards = header.get(1, 1)
    if not isinstance(n_shards, int) or not 1 <= n_shards <= 99999:
        raise ValueError(f"{prefix}.index: the header gives {str(n_shards)[:20]} data shards")
    shards = {}
    tensors = {}
    for name, entry in entries.items():
        if entry["dtype"] not in DTYPES:
            raise ValueError(f"{prefix}: tensor {name} has unsupported dtype {entry['dtype']}")
        if not isinstance(entry["shard"], int) or entry["shard"] >= n_shards:
            raise ValueError(f"{prefix}.index: tensor {name[:80]} is in shard {str(entry['shard'])[:20]} of {n_shards}")
        shard = f"{prefix}.data-{entry['shard']:05d}-of-{n_shards:05d}"
        if shard not in shards:
            if not os.path.isfile(shard):
                raise FileNotFoundError(f"{shard}: checkpoint data shard not found")
            shards[shard] = np.memmap(shard, dtype=np.uint8, mode="r")
        data = shards[shard]
        dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
        count = math.prod(entry["shape"])  # exact: a made-up shape cannot overflow it
        if entry["size"] != count * dtype.itemsize or entry["offset"] + entry["size"] > len(data):
            raise ValueError(f"{shard}: tensor {name} does not fit the data file (truncated?)")
        raw = data[entry["offset"] : entry["offset"] + entry["size"]]
        if entry["crc32c"] is not None and mask(crc32c(raw)) != entry["crc32c"]:
            raise ValueError(f"{shard}: tensor {name} fails its CRC-32C check (corrupted file)")
        array = np.array(raw.view(dtype).reshape(entry["shape"]))
        if entry["dtype"] == BFLOAT16:
            array = bfloat16_to_float32(array)
        tensors[name] = array
        if progress is not None:
            progress(entry["size"])
    return tensors


def openai_name(name):
    """OpenAI's variable name -> gptlite's: "model/h3/attn/c_attn/w" -> "h.3.attn.c_attn.w"."""
    parts = name.removeprefix("model/").split("/")
    if parts[0].startswith("h") and parts[0][1:].isdigit():
        parts[0:1] = ["h", parts[0][1:]]
    return ".".join(parts)


def load_openai(prefix, progress=None):
    """OpenAI's GPT-2 checkpoint -> {gptlite name: array}, with the conv1d weights' leading 1 squeezed away."""
    tensors = {}
    for name, array in load(prefix, progress).items():
        if name.startswith("model/"):
            tensors[openai_name(name)] = array[0] if array.ndim == 3 and array.shape[0] == 1 else array
    return tensors
