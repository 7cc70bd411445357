"""Shared pytest fixtures."""

import pytest

from gptlite import GPT
from gptlite.tokenizer import save_vocab, train_bpe

from helpers import MODELS, TEXT


@pytest.fixture(scope="session")
def tiny():
    """A 2-layer, 16-wide GPT-2 with GPT-2's full vocabulary, in the hub's layout."""
    return GPT.from_pretrained(MODELS / "tiny")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder with TEXT (text.txt) and a 300-token vocabulary trained on it (tok/), for the training tests."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "text.txt").write_text(TEXT)
    save_vocab(root / "tok", *train_bpe(TEXT, 300))
    return root
