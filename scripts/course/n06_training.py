"""Notebook 06, "Training" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 6. Training

Training repeats three things: the forward pass computes the loss, the backward pass computes its gradient with
respect to every weight (`gptlite/backprop.py` writes each one out by hand, as llm.c does in C), and AdamW moves
every weight a little against its gradient. This notebook takes one step by hand, then lets `gptlite.train.fit`
take a few hundred, then fine-tunes the bundled model on a few lines of modern English.

Everything here is kept small so that the notebook runs in seconds on two CPU cores. Set the environment variable
`GPTLITE_COURSE_LONG=1` before starting Jupyter to train the small model on the whole play, for longer: the same
cells, a better model, and a wait of about a minute.
"""),
    code("""
import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from gptlite import GPT, Tokenizer, backprop, course, scoring
from gptlite.course import check
from gptlite.model import Config, flatten, gelu, init_params, nest
from gptlite.tokenizer import train_bpe
from gptlite.train import AdamW, batch, clip_gradients, fit, split_point

LONG = os.environ.get("GPTLITE_COURSE_LONG") == "1"  # the longer run; off by default
pages = course.text("hamlet")[:40_000]  # about ten pages of Hamlet
tokenizer = Tokenizer(*train_bpe(pages, vocab_size=512))
tokens = np.array(tokenizer.encode(pages))
print(f"{len(pages):,} characters, {len(tokens):,} tokens of a {tokenizer.n_vocab}-token vocabulary")
"""),
    md("""
## The loss before any training

A new model is two layers, 64 wide, with a context of 64 tokens. `init_params` draws its weights as GPT-2 did:
small random numbers (standard deviation 0.02). Its logits are then all close to zero, so its softmax is close to
uniform over the V = 512 tokens, and the cross-entropy, the mean of -ln p(next token), is close to
-ln(1/V) = ln V = 6.238. This is nanoGPT's first sanity check: a first loss far above ln V means the
initialisation is wrong (logits too large, so the model is confidently wrong from the start).

`batch` cuts random windows of 65 tokens out of the text: the first 64 are the input, the last 64 (the same
window moved by one) are the targets, the token that follows each position.
"""),
    code("""
config = Config(n_vocab=tokenizer.n_vocab, n_ctx=64, n_embd=64, n_head=2, n_layer=2)
params = init_params(config, seed=0)
ids, targets = batch(tokens, step=0, seed=0, batch_size=8, n_ctx=64)  # [8, 64] each
loss, acts = backprop.forward(params, ids, targets, config)
print(f"loss at initialisation {loss:.3f} nats per token; ln {config.n_vocab} = {math.log(config.n_vocab):.3f}")
print(f"standard deviation of the token embeddings: {params['wte'].std():.4f}")
assert abs(params["wte"].std() - 0.02) < 0.001
assert ids.shape == targets.shape == (8, 64) and (ids[:, 1:] == targets[:, :-1]).all()  # targets: moved by one
assert abs(loss - math.log(config.n_vocab)) < 0.01
assert config.n_vocab == 512 and round(math.log(512), 3) == 6.238
"""),
    md("""
### Exercise 1: cross-entropy from the logits

The model gives logits `[8, 64, 512]`: a score for every token of the vocabulary at every position. The loss of
one position is minus the log-probability of its target: `-log_softmax(logits)[target]`. Write it for every
position at once, gathering the target's entry with `np.take_along_axis` (or fancy indexing). Work in float64:
convert the logits first. Subtract each row's maximum before `exp`, as softmax does.

The check compares yours with `gptlite.scoring.target_logprobs`, the function that `gpt.score` uses; the mean of
yours must then be the loss that `backprop.forward` computed above.
"""),
    exercise("""
def token_losses(logits, targets):
    \"\"\"logits [n_batch, n_seq, n_vocab] float32, targets [n_batch, n_seq] ints -> -log p(target) at every
    position, [n_batch, n_seq] float64.\"\"\"
    raise NotImplementedError
"""),
    code("""
model = GPT(config, params, tokenizer)
logits = np.stack(model(list(ids)))  # the model run on each window
assert logits.shape == (8, 64, 512)


def library_losses(logits, targets):
    flat = scoring.target_logprobs(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return -flat.reshape(targets.shape)


check(token_losses, library_losses, [(logits, targets), (logits * 50, targets)])
"""),
    solution("""
def token_losses(logits, targets):
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]


assert check(token_losses, library_losses, [(logits, targets), (logits * 50, targets)])
assert abs(token_losses(logits, targets).mean() - loss) < 1e-5
"""),
    md("""
## The backward pass

`backprop.backward(params, acts)` returns a gradient for every weight, in the same nested layout as the weights.
It starts at the loss: the gradient of the mean cross-entropy with respect to the logits is
`(softmax(logits) - onehot(target)) / N` for N positions, and from there the chain rule runs back through the
head, the final layer norm, each block in reverse (MLP, layer norm, attention, layer norm) and the embeddings.
Every piece is a small function: a linear layer, a layer norm, GELU, attention.

### Exercise 2: the gradient of GELU

GPT-2's GELU is `gelu(x) = 0.5 x (1 + tanh(u))` with `u = sqrt(2/pi) (x + 0.044715 x^3)`. Its backward function
receives `d_out`, the gradient of the loss with respect to GELU's output, and returns `d_out * gelu'(x)`. Use
`tanh' = 1 - tanh^2` and the chain rule through u. Keep float32 (plain Python numbers, not `np.pi`).
"""),
    exercise("""
def gelu_backward(d_out, x):
    \"\"\"d_out, x: float32 arrays of one shape -> d_out * gelu'(x), same shape and dtype.\"\"\"
    raise NotImplementedError
"""),
    code("""
rng = np.random.default_rng(0)
x = rng.standard_normal((4, 8), dtype=np.float32) * 3
d_out = rng.standard_normal((4, 8), dtype=np.float32)
check(gelu_backward, backprop.gelu_backward, [(d_out, x), (np.ones_like(x), x)])
"""),
    solution("""
def gelu_backward(d_out, x):
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x**3))
    return d_out * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))


assert check(gelu_backward, backprop.gelu_backward, [(d_out, x), (np.ones_like(x), x)])
"""),
    md("""
A gradient written by hand is checked against the definition of a derivative: nudge x by a small h each way and
divide the change in gelu by 2h (central differences, in float64 so that rounding does not swamp the
difference). The test suite checks the gradients of `backward` the same way.
"""),
    code("""
x64, h = x.astype(np.float64), 1e-5
numeric = (gelu(x64 + h) - gelu(x64 - h)) / (2 * h)
analytic = backprop.gelu_backward(np.ones_like(x64), x64)
print(f"largest difference from central differences: {np.abs(numeric - analytic).max():.1e}")
assert np.allclose(numeric, analytic, atol=1e-8)
"""),
    md("""
### Exercise 3: one AdamW update

AdamW (Loshchilov & Hutter 2019) keeps two running averages per weight: m, of the gradient, and v, of its square.
At step t (counting from 1), with betas (0.9, 0.95):

    m = b1 m + (1 - b1) g          v = b2 v + (1 - b2) g^2
    m_hat = m / (1 - b1^t)         v_hat = v / (1 - b2^t)      (both start at zero: this undoes that bias)
    p = p - lr * weight_decay * p  (matrices only: not biases or layer-norm gains; decoupled from the gradient)
    p = p - lr * m_hat / (sqrt(v_hat) + eps)

Return new arrays; leave the ones passed in as they were. The reference is `gptlite.train.AdamW.step`, the
optimizer `fit` uses.
"""),
    exercise("""
def adamw_update(p, g, m, v, t, lr, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8):
    \"\"\"One AdamW step for one weight p (float32) with gradient g, moments m and v, at step t >= 1.
    Returns (new p, new m, new v); the weight decay applies only when p.ndim >= 2.\"\"\"
    raise NotImplementedError
"""),
    code("""
rng = np.random.default_rng(1)


def library_update(p, g, m, v, t, lr):
    optimizer = AdamW({"p": p})
    optimizer.m["p"], optimizer.v["p"], optimizer.t = m.copy(), v.copy(), t - 1  # as if t - 1 steps were done
    new_p = p.copy()
    optimizer.step({"p": new_p}, {"p": g}, lr)
    return new_p, optimizer.m["p"], optimizer.v["p"]


w, g_w = rng.standard_normal((2, 16, 8), dtype=np.float32)
b, g_b = rng.standard_normal((2, 8), dtype=np.float32)
m_w, v_w = rng.standard_normal((16, 8), dtype=np.float32) * 0.1, rng.random((16, 8), dtype=np.float32) * 0.01
cases = [(w, g_w, np.zeros_like(w), np.zeros_like(w), 1, 1e-3), (w, g_w, m_w, v_w, 7, 3e-3),
         (b, g_b, np.zeros_like(b), np.zeros_like(b), 1, 1e-3)]
check(adamw_update, library_update, cases)
"""),
    solution("""
def adamw_update(p, g, m, v, t, lr, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    if p.ndim >= 2:
        p = p - lr * weight_decay * p
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


assert check(adamw_update, library_update, cases)
"""),
    md("""
At the first step m_hat = g and v_hat = g^2, so every weight moves by lr * g / |g|: by the learning rate itself,
whatever the size of its gradient. Adam's steps are set by the learning rate, not by the scale of the loss.
"""),
    code("""
moved = w - adamw_update(w, g_w, np.zeros_like(w), np.zeros_like(w), 1, 1e-3, weight_decay=0.0)[0]
print(f"first step: every weight moved by {np.abs(moved).min():.6f} to {np.abs(moved).max():.6f}")
assert np.allclose(np.abs(moved), 1e-3, rtol=1e-3)
"""),
    md("""
## One training step, by hand

Now the three pieces in a row on the batch above: the loss, one call of `backward`, clipping the gradients to a
global norm of 1 (GPT-3's setting), and one AdamW update of a copy of the weights. The loss on the same batch goes
down, and each part is timed.
"""),
    code("""
start = time.perf_counter()
loss_before, acts = backprop.forward(params, ids, targets, config)
forward_s = time.perf_counter() - start
grads = flatten(backprop.backward(params, acts))
backward_s = time.perf_counter() - start - forward_s
norm = clip_gradients(grads, 1.0)  # scales this cell's own gradients, in place
stepped = {name: value.copy() for name, value in flatten(params).items()}  # params itself stays as it was
AdamW(stepped).step(stepped, grads, lr=3e-3)
step_s = time.perf_counter() - start
loss_after, _ = backprop.forward(nest(stepped), ids, targets, config)
print(f"{len(grads)} gradients, global norm {norm:.2f} before clipping")
print(f"forward {forward_s * 1e3:.0f} ms, backward {backward_s * 1e3:.0f} ms, the whole step {step_s * 1e3:.0f} ms")
print(f"loss on this batch: {loss_before:.4f} before the step, {loss_after:.4f} after")
assert loss_after < loss_before
"""),
    md("""
## Five steps, by hand

The loop is that step again and again, each time on a new batch, with one optimizer that keeps its moments from
step to step. Each step's time is printed.
"""),
    code("""
trained = {name: value.copy() for name, value in flatten(params).items()}  # a fresh copy of the weights to train
optimizer = AdamW(trained)
step_losses = []
for step in range(5):
    start = time.perf_counter()
    step_ids, step_targets = batch(tokens, step=step, seed=0, batch_size=8, n_ctx=64)
    step_loss, step_acts = backprop.forward(nest(trained), step_ids, step_targets, config)
    step_grads = flatten(backprop.backward(nest(trained), step_acts))
    clip_gradients(step_grads, 1.0)
    optimizer.step(trained, step_grads, lr=3e-3)  # updates the arrays of `trained` in place
    step_losses.append(step_loss)
    print(f"step {step + 1}: loss {step_loss:.3f}, {(time.perf_counter() - start) * 1e3:.0f} ms")
assert step_losses[-1] < step_losses[0] - 0.5
"""),
    md("""
## The loop: `fit`

`fit` does the same with a fresh batch every step, a learning rate that warms up and then decays (a cosine), and
an evaluation on the held-out part of the text (its last 5%, which it never trains on) every so often. Watch the
samples turn from noise into something with the shape of a play.
"""),
    code("""
text = course.text("hamlet") if LONG else pages  # the long run reads the whole play
steps = 2000 if LONG else 300
settings = dict(tokenizer=tokenizer, n_layer=2, n_head=2, n_embd=64, n_ctx=64, batch_size=8, lr=3e-3, warmup=20)


def sample(model):
    return model.complete("HAMLET", 40, temperature=0.8, seed=0)


print("before:", repr(sample(GPT(config, params, tokenizer))))
start = time.perf_counter()
result = fit(text, steps=steps, eval_every=steps // 5, quiet=True, **settings)
seconds = time.perf_counter() - start
print(f"{steps} steps on {len(text):,} characters in {seconds:.1f} s: {seconds / steps * 1e3:.0f} ms a step, evaluations included")
print("after: ", repr(sample(result.gpt)))
"""),
    code("""
for h in result.history:
    print(f"step {h['step']:4d}: train {h['train_loss']:.3f}, held-out {h['val_loss']:.3f} nats per token, "
          f"{h['val_bits_per_byte']:.3f} bits per byte")
text_tokens = np.array(tokenizer.encode(text))
frequencies = np.bincount(text_tokens, minlength=tokenizer.n_vocab) / len(text_tokens)
unigram = -sum(f * math.log(f) for f in frequencies if f > 0)  # the loss of knowing only how common each token is
below = next(i for i, value in enumerate(result.losses) if value < unigram) + 1
print(f"unigram entropy {unigram:.3f} nats per token; the training loss first fell below it at step {below}")
assert abs(result.losses[0] - math.log(tokenizer.n_vocab)) < 0.02  # fit starts where the sanity check said
assert below <= 50 and result.history[-1]["val_loss"] < unigram - 1.5

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(np.arange(1, len(result.losses) + 1), result.losses, lw=0.8, label="training batch")
ax.plot([h["step"] for h in result.history], [h["val_loss"] for h in result.history], "o-", label="held out")
ax.axhline(math.log(tokenizer.n_vocab), color="gray", ls="--", label="ln V (uniform guess)")
ax.axhline(unigram, color="gray", ls=":", label="unigram entropy (no context)")
ax.set(title=f"Training a 2-layer model on {len(text):,} characters of Hamlet", xlabel="step", ylabel="loss (nats per token)")
ax.legend()
plt.show()
"""),
    md("""
The training loss is noisy (each step sees a different batch of 8 windows); the held-out loss is measured on the
same windows every time, so it is smooth. The first steps are the steepest. Within a few dozen steps the loss
reaches the unigram entropy, the loss of a model that knows only how common each token is and ignores the context;
everything below that line is the model using the tokens before, learning which follow which.

To look for overfitting, train far longer on the same ten pages (`fit(pages, steps=3000, ...)`, a minute or so)
and watch whether the held-out loss turns up while the training loss keeps falling. `notebooks/long/` holds this
notebook as `GPTLITE_COURSE_LONG=1` runs it: the whole play, 2,000 steps.

## Fine-tuning the bundled model

`fit(text, model=gpt)` continues training a loaded model; the model passed in is left as it was and the result is
a new one. Here the bundled model (trained on Shakespeare only) reads 28 lines of modern English. Two details
make the measurement honest:

- what is held out (`fit` keeps the last 5% of the text, from a line break, and never trains on it) is lines
  that appear nowhere else in the text, on the same everyday topics: a lower loss on them means the model learned
  something about modern English, not the training lines by heart. A text repeated several times would hold out a
  copy of what it trains on;
- each paragraph is one line: a text wrapped at a fixed width (as a string typed in an editor is) teaches the
  model to break its lines at that width, in every sample it writes afterwards.
"""),
    code("""
modern = "\\n".join([  # one paragraph a line, none repeated
    "The train was late again this morning, so I bought a coffee and read the news on my phone while I waited.",
    "The weather today is cold but bright, and the forecast says it will rain in the afternoon.",
    "At work the meeting was moved to Thursday, and my manager asked everyone to send their reports by email.",
    "After lunch I called the bank about my card, but the line was busy and the music played for twenty minutes.",
    "My sister sent a message to say that her flight had landed and that she would take a taxi from the airport.",
    "The shop on the corner has closed for the week, so we ordered our groceries online and paid by card.",
    "In the evening we watched a film on television and went to bed early, because the alarm is set for six.",
    "The children walked to school in the rain, and their teacher said the bus would be back on Monday.",
    "I charged my laptop, answered a few emails and booked a table at the restaurant for Saturday night.",
    "The doctor's office called to move my appointment to next week, and the new time suits me better.",
    "We bought a new phone for my father; he likes the camera, but he still prefers to call rather than text.",
    "On the radio they said the traffic on the motorway was heavy, so I took the train into the city instead.",
    "The weather was so warm on Sunday that half the town went to the park with a picnic and a ball.",
    "My neighbour is painting his kitchen, and he asked if he could borrow our ladder for the weekend.",
    "The new software update made my computer slow, so I spent the morning on the phone with the help desk.",
    "We are saving money for a holiday in the summer, and my brother has found a cheap flight to Spain.",
    "The cafe near the station has started to serve breakfast all day, and the queue is out of the door.",
    "Our team won the match on Saturday, and the coach bought pizza for everyone after the game.",
    "I forgot my umbrella at the office, and of course the rain started as soon as I left the building.",
    "The library is open late on Wednesdays, so I go there after work to study for my driving test.",
    "My phone battery died in the middle of the call, and I had to find a cafe with a place to charge it.",
    "The weather tomorrow will be windy, so the ferry to the island may not run in the morning.",
    "The post office lost my parcel, but they found it again two days later and delivered it to my door.",
    "We had dinner with friends on Friday, and we talked about work, the news and the price of houses.",
    "The price of petrol went up again this month, so more people at work have started to cycle to the office.",
    "My daughter wants a dog for her birthday, but our flat is small and the landlord does not allow pets.",
    "The manager sent an email this afternoon to say that the office will be closed on Monday for repairs.",
    "I took the bus home after the concert, and I was in bed before midnight for the first time this week.",
])
assert len(modern.splitlines()) == 28
held_out = modern[split_point(modern) :]  # what fit holds out: the last 5%, from a line break; never trained on
print(f"{len(modern):,} characters; held out:", repr(held_out))

bundled = GPT.from_pretrained("gptlite-shakespeare")
before = bundled.score(held_out).mean_nll
start = time.perf_counter()
tuned = fit(modern, model=bundled, steps=20, batch_size=4, n_ctx=32, lr=1e-3, warmup=4, quiet=True)
seconds = time.perf_counter() - start
after = tuned.gpt.score(held_out).mean_nll
print(f"{tuned.step} steps in {seconds:.1f} s: {seconds / tuned.step * 1e3:.0f} ms a step")
print(f"the held-out lines: {before:.3f} nats per token before, {after:.3f} after")
assert held_out.strip() and all(line not in modern[: split_point(modern)] for line in held_out.splitlines())
assert after < before
"""),
    code("""
prompt = "The weather today is"
print("before:", repr(bundled.complete(prompt, 30, seed=1)))
print("after: ", repr(tuned.gpt.complete(prompt, 30, seed=1)))
"""),
    md("""
A few steps on 28 lines move the model's style (and its loss on lines it never saw), not its knowledge of modern
English: it has read a few hundred words of it. With `out="my-run"`, `fit` writes checkpoints
that `GPT.from_pretrained("my-run")` loads, and `resume=True` continues a stopped run bit for bit; the notebook's
stop button saves and returns what was done. The shell has the same as `python -m gptlite.train`. With `gpt2`
(124M parameters) a step takes far longer on a CPU: fine-tune it with a small batch and a short context.
"""),
]
