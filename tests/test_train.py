"""Training: the backward pass against finite differences, learning, exact resume; BPE training."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gptlite import GPT, Config, Tokenizer
from gptlite import train as train_module
from gptlite.backprop import backward, forward
from gptlite.model import flatten, init_params, nest
from gptlite.tokenizer import PATTERN, bytes_to_unicode, merge_pair, train_bpe
from gptlite.train import clip_gradients, parser
from gptlite.train import main as train_main
from gptlite.train_tokenizer import main as train_tokenizer_main
from gptlite.weights.checkpoint import checkpoint_folder

from helpers import TEXT, central_differences

ROOT = Path(__file__).resolve().parents[1]


def random_params(config, seed):
    """float64 parameters with every weight, bias and gain random, so no gradient is trivially zero."""
    rng = np.random.default_rng(seed)
    flat = flatten(init_params(config, seed))
    return nest(
        {
            k: rng.standard_normal(v.shape) * (0.3 if k.endswith((".w", "wte", "wpe")) else 0.1)
            + (1.0 if k.endswith(".g") else 0.0)
            for k, v in flat.items()
        }
    )


def test_training_forward_is_the_inference_forward():
    """backprop.forward runs model.py's forward: its log-probabilities are the log-softmax of GPT.__call__'s logits."""
    config = Config(n_vocab=50, n_ctx=16, n_embd=16, n_head=2, n_layer=3)
    params = init_params(config, seed=4)
    ids = np.random.default_rng(0).integers(0, 50, (2, 9))
    _, acts = forward(params, ids, ids, config)
    gpt = GPT(config, params, None)
    for row in range(2):
        logits = gpt(ids[row])
        expected = (
            logits
            - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
            - logits.max(-1, keepdims=True)
        )
        np.testing.assert_allclose(acts["logp"][row], expected, atol=1e-5)
    assert acts["h.2.attn.pattern"].shape == (2, 2, 9, 9) and acts["h.0.mlp.pre"].shape == (2, 9, 64)


def test_gradients_match_central_finite_differences():
    config = Config(n_vocab=13, n_ctx=7, n_embd=8, n_head=2, n_layer=2)
    params = random_params(config, 0)
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, 13, (2, 6)), rng.integers(0, 13, (2, 6))
    loss, acts = forward(params, ids, targets, config)
    assert np.asarray(loss).dtype == np.float64
    grads = flatten(backward(params, acts))
    flat = flatten(params)
    assert grads.keys() == flat.keys()
    numeric = central_differences(params, lambda: forward(params, ids, targets, config)[0])
    for name, p in flat.items():
        assert grads[name].shape == p.shape, name
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-5, atol=1e-8, err_msg=name)
    assert np.abs(grads["wpe"][6]).max() == 0  # position 6 is never used by 6-token inputs


def run(corpus, out, steps, *extra, status=0):
    argv = [
        "--data",
        str(corpus / "text.txt"),
        "--tokenizer",
        str(corpus / "tok"),
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--n-layer",
        "2",
        "--n-head",
        "2",
        "--n-embd",
        "16",
        "--n-ctx",
        "16",
        "--batch-size",
        "4",
        "--warmup",
        "2",
        "--eval-every",
        "5",
        "--save-every",
        "3",
        "--lr",
        "1e-2",
        "--quiet",
        *extra,
    ]
    assert train_main(argv) == status


def test_training_lowers_the_loss_and_writes_a_loadable_model(corpus, tmp_path):
    run(corpus, tmp_path / "run", 40)
    history = json.loads((checkpoint_folder(tmp_path / "run") / "train_state.json").read_text())["history"]
    assert history[-1]["val_loss"] < history[0]["val_loss"] - 1.0
    assert history[-1]["val_bits_per_byte"] > 0
    gpt = GPT.from_pretrained(tmp_path / "run")
    assert gpt.config.n_layer == 2 and gpt.tokenizer.n_vocab == 300
    ids = gpt.tokenizer.encode("The weather")
    assert len(gpt.generate(ids, 5, seed=0, eos_token_id=None)) == 5
    assert gpt.complete("The weather", 5, seed=0) == gpt.tokenizer.decode(gpt.generate(ids, 5, seed=0))


def interrupt_at_step(monkeypatch, step):
    """Ctrl-C in the middle of training step `step` (in gradient clipping, after the backward pass)."""
    calls = []

    def clip_or_interrupt(grads, max_norm):
        calls.append(1)
        if len(calls) == step:
            raise KeyboardInterrupt
        return clip_gradients(grads, max_norm)

    monkeypatch.setattr(train_module, "clip_gradients", clip_or_interrupt)


def test_resume_is_bit_for_bit_the_uninterrupted_run(corpus, tmp_path, monkeypatch):
    run(corpus, tmp_path / "straight", 9)
    interrupt_at_step(monkeypatch, 7)
    run(corpus, tmp_path / "stopped", 9, status=130)  # Ctrl-C during step 7: steps 1-6 are saved
    assert json.loads((checkpoint_folder(tmp_path / "stopped") / "train_state.json").read_text())["step"] == 6
    monkeypatch.undo()
    run(corpus, tmp_path / "stopped", 9, "--resume")
    for name in ("weights.safetensors", "optimizer.safetensors"):
        straight, stopped = checkpoint_folder(tmp_path / "straight"), checkpoint_folder(tmp_path / "stopped")
        assert (straight / name).read_bytes() == (stopped / name).read_bytes(), name


def test_a_resumed_run_multiplies_writable_c_order_copies(corpus, tmp_path):
    """The checkpoint stores the head and each c_proj transposed (the converted layout) and loading hands them
    back as transposed views; a resumed run works on writable C-order copies, the arrays a run that never stopped
    multiplies, so its sums do not depend on which kernel OpenBLAS picks for each order."""
    run(corpus, tmp_path / "run", 3)
    folder = checkpoint_folder(tmp_path / "run")
    assert "h.0.mlp.c_proj.w" in json.loads((folder / "gptlite.json").read_text())["stored_transposed"]
    loaded = GPT.from_pretrained(folder)
    assert not loaded.params["h"][0]["mlp"]["c_proj"]["w"].flags.c_contiguous  # as loaded: a transposed view
    params, _ = train_module.load_checkpoint(tmp_path / "run", train_module.AdamW(flatten(loaded.params)))
    for name, array in flatten(params).items():
        assert array.flags.c_contiguous and array.flags.writeable, name
        np.testing.assert_array_equal(array, flatten(loaded.params)[name])


def test_train_command_errors(tmp_path, capsys):
    assert (
        train_main(["--data", str(tmp_path / "none.txt"), "--tokenizer", str(tmp_path), "--out", str(tmp_path / "o")])
        == 2
    )
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--steps", "-5"),
        ("--steps", "0"),
        ("--lr", "-1"),
        ("--lr", "nan"),
        ("--eval-every", "0"),
        ("--save-every", "0"),
        ("--batch-size", "0"),
        ("--n-ctx", "0"),
        ("--clip", "0"),
        ("--warmup", "-1"),
        ("--weight-decay", "-0.1"),
    ],
)
def test_bad_training_values_are_one_line(flag, value, capsys):
    with pytest.raises(SystemExit) as e:
        parser().parse_args(["--data", "a", "--tokenizer", "b", "--out", "c", flag, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and value in err


def test_bpe_training_hand_checked():
    """The textbook example: aaabdaaabac merges aa, then ab (a tie with (aa, a), broken by the smaller pair),
    then aa+ab."""
    encoder, merges = train_bpe("aaabdaaabac", 260)
    assert merges == [("a", "a"), ("a", "b"), ("aa", "ab")]
    assert len(encoder) == 260 and encoder["<|endoftext|>"] == 259 and encoder["aaab"] == 258
    tok = Tokenizer(encoder, merges)
    assert [tok.decode([i]) for i in tok.encode("aaabdaaabac")] == ["aaab", "d", "aaab", "a", "c"]


def test_trained_tokenizer_round_trips_and_saves(tmp_path):
    assert (
        train_tokenizer_main(
            [str(_write(tmp_path / "t.txt", TEXT)), "--vocab-size", "320", "--out", str(tmp_path / "v")]
        )
        == 0
    )
    tok = Tokenizer.from_pretrained(tmp_path / "v")
    assert tok.n_vocab == 320 and len(tok.ranks) == 320 - 257
    for text in (TEXT[:300], "Unseen words: zebra, quixotic, 42 — and émigré 😀"):
        assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(TEXT[:300])) < len(TEXT[:300].encode()) / 2  # it learned to compress this text
    for symbol, i in tok.encoder.items():  # the whole-piece shortcut holds for trained vocabularies too
        if symbol != "<|endoftext|>":
            assert [tok.encoder[s] for s in tok.bpe(symbol)] == [i]


def plain_train_bpe(text, vocab_size):
    """minbpe's loop, the oracle for train_bpe: recount every pair, merge the most frequent (ties: the smaller)."""
    table = str.maketrans({chr(b): c for b, c in bytes_to_unicode().items()})
    pieces = Counter(PATTERN.findall(text))
    words = [list(p.encode("utf-8").decode("latin-1").translate(table)) for p in pieces]
    merges = []
    while len(merges) < vocab_size - 257:
        counts = Counter()
        for word, n in zip(words, pieces.values()):
            for pair in zip(word, word[1:]):
                counts[pair] += n
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        words = [merge_pair(word, best) for word in words]
    return merges


