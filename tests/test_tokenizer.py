import json
import random
import sys
import time
import tracemalloc
from array import array

import numpy as np
import pytest
import regex

from gptlite.bpe import SHORT_PIECE, merge_by_heap, merge_by_scan
from gptlite.tokenizer import (
    ENDOFTEXT,
    GPT2_PATTERN,
    NO_MERGE,
    PATTERN,
    Tokenizer,
    bytes_to_unicode,
    merge_pair,
    without_lone_surrogates,
)

from helpers import FIXTURES, MODELS


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.from_pretrained("gpt2")


def test_vocabulary_size(tok):
    assert tok.n_vocab == 50257
    assert len(tok.ranks) == 50000
    assert tok.eot_token == 50256


def test_bytes_to_unicode_is_a_bijection_onto_printable_characters():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    assert table[ord(" ")] == "Ġ" and table[ord("A")] == "A"


def test_golden_ids_from_the_reference_tokenizer(tok):
    cases = json.loads((FIXTURES / "tokenizer_golden.json").read_text())
    assert len(cases) > 300
    for case in cases:
        allowed = case.get("allowed_special", set())
        ids = tok.encode(case["text"], allowed_special=allowed, disallowed_special=case.get("disallowed_special", ()))
        assert ids == case["ids"], repr(case["text"])


def test_fast_pattern_splits_as_gpt2s_pattern():
    cases = json.loads((FIXTURES / "tokenizer_golden.json").read_text())
    texts = [c["text"] for c in cases] + ["a \n\n b", "x   ", "  \t\n", "end \n", "tail\t\t"]
    original = regex.compile(GPT2_PATTERN)
    for text in texts:
        assert PATTERN.findall(text) == original.findall(text), repr(text)


def test_merges_only_build_on_earlier_merges(tok):
    """Each merge joins bytes or results of better-ranked merges. So the product of a merge can only pair
    at a worse rank than its own, which is what lets Tokenizer.bpe merge one pair at a time."""
    made = {}  # symbol -> rank of the merge that makes it
    for (left, right), rank in sorted(tok.ranks.items(), key=lambda item: item[1]):
        assert made.get(left, -1) < rank and made.get(right, -1) < rank, (left, right)
        assert len(left) == 1 or left in made, left
        assert len(right) == 1 or right in made, right
        made.setdefault(left + right, rank)


def plain_bpe(tok, symbols):
    """openai/gpt-2 encoder.py's loop, the oracle for Tokenizer.bpe: merge every occurrence of the best pair."""
    word = list(symbols)
    while len(word) > 1:
        best = min(zip(word, word[1:]), key=lambda pair: tok.ranks.get(pair, NO_MERGE))
        if best not in tok.ranks:
            break
        word = merge_pair(word, best)
    return word


def test_bpe_equals_the_plain_merge_loop(tok):
    texts = [c["text"] for c in json.loads((FIXTURES / "tokenizer_golden.json").read_text())]
    pieces = {p for text in texts for p in PATTERN.findall(without_lone_surrogates(text)) if len(p) < 1000}
    table = str.maketrans({chr(b): c for b, c in bytes_to_unicode().items()})
    assert len(pieces) > 500
    assert max(map(len, pieces)) > SHORT_PIECE  # both of merge_by_rank's routes
    for piece in pieces:
        symbols = piece.encode("utf-8").decode("latin-1").translate(table)
        expected = plain_bpe(tok, symbols)
        assert tok.bpe(symbols) == expected, repr(piece)
        parts = [tok.encoder[s] for s in symbols]
        for merge in (merge_by_scan, merge_by_heap):
            assert [tok.encoder[s] for s in expected] == merge(array("i", parts), tok._rank_of, tok._merged)


def test_known_ids(tok):
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.encode(" Hello") == [18435]


def test_every_vocabulary_symbol_encodes_to_itself(tok):
    """Justifies the whole-piece shortcut in Tokenizer._encode_piece: BPE on a symbol's bytes gives the symbol."""
    for symbol, i in tok.encoder.items():
        if symbol != ENDOFTEXT:
            assert [tok.encoder[s] for s in tok.bpe(symbol)] == [i], symbol


