"""Notebook 08, "The GPT family, from GPT-1 to GPT-4o" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, md

CELLS = [
    md("""
# 8. The GPT family, from GPT-1 to GPT-4o

GPT-2 is one chapter of a story that runs from GPT-1 (2018) to GPT-4o (2024). Two more chapters are public
and exact in gptlite: GPT-1's weights and block (`openai-gpt`), and the tokenizers of GPT-3.5/GPT-4
(`cl100k_base`) and GPT-4o (`o200k_base`), shipped with the package, so everything here runs offline. This
notebook compares the tokenizers, puts GPT-1's block beside GPT-2's and trains both kinds on the same text.
"""),
    md("""
## Four tokenizers, the same texts

GPT-2, GPT-4 and GPT-4o all use byte-level BPE: any text at all encodes, nothing is ever unknown. GPT-1 came
before that: it lower-cases, strips accents and splits off punctuation (BERT's rules, as transformers runs
it), then runs BPE over characters with `</w>` marking a word's end; characters outside its vocabulary
become `<unk>`. Its vocabulary is not shipped (it comes with `GPT.from_pretrained("openai-gpt")`), so below
it shows the words its BPE starts from.
"""),
    code("""
from gptlite import Tokenizer
from gptlite.gpt1_tokenizer import WORD, normalize
from gptlite.tokenizer import ENCODINGS, PATTERN

tokenizers = {name: Tokenizer.from_pretrained(name) for name in ("gpt2", "cl100k_base", "o200k_base")}
texts = {
    "prose": "The weather today is cold, but the forecast says it won't rain.",
    "numbers": "In 2026 I paid $1,234.50 for 12345678 bytes.",
    "code": "def add(a, b):\\n        return a + b\\n",
    "another language": "Привет, мир! Как дела?",
}
for kind, text in texts.items():
    counts = {name: len(tok.encode(text)) for name, tok in tokenizers.items()}
    print(f"{kind:17s} {len(text):3d} characters ->", counts, f"| GPT-1 words: {len(WORD.findall(normalize(text)))}")
"""),
    code("""
for kind in ("numbers", "code"):
    for name, tok in tokenizers.items():
        print(f"{name:12s}", tok.to_str_tokens(tok.encode(texts[kind])))
    print(f"{'GPT-1 words':12s}", WORD.findall(normalize(texts[kind])))
    print()
"""),
    md("""
Why they split as they do is in each pre-tokenizer, the regular expression that cuts the text into pieces
before BPE (BPE never merges across two pieces):
"""),
    code("""
print("GPT-2:      ", PATTERN.pattern)
print("GPT-4:      ", ENCODINGS["cl100k_base"].pattern)
print("GPT-4o:     ", ENCODINGS["o200k_base"].pattern)
"""),
    md("""
* **Digits.** GPT-2's ` ?\\p{N}+` takes a whole run of digits as one piece, which BPE then cuts wherever its
  merges happen to fall: `12345678` can become pieces of any length. GPT-4's and GPT-4o's `\\p{N}{1,3}` cut
  every run into groups of at most three digits, from the left, so numbers tokenize regularly (the cell
  below counts how many of the numbers 0 to 999 are one token of their own).
* **Whitespace and code.** All three keep runs of spaces together (`\\s+(?!\\S)`), but GPT-4's vocabulary has
  tokens for long runs of spaces and indented newlines (`\\s*[\\r\\n]`), which makes indented code far
  cheaper than with GPT-2.
* **Case.** GPT-4's contractions are matched case-insensitively (`(?i:...)`), and GPT-4o's word pattern
  splits words at a change from lower to upper case (`camelCase` -> `camel`, `Case`). GPT-1 lower-cases
  everything first: it never sees case at all.
* **Other languages.** A bigger vocabulary learned from more languages covers more of them: the Russian text
  takes fewer tokens with each newer tokenizer.
"""),
    code("""
for name, tok in tokenizers.items():
    print(f"{name:12s} {sum(len(tok.encode(str(n))) == 1 for n in range(1000)):4d} of the numbers 0-999 are one token")
assert [len(tok.encode(texts["another language"])) for tok in tokenizers.values()] == sorted(
    [len(tok.encode(texts["another language"])) for tok in tokenizers.values()], reverse=True)
