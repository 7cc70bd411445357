"""GPT-2's vocabulary files: the byte-to-symbol map, and reading, checking and finding the two files.

Source: openai/gpt-2 `src/encoder.py` (`bytes_to_unicode`, `encoder.json`, `vocab.bpe`); Hugging Face names
the same two files `vocab.json` and `merges.txt`.

    encoder.json   {"symbol": id, ...}: every token as a string of byte symbols
    vocab.bpe      "#version: 0.2", then one merge "left right" per line, best first

A symbol is a string of printable characters, one per byte (`bytes_to_unicode`), so that both files are
plain text. The tokenizer (`tokenizer.py`) is built from them; the downloader (`weights/hub.py`) checks
downloaded files with the same functions, without building one.
"""

import json
from pathlib import Path


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
    """Read a pair of vocabulary files and check them as building a tokenizer from them would (`check_vocab`),
    without building one; an error names the file."""
    encoder, merges = read_vocab(encoder_path, merges_path)
    try:
        check_vocab(encoder, merges)
    except ValueError as e:
        raise ValueError(f"{encoder_path}: {e}") from None