def test_round_trip_random_unicode(tok):
    rng = random.Random(1234)
    for _ in range(500):
        text = "".join(
            chr(rng.choice([rng.randrange(0, 0xD800), rng.randrange(0xE000, 0x110000)]))
            for _ in range(rng.randrange(0, 50))
        )
        assert tok.decode(tok.encode(text, disallowed_special=())) == text


def test_special_token_is_refused_by_default(tok):
    with pytest.raises(ValueError, match="<\\|endoftext\\|>"):
        tok.encode("a<|endoftext|>b")


def test_special_token_allowed_is_one_id(tok):
    assert tok.encode("a<|endoftext|>b", allowed_special={ENDOFTEXT}) == [64, 50256, 65]
    assert tok.encode("<|endoftext|>", allowed_special="all") == [50256]


def test_special_token_as_plain_text(tok):
    ids = tok.encode("<|endoftext|>", disallowed_special=())
    assert 50256 not in ids and tok.decode(ids) == "<|endoftext|>"


def test_decode_never_raises_on_invalid_utf8(tok):
    lone_lead_byte = tok.encoder[bytes_to_unicode()[0xE2]]  # starts a 3-byte character that never comes
    assert tok.decode([lone_lead_byte]) == "\ufffd"
    assert tok.decode([lone_lead_byte, *tok.encode("ok")]) == "\ufffdok"


def test_stream_decoder_emits_whole_characters_once(tok):
    text = "héllo 😀 世界 👨‍👩‍👧"
    decode = tok.stream_decoder()
    pieces = [decode(i) for i in tok.encode(text)] + [decode.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)


def test_stream_decoder_flushes_a_dangling_byte(tok):
    decode = tok.stream_decoder()
    assert decode(tok.encode("😀")[0]) == ""
    assert decode.flush() == "\ufffd"


def test_hugging_face_file_names(tok):
    hf = Tokenizer.from_pretrained(MODELS / "tiny")  # vocab.json + merges.txt
    assert hf.encoder == tok.encoder and hf.ranks == tok.ranks


def test_missing_directory():
    with pytest.raises(FileNotFoundError, match="not a directory"):
        Tokenizer.from_pretrained("/nonexistent/vocab")


def test_directory_without_vocab(tmp_path):
    with pytest.raises(FileNotFoundError, match="no tokenizer files"):
        Tokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    "text",
    ["a" * 100_000, "\u6c49" * 30_000, "7" * 100_000, " " * 100_000 + "x", "\U0001f600" * 20_000, "!" * 100_000,
     "\n" * 100_000, "\u00e9" * 50_000],
)  # fmt: skip
def test_long_single_pieces_encode_in_n_log_n_time(text):
    """A quadratic BPE takes minutes on these (130 s for 100,000 x "a"); the heap-based one well under a second."""
    tok = Tokenizer.from_pretrained("gpt2")
    start = time.perf_counter()
    ids = tok.encode(text)
    assert time.perf_counter() - start < 10  # a guard against quadratic time, not a speed target
    assert tok.decode(ids) == text


def test_the_piece_cache_is_bounded(monkeypatch):
    import gptlite.tokenizer as tokenizer_module

    monkeypatch.setattr(tokenizer_module, "CACHE_PIECES", 500)
    tok = Tokenizer.from_pretrained("gpt2")
    for i in range(20):
        text = " ".join(f"w{i}x{j}" for j in range(300)) + " " + "long" * 40
        assert tok.decode(tok.encode(text)) == text
        assert len(tok._cache) <= 500 and " " + "long" * 40 not in tok._cache


def test_lone_surrogates_are_replaced_as_tiktoken_replaces_them(tok):
    assert tok.encode("a\ud800b") == tok.encode("a\ufffdb")
    assert tok.encode("\ud83d\ude00") == tok.encode("\U0001f600")  # a valid pair is the character it encodes


def test_unknown_special_tokens(tok):
    assert tok.encode("x <|foo|>", allowed_special={"<|foo|>"}) == tok.encode_ordinary("x <|foo|>")
    with pytest.raises(ValueError, match="<|foo|>"):
        tok.encode("x <|foo|>", disallowed_special={"<|foo|>"})
    with pytest.raises(ValueError, match="text must be a string"):
        tok.encode(b"bytes")


