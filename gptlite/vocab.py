"""GPT-2's vocabulary files: the byte-to-symbol map, and reading, checking and finding the two files.

Source: openai/gpt-2 `src/encoder.py` (`bytes_to_unicode`, `encoder.json`, `vocab.bpe`); Hugging Face names
the same two files `vocab.json` and `merges.txt`.

    encoder.json   {"symbol": id, ...}: every token as a string of byte symbols
    vocab.bpe      "#version: 0.2", then one merge "left right" per line, best first

A symbol is a string of printable characters, one per byte (`bytes_to_unicode`), so that both files are
plain text. The tokenizer (`tokenizer.py`) is built from them; the downloader (`weights/hub.py`) checks
downloaded files with the same functions, without building one.

GPT-1's files (Hugging Face's names) have the same layout, but their symbols are characters, not bytes, and a
word's last one ends in `</w>` ("the</w>"): `is_gpt1_vocabulary` tells the two apart, `check_gpt1_vocab` checks.

The later vocabularies, GPT-3.5/GPT-4's cl100k_base and GPT-4o's o200k_base, come as tiktoken's rank files
(openai/tiktoken `tiktoken/load.py`, `tiktoken_ext/openai_public.py`), shipped gzipped in `assets/tiktoken/`:

    NAME.tiktoken  "base64(token bytes) rank" per line; the rank is the token id and the merge priority

Their pre-tokenizer patterns, special tokens and pinned sha256 are in `ENCODINGS`, and which model uses which
in `MODEL_ENCODINGS` (tiktoken's `model.py`, `encoding_name_for_model`).
"""

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .releases import ASSETS

TIKTOKEN_DIR = ASSETS / "tiktoken"
END_OF_WORD = "</w>"  # GPT-1's vocabulary marks a word's last symbol with it


@dataclass(frozen=True)
class Encoding:
    """A tiktoken encoding's facts: its rank file (in TIKTOKEN_DIR, gzipped) and that file's sha256 once
    decompressed, its pre-tokenizer pattern and its special tokens."""

    file: str
    sha256: str
    pattern: str
    special_tokens: dict


