"""Measuring a model: how likely it finds a text, perplexity by the published protocols, zero-shot tasks.

Sources: Hugging Face's perplexity guide (transformers `docs/source/en/perplexity.md`); the GPT-2 paper
(Radford et al. 2019, Section 3); LAMBADA (Paperno et al. 2016) as EleutherAI's lm-evaluation-harness
runs it (`lambada_openai`); HellaSwag-style multiple choice (Zellers et al. 2019) as llm.c's
`dev/data/hellaswag.py` scores it.

Everything rests on one quantity, the log-probability of each token given the ones before it:

    log p(t_i | t_<i) = logits[i-1][t_i] - logsumexp(logits[i-1])

* Negative log-likelihood (NLL) is minus their sum; the mean NLL is nats per token; perplexity is
  exp(mean NLL); bits per byte is NLL / ln 2 / (UTF-8 bytes of the text), which, unlike perplexity,
  compares models with different tokenizers.
* The first token has nothing before it. `score` conditions it on `<|endoftext|>`, GPT-2's document
  separator, as TransformerLens does (`prepend_eot=False`: it is not scored, as Hugging Face's guide does).
* A text longer than the context is scored in windows of `context` tokens that move by `stride`: each
  window scores only the tokens that no earlier window scored, with the rest of the window as their
  context. A smaller stride gives every token more context and costs more windows.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from . import checks
from .engine import left_pad
from .model import attention_mask

# ---------------------------------------------------------------- the log-probability of tokens


def window_logprobs(gpt, windows):
    """Score a batch of windows. `windows` is a list of (ids, first): ids [n] of at most n_ctx + 1 tokens, and
    the first position whose *next* token is scored; returns, per window, the log-probabilities [n - 1 - first]
    of ids[first + 1:], float64, and the argmax prediction at each of those positions (for greedy checks).

    Only the scored positions go through the output head, the most expensive matrix of a small model.
    """
    ids, real, positions = left_pad([w[:-1] for w, _ in windows])  # the last token is only ever a target
    n_batch, n_seq = ids.shape
    gpt.engine.refresh()
    cache = gpt.engine.new_cache(n_batch, n_seq)
    x = gpt.engine.hidden_states(ids, positions, attention_mask(real, n_seq), cache)  # [n_batch, n_seq, n_embd]
    out = []
    for row, (w, first) in enumerate(windows):
        pad = n_seq - (len(w) - 1)
        logits = gpt.engine.head(x[row, pad + first :])  # [n_scored, n_vocab]: the positions that predict a target
        targets = np.asarray(w[first + 1 :])
        out.append((target_logprobs(logits, targets), logits.argmax(axis=-1)))
    return out


def target_logprobs(logits, targets, rows=16):
    """log softmax(logits)[target] for each row [n, n_vocab] and its target [n], in float64 (the sum over the
    vocabulary is taken in float64; the logits stay float32). `rows` rows at a time, through one small buffer
    that stays in the CPU's cache: done at once, each step would write hundreds of MB."""
    n = len(targets)
    out = np.empty(n, np.float64)  # [n]
    buffer = np.empty((min(rows, n), logits.shape[1]), np.float32)  # [rows, n_vocab]
    for start in range(0, n, rows):
        chunk = logits[start : start + rows]  # [<= rows, n_vocab]
        top = chunk.max(axis=-1, keepdims=True)  # [<= rows, 1]
        shifted = np.subtract(chunk, top, out=buffer[: len(chunk)])  # the max subtracted: exp never overflows
        target = shifted[np.arange(len(chunk)), targets[start : start + rows]].astype(np.float64)  # [<= rows]
        log_z = np.log(np.exp(shifted, out=shifted).sum(axis=-1, dtype=np.float64))  # [<= rows]
        out[start : start + rows] = target - log_z
    return out


@dataclass
class Score:
    """The log-probability of each scored token, and what follows from them."""

    logprobs: np.ndarray  # [n_scored] float64
    n_bytes: int  # UTF-8 bytes of the scored tokens (0 when the model has no tokenizer)
    targets: np.ndarray = field(repr=False, default=None)  # [n_scored]: the tokens scored

    @property
    def n_tokens(self) -> int:
        return len(self.logprobs)

    @property
    def nll(self) -> float:
        """Negative log-likelihood of the scored tokens, in nats."""
        return -math.fsum(self.logprobs)

    @property
    def mean_nll(self) -> float:
        """Nats per token."""
        return self.nll / self.n_tokens

    @property
    def perplexity(self) -> float:
        return math.exp(self.mean_nll)

    @property
    def bits_per_byte(self) -> float:
        if not self.n_bytes:
            raise ValueError("bits per byte needs the text: this score was made from token ids")
        return self.nll / math.log(2) / self.n_bytes


