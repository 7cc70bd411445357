"""Choosing the next token from logits: greedy, temperature, top-k, top-p, min-p, penalties and bans.

The semantics and their order are Hugging Face transformers' (`generation/logits_process.py` and the
order `generation/utils.py` builds them in):

1. logit bias: a fixed amount added to chosen tokens' logits;
2. repetition penalty (Keskar et al. 2019, CTRL): every token already in the
   sequence has its logit divided by the penalty if positive, multiplied if negative;
3. no repeated n-grams: a token that would complete an n-gram already in the
   sequence is banned (Paulus et al. 2017);
4. bad words: tokens (or the last token of token sequences) that may never come;
5. min_new_tokens: <|endoftext|> is banned until that many tokens are out;
6. temperature: logits / T (T -> 0 is greedy, T > 1 flattens);
7. top-k: keep the k highest logits, and any tied with the k-th;
8. top-p, "nucleus" (Holtzman et al. 2019): keep the smallest set of most likely
   tokens whose probabilities sum to more than p;
9. min-p (Nguyen et al. 2024, llama.cpp's default): drop tokens less likely than
   min_p times the likeliest one;
10. sample from the softmax of what is left, or take the argmax when T = 0.

Steps 1-5 also apply to greedy decoding and to beam search; steps 6-9 shape sampling only.

Each function works on one row of logits `[n_vocab]` (float32) and returns a new row.
"""

from dataclasses import dataclass

import numpy as np

from .checks import is_integer, is_real
from .model import softmax


def apply_repetition_penalty(logits, history, penalty):
    """Make the tokens in `history` (the ids of the sequence so far) less likely."""
    return penalize(logits, np.unique(np.asarray(history, dtype=np.int64)), penalty)


def penalize(logits, ids, penalty):
    """The repetition penalty on the tokens `ids` (each once): positive logits divided by it, negative multiplied."""
    out = logits.copy()
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
    # Only tokens still possible take part: the rest have probability 0, so they would be dropped anyway, and
    # after top-k there are k of them, not 50,257 to sort. Ascending, as transformers sorts; among equal logits
    # the lower id counts as more likely (torch.sort leaves the order of ties unspecified).
    candidates = np.flatnonzero(logits > -np.inf)  # [n_candidates], ids in increasing order
    order = candidates[np.argsort(-logits[candidates], kind="stable")[::-1]]
    # Summed in float64 and rounded to float32, as torch's cumsum does: a float32 running sum over 50,257
    # probabilities drifts by about 4e-4, enough to move the cut.
    cumulative = np.cumsum(softmax(logits[order]), dtype=np.float64).astype(np.float32)
    drop = cumulative <= np.float32(1 - p)
    drop[-1] = False  # the most likely token always stays
    out = logits.copy()
    out[order[drop]] = -np.inf
    return out


def apply_logit_bias(logits, bias):
    """Add bias[token] to each token's logit ({id: amount}; -inf bans, a large amount forces)."""
    out = logits.copy()
    for token, amount in bias.items():
        out[token] += np.float32(amount)
    return out


def ban_repeated_ngrams(logits, history, n):
    """Ban every token that would complete an n-gram already in `history` (its last n - 1 tokens followed by
    that token)."""
    if len(history) < n:
        return logits
    prefix = tuple(history[len(history) - n + 1 :])
    banned = [history[i + n - 1] for i in range(len(history) - n + 1) if tuple(history[i : i + n - 1]) == prefix]
    return ban(logits, banned)


def ban(logits, ids):
    """The logits with the tokens `ids` set to -inf."""
    out = logits.copy()
    out[list(ids)] = -np.inf
    return out


