"""Write tests/fixtures/tokenizer_golden.json: texts and the ids GPT-2's reference tokenizer gives them.

The reference is tiktoken's `gpt2` encoding (token-exact with openai/gpt-2's
encoder.py), built from the bundled vocabulary files after checking they are
byte-identical to the ones tiktoken pins. Needs tiktoken (never a gptlite
dependency):

    .venv-ref/bin/python scripts/make_tokenizer_fixtures.py
"""

import hashlib
import json
import random
from pathlib import Path

import tiktoken
from tiktoken.load import data_gym_to_mergeable_bpe_ranks
from tiktoken_ext.openai_public import r50k_pat_str  # tiktoken's (equivalent, faster) form of GPT-2's regex

ROOT = Path(__file__).resolve().parents[1]
VOCAB = ROOT / "gptlite" / "assets" / "gpt2"
PINNED = {  # tiktoken_ext/openai_public.py: the sha256 of the files behind its gpt2 encoding
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}

CORPUS = [
    "The weather today is sunny, with a light breeze from the west.",
    "It's the end of the road; they'll say we'd've known. I'm sure you're right, isn't it?",
    "SHOUTING IN CAPS and MiXeD cAsE words, plus hyphenated-words and e-mail@example.com.",
    "Numbers: 0 1 12 123 1234 12345 3.14159 -42 1,000,000 2026-11-28 0x7fff 1e-5 ½ ⅞ ٣",
    "def gelu(x):\n    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n// done\n",
    '<div class="x">&amp; &lt;tag&gt;</div>\r\n{"key": [1, 2, {"nested": null}]}',
    "   leading spaces, trailing spaces   ",
    "multiple\n\n\nnewlines\n \n  \n and tabs\t\t\tand\u00a0non-breaking\u2003em spaces",
    "emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 🤖🔥💯 ✨",
    "中文文本测试，日本語のテキスト、한국어 텍스트입니다。",
    "Ελληνικά, русский текст, עברית, العربية, हिन्दी, ไทย",
    "combining marks: e\u0301 a\u0308 n\u0303 Z\u0335\u0321\u031b a\u0300\u0301\u0302\u0303 Å vs A\u030a",
    "control characters: \x00\x01\x07\x1b[31m red \x1b[0m\x7f\x85 end",
    "<|endoftext|> is plain text here, and so is <|fim_prefix|>",
    "'s 's's ''s '''  'S 'LL 'll've're",
    "a" * 200 + " " + "ab" * 100 + " " + "!" * 50 + " " + "1" * 40,
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "",
    " ",
    "\n",
]


def random_texts(n, seed=0):
    """Random unicode from several blocks, surrogates excluded (they cannot be UTF-8 encoded)."""
    rng = random.Random(seed)
    blocks = [
        (0x20, 0x7F),
        (0x00, 0x20),
        (0x80, 0x250),
        (0x300, 0x370),
        (0x370, 0x3000),
        (0x3000, 0x9FFF),
        (0xAC00, 0xD7A3),
        (0xE000, 0xFFFF),
        (0x1F300, 0x1FAFF),
        (0x10000, 0x10FFFF),
    ]
    texts = []
    for _ in range(n):
        chars = []
        for _ in range(rng.randrange(1, 60)):
            lo, hi = rng.choice(blocks)
            chars.append(chr(rng.randrange(lo, hi)))
        texts.append("".join(chars))
    return texts


# Inputs that once broke gptlite: lone surrogates (tiktoken replaces them), and long single pieces, which a
# quadratic BPE takes minutes over. tiktoken's ids for them are the answer.
HOSTILE = [
    "lone \ud800 surrogate",
    "\udfff at the start",
    "a pair \ud83d\ude00 of surrogates",
    "end \udbff",
    "a" * 5000,
    "\u6c49\u5b57" * 1500,
    "1234567890" * 300,
    " " * 3000 + "x",
    "\U0001f600" * 800,
    "!?" * 1500,
    "\t\n" * 1000,
    "é" * 2000,
]
SPECIAL_CASES = [  # (text, allowed_special): tiktoken ignores allowed names that are not special tokens
    ("Hi <|foo|> there", ["<|foo|>"]),
    ("Hi <|endoftext|> there", ["<|endoftext|>", "<|foo|>"]),
]


def main():
    for name, digest in PINNED.items():
        assert hashlib.sha256((VOCAB / name).read_bytes()).hexdigest() == digest, f"{name} differs from tiktoken's"
    ranks = data_gym_to_mergeable_bpe_ranks(str(VOCAB / "vocab.bpe"), str(VOCAB / "encoder.json"))
    enc = tiktoken.Encoding(
        "gpt2", pat_str=r50k_pat_str, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256}
    )
    cases = [{"text": t, "ids": enc.encode_ordinary(t)} for t in CORPUS + random_texts(300) + HOSTILE]
    special = "Hello<|endoftext|>World"
    cases.append({"text": special, "ids": enc.encode(special, allowed_special="all"), "allowed_special": "all"})
    for text, allowed in SPECIAL_CASES:
        ids = enc.encode(text, allowed_special=set(allowed))
        cases.append({"text": text, "ids": ids, "allowed_special": allowed, "disallowed_special": "all"})
    out = ROOT / "tests" / "fixtures" / "tokenizer_golden.json"
    out.write_text(json.dumps(cases, ensure_ascii=True, indent=0) + "\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
