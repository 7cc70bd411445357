"""Measuring a model: scores, perplexity by Hugging Face's guide, LAMBADA, multiple choice, and the eval command."""

import json
import math
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from gptlite import GPT, course, scoring
from gptlite.eval import main as eval_main
from gptlite.model import log_softmax
from gptlite.releases import BUNDLED_DIR
from gptlite.scoring import check_window, lambada, multiple_choice, perplexity, windows

from helpers import FIXTURES, MODELS

TASKS = FIXTURES / "tasks"
REF = dict(np.load(TASKS / "reference.npz"))
HAMLET = course.text("hamlet")


def test_score_is_the_log_softmax_of_the_logits(tiny):
    text = "The weather today is fine, and the sun is shining over the hills."
    score = tiny.score(text)
    ids = [50256, *tiny.tokenizer.encode(text)]  # the first token is conditioned on <|endoftext|>
    expected = log_softmax(tiny(ids).astype(np.float64))[np.arange(len(ids) - 1), ids[1:]]
    np.testing.assert_allclose(score.logprobs, expected, atol=1e-6)
    assert score.n_tokens == len(ids) - 1 and score.n_bytes == len(text.encode())
    assert math.isclose(score.perplexity, math.exp(-expected.mean()), rel_tol=1e-6)
    assert math.isclose(score.bits_per_byte, -expected.sum() / math.log(2) / len(text.encode()), rel_tol=1e-6)
    unconditioned = tiny.score(text, prepend_eot=False)
    assert unconditioned.n_tokens == len(ids) - 2
    assert unconditioned.n_bytes == len(text.encode()) - len(tiny.tokenizer.decode_bytes(ids[1:2]))
    np.testing.assert_allclose(tiny.score(ids[1:], prepend_eot=False).logprobs, unconditioned.logprobs)


def test_a_long_text_is_scored_in_windows_every_token_once(tiny):
    text = HAMLET[:3000]
    score = tiny.score(text)  # far longer than the 64-token context
    ids = [50256, *tiny.tokenizer.encode(text)]
    assert score.n_tokens == len(ids) - 1 and list(score.targets) == ids[1:]
    assert score.n_bytes == len(text.encode())
    window = ids[96:160]  # stride 32, context 64: the window at 96 scores tokens 128..159
    expected = log_softmax(tiny(window).astype(np.float64))[31:63][np.arange(32), window[32:64]]
    np.testing.assert_allclose(score.logprobs[127:159], expected, atol=1e-6)


def test_windows_move_as_the_guide_moves_them():
    stream = [np.arange(3), np.arange(3, 7), np.arange(7, 10)]  # 10 tokens, arriving in 3 chunks
    shown = lambda ctx, stride: [(list(map(int, w)), p, n) for w, p, n in windows(stream, ctx, stride)]  # noqa: E731
    assert shown(4, 2) == [([0, 1, 2, 3], 0, 4), ([2, 3, 4, 5], 1, 2), ([4, 5, 6, 7], 1, 2), ([6, 7, 8, 9], 1, 2)]
    assert shown(4, 4) == [([0, 1, 2, 3], 0, 4), ([4, 5, 6, 7], 0, 4), ([8, 9], 0, 2)]


@pytest.mark.parametrize("stride", [32, 64])  # the guide's stride 512 and 1024, for a context of 1024
def test_perplexity_equals_the_guides_code_run_with_transformers(tiny, stride):
    text = HAMLET[: int(REF["n_text_chars"])]
    result = tiny.perplexity(text, stride=stride)
    assert math.isclose(result.guide_perplexity, REF[f"guide_{stride}"], rel_tol=1e-5)
    assert math.isclose(result.perplexity, REF[f"exact_{stride}"], rel_tol=1e-5)
    if stride == 64:  # windows that do not overlap: the guide's weighting is exact
        assert math.isclose(result.perplexity, result.guide_perplexity, rel_tol=1e-9)
    else:
        assert result.perplexity != result.guide_perplexity
    batched = tiny.perplexity(text, stride=stride, batch_size=8)
    assert math.isclose(batched.perplexity, result.perplexity, rel_tol=1e-6)