def check_window(gpt, context, stride):
    """Checked (context, stride): context defaults to n_ctx, stride to half the context (so that every token
    after the first window is scored with at least half a context before it, as the guide does for gpt2)."""
    context = checks.count("context", gpt.config.n_ctx if context is None else context, 2, gpt.config.n_ctx)
    stride = checks.count("stride", max(context // 2, 1) if stride is None else stride, 1, context)  # <= context
    return context, stride


def windows(id_chunks, context, stride):
    """Move windows over a stream of token ids (an iterable of id lists) as Hugging Face's guide moves them
    over a whole text: a window of `context` tokens at every multiple of `stride`, up to the one that reaches
    the end. Yields (ids [<= context], p, n_labelled): the window, the position in it whose next token is
    the first to score (the tokens before were scored by earlier windows), and how many tokens the guide
    labels in it (all it scores, plus its first token when no earlier window came before). Holds at most
    context + one chunk of ids in memory."""
    chunks = iter(id_chunks)
    buffer, offset = np.zeros(0, np.int64), 0  # buffer holds the stream's tokens offset, offset + 1, ...
    begin, previous_end, exhausted = 0, 0, False
    while True:
        while not exhausted and offset + len(buffer) <= begin + context:  # until the window is known in full
            chunk = next(chunks, None)
            if chunk is None:
                exhausted = True
            else:
                buffer = np.concatenate([buffer, np.asarray(chunk, np.int64)])
        n_known = offset + len(buffer)
        end = min(begin + context, n_known)
        first = max(previous_end, begin + 1)  # the first token to score: the first one has nothing before it
        if first < end:
            yield buffer[begin - offset : end - offset], first - begin - 1, end - previous_end
        previous_end = end
        if end == n_known:  # the window reached the end of the stream
            return
        begin += stride
        buffer, offset = buffer[begin - offset :], begin


def scored_windows(gpt, id_chunks, context=None, stride=None, batch_size=1):
    """Yield (log-probabilities of a window's scored tokens, those tokens, the window's labelled count),
    scoring batch_size windows at once."""
    context, stride = check_window(gpt, context, stride)
    batch_size = checks.count("batch_size", batch_size, 1)
    batch = []
    for window in windows(id_chunks, context, stride):
        batch.append(window)
        if len(batch) == batch_size:
            yield from _score_batch(gpt, batch)
            batch = []
    if batch:
        yield from _score_batch(gpt, batch)


def _score_batch(gpt, batch):
    for (ids, p, n_labelled), (logprobs, _) in zip(batch, window_logprobs(gpt, [(ids, p) for ids, p, _ in batch])):
        yield logprobs, ids[p + 1 :], n_labelled


def score_ids(gpt, ids, context=None, stride=None, batch_size=1):
    """(log-probabilities, the scored tokens): every token after the first, each given the tokens before it
    in its window (stride defaults to half the context, so that every token is scored)."""
    ids = checks.token_ids(ids, gpt.config.n_vocab)
    if len(ids) < 2:
        raise ValueError("scoring needs a list of at least two token ids: the first has nothing before it")
    scored = list(scored_windows(gpt, [ids], context, stride, batch_size))
    return np.concatenate([lp for lp, _, _ in scored]), np.concatenate([t for _, t, _ in scored])


def score(gpt, text_or_ids, prepend_eot=True, context=None, stride=None):
    """GPT.score: a text or ids -> Score, the first token conditioned on <|endoftext|> when prepend_eot."""
    if isinstance(text_or_ids, str):
        if gpt.tokenizer is None:
            raise ValueError("this model has no tokenizer files: score token ids instead of text")
        ids = gpt.tokenizer.encode(text_or_ids, allowed_special="all")
    else:
        ids = list(text_or_ids)
    if prepend_eot:
        eot = gpt.tokenizer.eot_token if gpt.tokenizer is not None else None
        if eot is None:
            raise ValueError("this model's vocabulary has no <|endoftext|>: use prepend_eot=False")
        ids = [eot, *ids]
    logprobs, targets = score_ids(gpt, ids, context, stride)
    return Score(logprobs, n_bytes(gpt, targets), targets)


def n_bytes(gpt, ids):
    """UTF-8 bytes the tokens stand for (0 for a model without a tokenizer)."""
    return sum(len(gpt.tokenizer.token_bytes[i]) for i in ids) if gpt.tokenizer is not None else 0


# ---------------------------------------------------------------- perplexity as Hugging Face's guide computes it


@dataclass
class Perplexity:
    """A perplexity measured over windows: the guide's weighting, and the exact one."""

    nll_sum: float = 0.0  # exact: the sum of -log p over every scored token
    n_scored: int = 0
    guide_nll_sum: float = 0.0  # the guide's: each window's mean loss times (its labelled tokens - 1)
    guide_n: int = 0
    n_bytes: int = 0
    windows: int = 0

    def add(self, logprobs, n_labelled, n_bytes):
        """One window: its scored tokens' log-probabilities, how many tokens it labelled, their bytes."""
        self.nll_sum -= math.fsum(logprobs)
        self.n_bytes += n_bytes
        self.n_scored += len(logprobs)
        mean = -math.fsum(logprobs) / len(logprobs)
        self.guide_nll_sum += mean * (n_labelled - 1)
        self.guide_n += n_labelled - 1
        self.windows += 1

    @property
    def perplexity(self) -> float:
        """exp(sum of NLL / tokens scored): every token counts once."""
        return math.exp(self.nll_sum / self.n_scored)

    @property
    def guide_perplexity(self) -> float:
        """The guide's number: it weights each window's mean loss by num_valid_tokens - 1, which is one token
        fewer than the window scored, for every window after the first that overlaps the one before."""
        return math.exp(self.guide_nll_sum / self.guide_n)

    @property
    def bits_per_byte(self) -> float:
        return self.nll_sum / math.log(2) / self.n_bytes if self.n_bytes else float("nan")


def perplexity(gpt, id_chunks, context=None, stride=None, batch_size=1, progress=None):
    """Perplexity of a stream of token ids (an iterable of id lists), the guide's way and the exact way.
    `progress(n)` is told of each window's n scored tokens."""
    result = Perplexity()
    for logprobs, targets, n_labelled in scored_windows(gpt, id_chunks, context, stride, batch_size):
        result.add(logprobs, n_labelled, n_bytes(gpt, targets))
        if progress is not None:
            progress(len(logprobs))
    if result.n_scored == 0:
        raise ValueError("the text has fewer than two tokens: nothing to score")
    return result


# ---------------------------------------------------------------- LAMBADA: the last word of a passage


def last_word(text):
    """A LAMBADA passage -> (context, target word): the target is what follows the last space."""
    if not isinstance(text, str) or " " not in text.strip():
        raise ValueError("a LAMBADA passage must be a text with at least two words")
    context, word = text.rstrip().rsplit(" ", 1)
    return context, word


@dataclass
class Lambada:
    """LAMBADA results, by both published protocols.

    lm-evaluation-harness (`lambada_openai`): the target is " " + the last word; correct when greedy
    decoding reproduces every one of its tokens; perplexity = exp(-mean over passages of the target's
    log-likelihood). The GPT-2 paper: the accuracy of the greedy prediction of the last word, read here as
    the first whitespace-delimited word of a greedy continuation, trailing punctuation ignored.
    """

    loglikelihoods: list = field(default_factory=list)  # per passage: log p(target tokens | context)
    greedy: list = field(default_factory=list)  # per passage: greedy decoding reproduces the target
    paper_correct: list = field(default_factory=list)  # per passage: the greedily predicted word is the target
    n_tokens: int = 0  # target tokens scored

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.greedy))

    @property
    def perplexity(self) -> float:
        return math.exp(-math.fsum(self.loglikelihoods) / len(self.loglikelihoods))

    @property
    def paper_accuracy(self) -> float:
        return float(np.mean(self.paper_correct))


