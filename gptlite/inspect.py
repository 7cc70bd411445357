"""Command line: look inside GPT-2 on a text, in the terminal or as an HTML page that works offline.

    python -m gptlite.inspect "After John and Mary went to the store, John gave a bottle of milk to"
    python -m gptlite.inspect "The weather today is" --model gpt2 --html out.html --generate 20

Prints each token's probability, the likeliest next tokens, the logit lens and
what the last token attends to; `--html` writes the same as one page of pictures
(tokens, attention with a layer and head picker, logit lens, and with
`--generate N` the trace of a generation). See `inspection.py` for the Python API.
"""

import sys

from .cli import ArgumentParser, at_least, run
from .releases import BUNDLED, known_names


def parser():
    p = ArgumentParser(prog="gptlite.inspect", description="Look inside GPT-2: probabilities, attention, logit lens.")
    p.add_argument("text", help="the text to run through the model")
    p.add_argument(
        "--model",
        default=BUNDLED,
        metavar="NAME_OR_DIR",
        help=f"{known_names()}, a Hugging Face repo id or a model directory (default: %(default)s)",
    )
    p.add_argument("--html", metavar="FILE", help="also write the pictures as one self-contained HTML page")
    p.add_argument(
        "--generate",
        type=at_least(0),
        default=0,
        metavar="N",
        help="also generate N tokens and trace them (greedy unless --seed is given)",
    )
    p.add_argument("--seed", type=int, default=None, help="sample the --generate tokens with this seed")
    p.add_argument(
        "--top", type=at_least(1), default=5, metavar="K", help="alternatives to show (default: %(default)s)"
    )
    return p


def inspect(args):
    from .gpt import GPT

    gpt = GPT.from_pretrained(args.model)
    result = gpt.run(args.text)
    print(result.token_view(args.top))
    print("\nnext token:", ", ".join(f"{t.token!r} {t.probability:.1%}" for t in result.top(args.top)))
    print()
    print(result.logit_lens())
    print()
    print(result.attention())
    trace = None
    if args.generate:
        temperature = 0 if args.seed is None else 1.0
        trace = gpt.trace(args.text, args.generate, alternatives=args.top, temperature=temperature, seed=args.seed)
        print()
        print(trace)
    if args.html:
        from .views import save_page

        views = [result.token_view(args.top), result.attention(), result.logit_lens()] + ([trace] if trace else [])
        save_page(args.html, f"gptlite.inspect: {args.text[:60]}", views)
        print(f"\nwrote {args.html}", file=sys.stderr)


def main(argv=None):
    args = parser().parse_args(argv)
    return run("gptlite.inspect", lambda: inspect(args))


if __name__ == "__main__":
    sys.exit(main())
