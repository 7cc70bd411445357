"""GPT-2's byte-level BPE tokenizer, token for token; and GPT-3.5/GPT-4's and GPT-4o's (tiktoken's encodings).

Source: openai/gpt-2 `src/encoder.py`, and Section 2.2 of the GPT-2 paper
(Radford et al. 2019, "Language Models are Unsupervised Multitask Learners").

Text becomes token ids in three steps:

1. Pre-tokenize. A regex cuts the text into pieces: words with their leading
   space (" hello"), runs of digits, runs of punctuation, runs of whitespace and
   a few English contractions ("'s", "'ll"). BPE never merges across pieces.
2. Bytes to symbols. Each piece is UTF-8 encoded and every byte is mapped to one
   printable unicode character (`vocab.bytes_to_unicode`), so that the vocabulary
   files are plain text and any byte string can be tokenized: nothing is ever
   "unknown".
3. Byte pair encoding. Start from one symbol per byte, then repeatedly merge
   the adjacent pair that ranks best in the merge list (`vocab.bpe`, learned
   from WebText), until no adjacent pair is in the list. Each final symbol is
   looked up in `encoder.json` to get its id.

GPT-2's vocabulary is 256 byte symbols + 50,000 merges + `<|endoftext|>` =
50,257 ids. Decoding is the reverse: ids -> symbols -> bytes -> UTF-8 text.

Special tokens follow tiktoken's rules: `encode` refuses text that contains
`<|endoftext|>` unless the caller says how to treat it, because a user's text
silently turning into a control token is a classic prompt-injection bug.

The later GPTs' tokenizers are the same machine with other parts (openai/tiktoken,
`src/lib.rs` `byte_pair_merge`, and `tiktoken_ext/openai_public.py`): cl100k_base
(GPT-3.5-turbo, GPT-4: 100,256 tokens) and o200k_base (GPT-4o: 199,998) come as rank
files, one token's bytes and rank per line, with no merge list. A pair of adjacent
tokens merges at the rank of the token the two make, if they make one, and the
rank is that token's id. Their patterns keep digits in runs of at most three,
take a word's leading punctuation mark with it, and (o200k_base) split words
at case changes. `Tokenizer.from_pretrained("cl100k_base")`, or a model's name
("gpt-4", "gpt-4o") as tiktoken's `encoding_for_model` maps them.
"""

import heapq
import json
import os
from collections import Counter, defaultdict
from itertools import chain
from pathlib import Path

import regex

from .bpe import StreamDecoder, bytes_of_token, merge_by_rank, pair_rank_function
from .files import atomic_write
from .gpt1_tokenizer import GPT1Tokenizer
from .pretokenize import CL100K, GPT2_TEMPLATE, O200K, Pretokenizer
from .releases import BUNDLED, BUNDLED_DIR, GPT2_VOCAB, RELEASES
from .vocab import (
    ENCODINGS,
    GPT2,
    R50K,
    TIKTOKEN_DIR,
    bytes_to_unicode,
    check_vocab,
    encoding_name,
    find_vocab_files,
    is_gpt1_vocabulary,
    read_ranks,
    read_vocab,
)

