"""GPT-3.5/GPT-4's cl100k_base, GPT-4o's o200k_base and GPT-2's r50k_base against tiktoken's ids
(tests/fixtures/tiktoken_NAME.json, written by scripts/make_tiktoken_fixtures.py with tiktoken itself)."""

import gzip
import json
import random
import sys
import time
from array import array

import pytest

import gptlite.vocab as vocab_module
from gptlite import course
from gptlite.bpe import SHORT_PIECE, merge_by_heap, merge_by_scan
from gptlite.tokenizer import PATTERN, Tokenizer, without_lone_surrogates

from helpers import FIXTURES

NAMES = ["cl100k_base", "o200k_base", "r50k_base"]


@pytest.fixture(scope="module", params=NAMES)
def tok(request):
    return Tokenizer.from_pretrained(request.param)


def cases(name):
    return json.loads((FIXTURES / f"tiktoken_{name}.json").read_text())


def test_ids_are_tiktokens(tok):
    ordinary = cases(tok.name)["ordinary"]
    assert len(ordinary) > 1500
    for case in ordinary:
        assert tok.encode_ordinary(case["text"]) == case["ids"], repr(case["text"])
        assert tok.encode(case["text"], disallowed_special=()) == case["ids"], repr(case["text"])


def test_catastrophically_repetitive_runs_are_tiktokens(tok):
    for case in cases(tok.name)["repeated"]:
        text = case["before"] + case["char"] * case["times"] + case["after"]
        start = time.perf_counter()
        ids = tok.encode(text)
        assert time.perf_counter() - start < 10  # a guard against quadratic time, not a speed target
        assert ids == case["ids"], (case["char"], case["before"], case["after"])
        assert tok.decode(ids) == text


def test_special_tokens_as_tiktoken_treats_them(tok):
    special = cases(tok.name)["special"]
    assert any(case["ids"] == "ValueError" for case in special)
    for case in special:
        allowed = case["allowed_special"] if case["allowed_special"] == "all" else set(case["allowed_special"])
        disallowed = case["disallowed_special"]
        disallowed = disallowed if disallowed == "all" else set(disallowed)
        if case["ids"] == "ValueError":
            with pytest.raises(ValueError, match="special token"):
                tok.encode(case["text"], allowed_special=allowed, disallowed_special=disallowed)
        else:
            assert tok.encode(case["text"], allowed_special=allowed, disallowed_special=disallowed) == case["ids"]


def test_every_special_token_is_one_id_and_decodes_to_its_text(tok):
    for text, i in tok.special_tokens.items():
        assert tok.encode(text, allowed_special="all") == [i]
        assert tok.decode([i]) == text and tok.to_str_tokens([i]) == [text]
        assert i not in tok.encode(text, disallowed_special=())
    assert tok.eot_token == tok.special_tokens["<|endoftext|>"]
    assert tok.n_vocab == max(tok.special_tokens.values()) + 1  # tiktoken's n_vocab: the largest id + 1


def test_round_trip_random_unicode(tok):
    rng = random.Random(5)
    for _ in range(300):
        text = "".join(chr(rng.choice([rng.randrange(0, 0xD800), rng.randrange(0xE000, 0x110000)])) for _ in range(40))
        ids = tok.encode(text, disallowed_special=())
        assert tok.decode(ids) == text
        assert b"".join(tok.token_bytes[i] for i in ids) == tok.decode_bytes(ids) == text.encode("utf-8")
        assert len(tok.to_str_tokens(ids)) == len(ids)


def test_surrogates_are_replaced_as_tiktoken_replaces_them(tok):
    assert tok.encode("\ud83d\udc4d") == tok.encode("👍")
    assert tok.encode("\ud83d") == tok.encode("\ufffd")


def test_ids_without_a_token_are_refused(tok):
    gaps = [i for i, data in enumerate(tok.token_bytes) if data is None]  # cl100k_base: 100256 and 100261-100275
    for i in gaps[:3] + [tok.n_vocab, -1]:
        with pytest.raises(ValueError, match="no token has the id|is not in"):
            tok.decode([i])
    with pytest.raises(ValueError, match="token ids are integers"):
        tok.decode([1.0])


@pytest.mark.parametrize(
    "text",
    ["a" * 100_000, "\u6c49" * 30_000, "7" * 100_000, " " * 100_000 + "x", "\U0001f600" * 20_000, "!" * 100_000,
     "\n" * 100_000, "\u00e9" * 50_000, "/" * 100_000, "A" * 100_000],
)  # fmt: skip
def test_long_single_pieces_encode_in_n_log_n_time(tok, text):
    start = time.perf_counter()
    ids = tok.encode(text)
    assert time.perf_counter() - start < 10  # a guard against quadratic time, not a speed target
    assert tok.decode(ids) == text


def test_stream_encoding_gives_the_ids_of_the_whole(tok):
    rng = random.Random(7)
    texts = [c["text"] for c in cases(tok.name)["ordinary"][:400]]
    text = "".join(without_lone_surrogates(t) for t in texts) + "<|endoftext|>" + "end"
    cuts = sorted(rng.sample(range(1, len(text)), 200))
    blocks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    streamed = [i for ids in tok.encode_stream(blocks) for i in ids]
    assert streamed == tok.encode(text, allowed_special="all")


