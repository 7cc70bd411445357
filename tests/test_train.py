"""Training: the backward pass against finite differences, learning, exact resume; BPE training."""

import numpy as np
import pytest

from gptlite import GPT, Config, Tokenizer
from gptlite.model import flatten, init_params, nest
from gptlite.tokenizer import save_vocab, train_bpe
from gptlite import train as train_module
from gptlite.train import backward, clip_gradients, forward, main as train_main, parser
from gptlite.train_tokenizer import main as train_tokenizer_main

TEXT = ("The weather today is fair and bright. The king is in his castle, and the queen is in the garden.\n"
        "What light through yonder window breaks? It is the east, and the sun is bright.\n") * 40  # fmt: skip


def random_params(config, seed):
    """float64 parameters with every weight, bias and gain random, so no gradient is trivially zero."""
    rng = np.random.default_rng(seed)
    flat = flatten(init_params(config, seed))
    return nest({k: rng.standard_normal(v.shape) * (0.3 if k.endswith((".w", "wte", "wpe")) else 0.1)
                 + (1.0 if k.endswith(".g") else 0.0) for k, v in flat.items()})  # fmt: skip


def test_gradients_match_central_finite_differences():
    config = Config(n_vocab=13, n_ctx=7, n_embd=8, n_head=2, n_layer=2)
    params = random_params(config, 0)
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, 13, (2, 6)), rng.integers(0, 13, (2, 6))
    loss, acts = forward(params, ids, targets, config.n_head)
    assert np.asarray(loss).dtype == np.float64
    grads = flatten(backward(params, acts, config.n_head))
    flat = flatten(params)
    assert grads.keys() == flat.keys()
    eps = 1e-6
    for name, p in flat.items():
        assert grads[name].shape == p.shape, name
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + eps
            up = forward(params, ids, targets, config.n_head)[0]
            p[i] = saved - eps
            down = forward(params, ids, targets, config.n_head)[0]
            p[i] = saved
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)
    assert np.abs(grads["wpe"][6]).max() == 0  # position 6 is never used by 6-token inputs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "text.txt").write_text(TEXT)
    save_vocab(root / "tok", *train_bpe(TEXT, 300))
    return root


def run(corpus, out, steps, *extra, status=0):
    argv = ["--data", str(corpus / "text.txt"), "--tokenizer", str(corpus / "tok"), "--out", str(out), "--steps", str(steps),
            "--n-layer", "2", "--n-head", "2", "--n-embd", "16", "--n-ctx", "16", "--batch-size", "4", "--warmup", "2",
            "--eval-every", "5", "--save-every", "3", "--lr", "1e-2", "--quiet", *extra]  # fmt: skip
    assert train_main(argv) == status


def test_training_lowers_the_loss_and_writes_a_loadable_model(corpus, tmp_path):
    run(corpus, tmp_path / "run", 40)
    history = __import__("json").loads((tmp_path / "run" / "train_state.json").read_text())["history"]
    assert history[-1]["val_loss"] < history[0]["val_loss"] - 1.0
    assert history[-1]["val_bits_per_byte"] > 0
    gpt = GPT.from_pretrained(tmp_path / "run")
    assert gpt.config.n_layer == 2 and gpt.tokenizer.n_vocab == 300
    assert isinstance(gpt.complete("The weather", 5, seed=0), str)


def test_resume_is_bit_for_bit_the_uninterrupted_run(corpus, tmp_path, monkeypatch):
    run(corpus, tmp_path / "straight", 9)
    steps = []

    def ctrl_c_at_step_7(grads, max_norm):
        steps.append(1)
        if len(steps) == 7:
            raise KeyboardInterrupt
        return clip_gradients(grads, max_norm)

    monkeypatch.setattr(train_module, "clip_gradients", ctrl_c_at_step_7)
    run(corpus, tmp_path / "stopped", 9, status=130)  # Ctrl-C during step 7: steps 1-6 are saved
    assert '"step": 6' in (tmp_path / "stopped" / "train_state.json").read_text()
    monkeypatch.undo()
    run(corpus, tmp_path / "stopped", 9, "--resume")
    for name in ("weights.safetensors", "optimizer.safetensors"):
        assert (tmp_path / "straight" / name).read_bytes() == (tmp_path / "stopped" / name).read_bytes(), name


def test_train_command_errors(tmp_path, capsys):
    assert train_main(["--data", str(tmp_path / "none.txt"), "--tokenizer", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert parser().parse_args(["--data", "a", "--tokenizer", "b", "--out", "c"]).steps > 0


def test_bpe_training_hand_checked():
    """The textbook example: aaabdaaabac merges aa, then ab (a tie with (aa, a), broken by the smaller pair), then aa+ab."""
    encoder, merges = train_bpe("aaabdaaabac", 260)
    assert merges == [("a", "a"), ("a", "b"), ("aa", "ab")]
    assert len(encoder) == 260 and encoder["<|endoftext|>"] == 259 and encoder["aaab"] == 258
    tok = Tokenizer(encoder, merges)
    assert [tok.decode([i]) for i in tok.encode("aaabdaaabac")] == ["aaab", "d", "aaab", "a", "c"]


def test_trained_tokenizer_round_trips_and_saves(tmp_path):
    assert train_tokenizer_main([str(_write(tmp_path / "t.txt", TEXT)), "--vocab-size", "320", "--out", str(tmp_path / "v")]) == 0
    tok = Tokenizer.from_pretrained(tmp_path / "v")
    assert tok.n_vocab == 320 and len(tok.ranks) == 320 - 257
    for text in (TEXT[:300], "Unseen words: zebra, quixotic, 42 — and émigré 😀"):
        assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(TEXT[:300])) < len(TEXT[:300].encode()) / 2  # it learned to compress this text
    for symbol, i in tok.encoder.items():  # the whole-piece shortcut holds for trained vocabularies too
        if symbol != "<|endoftext|>":
            assert [tok.encoder[s] for s in tok.bpe(symbol)] == [i]


def test_bpe_vocab_size_too_small():
    with pytest.raises(ValueError, match="at least 257"):
        train_bpe("abc", 100)


def _write(path, text):
    path.write_text(text)
    return path