def continuation_window(gpt, context_ids, continuation_ids):
    """(ids, first) for window_logprobs: context then continuation, cut from the left to n_ctx + 1 tokens, as
    lm-evaluation-harness cuts them; the continuation's tokens are the ones scored. A continuation longer than
    the context cannot be scored in one window: it is refused (its first tokens would have no position)."""
    if len(continuation_ids) > gpt.config.n_ctx:
        raise ValueError(
            f"a continuation of {len(continuation_ids)} tokens is longer than the model's context of "
            f"{gpt.config.n_ctx} tokens: it cannot be scored in one window"
        )
    ids = np.asarray([*context_ids, *continuation_ids][-(gpt.config.n_ctx + 1) :], np.int64)
    return ids, len(ids) - len(continuation_ids) - 1


def encode_pair(gpt, context, continuation):
    """Context and continuation ids as lm-evaluation-harness makes them: the whole text encoded at once, the
    continuation being what follows the context's own encoding (whitespace at the context's end moves over)."""
    spaces = len(context) - len(context.rstrip())
    context, continuation = context[: len(context) - spaces], context[len(context) - spaces :] + continuation
    context_ids = gpt.tokenizer.encode(context, allowed_special="all") or [gpt.tokenizer.eot_token]
    whole = gpt.tokenizer.encode(context + continuation, allowed_special="all")
    return context_ids, whole[len(context_ids) :] if context else whole


