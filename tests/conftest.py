"""Shared test fixtures: the reference models made by scripts/make_fixtures.py."""

from pathlib import Path

import numpy as np
import pytest

from gptlite import GPT, Config
from gptlite.model import init_params

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = FIXTURES / "models"


def reference(name):
    return dict(np.load(MODELS / name / "reference.npz"))


def seeded_gpt(name):
    """A fixture whose weights are gptlite's seeded init_params (too big to commit), and its reference."""
    ref = reference(name)
    config = Config(**{k: int(ref[k]) for k in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")})
    return GPT(config, init_params(config, int(ref["seed"])), None), ref


@pytest.fixture(scope="session")
def tiny():
    """A 2-layer, 16-wide GPT-2 with GPT-2's full vocabulary, in the hub's layout."""
    return GPT.from_pretrained(MODELS / "tiny")
