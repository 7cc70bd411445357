"""Notebook 04, "Looking inside" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, md

CELLS = [
    md("""
# 4. Looking inside

`gpt.run(text)` runs the model once and keeps every activation by name (the table is at the top of
`gptlite/hooks.py`; TransformerLens's names work too). Hooks change activations on the way through, which is
how ablation and activation patching work. Everything here also renders as HTML, offline.
"""),
    code("""
import numpy as np
from gptlite import GPT

gpt = GPT.from_pretrained("gptlite-shakespeare")
run = gpt.run("When the king and the queen came to the castle, the king gave a crown to the")
print(run.tokens)
print(run["h.3.attn.pattern"].shape, run["blocks.3.attn.hook_pattern"].shape)
run.top(5)
"""),
    md("""
## Tokens by probability

Each token coloured by how likely the model found it; hover for what it expected instead.
"""),
    code("""
run
"""),
    md("""
## Attention

Pick a layer and a head; point at a token in the row below the heatmap to see where it looks.
"""),
    code("""
run.attention()
"""),
    md("""
## The logit lens

Decode the residual stream after each block as if it were the last one: the prediction forms layer by layer.
"""),
    code("""
print(run.logit_lens())
"""),
    md("""
## Ablation

Zero one attention head's output (`h.{i}.attn.z` holds each head's output before `c_proj` mixes them) and see
how the prediction moves. The hook gets the activation and its name, and returns what the model goes on with.
"""),
    code("""
def zero_head(layer, head):
    def hook(z, name):
        z = z.copy()
        z[head] = 0
        return z
    return {f"h.{layer}.attn.z": hook}

king, queen = gpt.tokenizer.encode(" king")[0], gpt.tokenizer.encode(" queen")[0]
def king_minus_queen(result):
    return float(result.logits[-1, king] - result.logits[-1, queen])

text = "When the king and the queen came to the castle, the king gave a crown to the"
print("clean:", round(king_minus_queen(run), 3))
for layer in range(gpt.config.n_layer):
    effects = [king_minus_queen(gpt.run(text, names=[], hooks=zero_head(layer, h))) for h in range(gpt.config.n_head)]
    print(f"layer {layer}:", [round(e, 3) for e in effects])
"""),
    md("""
## Activation patching

Run a clean prompt and a corrupted one (the second "king" becomes "queen"), then write one clean activation
into the corrupted run: where the patch restores the clean answer, that activation carries the information.
"""),
    code("""
clean = run
corrupt_text = text.replace("the king gave", "the queen gave")
corrupt = gpt.run(corrupt_text)
position = clean.tokens.index(" king", 3)
at = np.arange(len(clean.ids))[:, None] == position
print("clean", round(king_minus_queen(clean), 3), " corrupted", round(king_minus_queen(corrupt), 3))
def patch(x, name):
    return np.where(at, clean[name], x)  # the clean activation at one position, the corrupted one elsewhere

for layer in range(gpt.config.n_layer):
    patched = gpt.run(corrupt_text, names=[], hooks={f"h.{layer}.resid_pre": patch})
    print(f"patch before layer {layer}:", round(king_minus_queen(patched), 3))
"""),
    md("""
Before layer 0 the patch restores the clean answer fully; later it helps less, because by then the name has
been copied to other positions. With `gpt2`, the same experiment on "After John and Mary went to the store,
John gave a bottle of milk to" finds the indirect-object circuit of Wang et al. (2022).
"""),
]
