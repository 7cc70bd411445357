"""Speculative decoding: something cheap proposes the next few tokens, the model checks them all in one pass.

Why it pays. A decode step at batch 1 feeds one position, yet reads every weight of the model once: for gpt2
about 500 MB of float32 go through the CPU to produce one row of logits. The arithmetic (two flops a weight)
is small next to that read, so the step is bound by memory bandwidth, not by compute. A pass over k + 1 new
positions reads the same weights once and does k + 1 times the arithmetic, which the idle compute units
absorb: it costs little more than one step (`scripts/benchmark.py --sections speculative` measures the
curve). If k proposed tokens are checked in that pass and most of them are right, several tokens come out
of one read of the weights.

The loop (`decoding.py`) feeds each row its new token followed by its proposals x_1..x_k, gets the target's
logits at all k + 1 positions, and walks along them: at position j it picks (or accepts) a token; while that
token is the proposal x_j it goes on, and at the first that is not, the rest is dropped from the KV cache.
After k accepted proposals the last position gives one more token ("bonus"), so a pass yields 1 to k + 1.

The acceptance rule (Leviathan et al. 2023, "Fast Inference from Transformers via Speculative Decoding",
Section 2.3 and Algorithm 1, analysed in Section 3; Chen et al. 2023, "Accelerating Large Language Model
Decoding with Speculative Sampling", Algorithm 2, the same rule found independently). Let p be the target's
distribution at a place and q the distribution the proposal x was drawn from, both *processed*
(`Sampler.distribution`: temperature, top-k, top-p, min-p, penalties and bans). Accept x with probability
min(1, p(x) / q(x)); otherwise draw the token from norm(max(0, p - q)). Then the token is distributed as p
exactly (Leviathan et al., Appendix A.1):

    P(token = y) = q(y) min(1, p(y)/q(y)) + (1 - sum_x q(x) min(1, p(x)/q(x))) * max(0, p(y) - q(y)) / Z
                 = min(q(y), p(y)) + Z * max(0, p(y) - q(y)) / Z                    with Z = sum_y max(0, p - q)
                 = min(q(y), p(y)) + max(0, p(y) - q(y)) = p(y),

because 1 - sum_x min(q(x), p(x)) = sum_x max(0, p(x) - q(x)) = Z. Each position is conditioned on the tokens
accepted before it, so the whole continuation is distributed as plain sampling's.

Two proposers:
- `PromptLookup` (Saxena 2023, "Prompt lookup decoding"; transformers' PromptLookupCandidateGenerator):
  the longest n-gram (up to max_matching_ngram_size) that ends the text and occurred earlier; propose the
  tokens that followed its first earlier occurrence (transformers' rule: the leftmost match with any
  continuation). It has no q: a proposal is deterministic, i.e. q is one-hot, and the rule becomes "accept
  x with probability p(x), else draw from p without x", the same in distribution as "draw from p and accept
  if it is x". The loop does the latter with the row's own random generator, so a seeded run gives token
  for token what plain decoding gives with that seed, and greedy is plain greedy.
- `Draft`: a smaller GPT with the same vocabulary (transformers' `assistant_model`). Greedy: it proposes
  its own greedy tokens (q one-hot again: exact, token for token). Sampling: it draws x_j from its
  processed distribution q_j, and `Verifying.verify` applies the rule above. Same distribution as plain
  sampling, but different draws: a seeded speculative run repeats exactly, yet is not the seeded plain run.
  How many it proposes follows transformers' "heuristic" schedule: start at num_assistant_tokens (5), +2
  after a pass where every proposal was accepted, -1 (never below 1) otherwise; or "constant".

Expected gain (Leviathan et al., Theorem 3.8): with acceptance rate alpha, k proposals and c = cost of a
draft step / cost of a target step, a pass yields (1 - alpha^(k+1)) / (1 - alpha) tokens for k c + 1 steps'
time: speedup (1 - alpha^(k+1)) / ((1 - alpha)(k c + 1)).
"""

import numpy as np