# The pre-tokenizer, verbatim from openai/gpt-2 src/encoder.py: contractions, letters, digits,
# other symbols (each with an optional leading space), whitespace not followed by a word, whitespace.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# The same splits, found 1.5x faster (the form tiktoken uses): possessive "++" never backtracks
# into a run it cannot give back anyway; "\s++$" takes trailing whitespace in one step; and the
# last branch is only reached by a single whitespace character before a word, so "\s" = "\s+".
PATTERN = regex.compile(r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""")
ENDOFTEXT = "<|endoftext|>"
TEMPLATES = {  # the patterns pretokenize.py has templates of, for its fast route on ASCII text
    PATTERN.pattern: GPT2_TEMPLATE,
    ENCODINGS["cl100k_base"].pattern: CL100K,
    ENCODINGS["o200k_base"].pattern: O200K,
}
NO_MERGE = float("inf")  # the rank of a pair that is not in the merge list
CACHE_PIECES = 100_000  # pieces whose ids are remembered between calls, at most
CACHE_PIECE_CHARS = 64  # longer pieces are not remembered
STREAM_CARRY = 1 << 20  # characters encode_stream looks back for a place to cut a stream


def without_lone_surrogates(text):
    """Text that UTF-8 can encode. Python strings may hold lone surrogates (U+D800-U+DFFF, from broken
    UTF-16); as tiktoken does, a pair of them becomes the character it encodes and a lone one U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class Tokenizer:
    """Byte-level BPE: `encode(text) -> list[int]`, `decode(ids) -> str`.

    Two forms of vocabulary: GPT-2's files (`Tokenizer(encoder, merges)`: a pair merges at the rank of its line
    in the merge list) and tiktoken's rank files (`Tokenizer.from_ranks`: a pair merges at the rank of the token
    the two make, which is also that token's id). Either way the lowest rank merges first (`merge_by_rank`).
    """

    def __init__(self, encoder, merges):
        """GPT-2's form: encoder {symbol string: id} (encoder.json) and merges [(left, right), ...] (vocab.bpe)."""
        check_vocab(encoder, merges)
        self.name = None
        self.encoder = encoder  # symbol string -> id
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}  # (left, right) -> merge priority
        self.mergeable_ranks = None
        byte_encoder, symbol_bytes = bytes_to_unicode(), bytes_of_symbols(encoder)
        token_bytes = [b""] * (max(encoder.values()) + 1)  # id -> the bytes it stands for
        self._symbols = [""] * len(token_bytes)  # id -> symbol string
        for symbol, i in encoder.items():
            token_bytes[i], self._symbols[i] = symbol_bytes[symbol], symbol
        special_tokens = {ENDOFTEXT: encoder[ENDOFTEXT]} if ENDOFTEXT in encoder else {}
        pair_ranks = {(encoder[left], encoder[right]): rank for (left, right), rank in self.ranks.items()}
        self._build(
            token_bytes,
            special_tokens,
            whole={token_bytes[i]: i for symbol, i in encoder.items() if symbol not in special_tokens},
            byte_ids=[encoder[byte_encoder[b]] for b in range(256)],
            rank_of=pair_rank_function(pair_ranks, len(token_bytes)),
            merged=[encoder[left + right] for left, right in merges],  # rank -> the id its merge makes
            pattern=PATTERN,
        )

    @classmethod
    def from_ranks(cls, mergeable_ranks, pattern, special_tokens, name=None) -> "Tokenizer":
        """tiktoken's form, as `tiktoken.Encoding(name, pat_str=, mergeable_ranks=, special_tokens=)` takes it:
        {token bytes: rank} (the rank is the id), the pre-tokenizer's regex, and {special token: id}."""
        check_ranks(mergeable_ranks, special_tokens)
        mergeable_ranks = dict(mergeable_ranks)  # a copy: the caller's dict may change, the tokenizer does not
        tokenizer = cls.__new__(cls)
        tokenizer.name, tokenizer.encoder, tokenizer.ranks = name, None, None
        tokenizer.mergeable_ranks = mergeable_ranks
        token_bytes = [None] * (max([*mergeable_ranks.values(), *special_tokens.values()]) + 1)  # None: no such id
        for data, rank in mergeable_ranks.items():
            token_bytes[rank] = data
        for text, i in special_tokens.items():
            token_bytes[i] = text.encode("utf-8")
        get = mergeable_ranks.get

        def rank_of(left, right):  # the rank of the token that two tokens make, if it is one
            return get(token_bytes[left] + token_bytes[right])

        tokenizer._build(
            token_bytes,
            dict(special_tokens),
            whole=mergeable_ranks,
            byte_ids=[mergeable_ranks[bytes([b])] for b in range(256)],
            rank_of=rank_of,
            merged=range(len(token_bytes)),  # a rank is the id of the token it makes
            pattern=regex.compile(pattern),
        )
        return tokenizer

    def _build(self, token_bytes, special_tokens, *, whole, byte_ids, rank_of, merged, pattern):
        """What encoding and decoding use, in either form of vocabulary."""
        self.token_bytes = token_bytes  # id -> the bytes it stands for (None: no token has the id)
        self.special_tokens = special_tokens  # text -> id
        self._whole = whole  # bytes -> id, of every token but the special ones
        self._byte_ids = byte_ids  # byte value -> id
        self._byte_table = bytes(byte_ids) if max(byte_ids) < 256 else None
        self._rank_of, self._merged = rank_of, merged  # for merge_by_rank
        self._pattern = pattern  # the pre-tokenizer
        self._pieces = Pretokenizer(pattern.pattern, TEMPLATES.get(pattern.pattern))  # the same, faster on ASCII
        self._cache = {}  # piece -> ids; text repeats its words, so most pieces are seen before

    @classmethod
    def from_encoding(cls, name) -> "Tokenizer":
        """One of tiktoken's encodings, offline: cl100k_base (GPT-3.5-turbo, GPT-4) and o200k_base (GPT-4o) from
        the rank files in the package, r50k_base (GPT-2's vocabulary: the same ids) from GPT-2's files."""
        if name == R50K:
            encoder, merges = read_vocab(*GPT2_VOCAB)
            check_vocab(encoder, merges)
            symbol_bytes = bytes_of_symbols(encoder)
            ranks = {symbol_bytes[symbol]: i for symbol, i in encoder.items() if symbol != ENDOFTEXT}
            return cls.from_ranks(ranks, PATTERN.pattern, {ENDOFTEXT: encoder[ENDOFTEXT]}, name=R50K)
        if name not in ENCODINGS:
            raise ValueError(f"gptlite has the encodings {', '.join([*ENCODINGS, R50K])}, not {str(name)[:60]!r}")
        encoding = ENCODINGS[name]
        ranks = read_ranks(TIKTOKEN_DIR / encoding.file, encoding.sha256)
        return cls.from_ranks(ranks, encoding.pattern, encoding.special_tokens, name=name)

    @classmethod
    def from_files(cls, encoder_path, merges_path) -> "Tokenizer":
        """The tokenizer of two vocabulary files; GPT-1's (words end in "</w>") give a GPT1Tokenizer."""
        encoder, merges = read_vocab(encoder_path, merges_path)
        try:
            if isinstance(encoder, dict) and is_gpt1_vocabulary(encoder):
                return GPT1Tokenizer(encoder, merges)
            return cls(encoder, merges)
        except ValueError as e:
            raise ValueError(f"{encoder_path}: {e}") from None

    @classmethod
    def from_pretrained(cls, name_or_dir="gpt2", *, revision: str = "main", quiet: bool = False) -> "Tokenizer":
        """The tokenizer of any model `GPT.from_pretrained` takes: GPT-2's vocabulary for every release name and
        the bundled model's by its name (both offline), the tokenizer files in a directory (or of the model a
        training run's directory holds; GPT-1's give a GPT1Tokenizer), or a Hugging Face repo id, whose
        tokenizer files alone are fetched. Also, offline, tiktoken's encodings by name (cl100k_base,
        o200k_base, r50k_base) or by a model's name as tiktoken maps it ("gpt-4", "gpt-3.5-turbo", "gpt-4o")."""
        if name_or_dir in RELEASES:  # every release shares GPT-2's vocabulary
            tokenizer = cls.from_files(*GPT2_VOCAB)
            assert tokenizer.n_vocab == 50257, "256 bytes + 50,000 merges + <|endoftext|>"
            return tokenizer
        if name_or_dir == BUNDLED:
            return cls.from_files(*find_vocab_files(BUNDLED_DIR))
        if isinstance(name_or_dir, str) and encoding_name(name_or_dir, prefixes=False) is not None:
            return cls._of_encoding(name_or_dir)
        if os.path.isdir(name_or_dir):
            from .weights.checkpoint import checkpoint_folder

            return cls.from_files(*find_vocab_files(checkpoint_folder(name_or_dir) or name_or_dir))
        if isinstance(name_or_dir, str) and encoding_name(name_or_dir) is not None:  # a model's name by its prefix
            return cls._of_encoding(name_or_dir)
        from .weights import hub  # a repo id: only the tokenizer's files are fetched

        return cls.from_files(*hub.tokenizer_files(str(name_or_dir), revision=revision, quiet=quiet))

    @classmethod
    def _of_encoding(cls, name):
        """The tokenizer of an encoding's or a model's name, as tiktoken maps models to encodings."""
        encoding = encoding_name(name)
        if encoding == GPT2:
            return cls.from_pretrained("gpt2")
        if encoding not in ENCODINGS and encoding != R50K:
            shipped = f"(it has {', '.join([*ENCODINGS, R50K])})"
            if name == encoding:
                raise ValueError(f"gptlite does not ship tiktoken's {name} {shipped}")
            raise ValueError(f"{name} uses tiktoken's {encoding}, which gptlite does not ship {shipped}")
        return cls.from_encoding(encoding)

    def __repr__(self):
        specials = ", ".join(f"{t}={i}" for t, i in self.special_tokens.items()) or "none"
        if self.mergeable_ranks is not None:
            shape = f"{self.name or 'ranks'}: {len(self.mergeable_ranks)} ranked tokens"
            return f"Tokenizer({shape}, ids below {self.n_vocab}; special tokens: {specials})"
        return f"Tokenizer({self.n_vocab} tokens: 256 bytes, {len(self.ranks)} merges; special tokens: {specials})"

    def _repr_html_(self):
        import html

        return f"<pre>{html.escape(repr(self))}</pre>"

    @property
    def n_vocab(self):
        return len(self.token_bytes)

    @property
    def eot_token(self):
        """The id of `<|endoftext|>`, GPT-2's document separator (50256), or None if the vocabulary has none."""
        return self.special_tokens.get(ENDOFTEXT)

    def bpe(self, symbols: str) -> list[str]:
        """Merge a piece's byte symbols, best-ranked pair first, until no pair in the merge list is left
        (a vocabulary of GPT-2's form: its symbols are strings)."""
        if self.encoder is None:
            raise ValueError("bpe() works on the symbol strings of GPT-2's vocabulary files: use encode()")
        ids = merge_by_rank([self.encoder[c] for c in symbols], self._rank_of, self._merged)
        return [self._symbols[i] for i in ids]

    def _encode_piece(self, piece):
        data = piece.encode("utf-8")
        token = self._whole.get(data)
        # A piece that is itself a token is that token: BPE on any vocabulary symbol gives back the
        # symbol (tests/test_tokenizer.py checks this for all 50,257), so most words skip the merge loop.
        if token is not None:
            return [token]
        table = self._byte_table  # bytes -> their ids as bytes, where every byte's id is below 256 (GPT-2, tiktoken)
        parts = data.translate(table) if table is not None else [self._byte_ids[b] for b in data]
        return merge_by_rank(parts, self._rank_of, self._merged)

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text, treating any special-token text in it as ordinary text."""
        pieces = self._pieces.findall(without_lone_surrogates(text))
        cache = self._cache
        # The ids of this text's pieces, each worked out once, in a table of this call's own: another thread may
        # empty the shared cache at any moment, so nothing here looks a piece up in it twice.
        known = {piece: cache.get(piece) for piece in set(pieces)}
        new = {piece: self._encode_piece(piece) for piece, ids in known.items() if ids is None}
        known.update(new)
        if len(cache) + len(new) > CACHE_PIECES:
            cache.clear()  # memory stays bounded: start afresh rather than grow with every text ever seen
        kept = [(piece, ids) for piece, ids in new.items() if len(piece) <= CACHE_PIECE_CHARS]  # a long piece
        cache.update(kept[:CACHE_PIECES])  # rarely comes again
        return list(chain.from_iterable(map(known.__getitem__, pieces)))

    def encode(self, text: str, allowed_special=frozenset(), disallowed_special="all") -> list[int]:
        """Encode text to ids, with tiktoken's rules for special tokens.

        allowed_special: special tokens ("all", or a set such as {"<|endoftext|>"}) to encode as their id.
        disallowed_special: special tokens whose text raises ValueError when found ("all" = every special
            token not allowed); pass () to encode their text as ordinary text.
        """
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        if allowed_special == "all":
            allowed_special = set(self.special_tokens)
        if disallowed_special == "all":
            disallowed_special = set(self.special_tokens) - set(allowed_special)
        for token in disallowed_special:  # as tiktoken: any string named here is refused, special or not
            if token in text:
                raise ValueError(
                    f"text contains the special token {token[:40]!r}: pass allowed_special={{{token[:40]!r}}} to "
                    "encode it as its id, or disallowed_special=() to encode it as plain text"
                )
        allowed = [t for t in allowed_special if t in self.special_tokens and t in text]  # others: no such token
        if not allowed:
            return self.encode_ordinary(text)
        ids = []
        splitter = regex.compile("(" + "|".join(regex.escape(t) for t in allowed) + ")")
        for i, chunk in enumerate(splitter.split(text)):
            ids += [self.special_tokens[chunk]] if i % 2 else self.encode_ordinary(chunk)
        return ids

    def encode_stream(self, chunks, allowed_special="all"):
        """Encode text that arrives in pieces (a file read block by block): yields lists of ids whose
        concatenation is what `encode` gives for the whole text, holding back only the last two pre-tokenizer
        pieces of each block (the ones the next block could still change) and any special token in them.
        A single piece longer than STREAM_CARRY characters is cut there: no real text has one."""
        carry = ""
        for chunk in chunks:
            if not isinstance(chunk, str):
                raise ValueError(f"encode_stream takes text, got {type(chunk).__name__}")
            text = carry + chunk
            cut = self._stream_cut(text)
            if cut:
                yield self.encode(text[:cut], allowed_special=allowed_special, disallowed_special=())
            carry = text[cut:]
        if carry:
            yield self.encode(carry, allowed_special=allowed_special, disallowed_special=())

    def _stream_cut(self, text):
        """Where text can be cut so that encoding the two parts apart gives the same ids as encoding it whole:
        at the start of a pre-tokenizer piece, leaving the last two pieces (the next block could still change
        them), never right after whitespace (a run of it ends differently when the text ends there: "\\s++$"),
        and never inside a special token, whole or begun."""
        after_special = max((text.rfind(t) + len(t) for t in self.special_tokens if t in text), default=0)
        start = max(after_special, len(text) - STREAM_CARRY, 0)  # pieces start afresh after a special token
        begun = [
            b for t in self.special_tokens for b in range(len(text) - len(t) + 1, len(text)) if t.startswith(text[b:])
        ]
        limit = min(begun, default=len(text))  # where a special token that the next block may complete begins
        starts = [m.start() for m in self._pattern.finditer(text, start)][:-1]  # the last piece may still grow
        candidates = [s for s in starts if s <= limit and not text[s - 1].isspace()]
        return max(candidates, default=start)

    def decode_bytes(self, ids) -> bytes:
        """Ids -> the bytes they stand for; an id outside the vocabulary raises ValueError."""
        return b"".join(bytes_of_token(self.token_bytes, i) for i in ids)

    def decode(self, ids) -> str:
        """Decode ids to text; bytes that are not valid UTF-8 become U+FFFD instead of raising."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def save(self, directory) -> None:
        """Write encoder.json + vocab.bpe, which `Tokenizer.from_pretrained(directory)` reads back."""
        if self.encoder is None:
            raise ValueError(f"{self.name or 'this tokenizer'} has no merge list to save: it is known by its name")
        save_vocab(directory, self.encoder, sorted(self.ranks, key=self.ranks.get))

    def to_str_tokens(self, ids) -> list[str]:
        """Each token as a string of its own (a piece of a character split across tokens shows as U+FFFD)."""
        return [bytes_of_token(self.token_bytes, i).decode("utf-8", errors="replace") for i in ids]

    def view(self, text: str, allowed_special="all"):
        """How this tokenizer cuts a text, as a picture (`views.SplitView`: inline in Jupyter, `.save(path)` for
        a browser, text in a terminal): each token with its id."""
        from .views import SplitView  # here: tokenizing never needs the pictures

        ids = self.encode(text, allowed_special=allowed_special)
        return SplitView(self.to_str_tokens(ids), ids, self.name or "")

    def stream_decoder(self):
        """A StreamDecoder: token ids in one at a time, text out, never half a character."""
        return StreamDecoder(self.token_bytes)


