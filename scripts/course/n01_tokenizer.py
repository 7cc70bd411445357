"""Notebook 01, "The tokenizer, step by step" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 1. The tokenizer, step by step

A language model reads numbers, not letters. GPT-2's tokenizer turns text into token ids in three steps, and
this notebook takes each one apart:

1. **pre-tokenize**: a regular expression cuts the text into pieces (words, numbers, punctuation, whitespace);
2. **bytes to symbols**: each piece becomes its UTF-8 bytes, so that any text at all can be encoded;
3. **merge**: byte pair encoding (BPE) joins common runs of bytes into single tokens, and each token is looked up
   in the vocabulary to get its id.

You will write each step yourself (five exercises, each checked against gptlite's own code), then look at where
the tokenizer surprises people: numbers, code, other scripts, a famous glitch token and the special token
`<|endoftext|>`. The library's code is `gptlite/tokenizer.py`; GPT-2's own is `encoder.py` in openai/gpt-2.
Everything runs offline: GPT-2's vocabulary ships with gptlite.
"""),
    code("""
import matplotlib.pyplot as plt
import numpy as np
import regex
from gptlite import Tokenizer, course, tokenizer
from gptlite.course import check

tok = Tokenizer.from_pretrained("gpt2")
assert tok.n_vocab == 256 + len(tok.ranks) + 1 == 50257  # 256 bytes, 50,000 merges, <|endoftext|>
tok
"""),
    md(r"""
## Step 1: pre-tokenize

Before any merging, a regular expression cuts the text into pieces, and BPE works inside each piece on its own.
Here is GPT-2's pattern, exactly as `encoder.py` has it, and its twelve alternatives one per line:
"""),
    code("""
print(tokenizer.GPT2_PATTERN)
alternatives = tokenizer.GPT2_PATTERN.split("|")
assert len(alternatives) == 12
for number, alternative in enumerate(alternatives, 1):
    print(f"{number:>2}  {alternative}")
"""),
    md(r"""
At each position in the text the regex tries the alternatives in order and takes the first that matches:

| alternatives | what they match |
|---|---|
| 1–7: `'s` `'t` `'re` `'ve` `'m` `'ll` `'d` | an English contraction, as a piece of its own |
| 8: ` ?\p{L}+` | a run of letters of any script (`\p{L}` is Unicode's class of letters), with at most one space before it |
| 9: ` ?\p{N}+` | a run of digits (`\p{N}`: number characters), with at most one space before it |
| 10: ` ?[^\s\p{L}\p{N}]+` | a run of anything else (punctuation, symbols, emoji), with at most one space before it |
| 11: `\s+(?!\S)` | a run of whitespace not followed by a non-space: it gives back the last space, so that the word after it can take it |
| 12: `\s+` | whatever whitespace is left: a newline or a tab right before a word |

The cell below labels each piece of a sentence with the alternative that matched it. (`regex` is the
third-party module: Python's own `re` has no `\p{L}`.)
"""),
    code("""
text = "Hello world! GPT-2's tokenizer   handles 2026 emoji 😀 too.\\n\\nDON'T\\tstop"
labelled = regex.compile("|".join(f"({alternative})" for alternative in alternatives))
for match in labelled.finditer(text):
    print(f"{match.group()!r:14} alternative {match.lastindex:>2}: {alternatives[match.lastindex - 1]}")

pieces = tokenizer.PATTERN.findall(text)
assert [match.group() for match in labelled.finditer(text)] == regex.findall(tokenizer.GPT2_PATTERN, text) == pieces
"""),
    md(r"""
What to notice, each asserted below:

- the space goes *with the word after it*: " world", " handles";
- "GPT-2's" is four pieces: letters, digits and punctuation never share a piece, and "'s" is split off;
- of the three spaces before "handles", alternative 11 takes two and leaves one for " handles";
- "DON'T" becomes "DON", "'", "T": the contractions are lower case only, a known quirk of GPT-2's pattern;
- the two newlines are two pieces: alternative 11 gives the second back, and only alternative 12 can take it;
- the tab before "stop" is alternative 12 too: a whitespace character that is not a space never joins the word.

gptlite runs the pattern in an equivalent form, `tokenizer.PATTERN`, written to be faster (possessive `++`
quantifiers never backtrack); the last line of the cell above checked that the two cut this text alike.
"""),
    code("""
assert " world" in pieces and " handles" in pieces
assert pieces[pieces.index(" GPT") :][:4] == [" GPT", "-", "2", "'s"]
assert pieces[pieces.index(" tokenizer") + 1] == "  "
assert pieces[-5:] == ["DON", "'", "T", "\\t", "stop"] and pieces.count("\\n") == 2
assert [match.lastindex for match in labelled.finditer(text) if match.group().isspace()] == [11, 11, 12, 12]
print(tokenizer.PATTERN.pattern)
"""),
    md("""
**Why " the" and "the" are different tokens.** The regex attaches the space: alternative 8 takes one space
together with the letters after it, so the piece that reaches BPE is " the", space included. BPE never merges
across two pieces, and a word's space is inside its piece, so the vocabulary learned both forms: " the" (a word
in running text) and "the" (at the start of a text, or after a newline or a quote mark). The same goes for
capitals: four spellings, four different single tokens.
"""),
    code("""
words = [" the", "the", " The", "The"]
for word in words:
    print(f"{word!r:7} -> {tok.encode(word)}")
assert all(len(tok.encode(word)) == 1 for word in words)
assert len({tok.encode(word)[0] for word in words}) == len(words)
"""),
    md("""
## Step 2: bytes become symbols

BPE in GPT-2 works on bytes, not characters: every piece is encoded as UTF-8, so the 256 byte values are the
starting alphabet and no text is ever "unknown". But the vocabulary files are text, one merge per line with a
space between the two halves, so each byte is *shown* as one printable character. Printable bytes stay
themselves; the others (control characters, the space, ...) are moved up to characters from U+0100 on. That is
why GPT-2's vocabulary is full of `Ġ` (a space) and `Ċ` (a newline).
"""),
    code("""
table = tokenizer.bytes_to_unicode()
moved = [b for b, symbol in table.items() if ord(symbol) >= 256]
print(len(table), "bytes;", len(moved), "of them shown as another character")
print("space ->", table[ord(" ")], "  newline ->", table[ord("\\n")], "  a ->", table[ord("a")])
assert len(table) == 256 and len(moved) == 68
assert table[ord(" ")] == "Ġ" and table[ord("\\n")] == "Ċ" and table[ord("a")] == "a"

for piece in [" world", "!", " 😀"]:
    symbols = "".join(table[b] for b in piece.encode("utf-8"))
    print(f"{piece!r:9} -> bytes {list(piece.encode('utf-8'))} -> symbols {list(symbols)}")
"""),
    md("""
### Exercise 1: the byte table

Write `bytes_to_unicode()`, returning `{byte value: a one-character string}` for all 256 bytes:

- the printable bytes `'!'`..`'~'` (33–126), `'¡'`..`'¬'` (161–172) and `'®'`..`'ÿ'` (174–255) stand for
  themselves (`chr(b)`);
- each of the other 68, in increasing order, becomes the next unused character from `chr(256)` on.

Check: the space (byte 32) should come out as `'Ġ'`, which is `chr(288)`.
"""),
    exercise("""
def bytes_to_unicode():
    \"\"\"{byte value 0..255: the printable character that stands for it in GPT-2's vocabulary files}.\"\"\"
    raise NotImplementedError
"""),
    code("""
check(bytes_to_unicode, tokenizer.bytes_to_unicode, [()])
"""),
    solution("""
def bytes_to_unicode():
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + n) for n, b in enumerate(others)})
    return table


assert check(bytes_to_unicode, tokenizer.bytes_to_unicode, [()])
"""),
    md("""
## Step 3: merge, best pair first

GPT-2's merge list (`vocab.bpe`) holds 50,000 pairs of symbols, learned from WebText, in the order they were
learned. In gptlite it is `tok.ranks`: a dict from a pair `(left, right)` to its **rank**, the pair's line in the
file counted from 0. Rank 0 is the first merge learned (in BPE, the commonest pair in the training text). Each
merge makes one new symbol, which later merges can use in turn, and each new symbol is a token: the one that the
merge of rank `r` makes has the id `256 + r`.
"""),
    code("""
by_rank = sorted(tok.ranks, key=tok.ranks.get)
print(len(tok.ranks), "merges; the first ten:", by_rank[:10])
assert len(tok.ranks) == 50000 and list(tok.ranks.values()) == list(range(50000))
assert all(tok.encoder[left + right] == 256 + rank for (left, right), rank in tok.ranks.items())
print("('Ġ', 't') has rank", tok.ranks[("Ġ", "t")], "and makes token", tok.encoder["Ġt"])
"""),
    md("""
To encode a piece, BPE starts from its byte symbols and looks up the rank of every adjacent pair. A pair that is
not in the list never merges. The pair of lowest rank merges; then BPE looks again, and stops when no adjacent
pair is in the list. Here is the first look at " tokenizer":
"""),
    code("""
symbols = "".join(table[b] for b in " tokenizer".encode("utf-8"))
pairs = list(zip(symbols, symbols[1:]))
for pair in pairs:
    print(pair, tok.ranks.get(pair, "not in the list"))
best = min((pair for pair in pairs if pair in tok.ranks), key=tok.ranks.get)
print("merged first:", best)
assert best == ("Ġ", "t")
"""),
    md("""
### Exercise 2: one merge

Write `merge(parts, pair)`: a new list in which every occurrence of `pair` (two adjacent parts, left then right)
is replaced by the two joined into one string, scanning left to right. `parts` itself must not change. Mind
overlaps: merging `("a", "a")` in `["a", "a", "a"]` gives `["aa", "a"]`.
"""),
    exercise("""
def merge(parts, pair):
    \"\"\"parts: a list of strings; pair: (left, right). Returns a new list with each left, right next to each
    other (left to right, without overlapping) replaced by left + right.\"\"\"
    raise NotImplementedError
"""),
    code("""
merge_cases = [
    (["a", "b", "a", "b"], ("a", "b")),
    (["a", "a", "a"], ("a", "a")),
    (list("Ġthe"), ("h", "e")),
    (list("Ġthe"), ("e", "h")),
    ([], ("a", "b")),
]
check(merge, tokenizer.merge_pair, merge_cases)
"""),
    solution("""
def merge(parts, pair):
    out, i = [], 0
    while i < len(parts):
        if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
            out.append(parts[i] + parts[i + 1])
            i += 2
        else:
            out.append(parts[i])
            i += 1
    return out


assert check(merge, tokenizer.merge_pair, merge_cases)
"""),
    md("""
### Exercise 3: BPE on one piece

Write `bpe(symbols)`: start from the list of a piece's symbols, and repeatedly merge (with your `merge`) the
adjacent pair of lowest rank in `tok.ranks`, until no adjacent pair is in `tok.ranks`. Return the final list.
The check compares it with `tok.bpe`.
"""),
    exercise("""
def bpe(symbols):
    \"\"\"symbols: a string of byte symbols (one piece, after bytes_to_unicode). Returns the list of its tokens'
    symbol strings after every merge.\"\"\"
    raise NotImplementedError
"""),
    code("""
def symbols_of(piece):
    return "".join(table[b] for b in piece.encode("utf-8"))


pieces_to_merge = [" tokenizer", " 2026", " SolidGoldMagikarp", "Привет", " 😀", "a"]
bpe_cases = [(symbols_of(piece),) for piece in pieces_to_merge]
check(bpe, tok.bpe, bpe_cases)
"""),
    solution("""
def bpe(symbols):
    parts = list(symbols)
    while True:
        ranked = [pair for pair in zip(parts, parts[1:]) if pair in tok.ranks]
        if not ranked:
            return parts
        parts = merge(parts, min(ranked, key=tok.ranks.get))


assert check(bpe, tok.bpe, bpe_cases)
"""),
    md("""
Every merge of " tokenizer", in the order BPE makes them. Ranks grow as the merges go: the early ones join
common pairs of letters, the later ones join whole pieces of words.
"""),
    code("""
parts, ranks_merged = list(symbols_of(" tokenizer")), []
while any(pair in tok.ranks for pair in zip(parts, parts[1:])):
    pair = min((pair for pair in zip(parts, parts[1:]) if pair in tok.ranks), key=tok.ranks.get)
    parts = merge(parts, pair)
    ranks_merged.append(tok.ranks[pair])
    print(f"rank {ranks_merged[-1]:>5}: {parts}")
assert parts == tok.bpe(symbols_of(" tokenizer"))
assert ranks_merged == sorted(ranks_merged)
"""),
    md("""
### Exercise 4: the whole encoder

Put the three steps together: `encode(text)` cuts the text with `tokenizer.PATTERN.findall`, turns each piece
into symbols (`symbols_of`), merges them (`bpe`), and looks each resulting symbol up in `tok.encoder` (symbol
string -> id). The check compares it with `tok.encode_ordinary`, on a sentence, on Russian and on a passage of
*Hamlet*.
"""),
    exercise("""
def encode(text):
    \"\"\"Text -> the list of GPT-2's token ids for it.\"\"\"
    raise NotImplementedError
"""),
    code("""
passage = course.text("hamlet")[5000:7000]
encode_cases = [(text,), ("Привет мир",), (passage,)]
check(encode, tok.encode_ordinary, encode_cases)
"""),
    solution("""
def encode(text):
    ids = []
    for piece in tokenizer.PATTERN.findall(text):
        ids += [tok.encoder[symbol] for symbol in bpe(symbols_of(piece))]
    return ids


assert check(encode, tok.encode_ordinary, encode_cases)
"""),
    md("""
`tok.encode` does the same, faster: a piece that is already a whole token skips the merge loop, the pieces seen
before are remembered, and the merge loop works on integer ids. Decoding goes back the same way:
"""),
    code("""
ids = tok.encode(text)
print(len(text.encode("utf-8")), "bytes ->", len(ids), "tokens")
print(tok.to_str_tokens(ids))
assert tok.decode(ids) == text
"""),
    md("""
The emoji came out as tokens that are not text on their own (`�`): its four bytes are split across tokens,
and only together do they decode to a character.

### Exercise 5: the decoder

Write `decode(ids)`: each id back to its symbol string (invert `tok.encoder`), each symbol back to its byte
(invert `table`), and the bytes decoded as UTF-8 with `errors="replace"`, so that bytes that are not a whole
character become `�` rather than raising. The check compares it with `tok.decode`, on a whole text, on one token
of the emoji alone (half a character) and on `<|endoftext|>`.
"""),
    exercise("""
def decode(ids):
    \"\"\"A list of GPT-2 token ids -> the text they stand for.\"\"\"
    raise NotImplementedError
"""),
    code("""
decode_cases = [(ids,), (tok.encode(" 😀")[:1],), (tok.encode("one<|endoftext|>two", allowed_special="all"),)]
check(decode, tok.decode, decode_cases)
"""),
    solution("""
symbol_of = {i: symbol for symbol, i in tok.encoder.items()}
byte_of = {symbol: b for b, symbol in table.items()}


def decode(ids):
    data = bytes(byte_of[character] for i in ids for character in symbol_of[i])
    return data.decode("utf-8", errors="replace")


assert check(decode, tok.decode, decode_cases)
"""),
    md("""
## Printing tokens as they come: `stream_decoder()`

A model generates one token at a time. Decoding each token on its own prints `�` whenever a character's bytes
are split across tokens. `tok.stream_decoder()` keeps the bytes of an unfinished character back until its last
byte arrives, then prints it whole; `flush()` at the end gives whatever is left over.
"""),
    code("""
line = "Smile 😀, Привет!"
line_ids = tok.encode(line)
alone = [tok.decode([i]) for i in line_ids]
stream = tok.stream_decoder()
streamed = [stream(i) for i in line_ids]
print("one by one:", alone)
print("streamed:  ", streamed)
assert "\\N{REPLACEMENT CHARACTER}" in "".join(alone)
assert "".join(streamed) + stream.flush() == line
"""),
    md("""
## Numbers

GPT-2's pattern keeps a run of digits together as one piece, and BPE splits it wherever the merges learned from
WebText happen to: the split has nothing to do with place value. `' 2026'` is `' 20'` and `'26'`, while every
year from 1900 to 2022 is a single token. Later tokenizers fixed a rule instead: cl100k_base (GPT-3.5, GPT-4)
cuts digits into runs of at most three, from the left, and leaves the space before a number as a token of its
own.
"""),
    code("""
assert tok.to_str_tokens(tok.encode(" 2026")) == [" 20", "26"]
assert all(len(tok.encode(f" {year}")) == 1 for year in range(1900, 2023))
cl100k = Tokenizer.from_pretrained("cl100k_base")
for number in [" 2026", " 1234567"]:
    print(f"{number!r:11} gpt2: {tok.to_str_tokens(tok.encode(number))}  cl100k_base: "
          f"{cl100k.to_str_tokens(cl100k.encode(number))}")
assert cl100k.to_str_tokens(cl100k.encode(" 1234567")) == [" ", "123", "456", "7"]
assert cl100k.to_str_tokens(cl100k.encode(" 2026")) == [" ", "202", "6"]
"""),
    md("""
The picture shows how many tokens GPT-2 needs for each number from 0 to 9,999 (with its leading space), one row
per hundred. Every number below 300 is a single token, and so is every number of the 1900s row: small numbers
and years were common in WebText. Elsewhere the count changes from one number to the next, with no pattern that a
model learning arithmetic could rely on.
"""),
    code("""
counts = np.array([len(tok.encode(f" {n}")) for n in range(10000)]).reshape(100, 100)
values, how_many = np.unique(counts, return_counts=True)
print(dict(zip(values.tolist(), how_many.tolist())), "(tokens: how many numbers)")
assert (counts[:3] == 1).all() and (counts[19] == 1).all()  # 0-299 and 1900-1999: one token each

fig, ax = plt.subplots(figsize=(6, 4.5))
image = ax.imshow(counts, cmap="viridis_r", vmin=1, vmax=counts.max(), aspect="auto")
fig.colorbar(image, ax=ax, ticks=list(range(1, counts.max() + 1)), label="tokens")
ax.set(title="Tokens GPT-2 needs for ' n'", xlabel="n mod 100", ylabel="n // 100 (hundreds)")
plt.show()
"""),
    md("""
## Code and its indentation

Alternative 11 cuts a run of spaces into all but the last (the last joins the next word). GPT-2's vocabulary has
no token for two or more spaces, so every space of indentation but the last costs a token of its own. Later
vocabularies added tokens for runs of spaces, which is part of why they read code more cheaply.
"""),
    code("""
line_of_code = "        return x\\n"
print("gpt2:       ", tok.to_str_tokens(tok.encode(line_of_code)))
print("cl100k_base:", cl100k.to_str_tokens(cl100k.encode(line_of_code)))
assert [symbol for symbol in tok.encoder if set(symbol) == {"Ġ"}] == ["Ġ"]  # no token of two spaces or more
assert tok.encode(line_of_code).count(tok.encode(" ")[0]) == 7 and len(cl100k.encode(line_of_code)) == 4
"""),
    md("""
## Other scripts

Merges were learned from WebText, which is mostly English, so few pairs of bytes of other scripts were ever
merged, and those scripts also take more bytes per character in UTF-8 (two for Cyrillic, three for Devanagari
and Chinese). "Привет мир" ("hello world") is 10 characters, 19 bytes and 11 tokens, and its first letter is two
tokens, one byte each, that only decode together:
"""),
    code("""
privet = "Привет мир"
privet_ids = tok.encode(privet)
print(len(privet), "characters,", len(privet.encode("utf-8")), "bytes,", len(privet_ids), "tokens:",
      tok.to_str_tokens(privet_ids))
assert (len(privet), len(privet.encode("utf-8")), len(privet_ids)) == (10, 19, 11)
assert tok.to_str_tokens(privet_ids[:2]) == ["�", "�"] and tok.decode(privet_ids[:2]) == "П"
"""),
    md("""
The same sentence in eight languages, counted by three of OpenAI's tokenizers (all shipped with gptlite):
GPT-2's, cl100k_base (GPT-3.5 and GPT-4) and o200k_base (GPT-4o). The sentences are translations of one
another, so the bars compare what each tokenizer charges for the same meaning. Every other language costs GPT-2
more tokens than English, Hindi the most; o200k_base, the larger vocabulary that OpenAI introduced with GPT-4o to
encode other languages more cheaply, brings them all within 1.4 times English.
"""),
    code("""
sentences = {
    "English": "The weather is nice today, so we are going for a walk in the park.",
    "French": "Il fait beau aujourd'hui, alors nous allons nous promener dans le parc.",
    "German": "Das Wetter ist heute schön, also gehen wir im Park spazieren.",
    "Russian": "Сегодня хорошая погода, поэтому мы идём гулять в парк.",
    "Greek": "Σήμερα ο καιρός είναι ωραίος, οπότε πάμε βόλτα στο πάρκο.",
    "Hindi": "आज मौसम अच्छा है, इसलिए हम पार्क में टहलने जा रहे हैं।",
    "Chinese": "今天天气很好，所以我们去公园散步。",
    "Japanese": "今日は天気がいいので、公園を散歩します。",
}
tokenizers = {"gpt2": tok, "cl100k_base": cl100k, "o200k_base": Tokenizer.from_pretrained("o200k_base")}
tokens = {name: np.array([len(t.encode(s)) for s in sentences.values()]) for name, t in tokenizers.items()}
ratio = {name: n / n[0] for name, n in tokens.items()}  # tokens relative to English
for language, *row in zip(sentences, *tokens.values()):
    print(f"{language:9}", "  ".join(f"{name} {n:>3}" for name, n in zip(tokenizers, row)))
assert (ratio["gpt2"][1:] > 1).all() and list(sentences)[ratio["gpt2"].argmax()] == "Hindi"
assert ratio["o200k_base"].max() < 1.4

fig, ax = plt.subplots(figsize=(7, 4))
width = 0.27
for k, (name, n) in enumerate(tokens.items()):
    ax.bar(np.arange(len(sentences)) + (k - 1) * width, n, width, label=name)
ax.set_xticks(range(len(sentences)), list(sentences), rotation=30)
ax.set(title="One sentence, eight languages: how many tokens", ylabel="tokens")
ax.legend()
plt.show()
"""),
    md("""
## A glitch token: " SolidGoldMagikarp"

The usual explanation: the vocabulary was learned from one set of text and the model trained on another. A few
strings were common in the first (usernames from a Reddit counting forum, among them " SolidGoldMagikarp") and
became whole tokens, but the model hardly ever saw them in training, so their embeddings were barely trained.
In 2023 Rumbelow and Watkins found such tokens among those whose embeddings sit closest to the average one, and
showed that GPT-3 models could not repeat them back. Note the space again: with it the name is one token,
without it two. o200k_base, whose vocabulary was learned afresh, has no such token.
"""),
    code("""
for name in [" SolidGoldMagikarp", "SolidGoldMagikarp"]:
    print(f"{name!r:20} gpt2: {tok.to_str_tokens(tok.encode(name))}")
assert len(tok.encode(" SolidGoldMagikarp")) == 1 and len(tok.encode("SolidGoldMagikarp")) == 2
o200k = tokenizers["o200k_base"]
print("o200k_base:", o200k.to_str_tokens(o200k.encode(" SolidGoldMagikarp")))
assert len(o200k.encode(" SolidGoldMagikarp")) > 1
"""),
    md("""
## The special token `<|endoftext|>`

GPT-2 has one token that ordinary text never encodes to: `<|endoftext|>`, the last id, which separated
documents in training. If a user's text could turn into it just by containing the characters `<|endoftext|>`, that text
could end a document early or inject a control token, so `encode` refuses such text unless told what to do:
`allowed_special={"<|endoftext|>"}` (or `"all"`) encodes it as the special id, and `disallowed_special=()`
encodes it as the ordinary characters it is made of.
"""),
    code("""
document = "The end.<|endoftext|>A new document"
try:
    tok.encode(document)
except ValueError as error:
    print("refused:", error)
special = tok.encode(document, allowed_special={"<|endoftext|>"})
plain = tok.encode(document, disallowed_special=())
print("allowed:  ", tok.to_str_tokens(special))
print("as text:  ", tok.to_str_tokens(plain))
assert tok.eot_token == tok.n_vocab - 1 and tok.eot_token in special and tok.eot_token not in plain
assert tok.decode(special) == tok.decode(plain) == document
"""),
    md("""
## Train a small BPE yourself

OpenAI never published the code that learned GPT-2's merges. `train_bpe` is a reconstruction of the idea
(Sennrich et al. 2016, on bytes, inside the pieces of GPT-2's pattern): count every adjacent pair of symbols,
merge the most frequent everywhere, repeat. It is not GPT-2's trainer, and run on WebText it need not give
GPT-2's merges (ties, for one, are broken by a rule of its own). On one paragraph the first merges are its
commonest pairs of symbols, a space with the letter after it among them, and soon whole short words.
"""),
    code("""
paragraph = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
    "it was the season of Darkness, it was the spring of hope, it was the winter of despair."
)
encoder, merges = tokenizer.train_bpe(paragraph, vocab_size=300)
print(len(merges), "merges; the first twelve:", [a + " + " + b for a, b in merges[:12]])
small = Tokenizer(encoder, merges)
print(small.to_str_tokens(small.encode("it was the age of wisdom")))
assert len(merges) == 300 - 257  # the vocabulary: 256 bytes, the merges, <|endoftext|>
assert len(small.encode(" was")) == len(small.encode(" the")) == 1
"""),
    md("""
With only 43 merges (the assert above computes it: 300 tokens less 256 bytes and `<|endoftext|>`), whole words
like " was" and " the" are already single tokens. GPT-2's 50,000 merges go much further: most common English
words are one token. `gptlite-shakespeare`, the model that ships with gptlite, has its own 2,048-token
vocabulary, which `train_bpe` learned from the plays. A vocabulary that small needs more tokens for the same
line than GPT-2's:
"""),
    code("""
bundled = Tokenizer.from_pretrained("gptlite-shakespeare")
print(bundled)
assert bundled.n_vocab == 2048
line = "To be, or not to be, that is the question:"
print("gptlite-shakespeare:", bundled.to_str_tokens(bundled.encode(line)))
print("gpt2:               ", tok.to_str_tokens(tok.encode(line)))
assert len(bundled.encode(line)) > len(tok.encode(line))
"""),
]