def lambada(gpt, passages, batch_size=8, progress=None):
    """Score LAMBADA passages (texts); `progress(n)` is told of each batch's n passages."""
    result, batch_size = Lambada(), checks.count("batch_size", batch_size, 1)
    batch = []
    for text in passages:
        batch.append(last_word(text))
        if len(batch) == batch_size:
            _lambada_batch(gpt, batch, result, progress)
            batch = []
    if batch:
        _lambada_batch(gpt, batch, result, progress)
    if not result.greedy:
        raise ValueError("no LAMBADA passages to score")
    return result


def _lambada_batch(gpt, batch, result, progress):
    pairs = [encode_pair(gpt, context, " " + word) for context, word in batch]
    jobs = [continuation_window(gpt, c, t) for c, t in pairs]
    for (_, target), (logprobs, argmax) in zip(pairs, window_logprobs(gpt, jobs)):
        result.loglikelihoods.append(math.fsum(logprobs))
        result.greedy.append(bool(np.array_equal(argmax, target)))
        result.n_tokens += len(target)
    prompts = [c[-(gpt.config.n_ctx - PAPER_WORD_TOKENS) :] for c, _ in pairs]
    continuations = gpt.generate(prompts, PAPER_WORD_TOKENS, temperature=0, eos_token_id=None)
    for (_, word), new in zip(batch, continuations):
        result.paper_correct.append(predicted_word(gpt.tokenizer.decode(new)) == word.rstrip(PUNCTUATION))
    if progress is not None:
        progress(len(batch))


PAPER_WORD_TOKENS = 8  # greedy tokens generated to read the predicted word from
PUNCTUATION = ".,;:!?\"'"


def predicted_word(continuation):
    """The first whitespace-delimited word of a continuation, without trailing punctuation ("" if none)."""
    words = continuation.split()
    return words[0].rstrip(PUNCTUATION) if words else ""


# ---------------------------------------------------------------- multiple choice by completion likelihood


@dataclass
class MultipleChoice:
    """Accuracy of picking the likeliest ending: by its total log-probability (acc) and by its mean
    log-probability per token (acc_norm), as llm.c's HellaSwag evaluation does."""

    predictions: list = field(default_factory=list)
    predictions_norm: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    sums: list = field(default_factory=list)  # per item: each ending's total log-probability
    means: list = field(default_factory=list)  # per item: each ending's mean log-probability per token

    @property
    def accuracy(self) -> float:
        return float(np.mean(np.array(self.predictions) == np.array(self.labels)))

    @property
    def accuracy_norm(self) -> float:
        return float(np.mean(np.array(self.predictions_norm) == np.array(self.labels)))


def check_choice(item):
    """A multiple-choice item: {"context": str, "endings": [str, ...], "label": index of the right ending}."""
    ok = (
        isinstance(item, dict)
        and isinstance(item.get("context"), str)
        and isinstance(item.get("endings"), list)
        and len(item["endings"]) >= 2
        and all(isinstance(e, str) and e for e in item["endings"])
        and checks.is_integer(item.get("label"))
        and 0 <= item["label"] < len(item["endings"])
    )
    if not ok:
        raise ValueError('an item must be {"context": text, "endings": [two or more texts], "label": index}')
    return item


def multiple_choice(gpt, items, progress=None, batch_size=8):
    """Score multiple-choice items; each ending is " " + ending after the context, as in llm.c. An item's
    endings run batch_size at a time."""
    batch_size = checks.count("batch_size", batch_size, 1)
    result = MultipleChoice()
    for item in items:
        item = check_choice(item)
        context_ids = gpt.tokenizer.encode(item["context"], allowed_special="all") or [gpt.tokenizer.eot_token]
        endings = [gpt.tokenizer.encode(" " + ending, allowed_special="all") for ending in item["endings"]]
        jobs = [continuation_window(gpt, context_ids, ending) for ending in endings]
        scores = [
            lp for i in range(0, len(jobs), batch_size) for lp, _ in window_logprobs(gpt, jobs[i : i + batch_size])
        ]
        sums, means = [math.fsum(s) for s in scores], [math.fsum(s) / len(s) for s in scores]
        result.sums.append(sums)
        result.means.append(means)
        result.predictions.append(int(np.argmax(sums)))
        result.predictions_norm.append(int(np.argmax(means)))
        result.labels.append(item["label"])
        if progress is not None:
            progress(1)
    if not result.labels:
        raise ValueError("no multiple-choice items to score")
    return result
