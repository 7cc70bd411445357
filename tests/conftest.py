"""Shared pytest fixtures."""

import pytest

from gptlite import GPT, parallel
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


@pytest.fixture
def count_split_steps(monkeypatch):
    """The shapes [n_batch, n_seq] of the passes that took the two-thread path, so that a test cannot pass
    without it."""
    steps = []
    real = parallel.TwoThreads._forward

    def counted(self, ids, *args, **kwargs):
        steps.append(ids.shape)
        return real(self, ids, *args, **kwargs)

    monkeypatch.setattr(parallel.TwoThreads, "_forward", counted)
    return steps