from . import checks
from .decoding import Sampling, Stats
from .model import attention_mask


def prompt_lookup(history, num_tokens: int, max_ngram: int, eos_token_id=None) -> list[int]:
    """The tokens that followed the first earlier occurrence of the longest n-gram (n <= max_ngram) ending
    `history`, at most num_tokens of them and none from an end token on; [] when nothing matches."""
    ids = np.fromiter(history, np.int64, len(history))  # a list, or a sampling.History
    for n in range(min(max_ngram, len(ids) - 1), 0, -1):
        windows = np.lib.stride_tricks.sliding_window_view(ids[:-1], n)  # [len - n, n]: every n-gram but the last
        starts = np.flatnonzero((windows == ids[-n:]).all(axis=1))  # earlier occurrences, left to right
        if starts.size:
            start = int(starts[0]) + n  # a Python int: num_tokens may be any size (a NumPy int would overflow)
            follow = ids[start : start + num_tokens].tolist()
            return follow[: follow.index(eos_token_id)] if eos_token_id in follow else follow
    return []


class PromptLookup:
    """The propose seam for prompt lookup decoding: propose(history) -> ids (`prompt_lookup`)."""

    def __init__(self, num_tokens: int, max_ngram: int = 2, eos_token_id=None):
        self.num_tokens = checks.count("prompt_lookup_num_tokens", num_tokens, 1)
        self.max_ngram = checks.count("max_matching_ngram_size", max_ngram, 1)
        self.eos_token_id = eos_token_id

    def __call__(self, history) -> list[int]:
        return prompt_lookup(history, self.num_tokens, self.max_ngram, self.eos_token_id)


def draw(probabilities, rng) -> int:
    """A token drawn from probabilities [n_vocab] by the inverse CDF, as `Sampler` draws."""
    cdf = np.cumsum(probabilities, dtype=np.float64)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), cdf.size - 1))


def accept_or_resample(p, q, x: int, rng) -> int:
    """Leviathan et al.'s rule for a proposal x drawn from q: x with probability min(1, p(x) / q(x)), else a token
    from norm(max(0, p - q)) (never x). The result is distributed as p."""
    if rng.random() * q[x] < p[x]:  # u < p(x) / q(x), without dividing
        return x
    residual = np.maximum(p.astype(np.float64) - q, 0)
    residual[x] = 0  # p(x) < q(x) here; rounding must not bring x back
    return draw(residual if residual.sum() > 0 else p, rng)


class Verifying(Sampling):
    """The pick seam for a draft model's samples: Sampling, plus `verify`, which sees each proposal's q."""

    def verify(self, logits, texts, histories, n_new, checked):
        """logits [n_rows, n_vocab]; checked[i]: (proposal, q [n_vocab]) for row i, or None (the bonus token,
        picked as usual) -> (parents, tokens); a token equal to the proposal accepts it."""
        tokens = []
        for row, t, check in zip(logits, texts, checked):
            if check is None:
                tokens.append(self.sampler(row, histories[t], self.rngs[t], n_new[t], self.eos_token_id))
            else:
                p = self.sampler.distribution(row, histories[t], n_new[t], self.eos_token_id)
                tokens.append(accept_or_resample(p, check[1], check[0], self.rngs[t]))
        return np.arange(len(tokens)), np.asarray(tokens, np.int64)


class _DraftRow:
    """One text's state in the draft model: its cache (batch 1) holds text[start : start + len(fed)] = fed."""

    def __init__(self, engine, num_tokens):
        self.cache = engine.new_cache(1, engine.config.n_ctx)
        self.start, self.fed, self.num_tokens = 0, [], num_tokens
        self.at, self.proposed = 0, []  # where in its text the last proposals were made, and what they were


def check_schedule(schedule):
    """Refuse a num_assistant_tokens_schedule other than "heuristic" or "constant" in one line."""
    if not isinstance(schedule, str) or schedule not in ("heuristic", "constant"):
        raise ValueError(f"num_assistant_tokens_schedule must be 'heuristic' or 'constant', got {schedule!r:.60}")


