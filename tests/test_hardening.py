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
from gptlite.train import main as train_main
from gptlite.weights.checkpoint import checkpoint_folder, converted_tensors

from helpers import TEXT

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def one_line(text):
    """The text is one line of error: nothing before it, nothing after it, no traceback."""
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text


# ---------------------------------------------------------------- training


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
    weights = converted_tensors(checkpoint_folder(out))
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


# ---------------------------------------------------------------- reading prompts

MEASURED = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], stdin=open(sys.argv[1], "rb"), capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: KiB
print(done.returncode, peak, time.perf_counter() - start)
sys.stderr.write(done.stderr)
"""


def measured(*args, stdin="/dev/null"):
    """Run `python -m gptlite.generate ARGS` as the only child of a helper: (exit status, stderr, peak resident
    bytes, seconds)."""
    command = [sys.executable, "-c", MEASURED, stdin, sys.executable, "-m", "gptlite.generate", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=120)
    status, peak, seconds = done.stdout.split()
    return int(status), done.stderr, int(peak), float(seconds)


@pytest.mark.parametrize(
    "args, stdin, message",
    [(["-f", "/dev/zero"], "/dev/null", "1 MiB"), (["-"], "/dev/zero", "1 MiB"),
     (["-f", "/dev/zero", "--truncate-prompt"], "/dev/null", "1 GiB"),
     (["-", "--truncate-prompt"], "/dev/zero", "1 GiB"), (["-i"], "/dev/zero", "a line of more than 1 MiB")],
)  # fmt: skip
def test_an_endless_prompt_is_refused_in_bounded_memory(args, stdin, message):
    """From a file, from standard input, and a conversation's line from a pipe."""
    status, err, peak, seconds = measured(*args, "-m", "gptlite-shakespeare", "-n", "1", stdin=stdin)
    assert status == 2 and message in err.splitlines()[-1] and "Traceback" not in err
    if args != ["-i"]:  # a conversation says how to use it first
        assert ("--truncate-prompt keeps its end" in one_line(err)) == ("--truncate-prompt" not in args)
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert seconds < 30