def test_r50k_base_is_gpt2s_vocabulary_with_the_same_ids():
    """r50k_base merges by the rank of the token a pair makes (tiktoken's rule); GPT-2's files merge by the rank
    of the pair's line in vocab.bpe. On GPT-2's vocabulary the two give the same ids."""
    ranked, gpt2 = Tokenizer.from_pretrained("r50k_base"), Tokenizer.from_pretrained("gpt2")
    assert ranked.token_bytes == gpt2.token_bytes
    for case in json.loads((FIXTURES / "tokenizer_golden.json").read_text()):
        special = {"allowed_special": case.get("allowed_special", set()), "disallowed_special": ()}
        assert ranked.encode(case["text"], **special) == gpt2.encode(case["text"], **special) == case["ids"]
    assert ranked._pattern.pattern == PATTERN.pattern


MODELS = [("gpt-4", "cl100k_base"), ("gpt-3.5-turbo", "cl100k_base"), ("gpt-4-0613", "cl100k_base"),
          ("text-embedding-3-small", "cl100k_base"), ("gpt-4o", "o200k_base"), ("gpt-4o-2024-05-13", "o200k_base"),
          ("o1", "o200k_base"), ("davinci", "r50k_base")]  # fmt: skip


def test_names_as_tiktoken_maps_models_to_encodings():
    for model, name in MODELS:
        assert Tokenizer.from_pretrained(model).name == name, model
    assert Tokenizer.from_pretrained("gpt-2").token_bytes == Tokenizer.from_pretrained("gpt2").token_bytes
    with pytest.raises(ValueError, match="p50k_base, which gptlite does not ship"):
        Tokenizer.from_pretrained("text-davinci-003")
    with pytest.raises(ValueError, match="gptlite has the encodings"):
        Tokenizer.from_encoding("p50k_base")


def test_a_damaged_rank_file_is_refused_in_one_line(tmp_path, monkeypatch):
    source = vocab_module.TIKTOKEN_DIR / "cl100k_base.tiktoken.gz"
    data = gzip.decompress(source.read_bytes())
    monkeypatch.setattr("gptlite.tokenizer.TIKTOKEN_DIR", tmp_path)
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(data.replace(b"IQ== 0", b"IQ== 7", 1)))
    with pytest.raises(ValueError, match="sha256 is not tiktoken's") as error:
        Tokenizer.from_pretrained("cl100k_base")
    assert "\n" not in str(error.value)
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(data[:1000])  # not gzipped
    with pytest.raises(ValueError, match="not a gzipped rank file"):
        Tokenizer.from_pretrained("cl100k_base")


def test_ranks_that_cannot_encode_every_text_are_refused():
    with pytest.raises(ValueError, match="bytes .* are not tokens"):
        Tokenizer.from_ranks({b"a": 0}, PATTERN.pattern, {})
    ranks = {bytes([b]): b for b in range(256)}
    with pytest.raises(ValueError, match="distinct"):
        Tokenizer.from_ranks(ranks, PATTERN.pattern, {"<|x|>": 3})
    with pytest.raises(ValueError, match="distinct"):
        Tokenizer.from_ranks(ranks, PATTERN.pattern, {"<|x|>": 1 << 40})


def test_a_rank_tokenizer_has_no_merge_list_to_save(tmp_path):
    with pytest.raises(ValueError, match="no merge list"):
        Tokenizer.from_pretrained("cl100k_base").save(tmp_path)


def plain_rank_bpe(tok, data):
    """tiktoken's byte_pair_merge as plainly as it can be written, the oracle for merge_by_rank: find the
    adjacent pair whose concatenation has the lowest rank (the leftmost of equal ones), merge it, repeat."""
    parts = [bytes([b]) for b in data]
    while len(parts) > 1:
        ranks = [tok.mergeable_ranks.get(a + b) for a, b in zip(parts, parts[1:])]
        best = min((r, i) for i, r in enumerate(ranks) if r is not None) if any(r is not None for r in ranks) else None
        if best is None:
            break
        i = best[1]
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return [tok.mergeable_ranks[p] for p in parts]


def test_both_merge_loops_equal_the_plain_loop(tok):
    texts = [c["text"] for c in cases(tok.name)["ordinary"]]
    pieces = {p for t in texts for p in tok._pattern.findall(without_lone_surrogates(t)) if len(p) < 300}
    assert len(pieces) > 1000 and max(map(len, pieces)) > SHORT_PIECE
    for piece in pieces:
        data = piece.encode("utf-8")
        parts = [tok._byte_ids[b] for b in data]
        expected = plain_rank_bpe(tok, data)
        assert merge_by_scan(parts, tok._rank_of, tok._merged) == expected, repr(piece)
        assert merge_by_heap(array("i", parts), tok._rank_of, tok._merged) == expected, repr(piece)
        assert tok.encode_ordinary(piece) == expected


def ascii_texts():
    rng = random.Random(11)
    characters = [chr(c) for c in range(128)]
    texts = [a + b for a in characters for b in characters]  # every ASCII string of two characters
    edges = ["'", "s", "S", "'ll", "'RE", "ve", " ", "  ", "\t", "\n", "\r\n", "\x0b", "\x1c", "a", "Z", "0", "123",
             "4567", "!", "/", ".", "_", "\x00"]  # fmt: skip
    texts += ["".join(rng.choices(edges, k=rng.randrange(1, 20))) for _ in range(5000)]
    texts += ["".join(rng.choices(characters, k=rng.randrange(1, 40))) for _ in range(5000)]
    return texts + [course.text("hamlet")]


def test_the_fast_route_on_ascii_cuts_the_pieces_regex_cuts(tok):
    pieces = tok._pieces
    assert pieces._ascii is not None or sys.version_info < (3, 11)
    texts = ascii_texts() + [c["text"] for c in cases(tok.name)["ordinary"] if c["text"].isascii()]
    for text in texts:
        assert pieces.findall(text) == pieces.pattern.findall(text), repr(text)
