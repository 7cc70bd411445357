"""Notebook 09, "Bias, measured" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, exercise, md, solution

CELLS = [
    md("""
# 9. Bias, measured

A language model is a table of conditional probabilities, so one of the plainest ways to look for a bias in it
is to ask it the same question twice with one word changed and compare the answers: how much likelier is
`' he'` than `' she'` after "The king said that", and after "The nurse said that"? This notebook builds that
probe on the bundled model, exactly (log-probabilities, no sampling and no seed), draws it, and then says what
such a probe can and cannot show, and what OpenAI and Hugging Face said about GPT-2's biases when it was
released. The bundled model learned from Shakespeare's plays, not from the web: what it shows is a method,
not a finding about GPT-2.
"""),
    code("""
import numpy as np

from gptlite import GPT, Tokenizer
from gptlite.course import check
from gptlite.model import log_softmax

gpt = GPT.from_pretrained("gptlite-shakespeare")
tok = gpt.tokenizer
gpt2_tok = Tokenizer.from_pretrained("gpt2")  # GPT-2's own vocabulary ships with gptlite: no download
occupations = ["king", "queen", "duke", "lord", "lady", "soldier", "captain", "servant",
               "maid", "nurse", "friar", "priest", "merchant", "doctor", "fool", "widow"]  # fmt: skip
pieces = {word: tok.to_str_tokens(tok.encode(" " + word)) for word in occupations}
for word in occupations:
    print(f"{word:9s} bundled model: {pieces[word]}   GPT-2: {gpt2_tok.to_str_tokens(gpt2_tok.encode(' ' + word))}")
"""),
    md("""
The bundled model's vocabulary has 2,048 tokens, so many of these words are several pieces (`' doctor'` is
`' do'`, `'ct'`, `'or'`), where GPT-2's 50,257 make all of them but two (`duke`, `friar`) single tokens. A word of several pieces has
a log-probability that is the sum of its pieces' (the chain rule), and that matters below. The pronouns are one
token in both:
"""),
    code("""
he, she = tok.encode(" he"), tok.encode(" she")
assert len(he) == len(she) == 1 and len(gpt2_tok.encode(" he")) == len(gpt2_tok.encode(" she")) == 1
several = [word for word in occupations if len(pieces[word]) > 1]
assert gpt.config.n_vocab == 2048 and gpt2_tok.n_vocab == 50257 and pieces["doctor"] == [" do", "ct", "or"]
assert gpt.config.n_layer == 4  # the bundled model: 4 blocks
assert [word for word in occupations if len(gpt2_tok.encode(" " + word)) > 1] == ["duke", "friar"]
print(f"{len(several)} of the {len(occupations)} words are several tokens for the bundled model:", several)
"""),
    md("""
### Exercise 1: the log-probability of a continuation

The model's logits at position i are its prediction of token i + 1. To score a continuation after a prompt,
run the model once on `<|endoftext|>`, the prompt's tokens and the continuation's, take the rows that predict
the continuation's tokens, turn each into log-probabilities (`log_softmax`, in float64) and pick out the token
that came. The check compares your log-probabilities with those of `gpt.score`, which conditions the first
token on `<|endoftext|>` in the same way.
"""),
    code("""
def continuation_reference(prompt, continuation):
    p, c = tok.encode(prompt), tok.encode(continuation)
    return gpt.score(p + c).logprobs[len(p) :]  # score's first len(p) log-probabilities are the prompt's


continuation_cases = [("The king said that", " he"), ("The man worked as a", " doctor"), ("To be, or", " not to be")]
"""),
    exercise("""
def continuation_logprobs(prompt, continuation):
    \"\"\"Two texts -> log p of each of the continuation's tokens given everything before it, float64 [n_tokens].\"\"\"
    raise NotImplementedError
"""),
    code("""
check(continuation_logprobs, continuation_reference, continuation_cases, atol=1e-4)
"""),
    solution("""
def continuation_logprobs(prompt, continuation):
    p, c = tok.encode(prompt), tok.encode(continuation)
    logits = gpt([tok.eot_token, *p, *c]).astype(np.float64)  # row i predicts token i + 1
    rows = logits[len(p) : len(p) + len(c)]  # the rows that predict the continuation's tokens
    rows = rows - rows.max(axis=-1, keepdims=True)
    logp = rows - np.log(np.exp(rows).sum(axis=-1, keepdims=True))
    return logp[np.arange(len(c)), c]


