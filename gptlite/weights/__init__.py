"""Weights on disk and on the network: the file formats GPT-2 is published in, and the download cache.

`checkpoint` loads a model directory of any kind and writes gptlite's own layout;
`safetensors`, `torch_checkpoint` and `tf_checkpoint` (with `crc32c`) read the three
formats without torch or tensorflow; `hub` downloads releases by name; `files`
writes files atomically. The model itself (`gptlite.model`) never imports any of
this: a learner can read and run it with NumPy alone.
"""

import numpy as np


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16, stored as uint16, widened exactly: a bfloat16 is the upper 16 bits of a float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)
