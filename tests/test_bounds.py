"""Hardening (issue 23): requests bounded before they allocate, time that does not grow with the history, options
that would be silently ignored refused, and interrupts that leave nothing behind."""

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from gptlite import GPT, parallel, sampling
from gptlite.generate import main
from gptlite.sampling import History, Sampler, apply_repetition_penalty, ban_repeated_ngrams
from gptlite.text import TextStream

from helpers import MODELS


@pytest.fixture(scope="module")
def peaky():
    return GPT.from_pretrained(MODELS / "peaky")  # 200 tokens, context 64


def test_requests_that_cannot_fit_are_refused_before_they_allocate(tiny):
    for call in (
        lambda: tiny.generate([1, 2, 3], 20, num_return_sequences=10**7),
        lambda: tiny.complete("Hi", 20, num_return_sequences=10**7),
        lambda: tiny.generate([1, 2, 3], 20, num_beams=10**6, temperature=0),
    ):
        start = time.perf_counter()
        with pytest.raises(ValueError, match=r"needs [\d.]+ GiB, more than the [\d.]+ GiB free"):
            call()
        assert time.perf_counter() - start < 10


def test_more_beams_than_tokens_search_as_transformers_does(peaky):
    hypotheses = peaky.beam_search([1, 2, 3], 4, num_beams=300)  # 2 x 300 candidates from a 200-token vocabulary
    assert len(hypotheses) == 300 and hypotheses[0].score >= hypotheses[-1].score
    assert hypotheses[0].ids == peaky.beam_search([1, 2, 3], 4, num_beams=300)[0].ids


def test_beam_search_refuses_the_options_it_would_ignore(peaky):
    for options in ({"temperature": 0.7}, {"top_k": 5}, {"top_p": 0.9}, {"min_p": 0.1}, {"seed": 3}):
        with pytest.raises(ValueError, match="beam search does not sample"):
            peaky.generate([1, 2, 3], 4, num_beams=2, **options)
    with pytest.raises(ValueError, match="beam search does not sample"):
        peaky.beam_search([1, 2, 3], 4, temperature=1.0)
    assert peaky.generate([1, 2, 3], 4, num_beams=2, temperature=0, top_k=0, repetition_penalty=1.2)


