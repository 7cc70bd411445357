"""The GPT class: generation, streaming, stop strings, batching and input errors."""

import sys

import numpy as np
import pytest

from gptlite import GPT, Config
from gptlite.engine import left_pad
from gptlite.model import KVCache, attention_mask, hidden_states, init_params, lm_head
from gptlite.text import TextStream

from helpers import MODELS


def test_generate_returns_new_ids_only(tiny):
    ids = tiny.tokenizer.encode("The weather today is")
    new = tiny.generate(ids, max_new_tokens=8, temperature=0, eos_token_id=None)
    assert len(new) == 8 and all(isinstance(t, int) for t in new)


def test_generate_is_reproducible_with_a_seed(tiny):
    ids = tiny.tokenizer.encode("Once upon a time")
    a = tiny.generate(ids, 10, temperature=1.0, top_k=0, seed=3)
    assert a == tiny.generate(ids, 10, temperature=1.0, top_k=0, seed=3)
    assert a != tiny.generate(ids, 10, temperature=1.0, top_k=0, seed=4)


def test_generation_stops_at_end_of_text():
    """A model whose head always prefers <|endoftext|> stops at once, and the token is not returned."""
    config = Config(n_vocab=50257, n_ctx=32, n_embd=8, n_head=2, n_layer=1)
    params = init_params(config)
    params["wte"] = params["wte"].copy()
    params["ln_f"] = {"g": np.ones(8, np.float32), "b": np.ones(8, np.float32)}  # hidden state ~ all ones
    params["wte"][50256] = 10.0  # so <|endoftext|> has by far the largest logit
    gpt = GPT(config, params, GPT.from_pretrained(MODELS / "tiny").tokenizer)
    assert gpt.generate([1, 2, 3], 5, temperature=0) == []
    assert gpt.generate([1, 2, 3], 5, temperature=0, eos_token_id=None) == [50256] * 5
    assert gpt.complete("Hi", 5, temperature=0) == ""


def test_complete_equals_the_joined_stream(tiny):
    pieces = list(tiny.stream("The weather today is", 20, seed=0))
    assert len(pieces) > 1
    assert "".join(pieces) == tiny.complete("The weather today is", 20, seed=0)


def test_complete_decodes_generate(tiny):
    new = tiny.generate(tiny.tokenizer.encode("Hello"), 12, temperature=0)  # both stop at <|endoftext|>
    assert len(new) > 0
    assert tiny.complete("Hello", 12, temperature=0) == tiny.tokenizer.decode(new)


def test_stop_string_ends_the_text_before_it(tiny):
    full = tiny.complete("Hello", 30, temperature=0)
    stop = full[10:13]  # a string that occurs in the greedy continuation
    cut = tiny.complete("Hello", 30, temperature=0, stop=[stop])
    assert cut == full[: full.index(stop)]
    assert "".join(tiny.stream("Hello", 30, temperature=0, stop=stop)) == cut


def test_text_stream_holds_back_a_possible_stop_string(tiny):
    tok = tiny.tokenizer
    stream = TextStream(tok, ["STOP"])

    def feed(text):
        return "".join(stream.feed(t) for t in tok.encode(text))

    assert feed("abc ST") == "abc "  # "ST" might grow into "STOP": held back
    assert feed("AY") == "STAY" and not stream.stopped
    assert feed(" ok STO") == " ok "
    assert feed("P more") == "" and stream.stopped
    assert stream.text == "abc STAY ok "
    assert stream.finish() == ""


def test_batch_rows_equal_solo_runs_greedy(tiny):
    prompts = ["Hi", "The weather today is very", "A"]
    batch = tiny.complete(prompts, 12, temperature=0)
    assert batch == [tiny.complete(p, 12, temperature=0) for p in prompts]
    ids = [tiny.tokenizer.encode(p) for p in prompts]
    assert tiny.generate(ids, 12, temperature=0) == [tiny.generate(i, 12, temperature=0) for i in ids]


def test_batch_rows_equal_solo_runs_sampled(tiny):
    prompts = ["One two three", "x", "The quick brown fox jumps"]
    batch = tiny.complete(prompts, 15, temperature=1.0, top_p=0.9, seed=11)
    assert batch == [tiny.complete(p, 15, temperature=1.0, top_p=0.9, seed=11) for p in prompts]
    seeds = [1, 2, 3]
    batch = tiny.generate([tiny.tokenizer.encode(p) for p in prompts], 15, temperature=1.0, seed=seeds)
    assert batch == [
        tiny.generate(tiny.tokenizer.encode(p), 15, temperature=1.0, seed=s) for p, s in zip(prompts, seeds)
    ]


def test_batch_rows_stop_on_their_own(tiny):
    prompts = ["Hello", "Hello there"]
    full = tiny.complete(prompts, 25, temperature=0)
    stop = full[0][5:8]
    cut = tiny.complete(prompts, 25, temperature=0, stop=stop)
    for text, c in zip(full, cut):
        assert c == (text[: text.index(stop)] if stop in text else text)


