"""gptlite: GPT-2 in pure NumPy.

    from gptlite import GPT
    gpt = GPT.from_pretrained("gpt2")
    print(gpt.complete("The weather today is"))

Modules, in reading order:

* `tokenizer`: text <-> token ids (GPT-2's byte-level BPE);
* `model`: the transformer, every array operation with its shape;
* `sampling`: logits -> the next token;
* `gpt`: the `GPT` class, generation with the KV cache, batching and the sliding window;
* `beam`: beam search;
* `hooks`: the names of every activation, and recording or changing them;
* `inspection` and `views`: a recorded run, the logit lens, traces, and their pictures;
* `scoring`: log-probabilities, perplexity by the published protocols, zero-shot tasks;
* `backprop`, then `train`: the backward pass by hand, AdamW and the training loop.

Beside them: `releases` (the models known by name), `weights/` (file formats,
downloads and the cache), and the commands `generate`, `inspect`, `eval`,
`download`, `convert`, `train_tokenizer`, `train`.
"""

from .gpt import GPT
from .model import Config
from .sampling import Sampler
from .tokenizer import Tokenizer

__all__ = ["GPT", "Config", "Sampler", "Tokenizer"]
__version__ = "0.2.0.dev0"