def test_a_huge_prompt_file_with_truncation_keeps_only_its_end_while_reading(tmp_path):
    """64 MB of text: read with bounded memory, and continued from its end (the last words are echoed)."""
    path = tmp_path / "big.txt"
    with open(path, "w") as f:
        for _ in range(64 * 2**20 // len(TEXT)):
            f.write(TEXT)
        f.write("To be, or not to be")
    status, err, peak, seconds = measured("-f", str(path), "-m", "gptlite-shakespeare", "-n", "1", "--truncate-prompt")
    assert status == 0, err
    assert peak < 250 * 2**20, f"{peak / 2**20:.0f} MiB"


@pytest.fixture
def small_blocks(monkeypatch):
    """The prompt reader with a 64-byte block, a 1,000-byte limit and a 10,000-byte limit when truncating."""
    from gptlite import generate

    monkeypatch.setattr(generate, "BLOCK", 64)
    monkeypatch.setattr(generate, "PROMPT_LIMIT", 1000)
    monkeypatch.setattr(generate, "TRUNCATED_LIMIT", 10_000)
    return generate


def test_a_truncated_prompt_is_the_end_of_the_whole_one(small_blocks, tmp_path, capsys):
    """A file far longer than what is kept continues exactly as the whole text given as an argument does."""
    text = "".join(f"Line {i}: the king is in his castle, ça va bien.\n" for i in range(150))  # 7,600 characters
    path = tmp_path / "long.txt"
    path.write_text(text)
    flags = ["-m", "gptlite-shakespeare", "-n", "12", "-t", "0", "--truncate-prompt", "--no-echo"]
    assert small_blocks.main(["-f", str(path), *flags]) == 0
    from_file = capsys.readouterr().out
    assert small_blocks.main([text, *flags]) == 0
    assert capsys.readouterr().out == from_file
    assert small_blocks.main(["-f", str(path), *flags[:-1]]) == 0  # echoed: the kept end of the prompt
    assert capsys.readouterr().out.startswith(text[-1000:])
    assert small_blocks.main(["-f", str(path), *flags[:-2]]) == 2  # not truncating: refused past the limit
    assert "more than" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("at", [0, 63, 64, 65, 700, 4999])
def test_a_utf8_error_names_its_offset_in_the_whole_file(small_blocks, tmp_path, capsys, at):
    """A bad byte anywhere (in the first block, at a block's edge, far inside), and characters cut by every block
    boundary decode as one read would."""
    good = ("é€😀a" * 1000).encode()[:at]
    good = good[: len(good.decode("utf-8", errors="ignore").encode())]  # whole characters only
    path = tmp_path / "bad.txt"
    path.write_bytes(good + b"\xff" + "é€😀".encode() * 10)
    flags = ["-m", "gptlite-shakespeare", "-n", "1", "--truncate-prompt"]
    assert small_blocks.main(["-f", str(path), *flags]) == 2
    assert f"not UTF-8 text (byte {len(good)}:" in one_line(capsys.readouterr().err)
    path.write_bytes(good + "é€😀".encode() * 10 + "😀".encode()[:2])  # the file ends inside a character
    assert small_blocks.main(["-f", str(path), *flags]) == 2
    assert f"(byte {len(good) + 90}:" in one_line(capsys.readouterr().err)
    path.write_bytes(good + "é€😀".encode() * 10)
    assert small_blocks.main(["-f", str(path), *flags, "--no-echo"]) == 0


# ---------------------------------------------------------------- messages that name the right thing


def run_eval(capsys, *args):
    from gptlite.eval import main as eval_main

    status = eval_main([*map(str, args), "--model", "gptlite-shakespeare", "--quiet"])
    return status, capsys.readouterr().err


GOOD_PASSAGE = {"text": "The king is in his castle"}
GOOD_ITEM = {"context": "The king is", "endings": ["in his castle", "a fish"], "label": 0}


@pytest.mark.parametrize(
    "task, bad, message",
    [("lambada", "not json", "not a JSON object"), ("lambada", "[1, 2]", '{"text"'),
     ("lambada", '{"txt": "a b"}', '{"text"'), ("lambada", '{"text": 5}', '{"text"'),
     ("lambada", '{"text": "oneword"}', "two words"), ("lambada", '{"text": ' + "1" * 5000 + "}", "JSON"),
     ("choice", "not json", "not a JSON object"), ("choice", '{"context": "a"}', "an item must be"),
     ("choice", json.dumps(GOOD_ITEM | {"label": True}), '"label" must be the index'),
     ("choice", json.dumps(GOOD_ITEM | {"label": False}), "got false"),
     ("choice", json.dumps(GOOD_ITEM | {"label": "0"}), "an item must be"),
     ("choice", json.dumps(GOOD_ITEM | {"label": 2}), "an item must be"),
     ("choice", json.dumps(GOOD_ITEM | {"endings": "ab"}), "an item must be")],
)  # fmt: skip
def test_a_bad_json_line_is_named_by_its_line_number(tmp_path, capsys, task, bad, message):
    """Two good lines, a blank one, then the bad one: line 4, whatever is wrong with it."""
    good = json.dumps(GOOD_PASSAGE if task == "lambada" else GOOD_ITEM)
    path = tmp_path / "task.jsonl"
    path.write_text(f"{good}\n{good}\n\n{bad}\n{good}\n")
    status, err = run_eval(capsys, path, "--task", task)
    assert status == 2 and f"{path}:4: " in one_line(err) and message in err


def test_a_label_of_true_is_not_label_one(tmp_path, capsys):
    path = tmp_path / "task.jsonl"
    path.write_text(json.dumps(GOOD_ITEM | {"label": 1}) + "\n")
    assert run_eval(capsys, path, "--task", "choice")[0] == 0
    path.write_text(json.dumps(GOOD_ITEM | {"label": True}) + "\n")
    assert run_eval(capsys, path, "--task", "choice")[0] == 2


@pytest.mark.parametrize("task", ["perplexity", "lambada", "choice"])
def test_eval_of_a_directory_says_it_is_one(tmp_path, capsys, task):
    status, err = run_eval(capsys, tmp_path, "--task", task)
    assert status == 2 and f"{tmp_path}: is a directory" in one_line(err)
    status, err = run_eval(capsys, tmp_path / "missing", "--task", task)
    assert status == 2 and "no such file" in one_line(err)


@pytest.mark.parametrize("at", [0, 63, 64, 65, 700])
def test_eval_names_a_utf8_error_by_its_offset_in_the_file(tmp_path, capsys, monkeypatch, at):
    from gptlite import eval as eval_module

    monkeypatch.setattr(eval_module, "BLOCK", 64)
    good = ("é€ the king 😀 " * 100).encode()[:at]
    good = good[: len(good.decode("utf-8", errors="ignore").encode())]
    path = tmp_path / "text.txt"
    path.write_bytes(good + b"\xc3(" + b"more text" * 50)
    status, err = run_eval(capsys, path)
    assert status == 2 and f"not UTF-8 text (byte {len(good)}:" in one_line(err)


def test_saving_a_page_over_a_directory_names_the_directory(tmp_path):
    from gptlite import GPT

    run = GPT.from_pretrained("gptlite-shakespeare").run("The king")
    for target in (tmp_path, tmp_path / "missing" / "page.html"):
        with pytest.raises(OSError) as raised:
            run.save(target)
        assert str(target) in str(raised.value) and ".tmp" not in str(raised.value), raised.value
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file left beside it


@pytest.fixture(scope="module")
def bundled():
    return GPT.from_pretrained("gptlite-shakespeare")


def test_a_hook_of_the_wrong_shape_is_told_in_the_shapes_it_sees(bundled):
    seen = {}

    def cut(x, name):
        seen[name] = x.shape
        return x[..., :1]

    for name in ("h.0.attn.q", "h.1.mlp.post", "logits"):
        with pytest.raises(ValueError) as raised:
            bundled.run("The king is", hooks={name: cut})
        expected, got = list(seen[name]), [*seen[name][:-1], 1]
        assert f"must return an array of shape {expected}, got {got}" in str(raised.value), raised.value


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_hook_returning_nan_or_infinity_is_refused_at_every_activation(bundled, value):
    from gptlite.hooks import activation_names

    def poison(x, name):
        x = x.copy()
        x.flat[len(x.flat) // 2] = value
        return x

    for name in activation_names(bundled.config.n_layer):
        if name.endswith("attn.scores") and value == -np.inf:
            bundled.run("The king is", hooks={name: poison})  # -inf in the scores hides a key, as the mask does
            continue
        with pytest.raises(ValueError) as raised:
            bundled.run("The king is", hooks={name: poison})
        assert name in str(raised.value) and "finite" in str(raised.value) and "\n" not in str(raised.value)


# ---------------------------------------------------------------- requests that cannot fit


@pytest.mark.parametrize("task", ["perplexity", "lambada"])
def test_a_batch_that_cannot_fit_is_refused_before_it_is_allocated(tmp_path, capsys, task):
    import tracemalloc

    path = tmp_path / "task"
    path.write_text(TEXT if task == "perplexity" else json.dumps(GOOD_PASSAGE) + "\n")
    tracemalloc.start()
    try:
        status, err = run_eval(capsys, path, "--task", task, "--batch-size", "100000")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 2 and "GiB" in one_line(err) and "--batch-size 100000 needs" in err
    assert peak < 100 * 2**20


def test_the_batch_estimate_bounds_what_a_batch_takes(bundled, monkeypatch, capsys, tmp_path):
    """The estimate is an upper bound of what a batch allocates (so what it lets through fits), and not a loose
    one; the largest batch it names as fitting is let through."""
    import tracemalloc

    from gptlite import eval as eval_module
    from gptlite.scoring import perplexity

    config, n_ctx = bundled.config, bundled.config.n_ctx
    ids = bundled.tokenizer.encode(TEXT * 3)
    perplexity(bundled, [ids[:300]], batch_size=2)  # warm: caches, weights views
    tracemalloc.start()
    try:
        perplexity(bundled, [ids], batch_size=16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    per_row = 4 * n_ctx * (2 * config.n_layer * config.n_embd + 16 * config.n_embd + 2 * config.n_head * n_ctx)
    assert peak <= 16 * per_row <= 8 * peak, (peak, per_row)
    monkeypatch.setattr(eval_module, "available_memory", lambda: 10 * per_row)
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    status, err = run_eval(capsys, path, "--batch-size", "11")
    assert status == 2 and "use --batch-size 10 or less" in one_line(err)
    assert run_eval(capsys, path, "--batch-size", "10")[0] == 0
