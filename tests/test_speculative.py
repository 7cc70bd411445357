"""Speculative decoding (speculative.py): prompt lookup and a draft model propose, the target verifies in one pass;
greedy output is plain greedy output token for token, and sampled output has the target's distribution."""

import re
from contextlib import nullcontext

import numpy as np
import pytest

from gptlite import GPT, Config, model
from gptlite.decoding import Stats
from gptlite.speculative import accept_or_resample, prompt_lookup

from helpers import FIXTURES, MODELS

CONFIG = Config(n_vocab=120, n_ctx=48, n_embd=32, n_head=4, n_layer=3)


def random_gpt(config, seed, noise=0.3):
    rng = np.random.default_rng(seed)
    flat = model.flatten(model.init_params(config, seed=seed))
    flat = {k: (v + rng.normal(0, noise, v.shape)).astype(np.float32) for k, v in flat.items()}  # peaky, varied
    return GPT(config, model.nest(flat), tokenizer=None)


@pytest.fixture(scope="module")
def gpt():
    return random_gpt(CONFIG, 2)


@pytest.fixture(scope="module")
def drafts(gpt):
    """Drafts that are always right (the target), never right (the target with its final layer norm negated, so
    that its logits are the target's negated: checked below), and a random other model."""
    flipped = gpt.copy()
    for name in ("g", "b"):
        flipped.params["ln_f"][name][:] *= -1
    return {"always right": gpt, "random": random_gpt(CONFIG, 7), "never right": flipped}


def test_prompt_lookup_follows_transformers_rule():
    # the longest n-gram (here 2) ending the text, its first (leftmost) earlier occurrence, what followed it
    assert prompt_lookup([1, 2, 3, 9, 1, 2, 4, 5, 1, 2], 3, 2) == [3, 9, 1]
    assert prompt_lookup([1, 2, 3, 9, 1, 2, 4, 5, 1, 2], 10, 2) == [3, 9, 1, 2, 4, 5, 1, 2]  # up to the text's end
    assert prompt_lookup([1, 2, 3, 9, 1, 2, 4, 5, 1, 2], 10**20, 2) == [3, 9, 1, 2, 4, 5, 1, 2]  # any count
    assert prompt_lookup([7, 1, 8, 2, 1], 2, 2) == [8, 2]  # no earlier 2-gram "2 1": the 1-gram "1"
    assert prompt_lookup([7, 1, 8, 2, 1], 2, 1) == [8, 2]
    assert prompt_lookup([1, 2, 3, 4], 5, 2) == []  # nothing matches: one plain step
    assert prompt_lookup([5], 5, 2) == []
    assert prompt_lookup([1, 2, 0, 7, 1, 2], 4, 2, eos_token_id=0) == []  # cut at the end token
    assert prompt_lookup([1, 2, 3, 0, 1, 2], 4, 2, eos_token_id=0) == [3]
    assert prompt_lookup([4, 4, 4, 4], 3, 3) == [4]  # overlapping: the first 3-gram is followed by one token


GREEDY = [dict(), dict(repetition_penalty=1.3), dict(no_repeat_ngram_size=2), dict(min_new_tokens=20),
          dict(bad_words=[[5], [9, 10]]), dict(logit_bias={3: 4.0, 17: -np.inf}),
          dict(repetition_penalty=1.2, no_repeat_ngram_size=3, logit_bias={8: 2.5})]  # fmt: skip
PROMPTS = [[5, 6, 7, 8, 9, 10, 11, 5, 6], [1, 2], [3] * 6, [40, 41, 42]]