@pytest.mark.parametrize(
    "args, message",
    [(["Hi", "-t", "inf"], "temperature must be >= 0 and finite"),
     (["-i", "--num-beams", "2"], "-i samples one answer a turn"),
     (["-i", "--num-return-sequences", "2"], "-i samples one answer a turn"),
     (["Hi", "--num-beams", "2", "-t", "0.9"], "beam search does not sample"),
     (["Hi", "--num-beams", "2", "--seed", "1"], "beam search does not sample")],
)  # fmt: skip
def test_the_command_refuses_what_it_would_ignore(args, message, capsys):
    assert main([*args, "--model", str(MODELS / "tiny"), "-n", "3"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_penalties_kept_as_the_history_grows_equal_their_plain_definitions():
    rng = np.random.default_rng(0)
    for _ in range(30):
        ids = rng.integers(0, 12, rng.integers(0, 60)).tolist()  # a small vocabulary: many repeated n-grams
        history, logits = History(), rng.standard_normal(12).astype(np.float32)
        for n in (1, 2, 3, 4):
            history.completions(n)  # indexed while empty, then kept up to date token by token
        for token in ids:
            history.append(token)
        for n in (1, 2, 3, 4, 5):
            sampler = Sampler(temperature=0, no_repeat_ngram_size=n, repetition_penalty=1.4)
            expected = ban_repeated_ngrams(apply_repetition_penalty(logits, ids, 1.4), ids, n)
            np.testing.assert_array_equal(sampler.constrain(logits, history), expected)
            np.testing.assert_array_equal(sampler.constrain(logits, ids), expected)  # a plain list is indexed once


def test_decoding_never_reads_the_whole_history_each_step(peaky, monkeypatch):
    """The penalties came from a scan of the whole history at every step (25.9 ms a token at 100k tokens);
    decoding now keeps them up to date token by token, and never calls the scanning definitions."""
    expected = peaky.generate([1, 2, 3], 150, temperature=0, repetition_penalty=1.3, no_repeat_ngram_size=2)

    def scans(*args):
        raise AssertionError("a scan of the whole history")

    monkeypatch.setattr(sampling, "apply_repetition_penalty", scans)
    monkeypatch.setattr(sampling, "ban_repeated_ngrams", scans)
    got = peaky.generate([1, 2, 3], 150, temperature=0, repetition_penalty=1.3, no_repeat_ngram_size=2)
    assert got == expected and len(got) == 150  # past the context of 64: the window slid, the history did not


def stop_oracle(pieces, stop):
    """What TextStream must hand out, by the plain definition: after each piece, search the whole text so far;
    at the first piece after which a stop string appears, cut before the first one and stop."""
    text = ""
    for piece in pieces:
        text += piece
        cuts = [text.find(s) for s in stop if s and s in text]
        if cuts:
            return text[: min(cuts)]
    return text


class Pieces:
    """A tokenizer stand-in whose token i decodes to pieces[i]."""

    def __init__(self, pieces):
        self.pieces = pieces

    def stream_decoder(self):
        decode = self.pieces.__getitem__

        class Decoder:
            def __call__(self, token):
                return decode(token)

            def flush(self):
                return ""

        return Decoder()


def test_stop_strings_are_found_in_time_linear_in_the_text():
    rng = np.random.default_rng(1)
    for _ in range(300):  # random pieces over a small alphabet: stop strings start, fail and overlap
        pieces = ["".join(rng.choice(list("abc"), rng.integers(1, 4))) for _ in range(rng.integers(1, 30))]
        stop = ["".join(rng.choice(list("abc"), rng.integers(1, 5))) for _ in range(rng.integers(1, 3))]
        stream = TextStream(Pieces(pieces), stop)
        out = "".join(stream.feed(i) for i in range(len(pieces))) + stream.finish()
        assert out == stop_oracle(pieces, stop)
    long_stop = "ab" * 50_000  # 100,000 characters: each token used to cost a scan of all its prefixes
    pieces = ["ab"] * 200 + ["x"]
    start = time.perf_counter()
    stream = TextStream(Pieces(pieces), [long_stop])
    out = "".join(stream.feed(i) for i in range(len(pieces))) + stream.finish()
    assert out == "ab" * 200 + "x" and time.perf_counter() - start < 5  # was about a minute


def test_an_interrupt_while_joining_the_helper_thread_leaves_no_thread_behind(monkeypatch):
    monkeypatch.setenv("GPTLITE_PARALLEL", "on")
    gpt = GPT.from_pretrained(MODELS / "peaky")
    real_join, calls = threading.Thread.join, []

    def interrupted_join(self, *args, **kwargs):
        calls.append(self.name)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_join(self, *args, **kwargs)

    monkeypatch.setattr(threading.Thread, "join", interrupted_join)
    with pytest.raises(KeyboardInterrupt):
        gpt.generate([[1, 2], [3, 4]], 3, temperature=0)  # a batch's decode steps run on two threads
    monkeypatch.setattr(threading.Thread, "join", real_join)
    assert calls[:2] == ["gptlite-parallel", "gptlite-parallel"]  # joined again before the interrupt went on
    assert not any(t.name == "gptlite-parallel" and t.is_alive() for t in threading.enumerate())
    assert parallel.runs(gpt.config, 2, 1)
    assert len(gpt.generate([[1, 2], [3, 4]], 3, temperature=0)) == 2


def test_a_prompt_too_long_for_a_call_without_truncation_says_only_that(peaky):
    for call in (lambda: peaky.run(list(range(100))), lambda: peaky(list(range(100))),
                 lambda: peaky.trace(list(range(100)), 2)):  # fmt: skip
        with pytest.raises(ValueError) as error:
            call()
        assert str(error.value) == "the prompt (100 tokens) is longer than the model's context of 64 tokens"
    with pytest.raises(ValueError, match="pass truncate_prompt=True"):
        peaky.generate(list(range(100)), 2)


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.2])
def test_ctrl_c_at_any_moment_of_a_command_is_one_line(delay):
    """While the package is still importing (the first second or so), and later while it generates: no traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gptlite.generate", "Hello", "--model", str(MODELS / "tiny"), "-n", "100000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    assert process.returncode in (130, -signal.SIGINT)
