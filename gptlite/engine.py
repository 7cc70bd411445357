"""The model as the rest of gptlite runs it: its weights, the path they run on, and its KV caches.

`model.py` is the maths and `parallel.py` the same maths on two cores. An `Engine` owns one model's weights
and the choice between the two paths, and makes the KV caches that generation, beam search, scoring,
inspection and conversations grow, rewind and filter. They all call these public methods:

    engine = Engine(config, params)
    cache = engine.new_cache(n_batch, max_len)                 # empty; room for max_len positions a row
    x = engine.hidden_states(ids, positions, mask, cache)      # [n_batch, n_seq, n_embd]; cache grows by n_seq
    logits = engine.logits(ids, positions, mask, cache)        # [n_batch, n_seq, n_vocab]: every new position
    last = engine.last_logits(ids, positions, mask, cache)     # [n_batch, n_vocab]: each row's last position
    cache.rewind(2); cache.keep_rows([0, 3])                   # drop the last 2 positions; keep rows 0 and 3

A pass extends every layer of its cache or none: if it fails or is interrupted (Ctrl-C) half-way, the cache
is rewound to where it was, so that the next pass finds every layer at the same length.

Which path runs a pass is decided by rule (`parallel.runs`): the model's architecture, the shape of the pass
(and whether it gives logits at every position), the cores the process may use and the kernels OpenBLAS runs
with. It depends on nothing that is timed, so a given machine, model and pass always take the same path, and a
seeded generation repeats exactly from run to run.
"""

from contextlib import contextmanager

import numpy as np

from . import checks, parallel
from .model import NO_HOOKS, QUERY_BLOCK, Config, KVCache, flatten, head_weight, hidden_states, lm_head


def left_pad(prompts, max_new_tokens=0):
    """Prompts of different lengths as one batch, padded on the left so that every row's next token is last.

    Returns ids [n_batch, n_prompt] (0 at padding: never attended to), real [n_batch, n_prompt +
    max_new_tokens] (False at padding, room for the tokens to come) and positions [n_batch, n_prompt]
    (each row counts its own tokens from 0, so padding does not shift its position embeddings).
    """
    n_batch, n_prompt = len(prompts), max(len(p) for p in prompts)
    ids = np.zeros((n_batch, n_prompt), np.int64)
    real = np.ones((n_batch, n_prompt + max_new_tokens), bool)
    for row, prompt in enumerate(prompts):
        ids[row, n_prompt - len(prompt) :] = prompt
        real[row, : n_prompt - len(prompt)] = False
    positions = np.maximum(np.cumsum(real[:, :n_prompt], axis=1) - 1, 0)  # [n_batch, n_prompt]
    return ids, real, positions


class Params(dict):
    """The weights, nested as the checkpoint names them (`params["h"][3]["attn"]["c_attn"]["w"]`): a plain dict
    that prints as a summary of its tensors, not as thousands of lines of numbers."""

    def __repr__(self):
        flat = flatten(self)
        shapes = {}
        for name, array in flat.items():  # "h.3.attn.c_attn.w" -> "h.*.attn.c_attn.w": one line per kind
            key = ".".join("*" if part.isdigit() else part for part in name.split("."))
            shapes.setdefault(key, (list(array.shape), array.dtype, 0))
            shapes[key] = (*shapes[key][:2], shapes[key][2] + 1)
        lines = [f"  {k:<22s} {str(s):<14s} {d}" + (f"  x {n}" if n > 1 else "") for k, (s, d, n) in shapes.items()]
        total = sum(a.size for a in flat.values())
        return f"Params({len(flat)} tensors, {total / 1e6:.2f} M parameters:\n" + "\n".join(lines) + "\n)"