@pytest.mark.parametrize("options", GREEDY, ids=lambda o: ",".join(o) or "plain")
@pytest.mark.parametrize("how", ["lookup", "always right", "never right", "random"])
def test_greedy_is_plain_greedy_with_every_processor(gpt, drafts, options, how):
    """A batch of 4 rows that accept different numbers of proposals, with an end token that comes."""
    eos = gpt.generate(PROMPTS[0], 12, temperature=0, eos_token_id=None, **options)[10]
    plain = gpt.generate(PROMPTS, 30, temperature=0, eos_token_id=eos, **options)
    stats = Stats()
    speculative = dict(prompt_lookup_num_tokens=4) if how == "lookup" else dict(assistant_model=drafts[how])
    out = gpt.generate(PROMPTS, 30, temperature=0, eos_token_id=eos, stats=stats, **speculative, **options)
    assert out == plain
    assert stats.tokens == sum(map(len, plain)) and stats.proposed > 0
    if how == "always right":
        assert stats.accepted == stats.proposed and stats.tokens_per_pass > 3
    if how == "never right" and "logit_bias" not in options:  # a bias of +4 can make both pick one token
        assert stats.accepted == 0


def test_the_never_right_draft_is_never_right(gpt, drafts):
    """The 'never right' draft's logits are the target's negated: its greedy token is the target's least likely."""
    ids = PROMPTS[0] + [1, 2, 3]
    np.testing.assert_allclose(drafts["never right"](ids), -gpt(ids), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("prompts", [PROMPTS, PROMPTS[:1]], ids=["a batch", "one row"])
@pytest.mark.parametrize("path", ["on", "off"])
@pytest.mark.parametrize("how", ["lookup", "draft"])
def test_both_paths_give_the_same_tokens(gpt, drafts, path, how, prompts, monkeypatch, count_split_steps):
    """With GPTLITE_PARALLEL=on one row's verifying passes (a few positions) run through the panels."""
    monkeypatch.setenv("GPTLITE_PARALLEL", path)
    plain = gpt.generate(prompts, 25, temperature=0, eos_token_id=None)
    speculative = dict(prompt_lookup_num_tokens=3) if how == "lookup" else dict(assistant_model=drafts["random"])
    assert gpt.generate(prompts, 25, temperature=0, eos_token_id=None, **speculative) == plain
    if path == "off":
        assert count_split_steps == []
    elif len(prompts) == 1:  # one row's plain steps and short prompt stay in model.py: these are verifying passes
        assert any(n_seq > 1 for _, n_seq in count_split_steps)


@pytest.mark.parametrize("how", ["lookup", "draft"])
def test_a_batch_past_the_context_is_the_plain_batch(gpt, drafts, how):
    """A batch slides all its rows at once; rows that accept different numbers of proposals would reach that slide
    at other tokens than without them, so a batch that may pass the context decodes without proposals."""
    prompts = [PROMPTS[0], PROMPTS[3]]
    speculative = dict(prompt_lookup_num_tokens=5) if how == "lookup" else dict(assistant_model=drafts["random"])
    for n_new, proposes in ((100, False), (48 - len(PROMPTS[0]), True)):  # past the 48-token context, and within
        stats = Stats()
        plain = gpt.generate(prompts, n_new, temperature=0, eos_token_id=None)
        assert gpt.generate(prompts, n_new, temperature=0, eos_token_id=None, stats=stats, **speculative) == plain
        assert (stats.proposed > 0) == proposes
    seeded = dict(temperature=1.0, seed=[3, 4], eos_token_id=None)
    assert gpt.generate(prompts, 100, prompt_lookup_num_tokens=5, **seeded) == gpt.generate(prompts, 100, **seeded)


@pytest.mark.parametrize("how", ["lookup", "draft"])
def test_past_the_context_alone(gpt, drafts, how):
    """100 new tokens in a 48-token context: the target's window slides, and so does the draft's."""
    plain = gpt.generate(PROMPTS[0], 100, temperature=0, eos_token_id=None)
    speculative = dict(prompt_lookup_num_tokens=5) if how == "lookup" else dict(assistant_model=gpt)
    assert gpt.generate(PROMPTS[0], 100, temperature=0, eos_token_id=None, **speculative) == plain


def test_a_draft_with_a_one_position_context_proposes_nothing(gpt):
    config = Config(n_vocab=CONFIG.n_vocab, n_ctx=1, n_embd=16, n_head=2, n_layer=1)
    stats = Stats()
    greedy = gpt.generate(PROMPTS[0], 12, temperature=0, assistant_model=random_gpt(config, 4), stats=stats)
    assert greedy == gpt.generate(PROMPTS[0], 12, temperature=0)
    assert (stats.proposed, stats.passes) == (0, 12)


def test_seeded_prompt_lookup_is_the_seeded_plain_run(gpt):
    """Prompt lookup has no q: the row's own draw is checked against the proposal, so the draws are plain's."""
    options = dict(temperature=0.9, top_k=30, seed=[4, 5, 6, 7], eos_token_id=None)
    plain = gpt.generate(PROMPTS, 30, **options)
    assert gpt.generate(PROMPTS, 30, prompt_lookup_num_tokens=4, **options) == plain


def test_seeded_draft_sampling_repeats(gpt, drafts):
    options = dict(temperature=1.0, seed=11, eos_token_id=None, assistant_model=drafts["random"])
    first = gpt.generate(PROMPTS, 20, **options)
    assert gpt.generate(PROMPTS, 20, **options) == first
    assert gpt.generate(PROMPTS, 20, **{**options, "seed": 12}) != first
    stats = Stats()  # the target as its own draft: q is p (to rounding), so the rule accepts (nearly) every draw
    gpt.generate(PROMPTS, 20, **{**options, "assistant_model": gpt, "stats": stats})
    assert stats.proposed > 40 and stats.acceptance_rate > 0.95


def test_text_calls_stop_strings_and_trace(tiny):
    prompt = "The cat sat on the mat. The cat sat on the"
    plain = tiny.complete(prompt, 40, temperature=0, stop=["mat"])
    for speculative in (dict(prompt_lookup_num_tokens=4), dict(assistant_model=tiny)):
        assert tiny.complete(prompt, 40, temperature=0, stop=["mat"], **speculative) == plain
        assert "".join(tiny.stream(prompt, 40, temperature=0, stop=["mat"], **speculative)) == plain
        assert tiny.complete([prompt, "Hello"], 20, temperature=0, **speculative) == tiny.complete(
            [prompt, "Hello"], 20, temperature=0)  # fmt: skip
    traced = tiny.trace(prompt, 20, temperature=0, prompt_lookup_num_tokens=4)
    assert traced.text == tiny.trace(prompt, 20, temperature=0).text
    assert traced.stats.tokens == len(traced.steps) and traced.stats.passes <= len(traced.steps)
    assert tiny.trace(prompt, 5, temperature=0).stats.proposed == 0


def test_bad_options_are_refused_in_one_line(gpt, tiny):
    with pytest.raises(ValueError, match="prompt_lookup_num_tokens must be an integer >= 1"):
        gpt.generate([1, 2], 5, prompt_lookup_num_tokens=0)
    with pytest.raises(ValueError, match="max_matching_ngram_size must be an integer >= 1"):
        gpt.generate([1, 2], 5, prompt_lookup_num_tokens=2, max_matching_ngram_size=True)
    with pytest.raises(ValueError, match="not both"):
        gpt.generate([1, 2], 5, prompt_lookup_num_tokens=2, assistant_model=gpt)
    with pytest.raises(ValueError, match="does not use beams"):
        gpt.generate([1, 2], 5, prompt_lookup_num_tokens=2, num_beams=2)
    with pytest.raises(ValueError, match=r"draft model's vocabulary \(50257 tokens\) is not the target's \(120"):
        gpt.generate([1, 2], 5, assistant_model=tiny)
    with pytest.raises(ValueError, match="assistant_model must be a GPT, got str"):
        gpt.generate([1, 2], 5, assistant_model="distilgpt2")
    with pytest.raises(ValueError, match="stats must be a gptlite.decoding.Stats"):
        gpt.generate([1, 2], 5, stats={})
    with pytest.raises(ValueError, match="num_assistant_tokens must be an integer >= 1"):
        gpt.generate([1, 2], 5, assistant_model=gpt, num_assistant_tokens=0)
    with pytest.raises(ValueError, match="num_assistant_tokens_schedule must be"):
        gpt.generate([1, 2], 5, assistant_model=gpt, num_assistant_tokens_schedule="fast")
    with pytest.raises(ValueError, match="num_assistant_tokens_schedule must be"):
        gpt.generate([1, 2], 5, assistant_model=gpt, num_assistant_tokens_schedule=np.array(["constant"]))
    unused = dict(max_matching_ngram_size=-5), dict(num_assistant_tokens="x"), dict(num_assistant_tokens_schedule=3)
    for options in unused:  # refused even where the way they belong to is not taken
        with pytest.raises(ValueError, match=f"{next(iter(options))} must be"):
            gpt.generate([1, 2], 5, **options)


def test_accept_or_resample_gives_p():
    """The rule's distribution, computed exactly over the uniform draw: q(y) min(1, p/q) + rejected mass times
    the residual equals p (Leviathan et al., Appendix A.1); and drawn, by frequencies."""
    p = np.array([0.5, 0.3, 0.2, 0.0], np.float32)
    q = np.array([0.1, 0.6, 0.1, 0.2], np.float32)
    rng = np.random.default_rng(0)
    counts = np.zeros(4)
    for _ in range(20000):
        x = int(rng.choice(4, p=q))
        counts[accept_or_resample(p, q, x, rng)] += 1
    np.testing.assert_allclose(counts / counts.sum(), p, atol=0.012)


SMALL = Config(n_vocab=6, n_ctx=16, n_embd=16, n_head=2, n_layer=2)
N_DRAWS = 3000


def exact_distribution(gpt, prompt, n_new, sampler):
    """P(continuation) for every continuation of n_new tokens, by enumeration with gpt(ids) and the sampler's
    distribution: {tuple of ids: probability}."""
    out = {(): 1.0}
    for step in range(n_new):
        grown = {}
        for tokens, probability in out.items():
            history = prompt + list(tokens)
            p = sampler.distribution(gpt(history)[-1], history, step)
            for token in np.flatnonzero(p):
                grown[tokens + (int(token),)] = probability * float(p[token])
        out = grown
    return out


def chi_square_passes(draws, expected, n):
    """Pearson's chi-square test of the draws' counts against the exact probabilities, bins with fewer than 5
    expected draws pooled; the critical value at the 0.001 level by Wilson & Hilferty's approximation. A draw of
    probability 0 fails."""
    counts = {}
    for d in draws:
        counts[tuple(d)] = counts.get(tuple(d), 0) + 1
    if not set(counts) <= set(expected):  # something impossible was drawn
        return False
    big = [k for k, p in expected.items() if p * n >= 5]
    observed = [counts.get(k, 0) for k in big] + [n - sum(counts.get(k, 0) for k in big)]
    wanted = [expected[k] * n for k in big] + [n - sum(expected[k] * n for k in big)]
    if wanted[-1] < 5:  # the pooled rest is too small to be a bin of its own: add it to the last one
        observed, wanted = observed[:-2] + [observed[-2] + observed[-1]], wanted[:-2] + [wanted[-2] + wanted[-1]]
    statistic = sum((o - w) ** 2 / w for o, w in zip(observed, wanted))
    df = len(observed) - 1
    critical = df * (1 - 2 / (9 * df) + 3.090 * np.sqrt(2 / (9 * df))) ** 3
    return statistic < critical


@pytest.mark.parametrize("options", [dict(temperature=1.0, top_k=0), dict(temperature=0.7, top_k=3)])
def test_draft_sampling_has_the_targets_distribution(options):
    """Thousands of seeded draws of 3 tokens: plain sampling (the control) and assisted sampling (Leviathan et al.'s
    rule) both pass the chi-square test against the exact distribution, and the draft's own distribution, which
    the draft proposes from, fails it: the test can tell them apart."""
    target, draft = random_gpt(SMALL, 3, noise=0.5), random_gpt(SMALL, 4, noise=0.5)
    prompt, n_new, seeds = [1, 2], 3, list(range(N_DRAWS))
    expected = exact_distribution(target, prompt, n_new, target.sampler(**options))
    plain = target.generate([prompt] * N_DRAWS, n_new, seed=seeds, eos_token_id=None, **options)
    stats = Stats()
    assisted = target.generate([prompt] * N_DRAWS, n_new, seed=seeds, eos_token_id=None, assistant_model=draft,
                               num_assistant_tokens=2, stats=stats, **options)  # fmt: skip
    own = draft.generate([prompt] * N_DRAWS, n_new, seed=seeds, eos_token_id=None, **options)
    assert chi_square_passes(plain, expected, N_DRAWS)
    assert chi_square_passes(assisted, expected, N_DRAWS)
    assert not chi_square_passes(own, expected, N_DRAWS)
    assert 0 < stats.accepted < stats.proposed  # the rule accepted some proposals and refused others
    assert assisted != plain  # the same distribution, other draws


@pytest.fixture(scope="module")
def hub_models():
    return GPT.from_pretrained(MODELS / "depth6"), GPT.from_pretrained(MODELS / "f16")


@pytest.mark.parametrize("option", ["plain", "repetition_penalty", "no_repeat_ngram_size"])
def test_greedy_against_transformers(hub_models, option):
    """transformers' plain greedy, prompt lookup and assisted outputs on random models in the hub layout
    (scripts/make_speculative_fixtures.py): depth6 the target, f16 the draft; gptlite's, in one batch."""
    target, draft = hub_models
    ref = np.load(FIXTURES / "speculative.npz")
    prompts = ref["prompts"].tolist()
    processors = {"plain": {}, "repetition_penalty": dict(repetition_penalty=1.3),
                  "no_repeat_ngram_size": dict(no_repeat_ngram_size=3)}[option]  # fmt: skip
    ways = {"greedy": {}, "lookup": dict(prompt_lookup_num_tokens=3), "assisted": dict(assistant_model=draft)}
    for way, speculative in ways.items():
        stats = Stats()
        out = target.generate(prompts, 40, temperature=0, eos_token_id=None, stats=stats, **processors, **speculative)
        assert out == ref[f"{way}-{option}"].tolist(), way
        assert way != "lookup" or stats.accepted > 0  # random drafts accept next to nothing: no claim on them


def test_the_command_line(capsys):
    """--lookup and --draft-model print what plain decoding prints; --verbose adds the statistics on stderr; bad
    combinations are one line and exit status 2."""
    from gptlite.generate import main

    tiny = str(MODELS / "tiny")
    common = ["The cat sat on the mat. The cat sat on the", "-m", tiny, "-t", "0", "-n", "20"]
    assert main(common) == 0
    plain = capsys.readouterr()
    for flags in (["--lookup", "4"], ["--draft-model", tiny], ["--lookup", "3", "--num-return-sequences", "1"]):
        assert main(common + flags) == 0
        out = capsys.readouterr()
        assert out.out == plain.out and out.err == plain.err
    assert main(common + ["--draft-model", tiny, "-v"]) == 0
    out = capsys.readouterr()
    assert out.out == plain.out
    assert re.fullmatch(
        r"gptlite.generate: 20 tokens in \d+ passes .*; (\d+) proposed, \1 accepted \(100.0%\)\n", out.err
    )
    assert main(common + ["--lookup", "4", "--verbose", "-s", "3", "-t", "0.9"]) == 0
    assert "a pass for each sequence" in capsys.readouterr().err
    for flags, message in [(["--lookup", "0"], "--lookup: must be at least 1"),
                           (["--lookup", "2", "--draft-model", tiny], "give --lookup or --draft-model, not both"),
                           (["--lookup", "2", "--num-beams", "2"], "does not use beams"),
                           (["--draft-model", str(MODELS / "depth6")], "the draft model's vocabulary (1000 tokens)"),
                           (["--lookup", "2", "-i"], "-i does not decode speculatively")]:  # fmt: skip
        with pytest.raises(SystemExit) if flags == ["--lookup", "0"] else nullcontext() as e:
            code = main(common + flags)
        err = capsys.readouterr().err
        assert (e.value.code if flags == ["--lookup", "0"] else code) == 2
        assert message in err and err.count("\n") == 1, err
