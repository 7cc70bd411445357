"""What generate offers beyond sampling: beam search, n-gram blocking, min_new_tokens, several sequences, max_length,
min-p, bad words and logit bias; checked against transformers' generate where it has the same option."""

import numpy as np
import pytest

from gptlite import GPT
from gptlite.decoding import Sampling, decode
from gptlite.sampling import Sampler, apply_min_p, ban_bad_words, ban_repeated_ngrams

from helpers import MODELS

REF = dict(np.load(MODELS / "peaky" / "generation.npz"))
PROMPT, EOS = REF["prompt"].tolist(), int(REF["eos"])


@pytest.fixture(scope="module")
def peaky():
    return GPT.from_pretrained(MODELS / "peaky")


def until_eos(sequence):
    """transformers pads finished sequences with the end token; gptlite returns the new tokens before it."""
    sequence = list(map(int, sequence))
    return sequence[: sequence.index(EOS)] if EOS in sequence else sequence


@pytest.mark.parametrize("length_penalty", [0.5, 2.0])
@pytest.mark.parametrize("early_stopping", [True, False])
def test_beam_search_matches_transformers(peaky, length_penalty, early_stopping):
    key = f"beam_{length_penalty}_{early_stopping}"
    hypotheses = peaky.beam_search(PROMPT, 24, num_beams=4, length_penalty=length_penalty,
                                   early_stopping=early_stopping, eos_token_id=EOS)  # fmt: skip
    assert [h.ids for h in hypotheses] == [until_eos(s) for s in REF[key + "_sequences"]]
    np.testing.assert_allclose([h.score for h in hypotheses], REF[key + "_scores"], atol=1e-4)
    best = peaky.generate(PROMPT, 24, num_beams=4, length_penalty=length_penalty, early_stopping=early_stopping,
                          eos_token_id=EOS)  # fmt: skip
    assert best == hypotheses[0].ids
    two = peaky.generate(PROMPT, 24, num_beams=4, num_return_sequences=2, length_penalty=length_penalty,
                         early_stopping=early_stopping, eos_token_id=EOS)  # fmt: skip
    assert two == [h.ids for h in hypotheses[:2]]


@pytest.mark.parametrize("n", [2, 3])
def test_no_repeat_ngram_size_matches_transformers(peaky, n):
    new = peaky.generate(PROMPT, 24, temperature=0, no_repeat_ngram_size=n, eos_token_id=None)
    assert new == REF[f"ngram_{n}"].tolist()
    history = PROMPT + new
    assert len({tuple(history[i : i + n]) for i in range(len(history) - n + 1)}) == len(history) - n + 1


def test_min_new_tokens_matches_transformers(peaky):
    assert peaky.generate(PROMPT, 24, temperature=0, eos_token_id=EOS) == until_eos(REF["greedy_with_eos"])
    assert len(until_eos(REF["greedy_with_eos"])) < 12  # so the option has something to do
    assert peaky.generate(PROMPT, 24, temperature=0, min_new_tokens=12, eos_token_id=EOS) == until_eos(
        REF["min_new_tokens_12"]
    )


def test_several_sequences_with_seeds(peaky):
    out = peaky.generate(PROMPT, 10, num_return_sequences=3, seed=7, temperature=1.0, eos_token_id=None)
    assert len(out) == 3 and all(len(s) == 10 for s in out)
    assert out == peaky.generate(PROMPT, 10, num_return_sequences=3, seed=7, temperature=1.0, eos_token_id=None)
    assert out[0] == peaky.generate(PROMPT, 10, seed=7, temperature=1.0, eos_token_id=None)  # sequence j: seed + j
    assert out[2] == peaky.generate(PROMPT, 10, seed=9, temperature=1.0, eos_token_id=None)
    batch = peaky.generate([PROMPT, PROMPT[:5]], 6, num_return_sequences=2, seed=[1, 2], temperature=1.0)
    assert [[len(s) for s in prompt] for prompt in batch] == [[6, 6], [6, 6]]


def test_max_length_counts_the_prompt(peaky):
    assert len(peaky.generate(PROMPT, max_length=len(PROMPT) + 5, temperature=0, eos_token_id=None)) == 5
    with pytest.raises(ValueError, match="not both"):
        peaky.generate(PROMPT, 5, max_length=20)


def test_min_p_bad_words_and_logit_bias(peaky):
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], np.float32))
    assert np.isfinite(apply_min_p(logits, 0.2)).tolist() == [True, True, True, False]  # 0.05 < 0.2 * 0.5
    assert np.isinf(ban_repeated_ngrams(np.zeros(5, np.float32), [1, 2, 3, 1, 2], 3)).tolist() == [
        False, False, False, True, False]  # fmt: skip  # "1 2" was followed by 3 before
    assert np.isinf(ban_bad_words(np.zeros(5, np.float32), [0, 4], [(4, 2), (1,)])).tolist() == [
        False, True, True, False, False]  # fmt: skip
    forced = peaky.generate(PROMPT, 6, temperature=0, logit_bias={5: 100.0}, eos_token_id=None)
    assert forced == [5] * 6
    greedy = peaky.generate(PROMPT, 12, temperature=0, eos_token_id=None)
    banned = peaky.generate(PROMPT, 12, temperature=0, bad_words=[[greedy[0]]], eos_token_id=None)
    assert greedy[0] not in banned
    assert peaky.generate(PROMPT, 8, temperature=1.0, min_p=0.9, seed=0, eos_token_id=None) == peaky.generate(
        PROMPT, 8, temperature=0, eos_token_id=None)  # fmt: skip  # min-p 0.9 leaves only the likeliest here