@pytest.mark.parametrize("text, vocab_size", [(TEXT, 400), ("aaabdaaabac" * 3 + " zz zz zzz", 300), ("ab " * 5, 300)])
def test_bpe_training_equals_the_plain_loop(text, vocab_size):
    assert train_bpe(text, vocab_size)[1] == plain_train_bpe(text, vocab_size)


def test_bpe_vocab_size_too_small():
    with pytest.raises(ValueError, match="at least 257"):
        train_bpe("abc", 100)


def _write(path, text):
    path.write_text(text)
    return path


def test_resume_reads_the_saved_settings_and_refuses_others(corpus, tmp_path, capsys):
    run(corpus, tmp_path / "r", 3)
    assert train_main(["--out", str(tmp_path / "r"), "--steps", "5", "--resume", "--quiet"]) == 0  # no flags again
    assert json.loads((checkpoint_folder(tmp_path / "r") / "train_state.json").read_text())["step"] == 5
    gpt = GPT.from_pretrained(tmp_path / "r")
    assert (gpt.config.n_layer, gpt.config.n_embd) == (2, 16)  # the saved architecture, not the defaults
    capsys.readouterr()
    assert train_main(["--out", str(tmp_path / "r"), "--steps", "6", "--n-head", "4", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--n-head 4 differs from the run being resumed (--n-head 2)" in err


def test_reusing_out_is_refused(corpus, tmp_path, capsys):
    run(corpus, tmp_path / "r", 3)
    run(corpus, tmp_path / "r", 3, status=2)  # without --resume: not over a run
    assert "already holds a training run" in capsys.readouterr().err
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper())
    argv = ["--data", str(other), "--tokenizer", str(corpus / "tok"), "--out", str(tmp_path / "r"), "--resume"]
    assert train_main(argv) == 2
    assert "trained on other data or another tokenizer" in capsys.readouterr().err


def test_a_run_that_cannot_fit_in_memory_is_refused_before_it_starts(corpus, tmp_path, capsys):
    run(corpus, tmp_path / "r", 3, "--batch-size", "10000000", status=2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "GiB" in err and "--batch-size" in err


CRASHER = """
import os, sys
from gptlite import files
from gptlite.train import main
target, count = int(sys.argv[1]), [0]
real_replace = os.replace


def dying_replace(src, dst):  # each rename is one write becoming visible: die just before the k-th
    count[0] += 1
    if count[0] == target:
        os._exit(137)  # as SIGKILL would: no cleanup, no finally
    real_replace(src, dst)


files.os.replace = dying_replace
main(sys.argv[2:])
print("finished", count[0])
"""


def test_killed_at_every_write_resume_gives_the_last_complete_checkpoint(corpus, tmp_path):
    """Kill the training process just before each of its file writes lands (os.replace is where each write
    becomes visible); then --resume must continue bit for bit as the run that was never killed."""
    argv = ["--data", str(corpus / "text.txt"), "--tokenizer", str(corpus / "tok"), "--steps", "4",
            "--n-layer", "1", "--n-head", "2", "--n-embd", "8", "--n-ctx", "8", "--batch-size", "2",
            "--eval-every", "2", "--save-every", "2", "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    straight = subprocess.run([sys.executable, "-c", CRASHER, "0", *argv, "--out", str(tmp_path / "straight")],
                              capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert straight.returncode == 0, straight.stderr
    writes = int(straight.stdout.split()[-1])
    assert writes >= 12  # data files, then two checkpoints of 6 files each
    expected = {n: (checkpoint_folder(tmp_path / "straight") / n).read_bytes()
                for n in ("weights.safetensors", "optimizer.safetensors")}  # fmt: skip
    for k in range(1, writes + 1):
        out = tmp_path / f"killed-{k}"
        killed = subprocess.run([sys.executable, "-c", CRASHER, str(k), *argv, "--out", str(out)],
                                capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert killed.returncode == 137, (k, killed.stderr)
        resumed = subprocess.run([sys.executable, "-m", "gptlite.train", *argv, "--out", str(out), "--resume"],
                                 capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert resumed.returncode == 0, (k, resumed.stderr)
        folder = checkpoint_folder(out)
        assert {n: (folder / n).read_bytes() for n in expected} == expected, k
        assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [folder.name]
        assert not list(out.rglob("*.tmp")), k  # the killed write's temporary file is gone too


def test_a_full_disk_during_a_save_keeps_the_last_checkpoint(corpus, tmp_path, monkeypatch, capsys):
    from gptlite.weights import safetensors

    run(corpus, tmp_path / "r", 3)  # a checkpoint at step 3
    real_save, calls = safetensors.save, []

    def disk_full_on_the_optimizer(path, *args, **kwargs):
        calls.append(path.name)
        if path.name == "optimizer.safetensors":
            raise OSError(28, "No space left on device")
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(safetensors, "save", disk_full_on_the_optimizer)
    assert train_main(["--out", str(tmp_path / "r"), "--steps", "6", "--resume", "--quiet"]) == 2
    assert "No space left on device" in capsys.readouterr().err and "weights.safetensors" in calls
    monkeypatch.undo()
    assert checkpoint_folder(tmp_path / "r").name == "step-00000003"
    assert GPT.from_pretrained(tmp_path / "r").config.n_layer == 2  # the last good checkpoint still loads
    assert train_main(["--out", str(tmp_path / "r"), "--steps", "6", "--resume", "--quiet"]) == 0


def test_fit_from_python_trains_a_model_from_a_text():
    from gptlite.train import fit

    tokenizer = Tokenizer(*train_bpe(TEXT, 300))
    result = fit(TEXT, tokenizer=tokenizer, n_layer=2, n_head=2, n_embd=16, n_ctx=16, batch_size=4, steps=30, warmup=2,
                 lr=1e-2, eval_every=10, quiet=True)  # fmt: skip
    assert result.step == 30 and len(result.losses) == 30 and not result.interrupted
    assert [h["step"] for h in result.history] == [10, 20, 30]
    assert (
        result.history[-1]["val_loss"] < result.history[0]["val_loss"]
        and result.val_loss == result.history[-1]["val_loss"]
    )
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5]) - 0.5
    assert (
        result.gpt.config.n_layer == 2
        and len(result.gpt.generate(tokenizer.encode("The"), 4, seed=0, eos_token_id=None)) == 4
    )


def test_fit_fine_tunes_a_loaded_model_and_leaves_it_as_it_was(tmp_path):
    from gptlite.train import fit

    bundled = GPT.from_pretrained("gptlite-shakespeare")
    before = bundled.params["h"][0]["mlp"]["c_fc"]["w"].copy()
    text = "Ham. To be, or not to be, that is the question.\n" * 60
    result = fit(text, model=bundled, steps=6, batch_size=2, n_ctx=32, warmup=1, lr=1e-3, eval_every=3, quiet=True,
                 out=tmp_path / "tuned")  # fmt: skip
    np.testing.assert_array_equal(bundled.params["h"][0]["mlp"]["c_fc"]["w"], before)  # the argument is untouched
    assert not np.array_equal(result.gpt.params["h"][0]["mlp"]["c_fc"]["w"], before)
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    reloaded = GPT.from_pretrained(tmp_path / "tuned")
    np.testing.assert_array_equal(reloaded.params["wte"], result.gpt.params["wte"])
    assert reloaded.config.n_ctx == 128  # the model's context; training windows were 32 tokens


@pytest.mark.parametrize(
    "kwargs, message",
    [({"steps": -5}, "steps must be an integer >= 1"), ({"lr": "fast"}, "lr must be a number"),
     ({"lr": 0}, "lr must be > 0"), ({"eval_every": 0}, "eval_every"), ({"n_ctx": 1.5}, "n_ctx"),
     ({"steps": True}, "steps")],
)  # fmt: skip
def test_fit_refuses_bad_settings_with_value_error_not_system_exit(kwargs, message):
    from gptlite.train import fit

    with pytest.raises(ValueError, match=message):
        fit(TEXT, quiet=True, **kwargs)


def test_fit_refuses_bad_data_and_models():
    from gptlite.train import fit

    with pytest.raises(ValueError, match="data must be"):
        fit(5, quiet=True)
    with pytest.raises(ValueError, match="too short"):
        fit("tiny text", tokenizer=Tokenizer(*train_bpe(TEXT, 300)), n_ctx=64, quiet=True)
    with pytest.raises(ValueError, match="fine-tuning supports GPT-2's own architecture"):
        fit(TEXT, model=GPT.from_pretrained(ROOT / "tests" / "fixtures" / "models" / "options" / "relu"), quiet=True)
    with pytest.raises(ValueError, match="n_layer=3 differs"):
        fit(TEXT, model=GPT.from_pretrained("gptlite-shakespeare"), n_layer=3, quiet=True)


def test_an_interrupt_in_a_notebook_returns_what_was_done(tmp_path, monkeypatch):
    from gptlite.train import fit

    interrupt_at_step(monkeypatch, 4)
    tokenizer = Tokenizer(*train_bpe(TEXT, 300))
    result = fit(TEXT, tokenizer=tokenizer, out=tmp_path / "r", n_layer=1, n_head=2, n_embd=8, n_ctx=8, batch_size=2,
                 steps=10, quiet=True)  # fmt: skip
    assert result.interrupted and result.step == 3 and len(result.losses) == 3
    assert checkpoint_folder(tmp_path / "r").name == "step-00000003"  # saved, for resuming
