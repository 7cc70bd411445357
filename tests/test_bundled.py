"""The bundled model: loads by name offline, meets its quality bar, and is the CLI's fallback without network."""

import numpy as np
import pytest

from gptlite import GPT
from gptlite.generate import main as generate_main
from gptlite.releases import BUNDLED, BUNDLED_DIR
from gptlite.weights import hub

from fakehub import FakeHub
from helpers import MODELS


@pytest.fixture
def no_network(tmp_path, monkeypatch):
    monkeypatch.setenv("GPTLITE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    for var in ("GPTLITE_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def bundled():
    return GPT.from_pretrained(BUNDLED)


def test_ships_in_the_package_within_25_mb(bundled):
    files = [p for p in BUNDLED_DIR.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {
        "gptlite.json",
        "weights.safetensors",
        "encoder.json",
        "vocab.bpe",
        "MODEL_CARD.md",
    }
    assert sum(p.stat().st_size for p in files) <= 25e6
    assert all(a.dtype == np.float32 for a in (bundled.params["wte"], bundled.params["h"][0]["mlp"]["c_fc"]["w"]))


def test_seeded_sample_is_reproducible_text(bundled):
    a = bundled.complete("The weather today is", 40, seed=0)
    assert a == bundled.complete("The weather today is", 40, seed=0)
    words = [w for w in a.split() if w.isalpha()]
    assert len(words) >= 10


def test_cli_falls_back_to_the_bundled_model_without_network(no_network, capsys):
    assert generate_main(["The weather today is", "--max-new-tokens", "12", "--seed", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("The weather today is") and len(captured.out) > 30
    assert captured.err.count("\n") == 1
    assert "gptlite-shakespeare" in captured.err and "no network" in captured.err
    assert "python -m gptlite.download gpt2" in captured.err


@pytest.mark.parametrize("var", ["GPTLITE_OFFLINE", "HF_HUB_OFFLINE"])
def test_cli_falls_back_in_offline_mode(no_network, monkeypatch, capsys, var):
    monkeypatch.setenv(var, "1")
    assert generate_main(["Hello", "--max-new-tokens", "5"]) == 0
    assert f"{var}=1" in capsys.readouterr().err


def test_explicit_gpt2_never_falls_back(no_network, monkeypatch, capsys):
    monkeypatch.setenv("GPTLITE_OFFLINE", "1")
    assert generate_main(["Hello", "--model", "gpt2"]) == 2
    err = capsys.readouterr().err
    assert "gpt2 is not in the cache" in err and "gptlite-shakespeare" not in err


def test_cli_uses_gpt2_when_it_can_be_had(no_network, monkeypatch, capsys):
    with FakeHub() as fake:
        fake.add_repo("openai-community/gpt2", MODELS / "tiny")
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        assert generate_main(["Hello", "--max-new-tokens", "5", "--temperature", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert hub.is_cached("gpt2")
    expected = GPT.from_pretrained(MODELS / "tiny").complete("Hello", 5, temperature=0)
    assert captured.out == "Hello" + expected + "\n"
