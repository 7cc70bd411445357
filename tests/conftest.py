"""Shared pytest fixtures."""

import pytest

from gptlite import GPT

from helpers import MODELS


@pytest.fixture(scope="session")
def tiny():
    """A 2-layer, 16-wide GPT-2 with GPT-2's full vocabulary, in the hub's layout."""
    return GPT.from_pretrained(MODELS / "tiny")
