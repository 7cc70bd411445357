"""The sampler against transformers' logits processors, and its own guarantees."""

import numpy as np
import pytest

from gptlite.sampling import Sampler, apply_repetition_penalty, apply_top_k, apply_top_p

from helpers import FIXTURES


def test_matches_transformers_processors():
    ref = np.load(FIXTURES / "sampling_reference.npz")
    settings = [k for k in ref.files if k not in ("logits", "seen")]
    assert len(settings) == 4
    for key in settings:
        penalty, temperature, k, p = key.split("_")
        sampler = Sampler(float(temperature), int(k), float(p), float(penalty))
        for row, history, expected in zip(ref["logits"], ref["seen"], ref[key]):
            got = sampler.process(row, history)
            np.testing.assert_array_equal(np.isinf(got), np.isinf(expected), err_msg=key)
            np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-6, err_msg=key)


def test_repetition_penalty_divides_positive_and_multiplies_negative():
    out = apply_repetition_penalty(np.array([2.0, -2.0, 3.0], np.float32), [0, 1, 1], 2.0)
    np.testing.assert_array_equal(out, [1.0, -4.0, 3.0])
    assert out.dtype == np.float32


def test_top_k_keeps_ties():
    out = apply_top_k(np.array([1, 3, 3, 2, 3], np.float32), 2)
    np.testing.assert_array_equal(np.isfinite(out), [False, True, True, False, True])


def test_top_p_keeps_at_least_the_best_token():
    out = apply_top_p(np.array([0, 10, 0], np.float32), 0.01)
    np.testing.assert_array_equal(np.isfinite(out), [False, True, False])


def test_greedy_is_argmax_after_penalty():
    logits = np.array([1.0, 5.0, 4.0], np.float32)
    assert Sampler(temperature=0)(logits, [], None) == 1
    assert Sampler(temperature=0, repetition_penalty=2.0)(logits, [1], None) == 2


def test_sampling_is_seeded_and_follows_the_distribution():
    logits = np.log(np.array([0.1, 0.6, 0.3], np.float32))
    sampler = Sampler(temperature=1.0, top_k=0)
    draws = [sampler(logits, [], np.random.default_rng(s)) for s in range(3000)]
    assert np.bincount(draws, minlength=3) / 3000 == pytest.approx([0.1, 0.6, 0.3], abs=0.03)
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    assert [sampler(logits, [], rng_a) for _ in range(20)] == [sampler(logits, [], rng_b) for _ in range(20)]


def test_never_samples_an_excluded_token():
    logits = np.array([0, 0, 0, 0, 9], np.float32)
    sampler = Sampler(temperature=5.0, top_k=1)
    assert {sampler(logits, [], np.random.default_rng(s)) for s in range(200)} == {4}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -1}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
        ({"temperature": float("nan")}, "temperature"),
    ],
)
def test_bad_settings_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Sampler(**kwargs)


def test_top_p_cut_matches_transformers_over_the_full_vocabulary():
    """Rows chosen (scripts/make_fixtures.py) where a float32 running sum would keep a different set."""
    ref = np.load(FIXTURES / "top_p_full_vocab.npz")
    for logits, p, kept in zip(ref["logits"], ref["p"], ref["kept"]):
        np.testing.assert_array_equal(np.isfinite(apply_top_p(logits, float(p))), kept)


def test_nan_and_plus_inf_logits_raise_instead_of_picking_a_token():
    rng = np.random.default_rng(0)
    for bad in (np.nan, np.inf):
        logits = np.zeros(10, np.float32)
        logits[3] = bad
        for sampler in (Sampler(temperature=0), Sampler()):
            with pytest.raises(ValueError, match="NaN or \\+inf"):
                sampler(logits, [], rng)
            with pytest.raises(ValueError, match="NaN or \\+inf"):
                sampler.distribution(logits, [])
    with pytest.raises(ValueError, match="too small"):
        Sampler(temperature=1e-45)(np.array([5.0, 1.0], np.float32), [], rng)
    forced = dict(logit_bias=((2, np.inf),))  # greedy takes the forced token; sampling has no distribution left
    assert Sampler(temperature=0, **forced)(np.zeros(4, np.float32), [], rng) == 2
    with pytest.raises(ValueError, match="a logit_bias of \\+inf gives no distribution to sample from"):
        Sampler(**forced)(np.zeros(4, np.float32), [], rng)
    for sampler in (Sampler(temperature=0), Sampler()):  # -inf everywhere: nothing is possible
        with pytest.raises(ValueError, match="no token is left to pick"):
            sampler(np.full(5, -np.inf, np.float32), [], rng)


