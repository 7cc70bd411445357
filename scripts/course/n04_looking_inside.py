"""Notebook 04, "Looking inside" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 4. Looking inside

`gpt.run(text)` runs the model once and keeps every activation by name (the table is at the top of
`gptlite/hooks.py`; TransformerLens's names work too). Hooks change activations on the way through: that is how
ablation and activation patching work. This notebook uses them to take apart one thing the bundled model does
right, in the order an interpretability study goes (ARENA's chapter 1.2, TransformerLens's Main Demo):

1. find a behaviour and a number that measures it (the logit difference);
2. look at the attention heads, and name the ones that do something simple;
3. ask which heads write the answer (direct logit attribution), and what happens without them (ablation);
4. ask where the information lives, layer by layer and position by position (activation patching).
"""),
    code("""
import matplotlib.pyplot as plt
import numpy as np
from gptlite import GPT, course
from gptlite.course import check
from gptlite.model import MASKED, layer_norm, log_softmax, softmax

gpt = GPT.from_pretrained("gptlite-shakespeare")
config, params = gpt.config, gpt.params


def heatmap(ax, values, title, cmap="RdBu", vmin=-1.0, vmax=1.0):
    \"\"\"Draw a [rows, columns] array with each value written in its cell; returns the image (for a colour bar).\"\"\"
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    for (row, column), value in np.ndenumerate(values):
        shade = "white" if abs(value) > 0.6 * max(abs(vmin), abs(vmax)) else "black"
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=shade)
    ax.set_xticks(range(values.shape[1])), ax.set_yticks(range(values.shape[0])), ax.set_title(title)
    return image


print(config.n_layer, "layers,", config.n_head, "heads of", config.d_head, "dimensions")

thou_text = "Thou art my friend, and I will tell"
you_text = "You are my friend, and I will tell"
thou, you_are = gpt.run(thou_text), gpt.run(you_text)
thee, you = gpt.tokenizer.encode(" thee")[0], gpt.tokenizer.encode(" you")[0]
print(thou.tokens)
print(you_are.tokens)
print(thou["h.3.attn.pattern"].shape, thou["blocks.3.attn.hook_pattern"].shape)  # two names, one activation
"""),
    md("""
## A behaviour the model has: *thee* after *thou*

Early modern English keeps its pronouns in step: who is addressed as *thou* is told things as *thee*, who is
addressed as *you* is told things as *you*. The two prompts differ only in their first two tokens, so whatever
makes the model choose differently must come from there.

The measure is the **logit difference**, the logit of `' thee'` minus that of `' you'` at the last position. It is
the log-odds between the two tokens: softmax divides every probability by the same sum, so that sum cancels
from the difference of two log-probabilities. It is linear in the logits, which is what lets us split it among
the heads later.

### Exercise 1: the logit difference

Write it for every position at once.
"""),
    exercise("""
def logit_difference(logits, good, bad):
    \"\"\"logits [n_seq, n_vocab]; good, bad: token ids. -> [n_seq]: logit of good minus logit of bad at each position.\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_log_odds(logits, good, bad):  # the difference of the library's log-probabilities
    logp = log_softmax(logits)
    return logp[:, good] - logp[:, bad]


check(logit_difference, library_log_odds, [(thou.logits, thee, you), (you_are.logits, thee, you)], atol=1e-5)
"""),
    solution("""
def logit_difference(logits, good, bad):
    \"\"\"logits [n_seq, n_vocab]; good, bad: token ids. -> [n_seq]: logit of good minus logit of bad at each position.\"\"\"
    return logits[:, good] - logits[:, bad]


assert check(logit_difference, library_log_odds, [(thou.logits, thee, you), (you_are.logits, thee, you)], atol=1e-5)
"""),
    code("""
thou_diff = float(logit_difference(thou.logits, thee, you)[-1])
you_diff = float(logit_difference(you_are.logits, thee, you)[-1])
print(f"{thou_text!r}: ' thee' minus ' you' = {thou_diff:+.2f}; likeliest: {thou.top(1)[0].token!r}")
print(f"{you_text!r}: ' thee' minus ' you' = {you_diff:+.2f}; likeliest: {you_are.top(1)[0].token!r}")
assert abs(thou_diff - 1.24) < 0.005 and abs(you_diff - -1.97) < 0.005 and abs(thou_diff - you_diff - 3.21) < 0.005
assert thou.top(1)[0].token == " thee" and you_are.top(1)[0].token == " you"
"""),
    md("""
The model gets both right: after *Thou art* it prefers `' thee'` by +1.24, after *You are* it prefers `' you'`
(a difference of −1.97). The gap between the two, 3.21, is what the rest of the notebook takes apart.

A probe the model gets wrong teaches less. The previous version of this notebook asked for the indirect object
in *"When the king and the queen came to the castle, the king gave a crown to the"*: the answer is `' queen'`,
but this small model prefers `' king'`, by 2.75, and a line break above both:
"""),
    code("""
king_text = "When the king and the queen came to the castle, the king gave a crown to the"
king_run = gpt.run(king_text, names=[])
king, queen = gpt.tokenizer.encode(" king")[0], gpt.tokenizer.encode(" queen")[0]
queen_minus_king = float(logit_difference(king_run.logits, queen, king)[-1])
print(f"' queen' minus ' king': {queen_minus_king:+.2f}; likeliest: {king_run.top(1)[0].token!r}")
assert abs(queen_minus_king - -2.75) < 0.005 and king_run.top(1)[0].token == "\\n"
"""),
    md("""
## Attention patterns

Each head's pattern `h.{layer}.attn.pattern` is `[n_head, n_seq, n_seq]`: row *i* is how position *i* spreads its
attention over positions 0..*i* (itself and those before it). The model computes it from the queries and keys
it records as `h.{layer}.attn.q` and `h.{layer}.attn.k`.

### Exercise 2: the attention pattern from q and k

Scores are q·k divided by √d_head (so that their spread does not grow with the head's width), a position's
scores for later positions are masked out, and a softmax over the keys turns each row into weights.
"""),
    exercise("""
def attention_pattern(run, layer):
    \"\"\"run[f"h.{layer}.attn.q"] and ["...k"]: [n_head, n_seq, d_head]. -> [n_head, n_seq, n_seq] float32 weights:
    softmax over keys of q k^T / sqrt(d_head), a query never seeing a later key (`MASKED` or -inf there).\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_pattern(run, layer):
    return run[f"h.{layer}.attn.pattern"]


check(attention_pattern, library_pattern, [(thou, 0), (thou, 3), (you_are, 1)])
"""),
    solution("""
def attention_pattern(run, layer):
    \"\"\"run[f"h.{layer}.attn.q"] and ["...k"]: [n_head, n_seq, d_head]. -> [n_head, n_seq, n_seq] float32 weights:
    softmax over keys of q k^T / sqrt(d_head), a query never seeing a later key (`MASKED` or -inf there).\"\"\"
    q, k = run[f"h.{layer}.attn.q"], run[f"h.{layer}.attn.k"]
    n_seq, d_head = q.shape[1], q.shape[2]
    scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(d_head))  # a float64 divisor would make float64 scores
    later = np.triu(np.ones((n_seq, n_seq), bool), k=1)  # [query, key]: True where the key comes later
    return softmax(np.where(later, MASKED, scores))


assert check(attention_pattern, library_pattern, [(thou, 0), (thou, 3), (you_are, 1)])
"""),
    md("""
On a longer passage of held-out text (lines the model never trained on), the sixteen heads look like this.
Head 0.0 (layer 0, head 0) is a bright line just below the diagonal: each token puts much of its attention on
the one before it.
"""),
    code("""
heldout = course.text("heldout")
passage = gpt.tokenizer.encode(heldout[:400])[:64]
passage_run = gpt.run(passage, names=["h.*.attn.pattern"])
patterns = np.stack([passage_run[f"h.{layer}.attn.pattern"] for layer in range(config.n_layer)])  # [layer, head, q, k]

fig, axes = plt.subplots(config.n_layer, config.n_head, figsize=(7, 7))
for layer in range(config.n_layer):
    for head in range(config.n_head):
        ax = axes[layer, head]
        ax.imshow(patterns[layer, head, :32, :32], cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"head {layer}.{head}", fontsize=8)
fig.suptitle("Attention patterns on held-out text (rows: queries, columns: keys)")
fig.supxlabel("key position"), fig.supylabel("query position")
plt.show()
"""),
    md("""
## Head detectors

A detector turns "looks like a line below the diagonal" into a number: the attention a head pays, on average
over the query positions, to a fixed place:

- **previous-token** score: the weight from position *i* to *i* − 1;
- **current-token** score: the weight from *i* to itself;
- **first-token** score: the weight from *i* to position 0 (in GPT-2, heads with nothing to do often park their
  attention on the first token).

A head with a score above 0.4 gets the label (ARENA's threshold). The scores are computed on the held-out
passage, not on the short prompt, where the first token is the word that matters and many heads look at it.
"""),
    code("""
def detector_scores(patterns):
    \"\"\"patterns [n_layer, n_head, n_seq, n_seq] -> {detector: [n_layer, n_head] mean attention to that place}.\"\"\"
    return {
        "previous-token": np.diagonal(patterns, offset=-1, axis1=2, axis2=3).mean(axis=-1),
        "current-token": np.diagonal(patterns, axis1=2, axis2=3).mean(axis=-1),
        "first-token": patterns[:, :, 1:, 0].mean(axis=-1),
    }


scores = detector_scores(patterns)
labels = {}
for layer in range(config.n_layer):
    for head in range(config.n_head):
        found = [name for name, s in scores.items() if s[layer, head] > 0.4]
        labels[layer, head] = ", ".join(found) or "-"

fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, (name, s) in zip(axes, scores.items()):
    image = heatmap(ax, s, name + " score", cmap="Blues", vmin=0, vmax=1)
    ax.set_xlabel("head")
axes[0].set_ylabel("layer")
fig.colorbar(image, ax=axes, shrink=0.8)
plt.show()

assert [key for key, label in labels.items() if label != "-"] == [(0, 0)] and labels[0, 0] == "previous-token"
assert scores["previous-token"][0, 0] > 0.4 and max(s.max() for s in (scores["current-token"], scores["first-token"])) < 0.4
print("previous-token score of head 0.0:", round(float(scores["previous-token"][0, 0]), 2))
"""),
    md("""
Only head 0.0 passes a detector: it is a previous-token head (notebook 02 printed its pattern). No head is a
current-token or first-token head on this text: the others spread their attention over many positions, or pick
out particular tokens (the vertical stripes in layer 2). The summary
below is the library's (`print(run.attention())`: where the last token looks most, head by head), with each head's
label beside it. The interactive view below it lets you pick a layer and a head.
"""),
    code("""
def labelled_summary(run):
    last = run.tokens[-1]
    print(f"where the last token {last!r} looks most, head by head (label from the detectors):")
    for layer in range(config.n_layer):
        pattern = run[f"h.{layer}.attn.pattern"][:, -1]  # [n_head, n_seq]: the last query's row
        for head in range(config.n_head):
            k = int(pattern[head].argmax())
            print(f"  head {layer}.{head}  {labels[layer, head]:15s} {run.tokens[k]!r:10s} {pattern[head, k]:.2f}")


print(thou.attention())
labelled_summary(thou)
"""),
    code("""
thou.attention()
"""),
    md("""
### No induction heads

An **induction head** (Elhage et al. 2021; Olsson et al. 2022) completes a repeat: at a token seen before, it
looks at the token that followed it the first time, and copies it. Its detector runs a random sequence twice:
at position *i* of the second copy it scores the weight on position *i* − *T* + 1 (the token after the first
occurrence, *T* being the length of the sequence). A model with induction heads also finds the second copy easy.
"""),
    code("""
def induction_scores(run, n_half):
    \"\"\"A run over a sequence of n_half tokens repeated twice -> [n_layer, n_head]: the mean weight, over the second
    copy, that position i puts on i - n_half + 1 (the token after the earlier copy of the current one).\"\"\"
    patterns = np.stack([run[f"h.{layer}.attn.pattern"] for layer in range(config.n_layer)])
    return np.diagonal(patterns, offset=-(n_half - 1), axis1=2, axis2=3)[:, :, 1:].mean(axis=-1)


n_half = 40
random_half = np.random.default_rng(0).integers(100, 2000, n_half)
repeated = gpt.run(np.concatenate([random_half, random_half]), names=["h.*.attn.pattern"])
induction = induction_scores(repeated, n_half)
first_loss = float(-repeated.logprobs[: n_half - 1].mean())  # predicting tokens 1 .. n_half - 1
second_loss = float(-repeated.logprobs[n_half:].mean())  # tokens n_half + 1 .. 2 n_half - 1: all seen before
print("induction scores:")
print(np.round(induction, 3))
print(f"loss on the first copy {first_loss:.2f} nats a token, on the second {second_loss:.2f}")
assert induction.max() < 0.05 and config.n_ctx == 128
assert second_loss > 0.9 * first_loss
"""),
    md("""
No head scores more than 0.05, and the second copy costs nearly as much as the first: this model has **no
induction heads**. Models of two layers or more trained on enough varied text grow them (Olsson et al.); this one,
trained on Shakespeare's plays alone with a context of 128 tokens, did not. In `gpt2` the same detector finds
heads that put most of their attention on the induction target, and the loss on the repeat collapses. These
cells need `gpt2`'s weights, which this notebook cannot download, so they are shown here, **not run**:

```python
# not run here: needs gpt2's weights (GPT.from_pretrained downloads them once)
gpt2 = GPT.from_pretrained("gpt2")
config = gpt2.config  # induction_scores reads n_layer from `config`
random_half = np.random.default_rng(0).integers(1000, 20000, n_half)  # ids from gpt2's larger vocabulary
repeated = gpt2.run(np.concatenate([random_half, random_half]), names=["h.*.attn.pattern"])
induction = induction_scores(repeated, n_half)  # [12, 12]
fig, ax = plt.subplots(figsize=(6, 5)); heatmap(ax, induction, "gpt2: induction scores", "Blues", 0, 1); plt.show()
print(-repeated.logprobs[: n_half - 1].mean(), -repeated.logprobs[n_half:].mean())
```
"""),
    md("""
## The logit lens

The residual stream before the first block and after each block can be decoded as if it were the last one:
through `ln_f` and the output head. Only the logit difference matters here, and the head is linear, so there is
no need for all 2,048 logits: the difference of two logits is ln_f(stream) · (W_U[good] − W_U[bad]), one dot
product with the **logit-difference direction**.

### Exercise 3: the logit difference through the logit lens

`layer` counts as `run.logit_lens()` does: 0 is the stream before the first block (`h.0.resid_pre`), *i* > 0 the
stream after block *i* − 1 (`h.{i-1}.resid_post`). The output head is the token embedding `params["wte"]`.
"""),
    exercise("""
def lens_logit_difference(run, layer, good, bad):
    \"\"\"-> [n_seq]: at each position, the logit difference if the stream at `layer` went straight to ln_f and the head.\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_lens(run, layer, good, bad):
    lens_logits = run.logit_lens().logits(layer)  # [n_seq, n_vocab]
    return lens_logits[:, good] - lens_logits[:, bad]


check(lens_logit_difference, library_lens, [(thou, 0, thee, you), (thou, 2, thee, you), (you_are, 4, thee, you)], atol=1e-4)
"""),
    solution("""
def lens_logit_difference(run, layer, good, bad):
    \"\"\"-> [n_seq]: at each position, the logit difference if the stream at `layer` went straight to ln_f and the head.\"\"\"
    stream = run["h.0.resid_pre"] if layer == 0 else run[f"h.{layer - 1}.resid_post"]  # [n_seq, n_embd]
    normalized = layer_norm(stream, **params["ln_f"], eps=config.layer_norm_epsilon)
    return normalized @ (params["wte"][good] - params["wte"][bad])  # [n_seq, n_embd] @ [n_embd]


assert check(lens_logit_difference, library_lens, [(thou, 0, thee, you), (thou, 2, thee, you), (you_are, 4, thee, you)], atol=1e-4)
"""),
    code("""
layers = range(config.n_layer + 1)
thou_lens = [float(lens_logit_difference(thou, layer, thee, you)[-1]) for layer in layers]
you_lens = [float(lens_logit_difference(you_are, layer, thee, you)[-1]) for layer in layers]

plt.figure(figsize=(6, 4))
plt.plot(layers, thou_lens, "o-", label=repr(thou_text))
plt.plot(layers, you_lens, "s-", label=repr(you_text))
plt.axhline(0, color="grey", lw=0.5)
plt.xticks(list(layers), ["embed"] + [f"after {i}" for i in range(config.n_layer)])
plt.xlabel("stream decoded"), plt.ylabel("' thee' minus ' you'"), plt.legend(fontsize=7)
plt.title("The logit lens on the last position")
plt.show()

print("thou:", np.round(thou_lens, 2), " you:", np.round(you_lens, 2))
assert abs(thou_lens[-1] - thou_diff) < 1e-4 and abs(you_lens[-1] - you_diff) < 1e-4  # the last is the model's answer
assert abs(thou_lens[2] - thou_lens[1]) > 1.5 and abs(you_lens[2] - you_lens[1]) > 1.5  # block 1 makes the gap
assert max(abs(thou_lens[1] - you_lens[1]), abs(thou_lens[0] - you_lens[0])) < 0.01  # none before it
"""),
    md("""
Before block 1 the last position does not know which pronoun began the line: both prompts decode to the same
difference there (the last token is `' tell'` in both, and block 0 has not moved anything that matters here).
Block 1 opens the gap, by more than 1.5 in each direction, and the later blocks adjust it.

## Direct logit attribution

Each head writes into the residual stream at every position: `z[head] @ W_O[head]`, its output times its slice
of `c_proj`'s weight (the rows `head * d_head` to `(head + 1) * d_head`). `attn.out` is the sum of the four plus
`c_proj`'s bias.

### Exercise 4: what each head writes

The check zeroes every head's `z` but one, with a hook, and reads what the library's `attn.out` becomes.
"""),
    exercise("""
def head_outputs(run, layer):
    \"\"\"-> [n_head, n_seq, n_embd]: what each head of `layer` adds to the residual stream, from run[f"h.{layer}.attn.z"]
    [n_head, n_seq, d_head] and params["h"][layer]["attn"]["c_proj"]["w"] [n_embd, n_embd] (without the bias).\"\"\"
    raise NotImplementedError
"""),
    code("""
def keep_only(head):
    def hook(z, name):
        return np.where(np.arange(config.n_head)[:, None, None] == head, z, 0)  # every other head's z is zero
    return hook


def one_head_at_a_time(run, layer):
    out, bias = f"h.{layer}.attn.out", params["h"][layer]["attn"]["c_proj"]["b"]
    return np.stack([gpt.run(run.ids, names=[out], hooks={f"h.{layer}.attn.z": keep_only(head)})[out] - bias
                     for head in range(config.n_head)])  # fmt: skip


check(head_outputs, one_head_at_a_time, [(thou, 1), (you_are, 3)], atol=1e-5)
"""),
    solution("""
def head_outputs(run, layer):
    \"\"\"-> [n_head, n_seq, n_embd]: what each head of `layer` adds to the residual stream, from run[f"h.{layer}.attn.z"]
    [n_head, n_seq, d_head] and params["h"][layer]["attn"]["c_proj"]["w"] [n_embd, n_embd] (without the bias).\"\"\"
    z = run[f"h.{layer}.attn.z"]
    w_o = params["h"][layer]["attn"]["c_proj"]["w"].reshape(config.n_head, config.d_head, config.n_embd)
    return np.einsum("hsd,hde->hse", z, w_o)  # each head through its own rows of c_proj


assert check(head_outputs, one_head_at_a_time, [(thou, 1), (you_are, 3)], atol=1e-5)
"""),
    md("""
The stream the head reads at the last position is a sum of parts: the token and position embeddings, each
head's output, each attention layer's bias, each MLP's output. `ln_f` is not linear, but it is once its scale is
frozen: subtract each part's mean, divide by the **whole** stream's standard deviation (the one `ln_f` actually
divided by), multiply by `g`. Each part's dot product with the logit-difference direction is then its **direct
logit attribution**: what it adds to the answer by the direct path, not through later layers. The parts, plus
`ln_f`'s bias, add up to the logit difference exactly (up to float32's rounding).
"""),
    code("""
direction = params["wte"][thee] - params["wte"][you]  # [n_embd]: the logit-difference direction


def attribution(parts, run, direction):
    \"\"\"parts [..., n_embd] of the final stream at the last position -> [...]: each part's direct logit attribution.\"\"\"
    final = run[f"h.{config.n_layer - 1}.resid_post"][-1]
    scale = np.sqrt(final.var() + config.layer_norm_epsilon)  # ln_f's scale, frozen
    return ((parts - parts.mean(axis=-1, keepdims=True)) / scale * params["ln_f"]["g"]) @ direction


def head_attribution(run, direction):
    \"\"\"-> [n_layer, n_head]: each head's direct logit attribution at the last position.\"\"\"
    return np.stack([attribution(head_outputs(run, layer)[:, -1], run, direction) for layer in range(config.n_layer)])


thou_dla = head_attribution(thou, direction)  # [n_layer, n_head]
other_parts = [thou["embed"][-1], thou["pos_embed"][-1]]
other_parts += [params["h"][layer]["attn"]["c_proj"]["b"] for layer in range(config.n_layer)]
other_parts += [thou[f"h.{layer}.mlp.out"][-1] for layer in range(config.n_layer)]
total = thou_dla.sum() + attribution(np.stack(other_parts), thou, direction).sum() + params["ln_f"]["b"] @ direction
print(f"heads, embeddings, biases and MLPs add up to {total:.4f}; the model's logit difference is {thou_diff:.4f}")
assert abs(total - thou_diff) < 1e-3

fig, ax = plt.subplots(figsize=(6, 4))
image = heatmap(ax, thou_dla, "Direct logit attribution, " + repr(thou_text), vmin=-1.5, vmax=1.5)
ax.set_xlabel("head"), ax.set_ylabel("layer"), fig.colorbar(image, label="toward ' thee'")
plt.show()

best = np.unravel_index(thou_dla.argmax(), thou_dla.shape)
to_thou = float(thou["h.1.attn.pattern"][0, -1, 0])
print(f"head {best[0]}.{best[1]} writes {thou_dla[best]:+.2f}; from ' tell' it looks at 'Thou' with weight {to_thou:.2f}")
assert best == (1, 0) and abs(thou_dla[1, 0] - 1.46) < 0.01 and abs(to_thou - 0.47) < 0.01
assert thou_dla[1, 0] > thou_dla.sum() - thou_dla[1, 0]  # more than the other fifteen heads together
assert abs(thou_dla[0, 0]) < 0.05  # head 0.0 writes next to nothing onto the answer directly
"""),
    md("""
Head 1.0 writes +1.46 toward `' thee'` by the direct path, more than the other fifteen heads together, and from
the last position it looks at *Thou* with weight 0.47: a head that reads the pronoun at the start of the line and
writes the matching object pronoun at the end. That is a hypothesis; the ablations and patches below test it.
Direct attribution sees only the direct path: a head in layer 0 may matter a great deal through the heads that
read it, and score near zero here, as head 0.0 does.

## Ablation: zero versus mean

To ablate a head is to remove its output and see what breaks. Setting its `z` to **zero** is the simplest way,
but the model never saw a zero there in training: the layers after it may react to the unusual input rather than
to the missing information. Setting `z` to its **mean** over some text (ARENA 1.2) removes what the head says
about *this* input and keeps what it always says. Both are measured on the probe and on the loss of another
passage of held-out text; the mean is taken over four other passages.
"""),
    code("""
mean_passages = [gpt.tokenizer.encode(heldout[start : start + 800])[:128] for start in (0, 2000, 10000, 20000)]
z_runs = gpt.run(mean_passages, names=["h.*.attn.z"])  # one Run per passage
mean_z = {layer: np.concatenate([r[f"h.{layer}.attn.z"] for r in z_runs], axis=1).mean(axis=1)
          for layer in range(config.n_layer)}  # fmt: skip
n_mean = sum(len(p) for p in mean_passages)
print("the mean of each head's z over", n_mean, "tokens:", mean_z[0].shape)
assert n_mean == 512
"""),
    code("""
def ablate(layer, head, value):
    \"\"\"Hooks replacing head `head` of `layer` by `value` ([d_head], or 0) at every position.\"\"\"
    def hook(z, name):
        z = z.copy()  # never change the array the model handed us
        z[head] = value
        return z
    return {f"h.{layer}.attn.z": hook}


other_passage = gpt.tokenizer.encode(heldout[5000:5400])[:32]
clean_loss = float(-gpt.run(other_passage, names=[]).logprobs.mean())
effects = {}
for kind in ("zero", "mean"):
    probe, loss = np.zeros((config.n_layer, config.n_head)), np.zeros((config.n_layer, config.n_head))
    for layer in range(config.n_layer):
        for head in range(config.n_head):
            value = 0.0 if kind == "zero" else mean_z[layer][head]
            hooks = ablate(layer, head, value)
            probe[layer, head] = logit_difference(gpt.run(thou_text, names=[], hooks=hooks).logits, thee, you)[-1]
            loss[layer, head] = -gpt.run(other_passage, names=[], hooks=hooks).logprobs.mean() - clean_loss
    effects[kind] = probe, loss

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
for ax, kind in zip(axes, ("zero", "mean")):
    image = heatmap(ax, effects[kind][1], f"{kind} ablation: loss increase", cmap="Reds", vmin=0, vmax=3.5)
    ax.set_xlabel("head")
axes[0].set_ylabel("layer")
fig.colorbar(image, ax=axes, label="nats a token")
plt.show()
for kind in ("zero", "mean"):
    print(f"{kind} ablation, ' thee' minus ' you' (clean {thou_diff:+.2f}):")
    print(np.round(effects[kind][0], 2))
"""),
    code("""
zero_probe, zero_loss = effects["zero"]
mean_probe, mean_loss = effects["mean"]
print(f"head 0.0: loss +{zero_loss[0, 0]:.2f} (zero) +{mean_loss[0, 0]:.2f} (mean); "
      f"probe {zero_probe[0, 0]:+.2f} (zero) {mean_probe[0, 0]:+.2f} (mean)")  # fmt: skip
print(f"head 1.0: probe {zero_probe[1, 0]:+.2f} (zero) {mean_probe[1, 0]:+.2f} (mean)")
for loss in (zero_loss, mean_loss):
    assert np.unravel_index(loss.argmax(), loss.shape) == (0, 0) and loss[0, 0] > 3
    assert np.delete(loss.ravel(), 0).max() < 0.25  # every other head costs less than a quarter of a nat
for probe in (zero_probe, mean_probe):
    assert [tuple(map(int, key)) for key in np.argwhere(probe < 0)] == [(1, 0)]  # only head 1.0 flips the answer
assert np.abs(zero_loss - mean_loss).max() < 0.1 and np.abs(zero_probe - mean_probe).max() < 0.25
assert zero_probe[0, 0] < thou_diff / 2 and mean_probe[0, 0] < thou_diff / 2  # head 0.0 matters to the probe too
"""),
    md("""
Two heads stand out:

- **Head 0.0**, the previous-token head, is the one the model cannot do without: either ablation costs more
  than 3 nats a token on held-out text, and no other head costs more than a quarter of a nat.
- **Head 1.0**, the head direct attribution pointed at, is the one the probe needs: ablated either way, the model
  prefers `' you'` after *Thou art* (the difference turns negative), and it is the only head that does that.

Head 0.0 matters to the probe too, though its direct attribution was near zero: ablated either way, it takes
away more than half of the difference. It works through the heads after it, and direct attribution cannot see
that path.

Here zero and mean ablation agree: to within a tenth of a nat on the loss, and a quarter on the probe. That is
worth checking, not assuming. Where they disagree, zero ablation's verdict is the suspect one, since it may
measure the damage an input never seen in training does rather than the information removed; ARENA prefers the
mean for that reason (and Chan et al. 2022 resample ablation, a value from another input). The mean is a choice
too: it depends on the text it is taken over, 512 held-out tokens here.

## Activation patching: layer × position

Ablation asks what breaks without a component. Patching asks where the information is. Run the corrupted prompt
(*You are*), but write in one activation from the clean run (*Thou art*): the residual stream before a given
layer at a given position. If the answer comes back, that activation carried what made the difference. The
grid is normalised, (patched − corrupted) / (clean − corrupted): 0 means no change, 1 means the clean logit
difference fully restored.
"""),
    code("""
def patching_grid(gpt, clean, corrupted, metric):
    \"\"\"Clean and corrupted Runs of equally long prompts; metric(Run) -> float. -> [n_layer + 1, n_seq]: the metric,
    normalised to 0 (corrupted) .. 1 (clean), when the stream before each layer (the last row: after the last
    block) at one position is the clean run's.\"\"\"
    if len(clean.ids) != len(corrupted.ids):
        raise ValueError(f"the prompts must be equally long in tokens: {len(clean.ids)} and {len(corrupted.ids)}")
    names = [f"h.{layer}.resid_pre" for layer in range(gpt.config.n_layer)] + [f"h.{gpt.config.n_layer - 1}.resid_post"]
    n_seq, low, high = len(clean.ids), metric(corrupted), metric(clean)
    grid = np.zeros((len(names), n_seq))
    for row, stream in enumerate(names):
        for position in range(n_seq):
            at = (np.arange(n_seq) == position)[:, None]  # [n_seq, 1]: True at the patched position
            def patch(x, name):
                return np.where(at, clean[name], x)  # the clean activation at one position, the corrupted elsewhere
            patched = gpt.run(corrupted.ids, names=[], hooks={stream: patch})
            grid[row, position] = (metric(patched) - low) / (high - low)
    return grid


def thee_minus_you(run):
    return float(logit_difference(run.logits, thee, you)[-1])


grid = patching_grid(gpt, thou, you_are, thee_minus_you)
fig, ax = plt.subplots(figsize=(7, 4))
image = heatmap(ax, grid, "Patching Thou art into You are")
ax.set_xticks(range(len(thou.ids)), [f"{a}/{b}" if a != b else a for a, b in zip(thou.tokens, you_are.tokens)],
              rotation=45, ha="right")  # fmt: skip
ax.set_yticks(range(config.n_layer + 1), [f"before {i}" for i in range(config.n_layer)] + [f"after {config.n_layer - 1}"])
ax.set_xlabel("position patched"), ax.set_ylabel("residual stream")
fig.colorbar(image, label="restored (1 = clean)")
plt.show()
"""),
    md("""
First the cells that are **true by construction**, sanity checks of the code rather than findings:

- Before layer 0 the stream is just the embeddings. Where the two prompts have the same token (from `' my'` on),
  patching changes nothing: exactly 0. Patching both differing positions at once turns the corrupted prompt into
  the clean one: exactly 1.
- After the last block, only the last position feeds the last logits: 1 there, 0 elsewhere.
"""),
    code("""
def patch_first_two(x, name):
    return np.where((np.arange(len(thou.ids)) < 2)[:, None], thou[name], x)


both = thee_minus_you(gpt.run(you_text, names=[], hooks={"h.0.resid_pre": patch_first_two}))
assert np.all(grid[0, 2:] == 0) and both == thou_diff  # the clean prompt, computed again
assert grid[-1, -1] == 1 and np.all(grid[-1, :-1] == 0)
print(f"layer 0, both pronoun positions: {(both - you_diff) / (thou_diff - you_diff):.3f}; after the last block, last position: {grid[-1, -1]:.3f}")
"""),
    md("""
Then what the grid says (the restored logit differences, asserted below):

- Before layer 0, *Thou* alone restores about 1.02 of the difference (*Thou are my friend* prefers `' thee'` a
  little more than *Thou art* does), *art* alone almost nothing: the first word carries it.
- Before layer 1, the information is still at *Thou* (0.76 restored from there).
- Before layers 2 and 3, it is at the last position, `' tell'` (0.87 and 0.83): between layer 1 and layer 2 it
  moved from the first position to the last, which is what head 1.0's attention from `' tell'` to *Thou* would do.
"""),
    code("""
restored = {name: float(grid[row, position]) for name, row, position in
            [("Thou, before 0", 0, 0), ("art, before 0", 0, 1), ("Thou, before 1", 1, 0),
             ("tell, before 2", 2, -1), ("tell, before 3", 3, -1)]}  # fmt: skip
for name, value in restored.items():
    logit_diff = you_diff + value * (thou_diff - you_diff)
    print(f"{name:15s} restored {value:.2f}: ' thee' minus ' you' back to {logit_diff:+.2f}")
assert abs(restored["Thou, before 0"] - 1.02) < 0.01 and restored["art, before 0"] < 0.02
assert abs(restored["Thou, before 1"] - 0.76) < 0.01
assert abs(restored["tell, before 2"] - 0.87) < 0.01 and abs(restored["tell, before 3"] - 0.83) < 0.01
assert grid[2:4, :-1].max() < 0.1  # before layers 2 and 3, no other position restores much
"""),
    md("""
What one-position patching does **not** show:

- It shows that a clean activation is *enough*, with everything else corrupted, not that it is *needed*; and
  the values need not add up (*Thou* and *art* before layer 0 make 1.02 and nearly 0 alone, exactly 1 together).
- A patched stream carries everything written into it so far. The 0.87 at `' tell'` before layer 2 is the work of
  every earlier head and MLP at that position; that it moved there through head 1.0 is suggested by the
  attribution and the ablations, not proved by this grid. Patching head 1.0's output alone (`h.1.attn.z`), or
  path patching (Wang et al. 2022), is the sharper test.
- It is one prompt pair. A circuit is a claim about many prompts; a study would average over a dataset of
  *thou* / *you* lines, and use other corruptions than this one.

## The same experiments on gpt2

The functions above take any GPT-2-shaped model, so they run unchanged on `gpt2`, which has circuits this small
model lacks. The indirect-object identification (IOI) task of Wang et al. (2022): *"After John and Mary went to
the store, John gave a bottle of milk to"* should end in `' Mary'`; the corrupted prompt has *Mary* give the
milk, so that the answer becomes `' John'`. These cells need `gpt2`'s weights, which this notebook cannot
download, so they are shown here, **not run**:

```python
# not run here: needs gpt2's weights (GPT.from_pretrained downloads them once)
gpt2 = GPT.from_pretrained("gpt2")
config, params = gpt2.config, gpt2.params  # the functions above read these (run the cells above first)
clean = gpt2.run("After John and Mary went to the store, John gave a bottle of milk to")
corrupted = gpt2.run("After John and Mary went to the store, Mary gave a bottle of milk to")
mary, john = gpt2.tokenizer.encode(" Mary")[0], gpt2.tokenizer.encode(" John")[0]

def mary_minus_john(run):
    return float(logit_difference(run.logits, mary, john)[-1])

print(mary_minus_john(clean), mary_minus_john(corrupted))
grid = patching_grid(gpt2, clean, corrupted, mary_minus_john)  # [13, n_seq]
fig, ax = plt.subplots(figsize=(8, 6)); heatmap(ax, grid, "gpt2: the clean run patched into the corrupted one"); plt.show()

mary_dla = head_attribution(clean, params["wte"][mary] - params["wte"][john])  # [12, 12]
fig, ax = plt.subplots(figsize=(6, 5)); heatmap(ax, mary_dla, "gpt2: direct logit attribution", vmin=-3, vmax=3); plt.show()
```

Wang et al. find the name-mover heads in gpt2's last layers, the heads that copy `' Mary'` to the end; their
direct attribution stands out in the last picture.
"""),
]
