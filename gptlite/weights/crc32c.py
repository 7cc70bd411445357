"""CRC-32C (Castagnoli), the checksum TensorFlow stores for every tensor in a checkpoint, in NumPy.

Source: RFC 3720 section 12.1 (the polynomial), and TensorFlow's
`core/lib/hash/crc32c.h` for the "mask" applied to stored checksums.

A CRC is a remainder of polynomial division over GF(2), computed one byte at a
time with a 256-entry table: crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8).
That loop is sequential, so pure Python manages a few MB/s, far too slow for a
6 GB checkpoint. But a CRC is linear: the CRC of A followed by B is the CRC of
A "shifted" past len(B) zero bytes, xor the CRC of B. So we cut the data into
many equal chunks, run the byte loop on all chunks at once as NumPy vectors
(one step per byte position, not per byte), then fold the chunk CRCs together
with a precomputed shift-by-chunk-length operator.
"""

import numpy as np

POLY = 0x82F63B78  # the Castagnoli polynomial, bit-reversed


def _table():
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(POLY), table >> 1).astype(np.uint32)
    return table


TABLE = _table()


def _raw(chunks):
    """The CRC register of each row of a [n_chunks, n_bytes] uint8 array, starting from 0, no final xor."""
    crc = np.zeros(chunks.shape[0], dtype=np.uint32)
    for column in chunks.T:  # one byte position of every chunk per step
        crc = TABLE[(crc ^ column) & 0xFF] ^ (crc >> 8)
    return crc


def _shift_operator(n_bytes):
    """Byte tables for the linear map "run the CRC register over n_bytes zero bytes": 4 x [256] uint32."""
    basis = np.uint32(1) << np.arange(32, dtype=np.uint32)  # the register holding a single 1 bit
    images = _raw_from(basis, np.zeros(n_bytes, np.uint8))  # where each bit ends up
    tables = np.zeros((4, 256), dtype=np.uint32)
    for byte in range(4):  # xor together the images of the set bits, one table per byte of the register
        for value in range(256):
            bits = [images[8 * byte + i] for i in range(8) if value >> i & 1]
            tables[byte, value] = np.bitwise_xor.reduce(bits) if bits else 0
    return tables


def _raw_from(registers, data):
    """Run each starting register in `registers` over the same bytes."""
    crc = registers.astype(np.uint32)
    for byte in data:
        crc = TABLE[(crc ^ np.uint32(byte)) & 0xFF] ^ (crc >> 8)
    return crc


def _apply(tables, crc):
    c = int(crc)
    return int(tables[0, c & 0xFF] ^ tables[1, (c >> 8) & 0xFF] ^ tables[2, (c >> 16) & 0xFF] ^ tables[3, c >> 24])


CHUNK = 4096  # bytes per chunk
CHUNKS_PER_BLOCK = 16384  # chunks computed side by side: 64 MB of data, vectors of 16,384 registers
_SHIFT_CHUNK = None  # built on first use: the shift past CHUNK zero bytes


def crc32c(data):
    """CRC-32C of a bytes-like object or array (init 0xFFFFFFFF, final xor 0xFFFFFFFF)."""
    global _SHIFT_CHUNK
    data = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    n_full = len(data) // CHUNK
    register = 0xFFFFFFFF  # the standard initial value, as if it were the register before the data
    if n_full and _SHIFT_CHUNK is None:
        _SHIFT_CHUNK = _shift_operator(CHUNK)
    for start in range(0, n_full, CHUNKS_PER_BLOCK):
        stop = min(start + CHUNKS_PER_BLOCK, n_full)
        for crc in _raw(data[start * CHUNK : stop * CHUNK].reshape(stop - start, CHUNK)).tolist():
            register = _apply(_SHIFT_CHUNK, register) ^ crc  # CRC(A + B) = shift(CRC(A), len B) ^ CRC(B)
    register = int(_raw_from(np.array([register], np.uint32), data[n_full * CHUNK :])[0])
    return register ^ 0xFFFFFFFF


def mask(crc):
    """TensorFlow stores CRCs "masked" (rotated and offset) so that a CRC of data holding CRCs stays strong."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