def test_minus_inf_is_probability_zero_as_in_transformers_processors():
    ref = np.load(FIXTURES / "sampling_masked.npz")
    settings = [k for k in ref.files if k not in ("logits", "seen") and not k.endswith("_probabilities")]
    assert len(settings) == 4
    for key in settings:
        penalty, temperature, k, p, min_p = key.split("_")
        sampler = Sampler(float(temperature), int(k), float(p), float(penalty), float(min_p))
        for row, history, expected, probabilities in zip(ref["logits"], ref["seen"], ref[key],
                                                         ref[key + "_probabilities"]):  # fmt: skip
            got = sampler.process(row, history)
            np.testing.assert_array_equal(np.isinf(got), np.isinf(expected), err_msg=key)
            np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-6, err_msg=key)
            distribution = sampler.distribution(row, history)
            assert distribution.shape == row.shape and distribution.dtype == np.float32
            np.testing.assert_allclose(distribution, probabilities, rtol=1e-5, atol=1e-7, err_msg=key)
            token = sampler(row, history, np.random.default_rng(0))
            assert probabilities[token] > 0  # never a token transformers gives probability zero


def test_the_distribution_is_what_the_pick_is_drawn_from():
    logits = np.log(np.array([0.5, 0.1, 0.5, 0.2, 0.3, 0.4], np.float32))
    greedy = Sampler(temperature=0).distribution(logits, [])
    np.testing.assert_array_equal(greedy, [1, 0, 0, 0, 0, 0])  # all of it on the argmax (the first of a tie)
    sampler = Sampler(temperature=1.0, top_k=3)
    distribution = sampler.distribution(logits, [])
    rng = np.random.default_rng(2)
    draws = np.bincount([sampler(logits, [], rng) for _ in range(20000)], minlength=6) / 20000
    np.testing.assert_allclose(draws, distribution, atol=0.015)
    assert distribution[[1, 3, 4]].sum() == 0 and np.isclose(distribution.sum(), 1)


def test_banning_every_token_raises_instead_of_picking_one():
    logits = np.zeros(4, np.float32)
    every = dict(bad_words=tuple((i,) for i in range(4)))
    for sampler in (
        Sampler(temperature=0, **every),
        Sampler(**every),
        Sampler(logit_bias=tuple((i, -np.inf) for i in range(4))),
    ):
        with pytest.raises(ValueError, match="no token is left to pick"):
            sampler(logits, [], np.random.default_rng(0))
    assert Sampler(bad_words=((0,), (1,), (3,)))(logits, [], np.random.default_rng(0)) == 2  # one left: that one


def test_only_possible_tokens_are_drawn_in_proportion():
    logits = np.log(np.array([0.5, 0.1, 0.5, 0.2, 0.3, 0.4], np.float32))
    sampler = Sampler(temperature=1.0, top_k=0, bad_words=((0,), (2,)))  # 0 and 2 banned: the rest sum to 1
    rng = np.random.default_rng(5)
    draws = np.bincount([sampler(logits, [], rng) for _ in range(20000)], minlength=6)
    assert draws[0] == draws[2] == 0
    np.testing.assert_allclose(draws[[1, 3, 4, 5]] / 20000, [0.1, 0.2, 0.3, 0.4], atol=0.015)


def test_numpy_numbers_are_accepted_and_bools_are_not():
    Sampler(np.float32(0.7), np.int64(5), np.float64(0.9), np.float32(1.1))
    for bad in ({"temperature": True}, {"top_k": 2.5}, {"top_p": "0.9"}, {"repetition_penalty": float("inf")}):
        with pytest.raises(ValueError):
            Sampler(**bad)
