"""Hardening, round three (issue 23): concurrent trainings, diverging trainings, leftovers that block a retry,
hostile configs, unbounded prompt reads, messages that name the wrong thing, and requests that cannot fit.

Each test reproduces a class of failure the review found, not only its example.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gptlite import GPT
from gptlite import train as train_module
from gptlite.tokenizer import save_vocab, train_bpe
from gptlite.train import main as train_main
from gptlite.weights import safetensors
from gptlite.weights.checkpoint import checkpoint_folder

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TEXT = (
    "The weather today is fair and bright. The king is in his castle, and the queen is in the garden.\n"
    "What light through yonder window breaks? It is the east, and the sun is bright.\n"
) * 40


def one_line(text):
    """The text is one line of error: nothing before it, nothing after it, no traceback."""
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text


# ---------------------------------------------------------------- training


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "text.txt").write_text(TEXT)
    save_vocab(root / "tok", *train_bpe(TEXT, 300))
    return root


def train_argv(corpus, out, steps=6, data=None):
    return ["--data", str(data or corpus / "text.txt"), "--tokenizer", str(corpus / "tok"), "--out", str(out),
            "--steps", str(steps), "--n-layer", "1", "--n-head", "2", "--n-embd", "8", "--n-ctx", "8",
            "--batch-size", "2", "--warmup", "1", "--eval-every", "2", "--save-every", "2", "--quiet"]  # fmt: skip


PAUSER = """
import sys, time
from pathlib import Path
from gptlite import train
name, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
real = getattr(train, name)


def pausing(*args, **kwargs):  # once `name` has run: say so, then wait for the test's signal
    result = real(*args, **kwargs)
    if not ready.exists():
        ready.touch()
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return result


setattr(train, name, pausing)
sys.exit(train.main(sys.argv[4:]))
"""


@pytest.mark.parametrize("pause_after", ["save_tokens", "save_checkpoint"])
def test_a_second_training_into_the_same_out_is_refused_and_the_first_finishes_intact(corpus, tmp_path, pause_after):
    """Two real processes: the first is held still (before its first checkpoint, or just after it); a second
    training into its --out, fresh or resuming, must refuse in one line, and the first must then finish as if
    it had been alone."""
    out, ready, go = tmp_path / "run", tmp_path / "ready", tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", PAUSER, pause_after, str(ready), str(go), *train_argv(corpus, out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists(), first.communicate()
        for extra in (["--seed", "1"], ["--resume"]):
            second = subprocess.run([sys.executable, "-m", "gptlite.train", *train_argv(corpus, out, 8), *extra],
                                    capture_output=True, text=True, env=ENV, timeout=60)  # fmt: skip
            assert second.returncode == 2, second.stderr
            assert "in use by another training" in one_line(second.stderr) and str(out) in second.stderr
    finally:
        go.touch()
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert train_main(train_argv(corpus, tmp_path / "alone")) == 0
    shared, alone = checkpoint_folder(out), checkpoint_folder(tmp_path / "alone")
    for name in ("weights.safetensors", "optimizer.safetensors", "train_state.json"):
        assert (shared / name).read_bytes() == (alone / name).read_bytes(), name


def test_the_lock_is_free_again_once_a_training_ends(corpus, tmp_path):
    out = tmp_path / "run"
    assert train_main(train_argv(corpus, out, 2)) == 0
    assert train_main([*train_argv(corpus, out, 4), "--resume"]) == 0
    assert checkpoint_folder(out).name == "step-00000004"


def finite_checkpoint(out):
    weights = safetensors.load(checkpoint_folder(out) / "weights.safetensors")
    return all(np.isfinite(w).all() for w in weights.values())


def test_a_diverging_learning_rate_stops_in_one_line_and_saves_nothing_non_finite(corpus, tmp_path):
    """The command itself, so that numpy's overflow warnings would show on its stderr too."""
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "gptlite.train", *train_argv(corpus, out), "--lr", "1e300"],
                          capture_output=True, text=True, env=ENV, timeout=60)  # fmt: skip
    assert done.returncode == 2
    err = one_line(done.stderr)
    assert "not finite" in err and "step 1" in err and "--lr" in err and "nothing was saved" in err
    assert checkpoint_folder(out) is None  # no finite checkpoint was ever reached


@pytest.mark.parametrize("where", ["loss", "gradient"])
def test_divergence_later_keeps_the_last_finite_checkpoint(corpus, tmp_path, monkeypatch, capsys, where):
    """A loss or a gradient that turns non-finite at step 5: the run stops there, exit 2, and LATEST names the
    finite checkpoint of step 4, from which a resume continues."""
    real_batch, real_forward, real_clip = train_module.batch, train_module.forward, train_module.clip_gradients
    calls = []

    def batch(*args):  # called once per training step (evaluation reads its windows itself)
        calls.append(1)
        return real_batch(*args)

    def forward(params, ids, targets, config):
        loss, acts = real_forward(params, ids, targets, config)
        return (float("inf") if where == "loss" and len(calls) == 5 else loss), acts

    def clip(grads, max_norm):
        if where == "gradient" and len(calls) == 5:
            next(iter(grads.values()))[...] = np.nan
        return real_clip(grads, max_norm)

    monkeypatch.setattr(train_module, "batch", batch)
    monkeypatch.setattr(train_module, "forward", forward)
    monkeypatch.setattr(train_module, "clip_gradients", clip)
    out = tmp_path / "run"
    assert train_main(train_argv(corpus, out, 8)) == 2
    err = one_line(capsys.readouterr().err)
    assert "step 5" in err and "not finite" in err and "step 4" in err
    assert checkpoint_folder(out).name == "step-00000004" and finite_checkpoint(out)
    monkeypatch.undo()
    assert train_main([*train_argv(corpus, out, 8), "--resume"]) == 0 and finite_checkpoint(out)


def test_a_stale_temporary_file_is_removed_at_the_next_start(corpus, tmp_path):
    out = tmp_path / "run"
    assert train_main(train_argv(corpus, out, 2)) == 0
    stale = [out / ".LATEST.abc123.tmp", out / ".data.json.x.tmp", out / ".train.bin.y.tmp"]
    for path in stale:
        path.write_text("step-00000009\n")
    (out / "checkpoints" / "step-00000004").mkdir()  # a save that never reached LATEST
    assert train_main([*train_argv(corpus, out, 2), "--resume"]) == 0  # nothing left to do: still cleans up
    assert not any(path.exists() for path in stale)
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-00000002"]


@pytest.mark.parametrize(
    "failure, extra",
    [("too short", []), ("GiB", ["--batch-size", "10000000"]), ("not finite", ["--lr", "1e300"])],
)
def test_a_failed_start_leaves_nothing_that_blocks_a_retry(corpus, tmp_path, capsys, failure, extra):
    """A start that fails (data too short, a run too big for memory, a divergence before the first checkpoint)
    leaves no tokens or files behind that would refuse good data into the same --out."""
    out = tmp_path / "run"
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("The king.\nThe queen.\n" if failure == "too short" else TEXT.upper())
    assert train_main([*train_argv(corpus, out, data=tiny), *extra]) == 2
    assert failure in one_line(capsys.readouterr().err)
    assert train_main(train_argv(corpus, out, 2)) == 0
    assert checkpoint_folder(out).name == "step-00000002"
    assert json.loads((out / "data.json").read_text())["train"]["tokens"] > 100
    assert GPT.from_pretrained(out).config.n_embd == 8