def bytes_of_symbols(encoder):
    """{symbol string: the bytes it stands for} of a vocabulary in GPT-2's form."""
    byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
    return {symbol: bytes(map(byte_decoder.__getitem__, symbol)) for symbol in encoder}


def check_ranks(mergeable_ranks, special_tokens):
    """Refuse ranks that cannot encode every text or decode every id: every byte must be a token, ids must be
    distinct integers, and the special tokens' ids must follow the ranks' (not far: a list holds them all)."""
    if not all(isinstance(t, bytes) and type(r) is int for t, r in mergeable_ranks.items()):
        raise ValueError("mergeable_ranks must map token bytes to integer ranks")
    if not all(isinstance(t, str) and type(i) is int for t, i in special_tokens.items()):
        raise ValueError("special_tokens must map strings to integer ids")
    ids = [*mergeable_ranks.values(), *special_tokens.values()]
    if len(set(ids)) != len(ids) or min(ids, default=0) < 0 or max(ids, default=0) >= len(ids) + (1 << 20):
        raise ValueError("the ranks and special tokens' ids must be distinct, from 0, with few gaps")
    missing = [b for b in range(256) if bytes([b]) not in mergeable_ranks]
    if missing:
        raise ValueError(
            f"{len(missing)} bytes (such as {missing[0]:#04x}) are not tokens: some text cannot be encoded"
        )


