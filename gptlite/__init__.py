"""gptlite: GPT-2 in pure NumPy.

    from gptlite import GPT
    gpt = GPT.from_pretrained("gpt2")
    print(gpt.complete("The weather today is"))

Modules, in reading order: `tokenizer` (text <-> ids), `model` (the
transformer), `sampling` (logits -> next token), `gpt` (the GPT class and
generation), `safetensors` and `checkpoint` (weights on disk), `generate` (the
command line).
"""

from .gpt import GPT
from .model import Config
from .sampling import Sampler
from .tokenizer import Tokenizer

__all__ = ["GPT", "Config", "Sampler", "Tokenizer"]
__version__ = "0.1.0"
