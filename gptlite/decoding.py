"""One decode loop for every way gptlite generates: sampled or greedy, in batches, with beams, traced, or turn by
turn in a conversation.

Generation is autoregressive (Radford et al. 2019 sample with the same loop: openai/gpt-2 `src/sample.py`):
run the prompt through the model once ("prefill"), pick a token from the last position's logits, feed just
that token back in, and repeat. The KV cache keeps every layer's keys and values, so each pass costs only
its new positions. In every pass the loop feeds each row what its text has beyond what the cache holds:
the whole prompt in the first pass, the token just picked in the others, a new turn's text in a
conversation. Rows given different numbers of tokens are padded on the left, and padding is masked out
of attention (`model.attention_mask`), so every row comes out as it would alone.

What varies between the callers plugs into four seams:

    pick      how the next token of each row is chosen from its logits [n_rows, n_vocab]: `Sampling` (the
              sampler, greedy or drawn, one random generator per row) or beam search's `beam.Beams`. It
              returns the new rows as (parents, tokens): row i of the next pass continues row parents[i] with
              tokens[i], so beams can reorder and repeat rows and the cache follows them.
    propose   tokens to check in the same pass as the next one; none by default. The pass then runs over the
              row's new token and its proposals, with logits at every one of those positions; a proposal is
              kept while it is what `pick` picks at its place, and the first one that is not is replaced by
              what `pick` picked there. The output is therefore token for token what it would be without
              proposals (speculative decoding plugs in here); what was not kept is masked out of the cache.
              A proposer may also give the distribution q each proposal was drawn from: `pick.verify` then
              decides, seeing q (`speculative.py`: Leviathan et al. 2023's rule for a draft model's samples).
    observe   told of each token kept, with the logits it was picked from (`GPT.trace`).
    stop      a row ends at its end token (not kept), after max_new_tokens, or when the caller adds it to
              `stopped` between passes (stop strings); past the context the window slides.

Sliding past the context: when the next pass would not fit in n_ctx positions, the first half of the
context is dropped and the KV cache recomputed for the second half (one prefill of n_ctx / 2 tokens every
n_ctx / 2 new tokens: cheap next to decoding them one by one); the positions restart at 0, as in a fresh
text. A batch slides all its rows at once, when the longest fills the context: from then on a shorter row
can differ from what it would give alone. Rows that accept different numbers of proposals advance unevenly, and
would reach that slide at other tokens than without proposals; so a batch that may pass the context (its longest
text and max_new_tokens more do not fit) decodes without them, and gives the same tokens. One row slides at the
same token either way, and keeps its proposals.
"""

import numpy as np

from . import checks
from .model import attention_mask
from .sampling import History