def merge_pair(symbols, pair):
    """Merge every occurrence of pair in a list of symbols, left to right."""
    out, i = [], 0
    while i < len(symbols):
        if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def train_bpe(text, vocab_size):
    """Learn a byte-level BPE vocabulary from text: returns (encoder, merges) for Tokenizer(encoder, merges).

    Sennrich et al. 2016, on bytes as GPT-2 does it: start from the 256 byte symbols;
    count each adjacent pair of symbols inside every pre-tokenized piece (weighted by
    how often the piece occurs); merge the most frequent pair everywhere (ties: the
    smallest pair as strings); repeat until the vocabulary has vocab_size entries,
    the last one being <|endoftext|>. Pieces are counted once, and a merge revisits
    only the pieces that contain its pair.
    """
    if vocab_size < 257:
        raise ValueError(f"vocab_size must be at least 257 (256 bytes + <|endoftext|>), got {vocab_size}")
    table = str.maketrans({chr(b): c for b, c in bytes_to_unicode().items()})
    pieces = Counter(PATTERN.findall("".join(text.split(ENDOFTEXT))))
    words = [list(p.encode("utf-8").decode("latin-1").translate(table)) for p in pieces]
    counts = list(pieces.values())
    pair_counts, where = Counter(), defaultdict(set)  # pair -> weighted count; pair -> indices of words holding it
    for i, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += counts[i]
            where[pair].add(i)
    heap = [(-c, pair) for pair, c in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < vocab_size - 257 and heap:
        negative_count, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negative_count or negative_count == 0:
            continue  # a stale heap entry: the count changed since it was pushed
        merges.append(pair)
        for i in where.pop(pair):
            before = Counter(zip(words[i], words[i][1:]))
            words[i] = merge_pair(words[i], pair)
            after = Counter(zip(words[i], words[i][1:]))
            for changed in before.keys() | after.keys():
                delta = (after[changed] - before[changed]) * counts[i]
                if delta:
                    pair_counts[changed] += delta
                    heapq.heappush(heap, (-pair_counts[changed], changed))
                if after[changed]:
                    where[changed].add(i)
        del pair_counts[pair]
    encoder = {symbol: i for i, symbol in enumerate(bytes_to_unicode().values())}
    for left, right in merges:
        encoder.setdefault(left + right, len(encoder))
    encoder[ENDOFTEXT] = len(encoder)
    return encoder, merges


def save_vocab(directory, encoder, merges):
    """Write encoder.json + vocab.bpe, the files Tokenizer.from_pretrained(directory) reads."""
    os.makedirs(directory, exist_ok=True)
    with atomic_write(Path(directory) / "encoder.json", "w") as f:
        json.dump(encoder, f, ensure_ascii=False)
    with atomic_write(Path(directory) / "vocab.bpe", "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{left} {right}\n" for left, right in merges))