def test_perplexity_of_a_stream_equals_the_whole_text(tiny):
    text = HAMLET[:6000]
    whole = tiny.perplexity(text, stride=48)
    chunks = [text[i : i + 997] for i in range(0, len(text), 997)]
    streamed = perplexity(tiny, tiny.tokenizer.encode_stream(chunks), stride=48)
    assert streamed.n_scored == whole.n_scored and math.isclose(streamed.perplexity, whole.perplexity, rel_tol=1e-9)


def test_a_stream_is_read_in_bounded_memory(tiny):
    """Ten million tokens go through the windows with only about a context and a chunk held at once."""
    chunks = (np.full(100_000, 7, np.int64) for _ in range(100))
    tracemalloc.start()
    n = sum(1 for _ in windows(chunks, 64, 64))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 10_000_000 // 64 and peak < 10 * 2**20


def test_lambada_matches_the_harness_and_the_paper_protocol(tiny):
    passages = [json.loads(line)["text"] for line in (TASKS / "lambada.jsonl").read_text().splitlines()]
    result = lambada(tiny, passages, batch_size=5)
    np.testing.assert_allclose(result.loglikelihoods, REF["lambada_ll"], rtol=1e-5)
    assert result.greedy == REF["lambada_greedy"].tolist() and result.paper_correct == REF["lambada_paper"].tolist()
    assert math.isclose(result.perplexity, math.exp(-REF["lambada_ll"].mean()), rel_tol=1e-5)


def test_multiple_choice_matches_transformers(tiny):
    items = [json.loads(line) for line in (TASKS / "choice.jsonl").read_text().splitlines()]
    result = multiple_choice(tiny, items)
    np.testing.assert_allclose(result.sums, REF["choice_sums"], rtol=1e-5)
    np.testing.assert_allclose(result.means, REF["choice_means"], rtol=1e-5)
    labels = [item["label"] for item in items]
    assert result.accuracy == np.mean(REF["choice_sums"].argmax(1) == labels)
    assert result.accuracy_norm == np.mean(REF["choice_means"].argmax(1) == labels)


