"""GPT-1's tokenizer (OpenAI's `openai-gpt`): BERT's basic tokenizer, then BPE over characters with `</w>`.

Sources: Radford et al. 2018, "Improving Language Understanding by Generative Pre-Training" (Section 4.1:
"a bytepair encoding (BPE) vocabulary with 40,000 merges"), and the behaviour of Hugging Face's
`OpenAIGPTTokenizer`, which is what the published files (`vocab.json`, `merges.txt`) are used with:

1. Normalize, as BERT's `BasicTokenizer` with lower-casing does (huggingface/tokenizers `BertNormalizer`):
   drop U+0000, U+FFFD and control characters (Unicode category C, but tab, newline and carriage return);
   turn every whitespace character into a space; put spaces around CJK ideographs, so that each is a word;
   strip accents (NFD, then drop the non-spacing marks, Mn); lower-case, character by character.
2. Pre-tokenize (`BertPreTokenizer`): split at whitespace, and make every punctuation character (Unicode
   category P, and ASCII's symbols such as $ + < = > ^ ` | ~) a word of its own.
3. BPE, over characters rather than bytes: a word starts as its characters, the last one marked as the end of
   the word by the suffix `</w>` ("the" -> t h e</w>); merges.txt's pairs merge, the best-ranked first; a
   character the vocabulary lacks becomes `<unk>`.

Decoding joins the tokens and turns each `</w>` into a space (the last one into nothing): the text comes back
lower-cased, without accents, with spaces around punctuation, not as it was.

What differs from OpenAI's original: its `text_utils.py` first ran ftfy (`fix_text`) and a few replacements of
dashes and quotes, and split words with spaCy's English tokenizer instead of BERT's rules; transformers
(version 5) always takes the BERT route. Ids can differ from the original's where spaCy splits differently
(contractions: spaCy cuts "don't" into "do" "n't", BERT into "don" "'" "t").
"""

import json
import os
import unicodedata
from pathlib import Path

import regex

from .bpe import StreamDecoder, bytes_of_token, merge_by_rank, pair_rank_function
from .files import atomic_write
from .vocab import END_OF_WORD, check_gpt1_vocab, read_vocab

UNKNOWN = "<unk>"
CACHE_WORDS = 100_000  # words whose ids are remembered, at most
STREAM_CARRY = 1 << 20  # characters encode_stream holds back at most while looking for a space

# huggingface/tokenizers normalizers/bert.rs: what BERT calls Chinese characters, the CJK ideograph blocks.
CJK = "\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002a6df\U0002a700-\U0002b73f\U0002b740-\U0002b81f" \
      "\U0002b920-\U0002ceaf\uf900-\ufaff\U0002f800-\U0002fa1f"  # fmt: skip
DROPPED = regex.compile(r"[\x00\ufffd]|[^\P{Cc}\t\n\r]|[\p{Cf}\p{Co}]")  # NUL, U+FFFD, controls but tab, LF, CR
WHITESPACE = regex.compile(r"[\t\n\r\p{White_Space}]")
IDEOGRAPH = regex.compile(f"([{CJK}])")
MARK = regex.compile(r"\p{Mn}")
PUNCTUATION = r"\p{P}!-/:-@\[-`{-~"  # Unicode punctuation, and every ASCII symbol (BERT's _is_punctuation)
WORD = regex.compile(rf"[^\p{{White_Space}}{PUNCTUATION}]+|[{PUNCTUATION}]")


def normalize(text):
    """BERT's normalization with lower-casing (step 1 above)."""
    text = WHITESPACE.sub(" ", DROPPED.sub("", text))
    text = IDEOGRAPH.sub(r" \1 ", text)
    text = MARK.sub("", unicodedata.normalize("NFD", text))
    return text.replace("\u03a3", "\u03c3").lower()  # capital sigma: always small sigma, as char by char