class Draft:
    """The propose seam for a draft model (assisted generation): each row's next tokens from the draft's own KV
    cache, which is rewound to what the target kept before each proposal. Rows run one at a time (batch 1)."""

    def __init__(self, engine, sampler, rngs, eos_token_id=None, n_vocab=None, num_tokens=5, schedule="heuristic"):
        check_schedule(schedule)
        self.engine, self.sampler, self.rngs = engine, sampler, rngs
        self.eos_token_id, self.n_vocab, self.schedule = eos_token_id, n_vocab, schedule
        self.num_tokens = checks.count("num_assistant_tokens", num_tokens, 1)
        self.rows = {}  # text -> _DraftRow
        engine.refresh()

    def propose(self, texts, histories, n_new, n_left):
        """Each row's (proposals, q [n, n_vocab] or None for greedy)."""
        return [self._row(int(t), histories[t], int(n_new[t]), n - 1) if n > 1 else ([], None) for t, n in zip(
            texts, n_left)]  # fmt: skip

    def _row(self, text, history, n_new, most):
        row = self.rows.setdefault(text, _DraftRow(self.engine, self.num_tokens))
        self._schedule(row, history)
        k, n_ctx = min(row.num_tokens, most, self.engine.config.n_ctx // 2), self.engine.config.n_ctx
        if k == 0:  # a draft whose context holds one position has no room for a proposal: a plain step
            return [], None
        if len(history) - row.start + k > n_ctx:  # the draft's window slides too: keep the last half
            row.start, row.fed = len(history) - n_ctx // 2, []
            row.cache.rewind(row.cache.n_past)
        feed = self._rewind(row, history[row.start :])
        tokens, qs = [], []
        for _ in range(k):
            n_past = row.cache.n_past
            ids, positions = np.array([feed], np.int64), np.arange(n_past, n_past + len(feed))[None]
            mask = attention_mask(np.ones((1, n_past + len(feed)), bool), len(feed))
            logits = self.engine.last_logits(ids, positions, mask, row.cache)[0, : self.n_vocab]
            row.fed += feed
            token, q = self._pick(logits, history + tokens, n_new + len(tokens), self.rngs[text])
            tokens.append(token)
            qs.append(q)
            if token == self.eos_token_id:
                break
            feed = [token]
        row.proposed = tokens
        return tokens, None if self.sampler.temperature == 0 else np.array(qs)

    def _schedule(self, row, history):
        """transformers' heuristic: +2 after a pass that accepted every proposal, -1 (to at least 1) otherwise."""
        if row.proposed and self.schedule == "heuristic":
            all_kept = list(history[row.at : row.at + len(row.proposed)]) == row.proposed
            row.num_tokens = row.num_tokens + 2 if all_kept else max(1, row.num_tokens - 1)
        row.at, row.proposed = len(history), []

    @staticmethod
    def _rewind(row, text):
        """Rewind the row's cache to the longest prefix of `text` it holds (one short of all of it: the next pass
        needs a position to read logits from); the tokens still to feed."""
        common = 0
        for a, b in zip(row.fed, text):
            if a != b:
                break
            common += 1
        common = min(common, len(text) - 1)
        row.cache.rewind(len(row.fed) - common)
        row.fed = row.fed[:common]
        return list(text[common:])

    def _pick(self, logits, history, n_new, rng):
        if self.sampler.temperature == 0:
            return self.sampler(logits, history, rng, n_new, self.eos_token_id), None
        q = self.sampler.distribution(logits, history, n_new, self.eos_token_id)
        return draw(q, rng), q


def same_vocabulary(target, draft):
    """Refuse a draft whose vocabulary is not the target's: the same n_vocab, and the same bytes for every token
    when both have a tokenizer."""
    if draft.config.n_vocab != target.config.n_vocab:
        raise ValueError(f"the draft model's vocabulary ({draft.config.n_vocab} tokens) is not the target's "
                         f"({target.config.n_vocab} tokens)")  # fmt: skip
    if target.tokenizer is not None and draft.tokenizer is not None:
        if target.tokenizer.token_bytes != draft.tokenizer.token_bytes:
            raise ValueError("the draft model's tokenizer differs from the target's: the same ids are other tokens")


class Speculation:
    """How a generate, complete, stream or trace call decodes: its Sampler and its speculative options, checked,
    and what they plug into the loop's seams (`seams`).

    prompt_lookup_num_tokens (N > 0: prompt lookup, with max_matching_ngram_size), assistant_model (a draft GPT,
    with num_assistant_tokens and num_assistant_tokens_schedule), stats (a decoding.Stats to fill).
    """

    OPTIONS = ("prompt_lookup_num_tokens", "max_matching_ngram_size", "assistant_model", "num_assistant_tokens",
               "num_assistant_tokens_schedule", "stats")  # fmt: skip

    def __init__(self, sampler, prompt_lookup_num_tokens=None, max_matching_ngram_size=2, assistant_model=None,
                 num_assistant_tokens=5, num_assistant_tokens_schedule="heuristic", stats=None):  # fmt: skip
        if prompt_lookup_num_tokens is not None and assistant_model is not None:
            raise ValueError("give prompt_lookup_num_tokens or assistant_model, not both")
        if prompt_lookup_num_tokens is not None:
            checks.count("prompt_lookup_num_tokens", prompt_lookup_num_tokens, 1)
        # the options of the way not taken are checked too: a bad value is refused whether or not it is used
        checks.count("max_matching_ngram_size", max_matching_ngram_size, 1)
        checks.count("num_assistant_tokens", num_assistant_tokens, 1)
        check_schedule(num_assistant_tokens_schedule)
        if assistant_model is not None and not (
            hasattr(assistant_model, "engine") and hasattr(assistant_model, "config")
        ):
            raise ValueError(f"assistant_model must be a GPT, got {type(assistant_model).__name__}")
        if stats is not None and not isinstance(stats, Stats):
            raise ValueError("stats must be a gptlite.decoding.Stats")
        self.lookup, self.max_ngram = prompt_lookup_num_tokens, max_matching_ngram_size
        self.draft, self.num_tokens = assistant_model, num_assistant_tokens
        self.schedule, self.stats, self.sampler = num_assistant_tokens_schedule, stats, sampler

    @property
    def active(self) -> bool:
        return self.lookup is not None or self.draft is not None

    def seams(self, target, seeds, n_rows, eos_token_id, n_vocab=None):
        """(pick, decode's keyword arguments) for `target` (a GPT), one seed per row."""
        sampler = self.sampler
        seeds = checks.seeds(seeds, n_rows)
        rngs = checks.random_generators(seeds, n_rows)
        loop = {"stats": self.stats} if self.stats is not None else {}
        if self.lookup is not None:
            loop["propose"] = PromptLookup(self.lookup, self.max_ngram, eos_token_id)
        if self.draft is None:
            return Sampling(sampler, rngs, eos_token_id), loop
        same_vocabulary(target, self.draft)
        draft_rngs = [np.random.default_rng(None if s is None else [s, 1]) for s in seeds]  # the draft's own draws
        loop["propose"] = Draft(self.draft.engine, sampler, draft_rngs, eos_token_id, n_vocab, self.num_tokens,
                                self.schedule)  # fmt: skip
        return Verifying(sampler, rngs, eos_token_id), loop


def split(options: dict, make_sampler, num_beams=1) -> Speculation:
    """A call's keyword options -> their Speculation, with make_sampler(the sampling options) as its sampler."""
    sampler = make_sampler(**{k: v for k, v in options.items() if k not in Speculation.OPTIONS})
    speculation = Speculation(sampler, **{k: v for k, v in options.items() if k in Speculation.OPTIONS})
    if num_beams != 1 and speculation.active:
        raise ValueError("speculative decoding (prompt_lookup_num_tokens, assistant_model) does not use beams")
    return speculation