def random_documents(n_documents, seed):
    """Documents of random four-letter words: almost every word a new piece, so that the cache fills."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [" ".join("".join(rng.choices(letters, k=4)) for _ in range(200)) for _ in range(n_documents)]


@pytest.mark.parametrize("limit", [50, 1000, None])  # None: the default, 100,000 pieces
def test_the_same_ids_whether_the_cache_is_cold_warm_or_full(monkeypatch, limit):
    """Issue 23, failure 1: once the cache filled, encode_ordinary cleared it between working out a text's new
    pieces and looking them up, and raised KeyError."""
    import gptlite.tokenizer as tokenizer_module

    if limit is not None:
        monkeypatch.setattr(tokenizer_module, "CACHE_PIECES", limit)
    cold = Tokenizer.from_pretrained("gpt2")
    expected = {}
    for text in random_documents(4, seed=1):
        cold._cache.clear()
        expected[text] = cold.encode(text)
    n_documents = 700 if limit is None else 40  # 700 x 200 random words fill 100,000 pieces
    documents = random_documents(n_documents, seed=2)
    known = list(expected)
    for k in range(0, n_documents, 10):  # the known documents come back while the cache fills and empties
        documents[k] = known[k // 10 % len(known)]
    tok = Tokenizer.from_pretrained("gpt2")
    for text in documents:
        ids = tok.encode(text)
        if text in expected:
            assert ids == expected[text]
        assert len(tok._cache) <= tokenizer_module.CACHE_PIECES
    assert tok.decode(ids) == text


@pytest.mark.parametrize("ids", [[1.5], [True], [False], [np.float64(3.0)], np.array([1.0, 2.0]), ["1"], [None]])
def test_ids_that_are_not_integers_are_refused(tok, ids):
    """Issue 23, failure 8: decode([1.5]) gave decode([1]), and bools counted as 0 and 1."""
    for method in (tok.decode, tok.decode_bytes, tok.to_str_tokens):
        with pytest.raises(ValueError, match="token ids are integers"):
            method(ids)
    with pytest.raises(ValueError, match="token ids are integers"):
        tok.stream_decoder()(ids[0])


def test_numpy_integers_are_ids(tok):
    ids = tok.encode("Hello world")
    for dtype in (np.int64, np.int32, np.uint16):
        assert tok.decode(np.array(ids, dtype)) == "Hello world"
        assert tok.to_str_tokens(np.array(ids, dtype)) == tok.to_str_tokens(ids)
    with pytest.raises(ValueError, match="token id -1 is not in"):
        tok.stream_decoder()(-1)  # not the last token, as a list index would give


@pytest.mark.parametrize("text", ["a" * 100_000, "\u6c49" * 35_000, "!" * 100_000])
def test_the_memory_of_one_long_piece_is_bounded(text):
    """Issue 23: one piece of 10,000,000 letters peaked at 1-1.8 GB, 190 bytes per byte of the piece (tuples
    in lists); packed into arrays of ints it takes about 50."""
    tok = Tokenizer.from_pretrained("gpt2")
    n_bytes = len(text.encode("utf-8"))
    tracemalloc.start()
    try:
        ids = tok.encode(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * n_bytes, f"{peak / n_bytes:.0f} bytes per byte"
    assert tok.decode(ids) == text


def test_threads_sharing_a_tokenizer_get_the_ids_of_one(monkeypatch):
    """One thread may empty the cache while another is between working out its pieces and looking them up."""
    import threading

    import gptlite.tokenizer as tokenizer_module

    monkeypatch.setattr(tokenizer_module, "CACHE_PIECES", 300)
    documents = random_documents(12, seed=3)
    expected = [Tokenizer.from_pretrained("gpt2").encode(text) for text in documents]
    tok, failures = Tokenizer.from_pretrained("gpt2"), []

    def work(offset):
        try:
            for k in range(len(documents)):
                i = (k + offset) % len(documents)
                if tok.encode(documents[i]) != expected[i]:
                    failures.append(i)
        except Exception as e:  # noqa: BLE001 - any error in a thread is a failure of the test
            failures.append(repr(e))

    threads = [threading.Thread(target=work, args=(offset,)) for offset in (0, 3, 6, 9)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often, so that the turns fall between any two steps
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