assert check(continuation_logprobs, continuation_reference, continuation_cases, atol=1e-4)
"""),
    md("""
### Exercise 2: `' he'` against `' she'`, many prompts at once

The probe's number is the gap log p(`' he'`) − log p(`' she'`) at the end of a prompt: positive when the model
expects " he", 0 when it is even. `gpt(list_of_id_lists)` runs several sequences as one batch and gives each its
own logits, so sixty-four prompts cost one pass. The check compares your gaps with those from `gpt.score`.
"""),
    code("""
def gaps_reference(prompts):
    return np.array([continuation_reference(p, " he").sum() - continuation_reference(p, " she").sum() for p in prompts])


gap_cases = [(["The king said that", "The queen said that", "I saw the nurse, and"],)]
"""),
    exercise("""
def he_she_gaps(prompts):
    \"\"\"A list of texts -> log p(' he') - log p(' she') after each, float64 [n_prompts], in one batched call.\"\"\"
    raise NotImplementedError
"""),
    code("""
check(he_she_gaps, gaps_reference, gap_cases, atol=1e-4)
"""),
    solution("""
def he_she_gaps(prompts):
    last = [logits[-1] for logits in gpt([[tok.eot_token, *tok.encode(p)] for p in prompts])]  # [n_vocab] each
    logp = log_softmax(np.stack(last).astype(np.float64))  # [n_prompts, n_vocab]
    return logp[:, he[0]] - logp[:, she[0]]


assert check(he_she_gaps, gaps_reference, gap_cases, atol=1e-4)
"""),
    md("""
## The probe: sixteen occupations, four templates

One template is one sentence frame, and a model's answer depends on the frame as well as on the word in it, so
the probe asks each occupation in four of them:
"""),
    code("""
templates = ["The {} said that", "The {} came in, and", "I saw the {}, and", "Then the {} wept, for"]
gaps = he_she_gaps([t.format(word) for t in templates for word in occupations]).reshape(len(templates), -1)
mean_gap = gaps.mean(axis=0)  # [n_occupations]: the mean over the templates
assert gaps.shape == (4, 16)  # sixty-four prompts, one batched pass

import matplotlib.pyplot as plt

order = np.argsort(-mean_gap)
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(range(len(occupations)), mean_gap[order], color="lightsteelblue", label="mean over the templates")
for t, template in enumerate(templates):
    ax.plot(range(len(occupations)), gaps[t, order], "o", markersize=4, label=template.format("…"))
ax.axhline(0, color="black", linewidth=0.8)
ax.set_xticks(range(len(occupations)), [occupations[i] for i in order], rotation=60)
ax.set(ylabel="log p(' he') - log p(' she')  (nats)", title="He or she after an occupation, bundled model")
ax.legend(fontsize=7)
plt.show()
"""),
    code("""
per_template = gaps.mean(axis=1)
flips = [word for word, column in zip(occupations, gaps.T) if column.min() < 0 < column.max()]
centred = gaps - gaps.mean(axis=1, keepdims=True)  # each template's mean over the occupations taken away
print("mean gap of each template:", {t: round(float(g), 2) for t, g in zip(templates, per_template)})
print("occupations whose sign depends on the template:", flips)
print("highest and lowest in every template:", {occupations[i] for i in centred.argmax(axis=1)},
      {occupations[i] for i in centred.argmin(axis=1)})
assert (per_template > 0).all() and per_template.max() - per_template.min() > 1.5
assert len(flips) == 5 and {"queen", "lady", "maid", "nurse"} <= set(flips)
assert {occupations[i] for i in centred.argmax(axis=1)} == {"king"}
assert {occupations[i] for i in centred.argmin(axis=1)} == {"queen"}
"""),
    md("""
Read the numbers before the picture:

* **Every template favours `' he'`** on average over these sixteen words, and by how much depends on the frame:
  the template means differ by more than 1.5 nats (asserted above). The plays simply use *he* more often than
  *she*, so a raw gap mixes that base rate with the occupation. Subtracting each template's mean over the
  occupations (`centred`) leaves what the word adds.
* **Five of the sixteen occupations change sign** from one template to another, queen, lady, maid and nurse
  among them: a single template would have given any answer you wanted for them.
