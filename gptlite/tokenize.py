"""Command line: a text's token ids, or how many there are, with GPT-2's tokenizer or a later GPT's.

    python -m gptlite.tokenize --encoding cl100k_base notes.txt          # GPT-3.5-turbo / GPT-4's ids
    python -m gptlite.tokenize --encoding gpt-4o --count notes.txt       # how many tokens GPT-4o sees
    cat notes.txt | python -m gptlite.tokenize -                         # GPT-2's, from stdin

--encoding takes what `Tokenizer.from_pretrained` takes: tiktoken's encodings (cl100k_base, o200k_base,
r50k_base), a model's name as tiktoken maps it ("gpt-4", "gpt-3.5-turbo", "gpt-4o"), GPT-2's release names,
a directory or a Hugging Face repo id. The file is read in blocks of a megabyte (`Tokenizer.encode_stream`),
so memory stays bounded however long it is; the ids are those of encoding it whole. Special-token text such as
"<|endoftext|>" is ordinary text unless --allow-special makes it the special token's id.
"""

import sys

from .cli import ArgumentParser, read_blocks, run
from .tokenizer import Tokenizer

BLOCK = 1 << 20  # bytes read at a time


def main(argv=None):
    p = ArgumentParser(prog="gptlite.tokenize", description="Print a text's token ids, or count them.")
    p.add_argument("file", help='a UTF-8 text file, or "-" for stdin')
    p.add_argument(
        "--encoding",
        default="gpt2",
        help="cl100k_base, o200k_base, r50k_base, a model's name (gpt-4, gpt-4o, gpt2, ...), a directory or a "
        "repo id (default: gpt2)",
    )
    p.add_argument("--count", action="store_true", help="print only how many tokens there are")
    p.add_argument(
        "--allow-special", action="store_true", help="encode special-token text such as <|endoftext|> as its id"
    )
    args = p.parse_args(argv)

    def action():
        tokenizer = Tokenizer.from_pretrained(args.encoding)
        allowed = "all" if args.allow_special else ()
        n_tokens, first = 0, True
        for ids in tokenizer.encode_stream(read_blocks(args.file, BLOCK), allowed_special=allowed):
            n_tokens += len(ids)
            if not args.count and ids:
                sys.stdout.write(("" if first else " ") + " ".join(map(str, ids)))
                first = False
        print(n_tokens if args.count else "")

    return run("gptlite.tokenize", action)


if __name__ == "__main__":
    sys.exit(main())