class Engine:
    """One model's weights, run on model.py's path or on two threads (parallel.py), whichever the rule picks."""

    def __init__(self, config: Config, params: dict):
        self.config = config
        self.params = Params(params)  # nested as model.nest builds it; edits to its arrays count (`refresh`)
        self._split = None  # parallel.TwoThreads, made the first time the rule picks it

    def new_cache(self, n_batch: int, max_len: int) -> KVCache:
        """An empty KV cache for n_batch rows of up to max_len positions each."""
        return KVCache(self.config, n_batch, max_len)

    def check_memory(self, n_batch: int, max_len: int, n_seq: int, what: str):
        """Refuse in one line (checks.fits_in_memory) a batch whose KV cache of max_len positions a row, and whose
        pass over n_seq new positions, would not fit in the memory free now: before anything is allocated."""
        c = self.config
        cache = 2 * c.n_layer * n_batch * max_len * c.n_embd  # keys and values of every layer
        activations = n_batch * n_seq * (4 * c.n_embd + c.d_mlp)  # the residual stream, q k v, the MLP's hidden
        scores = n_batch * c.n_head * min(n_seq, QUERY_BLOCK) * max_len  # one block of attention scores
        logits = n_batch * c.n_vocab  # the last position's
        mask = n_batch * n_seq * max_len  # the attention mask
        # float32, 4 bytes each; and a quarter more for what is not counted here (copies the sampler makes, the
        # padding, Python's lists): a request this lets through fits, and one it refuses would not have.
        checks.fits_in_memory(5 * (cache + activations + scores + logits + mask), what)

    def refresh(self):
        """Point the two-thread path at the weights as they are now. Call it at the start of each generation or
        scoring call, so that edits made to the weights since the last call count (the two-thread path
        keeps copies of the weights for batched decode steps)."""
        if self._split is not None:
            self._split.load(self.params)

    def hidden_states(self, ids, positions, mask, cache, hooks=NO_HOOKS) -> np.ndarray:
        """Token ids [n_batch, n_seq] at positions [n_batch, n_seq], after what `cache` holds -> final normalised
        hidden states [n_batch, n_seq, n_embd]. Hooks (inspection) run on model.py's path, where they live."""
        split = self._path(*ids.shape) if hooks is NO_HOOKS else None
        with _all_or_nothing(cache):
            if split is not None:
                return split.hidden_states(ids, positions, mask, cache)
            return hidden_states(self.params, ids, positions, mask, cache, self.config, hooks)

    def head(self, x, hooks=NO_HOOKS) -> np.ndarray:
        """The output head: final hidden states [n, n_embd] -> logits [n, n_vocab]."""
        split = self._path(1, x.shape[0]) if hooks is NO_HOOKS and x.ndim == 2 else None
        if split is not None:
            return split.logits(x)  # each thread writes its half of the vocabulary
        return lm_head(x, head_weight(self.params), hooks)

    def logits(self, ids, positions, mask, cache) -> np.ndarray:
        """Logits at every new position: ids [n_batch, n_seq] -> [n_batch, n_seq, n_vocab]. The pass that
        verifies proposed tokens; with a few rows in all, it may run through the two-thread path's panels
        (`parallel.kind`), the blocks and the head alike."""
        split = self._path(*ids.shape, every_position=True)
        n_embd = self.config.n_embd
        with _all_or_nothing(cache):
            if split is not None:
                x = split.hidden_states(ids, positions, mask, cache, every_position=True)  # [n_batch, n_seq, n_embd]
                return split.logits(x.reshape(-1, n_embd)).reshape(*ids.shape, -1)  # [n_batch, n_seq, n_vocab]
            x = hidden_states(self.params, ids, positions, mask, cache, self.config)  # [n_batch, n_seq, n_embd]
        return lm_head(x, head_weight(self.params))  # [n_batch, n_seq, n_embd] -> [n_batch, n_seq, n_vocab]

    def last_logits(self, ids, positions, mask, cache) -> np.ndarray:
        """Logits of each row's last new position only: ids [n_batch, n_seq] -> [n_batch, n_vocab]. The
        shortcut decoding takes: the head, the biggest matrix of a small model, runs on one position a row."""
        split = self._path(*ids.shape)
        with _all_or_nothing(cache):
            if split is not None:
                return split.last_logits(ids, positions, mask, cache)  # the same as below, on two threads
            x = hidden_states(self.params, ids, positions, mask, cache, self.config)  # [n_batch, n_seq, n_embd]
        return lm_head(x[:, -1], head_weight(self.params))  # [n_batch, n_embd] -> [n_batch, n_vocab]

    def path(self, n_batch: int, n_seq: int, every_position: bool = False) -> str:
        """Which path a pass over n_batch x n_seq new positions takes (with logits at every position, as `logits`
        gives, or not): "two threads" or "model.py"."""
        return "two threads" if parallel.runs(self.config, n_batch, n_seq, every_position) else "model.py"

    def _path(self, n_batch, n_seq, every_position=False):
        """The two-thread path, loaded with the weights, when the rule picks it for this pass; else None."""
        if not parallel.runs(self.config, n_batch, n_seq, every_position):
            return None
        if self._split is None:
            self._split = parallel.TwoThreads(self.config)
            self._split.load(self.params)
        return self._split


@contextmanager
def _all_or_nothing(cache):
    """If the pass inside fails or is interrupted, rewind `cache` to its length before the pass, so that no layer
    keeps positions that the others lack."""
    n_before = cache.n_past
    try:
        yield
    except BaseException:
        cache.rewind(cache.n_past - n_before)
        raise
