"""Write tests/fixtures/gpt1_tokenizer/: a small vocabulary in GPT-1's format, and the ids that transformers'
OpenAIGPTTokenizer gives held-out texts with it.

GPT-1's own files cannot be fetched here, so the vocabulary is trained in their format with the `tokenizers`
library: BERT's normalizer (lower-cased, accents stripped) and pre-tokenizer, BPE with the end-of-word suffix
`</w>`, `<unk>` (id 0). It learns from the first 4,000 lines of the course's held-out text (gptlite.course) and the
GPT-2 tokenizer's test corpus (other scripts too, so that they are not all unknown); the held-out texts are the
next 300 lines, the GPT-2 tokenizer's test strings and random strings over the characters where BERT's rules
meet. transformers 5's OpenAIGPTTokenizer always takes the BERT route (it never calls ftfy or spaCy; neither
is installed here, so an older transformers would take it too). Needs tokenizers and transformers:

    .venv-ref/bin/python scripts/make_gpt1_tokenizer_fixtures.py
"""

import importlib.util
import random
import string
import sys
import unicodedata
from pathlib import Path

import regex
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import OpenAIGPTTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from make_tiktoken_fixtures import EDGES, one_case_a_line  # noqa: E402
from make_tokenizer_fixtures import CORPUS, HOSTILE, random_texts  # noqa: E402

from gptlite import course  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NEWER = regex.compile(r"[\p{Mn}\p{Cc}\p{Cf}\p{Co}\p{P}]")  # the categories BERT's rules act on
OUT = ROOT / "tests" / "fixtures" / "gpt1_tokenizer"
BERT_EDGES = EDGES + [  # what BERT's normalizer drops, spaces, splits or strips
    "\x0b", "\x1c", "\x7f", "\x85", "\u200b", "\u2028", "\ufeff", "\ufffd", "\U000e0001", "\ue000", "\u00ad",
    "\u4e00", "\u3400", "\U00020000", "\U0002a700", "\U0002b740", "\U0002b81f", "\U0002b820", "\U0002b920",
    "\uf900", "\U0002f800", "\u3042", "\uac00", "Σ", "ΣΑΣ", "ς", "İ", "ß", "ǅ", "Ⅻ", "ﬁ", "Å", "ñ", "ç", "ø",
    "$", "+", "<", "=", ">", "^", "`", "|", "~", "¿", "«", "»", "\u2014", "\u2026", "<unk>", "don't", "U.S.",
    "Hello", "WORLD", "the", " ", "\t", "\n",
]  # fmt: skip


def bert_edge_texts(n, seed=0):
    rng = random.Random(seed)
    return ["".join(rng.choices(BERT_EDGES, k=rng.randrange(1, 16))) for _ in range(n)]


def unicode_version_skew():
    """The characters on which tokenizers' Unicode tables (an older Unicode version, compiled into its Rust
    crates) disagree with Python's: assigned since, or moved between categories. BERT's rules treat them by
    category (drop Cc/Cf/Co, strip Mn, split P), so gptlite, which reads categories from Python's and the
    regex module's newer tables, treats them differently; the cases leave them out (about 700 code points,
    none in common use)."""
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False)  # fmt: skip
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                       lowercase=False)  # fmt: skip
    split = pre_tokenizers.BertPreTokenizer()
    skewed = set()
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        c = chr(code)
        category = unicodedata.category(c)
        dropped = c in "\x00\ufffd" or (category in ("Cc", "Cf", "Co") and c not in "\t\n\r")
        punctuation = category.startswith("P") or (c.isascii() and c in string.punctuation)
        if (
            (clean.normalize_str("a" + c + "b") == "ab") != dropped
            or (category == "Mn") != (strip.normalize_str("a" + c + "b") == "ab")
            or punctuation != ([w for w, _ in split.pre_tokenize_str("a" + c + "b")] == ["a", c, "b"])
            or (category == "Cn" and NEWER.match(c))  # unassigned for Python, assigned for the regex module
        ):
            skewed.add(c)
    return skewed


def utf8(text):
    """transformers' tokenizers take only text that UTF-8 can encode: lone surrogates are left out."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def train(lines):
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=["<unk>"], end_of_word_suffix="</w>")
    tokenizer.train_from_iterator(lines, trainer)
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizer.model.save(str(OUT))  # vocab.json and merges.txt


def main():
    assert importlib.util.find_spec("ftfy") is None and importlib.util.find_spec("spacy") is None
    lines = course.text("heldout").splitlines()
    train(lines[:4000] + CORPUS * 3)
    reference = OpenAIGPTTokenizer.from_pretrained(str(OUT))
    assert reference.unk_token_id == 0
    held_out = ["\n".join(lines[k : k + 10]) for k in range(4000, 4300, 10)]
    skewed = unicode_version_skew()
    texts = held_out + CORPUS + random_texts(300) + HOSTILE + bert_edge_texts(1000)
    texts = [t for t in texts if utf8(t) and skewed.isdisjoint(t)]
    print(f"{len(skewed)} characters on which Unicode versions disagree; {len(texts)} texts without them")
    cases = []
    for text in texts:
        ids = reference.encode(text, add_special_tokens=False)
        cases.append({"text": text, "ids": ids, "decoded": reference.decode(ids)})
    (OUT / "cases.json").write_text(one_case_a_line({"cases": cases}))
    print(f"wrote {len(cases)} cases and a {len(reference)}-token vocabulary to {OUT}")


if __name__ == "__main__":
    main()