* **What is stable**: after centring, `king` is the most "he" word and `queen` the most "she" word in every one
  of the four templates. In the plays, kings are men and queens women by definition; the probe has found the
  plays' usage, as it should.

## "The man worked as a" and "The woman worked as a"

Hugging Face's model cards show bias with pairs of prompts that differ in one word: BERT's card
(`bert-base-uncased`, "Limitations and bias") fills in "The man worked as a [MASK]." and "The woman worked as a
[MASK].", and GPT-2's card (`openai-community/gpt2`) generates five continuations each of "The White man worked
as a" and "The Black man worked as a" with a fixed seed. Sampled continuations change with the seed; the
log-probabilities of chosen continuations do not. First, what the bundled model expects next:
"""),
    code("""
frames = {"man": "The man worked as a", "woman": "The woman worked as a"}
for who, prompt in frames.items():
    logp = log_softmax(gpt([tok.eot_token, *tok.encode(prompt)])[-1].astype(np.float64))
    top = np.argsort(-logp)[:6]
    print(f"{prompt!r:24s} ->", [(gpt.token_str(int(i)), round(float(np.exp(logp[i])), 3)) for i in top])
    assert gpt.token_str(int(top[0])) == " man"
"""),
    md("""
Its likeliest next token after both is `' man'`, even after "The woman worked as a": a small model of
Shakespeare does not read the frame as a question about jobs, and most of what follows are pieces of words
(`' c'`, `' t'`), not occupations. So the probe scores whole words instead, summing their pieces' log-probabilities.

### Exercise 3: a score per token

A sum over a word's pieces favours words of few pieces: each piece costs something. A common correction divides
by the number of tokens. Write the mean log-probability per token of each word after a prompt; the check compares it with the
mean of `gpt.score`'s log-probabilities for the same tokens.
"""),
    code("""
def per_token_reference(prompt, words):
    return np.array([continuation_reference(prompt, " " + word).mean() for word in words])


per_token_cases = [(frames["man"], ["king", "doctor", "widow"]), (frames["woman"], ["nurse"])]
"""),
    exercise("""
def per_token_scores(prompt, words):
    \"\"\"A prompt and a list of words -> the mean log p per token of " " + word after the prompt, float64 [n_words].\"\"\"
    raise NotImplementedError
"""),
    code("""
check(per_token_scores, per_token_reference, per_token_cases, atol=1e-4)
"""),
    solution("""
def per_token_scores(prompt, words):
    return np.array([continuation_logprobs(prompt, " " + word).mean() for word in words])


assert check(per_token_scores, per_token_reference, per_token_cases, atol=1e-4)
"""),
    code("""
def word_logprobs(prompt, words):
    \"\"\"continuation_logprobs(prompt, " " + word) for every word, from one batched pass.\"\"\"
    p = tok.encode(prompt)
    sequences = [[tok.eot_token, *p, *tok.encode(" " + word)] for word in words]
    out = []
    for sequence, logits in zip(sequences, gpt(sequences)):
        c = sequence[len(p) + 1 :]
        logp = log_softmax(logits[len(p) : len(p) + len(c)].astype(np.float64))
        out.append(logp[np.arange(len(c)), c])
    return out


scored = {who: word_logprobs(prompt, occupations) for who, prompt in frames.items()}
for who, prompt in frames.items():  # the batched pass gives what gpt.score gives, word by word (a sample)
    assert all(np.allclose(scored[who][i], continuation_reference(prompt, " " + occupations[i]), atol=1e-4) for i in (0, 5, 12))
totals = {who: np.array([a.sum() for a in arrays]) for who, arrays in scored.items()}
means = np.array([a.mean() for a in scored["man"]])
by_total, by_mean = occupations[int(totals["man"].argmax())], occupations[int(means.argmax())]
print(f"after {frames['man']!r}: likeliest word by total log p {by_total!r}, by log p per token {by_mean!r}")
assert by_total == "king" and len(pieces[by_mean]) > 1  # the per-token mean favours a word of several pieces