def test_batch_logits_match_solo_logits(tiny):
    """Left padding changes nothing for a row: its first-step logits equal the solo run's."""
    a, b = tiny.tokenizer.encode("Hello"), tiny.tokenizer.encode("The weather today is nice")
    ids, real, positions = left_pad([a, b])
    n = len(b)
    x = hidden_states(tiny.params, ids, positions, attention_mask(real, n), KVCache(tiny.config, 2, n), tiny.config)
    np.testing.assert_allclose(lm_head(x[0, -1], tiny.params["wte"]), tiny(a)[-1], atol=1e-5)
    np.testing.assert_allclose(lm_head(x[1], tiny.params["wte"]), tiny(b), atol=1e-5)


def test_left_pad():
    ids, real, positions = left_pad([[5, 6], [7, 8, 9, 10], [11]], max_new_tokens=2)
    np.testing.assert_array_equal(ids, [[0, 0, 5, 6], [7, 8, 9, 10], [0, 0, 0, 11]])
    np.testing.assert_array_equal(real[:, :4], ids > 0)
    assert real.shape == (3, 6) and real[:, 4:].all()
    np.testing.assert_array_equal(positions, [[0, 0, 0, 1], [0, 1, 2, 3], [0, 0, 0, 0]])


def test_empty_prompt_starts_a_new_document(tiny):
    assert tiny.encode_prompt("") == [50256]
    assert len(tiny.complete("", 5, temperature=0)) > 0


def test_max_new_tokens_zero(tiny):
    assert tiny.complete("Hi", 0) == ""
    assert tiny.generate([1, 2], 0) == []


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: g.generate(list(range(100)), 5), "pass truncate_prompt=True"),
        (lambda g: g.complete("Hi", -1), "max_new_tokens"),
        (lambda g: g.complete("Hi", temperature=-0.5), "temperature"),
        (lambda g: g.complete("Hi", top_p=1.5), "top_p"),
        (lambda g: g.generate([], 5), "non-empty"),
        (lambda g: g.generate([1, 99999], 5), "token ids must be in"),
        (lambda g: g([0.5, 1.5]), "non-empty list of token ids"),
        (lambda g: g.generate([[1], [2]], 3, seed=[1]), "seeds"),
        (lambda g: g.complete(5), "must be a string or a list"),
    ],
)
def test_bad_input_raises_value_error(tiny, call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny)


def test_text_calls_need_a_tokenizer():
    gpt = GPT.from_pretrained(MODELS / "depth6")
    assert gpt.tokenizer is None
    assert len(gpt.generate([1, 2, 3], 4)) == 4
    with pytest.raises(ValueError, match="no tokenizer"):
        gpt.complete("Hi")


def test_numpy_numbers_work_wherever_python_numbers_do(tiny):
    ids = tiny.tokenizer.encode("Hello")
    expected = tiny.generate(ids, 4, temperature=0.7, top_k=5, seed=1)
    assert (
        tiny.generate(np.array(ids), np.int64(4), temperature=np.float32(0.7), top_k=np.int32(5), seed=np.int64(1))
        == expected
    )


def test_counts_take_numpy_integers_everywhere_and_refuse_bools_and_floats(tiny):
    """One check for every count (checks.count): the README says NumPy numbers work wherever Python's do."""
    text = "To be, or not to be, that is the question. " * 8
    assert tiny.score(text, stride=np.int64(32)).logprobs.tolist() == tiny.score(text, stride=32).logprobs.tolist()
    assert tiny.perplexity(text, batch_size=np.int64(2)).perplexity == tiny.perplexity(text, batch_size=2).perplexity
    assert tiny.perplexity(text, stride=np.int32(16)).perplexity == tiny.perplexity(text, stride=16).perplexity
    trace = tiny.trace("Hi", np.int64(3), alternatives=np.int64(3), temperature=0)
    assert [len(a) for _, a in trace.steps] == [3, 3, 3]
    assert len(tiny.beam_search(tiny.tokenizer.encode("Hi"), np.int64(3), num_beams=np.int64(2))) == 2
    assert tiny.generate([1, 2], max_length=np.int64(5), temperature=0) == tiny.generate([1, 2], 3, temperature=0)
    calls = {
        "stride": lambda v: tiny.score(text, stride=v),
        "context": lambda v: tiny.score(text, context=v),
        "batch_size": lambda v: tiny.perplexity(text, batch_size=v),
        "alternatives": lambda v: tiny.trace("Hi", 2, alternatives=v),
        "max_new_tokens": lambda v: tiny.generate([1, 2], v),
        "num_beams": lambda v: tiny.generate([1, 2], 3, num_beams=v),
        "num_return_sequences": lambda v: tiny.generate([1, 2], 3, num_return_sequences=v),
        "max_length": lambda v: tiny.generate([1, 2], max_length=v),
        "eos_token_id": lambda v: tiny.generate([1, 2], 3, eos_token_id=v),
        "seed": lambda v: tiny.generate([1, 2], 3, seed=v),
    }
    for name, call in calls.items():
        for bad in (True, 2.0, "3", np.float64(2.0)):
            with pytest.raises(ValueError, match=f"{name} must be an integer"):
                call(bad)