@pytest.mark.parametrize(
    "kwargs, message",
    [({"num_beams": 0}, "num_beams"), ({"num_beams": 2, "num_return_sequences": 3}, "at most num_beams"),
     ({"num_return_sequences": 2, "temperature": 0}, "greedy decoding gives one"),
     ({"min_p": 2}, "min_p"), ({"no_repeat_ngram_size": -1}, "no_repeat_ngram_size"),
     ({"logit_bias": [1, 2]}, "logit_bias"), ({"logit_bias": {99999: 1.0}}, "logit_bias"),
     ({"bad_words": [[]]}, "bad_words"), ({"num_beams": 2, "early_stopping": "sometimes"}, "early_stopping"),
     ({"max_length": 3}, "max_length")],
)  # fmt: skip
def test_bad_generation_options(peaky, kwargs, message):
    with pytest.raises(ValueError, match=message):
        peaky.generate(PROMPT, **({"max_new_tokens": 4} if "max_length" not in kwargs else {}), **kwargs)


def test_the_sampler_keeps_transformers_order():
    """Bans come before temperature: a banned token stays banned however the rest is scaled."""
    sampler = Sampler(temperature=0.5, top_k=0, no_repeat_ngram_size=2, logit_bias=((0, 1.0),))
    out = sampler.process(np.zeros(4, np.float32), [1, 2, 1])
    assert out[2] == -np.inf and out[0] == 2.0 and out[1] == 0.0


def windowed_greedy(gpt, prompt, n_new):
    """The oracle for sliding: each token from a fresh forward pass over the current window, which, once the
    text outgrows the context, restarts from the last n_ctx // 2 tokens."""
    history, start, n_ctx = list(prompt), 0, gpt.config.n_ctx
    for _ in range(n_new):
        if len(history) - start > n_ctx:
            start = len(history) - n_ctx // 2
        history.append(int(np.argmax(gpt(history[start:])[-1])))
    return history[len(prompt) :]


def test_generation_past_the_context_slides_the_window(peaky):
    slides = []
    new = list(
        decode(peaky.engine, [PROMPT], 150, Sampling(Sampler(temperature=0), [None]), on_slide=lambda: slides.append(1))
    )
    got = [t for step in new for _, t in step]
    assert got == windowed_greedy(peaky, PROMPT, 150)  # n_ctx 64: several slides
    assert len(got) == 150 and len(slides) == 3  # at 65, 98 and 131 tokens: each keeps 32, with room for 32
    assert peaky.generate(PROMPT, 150, temperature=0, eos_token_id=None) == got
    batch = peaky.generate([PROMPT, PROMPT[:3]], 100, temperature=0, eos_token_id=None)
    assert batch[0] == windowed_greedy(peaky, PROMPT, 100)  # the longest row slides as it would alone
    assert batch[1][:40] == windowed_greedy(peaky, PROMPT[:3], 40)  # the others do until the first slide
    assert len(batch[1]) == 100


def test_a_prompt_longer_than_the_context_is_cut_only_when_asked(peaky):
    long = list(range(1, 101))  # 100 tokens, context 64
    with pytest.raises(ValueError, match="truncate_prompt=True"):
        peaky.generate(long, 3)
    assert peaky.generate(long, 5, temperature=0, truncate_prompt=True, eos_token_id=None) == peaky.generate(
        long[-64:], 5, temperature=0, eos_token_id=None)  # fmt: skip


def test_text_calls_take_the_same_options(tiny):
    plain = tiny.complete("Hello", 12, temperature=0)
    blocked = tiny.complete("Hello", 12, temperature=0, no_repeat_ngram_size=1)
    ids = tiny.tokenizer.encode("Hello" + blocked)
    assert len(set(ids)) == len(ids) and blocked != plain
    assert "".join(tiny.stream("Hello", 12, temperature=0, no_repeat_ngram_size=1)) == blocked
    texts = tiny.complete("Hello", 6, num_return_sequences=2, seed=3, temperature=1.0)
    assert len(texts) == 2 and texts[0] == tiny.complete("Hello", 6, seed=3, temperature=1.0)
    beams = tiny.complete(["Hello", "Hi"], 6, num_beams=3, num_return_sequences=2)
    assert [len(b) for b in beams] == [2, 2]
    assert tiny.complete("Hello", 6, num_beams=3) == tiny.tokenizer.decode(
        tiny.generate(tiny.tokenizer.encode("Hello"), 6, num_beams=3)
    )


def test_beam_search_edge_cases(peaky):
    assert peaky.generate(PROMPT, 0, num_beams=3) == []
    assert peaky.beam_search(PROMPT, 0)[0].ids == []
    for bad in (-1, "x", 1.5):
        with pytest.raises(ValueError, match="max_new_tokens must be an integer"):
            peaky.generate(PROMPT, bad, num_beams=2)
        with pytest.raises(ValueError, match="max_new_tokens must be an integer"):
            peaky.beam_search(PROMPT, bad)
