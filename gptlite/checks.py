"""Argument checks for the public API, in one place, so that every entry point takes and refuses the same values.

Counts (max_new_tokens, stride, batch_size, num_beams, alternatives, ...) take Python and NumPy integers and
refuse bools (True is 1 to Python, never what a caller meant) and floats; numbers take any real but a bool.
Each check returns a plain Python value, so nothing downstream meets a NumPy scalar. Defaults that several
entry points share (how many new tokens, the end token, one random generator per row) are resolved here too.
"""

import numbers

import numpy as np

DEFAULT_NEW_TOKENS = 32  # generate's max_new_tokens when neither it nor max_length is given


def is_integer(value) -> bool:
    """An int or a NumPy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """An int, a float or a NumPy number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def count(name: str, value, minimum: int = 0, maximum: int | None = None) -> int:
    """value as an int, if it is an integer in [minimum, maximum]; else a ValueError naming the argument."""
    if not is_integer(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {str(value)[:40]!r}")
    return int(value)


def finite(name: str, value) -> float:
    """value as a float, if it is a finite real number."""
    if not is_real(value) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {str(value)[:40]!r}")
    return float(value)


def token_ids(ids, n_vocab: int) -> np.ndarray:
    """A prompt of token ids (a list or array of integers, at least one) -> int64 [n], each in [0, n_vocab)."""
    array = np.asarray(ids)
    bools = isinstance(ids, (list, tuple)) and any(isinstance(i, (bool, np.bool_)) for i in ids)  # True is 1
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.integer) or bools:
        raise ValueError("a prompt must be a non-empty list of token ids (integers, not bools)")
    if array.min() < 0 or array.max() >= n_vocab:
        raise ValueError(f"token ids must be in [0, {n_vocab}), got {array.min()}..{array.max()}")
    return array.astype(np.int64)


def new_tokens(max_new_tokens, max_length, longest_prompt: int, default: int = DEFAULT_NEW_TOKENS) -> int:
    """How many new tokens: max_new_tokens, or max_length minus the longest prompt (transformers' meaning), or
    the default when neither is given."""
    if max_new_tokens is not None and max_length is not None:
        raise ValueError("give max_new_tokens or max_length, not both")
    if max_length is not None:
        return count("max_length", max_length, longest_prompt) - longest_prompt  # at least the longest prompt
    return count("max_new_tokens", default if max_new_tokens is None else max_new_tokens)


def end_token(eos_token_id, tokenizer, n_vocab: int):
    """The token that ends a text: "default" is the tokenizer's <|endoftext|> (None for a model without a
    tokenizer), None never ends, and an id must be one of the model's."""
    if isinstance(eos_token_id, str) and eos_token_id == "default":
        return tokenizer.eot_token if tokenizer is not None else None
    if eos_token_id is None:
        return None
    return count("eos_token_id", eos_token_id, 0, n_vocab - 1)


def not_sampling(options: dict, seed=None):
    """Beam search does not sample: refuse a seed, and the options that shape sampling only (temperature, top_k,
    top_p, min_p) with any value but the one that leaves the scores as they are, rather than ignore them."""
    neutral = {"temperature": 0, "top_k": 0, "top_p": 1, "min_p": 0}
    given = [name for name, value in neutral.items() if name in options and options[name] != value]
    if given or seed is not None:
        raise ValueError(
            f"beam search does not sample: {', '.join(given + ['seed'] * (seed is not None))} do not apply"
        )


def seeds(seed, n: int) -> list:
    """One seed per prompt, checked: `seed` is None (fresh entropy), an integer >= 0, or a list of n of those."""
    every = list(seed) if isinstance(seed, (list, tuple)) else [seed] * n
    if len(every) != n:
        raise ValueError(f"got {len(every)} seeds for {n} prompts")
    return [None if s is None else count("a seed", s) for s in every]


def random_generators(seed, n: int) -> list:
    """One numpy Generator per row, so that each samples as it would alone (`seeds` says what `seed` may be)."""
    return [np.random.default_rng(s) for s in seeds(seed, n)]


def available_memory():
    """Bytes of memory free for a new process (Linux's MemAvailable), or None where that cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def fits_in_memory(n_bytes: int, what: str):
    """Refuse, in one line, a request that would allocate more than the memory free now (where it can be read):
    better than a MemoryError traceback, or a machine that swaps for minutes."""
    available = available_memory()
    if available is not None and n_bytes > available:
        raise ValueError(f"{what} needs {n_bytes / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB free")