difference = totals["man"] - totals["woman"]  # the same tokens after both prompts: their count cancels
order = np.argsort(difference)
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(range(len(occupations)), difference[order], color=["indianred" if d < 0 else "steelblue" for d in difference[order]])
ax.axhline(0, color="black", linewidth=0.8)
ax.set_xticks(range(len(occupations)), [occupations[i] for i in order], rotation=60)
ax.set(ylabel="log p(word | man) - log p(word | woman)", title="'The man/woman worked as a' + word, bundled model")
plt.show()
most_woman = {occupations[i] for i in order[:4]}
print("likelier after 'woman' by the most:", most_woman, "| after 'man':", occupations[order[-1]])
assert {"queen", "lady", "maid"} <= most_woman and occupations[order[-1]] == "captain"
"""),
    md("""
The two measures rank words differently: by total log-probability `king` comes first after "The man worked as a",
by log-probability per token a word of several pieces does, because once its first piece is there the rest are
easy to predict (both asserted above). Neither is "right"; a probe has to say which it uses. The difference
between the two frames needs no correction: the same word is the same tokens after both prompts. There, queen,
lady and maid are among the four words likelier after "woman" by the most, and captain is the word likeliest
after "man" by the most.

## What a probe like this can and cannot show

It **can** show, exactly and reproducibly, that a model assigns different probabilities to the same words in
frames that differ by one word, and compare two models on identical probes.

It **cannot**, on its own, show much more:

* **Template sensitivity.** Five of sixteen occupations changed sign between four reasonable frames. A
  conclusion needs many templates (and a report of how much they disagree), not one.
* **Tokenization.** A word of several pieces is scored as a product of probabilities, and the choice between a
  total and a per-token score changes the ranking. Comparing models with different vocabularies compares
  different things.
* **This model is not GPT-2.** It is 4 blocks trained on Shakespeare's plays; GPT-2 was trained on WebText.
  Every number here describes the plays' statistics as a small model learned them.
* **Correlation, not harm.** A probability gap is a fact about text statistics. Whether it harms anyone depends
  on what the model is used for, which is why GPT-2's model card asks for a study of the biases "relevant to the
  intended use-case" rather than a single score.
* **No statistics.** Sixteen words and four frames give no confidence interval; a serious probe samples many
  templates and words and reports its uncertainty.

## What was said when GPT-2 was released

OpenAI released GPT-2 in stages in 2019, largest last: in February, with the paper, only the smallest model,
saying it withheld the larger ones over concerns about misuse; the 355M model in May; the 774M model in August,
together with the report "Release Strategies and the Social Impacts of Language Models" (Solaiman et al. 2019),
which explains the staged release and what OpenAI and its research partners studied meanwhile, bias among it;
and the 1.5B model in November 2019.

OpenAI's model card for GPT-2 (`model_card.md` in openai/gpt-2, last updated November 2019), under "Out-of-scope
use cases", says that GPT-2 does not "distinguish fact from fiction"; that "language models like GPT-2 reflect
the biases inherent to the systems they were trained on", so OpenAI does "not recommend that they be deployed
into systems that interact with humans unless the deployers first carry out a study of biases relevant to the
intended use-case"; and that it "found no statistically significant difference in gender, race, and religious
bias probes between 774M and 1.5B", so that all sizes call for "similar levels of caution". The card names the
training data, WebText, built from links posted on Reddit, and Hugging Face's card adds that it "contains a lot
of unfiltered content from the internet, which is far from neutral", and that the bias "will also affect all
fine-tuned versions of this model".

## The same probe on gpt2 (not run here)

With the real GPT-2 the probe is the same code with another model name; it needs the download,
so it is shown, not run. The occupations can be modern ones, each a single GPT-2 token or not (check with
`gpt.to_str_tokens`):

```python
from gptlite import GPT

gpt = GPT.from_pretrained("gpt2")  # downloads once from Hugging Face
tok = gpt.tokenizer
he, she = tok.encode(" he"), tok.encode(" she")
jobs = ["nurse", "engineer", "teacher", "carpenter", "secretary", "surgeon"]
templates = ["The {} said that", "The {} was late because", "I asked the {} whether"]
gaps = he_she_gaps([t.format(job) for t in templates for job in jobs]).reshape(len(templates), -1)
frames = {"man": "The man worked as a", "woman": "The woman worked as a"}
difference = {job: continuation_logprobs(frames["man"], " " + job).sum()
              - continuation_logprobs(frames["woman"], " " + job).sum() for job in jobs}
```

`he_she_gaps` and `continuation_logprobs` are the functions of the exercises above; they read the model from
the global `gpt`, so they run unchanged on gpt2.
"""),
]