# tiktoken_ext/openai_public.py (tiktoken 0.14.0). cl100k_base: GPT-3.5-turbo and GPT-4; o200k_base: GPT-4o.
O200K_PATTERN = "|".join(
    [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)
ENCODINGS = {
    "cl100k_base": Encoding(
        "cl100k_base.tiktoken.gz",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
        r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260,
         "<|endofprompt|>": 100276},
    ),
    "o200k_base": Encoding(
        "o200k_base.tiktoken.gz",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        O200K_PATTERN,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
}  # fmt: skip
R50K = "r50k_base"  # GPT-2's vocabulary (assets/gpt2) in rank form: tiktoken's r50k_base and gpt2 encodings
GPT2 = "gpt2"  # tiktoken's name for GPT-2's encoding; gptlite's GPT-2 vocabulary files

# tiktoken/model.py (tiktoken 0.14.0): a model's name, exactly, or else by its prefix, names its encoding.
MODEL_ENCODINGS = {
    "o1": "o200k_base", "o3": "o200k_base", "o4-mini": "o200k_base", "gpt-5": "o200k_base",
    "gpt-4.1": "o200k_base", "gpt-4o": "o200k_base",
    "gpt-4": "cl100k_base", "gpt-3.5-turbo": "cl100k_base", "gpt-3.5": "cl100k_base", "gpt-35-turbo": "cl100k_base",
    "davinci-002": "cl100k_base", "babbage-002": "cl100k_base", "text-embedding-ada-002": "cl100k_base",
    "text-embedding-3-small": "cl100k_base", "text-embedding-3-large": "cl100k_base",
    "text-davinci-003": "p50k_base", "text-davinci-002": "p50k_base", "text-davinci-001": R50K,
    "text-curie-001": R50K, "text-babbage-001": R50K, "text-ada-001": R50K,
    "davinci": R50K, "curie": R50K, "babbage": R50K, "ada": R50K,
    "code-davinci-002": "p50k_base", "code-davinci-001": "p50k_base", "code-cushman-002": "p50k_base",
    "code-cushman-001": "p50k_base", "davinci-codex": "p50k_base", "cushman-codex": "p50k_base",
    "text-davinci-edit-001": "p50k_edit", "code-davinci-edit-001": "p50k_edit",
    "text-similarity-davinci-001": R50K, "text-similarity-curie-001": R50K, "text-similarity-babbage-001": R50K,
    "text-similarity-ada-001": R50K, "text-search-davinci-doc-001": R50K, "text-search-curie-doc-001": R50K,
    "text-search-babbage-doc-001": R50K, "text-search-ada-doc-001": R50K, "code-search-babbage-code-001": R50K,
    "code-search-ada-code-001": R50K,
    "gpt2": GPT2, "gpt-2": GPT2,
}  # fmt: skip
MODEL_PREFIX_ENCODINGS = {
    "o1-": "o200k_base", "o3-": "o200k_base", "o4-mini-": "o200k_base", "gpt-5": "o200k_base",
    "gpt-4.5-": "o200k_base", "gpt-4.1-": "o200k_base", "chatgpt-4o-": "o200k_base", "gpt-4o-": "o200k_base",
    "gpt-4-": "cl100k_base", "gpt-3.5-turbo-": "cl100k_base", "gpt-35-turbo-": "cl100k_base",
    "gpt-oss-": "o200k_harmony",
    "ft:gpt-4o": "o200k_base", "ft:gpt-4": "cl100k_base", "ft:gpt-3.5-turbo": "cl100k_base",
    "ft:davinci-002": "cl100k_base", "ft:babbage-002": "cl100k_base",
}  # fmt: skip


def bytes_to_unicode():
    """Map each of the 256 byte values to a printable unicode character.

    Printable Latin-1 bytes map to themselves; the 68 others (control
    characters, space, ...) map to chr(256), chr(257), ... in byte order.
    That is why a leading space shows up as "Ġ" (chr(288)) in the vocabulary.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    n_shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n_shifted)
            n_shifted += 1
    return table


def read_vocab(encoder_path, merges_path):
    """Read a vocabulary: `encoder.json` + `vocab.bpe` (OpenAI's names) or `vocab.json` + `merges.txt` (Hugging Face's).

    Both pairs hold the same data: a JSON map symbol -> id, and a text file of
    merges, one "left right" pair per line, best first, after a "#version" line.
    """
    try:
        with open(encoder_path, encoding="utf-8") as f:
            encoder = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{Path(encoder_path).parent}: unreadable tokenizer files ({str(e)[:100]})") from None
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    for i, pair in enumerate(merges):
        if len(pair) != 2:
            raise ValueError(
                f"{merges_path}: merge {i + 1} is not two symbols separated by one space: {' '.join(pair)[:80]!r}"
            )
    return encoder, merges


def check_vocab(encoder, merges):
    """Refuse a vocabulary that cannot encode every text or decode every id, before anything is built from it:
    ids must be 0..n-1, each once; every byte must have a symbol; every merge must join two known symbols into
    a known one; a symbol must be made of byte symbols (special tokens are plain ASCII, so they are too)."""
    if not isinstance(encoder, dict) or not all(isinstance(s, str) and type(i) is int for s, i in encoder.items()):
        raise ValueError("the vocabulary is not a map from symbols to integer ids")
    ids = set(encoder.values())
    if len(ids) != len(encoder) or (ids and (min(ids) != 0 or max(ids) != len(ids) - 1)):
        raise ValueError(f"the vocabulary's ids are not 0..{len(encoder) - 1}, each once")
    byte_symbols = set(bytes_to_unicode().values())
    if not byte_symbols <= encoder.keys():
        raise ValueError("the vocabulary lacks a symbol for some byte")
    for symbol in encoder:
        if not set(symbol) <= byte_symbols:
            raise ValueError(f"the vocabulary's symbol {symbol[:40]!r} is not made of byte symbols")
    for left, right in merges:
        if left not in encoder or right not in encoder or left + right not in encoder:
            raise ValueError(f"the merge {left[:40]!r} + {right[:40]!r} joins symbols the vocabulary lacks")
    made = byte_symbols | {left + right for left, right in merges}
    orphans = [s for s in encoder if s not in made and not (s.startswith("<") and s.endswith(">"))]
    if orphans:  # every symbol but the special tokens (<|endoftext|>, ...) must come out of some merge
        raise ValueError(
            f"{len(orphans)} symbols (such as {orphans[0][:40]!r}) come out of no merge: "
            f"is the merges file cut short? ({len(merges)} merges)"
        )


def find_vocab_files(directory):
    """Return the (encoder, merges) paths in a directory, preferring OpenAI's names over Hugging Face's."""
    directory = Path(directory)
    for encoder_name, merges_name in (("encoder.json", "vocab.bpe"), ("vocab.json", "merges.txt")):
        if (directory / encoder_name).is_file() and (directory / merges_name).is_file():
            return directory / encoder_name, directory / merges_name
    raise FileNotFoundError(f"{directory}: no tokenizer files (encoder.json + vocab.bpe, or vocab.json + merges.txt)")


def check_files(encoder_path, merges_path):
    """Read a pair of vocabulary files and check them as building a tokenizer from them would (`check_vocab`,
    or `check_gpt1_vocab` for GPT-1's), without building one; an error names the file."""
    encoder, merges = read_vocab(encoder_path, merges_path)
    try:
        if isinstance(encoder, dict) and is_gpt1_vocabulary(encoder):
            check_gpt1_vocab(encoder, merges)
        else:
            check_vocab(encoder, merges)
    except ValueError as e:
        raise ValueError(f"{encoder_path}: {e}") from None


def is_gpt1_vocabulary(encoder):
    """Whether a vocabulary is in GPT-1's form (words end in `</w>`) rather than GPT-2's (bytes as symbols)."""
    return "\u0120" not in encoder and any(symbol.endswith(END_OF_WORD) for symbol in encoder)


def check_gpt1_vocab(encoder, merges):
    """Refuse a vocabulary that cannot encode: ids must be 0..n-1, each once, and every merge (two tokens, as
    read_vocab reads them) must join two known tokens into a known one."""
    if not isinstance(encoder, dict) or not all(isinstance(s, str) and type(i) is int for s, i in encoder.items()):
        raise ValueError("the vocabulary is not a map from tokens to integer ids")
    ids = set(encoder.values())
    if len(ids) != len(encoder) or (ids and (min(ids) != 0 or max(ids) != len(ids) - 1)):
        raise ValueError(f"the vocabulary's ids are not 0..{len(encoder) - 1}, each once")
    for left, right in merges:
        if left not in encoder or right not in encoder or left + right not in encoder:
            raise ValueError(f"the merge {left[:40]!r} + {right[:40]!r} joins tokens the vocabulary lacks")


def encoding_name(name, prefixes=True):
    """The tiktoken encoding a name stands for: an encoding's own name, or a model's (exactly, or with `prefixes`
    by the first matching prefix, as tiktoken's `encoding_name_for_model`); None if it is neither."""
    if name in ENCODINGS or name == R50K or name in MODEL_ENCODINGS.values():
        return name
    if name in MODEL_ENCODINGS:
        return MODEL_ENCODINGS[name]
    matches = (encoding for prefix, encoding in MODEL_PREFIX_ENCODINGS.items() if name.startswith(prefix))
    return next(matches, None) if prefixes else None


def read_ranks(path, sha256):
    """A gzipped tiktoken rank file -> {token bytes: rank}, after checking the sha256 of its decompressed bytes."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError) as e:
        raise ValueError(f"{path}: not a gzipped rank file ({e})") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{path}: its sha256 is not tiktoken's ({sha256[:16]}...): the file is damaged or another")
    fields = data.split()  # token, rank, token, rank, ...: the file checked out, so this is its layout
    return dict(zip(map(base64.b64decode, fields[::2]), map(int, fields[1::2])))
