"""Command line: continue a prompt with GPT-2, streaming the text as it is generated.

    python -m gptlite.generate "The weather today is"
    python -m gptlite.generate --model path/to/model --temperature 0 --max-new-tokens 20 "Hello"

Prints the prompt, then the continuation as it arrives. Bad input gets one
line on stderr naming the problem, and exit status 2.
"""

import sys

from .cli import ArgumentParser, run
from .gpt import GPT
from .releases import BUNDLED, known_names
from .sampling import Sampler
from .weights import hub


def parser():
    p = ArgumentParser(prog="gptlite.generate", description="Continue a prompt with a GPT-2 model, streaming the text.")
    p.add_argument("prompt", help="the text to continue; an empty string starts a new document")
    p.add_argument(
        "--model",
        metavar="NAME_OR_DIR",
        help=f"{known_names()} (bundled), a Hugging Face repo id (owner/name) or a model directory; names "
        "are downloaded and cached on first use (default: gpt2, or the bundled model when gpt2 cannot "
        "be had)",
    )
    p.add_argument(
        "--source",
        choices=["hf", "openai"],
        default="hf",
        help="where a name is downloaded from: Hugging Face, or OpenAI's TensorFlow release (default: hf)",
    )
    p.add_argument(
        "--max-new-tokens", type=int, default=64, metavar="N", help="generate at most N tokens (default: 64)"
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=Sampler.temperature,
        metavar="T",
        help="randomness: 0 always picks the likeliest token, higher is more varied (default: %(default)s)",
    )
    p.add_argument(
        "--top-k",
        type=int,
        default=Sampler.top_k,
        metavar="K",
        help="sample only from the K likeliest tokens; 0 = no limit (default: %(default)s)",
    )
    p.add_argument(
        "--top-p",
        type=float,
        default=Sampler.top_p,
        metavar="P",
        help="sample only from the likeliest tokens whose probabilities add up to P, in (0, 1] (default: %(default)s)",
    )
    p.add_argument(
        "--repetition-penalty",
        type=float,
        default=Sampler.repetition_penalty,
        metavar="R",
        help="make tokens already in the text less likely; 1 = off, 1.2 is typical (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=None, metavar="S", help="random seed, for output that repeats exactly")
    p.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="end the output just before TEXT; may be given more than once",
    )
    return p


def default_model(source):
    """gpt2 when it is cached or can be downloaded; else the bundled model, said in one line on stderr."""
    offline = hub.offline_variable()
    if hub.is_cached("gpt2", source) or (offline is None and hub.reachable()):
        try:
            return GPT.from_pretrained("gpt2", source=source)
        except OSError as e:  # the download failed
            reason = str(e).split(";")[0]
    else:
        reason = f"{offline}=1 and it is not cached" if offline else "no network and it is not cached"
    print(
        f"gptlite.generate: using the bundled model {BUNDLED} (trained on Shakespeare), since gpt2 is not "
        f"available ({reason}); get gpt2 with `python -m gptlite.download gpt2` where there is network",
        file=sys.stderr,
    )
    return GPT.from_pretrained(BUNDLED)


def generate(args):
    if args.model == "":
        raise ValueError("--model is empty: give a model name or directory, or leave --model out for the default")
    gpt = GPT.from_pretrained(args.model, source=args.source) if args.model is not None else default_model(args.source)
    pieces = gpt.stream(
        args.prompt,
        args.max_new_tokens,
        stop=args.stop,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
    )
    first = next(pieces, "")  # argument errors surface here, before the prompt is printed
    print(args.prompt + first, end="", flush=True)
    for piece in pieces:
        print(piece, end="", flush=True)
    print()


def main(argv=None):
    args = parser().parse_args(argv)
    return run("gptlite.generate", lambda: generate(args))


if __name__ == "__main__":
    sys.exit(main())