def test_the_bundled_model_card_number_is_what_the_eval_command_measures(capsys):
    """The held-out split of the bundled model, scored through the command; the card quotes the same number."""
    card = (BUNDLED_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    quoted = float(re.search(r"\*\*([0-9.]+) bits per byte\*\* over the whole held-out split", card).group(1))
    path = BUNDLED_DIR.parent / "course" / "shakespeare_heldout.txt"
    assert eval_main([str(path), "--model", "gptlite-shakespeare", "--stride", "128", "--batch-size", "16", "--json",
                      "--quiet"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert round(report["bits_per_byte"], 3) == quoted <= 2.5
    assert report["tokens"] > 90_000 and report["tokens_per_second"] > 0


def run_eval(*args, **kwargs):
    command = [sys.executable, "-m", "gptlite.eval", *args, "--model", str(MODELS / "tiny")]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


def test_eval_command_tasks_and_stdin(tmp_path):
    run = run_eval
    out = run("-", "--stride", "32", "--json", input=HAMLET[: int(REF["n_text_chars"])])
    assert out.returncode == 0, out.stderr
    assert math.isclose(json.loads(out.stdout)["guide_perplexity"], REF["guide_32"], rel_tol=1e-5)
    out = run(str(TASKS / "lambada.jsonl"), "--task", "lambada")
    assert out.returncode == 0 and "accuracy" in out.stdout and "perplexity" in out.stdout
    out = run(str(TASKS / "choice.jsonl"), "--task", "choice", "--json")
    assert json.loads(out.stdout)["items"] == 6


@pytest.mark.parametrize(
    "content, args, message",
    [('{"text": "a b"}\nnot json\n', ["--task", "lambada"], ":2: not a JSON object"),
     ('{"context": "a", "endings": ["b"], "label": 0}\n', ["--task", "choice"], "two or more"),
     ('{"txt": "a b"}\n', ["--task", "lambada"], 'must be {"text"'),
     ("hello world", ["--stride", "100"], "stride must be"),
     ("hello world", ["--context", "500"], "context must be"),
     (b"\xff\xfe bad utf-8", [], "not UTF-8")],
)  # fmt: skip
def test_eval_command_errors_are_one_line(tmp_path, capsys, content, args, message):
    path = tmp_path / "input"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert eval_main([str(path), "--model", str(MODELS / "tiny"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_batched_logits_are_each_sequences_own(tiny):
    a, b = tiny.tokenizer.encode("Hello"), tiny.tokenizer.encode("The weather today is nice and warm")
    out = tiny([a, b])
    assert [o.shape for o in out] == [(len(a), 50257), (len(b), 50257)]
    np.testing.assert_allclose(out[0], tiny(a), atol=1e-5)
    np.testing.assert_allclose(out[1], tiny(b), atol=1e-5)


@pytest.mark.parametrize("name", ["gptlite-shakespeare", "tiny"])
def test_the_default_window_works_for_every_model(name, tiny):
    """One default stride, half the context, for score, perplexity and the windows: gpt.perplexity(text) with
    its defaults failed on the bundled model (context 128) when perplexity's own default was 512."""
    gpt = tiny if name == "tiny" else GPT.from_pretrained(name)
    text = "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. " * 12
    n_ctx = gpt.config.n_ctx
    assert len(gpt.tokenizer.encode(text)) > 2 * n_ctx  # several windows
    default = gpt.perplexity(text)
    assert default.windows > 2 and default.perplexity == gpt.perplexity(text, stride=n_ctx // 2).perplexity
    assert gpt.score(text).logprobs.tolist() == gpt.score(text, context=n_ctx, stride=n_ctx // 2).logprobs.tolist()
    assert check_window(gpt, None, None) == (n_ctx, n_ctx // 2) and check_window(gpt, 2, None) == (2, 1)


def test_a_continuation_longer_than_the_context_is_refused_not_scored_wrong(tiny):
    """It was scored against the wrong positions (a negative window start), or raised IndexError/broadcast errors."""
    n_ctx = tiny.config.n_ctx
    long_word = "".join(chr(0x4E00 + i) for i in range(n_ctx))  # one word of CJK: 2-3 tokens a character
    assert len(tiny.tokenizer.encode(long_word)) > n_ctx
    choice = {"context": "Hi", "endings": [long_word, "b"], "label": 0}
    for call in (lambda: lambada(tiny, [f"The last word is {long_word}"]), lambda: multiple_choice(tiny, [choice])):
        with pytest.raises(ValueError, match="longer than the model's context"):
            call()


def test_multiple_choice_endings_run_in_bounded_batches(tiny, monkeypatch):
    item = {"context": "The weather today is", "endings": [f"ending number {i}" for i in range(11)], "label": 3}
    sizes = []
    real = scoring.window_logprobs
    monkeypatch.setattr(scoring, "window_logprobs", lambda gpt, jobs: sizes.append(len(jobs)) or real(gpt, jobs))
    small = multiple_choice(tiny, [item], batch_size=3)
    assert sizes == [3, 3, 3, 2]
    assert small.sums == multiple_choice(tiny, [item], batch_size=16).sums
    for label in (True, 1.0, "1"):
        with pytest.raises(ValueError, match="an item must be"):
            multiple_choice(tiny, [{**item, "label": label}])


def test_the_eval_command_scores_a_choices_endings_batch_size_at_a_time(monkeypatch, capsys):
    sizes, real = [], scoring.window_logprobs
    monkeypatch.setattr(scoring, "window_logprobs", lambda gpt, jobs: sizes.append(len(jobs)) or real(gpt, jobs))
    choice = str(TASKS / "choice.jsonl")
    assert eval_main([choice, "--task", "choice", "--model", str(MODELS / "tiny"), "--batch-size", "2", "--json"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert max(sizes) == 2 and two["items"] == 6
    sizes.clear()
    assert eval_main([choice, "--task", "choice", "--model", str(MODELS / "tiny"), "--batch-size", "8", "--json"]) == 0
    assert max(sizes) > 2 and json.loads(capsys.readouterr().out)["accuracy"] == two["accuracy"]
