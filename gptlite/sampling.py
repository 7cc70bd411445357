"""Choosing the next token from logits: greedy, temperature, top-k, top-p, repetition penalty.

The semantics and their order are Hugging Face transformers' (`generation/logits_process.py`):

1. repetition penalty (Keskar et al. 2019, CTRL): every token already in the
   sequence has its logit divided by the penalty if positive, multiplied if negative;
2. temperature: logits / T (T -> 0 is greedy, T > 1 flattens);
3. top-k: keep the k highest logits, and any tied with the k-th;
4. top-p, "nucleus" (Holtzman et al. 2019): keep the smallest set of most likely
   tokens whose probabilities sum to more than p;
5. sample from the softmax of what is left, or take the argmax when T = 0.

Each function works on one row of logits `[n_vocab]` (float32) and returns a new row.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from .model import softmax


def apply_repetition_penalty(logits, history, penalty):
    """Make the tokens in `history` (the ids of the sequence so far) less likely."""
    out = logits.copy()
    ids = np.unique(np.asarray(history, dtype=np.int64))
    picked = out[ids]
    out[ids] = np.where(picked < 0, picked * np.float32(penalty), picked / np.float32(penalty))
    return out


def apply_top_k(logits, k):
    """Keep the k highest logits and any equal to the k-th; the rest become -inf."""
    k = min(k, logits.size)
    kth = np.partition(logits, -k)[-k]
    return np.where(logits < kth, np.float32(-np.inf), logits)


def apply_top_p(logits, p):
    """Keep the most likely tokens until their probability passes p; the rest become -inf."""
    # Ascending, as transformers sorts; among equal logits the lower id counts as more likely
    # (torch.sort leaves the order of ties unspecified).
    order = np.argsort(-logits, kind="stable")[::-1]
    # Summed in float64 and rounded to float32, as torch's cumsum does: a float32 running sum over 50,257
    # probabilities drifts by about 4e-4, enough to move the cut.
    cumulative = np.cumsum(softmax(logits[order]), dtype=np.float64).astype(np.float32)
    drop = cumulative <= np.float32(1 - p)
    drop[-1] = False  # the most likely token always stays
    out = logits.copy()
    out[order[drop]] = -np.inf
    return out


def is_integer(value) -> bool:
    """An int or a NumPy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """An int, a float or a NumPy number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Sampler:
    """How to pick the next token. The defaults give varied but coherent GPT-2 text; temperature=0 is greedy."""

    temperature: float = 0.8
    top_k: int = 40  # 0 = off
    top_p: float = 1.0  # 1 = off
    repetition_penalty: float = 1.0  # 1 = off

    def __post_init__(self):
        if not is_real(self.temperature) or not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {self.temperature!r}")
        if not is_integer(self.top_k) or self.top_k < 0:
            raise ValueError(f"top_k must be an integer >= 0 (0 = off), got {self.top_k!r}")
        if not is_real(self.top_p) or not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not is_real(self.repetition_penalty) or not 0 < self.repetition_penalty < float("inf"):
            raise ValueError(f"repetition_penalty must be > 0 (1 = off), got {self.repetition_penalty!r}")

    def process(self, logits: np.ndarray, history) -> np.ndarray:
        """A row of logits [n_vocab] after steps 1-4: what the next token is drawn from (-inf = excluded)."""
        if self.repetition_penalty != 1:
            logits = apply_repetition_penalty(logits, history, self.repetition_penalty)
        if self.temperature == 0:
            return logits  # greedy takes the argmax; temperature, top-k and top-p cannot change it
        with np.errstate(over="ignore", divide="ignore"):  # overflow is checked just below
            logits = logits / np.float32(self.temperature)
        if not np.isfinite(logits.max()):
            raise ValueError(
                f"temperature={self.temperature} is too small: the logits overflow float32; "
                "use temperature=0 for greedy decoding"
            )
        if self.top_k:
            logits = apply_top_k(logits, self.top_k)
        if self.top_p < 1:
            logits = apply_top_p(logits, self.top_p)
        return logits

    def __call__(self, logits: np.ndarray, history, rng: np.random.Generator) -> int:
        """Pick one token id from a row of logits [n_vocab]; `history` holds the ids of the sequence so far.

        NaN or infinite logits raise ValueError (transformers would fail inside torch.multinomial, or take
        the argmax of a NaN): no token is picked from numbers that mean nothing.
        """
        if not np.isfinite(logits).all():
            raise ValueError("the model's logits are NaN or infinite: its weights are probably corrupt")
        logits = self.process(logits, history)
        if self.temperature == 0:
            return int(np.argmax(logits))
        cdf = np.cumsum(softmax(logits))  # -inf logits have probability 0 and add nothing
        # Inverse-CDF sampling: the first token whose cumulative probability passes u, never one of probability 0.
        return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), logits.size - 1))
