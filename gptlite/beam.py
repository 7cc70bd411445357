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

from .model import KVCache, attention_mask, log_softmax

DROPPED = np.float32(-1e9)  # what transformers adds to a score to rule it out


@dataclass
class Hypothesis:
    """A finished beam: its new tokens (without <|endoftext|>) and its length-penalised score."""

    ids: list
    score: float


def beam_search(gpt, prompt, max_new_tokens, num_beams, sampler, eos_token_id, length_penalty=1.0,
                early_stopping=False):  # fmt: skip
    """The num_beams best hypotheses for one prompt (a list of ids), best first."""
    if early_stopping not in (True, False, "never"):
        raise ValueError(f'early_stopping must be True, False or "never", got {early_stopping!r}')
    prompt = list(prompt)
    n_prompt = len(prompt)
    if max_new_tokens == 0:
        return [Hypothesis([], 0.0)]
    cache = KVCache(gpt.config, 1, n_prompt + max_new_tokens)
    split = gpt._split_weights()  # the two-thread path, for the passes it runs faster than model.py
    logits = _step(gpt, [prompt], cache, split)  # the prompt once; then its cache rows are copied to every beam
    cache.keep_rows(np.zeros(num_beams, np.int64))
    beams = [[] for _ in range(num_beams)]  # each beam's new tokens
    running = np.full(num_beams, DROPPED, np.float32)
    running[0] = 0  # all beams start as the same text: only the first may choose, or they would all agree
    logits = np.repeat(logits, num_beams, axis=0)
    finished, improvable = [], True  # finished: (score, tokens, ended by eos) of at most num_beams
    for n_new in range(max_new_tokens):
        scores = np.stack([sampler.constrain(row, prompt + beam, n_new, eos_token_id)
                           for row, beam in zip(log_softmax(logits), beams)])  # fmt: skip  # [num_beams, n_vocab]
        scores = (scores + running[:, None]).reshape(-1)  # [num_beams * n_vocab]
        best = np.argsort(-scores, kind="stable")[: 2 * num_beams]
        source, token, total = best // logits.shape[1], best % logits.shape[1], scores[best]
        ends = (token == eos_token_id) | (n_new + 1 == max_new_tokens)
        if not (early_stopping is True and len(finished) == num_beams):  # with True, a full set takes no more
            penalised = total / np.float32((n_new + 1) ** length_penalty)
            new = [(float(penalised[i]), beams[source[i]] + [int(token[i])], bool(token[i] == eos_token_id))
                   for i in range(num_beams) if ends[i]]  # fmt: skip
            finished = sorted(finished + new, key=lambda f: -f[0])[:num_beams]
        going = np.argsort(-(total + ends * DROPPED), kind="stable")[:num_beams]
        beams = [beams[source[i]] + [int(token[i])] for i in going]
        running = (total + ends * DROPPED)[going].astype(np.float32)
        improvable = improvable and _can_improve(running, finished, num_beams, n_prompt + n_new + 1, n_prompt,
                                                 n_prompt + max_new_tokens, early_stopping, length_penalty)  # fmt: skip
        if not improvable or (early_stopping is True and len(finished) == num_beams) or ends.all():
            break
        cache.keep_rows(source[going])
        logits = _step(gpt, [[b[-1]] for b in beams], cache, split)
    return [Hypothesis(tokens[:-1] if by_eos else tokens, score) for score, tokens, by_eos in finished]


def _can_improve(running, finished, num_beams, length, n_prompt, max_length, early_stopping, length_penalty):
    """transformers' early-stop heuristic: whether the best running beam could still beat the worst finished
    hypothesis (always, while fewer than num_beams have finished)."""
    if len(finished) < num_beams:
        return True
    best_length = (max_length if early_stopping == "never" and length_penalty > 0 else length) - n_prompt
    return running[0] / np.float32(best_length**length_penalty) > min(f[0] for f in finished)


def _step(gpt, ids, cache, split=None):
    """Logits [n_rows, n_vocab] for the last of each row's new ids, the rows' earlier ids being in `cache`;
    split: `GPT._split_weights()`, or None for `model.py` alone."""
    ids = np.asarray(ids, np.int64)
    n_past, n_seq = cache.n_past, ids.shape[1]
    real = np.ones((ids.shape[0], n_past + n_seq), bool)
    positions = np.broadcast_to(np.arange(n_past, n_past + n_seq), ids.shape)
    return gpt._last_logits(ids, positions, attention_mask(real, n_seq), cache, split)  # [n_rows, n_vocab]
