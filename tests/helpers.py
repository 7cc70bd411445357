"""What several test modules share: where the fixtures are, and how to load a reference model."""

from pathlib import Path

import numpy as np

from gptlite import GPT, Config
from gptlite.model import flatten, init_params

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = FIXTURES / "models"
# A short text the training tests train on: a tokenizer and a tiny model learn it in a few steps.
TEXT = (
    "The weather today is fair and bright. The king is in his castle, and the queen is in the garden.\n"
    "What light through yonder window breaks? It is the east, and the sun is bright.\n"
) * 40


def reference(name):
    """The outputs transformers computed for the fixture model `name` (scripts/make_fixtures.py)."""
    return dict(np.load(MODELS / name / "reference.npz"))


def seeded_gpt(name):
    """A fixture whose weights are gptlite's seeded init_params (too big to commit), and its reference."""
    ref = reference(name)
    config = Config(**{k: int(ref[k]) for k in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")})
    return GPT(config, init_params(config, int(ref["seed"])), None), ref


def central_differences(params, loss):
    """{name: d loss / d parameter} by central finite differences, (loss(p + eps) - loss(p - eps)) / 2 eps for
    each entry of each of the (float64) parameters, moved in place and put back: the oracle for a backward pass."""
    eps, numeric = 1e-6, {}
    for name, p in flatten(params).items():
        numeric[name] = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + eps
            up = loss()
            p[i] = saved - eps
            down = loss()
            p[i] = saved
            numeric[name][i] = (up - down) / (2 * eps)
    return numeric