def test_the_default_end_token_and_length_are_resolved_once(tiny):
    eot = tiny.tokenizer.eot_token
    assert tiny.generate([1, 2], temperature=0) == tiny.generate([1, 2], 32, temperature=0, eos_token_id=eot)
    with pytest.raises(ValueError, match="eos_token_id must be an integer"):
        tiny.generate([1, 2], 3, eos_token_id="x")
    with pytest.raises(ValueError, match="eos_token_id must be an integer in \\[0, 50256\\]"):
        tiny.generate([1, 2], 3, eos_token_id=50257)
    with pytest.raises(ValueError, match="length_penalty must be a finite number"):
        tiny.generate([1, 2], 3, num_beams=2, length_penalty=float("nan"))
    with pytest.raises(ValueError, match="give max_new_tokens or max_length, not both"):
        tiny.generate([1, 2], 3, max_length=5)


def test_bools_are_not_token_ids(tiny):
    for call in (lambda ids: tiny.generate(ids, 2), lambda ids: tiny(ids), lambda ids: tiny.score(ids),
                 lambda ids: tiny.run(ids), lambda ids: tiny.beam_search(ids, 2)):  # fmt: skip
        for ids in ([True, 2], [np.bool_(False)], np.array([True, False])):
            with pytest.raises(ValueError, match="not bools"):
                call(ids)


def test_empty_bad_words_are_refused_rather_than_banning_end_of_text(tiny):
    for bad in ([""], "", [[]], [()]):
        with pytest.raises(ValueError, match="bad_words must be a list of non-empty texts"):
            tiny.generate([1, 2], 3, bad_words=bad)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"seed": "abc"}, "seed must be an integer"), ({"seed": -1}, "seed must be an integer"),
     ({"seed": 1.5}, "seed must be an integer"), ({"stop": 5}, "stop must be a string"),
     ({"stop": ["a", 3]}, "stop must be a string"), ({"max_new_tokens": True}, "max_new_tokens")],
)  # fmt: skip
def test_bad_generation_arguments(tiny, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny.complete("Hi", **{"max_new_tokens": 3, **kwargs})


def test_complete_of_no_prompts_is_no_texts(tiny):
    assert tiny.complete([]) == []


def test_a_model_with_more_embeddings_than_tokens_only_writes_tokens_that_have_text():
    """A vocabulary padded past the tokenizer (nanoGPT's 50304, say): the extra ids are never picked for text."""
    tokenizer = GPT.from_pretrained(MODELS / "tiny").tokenizer
    config = Config(n_vocab=50304, n_ctx=32, n_embd=8, n_head=2, n_layer=1)
    params = init_params(config)
    params["wte"] = params["wte"].copy()
    params["wte"][50257:] = 5.0  # with a hidden state of about all ones, the padding ids win every time
    params["ln_f"] = {"g": np.ones(8, np.float32), "b": np.ones(8, np.float32)}
    gpt = GPT(config, params, tokenizer)
    assert min(gpt.generate([1, 2], 4, temperature=0)) >= 50257  # as ids, they can be had
    trace = gpt.trace("Hi", 4, temperature=0)
    assert all(chosen.id < 50257 for chosen, _ in trace.steps) and len(trace.steps) > 0
    assert isinstance(gpt.complete("Hi", 5, temperature=0), str)


def test_models_and_tokenizers_show_themselves(tiny):
    text = repr(tiny)
    assert text.startswith("GPT(") and "layers 2" in text and "width 16" in text and "vocabulary 50257" in text
    assert "parameters 0.8 M" in text and str(MODELS / "tiny") in text
    html = tiny._repr_html_()
    assert html.startswith("<table>") and "<th style='text-align:left'>layers</th><td>2</td>" in html
    params = repr(tiny.params)
    assert params.count("\n") < 30 and "h.*.attn.c_attn.w" in params and "x 2" in params
    assert (
        repr(tiny.tokenizer) == "Tokenizer(50257 tokens: 256 bytes, 50000 merges; special tokens: <|endoftext|>=50256)"
    )


def test_progress_bars_stay_quiet_when_asked_or_redirected(monkeypatch):
    from gptlite.progress import progress_bar

    assert progress_bar(quiet=True, total=3).disable
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert progress_bar(total=3).disable  # output goes to a file or a pipe
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert not progress_bar(total=3).disable
