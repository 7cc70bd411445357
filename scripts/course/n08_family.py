"""Notebook 08, "The GPT family, from GPT-1 to GPT-4o" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 8. The GPT family, from GPT-1 to GPT-4o

GPT-2 is one chapter of a story that runs from GPT-1 (2018) to GPT-4o (2024). Two more chapters are public
and exact in gptlite: GPT-1's block and tokenizer rules (`openai-gpt`), and the tokenizers of GPT-3.5/GPT-4
(`cl100k_base`) and GPT-4o (`o200k_base`), shipped with the package, so everything here runs offline. This
notebook compares the tokenizers, builds GPT-1's word splitting and block yourself, counts the parameters of
every GPT-2 (and of GPT-3), and ends with GPT-2 in context: what changed from GPT-1, and what came after.
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
russian = [len(tok.encode(texts["another language"])) for tok in tokenizers.values()]
assert russian[0] > russian[1] > russian[2]  # fewer tokens with each newer tokenizer
"""),
    md("""
### Exercise 1: GPT-1's words

Before its BPE runs, GPT-1's tokenizer turns a text into words as BERT's basic tokenizer does
(`gptlite/gpt1_tokenizer.py` says which rules and where they come from): lower-case it, strip accents (decompose
each character with Unicode's NFD and drop the combining marks, category `Mn`), split at whitespace, and make
every punctuation character (Unicode category `P*`, and every ASCII symbol such as `$`, `<`, `~`) a word of its
own. Write it with `unicodedata` and plain string methods; the check compares your words with
`WORD.findall(normalize(text))`, gptlite's two steps.
"""),
    code("""
import unicodedata

from gptlite.course import check


def gpt1_reference(text):
    return WORD.findall(normalize(text))


word_cases = [
    (texts["prose"],),
    (texts["numbers"],),
    ("Café, naïve résumé! Don't (ever) use <tags> & ~tildes~.",),
    ("ÉCOLE — “quoted” …",),
]
"""),
    exercise("""
def gpt1_words(text):
    \"\"\"text -> list of words (str): lower-cased, accents stripped, split at whitespace, each punctuation
    character (Unicode P*, or an ASCII symbol) a word of its own.\"\"\"
    raise NotImplementedError
"""),
    code("""
check(gpt1_words, gpt1_reference, word_cases)
"""),
    solution("""
def gpt1_words(text):
    def is_punctuation(c):
        return unicodedata.category(c).startswith("P") or (c.isascii() and not c.isalnum() and not c.isspace())

    text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
    words = []
    for piece in text.split():
        run = ""
        for c in piece:
            if is_punctuation(c):
                words += [run, c] if run else [c]
                run = ""
            else:
                run += c
        if run:
            words.append(run)
    return words


assert check(gpt1_words, gpt1_reference, word_cases)
"""),
    md("""
## GPT-1's block beside GPT-2's

The GPT-2 paper (Radford et al. 2019, Section 2.3): "Layer normalization was moved to the input of each
sub-block ... and an additional layer normalization was added after the final self-attention block". GPT-1
normalises after adding each sub-layer's output ("post-LN"); GPT-2 normalises the input of each sub-layer and
adds its output to an un-normalised residual stream ("pre-LN"), with one more layer norm, `ln_f`, before the head:

    GPT-1, post-LN                      GPT-2, pre-LN
    x = ln_1(x + attn(x))               x = x + attn(ln_1(x))
    x = ln_2(x + mlp(x))                x = x + mlp(ln_2(x))

### Exercise 2: GPT-1's block from gptlite's layers

Write GPT-1's block from `model.layer_norm`, `model.mlp` and `attention_of` (below: the block's attention
sub-layer, with the causal mask and a fresh KV cache). The weights are block 0 of the bundled model, which is
GPT-2-shaped; its two layer norms hold different trained gains, so swapping `ln_1` and `ln_2` is caught. The
check compares your output with `model.block_post_ln`, the function gptlite runs for GPT-1.
"""),
    code("""
import numpy as np

from gptlite import GPT, Config, course, model

gpt = GPT.from_pretrained("gptlite-shakespeare")
h = gpt.params["h"][0]  # block 0: ln_1, attn, ln_2, mlp
post = Config(n_vocab=gpt.config.n_vocab, n_ctx=gpt.config.n_ctx, n_embd=gpt.config.n_embd,
              n_head=gpt.config.n_head, n_layer=gpt.config.n_layer, layer_norm="post")


def causal(x, config):
    \"\"\"The causal mask and a fresh KV cache for one sequence x [1, n_seq, n_embd].\"\"\"
    n_seq = x.shape[1]
    mask = model.attention_mask(np.ones((1, n_seq), bool), n_seq)
    return mask, model.LayerCache(1, config.n_head, n_seq, config.d_head)


def attention_of(x, h, config):
    mask, cache = causal(x, config)
    return model.attn(x, **h["attn"], n_head=config.n_head, mask=mask, cache=cache)


def gpt1_block_reference(x, h, config):
    mask, cache = causal(x, config)
    return model.block_post_ln(x, h, config, 0, mask, cache)


rng = np.random.default_rng(0)
block_cases = [(rng.standard_normal((1, n, post.n_embd), dtype=np.float32), h, post) for n in (1, 7)]
"""),
    exercise("""
def gpt1_block(x, h, config):
    \"\"\"x [1, n_seq, n_embd] float32, h a block's parameters -> GPT-1's (post-LN) block output, same shape.\"\"\"
    raise NotImplementedError
"""),
    code("""
check(gpt1_block, gpt1_block_reference, block_cases)
"""),
    solution("""
def gpt1_block(x, h, config):
    x = model.layer_norm(x + attention_of(x, h, config), **h["ln_1"])
    return model.layer_norm(x + model.mlp(x, **h["mlp"]), **h["ln_2"])


assert check(gpt1_block, gpt1_block_reference, block_cases)
"""),
    md("""
In `gptlite/model.py` the two blocks are the same pieces in another order:
"""),
    code("""
import inspect

print(inspect.getsource(model.block_post_ln))
print(inspect.getsource(model.block_pre_ln))
"""),
    md("""
## What each block does to the stream

Post-LN normalises the stream after every sub-layer, so what leaves each block has the same size, whatever the
blocks before it added. Pre-LN never normalises the stream itself, only the copies the sub-layers read: the
stream is the embedding plus everything every sub-layer ever added, and it grows. That running sum is what the
looking-inside notebook (04) takes apart, and it is why Xiong et al. 2020 ("On Layer Normalization in the
Transformer Architecture") find pre-LN easier to train: the gradient reaches every block through the plain sums
of the residual path, while in post-LN it passes a layer norm at each block, and near the output it is large at
initialisation, so post-LN needs a learning-rate warmup where pre-LN does not.

Below, the root-mean-square of the stream after each block of three models: the bundled model (pre-LN, trained),
and two random 12-block models (`init_params`, GPT-2's initialisation), one of each kind.
"""),
    code("""
import matplotlib.pyplot as plt

from gptlite.model import init_params


def rms(a):
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))


ids = gpt.tokenizer.encode(course.text("heldout"))[:64]
trained = gpt.run(ids, names=("h.*.resid_post",))
streams = {"bundled model, pre-LN, trained": [rms(trained.records[f"h.{i}.resid_post"]) for i in range(4)]}
for kind, name in (("pre", "resid_post"), ("post", "ln_2.normalized")):  # what leaves each block
    config = Config(n_vocab=gpt.config.n_vocab, n_ctx=64, n_embd=64, n_head=4, n_layer=12, layer_norm=kind)
    random_run = GPT(config, init_params(config, seed=0), gpt.tokenizer).run(ids, names=(f"h.*.{name}",))
    streams[f"random, {kind}-LN"] = [rms(random_run.records[f"h.{i}.{name}"]) for i in range(12)]

fig, ax = plt.subplots(figsize=(6, 4))
for label, values in streams.items():
    ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
ax.set(yscale="log", xlabel="after block", ylabel="RMS of the residual stream", title="Pre-LN streams grow; post-LN's do not")
ax.legend()
plt.show()
for label, values in streams.items():
    print(f"{label:32s}", " ".join(f"{v:.3f}" for v in values))
"""),
    code("""
assert all(abs(v - 1) < 1e-3 for v in streams["random, post-LN"])  # every block ends in a layer norm
assert all(a < b for a, b in zip(streams["random, pre-LN"], streams["random, pre-LN"][1:]))
bundled = streams["bundled model, pre-LN, trained"]
assert all(a < b for a, b in zip(bundled, bundled[1:])) and bundled[-1] / bundled[0] > 1.5
print(f"the bundled model's stream grows {bundled[-1] / bundled[0]:.2f}x from block 1 to block 4")
"""),
    md("""
The post-LN stream has a root-mean-square of 1 after every block, as a layer norm with gains of 1 makes it;
the pre-LN ones grow with every block, the trained model's by more than half over its four blocks (the cell
above asserts each of these).

### Exercise 3: counting parameters

A model's size is the sum of its tensors' sizes. Write the count from a `Config`'s fields alone: the token and
position embeddings; per block two layer norms (a gain and a bias each), the fused q, k, v projection
(`n_embd` -> `3 n_embd`, with biases), the attention's output projection, the MLP (`n_embd` -> `d_mlp` -> `n_embd`);
then `ln_f` for a pre-LN model only, and a separate output head only when the embeddings are not tied. The
check compares it with the sum over `model.param_shapes(config)`, the tensors gptlite loads.
"""),
    code("""
import math

from gptlite.releases import GPT1_RELEASES, RELEASES


def count_reference(config):
    return sum(math.prod(shape) for shape in model.param_shapes(config).values())


configs = {name: Config(**release.shape) for name, release in {**RELEASES, **GPT1_RELEASES}.items()}
count_cases = [(c,) for c in configs.values()] + [(gpt.config,), (Config(tie_word_embeddings=False),)]
"""),
    exercise("""
def n_params(config):
    \"\"\"A Config -> the number of parameters (int) of a model of that shape.\"\"\"
    raise NotImplementedError
"""),
    code("""
check(n_params, count_reference, count_cases)
"""),
    solution("""
def n_params(config):
    e, f = config.n_embd, config.d_mlp
    block = 4 * e + (3 * e * e + 3 * e) + (e * e + e) + (e * f + f) + (f * e + e)
    total = config.n_vocab * e + config.n_ctx * e + config.n_layer * block
    total += 2 * e if config.layer_norm == "pre" else 0
    return total + (0 if config.tie_word_embeddings else config.n_vocab * e)


assert check(n_params, count_reference, count_cases)
"""),
    md("""
## GPT-2 in context

### The four sizes

OpenAI released GPT-2 in four sizes (Radford et al. 2019, Table 2), all with GPT-2's vocabulary and 1,024
positions, differing in depth and width. The counts below come from the shapes in `gptlite.releases`. The paper
printed 117M, 345M, 762M and 1542M; OpenAI's repository later said that "our original parameter counts were
wrong due to an error" (openai/gpt-2, README), and its release folders are named 124M, 355M, 774M and 1558M,
the counts computed here (the table adds distilgpt2, Hugging Face's six-block distillation of the smallest,
and GPT-1). The paper's 117M is GPT-1's count: its Table 2 says the smallest GPT-2 is "equivalent
to the original GPT" in shape, and GPT-1 has 512 positions where GPT-2 has 1,024 and 40,478 tokens where GPT-2
has 50,257.
"""),
    code("""
sizes = {name: n_params(config) for name, config in configs.items()}
print(f"{'model':12s} {'layers':>6s} {'width':>6s} {'heads':>6s} {'context':>8s} {'vocabulary':>10s} {'parameters':>15s}")
for name, config in configs.items():
    print(f"{name:12s} {config.n_layer:6d} {config.n_embd:6d} {config.n_head:6d} {config.n_ctx:8d} {config.n_vocab:10d} "
          f"{sizes[name]:15,d}")

in_millions = {name: round(sizes[name] / 1e6) for name in ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")}
assert in_millions == {"gpt2": 124, "gpt2-medium": 355, "gpt2-large": 774, "gpt2-xl": 1558}
assert in_millions == {name: int(RELEASES[name].openai_folder[:-1]) for name in in_millions}  # OpenAI's folders
assert 1.5e9 < sizes["gpt2-xl"] < 1.6e9  # the model card's "1.5 billion"
assert [configs[name].n_layer for name in in_millions] == [12, 24, 36, 48]
assert configs["distilgpt2"].n_layer == 6 and configs["distilgpt2"].n_embd == configs["gpt2"].n_embd
assert round(sizes["openai-gpt"] / 1e6) == 117 and configs["openai-gpt"].n_ctx == 512
assert configs["gpt2"].n_ctx == 1024 and configs["gpt2"].n_vocab == 50257 and configs["openai-gpt"].n_vocab == 40478
"""),
    md("""
### From GPT-1 to GPT-2

| | GPT-1 (Radford et al. 2018) | GPT-2 (Radford et al. 2019) |
|---|---|---|
| blocks | post-LN | pre-LN, and a final `ln_f` (Section 2.3) |
| context | 512 tokens | 1,024 tokens (Section 2.3) |
| vocabulary | 40,478: BPE over lower-cased characters, after ftfy and spaCy's word splitting (transformers falls back to BERT's rules without them, as here) | 50,257: byte-level BPE, so that any string encodes (Sections 2.2 and 2.3) |
| training text | BooksCorpus, "over 7,000 unique unpublished books" (Section 4.1) | WebText: the pages behind 45 million outbound Reddit links with at least 3 karma, "slightly over 8 million documents for a total of 40 GB of text" (Section 2.1) |
| use | pre-train, then fine-tune on each task | zero-shot: the task is written into the prompt (Section 3) |
| initialisation | N(0, 0.02) | the same, with "the weights of residual layers" scaled "by a factor of 1/√N where N is the number of residual layers" (Section 2.3) |

The sizes, contexts and vocabularies are asserted above. The initialisation can be measured: gptlite's
`init_params` reads N as the number of residual additions, two per block (attention and MLP, as nanoGPT does),
so each block's output projections (`c_proj`) are drawn with a standard deviation of 0.02/√(2 × n_layer):
"""),
    code("""
deep = Config(n_vocab=16, n_ctx=8, n_embd=64, n_head=2, n_layer=12)
weights = init_params(deep, seed=0)
residual = np.concatenate([h[part]["c_proj"]["w"].ravel() for h in weights["h"] for part in ("attn", "mlp")])
other = np.concatenate([h["attn"]["c_attn"]["w"].ravel() for h in weights["h"]]
                       + [h["mlp"]["c_fc"]["w"].ravel() for h in weights["h"]])
expected = 0.02 / math.sqrt(2 * deep.n_layer)
print(f"c_proj std {residual.std():.5f} (0.02 / sqrt(2 x 12) = {expected:.5f}); c_attn and c_fc std {other.std():.5f}")
assert abs(residual.std() / expected - 1) < 0.02 and abs(other.std() / 0.02 - 1) < 0.02
"""),
    md("""
### GPT-3 and GPT-4

GPT-3 (Brown et al. 2020, "Language Models are Few-Shot Learners") kept GPT-2's model, "including the modified
initialization, pre-normalization, and reversible tokenization", with "alternating dense and locally banded
sparse attention patterns" in its layers (Section 2.1), at eight sizes up to 175B parameters: 96 layers of 12,288,
96 heads, 2,048 positions, the MLP four times as wide (Table 2.1). Its point was in-context learning: shown a
few examples of a task in the prompt ("few-shot"), with no gradient update, the largest model did many tasks
far better than the small ones. Sparse attention adds no parameters, so the count from the shape in Table 2.1
is GPT-3's, and the smallest, "GPT-3 Small", is GPT-2's smallest with 2,048 positions:
"""),
    code("""
gpt3 = Config(n_ctx=2048, n_embd=12288, n_head=96, n_layer=96)
gpt3_small = Config(n_ctx=2048, n_embd=768, n_head=12, n_layer=12)
print(f"GPT-3: {n_params(gpt3):,d} parameters; GPT-3 Small: {n_params(gpt3_small):,d}")
assert round(n_params(gpt3) / 1e9) == 175 and round(n_params(gpt3_small) / 1e6) == 125
"""),
    md("""
The GPT-4 Technical Report (OpenAI 2023) published no architecture: "this report contains no further details
about the architecture (including model size), hardware, training compute, dataset construction, training
method, or similar". Of GPT-3.5, GPT-4 and GPT-4o, only the tokenizers are public, and those are exact here.

## The family

| model | year | parameters | layers | context | vocabulary | trained on | source |
|---|---|---|---|---|---|---|---|
| GPT-1 | 2018 | 117M | 12 | 512 | 40,478 | BooksCorpus | Radford et al. 2018 |
| GPT-2 | 2019 | 124M-1558M | 12-48 | 1,024 | 50,257 (byte-level BPE) | WebText | Radford et al. 2019 |
| GPT-3 | 2020 | 125M-175B | 12-96 | 2,048 | GPT-2's | filtered Common Crawl, WebText2, books, Wikipedia | Brown et al. 2020 |
| GPT-3.5, GPT-4 | 2022-2023 | not published | not published | not published in the report | `cl100k_base`: 100,256 ranked tokens | not published | OpenAI 2023 |
| GPT-4o | 2024 | not published | not published | not published in the report | `o200k_base`: 199,998 ranked tokens | not published | OpenAI 2024 |

The counts of GPT-1, GPT-2 and GPT-3 are asserted above; the tokenizers' are checked here (gptlite's ids are
tiktoken's: see the README's Correctness section):
"""),
    code("""
ranked = {name: len(tok.mergeable_ranks) for name, tok in tokenizers.items() if tok.mergeable_ranks is not None}
print(ranked, "| GPT-2:", tokenizers["gpt2"].n_vocab, "tokens")
assert ranked == {"cl100k_base": 100256, "o200k_base": 199998} and tokenizers["gpt2"].n_vocab == 50257
assert configs["openai-gpt"].n_layer == 12 and gpt3.n_layer == 96 and gpt3.n_ctx == 2048
"""),
]