class Window:
    """The texts in the KV cache: which text each cache row holds, from where, and which positions are real.

    texts [n_rows]: each row's text (an index into the histories); start [n_rows]: where in its text the window
    begins; real [n_rows, max_len]: False at padding and at proposals not kept, over the cache's room. The
    cache holds real tokens text[start : start + covered], covered = the real positions among its n_past.
    """

    def __init__(self, engine, histories, texts, room, keep=None):
        self.reset(engine, histories, texts, room, keep)

    def reset(self, engine, histories, texts, room, keep=None):
        """Start afresh over the last `keep` tokens of each text (default: all), with room for `room` more
        positions, as far as the context allows; the cache is empty."""
        self.texts = np.asarray(texts, np.int64)
        self.start = np.array([max(len(histories[t]) - (keep or len(histories[t])), 0) for t in texts], np.int64)
        longest = self.longest(histories)
        max_len = max(min(longest + room, engine.config.n_ctx), longest)
        self.real = np.zeros((len(texts), max_len), bool)
        self.cache = engine.new_cache(len(texts), max_len)

    def longest(self, histories) -> int:
        """The most tokens a row's text has from where its window begins."""
        return max(len(histories[t]) - s for t, s in zip(self.texts, self.start))

    @property
    def covered(self) -> np.ndarray:
        """Real tokens each row's cache holds: [n_rows]."""
        return self.real[:, : self.cache.n_past].sum(axis=1)

    def pending(self, histories):
        """Each row's tokens that the cache does not hold yet: what the next pass feeds."""
        return [histories[t][s + c :] for t, s, c in zip(self.texts, self.start, self.covered)]

    def fits(self, feeds) -> bool:
        return self.cache.n_past + max(len(f) for f in feeds) <= self.real.shape[1]

    def inputs(self, feeds):
        """(ids, positions, mask) for a pass feeding each row its list of tokens, left-padded to the longest;
        marks the new positions real in `real` (they count only once the cache holds them)."""
        n_past, n_feed = self.cache.n_past, max(len(f) for f in feeds)
        ids = np.zeros((len(feeds), n_feed), np.int64)  # [n_rows, n_feed]
        self.real[:, n_past : n_past + n_feed] = False
        for row, feed in enumerate(feeds):
            ids[row, n_feed - len(feed) :] = feed
            self.real[row, n_past + n_feed - len(feed) : n_past + n_feed] = True
        real = self.real[:, : n_past + n_feed]  # [n_rows, n_kv]
        positions = np.maximum(np.cumsum(real, axis=1)[:, n_past:] - 1, 0)  # each row counts its real tokens
        return ids, positions, attention_mask(real, n_feed)

    def compact(self):
        """Squeeze out the positions that are not real (padding, proposals not kept): each row's real tokens move
        to the end of the cache, as a left-padded batch has them, and the cache holds no more positions than the
        row with the most real tokens needs."""
        keep = self.real[:, : self.cache.n_past]  # [n_rows, n_past]
        kept = keep.sum(axis=1)
        self.cache.keep_positions(keep)
        self.real[:] = False
        for row, n in enumerate(kept):
            self.real[row, self.cache.n_past - n : self.cache.n_past] = True

    def keep_rows(self, rows):
        """Keep (and repeat, or reorder) these rows, the cache with them."""
        rows = np.asarray(rows, np.int64)
        self.texts, self.start, self.real = self.texts[rows], self.start[rows], self.real[rows]
        self.cache.keep_rows(rows)


class Stats:
    """What the propose seam achieved, which `decode` fills as it goes: target passes (the prefill counts), tokens
    proposed, proposals kept (`pick` agreed), tokens kept (what the loop yielded), and row passes (each pass
    counted once for every row that kept a token in it): tokens_per_pass is a row's tokens per target pass."""

    def __init__(self):
        self.passes = self.proposed = self.accepted = self.tokens = self.row_passes = 0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.proposed if self.proposed else 0.0

    @property
    def tokens_per_pass(self) -> float:
        return self.tokens / self.row_passes if self.row_passes else 0.0

    def __repr__(self):
        return (f"Stats({self.passes} passes, {self.tokens} tokens, {self.tokens_per_pass:.2f} a pass; {self.proposed}"
                f" proposed, {self.accepted} accepted: {100 * self.acceptance_rate:.1f}%)")  # fmt: skip


class Sampling:
    """The `pick` seam for sampling and greedy decoding: each row through the Sampler with its text's own
    random generator. Rows are never reordered."""

    reorders = False

    def __init__(self, sampler, rngs, eos_token_id=None):
        self.sampler, self.rngs, self.eos_token_id = sampler, rngs, eos_token_id

    def __call__(self, logits, texts, histories, n_new):
        """logits [n_rows, n_vocab] -> (parents [n_rows], tokens [n_rows]); histories and n_new by text."""
        tokens = [self.sampler(row, histories[t], self.rngs[t], n_new[t], self.eos_token_id) for row, t in zip(
            logits, texts)]  # fmt: skip
        return np.arange(len(tokens)), np.asarray(tokens, np.int64)


