"""Write tests/fixtures/tiktoken_NAME.json: texts and the ids tiktoken gives them, for cl100k_base (GPT-3.5-turbo,
GPT-4), o200k_base (GPT-4o) and r50k_base (GPT-2's vocabulary in rank form).

The reference is tiktoken itself (the Rust core), built offline from the rank files in ../shared/tiktoken-ranks
(checked against the sha256 tiktoken pins) and, for r50k_base, from GPT-2's bundled files as
make_tokenizer_fixtures.py does. The texts: those the GPT-2 tokenizer is tested with
(make_tokenizer_fixtures.py), the inputs of tiktoken's own tests for these encodings (tests/test_encoding.py:
special tokens, surrogates, catastrophically repetitive runs, round trips), and random strings over the
characters on which the pre-tokenizer patterns' classes meet (case, contractions, digits, marks, whitespace
of every kind, "/" and newlines). Needs tiktoken (never a gptlite dependency):

    .venv-ref/bin/python scripts/make_tiktoken_fixtures.py
"""

import base64
import hashlib
import json
import random
import sys
from pathlib import Path

import tiktoken
from tiktoken.load import data_gym_to_mergeable_bpe_ranks
from tiktoken_ext import openai_public

sys.path.insert(0, str(Path(__file__).parent))
from make_tokenizer_fixtures import CORPUS, HOSTILE, PINNED, VOCAB, random_texts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "tiktoken-ranks"
RANK_FILES = {  # tiktoken_ext/openai_public.py: the sha256 it pins for each rank file
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

# tiktoken's tests/test_encoding.py: the texts of test_simple, test_simple_repeated, test_simple_regex,
# test_basic_encode, test_encode_surrogate_pairs and test_basic_roundtrip.
TIKTOKEN_TEXTS = [
    "hello world", "rer", "'rer", "today\n ", "today\n \n", "today\n  \n", " \x850", "👍", "\ud83d\udc4d", "\ud83d",
    "�", "hello", "hello ", "hello  ", " hello", " hello ", " hello  ", "请考试我的软件！12345",
    *("0" * n for n in range(1, 18)),
]  # fmt: skip
REPEATED = ["^", "0", "a", "'s", " ", "\n"]  # test_catastrophically_repetitive: c * 10,000, after " ", then + "\n"
SPECIAL_TEXTS = [  # test_special_token's texts, and more that place special tokens at the edges and side by side
    "<|endoftext|> hello <|fim_prefix|>",
    "<|endoftext|> hello <|fim_prefix|> there <|fim_middle|>",
    "<|endofprompt|><|endoftext|>x<|fim_suffix|>",
    "a<|endoftext|>",
    "<|endoftext|>",
    "<|endoftext|<|endoftext|>|>",
]
SPECIAL_CHOICES = [  # (allowed_special, disallowed_special) as test_special_token passes them
    ((), "all"), ((), ()), ("all", ()), ("all", "all"), (["<|fim_prefix|>"], ()), (["<|endoftext|>"], ()),
    (["<|fim_middle|>"], ()), ((), ["<|endoftext|>"]), ((), ["<|fim_prefix|>"]), (["<|endoftext|>"], "all"),
]  # fmt: skip
# The characters where the patterns' classes meet: letters of each case (and ones that case-fold to s or k),
# contractions, digits of several scripts, combining marks (o200k's letters include \p{M}), every kind of
# whitespace, "/" (o200k's punctuation runs take it with newlines), punctuation, CJK and emoji.
EDGES = [
    "a", "B", "s", "S", "t", "LL", "ll", "ve", "RE", "d", "M", "ſ", "\u212a", "ǅ", "ʰ", "ß", "İ", "é", "e\u0301",
    "\u0301", "\u20dd", "中", "ー", "1", "23", "²", "٣", "Ⅻ", "½", "'", "'s", "'S", "'ll", "’",
    " ", "  ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2028", "\u3000", "\u200b",
    "/", "//", ".", "!?", "-", "_", "@", "$", "😀", "👍🏽", "\x00",
]  # fmt: skip


def edge_texts(n, seed=0):
    """Random strings of 1 to 12 pieces drawn from EDGES."""
    rng = random.Random(seed)
    return ["".join(rng.choices(EDGES, k=rng.randrange(1, 13))) for _ in range(n)]


def shared_rank_file(url, expected_hash):
    """tiktoken's load_tiktoken_bpe, reading the rank file from ../shared instead of downloading it, and checking
    the sha256 that tiktoken's own constructor passes."""
    data = (SHARED / url.rsplit("/", 1)[1]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == expected_hash, f"{url}: the shared copy differs from tiktoken's"
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines())}


