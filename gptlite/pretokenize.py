"""The pre-tokenizers' patterns, run 3x faster on ASCII text by the standard library's `re`.

The patterns (GPT-2's, cl100k_base's and o200k_base's: tokenizer.py and vocab.py) need the `regex` module for
their Unicode classes (\\p{L}, \\p{N}, ...). `re` has none, but it is about 3x faster, and since Python 3.11 it
has the possessive quantifiers the patterns use. On ASCII text (most English prose and code) a class only ever
meets ASCII characters, so it can be written out as the list of ASCII characters in it: the pattern is written
once more as a template whose classes ("atoms") are named, each atom becomes the explicit list of the ASCII
characters that `regex` says belong to it, and `re` then cuts exactly the pieces that `regex` cuts (both are
backtracking engines with the same alternation, quantifiers, lookahead and `$`). Other text goes to `regex`.
tests/test_tiktoken_encodings.py compares the two on every ASCII test text, every ASCII string of two
characters and thousands of random ones.
"""

import re
import sys

import regex

# Each pattern's template: the pattern with its classes written as {names}, and what each name stands for.
GPT2_TEMPLATE = (
    {"L": r"\p{L}", "N": r"\p{N}", "P": r"[^\s\p{L}\p{N}]", "S": r"\s", "NS": r"\S"},
    r"'(?:[sdmt]|ll|ve|re)| ?{L}++| ?{N}++| ?{P}++|{S}++$|{S}+(?!{NS})|{S}",
)
CASELESS = {f"i{c}": f"(?i:{c})" for c in "sdmtlvre"}  # (?i:s) is s or S (and, beyond ASCII, the long s)
CL100K = (
    {**CASELESS, "X": r"[^\r\n\p{L}\p{N}]", "L": r"\p{L}", "N": r"\p{N}", "P": r"[^\s\p{L}\p{N}]", "S": r"\s",
     "NS": r"\S"},
    r"'(?:{is}|{id}|{im}|{it}|{il}{il}|{iv}{ie}|{ir}{ie})|{X}?+{L}++|{N}{{1,3}}+| ?{P}++[\r\n]*+|{S}++$|{S}*[\r\n]|"
    r"{S}+(?!{NS})|{S}",
)  # fmt: skip
CONTRACTION = r"(?:'{is}|'{it}|'{ir}{ie}|'{iv}{ie}|'{im}|'{il}{il}|'{id})?"
O200K = (
    {**CASELESS, "X": r"[^\r\n\p{L}\p{N}]", "U": r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]",
     "W": r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", "N": r"\p{N}", "P": r"[^\s\p{L}\p{N}]", "S": r"\s", "NS": r"\S"},
    "{X}?{U}*{W}+" + CONTRACTION + "|{X}?{U}+{W}*" + CONTRACTION + r"|{N}{{1,3}}| ?{P}+[\r\n/]*|{S}*[\r\n]+|"
    r"{S}+(?!{NS})|{S}+",
)  # fmt: skip


def ascii_pattern(template):
    """A template's pattern for `re`, each atom the explicit class of the ASCII characters in it."""
    atoms, text = template
    classes = {}
    for name, atom in atoms.items():
        members = "".join(re.escape(chr(c)) for c in range(128) if regex.fullmatch(atom, chr(c)))
        classes[name] = f"[{members}]" if members else "(?!)"  # (?!) matches nothing
    return re.compile(text.format(**classes))


class Pretokenizer:
    """`findall(text)`: a pattern's pieces of a text, exactly as `regex.findall(pattern, text)` gives them."""

    def __init__(self, pattern, template=None):
        """pattern: the regex pattern; template: the same pattern as (atoms, template), or None for `regex` alone."""
        self.pattern = regex.compile(pattern)
        fast = template is not None and sys.version_info >= (3, 11)  # re has possessive quantifiers from 3.11
        self._ascii = ascii_pattern(template) if fast else None

    def findall(self, text):
        if self._ascii is not None and text.isascii():
            return self._ascii.findall(text)
        return self.pattern.findall(text)
