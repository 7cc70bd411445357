"""Beam search: keep the `num_beams` likeliest continuations so far, not just the single likeliest token.

Sources: Hugging Face transformers' `generation/utils.py` (`_beam_search` and its helpers), whose semantics
and scores this follows step for step; the idea goes back to speech recognition (Lowerre 1976) and was
carried into neural translation by Sutskever et al. 2014.

Each step:

1. every beam's next-token log-probabilities, after the same bans and penalties as greedy decoding, are
   added to the beam's running score (the sum of its tokens' log-probabilities);
2. the best 2 x num_beams (beam, token) pairs over all beams are the candidates;
3. a candidate that ends the text (<|endoftext|>, or the length limit) becomes a finished hypothesis,
   scored sum / (generated length ** length_penalty), if it is among the first num_beams candidates: a
   length_penalty above 0 favours longer texts, below 0 shorter ones;
4. the best num_beams candidates that go on are the new beams; each beam's KV cache rows follow it.

It stops when every beam has finished with early_stopping=True; with False, once no running beam can
still beat the worst finished one (transformers' heuristic: it assumes the current length); with "never",
also assuming the longest possible length when length_penalty > 0. The finished hypotheses, best first,
are the answer.
"""

from dataclasses import dataclass

import numpy as np

from .decoding import decode
from .model import log_softmax

DROPPED = np.float32(-1e9)  # what transformers adds to a score to rule it out


@dataclass
class Hypothesis:
    """A finished beam: its new tokens (without <|endoftext|>) and its length-penalised score."""

    ids: list
    score: float


class Beams:
    """The `pick` seam of `decoding.decode` for beam search: from the rows' logits, the num_beams beams that go
    on (which row each continues, with which token), keeping the finished hypotheses; no rows once done."""

    reorders = True

    def __init__(self, num_beams, sampler, eos_token_id, max_new_tokens, n_prompt, length_penalty, early_stopping):
        self.num_beams, self.sampler, self.eos_token_id = num_beams, sampler, eos_token_id
        self.max_new_tokens, self.n_prompt = max_new_tokens, n_prompt
        self.length_penalty, self.early_stopping = length_penalty, early_stopping
        self.running = np.full(num_beams, DROPPED)  # each beam's sum of log-probabilities. All start as the
        self.running[0] = 0  # prompt: only the first may choose, or they would all choose the same
        self.finished = []  # (score, new tokens, ended by eos), best first, at most num_beams
        self.improvable = True  # transformers' heuristic: whether a running beam can still beat the finished

    def __call__(self, logits, texts, histories, n_new):
        """logits [n_beams, n_vocab] -> (parents [num_beams], tokens [num_beams]), or no rows: the search is done."""
        step = int(n_new[0])  # every beam has as many new tokens
        if step == 0:  # the prompt's one row stands for every beam, as in transformers
            logits, texts = np.repeat(logits, self.num_beams, axis=0), np.repeat(texts, self.num_beams)
        scores = np.stack([self.sampler.constrain(row, histories[t], step, self.eos_token_id)
                           for row, t in zip(log_softmax(logits), texts)])  # fmt: skip  # [n_beams, n_vocab]
        scores = (scores + self.running[:, None]).reshape(-1)  # [n_beams * n_vocab]
        best = np.argsort(-scores, kind="stable")[: 2 * self.num_beams]
        source, token, total = best // logits.shape[1], best % logits.shape[1], scores[best]
        ends = (token == self.eos_token_id) | (step + 1 == self.max_new_tokens)
        if not (self.early_stopping is True and len(self.finished) == self.num_beams):  # True: a full set is final
            penalised = total / np.float32((step + 1) ** self.length_penalty)
            new = [(float(penalised[i]), [*histories[texts[source[i]]][self.n_prompt :], int(token[i])],
                    bool(token[i] == self.eos_token_id)) for i in range(self.num_beams) if ends[i]]  # fmt: skip
            self.finished = sorted(self.finished + new, key=lambda f: -f[0])[: self.num_beams]
        going = np.argsort(-(total + ends * DROPPED), kind="stable")[: self.num_beams]
        self.running = (total + ends * DROPPED)[going].astype(np.float32)
        length = self.n_prompt + step + 1
        self.improvable = self.improvable and _can_improve(
            self.running, self.finished, self.num_beams, length, self.n_prompt, self.n_prompt + self.max_new_tokens,
            self.early_stopping, self.length_penalty)  # fmt: skip
        if not self.improvable or (self.early_stopping is True and len(self.finished) == self.num_beams) or ends.all():
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return (source[going] if step else np.zeros(self.num_beams, np.int64)), token[going]  # rows of the cache

    def hypotheses(self):
        """The finished hypotheses, best first."""
        return [Hypothesis(tokens[:-1] if by_eos else tokens, score) for score, tokens, by_eos in self.finished]


def beam_search(engine, prompt, max_new_tokens, num_beams, sampler, eos_token_id, length_penalty=1.0,
                early_stopping=False):  # fmt: skip
    """The num_beams best hypotheses for one prompt (a list of ids), best first."""
    if early_stopping not in (True, False, "never"):
        raise ValueError(f'early_stopping must be True, False or "never", got {early_stopping!r}')
    if max_new_tokens == 0:
        return [Hypothesis([], 0.0)]
    beams = Beams(num_beams, sampler, eos_token_id, max_new_tokens, len(prompt), length_penalty, early_stopping)
    for _ in decode(engine, [list(prompt)], max_new_tokens, beams):
        pass
    return beams.hypotheses()


def _can_improve(running, finished, num_beams, length, n_prompt, max_length, early_stopping, length_penalty):
    """transformers' early-stop heuristic: whether the best running beam could still beat the worst finished
    hypothesis (always, while fewer than num_beams have finished)."""
    if len(finished) < num_beams:
        return True
    best_length = (max_length if early_stopping == "never" and length_penalty > 0 else length) - n_prompt
    return running[0] / np.float32(best_length**length_penalty) > min(f[0] for f in finished)
