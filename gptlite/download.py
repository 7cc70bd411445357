"""Command line: download, check, convert and cache a GPT-2 release without generating anything.

    python -m gptlite.download gpt2-xl
    python -m gptlite.download gpt2 --source openai          # OpenAI's original TensorFlow checkpoint
    python -m gptlite.download someone/gpt2-finetune --revision v1.0

Prints the cached model's directory. See `gptlite/weights/hub.py` for the cache and the environment variables. A
directory is printed as it is once it loads as a model; one that holds no model is refused.
"""

import os
import sys

from .cli import ArgumentParser, run
from .releases import known_names
from .weights.checkpoint import load_dir
from .weights.hub import resolve


def download(name, source, revision, quiet):
    """The directory of the model `name`: fetched and cached, or a local directory checked by loading it."""
    if os.path.isdir(name):
        load_dir(name)  # a one-line error for a directory that holds no model
    return resolve(name, source=source, revision=revision, quiet=quiet)


def main(argv=None):
    p = ArgumentParser(prog="gptlite.download", description="Download and convert a GPT-2 model into gptlite's cache.")
    p.add_argument("name", help=f"{known_names()}, or a Hugging Face repo id (owner/name)")
    p.add_argument(
        "--source",
        choices=["hf", "openai"],
        default="hf",
        help="Hugging Face (hf) or OpenAI's original TensorFlow release (openai) (default: hf)",
    )
    p.add_argument("--revision", default="main", help="a Hugging Face branch, tag or commit (default: main)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    return run(
        "gptlite.download",
        lambda: print(download(args.name, args.source, args.revision, args.quiet)),
        interrupted="gptlite.download: interrupted; run again to resume",
    )


if __name__ == "__main__":
    sys.exit(main())
