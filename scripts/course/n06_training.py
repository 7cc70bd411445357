"""Notebook 06, "Training" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, md

CELLS = [
    md("""
# 6. Training

Training is the forward pass, the backward pass (`gptlite/backprop.py`, every gradient written out by hand)
and AdamW, over and over. `gptlite.train.fit` does it from Python: from scratch on a text, or fine-tuning a
loaded model. This notebook trains a tiny model on the first pages of Hamlet in under a minute, then
fine-tunes the bundled model on a new text.
"""),
    code("""
from gptlite import GPT, Tokenizer, course
from gptlite.tokenizer import train_bpe
from gptlite.train import fit

hamlet = course.text("hamlet")
pages = hamlet[:40_000]  # about ten pages; the last 5% is held out
tokenizer = Tokenizer(*train_bpe(pages, vocab_size=512))
tokenizer
"""),
    md("""
## From scratch

Two layers, 64 wide, a context of 64 tokens: small enough to train in under a minute on a laptop's CPU. Watch
the held-out loss fall (the held-out part is the end of these pages, never trained on), and the samples turn
from noise into something with the shape of a play.
"""),
    code("""
def sample(model):
    return model.complete("HAMLET", 40, temperature=0.8, seed=0)

settings = dict(tokenizer=tokenizer, n_layer=2, n_head=2, n_embd=64, n_ctx=64, batch_size=8, lr=3e-3, warmup=20)
untrained = fit(pages, steps=1, quiet=True, **settings)
print("before:", repr(sample(untrained.gpt)))
result = fit(pages, steps=400, eval_every=100, **settings)
print("after: ", repr(sample(result.gpt)))
"""),
    code("""
for h in result.history:
    print(f"step {h['step']:4d}: held-out {h['val_loss']:.3f} nats per token, {h['val_bits_per_byte']:.3f} bits/byte")
"""),
    md("""
## Fine-tuning the bundled model

`fit(text, model=gpt)` continues training a loaded model (the one passed in is left as it was; the result is a
new model). A few dozen steps on a modern paragraph are enough to move its style.
"""),
    code("""
bundled = GPT.from_pretrained("gptlite-shakespeare")
modern = '''
The train was late again this morning, so I bought a coffee and read the news on my phone. The weather today is
cold but bright, and the forecast says it will rain in the afternoon. At work the meeting was moved to Thursday,
and my manager asked everyone to send their reports by email before the end of the week.
''' * 8
print("before:", repr(bundled.complete("The weather today is", 24, seed=1)))
tuned = fit(modern, model=bundled, steps=30, batch_size=4, n_ctx=64, lr=1e-3, warmup=4, eval_every=10)
print("after: ", repr(tuned.gpt.complete("The weather today is", 24, seed=1)))
"""),
    md("""
The text is short and repeats itself, so the model learns it almost by heart: enough to see fine-tuning move a
model, not enough to teach it modern English. With `out="my-run"`, `fit` writes checkpoints that
`GPT.from_pretrained("my-run")` loads, and `resume=True` continues a stopped run bit for bit; the notebook's stop
button saves and returns what was done. The shell has the same as `python -m gptlite.train`. With `gpt2` (124M
parameters) a step takes far longer on a CPU: fine-tune it with a small batch and a short context.
"""),
]
