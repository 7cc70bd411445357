"""GPT-1's tokenizer against transformers' OpenAIGPTTokenizer (tests/fixtures/gpt1_tokenizer/, a vocabulary in
GPT-1's format and transformers' ids for held-out texts, written by scripts/make_gpt1_tokenizer_fixtures.py)."""

import json
import random
import time

import pytest

from gptlite.gpt1_tokenizer import END_OF_WORD, GPT1Tokenizer, normalize
from gptlite.tokenizer import Tokenizer

from helpers import FIXTURES

VOCAB = FIXTURES / "gpt1_tokenizer"


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.from_pretrained(VOCAB)


def cases():
    return json.loads((VOCAB / "cases.json").read_text())["cases"]


def test_a_directory_of_gpt1_files_gives_gpt1s_tokenizer(tok):
    assert isinstance(tok, GPT1Tokenizer) and tok.n_vocab == 1200 and tok.eot_token is None
    assert isinstance(Tokenizer.from_pretrained("gpt2"), Tokenizer)


def test_ids_and_text_are_transformers(tok):
    held_out = cases()
    assert len(held_out) > 1300
    for case in held_out:
        ids = tok.encode(case["text"], allowed_special="all")  # transformers reads "<unk>" as the token
        assert ids == case["ids"], repr(case["text"])
        assert tok.decode(ids) == case["decoded"], repr(case["text"])


def plain_bpe(tok, word):
    """The plain loop, the oracle: merge every occurrence of the best-ranked pair, until none is left."""
    symbols = [*word[:-1], word[-1] + END_OF_WORD]
    while len(symbols) > 1:
        best = min(zip(symbols, symbols[1:]), key=lambda pair: tok.ranks.get(pair, float("inf")))
        if best not in tok.ranks:
            break
        merged, k = [], 0
        while k < len(symbols):
            if k + 1 < len(symbols) and (symbols[k], symbols[k + 1]) == best:
                merged.append(symbols[k] + symbols[k + 1])
                k += 2
            else:
                merged.append(symbols[k])
                k += 1
        symbols = merged
    return symbols


def test_bpe_equals_the_plain_loop(tok):
    words = {w for case in cases() for w in tok.words(case["text"]) if len(w) < 300}
    assert len(words) > 1000
    for word in words:
        expected = plain_bpe(tok, word)
        if all(s in tok.encoder for s in expected):  # the oracle knows nothing of <unk>
            assert tok.bpe(word) == expected, word


def test_bert_normalization():
    assert normalize("Café DÉJÀ Vu") == "cafe deja vu"  # lower-cased, accents stripped
    assert normalize("a\x00b\x0bc\ufffdd\u200be") == "abcde"  # NUL, controls, U+FFFD and format characters go
    assert normalize("a\tb\nc\u3000d\u2028e") == "a b c d e"  # every whitespace character is a space
    assert normalize("中文") == " 中  文 "  # each CJK ideograph is a word
    assert normalize("ΣΑΣ") == "σασ"  # character by character: no final sigma


def test_words_split_at_whitespace_and_punctuation(tok):
    assert tok.words("Hello, world! $5+3=8 «quoted» U.S.") == [
        "hello", ",", "world", "!", "$", "5", "+", "3", "=", "8", "«", "quoted", "»", "u", ".", "s", ".",
    ]  # fmt: skip


def test_unknown_text_and_the_unk_token(tok):
    unk = tok.encoder["<unk>"]
    assert tok.encode("\u0e01", disallowed_special=()) == [unk]  # Thai: not in the vocabulary
    with pytest.raises(ValueError, match="special token '<unk>'"):
        tok.encode("a <unk> b")
    assert unk in tok.encode("a <unk> b", allowed_special="all")
    assert unk not in tok.encode("a <unk> b", disallowed_special=())
    assert tok.encode("a <unk> b", disallowed_special=()) == tok.encode_ordinary("a <unk> b")


def test_a_vocabulary_without_unk_refuses_unknown_characters(tmp_path, tok):
    encoder = {s: i for s, i in tok.encoder.items() if s != "<unk>"}
    encoder = {s: k for k, s in enumerate(sorted(encoder, key=encoder.get))}
    plain = GPT1Tokenizer(encoder, sorted(tok.ranks, key=tok.ranks.get))
    assert plain.encode("the") == [encoder[s] for s in tok.bpe("the")]
    with pytest.raises(ValueError, match="not in the vocabulary, and it has no <unk>"):
        plain.encode("\u0e01")


def test_bad_ids_and_bad_files_are_refused(tok, tmp_path):
    for ids in ([1.5], [True], [tok.n_vocab], [-1]):
        with pytest.raises(ValueError):
            tok.decode(ids)
    (tmp_path / "vocab.json").write_text(json.dumps({"a</w>": 0, "b": 2}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(ValueError, match="ids are not 0..1"):
        Tokenizer.from_pretrained(tmp_path)
    (tmp_path / "vocab.json").write_text(json.dumps({"a</w>": 0, "b": 1}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\nb a</w>\n")
    with pytest.raises(ValueError, match="joins tokens the vocabulary lacks"):
        Tokenizer.from_pretrained(tmp_path)


def test_to_str_tokens_and_stream_decoding_read_as_running_text(tok):
    ids = tok.encode("hello world, again")
    assert "".join(tok.to_str_tokens(ids)) == tok.decode(ids) + " "  # the last </w> is a space here too
    decode = tok.stream_decoder()
    assert "".join(decode(i) for i in ids) + decode.flush() == tok.decode(ids) + " "


def test_stream_encoding_gives_the_ids_of_the_whole(tok):
    rng = random.Random(3)
    text = "\n".join(case["text"] for case in cases()[:300])
    cuts = sorted(rng.sample(range(1, len(text)), 150))
    blocks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    assert [i for ids in tok.encode_stream(blocks) for i in ids] == tok.encode(text, allowed_special="all")


def test_save_and_load_back(tok, tmp_path):
    tok.save(tmp_path)
    again = Tokenizer.from_pretrained(tmp_path)
    assert again.encoder == tok.encoder and again.ranks == tok.ranks


@pytest.mark.parametrize("text", ["a" * 100_000, "ab" * 50_000, "\u00e9" * 50_000])
def test_a_long_word_encodes_in_n_log_n_time(tok, text):
    start = time.perf_counter()
    ids = tok.encode(text)
    assert time.perf_counter() - start < 10  # a guard against quadratic time, not a speed target
    assert tok.decode(ids) == normalize(text)


def test_the_downloaders_check_knows_gpt1s_files(tmp_path):
    """vocab.check_files is what the hub runs on downloaded tokenizer files: GPT-1's pass, broken ones do not."""
    from gptlite.vocab import check_files

    check_files(VOCAB / "vocab.json", VOCAB / "merges.txt")
    (tmp_path / "vocab.json").write_bytes((VOCAB / "vocab.json").read_bytes())
    (tmp_path / "merges.txt").write_text("#version: 0.2\nqq zz</w>\n")
    with pytest.raises(ValueError, match="joins tokens the vocabulary lacks"):
        check_files(tmp_path / "vocab.json", tmp_path / "merges.txt")


def test_the_split_view_shows_gpt1s_tokens():
    tokenizer = GPT1Tokenizer.from_files(VOCAB / "vocab.json", VOCAB / "merges.txt")
    view = tokenizer.view("Hello, World!")
    assert view.ids == tokenizer.encode("Hello, World!") and view.tokens == tokenizer.to_str_tokens(view.ids)
    assert "GPT-1" in view._repr_html_() and str(view).startswith(f"{len(view.ids)} tokens: ")