class GPT1Tokenizer:
    """GPT-1's tokenizer: `encode(text) -> list[int]`, `decode(ids) -> str`, as Tokenizer's methods."""

    def __init__(self, encoder, merges):
        """encoder {token string: id} (vocab.json) and merges [(left, right), ...] (merges.txt)."""
        check_gpt1_vocab(encoder, merges)
        self.name = None
        self.encoder = encoder
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.token_strings = [""] * (max(encoder.values()) + 1)  # id -> token, as vocab.json spells it
        for symbol, i in encoder.items():
            self.token_strings[i] = symbol
        self.special_tokens = {UNKNOWN: encoder[UNKNOWN]} if UNKNOWN in encoder else {}
        # the bytes each token stands for in running text: "the</w>" is "the "
        self.token_bytes = [s.replace(END_OF_WORD, " ").encode("utf-8") for s in self.token_strings]
        pairs = {(encoder[left], encoder[right]): rank for (left, right), rank in self.ranks.items()}
        self._rank_of = pair_rank_function(pairs, len(self.token_strings))
        self._merged = [encoder[left + right] for left, right in merges]
        self._cache = {}

    @classmethod
    def from_files(cls, encoder_path, merges_path) -> "GPT1Tokenizer":
        encoder, merges = read_vocab(encoder_path, merges_path)  # the same two files' format as GPT-2's
        try:
            return cls(encoder, merges)
        except ValueError as e:
            raise ValueError(f"{encoder_path}: {e}") from None

    @classmethod
    def from_pretrained(cls, directory) -> "GPT1Tokenizer":
        """GPT-1's files in a directory: vocab.json and merges.txt."""
        directory = Path(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"{directory}: not a directory")
        files = directory / "vocab.json", directory / "merges.txt"
        if not all(path.is_file() for path in files):
            raise FileNotFoundError(f"{directory}: no GPT-1 tokenizer files (vocab.json + merges.txt)")
        return cls.from_files(*files)

    def __repr__(self):
        return f"GPT1Tokenizer({self.n_vocab} tokens, {len(self.ranks)} merges; unknown: {UNKNOWN in self.encoder})"

    @property
    def n_vocab(self):
        return len(self.token_strings)

    @property
    def eot_token(self):
        """None: GPT-1 has no end-of-text token."""
        return None

    def words(self, text: str) -> list[str]:
        """The words BPE works on: the text normalized and pre-tokenized as BERT does."""
        return WORD.findall(normalize(text))

    def bpe(self, word: str) -> list[str]:
        """One word's tokens, as strings ("hello" -> ["hel", "lo</w>"])."""
        return [self.token_strings[i] for i in self._encode_word(word)]

    def _encode_word(self, word):
        ids = self._cache.get(word)
        if ids is None:
            symbols = [*word[:-1], word[-1] + END_OF_WORD]
            ids = merge_by_rank([self._id_of(s) for s in symbols], self._rank_of, self._merged)
            if len(self._cache) >= CACHE_WORDS:
                self._cache.clear()
            self._cache[word] = ids
        return ids

    def _id_of(self, symbol):
        i = self.encoder.get(symbol)
        if i is None:
            if UNKNOWN not in self.encoder:
                raise ValueError(f"{symbol[:1]!r} is not in the vocabulary, and it has no {UNKNOWN} token")
            return self.encoder[UNKNOWN]
        return i

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text, treating `<unk>` in it as ordinary text."""
        return [i for word in self.words(text) for i in self._encode_word(word)]

    def encode(self, text: str, allowed_special=frozenset(), disallowed_special="all") -> list[int]:
        """Encode text to ids; `<unk>` in the text follows tiktoken's rules for special tokens, as in Tokenizer:
        refused unless allowed_special names it (then it is its id, as transformers reads it) or
        disallowed_special=() makes it plain text."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        disallowed = set(self.special_tokens) - allowed if disallowed_special == "all" else set(disallowed_special)
        for token in disallowed:
            if token in text:
                raise ValueError(
                    f"text contains the special token {token[:40]!r}: pass allowed_special={{{token[:40]!r}}} to "
                    "encode it as its id, or disallowed_special=() to encode it as plain text"
                )
        if UNKNOWN not in allowed or UNKNOWN not in self.special_tokens or UNKNOWN not in text:
            return self.encode_ordinary(text)
        ids = []
        for k, chunk in enumerate(text.split(UNKNOWN)):
            ids += ([self.special_tokens[UNKNOWN]] if k else []) + self.encode_ordinary(chunk)
        return ids

    def encode_stream(self, chunks, allowed_special="all"):
        """Encode text that arrives in pieces: yields lists of ids whose concatenation is what `encode` gives for
        the whole. Each block is cut after its last space or newline (words never run across one), keeping back
        the start of a `<unk>` it may end with; a stretch of STREAM_CARRY characters without one is cut there."""
        carry = ""
        for chunk in chunks:
            if not isinstance(chunk, str):
                raise ValueError(f"encode_stream takes text, got {type(chunk).__name__}")
            text = carry + chunk
            cut = max(text.rfind(" "), text.rfind("\n")) + 1 or max(len(text) - STREAM_CARRY, 0)
            yield self.encode(text[:cut], allowed_special=allowed_special, disallowed_special=())
            carry = text[cut:]
        yield self.encode(carry, allowed_special=allowed_special, disallowed_special=())

    def decode(self, ids) -> str:
        """Join the tokens, each `</w>` a space but the last one's (transformers' BPEDecoder)."""
        tokens = self.to_token_strings(ids)
        if tokens:
            tokens[-1] = tokens[-1].replace(END_OF_WORD, "")
        return "".join(tokens).replace(END_OF_WORD, " ")

    def decode_bytes(self, ids) -> bytes:
        return self.decode(ids).encode("utf-8")

    def to_token_strings(self, ids) -> list[str]:
        """Each token as vocab.json spells it ("the</w>")."""
        return [self.token_strings[i] for i in map(self._check_id, ids)]

    def to_str_tokens(self, ids) -> list[str]:
        """Each token as it reads in running text ("the</w>" is "the ")."""
        return [bytes_of_token(self.token_bytes, i).decode("utf-8") for i in ids]

    def _check_id(self, i):
        bytes_of_token(self.token_bytes, i)  # the checks: an integer id of the vocabulary
        return int(i)

    def view(self, text: str, allowed_special="all"):
        """How this tokenizer cuts a text, as a picture (`views.SplitView`), each token with its id."""
        from .views import SplitView

        ids = self.encode(text, allowed_special=allowed_special)
        return SplitView(self.to_str_tokens(ids), ids, "GPT-1")

    def stream_decoder(self):
        """A StreamDecoder: token ids in one at a time, text out (each `</w>` a space, the last one's too)."""
        return StreamDecoder(self.token_bytes)

    def save(self, directory) -> None:
        """Write vocab.json + merges.txt, which `Tokenizer.from_pretrained(directory)` reads back."""
        os.makedirs(directory, exist_ok=True)
        with atomic_write(Path(directory) / "vocab.json", "w") as f:
            json.dump(self.encoder, f, ensure_ascii=False)
        with atomic_write(Path(directory) / "merges.txt", "w") as f:
            merges = sorted(self.ranks, key=self.ranks.get)
            f.write("#version: 0.2\n" + "".join(f"{left} {right}\n" for left, right in merges))
