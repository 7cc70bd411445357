"""Command line: convert a checkpoint directory to gptlite's layout (see `weights/checkpoint.py`).

    python -m gptlite.convert path/to/hf-gpt2 path/to/out

The converted directory loads by memory map, with no conversion work at load time.
"""

import sys

from .cli import ArgumentParser, run
from .weights.checkpoint import load_dir, save_converted


def convert(src, dst):
    """Load any checkpoint directory gptlite reads and write it to `dst` in gptlite's layout."""
    config, tensors, vocab = load_dir(src)
    save_converted(dst, config, tensors, vocab, source=src)
    return config


def main(argv=None):
    p = ArgumentParser(prog="gptlite.convert", description="Convert a GPT-2 checkpoint directory to gptlite's layout.")
    p.add_argument("src", help="a Hugging Face GPT-2 directory (config.json + model.safetensors) or a gptlite model")
    p.add_argument("dst", help="the directory to write (created if missing)")
    args = p.parse_args(argv)

    def action():
        config = convert(args.src, args.dst)
        print(f"wrote {args.dst}: {config.n_layer} layers, {config.n_embd} wide, {config.n_head} heads")

    return run("gptlite.convert", action)


if __name__ == "__main__":
    sys.exit(main())
