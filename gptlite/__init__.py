"""gptlite: GPT-2 in pure NumPy.

    from gptlite import GPT
    gpt = GPT.from_pretrained("gpt2")
    print(gpt.complete("The weather today is"))

Modules, in reading order:

* `tokenizer`: text <-> token ids (GPT-2's byte-level BPE), `vocab` its files;
* `model`: the transformer, every array operation with its shape;
* `sampling`: logits -> the next token;
* `engine`: a model's weights, the path they run on, and its KV caches;
* `decoding`: the one decode loop (batches, the sliding window, its seams);
* `text`: prompts in, text out, stop strings;
* `gpt`: the `GPT` class, the front door to all of it; `checks`: its arguments;
* `beam`: beam search; `conversation`: a KV cache kept from turn to turn;
* `parallel`: the same forward pass on two cores (Megatron-LM's split), checked against `model`;
* `hooks`: the names of every activation, and recording or changing them;
* `inspection` and `views`: a recorded run, the logit lens, traces, and their pictures;
* `scoring`: log-probabilities, perplexity by the published protocols, zero-shot tasks;
* `backprop`, then `train`: the backward pass by hand, AdamW and the training loop.

Beside them: `releases` (the models known by name), `weights/` (file formats,
downloads and the cache), `files` and `progress` (atomic writes, progress
bars), and the commands `generate`, `inspect`, `eval`, `download`, `convert`,
`train_tokenizer`, `train` (with `cli`, what they share).
"""

import sys


def _one_line_on_interrupt(kind, value, traceback, previous=sys.excepthook):
    """Ctrl-C while a gptlite command is still loading (before its `run` wrapper is reached): one line on stderr
    instead of a traceback; Python still exits as killed by SIGINT (status 130)."""
    if issubclass(kind, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
    else:
        previous(kind, value, traceback)


_command = (sys.argv or [""])[0]  # "-m" while `python -m gptlite.X` imports this package; a console script's path
if _command == "-m" or _command.rpartition("/")[2].startswith("gptlite-"):
    sys.excepthook = _one_line_on_interrupt

# After the hook: these imports are most of a command's start.
from .gpt import GPT  # noqa: E402
from .model import Config  # noqa: E402
from .sampling import Sampler  # noqa: E402
from .tokenizer import Tokenizer  # noqa: E402

__all__ = ["GPT", "Config", "Sampler", "Tokenizer"]
__version__ = "0.2.0.dev0"