class History:
    """A sequence's token ids so far, which keeps what the penalties read up to date as tokens are appended:
    which ids it holds (the repetition penalty) and, for each n-gram size asked about, which tokens followed
    each (n - 1)-gram (no_repeat_ngram_size). A decode step's penalties then cost what the distinct ids held
    cost (at most the vocabulary), not what the history's length does: `apply_repetition_penalty` and
    `ban_repeated_ngrams` read the whole history every step (they stay as the plain definitions, used for a
    plain list, and the tests hold the two together)."""

    def __init__(self, ids=()):
        self.ids = []
        self.held = np.zeros(0, bool)  # held[id]: the id is in the history
        self.followers = {}  # n -> {(n - 1)-gram: {ids that followed it}}, for each n asked about so far
        for token in ids:
            self.append(token)

    def append(self, token: int):
        token = int(token)
        if token >= len(self.held):
            self.held = np.concatenate([self.held, np.zeros(max(token + 1 - len(self.held), len(self.held)), bool)])
        self.held[token] = True
        self.ids.append(token)
        for n, index in self.followers.items():
            if len(self.ids) >= n:
                index.setdefault(tuple(self.ids[len(self.ids) - n : -1]), set()).add(token)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i]

    def __iter__(self):
        return iter(self.ids)

    def __add__(self, tokens):
        return self.ids + list(tokens)

    def seen(self) -> np.ndarray:
        """Every id in the history, once each, ascending."""
        return np.flatnonzero(self.held)

    def completions(self, n: int):
        """The tokens that would complete an n-gram already in the history (after its last n - 1 tokens)."""
        if n not in self.followers:  # the first time: index the history so far, then keep it up to date
            index = self.followers[n] = {}
            for end in range(n, len(self.ids) + 1):
                index.setdefault(tuple(self.ids[end - n : end - 1]), set()).add(self.ids[end - 1])
        if len(self.ids) < n:
            return ()
        return self.followers[n].get(tuple(self.ids[len(self.ids) - n + 1 :]), ())


def ban_bad_words(logits, history, bad_words):
    """Ban the last token of every bad word (a token sequence) whose other tokens end `history`."""
    banned = [
        word[-1]
        for word in bad_words
        if len(word) == 1 or list(history[len(history) - len(word) + 1 :]) == list(word[:-1])
    ]
    return ban(logits, banned)


def apply_min_p(logits, min_p):
    """Keep the tokens whose probability is at least min_p times the likeliest one's; the rest become -inf."""
    probabilities = softmax(logits)
    return np.where(probabilities < np.float32(min_p) * probabilities.max(), np.float32(-np.inf), logits)


