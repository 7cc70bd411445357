"""Command line: learn a byte-level BPE vocabulary from a text file (see `tokenizer.train_bpe`).

    python -m gptlite.train_tokenizer corpus.txt --vocab-size 4096 --out my-tokenizer/

Writes encoder.json + vocab.bpe, which `Tokenizer.from_pretrained("my-tokenizer/")` loads.
"""

import sys
import time
from pathlib import Path

from .cli import ArgumentParser, run
from .tokenizer import save_vocab, train_bpe


def main(argv=None):
    p = ArgumentParser(prog="gptlite.train_tokenizer", description="Learn a byte-level BPE vocabulary from text.")
    p.add_argument("text", help="a UTF-8 text file")
    p.add_argument("--vocab-size", type=int, default=4096, help="256 bytes + merges + <|endoftext|> (default: 4096)")
    p.add_argument("--out", required=True, help="directory for encoder.json and vocab.bpe")
    args = p.parse_args(argv)

    def action():
        t0 = time.perf_counter()
        encoder, merges = train_bpe(Path(args.text).read_text(encoding="utf-8"), args.vocab_size)
        save_vocab(args.out, encoder, merges)
        print(f"{len(encoder)} tokens ({len(merges)} merges) in {time.perf_counter() - t0:.1f} s -> {args.out}")

    return run("gptlite.train_tokenizer", action)


if __name__ == "__main__":
    sys.exit(main())