def decode(engine, prompts, max_new_tokens, pick, *, eos_token_id=None, n_vocab=None, stopped=None, observe=None,
           on_slide=None, propose=None, window=None, stats=None):  # fmt: skip
    """Continue each prompt (a list of ids) by up to max_new_tokens. Yields after each pass [(text, token), ...]:
    the tokens kept, for the texts still going (a text is an index into `prompts`; with beams, a beam).

    pick(logits, texts, histories, n_new) -> (parents, tokens) is the pick seam (see the module's docstring);
    eos_token_id ends a row; only ids below n_vocab (default: all) are picked; `stopped` (a set) is where the
    caller ends rows between passes; observe(text, logits, token) sees each token kept; on_slide() is called
    at each slide; propose(history) -> list of ids is the propose seam, or an object whose propose(texts,
    histories, n_new, n_left) gives each row's (ids, q [len(ids), n_vocab] or None). `window`: a conversation's
    Window, whose cache already holds the start of each text; it is updated in place (by default a fresh one).
    `stats`: a Stats to fill.
    """
    stopped = set() if stopped is None else stopped
    histories = [History(p) for p in prompts]  # each text's ids so far (the caller's lists are not touched)
    n_new = np.zeros(len(histories), np.int64)
    if max_new_tokens == 0 or not histories:
        return
    engine.refresh()
    if window is None:
        window = Window(engine, histories, range(len(histories)), max_new_tokens)
    if len(window.texts) > 1 and window.longest(histories) + max_new_tokens > engine.config.n_ctx:
        propose = None  # a batch that may slide does without proposals (see the module's docstring on sliding)
    while True:
        proposals, qs = _proposals(propose, window.texts, histories, n_new, max_new_tokens, stopped)
        feeds = [f + p for f, p in zip(window.pending(histories), proposals)]
        if not window.fits(feeds):  # first squeeze out what is not real (proposals not kept, finished rows)
            window.compact()
        if not window.fits(feeds):  # then do without proposals; and when the window is full, slide it
            proposals, qs, feeds = [[] for _ in feeds], [None] * len(feeds), window.pending(histories)
            if not window.fits(feeds):
                room = max_new_tokens - int(n_new[window.texts].min())
                window.reset(engine, histories, window.texts, room, keep=engine.config.n_ctx // 2)
                feeds = window.pending(histories)
                if on_slide is not None:
                    on_slide()
        ids, positions, mask = window.inputs(feeds)
        if any(proposals):  # logits at every new position: [n_rows, n_feed, n_vocab]
            logits = engine.logits(ids, positions, mask, window.cache)[..., :n_vocab]
        else:  # the shortcut: each row's last position, [n_rows, 1, n_vocab]
            logits = engine.last_logits(ids, positions, mask, window.cache)[:, None, :n_vocab]
        if pick.reorders:  # beams: each new row continues one of the rows
            parents, tokens = pick(logits[:, -1], window.texts, histories, n_new)
            if len(parents) == 0:
                return
            histories = [histories[t] + [int(token)] for t, token in zip(window.texts[parents], tokens)]  # lists
            window.keep_rows(parents)
            window.texts, n_new = np.arange(len(parents)), np.full(len(parents), n_new[0] + 1)
            yield [(row, int(token)) for row, token in enumerate(tokens)]
            continue
        step = []
        verified = _verify(window, logits, proposals, qs, pick, histories, n_new)
        for row, picked in enumerate(verified):
            t = int(window.texts[row])
            for token, logits_row in picked:
                if t in stopped or n_new[t] == max_new_tokens:
                    break
                if token == eos_token_id:
                    stopped.add(t)
                    break
                histories[t].append(token)
                n_new[t] += 1
                step.append((t, token))
                if observe is not None:
                    observe(t, logits_row, token)
        if stats is not None:
            _count(stats, proposals, verified, step)
        yield step
        going = [row for row, t in enumerate(window.texts) if t not in stopped and n_new[t] < max_new_tokens]
        if not going:
            return
        if 2 * len(going) <= len(window.texts):  # drop finished rows when it halves the batch
            window.keep_rows(going)


def _proposals(propose, texts, histories, n_new, max_new_tokens, stopped):
    """Each row's proposals and the q they were drawn from (None: not drawn, or no q): at most n_left - 1 of them,
    so that the token picked after them still counts; none for a finished row."""
    n_left = [0 if t in stopped else max_new_tokens - int(n_new[t]) for t in texts]
    if propose is None or max(n_left) < 2:
        return [[] for _ in texts], [None] * len(texts)
    if not hasattr(propose, "propose"):  # a function of one row's history
        return [[int(x) for x in propose(histories[t])][: n - 1] if n > 1 else [] for t, n in zip(texts, n_left)], [
            None] * len(texts)  # fmt: skip
    proposed = propose.propose(texts, histories, n_new, n_left)
    proposals = [[int(x) for x in ids][: max(n - 1, 0)] for (ids, _), n in zip(proposed, n_left)]
    return proposals, [None if q is None else q[: len(p)] for (_, q), p in zip(proposed, proposals)]


def _count(stats, proposals, verified, step):
    """Add one pass to the stats: the proposals checked, those `pick` agreed with, the tokens kept."""
    stats.passes += 1
    stats.proposed += sum(map(len, proposals))
    stats.accepted += sum(min(len(kept) - 1, len(p)) for kept, p in zip(verified, proposals))
    stats.tokens += len(step)
    stats.row_passes += len({t for t, _ in step})


def _verify(window, logits, proposals, qs, pick, histories, n_new):
    """Per row, the [(token, logits [n_vocab])] a pass gives: the proposals that `pick` agrees with, each checked
    at its own position with the tokens kept before it in its history, then `pick`'s own token after them.
    The proposals after the first one it disagrees with were fed but are not kept: they are masked out.
    Proposals with their q go to pick.verify, which sees the proposal and q; the others to pick itself."""
    n_feed = logits.shape[1]
    kept = [[] for _ in proposals]
    checking = list(range(len(proposals)))  # rows whose proposals all agreed so far
    for j in range(n_feed):
        rows = [r for r in checking if j <= len(proposals[r])]
        if not rows:
            break
        columns = [n_feed - 1 - len(proposals[r]) + j for r in rows]  # where row r's j-th check is read
        texts = window.texts[rows]
        so_far = {t: histories[t] + [token for token, _ in kept[r]] if kept[r] else histories[t] for t, r in zip(
            texts, rows)}  # fmt: skip
        counts = {t: n_new[t] + len(kept[r]) for t, r in zip(texts, rows)}
        checked = [(proposals[r][j], qs[r][j]) if qs[r] is not None and j < len(proposals[r]) else None for r in rows]
        if any(checked):
            _, tokens = pick.verify(logits[rows, columns], texts, so_far, counts, checked)
        else:
            _, tokens = pick(logits[rows, columns], texts, so_far, counts)
        checking = []
        for r, column, token in zip(rows, columns, tokens):
            kept[r].append((int(token), logits[r, column]))
            if j < len(proposals[r]) and token == proposals[r][j]:
                checking.append(r)
            else:
                n_past = window.cache.n_past
                window.real[r, n_past - len(proposals[r]) + j : n_past] = False
    return kept


def copies(engine, prompts, seed, n, sampler, max_new_tokens):
    """Each prompt n times, and the seed of each copy: copy j of a prompt seeded s samples with s + j. A batch
    that would not fit in memory is refused first (engine.check_memory)."""
    n = checks.count("num_return_sequences", n, 1)
    if n > 1 and sampler.temperature == 0:
        raise ValueError("greedy decoding gives one sequence: sample (temperature > 0) or use num_beams")
    longest = max(map(len, prompts), default=0)
    max_len = min(longest + max_new_tokens, engine.config.n_ctx)
    engine.check_memory(len(prompts) * n, max_len, longest, f"a batch of {len(prompts) * n} sequences")
    copy_seeds = [None if s is None else s + j for s in checks.seeds(seed, len(prompts)) for j in range(n)]
    return [p for p in prompts for _ in range(n)], copy_seeds


def regroup(results, n):
    """One result per copy -> one per prompt, or a list of n per prompt when n > 1."""
    return results if n == 1 else [results[i : i + n] for i in range(0, len(results), n)]