@dataclass(frozen=True)
class Sampler:
    """How to pick the next token. The defaults give varied but coherent GPT-2 text; temperature=0 is greedy."""

    temperature: float = 0.8
    top_k: int = 40  # 0 = off
    top_p: float = 1.0  # 1 = off
    repetition_penalty: float = 1.0  # 1 = off
    min_p: float = 0.0  # 0 = off
    no_repeat_ngram_size: int = 0  # 0 = off
    min_new_tokens: int = 0  # <|endoftext|> is banned before this many new tokens
    bad_words: tuple = ()  # token sequences that may never be generated
    logit_bias: tuple = ()  # ((token id, amount), ...): amounts added to those tokens' logits

    def __post_init__(self):
        if not is_real(self.temperature) or not 0 <= self.temperature < float("inf"):
            raise ValueError(f"temperature must be >= 0 and finite (0 is greedy), got {self.temperature!r}")
        if not is_integer(self.top_k) or self.top_k < 0:
            raise ValueError(f"top_k must be an integer >= 0 (0 = off), got {self.top_k!r}")
        if not is_real(self.top_p) or not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not is_real(self.repetition_penalty) or not 0 < self.repetition_penalty < float("inf"):
            raise ValueError(f"repetition_penalty must be > 0 (1 = off), got {self.repetition_penalty!r}")
        if not is_real(self.min_p) or not 0 <= self.min_p <= 1:
            raise ValueError(f"min_p must be in [0, 1] (0 = off), got {self.min_p!r}")
        for name in ("no_repeat_ngram_size", "min_new_tokens"):
            if not is_integer(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be an integer >= 0 (0 = off), got {getattr(self, name)!r}")
        if not all(isinstance(w, tuple) and w and all(is_integer(t) and t >= 0 for t in w) for w in self.bad_words):
            raise ValueError("bad_words must be token sequences, each one or more token ids")
        if not all(is_integer(t) and t >= 0 and is_real(b) and not np.isnan(b) for t, b in self.logit_bias):
            raise ValueError("logit_bias must map token ids to numbers")

    def constrain(self, scores: np.ndarray, history, n_new: int = 0, eos_token_id=None) -> np.ndarray:
        """Steps 1-5 on a row of scores [n_vocab] (logits, or log-probabilities in beam search): bias,
        penalties and bans, which greedy decoding and beam search obey as well as sampling."""
        kept = isinstance(history, History)  # decoding's: the penalties read what it keeps; else, the definitions
        if self.logit_bias:
            scores = apply_logit_bias(scores, dict(self.logit_bias))
        if self.repetition_penalty != 1:
            scores = (penalize(scores, history.seen(), self.repetition_penalty) if kept else
                      apply_repetition_penalty(scores, history, self.repetition_penalty))  # fmt: skip
        if self.no_repeat_ngram_size:
            n = self.no_repeat_ngram_size
            scores = ban(scores, history.completions(n)) if kept else ban_repeated_ngrams(scores, list(history), n)
        if self.bad_words:
            scores = ban_bad_words(scores, history, self.bad_words)
        if n_new < self.min_new_tokens and eos_token_id is not None:
            scores = scores.copy()
            scores[eos_token_id] = -np.inf
        return scores

    def process(self, logits: np.ndarray, history, n_new: int = 0, eos_token_id=None) -> np.ndarray:
        """A row of logits [n_vocab] after steps 1-9: what the next token is drawn from (-inf = excluded).

        -inf in the row is a token given probability zero, as in transformers' processors (a caller may mask
        tokens so). NaN and +inf mean nothing and raise ValueError, as does a row that leaves no token possible
        (transformers would fail inside torch.multinomial, or take the argmax of a NaN).
        """
        if np.isnan(logits).any() or (logits == np.inf).any():
            raise ValueError("the logits hold NaN or +inf: the model's weights (or a hook) are probably corrupt")
        logits = self.constrain(logits, history, n_new, eos_token_id)
        if logits.max() == -np.inf:
            raise ValueError("no token is left to pick: the logits, logit_bias, bad_words and bans exclude them all")
        if self.temperature == 0:
            return logits  # greedy takes the argmax; temperature, top-k, top-p and min-p cannot change it
        if logits.max() == np.inf:  # only logit_bias adds +inf (the logits were checked above)
            raise ValueError("a logit_bias of +inf gives no distribution to sample from: add a large finite amount")
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
        if self.min_p:
            logits = apply_min_p(logits, self.min_p)
        return logits

    def distribution(self, logits: np.ndarray, history, n_new: int = 0, eos_token_id=None) -> np.ndarray:
        """The probabilities [n_vocab] (float32) the next token is picked with: the softmax of `process`'s row;
        greedy decoding gives all of it to the argmax. Speculative decoding compares two such rows."""
        processed = self.process(logits, history, n_new, eos_token_id)
        probabilities = np.zeros(processed.shape, np.float32)  # [n_vocab]
        if self.temperature == 0:
            probabilities[np.argmax(processed)] = 1
        else:
            candidates = np.flatnonzero(processed > -np.inf)  # the tokens still possible, by id
            probabilities[candidates] = softmax(processed[candidates])
        return probabilities

    def __call__(self, logits: np.ndarray, history, rng: np.random.Generator, n_new=0, eos_token_id=None) -> int:
        """Pick one token id from a row of logits [n_vocab]; `history` holds the ids of the sequence so far."""
        logits = self.process(logits, history, n_new, eos_token_id)
        if self.temperature == 0:
            return int(np.argmax(logits))
        candidates = np.flatnonzero(logits > -np.inf)  # the tokens still possible (-inf: probability 0), by id
        cdf = np.cumsum(softmax(logits[candidates]))  # [n_candidates]
        # Inverse-CDF sampling: the first token whose cumulative probability passes u.
        return int(candidates[min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), cdf.size - 1)])