def local_gpt2_files(vocab_bpe_file, encoder_json_file, vocab_bpe_hash, encoder_json_hash):
    """tiktoken's data_gym_to_mergeable_bpe_ranks on GPT-2's bundled files, checked against the sha256 that
    tiktoken's own gpt2 constructor passes."""
    for file, digest in (("vocab.bpe", vocab_bpe_hash), ("encoder.json", encoder_json_hash)):
        assert hashlib.sha256((VOCAB / file).read_bytes()).hexdigest() == digest == PINNED[file], f"{file} differs"
    return data_gym_to_mergeable_bpe_ranks(str(VOCAB / "vocab.bpe"), str(VOCAB / "encoder.json"))


def encoding(name):
    """tiktoken's encoding by name: its own constructor (pattern, special tokens), with local rank files. r50k_base
    is tiktoken's gpt2 encoding under its other name (the same ranks, pattern and special token), since its rank
    file is not in ../shared: GPT-2's files are."""
    openai_public.load_tiktoken_bpe = shared_rank_file
    openai_public.data_gym_to_mergeable_bpe_ranks = local_gpt2_files
    spec = getattr(openai_public, "gpt2" if name == "r50k_base" else name)()
    return tiktoken.Encoding(**{**spec, "name": name})


def reference_ids(enc, text, allowed, disallowed):
    """tiktoken's ids, or "ValueError" where it refuses the text."""
    try:
        return enc.encode(text, allowed_special=allowed, disallowed_special=disallowed)
    except ValueError:
        return "ValueError"


def cases_of(enc):
    texts = CORPUS + random_texts(300) + HOSTILE + TIKTOKEN_TEXTS + edge_texts(1500)
    cases = {"encoding": enc.name, "ordinary": [{"text": t, "ids": enc.encode_ordinary(t)} for t in texts]}
    cases["repeated"] = [
        {"char": c, "times": 10_000, "before": before, "after": after, "ids": enc.encode(before + c * 10_000 + after)}
        for c in REPEATED
        for before, after in (("", ""), (" ", ""), (" ", "\n"))
    ]
    as_json = lambda choice: choice if isinstance(choice, str) else list(choice)  # noqa: E731
    cases["special"] = [
        {"text": text, "allowed_special": as_json(allowed), "disallowed_special": as_json(disallowed),
         "ids": reference_ids(enc, text, set(allowed) if allowed != "all" else "all",
                              set(disallowed) if disallowed != "all" else "all")}
        for text in SPECIAL_TEXTS
        for allowed, disallowed in SPECIAL_CHOICES
    ]  # fmt: skip
    return cases


def one_case_a_line(cases):
    """JSON, each list's items on lines of their own."""
    line = lambda value: json.dumps(value, ensure_ascii=True, separators=(",", ":"))  # noqa: E731
    fields = [
        f"{line(key)}: [\n" + ",\n".join(map(line, value)) + "\n]"
        if isinstance(value, list)
        else f"{line(key)}: {line(value)}"
        for key, value in cases.items()
    ]
    return "{\n" + ",\n".join(fields) + "\n}\n"


def main():
    for name in ("cl100k_base", "o200k_base", "r50k_base"):
        cases = cases_of(encoding(name))
        out = ROOT / "tests" / "fixtures" / f"tiktoken_{name}.json"
        out.write_text(one_case_a_line(cases))
        print(f"wrote {sum(len(v) for v in cases.values() if isinstance(v, list))} cases to {out}")


if __name__ == "__main__":
    main()