"""),
    md("""
## GPT-1's block beside GPT-2's

The GPT-2 paper (Radford et al. 2019, Section 2.3): "Layer normalization was moved to the input of each
sub-block ... and an additional layer normalization was added after the final self-attention block". GPT-1
normalises after adding each sub-layer's output ("post-LN"); GPT-2 normalises the input of each sub-layer
and adds its output to an un-normalised residual stream ("pre-LN"), with one more layer norm, `ln_f`, before
the head. In `gptlite/model.py` the two are one line apart:
"""),
    code("""
import inspect

from gptlite import model

print(inspect.getsource(model.block_post_ln))
print(inspect.getsource(model.block_pre_ln))
"""),
    md("""
## Training deeper than is comfortable

Xiong et al. 2020 ("On Layer Normalization in the Transformer Architecture") showed why the move mattered:
in a post-LN transformer the gradients near the output are large at initialisation, so training without a
learning-rate warmup is unstable; pre-LN trains without one. Here is the same small, deep model (12 blocks,
32 wide) trained both ways on the same text, from the same initial weights, with a high learning rate and no
warmup. It is a tiny experiment that runs in seconds, so look at what it shows rather than trust it far.
"""),
    code("""
from gptlite import GPT, Config, course
from gptlite.model import init_params
from gptlite.tokenizer import train_bpe
from gptlite.train import fit

hamlet = course.text("hamlet")
pages = hamlet[:20_000]
small = Tokenizer(*train_bpe(pages, vocab_size=356))
curves = {}
for layer_norm in ("pre", "post"):
    config = Config(n_vocab=small.n_vocab, n_ctx=32, n_embd=32, n_head=2, n_layer=12, layer_norm=layer_norm)
    untrained = GPT(config, init_params(config, seed=0), small)
    result = fit(pages, model=untrained, steps=60, batch_size=8, lr=1e-2, warmup=0, eval_every=5, quiet=True)
    curves[layer_norm] = [(h["step"], h["val_loss"]) for h in result.history]
for (step, pre), (_, post) in zip(curves["pre"], curves["post"]):
    print(f"step {step:3d}: held-out loss pre-LN {pre:6.3f}   post-LN {post:6.3f}")
"""),
    code("""
worst = {name: max(loss for _, loss in curve[1:]) for name, curve in curves.items()}
print("highest held-out loss after the start:", {name: round(loss, 3) for name, loss in worst.items()})
print("the bumpier curve:", max(worst, key=worst.get) + "-LN")
"""),
    md("""
## The family

| model | year | parameters | layers | context | vocabulary | trained on | what changed | source |
|---|---|---|---|---|---|---|---|---|
| GPT-1 | 2018 | 117M | 12 | 512 | 40,478 (BPE over lower-cased characters) | BooksCorpus, over 7,000 unpublished books | generative pre-training, then fine-tuning per task; post-LN | Radford et al. 2018 |
| GPT-2 | 2019 | 117M-1542M | 12-48 | 1,024 | 50,257 (byte-level BPE) | WebText: 8 million web pages, 40 GB | pre-LN and a final layer norm; residual weights scaled by 1/sqrt(N); zero-shot tasks | Radford et al. 2019, Table 2 |
| GPT-3 | 2020 | 175B | 96 | 2,048 | GPT-2's | 300B tokens of filtered Common Crawl, WebText2, books, Wikipedia | in-context learning from examples in the prompt; alternating dense and locally banded sparse attention | Brown et al. 2020, Section 2.1, Table 2.1 |
| GPT-3.5, GPT-4 | 2022-2023 | not published | not published | 8,192 and up | `cl100k_base`: 100,256 ranked tokens | not published | GPT-4: "no further details about the architecture (including model size)" | OpenAI 2023, GPT-4 Technical Report |
| GPT-4o | 2024 | not published | not published | not published here | `o200k_base`: 199,998 ranked tokens | not published | one model across text, audio and images | OpenAI 2024 |

The tokenizers are the only part of the last two rows that is public, and it is exact here: gptlite's ids are
tiktoken's (see the README's Correctness section).
"""),
]
