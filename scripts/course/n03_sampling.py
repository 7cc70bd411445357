"""Notebook 03, "Sampling: from scores to a next token" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 3. Sampling: from scores to a next token

The model gives a score (a logit) for every token of its vocabulary; generation has to pick one, append it, and
ask again. How it picks decides whether the text is dull, varied or nonsense. This notebook takes each of the
usual knobs apart, in the order Hugging Face transformers applies them (`gptlite/sampling.py`): repetition
penalty and n-gram bans, temperature, top-k, top-p, then a random draw, or the argmax when the temperature is 0.
Then beam search, which looks several tokens ahead, and prompt lookup, which proposes several tokens at once.

You write four of the pieces yourself (temperature, top-k, top-p and the n-gram ban); a cell after each checks
yours against the library's function, and a folded cell holds a worked answer.
"""),
    code("""
import matplotlib.pyplot as plt
import numpy as np
from gptlite import GPT, Sampler, course
from gptlite.course import check
from gptlite.model import log_softmax, softmax
from gptlite.sampling import apply_top_k, apply_top_p, ban_repeated_ngrams

gpt = GPT.from_pretrained("gptlite-shakespeare")
prompt = "The king"
ids = gpt.encode_prompt(prompt)
logits = gpt(ids)[-1]                                   # [n_vocab] float32: the scores for the next token

def show(row, k=8):
    p = softmax(row.astype(np.float64))
    kept = int(np.isfinite(row).sum())
    top = np.argsort(-p)[:k]
    print(f"{kept:5d} tokens can be drawn; top {k}:",
          ", ".join(f"{gpt.token_str(int(t))!r} {p[t]:.0%}" for t in top))

def bars(ax, probs, title, tokens):
    \"\"\"A bar chart of the probabilities `probs` [n_vocab] of the token ids `tokens`.\"\"\"
    ax.bar(range(len(tokens)), probs[tokens])
    ax.set_xticks(range(len(tokens)), [repr(gpt.token_str(int(t))) for t in tokens], rotation=90)
    ax.set_title(title)
    ax.set_ylabel("probability")

print(gpt.to_str_tokens(ids), logits.shape, logits.dtype)
show(logits)
"""),
    md("""
## Drawing a token by hand

The softmax of the logits is a probability distribution over the vocabulary: sampling means drawing one token
from it, so that the likeliest token here, with about a fifth of the probability, comes about one time in
five. NumPy draws from a distribution with `rng.choice(n, p=probabilities)`; drawn many times, the frequencies
approach the probabilities.
"""),
    code("""
probabilities = softmax(logits.astype(np.float64))      # float64: rng.choice wants p to sum to 1 closely
rng = np.random.default_rng(0)
draws = rng.choice(len(probabilities), size=4000, p=probabilities)
print("ten draws:", gpt.to_str_tokens(draws[:10].tolist()))
likeliest = int(np.argmax(probabilities))
frequency = np.mean(draws == likeliest)
print(f"{gpt.token_str(likeliest)!r}: probability {probabilities[likeliest]:.3f}, drawn {frequency:.3f} of the time")
assert round(probabilities[likeliest], 1) == 0.2        # about a fifth
assert abs(frequency - probabilities[likeliest]) < 0.03   # 4,000 draws: the standard error is about 0.006
"""),
    md("""
gptlite's `Sampler` draws the same way with one uniform number u in [0, 1): it adds the probabilities up (the
cumulative distribution) and takes the first token whose running sum passes u, "inverse-CDF sampling". With the
same seed, the draw by hand and the library's agree:
"""),
    code("""
plain = Sampler(temperature=1.0, top_k=0)               # no temperature change, no top-k: the raw distribution
for seed in range(5):
    u = np.random.default_rng(seed).random()
    cdf = np.cumsum(softmax(logits))
    by_hand = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
    assert by_hand == plain(logits, ids, np.random.default_rng(seed))
    print(f"seed {seed}: u = {u:.3f} -> {gpt.token_str(by_hand)!r}")
"""),
    md("""
## Greedy, and why its text degenerates

`temperature=0` always takes the likeliest token. It is deterministic, and it loops:
"""),
    code("""
greedy = gpt.generate(ids, 60, temperature=0)           # the 60 new token ids
print(prompt + gpt.tokenizer.decode(greedy))
"""),
    md("""
Holtzman et al. (2020, "The Curious Case of Neural Text Degeneration") explain why: once a phrase has occurred,
the model finds it *more* likely the next time, so each repetition makes the next more likely still, a positive
feedback loop that maximising probability never leaves. The bundled model shows it. Here is the probability the
model gave each greedy token, and the mean over each occurrence of the repeated line:
"""),
    code("""
def token_log_probs(context, new):
    \"\"\"The log-probability the model gives each token of `new` after `context` (lists of ids), in one pass.\"\"\"
    full = list(context) + list(new)
    rows = log_softmax(gpt(full)[:-1].astype(np.float64))          # row i predicts token i + 1
    return rows[np.arange(len(context) - 1, len(full) - 1), new]

greedy_p = np.exp(token_log_probs(ids, greedy))
line = gpt.encode_prompt("My lord, I am not well.")
starts = [i for i in range(len(greedy) - len(line) + 1) if greedy[i : i + len(line)] == line]
means = [float(greedy_p[s : s + len(line)].mean()) for s in starts]
print(f"the line {gpt.tokenizer.decode(line)!r} occurs {len(starts)} times; mean token probability each time:",
      [round(m, 3) for m in means])
assert len(starts) >= 3 and all(a < b for a, b in zip(means, means[1:]))   # each repetition more likely

fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(greedy_p, marker=".")
for s in starts:
    ax.axvspan(s - 0.5, s + len(line) - 0.5, alpha=0.15, color="tab:red")
ax.set_title("greedy decoding: the probability of each chosen token (the repeated line shaded)")
ax.set_xlabel("new token")
ax.set_ylabel("probability")
plt.show()
"""),
    md("""
## Temperature

Dividing the logits by T before the softmax sharpens the distribution (T < 1) or flattens it (T > 1); T = 1
leaves it as the model made it, and T → 0 approaches greedy. The entropy, in bits, measures how spread out a
distribution is: 0 when one token has it all, 11 (log2 of the 2,048 tokens) when all are equally likely.
"""),
    md("""
### Exercise 1: temperature

Write the distribution the next token is drawn from at temperature `t`: the softmax of `logits / t`. Keep it
float32, as the model's logits are, and subtract the maximum before `np.exp` so that a small `t` cannot
overflow.
"""),
    exercise("""
def with_temperature(logits, t):
    \"\"\"logits [n_vocab] float32, t > 0 -> probabilities [n_vocab] float32 that sum to 1: softmax(logits / t).\"\"\"
    raise NotImplementedError
"""),
    code("""
def library_temperature(logits, t):
    return Sampler(temperature=t, top_k=0).distribution(logits, [])   # top_k=0: nothing but the temperature

temperature_cases = [(logits, 1.0), (logits, 0.5), (logits, 1.5), (logits, 0.05)]
check(with_temperature, library_temperature, temperature_cases);
"""),
    solution("""
def with_temperature(logits, t):
    z = logits / np.float32(t)
    e = np.exp(z - z.max())
    return e / e.sum()


assert check(with_temperature, library_temperature, temperature_cases)
"""),
    code("""
temperatures = [0.5, 1.0, 1.5]
entropies = []
for t in temperatures:
    p = library_temperature(logits, t).astype(np.float64)
    entropies.append(-(p * np.log2(p, where=p > 0, out=np.zeros_like(p))).sum())
    print(f"T = {t}: entropy {entropies[-1]:.2f} bits, likeliest token {p.max():.0%}")
assert entropies[0] < entropies[1] < entropies[2]      # colder is sharper, hotter is flatter
assert np.log2(gpt.config.n_vocab) == 11                 # the most an entropy over 2,048 tokens can be

top = np.argsort(-logits)[:12]                           # the same 12 tokens in every panel
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), sharey=True)
for ax, t in zip(axes, temperatures):
    bars(ax, library_temperature(logits, t), f"T = {t}", top)
fig.suptitle(f"the next token after {prompt!r} at three temperatures")
fig.tight_layout()
plt.show()
"""),
    md("""
## Top-k and top-p

Top-k keeps the k likeliest tokens; top-p (nucleus sampling, Holtzman et al. 2020) keeps the smallest set of
likeliest tokens whose probabilities add up to more than p. Both set every other logit to −inf, so that the
softmax gives those tokens probability 0; both cut off the long tail of unlikely tokens, where most of the
nonsense lives. Each tail token is rare, but there are so many of them that together they are drawn often:
after "The king", about one draw in seven would come from outside the 40 likeliest tokens (the cell below
measures it).

`top_k=0` means *off*, not "keep nothing", as in transformers; `Sampler`'s default is `top_k=40`, and `top_p=1`
is off.
"""),
    code("""
assert Sampler().top_k == 40 and Sampler().top_p == 1.0
kept_off = int(np.isfinite(Sampler(temperature=1.0, top_k=0).process(logits, ids)).sum())
kept_default = int(np.isfinite(Sampler(temperature=1.0).process(logits, ids)).sum())
print(f"top_k=0 keeps {kept_off} of {gpt.config.n_vocab} tokens; the default top_k=40 keeps {kept_default}")
assert kept_off == gpt.config.n_vocab and kept_default == 40
tail = 1 - np.sort(softmax(logits.astype(np.float64)))[::-1][:40].sum()
print(f"the {gpt.config.n_vocab - 40} tokens outside the top 40 hold {tail:.0%} of the probability between them")
assert round(1 / tail) == 7                              # one draw in seven
"""),
    md("""
### Exercise 2: top-k

Return a copy of the logits in which everything below the k-th highest logit is −inf. Tokens tied with the
k-th are kept too (transformers does the same), so more than k can survive. `np.partition` finds the k-th
highest value without sorting the whole row.
"""),
    exercise("""
def top_k_filter(logits, k):
    \"\"\"logits [n_vocab] float32, k >= 1 -> a new row [n_vocab]: the logits below the k-th highest set to -inf.\"\"\"
    raise NotImplementedError
"""),
    code("""
ties = np.array([1.0, 3.0, 2.0, 2.0, 0.5], np.float32)  # k=2 keeps 3.0 and both 2.0s
top_k_cases = [(logits, 40), (logits, 1), (ties, 2), (ties, 5)]
check(top_k_filter, apply_top_k, top_k_cases);
"""),
    solution("""
def top_k_filter(logits, k):
    kth = np.partition(logits, -k)[-k]                   # the k-th highest logit
    out = logits.copy()                                   # never change the caller's row
    out[logits < kth] = -np.inf
    return out


assert check(top_k_filter, apply_top_k, top_k_cases)
"""),
    md("""
### Exercise 3: top-p

Sort the tokens likeliest first (among equal logits, the lower id first: `np.argsort(..., kind="stable")` of
the negated logits). A token stays if the tokens ahead of it have not yet reached p between them; so the
likeliest token always stays, and so does the one that carries the sum past p.
"""),
    exercise("""
def top_p_filter(logits, p):
    \"\"\"logits [n_vocab] float32, 0 < p <= 1 -> a new row [n_vocab]: the logits outside the nucleus set to -inf.\"\"\"
    raise NotImplementedError
"""),
    code("""
top_p_cases = [(logits, 0.9), (logits, 0.5), (logits, 0.05), (apply_top_k(logits, 40), 0.8)]
check(top_p_filter, apply_top_p, top_p_cases);
"""),
    solution("""
def top_p_filter(logits, p):
    order = np.argsort(-logits, kind="stable")          # likeliest first
    probs = softmax(logits[order].astype(np.float64))
    ahead = np.cumsum(probs) - probs                     # the probability of the tokens ahead of each one
    out = logits.copy()
    out[order[ahead >= p]] = -np.inf
    return out


assert check(top_p_filter, apply_top_p, top_p_cases)
"""),
    md("""
`Sampler.process` applies them in transformers' order (temperature, then top-k, then top-p on what is left);
the probabilities printed are those of the tokens that remain, renormalised:
"""),
    code("""
samplers = [Sampler(temperature=1.0, top_k=0), Sampler(temperature=1.0, top_k=40),
            Sampler(temperature=1.0, top_k=0, top_p=0.9), Sampler(temperature=1.0, top_k=0, top_p=0.5)]
for sampler in samplers:
    print(f"top_k={sampler.top_k:>2}, top_p={sampler.top_p}:", end=" ")
    show(sampler.process(logits, ids), k=4)

fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), sharey=True)
for ax, (title, sampler) in zip(axes, [("unchanged", samplers[0]), ("top_k = 5", Sampler(temperature=1.0, top_k=5)),
                                       ("top_p = 0.5", samplers[3])]):
    bars(ax, sampler.distribution(logits, ids), title, top)
fig.suptitle(f"the next token after {prompt!r}: cut, then renormalised")
fig.tight_layout()
plt.show()
"""),
    md("""
## A flat context and a peaked one

Why two knobs? The Hugging Face generation blog (von Platen 2020) makes the case with two contexts. After a
bare "The" almost anything can follow, and the distribution is flat; after "...came to the cast" one token,
'le' (for "castle"), takes nearly everything. A fixed k cannot suit both: on the flat context k = 40 keeps
well under half of the probability and cuts off reasonable words, while on the peaked one it keeps 39 tokens
beside 'le' that the model itself all but rules out. Top-p adapts to the shape: hundreds of tokens on the flat
context, one on the peaked.
"""),
    code("""
contexts = {"flat": "The", "peaked": "When the king and the queen came to the cast"}
rows = {name: gpt(gpt.encode_prompt(text))[-1] for name, text in contexts.items()}
kept = {}
for name, row in rows.items():
    p = softmax(row.astype(np.float64))
    for label, cut in [("top_k=40", apply_top_k(row, 40)), ("top_p=0.9", apply_top_p(row, 0.9))]:
        survivors = np.isfinite(cut)
        n_kept, mass = kept[name, label] = int(survivors.sum()), float(p[survivors].sum())
        print(f"{name:6} {label:9}: keeps {n_kept:4d} tokens, {mass:.1%} of the probability")
    print(f"{name:6} likeliest: {gpt.token_str(int(p.argmax()))!r} {p.max():.2%}")

p_le = softmax(rows["peaked"].astype(np.float64))[gpt.tokenizer.encode("le")[0]]
assert gpt.token_str(int(np.argmax(rows["peaked"]))) == "le" and round(p_le, 2) == 0.97
assert kept["flat", "top_k=40"][1] < 0.5 and kept["flat", "top_p=0.9"][0] > 200       # flat: k=40 is too few
assert kept["peaked", "top_k=40"][0] == 40 and kept["peaked", "top_p=0.9"][0] == 1    # peaked: k=40 too many
"""),
    md("""
So after "...came to the cast", 'le' has 97% (asserted above): top-p with p = 0.9 keeps it alone, while top-k
with k = 40 still draws one of the other 39 tokens about 3% of the time. In the pictures (a log scale, so
that the tail shows), the tokens in colour are those each rule keeps, in grey those it cuts:
"""),
    code("""
others = 1 - p_le / kept["peaked", "top_k=40"][1]        # after top-k, renormalised over the 40 kept
print(f"top_k=40 after ' cast': a token other than 'le' {others:.1%} of the time")
assert round(others, 2) == 0.03

fig, axes = plt.subplots(2, 2, figsize=(9, 6), sharey="row")
for r, (name, row) in enumerate(rows.items()):
    p = softmax(row.astype(np.float64))
    shown = np.argsort(-p)[: {"flat": 400, "peaked": 60}[name]]
    for c, (label, cut) in enumerate([("top_k=40", apply_top_k(row, 40)), ("top_p=0.9", apply_top_p(row, 0.9))]):
        ranks, floor, stays = np.arange(len(shown)), p[shown].min() / 2, np.isfinite(cut[shown])
        for where, colour in [(stays, "tab:blue"), (~stays, "lightgrey")]:   # one filled area each: fast to draw
            axes[r, c].fill_between(ranks, floor, p[shown], where=where, step="mid", color=colour)
        axes[r, c].bar(0, p[shown[0]] - floor, bottom=floor, width=1.0, color="tab:blue")   # always kept
        axes[r, c].set_yscale("log")
        axes[r, c].set_title(f"{name} ({contexts[name][-12:]!r}): {label}")
        axes[r, c].set_xlabel(f"the {len(shown)} likeliest tokens, by rank")
        axes[r, c].set_ylabel("probability")
fig.tight_layout()
plt.show()
"""),
    md("""
## Try it: a slider

Move the sliders to see the distribution after temperature, top-k and top-p (in JupyterLab, with ipywidgets;
run headless, the cell draws the defaults once). `top_k=0` is off, `top_p=1` is off, and temperature 0 is
greedy: all the probability on one token.
"""),
    code("""
from ipywidgets import FloatSlider, IntSlider, interact

def redraw(temperature=1.0, top_k=0, top_p=1.0):
    probs = Sampler(temperature=temperature, top_k=top_k, top_p=top_p).distribution(logits, ids)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bars(ax, probs, f"T = {temperature}, top_k = {top_k}, top_p = {top_p}: "
                    f"{np.count_nonzero(probs)} tokens possible", np.argsort(-logits)[:15])
    ax.set_ylim(0, 1)
    plt.show()

interact(redraw, temperature=FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1),
         top_k=IntSlider(value=0, min=0, max=50), top_p=FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05));
"""),
    md("""
## Repetition penalty and no repeated n-grams

Two remedies for loops act on the logits before the temperature, and so also apply to greedy decoding and beam
search. The repetition penalty (Keskar et al. 2019) divides the logit of every token already in the text by the
penalty (multiplies it, if negative), so repeats get less likely. Compare the greedy continuation above with
this one:
"""),
    code("""
print(prompt + gpt.complete(prompt, 40, temperature=0, repetition_penalty=1.3))
"""),
    md("""
`no_repeat_ngram_size=n` (Paulus et al. 2017) is blunter: a token that would complete an n-gram already in the
text is banned outright.

### Exercise 4: ban repeated n-grams

Given the text so far (`history`, a list of ids), find every earlier place where its last n − 1 tokens occur,
and ban the token that followed them there: return a copy of the logits with those tokens at −inf. A history
shorter than n bans nothing.
"""),
    exercise("""
def ban_ngrams(logits, history, n):
    \"\"\"logits [n_vocab] float32, history: a list of ids, n >= 1 -> a new row [n_vocab] with the tokens that would
    complete an n-gram already in history set to -inf.\"\"\"
    raise NotImplementedError
"""),
    code("""
looping = ids + greedy                                    # the greedy text above, which repeats itself
ngram_cases = [(logits, looping, 3), (logits, looping, 2), (logits, [5, 6, 7, 5, 6], 3), (logits, [5, 6], 3),
               (logits, [9, 9, 9], 1)]
check(ban_ngrams, ban_repeated_ngrams, ngram_cases);
"""),
    solution("""
def ban_ngrams(logits, history, n):
    out = logits.copy()
    if len(history) < n:
        return out
    tail = history[len(history) - n + 1 :]               # the last n - 1 tokens (none when n = 1)
    for i in range(len(history) - n + 1):
        if history[i : i + n - 1] == tail:
            out[history[i + n - 1]] = -np.inf
    return out


assert check(ban_ngrams, ban_repeated_ngrams, ngram_cases)
"""),
    code("""
banned = gpt.generate(ids, 60, temperature=0, no_repeat_ngram_size=3)
print(prompt + gpt.tokenizer.decode(banned))
trigrams = [tuple(banned[i : i + 3]) for i in range(len(banned) - 2)]
assert len(set(trigrams)) == len(trigrams)              # no three tokens twice, so no loop
"""),
    md("""
## Beam search

Greedy decoding commits to the likeliest token at each step, and a likely token can lead into an unlikely
sequence. Beam search keeps the `num_beams` likeliest sequences so far: at each step it extends each of them by
every token and keeps the best `num_beams` of all those, scored by the sum of their log-probabilities. Its
`sequences_scores`, here `Hypothesis.score`, divide that sum by the length (`length_penalty=1`). With 4 beams
it finds a 40-token continuation the model likes better than the greedy one:
"""),
    code("""
n_new = 40
beams = gpt.beam_search(ids, n_new, num_beams=4)
best = beams[0]
print(prompt + gpt.tokenizer.decode(best.ids))
beam_lp, greedy_lp = token_log_probs(ids, best.ids), token_log_probs(ids, greedy[:n_new])
assert len(best.ids) == n_new and abs(best.score - beam_lp.mean()) < 1e-4   # score = mean log-probability
print(f"mean log-probability a token: beam {beam_lp.mean():.3f}, greedy {greedy_lp.mean():.3f}")
assert beam_lp.mean() > greedy_lp.mean()
"""),
    md("""
Higher probability is not better text, which is Holtzman et al.'s central point: text people write is far less
probable, token by token, than what greedy or beam search produce. People keep choosing words the model thought
unlikely; a search never does. Here are 40 tokens of held-out Shakespeare, which the model never saw: more than a
quarter of them are tokens the model gave less than 1%, and neither search picked a single one:
"""),
    code("""
human = gpt.encode_prompt(course.text("heldout")[:400])
human_lp = token_log_probs(human[:8], human[8 : 8 + n_new])   # 40 tokens after the first 8
print(f"mean log-probability a token: human {human_lp.mean():.3f}")
assert human_lp.mean() < greedy_lp.mean() < beam_lp.mean()
unlikely = {name: int(np.sum(np.exp(lp) < 0.01)) for name, lp in
            [("beam", beam_lp), ("greedy", greedy_lp), ("human", human_lp)]}
print("tokens the model gave under 1%, of 40:", unlikely)
assert unlikely["beam"] == unlikely["greedy"] == 0 and unlikely["human"] > n_new / 4

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(np.exp(beam_lp), marker=".", label="beam search (4 beams)")
ax.plot(np.exp(human_lp), marker=".", label="held-out Shakespeare")
ax.axhline(0.01, color="grey", linestyle=":", label="1%")
ax.set_yscale("log")
ax.set_title("the probability of each token: search versus people")
ax.set_xlabel("token")
ax.set_ylabel("probability (log scale)")
ax.legend()
plt.show()
"""),
    md("""
Beams repeat themselves as well: the beam text above has "KING HENRY" twice. `no_repeat_ngram_size` applies to
beams too (the generation blog's beam example uses it), and with n = 3 the second "KING HENRY" is banned:
"""),
    code("""
def repeated_trigrams(new):
    grams = [tuple(new[i : i + 3]) for i in range(len(new) - 2)]
    return sorted({g for g in grams if grams.count(g) > 1})

no_repeats = gpt.beam_search(ids, n_new, num_beams=4, no_repeat_ngram_size=3)[0].ids
print("repeated trigrams in the beam text:", [gpt.tokenizer.decode(list(g)) for g in repeated_trigrams(best.ids)])
print(repr(gpt.tokenizer.decode(no_repeats)))
assert gpt.tokenizer.decode(best.ids).count("KING HENRY") == 2
assert gpt.tokenizer.decode(no_repeats).count("KING HENRY") == 1
assert repeated_trigrams(no_repeats) == []
"""),
    md("""
## Sampling, reproducibly

With a seed, sampling repeats exactly; each seed gives a different text. The defaults (temperature 0.8,
top-k 40) are a common middle ground. With `gpt2` instead of the bundled model, the same calls continue in
modern English rather than in Shakespeare's.
"""),
    code("""
for seed in range(3):
    print(f"seed {seed}:", repr(gpt.complete(prompt, 24, seed=seed)))
assert gpt.complete(prompt, 24, seed=0) == gpt.complete(prompt, 24, seed=0)
assert (Sampler().temperature, Sampler().top_k) == (0.8, 40)
"""),
    md("""
## Several tokens a pass: prompt lookup

A decode step reads every weight of the model to produce one token, so on a CPU it is bound by memory, not by
arithmetic; a pass over a few more positions reads the weights once too and costs little more. Speculative
decoding uses that: something cheap *proposes* the next few tokens, the model checks them all in one pass, and
keeps a proposal only while it is what the model itself would have picked there (Leviathan et al. 2023).
Prompt lookup (transformers' `prompt_lookup_num_tokens`) proposes without any second model: find the text's
last two tokens earlier in the text, and propose the tokens that followed them there.
"""),
    code("""
from gptlite.decoding import Stats
from gptlite.speculative import prompt_lookup

text = "First Citizen:\\nWe are accounted poor citizens.\\n\\nFirst Citizen:\\nWe are accounted"
text_ids = gpt.encode_prompt(text)
print("the text ends with", gpt.to_str_tokens(text_ids[-2:]), "-> proposed:",
      gpt.to_str_tokens(prompt_lookup(text_ids, 5, 2)))
"""),
    md("""
Generation with proposals gives exactly the tokens it gives without them: a proposal the model disagrees with
is replaced by the model's own pick, and the rest of that pass's proposals are dropped from the KV cache. What
changes is how many passes it takes:
"""),
    code("""
stats = Stats()
with_lookup = gpt.complete(text, 60, temperature=0, prompt_lookup_num_tokens=5, stats=stats)
assert with_lookup == gpt.complete(text, 60, temperature=0)  # token for token the plain greedy text
print(repr(with_lookup[:120]))
print(stats)
print(f"{stats.accepted} of {stats.proposed} proposals kept: {stats.tokens_per_pass:.2f} tokens a pass instead of 1")
assert stats.tokens_per_pass > 1 and stats.accepted < stats.proposed / 2
assert with_lookup.startswith(" to the people")
"""),
    md("""
Here most proposals fail: the continuation soon leaves the prompt's words ("to the people", not "poor
citizens"), and a proposal copied from the prompt is then wrong. A text whose continuation quotes its prompt
(a summary, an answer about a passage, code being edited) keeps many more. With a seed, sampling with prompt
lookup gives the seeded plain sample itself, since each proposal is checked against the row's own draw; a draft
model (`assistant_model=`) gives the same distribution as plain sampling but other draws (README, "Speculative
decoding").
"""),
    code("""
sampled = gpt.complete(text, 40, seed=3, prompt_lookup_num_tokens=5)
assert sampled == gpt.complete(text, 40, seed=3)  # the seeded plain sample, token for token
print(repr(sampled))
"""),
]
