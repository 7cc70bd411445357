"""Notebook 01, "The tokenizer, step by step" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, md

CELLS = [
    md("""
# 1. The tokenizer, step by step

A language model reads numbers, not letters. GPT-2's tokenizer turns text into token ids in three steps, and
this notebook takes each one apart: **bytes** (so that any text at all can be encoded), **BPE merges** (so that
common sequences of bytes become single tokens), and **ids** (a lookup in the vocabulary). The code is
`gptlite/tokenizer.py`; GPT-2's own is `encoder.py` in openai/gpt-2.

Everything here runs offline: GPT-2's vocabulary ships with gptlite.
"""),
    code("""
from gptlite import Tokenizer
from gptlite.tokenizer import PATTERN, bytes_to_unicode

tok = Tokenizer.from_pretrained("gpt2")
tok
"""),
    md("""
## Step 1: pre-tokenize

A regular expression cuts the text into pieces: words with the space before them, numbers, runs of
punctuation, runs of whitespace, and a few English contractions. BPE never merges across two pieces, so
" the" and "the" are different tokens, and so are "Hello" and " Hello".
"""),
    code("""
text = "Hello world! GPT-2's tokenizer handles 2026 emoji 😀 too."
PATTERN.findall(text)
"""),
    md("""
## Step 2: bytes become symbols

Each piece is encoded as UTF-8 bytes, and each of the 256 byte values is shown as one printable character,
so that the vocabulary file is plain text. Printable ASCII stays itself; the space becomes `Ġ` and a newline
`Ċ`. The emoji is four bytes, so four symbols.
"""),
    code("""
table = bytes_to_unicode()
for piece in [" world", "!", " 😀"]:
    symbols = "".join(table[b] for b in piece.encode("utf-8"))
    print(repr(piece), "->", list(piece.encode("utf-8")), "->", list(symbols))
"""),
    md("""
## Step 3: merge, best pair first

The merge list (`vocab.bpe`, 50,000 pairs learned from WebText) is ranked: the first pair learned is the most
common. BPE repeatedly merges the adjacent pair that ranks best, until no adjacent pair is in the list. Here is
every merge of one word, in the order BPE makes them:
"""),
    code("""
def merges_of(word):
    parts = list("".join(table[b] for b in word.encode("utf-8")))
    while True:
        pairs = [(tok.ranks.get(pair, float("inf")), i) for i, pair in enumerate(zip(parts, parts[1:]))]
        rank, i = min(pairs, default=(float("inf"), 0))
        if rank == float("inf"):
            return parts
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
        print(f"merge {rank:>5}: {parts}")

merges_of(" tokenizer")
"""),
    md("""
Each final symbol is looked up in the vocabulary (`encoder.json`) to get its id. The whole of it is one call,
and decoding goes back the same way:
"""),
    code("""
ids = tok.encode(" tokenizer")
ids, tok.to_str_tokens(ids), tok.decode(ids)
"""),
    code("""
ids = tok.encode(text)
print(len(text.encode("utf-8")), "bytes ->", len(ids), "tokens")
print(tok.to_str_tokens(ids))
"""),
    md("""
The emoji came out as pieces that are not text on their own (`�`): its four bytes are split across tokens, and
only together do they decode. `tok.stream_decoder()` handles that when text is printed token by token.

## Train a small BPE yourself

`train_bpe` learns merges the same way GPT-2's were learned: count every adjacent pair, merge the most frequent,
repeat. On one paragraph the first merges are the commonest pairs of English letters.
"""),
    code("""
from gptlite.tokenizer import train_bpe

paragraph = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
    "it was the season of Darkness, it was the spring of hope, it was the winter of despair."
)
encoder, merges = train_bpe(paragraph, vocab_size=300)
print([a + " + " + b for a, b in merges[:12]])
small = Tokenizer(encoder, merges)
print(small.to_str_tokens(small.encode("it was the age of wisdom")))
"""),
    md("""
With only 43 merges, whole words like " was" and " the" are already single tokens. GPT-2's 50,000 merges go
much further: most common English words are one token. `gptlite-shakespeare`, the model that ships with
gptlite, has its own 2,048-token vocabulary trained this way on Shakespeare.
"""),
]
