"""The model interface (engine.py) and the one decode loop (decoding.py): logits at every position, caches that
rewind and survive interrupts, and proposals that never change what is generated."""

import numpy as np
import pytest

from gptlite import GPT, Config, model, parallel
from gptlite.checks import random_generators
from gptlite.conversation import Conversation
from gptlite.decoding import Sampling, decode
from gptlite.engine import left_pad
from gptlite.model import attention_mask
from gptlite.sampling import Sampler

CONFIG = Config(n_vocab=120, n_ctx=48, n_embd=32, n_head=4, n_layer=3)


@pytest.fixture(scope="module")
def gpt():
    rng = np.random.default_rng(0)
    flat = model.flatten(model.init_params(CONFIG, seed=2))
    flat = {k: (v + rng.normal(0, 0.3, v.shape)).astype(np.float32) for k, v in flat.items()}  # peaky, varied
    return GPT(CONFIG, model.nest(flat), tokenizer=None)


def prefill(engine, prompts, room):
    ids, real, positions = left_pad(prompts, room)
    cache = engine.new_cache(len(prompts), real.shape[1])
    return ids, real, positions, cache


def test_logits_at_every_position_and_the_last_position_shortcut(gpt):
    prompts = [[5, 6, 7, 8, 9, 10], [1, 2, 3]]
    ids, real, positions, cache = prefill(gpt.engine, prompts, 0)
    mask = attention_mask(real, ids.shape[1])
    every = gpt.engine.logits(ids, positions, mask, cache)
    assert every.shape == (2, 6, CONFIG.n_vocab) and every.dtype == np.float32 and cache.n_past == 6
    for row, prompt in enumerate(prompts):
        np.testing.assert_allclose(every[row, 6 - len(prompt) :], gpt(prompt), rtol=1e-5, atol=1e-5)
    last = gpt.engine.last_logits(ids, positions, mask, gpt.engine.new_cache(2, 6))
    assert last.shape == (2, CONFIG.n_vocab)
    np.testing.assert_allclose(last, every[:, -1], rtol=1e-5, atol=1e-5)
    hidden = gpt.engine.hidden_states(ids, positions, mask, gpt.engine.new_cache(2, 6))
    assert hidden.shape == (2, 6, CONFIG.n_embd) and hidden.dtype == np.float32


def test_a_rewound_cache_computes_as_if_the_dropped_positions_never_came(gpt):
    engine, prompt = gpt.engine, [3, 1, 4, 1, 5, 9, 2, 6]
    ids, real, positions, cache = prefill(engine, [prompt[:5]], 3)
    engine.last_logits(ids, positions, attention_mask(real[:, :5], 5), cache)
    wrong = np.array([[7, 7, 7]])
    engine.last_logits(wrong, positions[:, -1:] + [[1, 2, 3]], attention_mask(real, 3), cache)
    assert cache.n_past == 8
    cache.rewind(3)
    assert cache.n_past == 5 and all(layer.length == 5 for layer in cache.layers)
    right = engine.logits(np.array([prompt[5:]]), positions[:, -1:] + [[1, 2, 3]], attention_mask(real, 3), cache)
    np.testing.assert_allclose(right[0], gpt(prompt)[5:], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="cannot rewind 9 positions of a cache holding 8"):
        cache.rewind(9)


def test_kept_rows_follow_their_cache(gpt):
    engine = gpt.engine
    ids, real, positions, cache = prefill(engine, [[1, 2, 3], [4, 5, 6]], 1)
    engine.last_logits(ids, positions, attention_mask(real[:, :3], 3), cache)
    cache.keep_rows([1, 1, 0])  # rows repeat and reorder, as beams do
    real = real[[1, 1, 0]]
    step = engine.last_logits(np.array([[7], [8], [9]]), positions[[1, 1, 0], -1:] + 1, attention_mask(real, 1), cache)
    for row, prompt in enumerate([[4, 5, 6, 7], [4, 5, 6, 8], [1, 2, 3, 9]]):
        np.testing.assert_allclose(step[row], gpt(prompt)[-1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("path", ["model.py", "two threads"])
def test_an_interrupted_pass_leaves_every_layer_as_it_was(gpt, path, monkeypatch):
    monkeypatch.setenv("GPTLITE_PARALLEL", "on" if path == "two threads" else "off")
    monkeypatch.setattr(parallel, "PREFILL_ROWS", 4)
    engine = gpt.engine
    ids, real, positions, cache = prefill(engine, [[1, 2, 3, 4, 5, 6]] * 2, 2)
    engine.last_logits(ids, positions, attention_mask(real[:, :6], 6), cache)
    assert engine.path(2, 6) == path
    calls = []

    def interrupted(x, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # in the second layer: the first has extended its cache already
            raise KeyboardInterrupt
        return real_layer_norm(x, **kwargs)

    real_layer_norm = parallel.layer_norm if path == "two threads" else model.layer_norm
    monkeypatch.setattr(parallel if path == "two threads" else model, "layer_norm", interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.logits(np.array([[7, 8], [7, 8]]), positions[:, -1:] + [1, 2], attention_mask(real, 2), cache)
    assert [layer.length for layer in cache.layers] == [6] * CONFIG.n_layer


def greedy_reference(gpt, prompts, n_new, **options):
    return [gpt.generate(p, n_new, eos_token_id=None, **options) for p in prompts]


PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [1, 2], [3] * 6, [40, 41, 42]]


@pytest.mark.parametrize(
    "options",
    [dict(temperature=0), dict(temperature=0, repetition_penalty=1.3, no_repeat_ngram_size=3),
     dict(temperature=1.0, top_k=20, seed=3), dict(temperature=0.8, top_p=0.9, repetition_penalty=1.2, seed=5)],
)  # fmt: skip
@pytest.mark.parametrize("proposer", ["always right", "never right", "random", "some rows"])
@pytest.mark.parametrize("prompts, n_new", [(PROMPTS, 40), (PROMPTS[:1], 100)], ids=["batch", "past the context"])
def test_proposals_never_change_what_is_generated(gpt, options, proposer, prompts, n_new):
    """The propose seam: tokens checked in the same pass as the next one are kept only while the pick agrees,
    so greedy and seeded sampling give token for token what plain decoding gives, with every processor, in a
    batch whose rows keep different numbers of them, and alone past the context (48 positions: 100 new tokens).
    (A batch past the context slides all its rows when its fullest row is full; rows that keep different
    numbers of proposals fill at different passes, so there a shorter row can slide elsewhere.)"""
    plain = gpt.generate(prompts, n_new, eos_token_id=None, **options)
    texts = {tuple(p): p + new for p, new in zip(prompts, plain)}
    rng = np.random.default_rng(1)

    def propose(history):
        if proposer == "random":
            return rng.integers(0, CONFIG.n_vocab, rng.integers(0, 5)).tolist()
        whole = next(t for p, t in texts.items() if list(p) == history[: len(p)])  # the row's plain text
        right = whole[len(history) : len(history) + 4]
        if proposer == "some rows" and history[0] in (1, 3):
            return []
        return right if proposer != "never right" else [(t + 1) % CONFIG.n_vocab for t in right]

    sampler = gpt.sampler(**{k: v for k, v in options.items() if k != "seed"})
    seeds = [options.get("seed")] * len(prompts)
    pick = Sampling(sampler, random_generators(seeds, len(prompts)))
    new, passes = [[] for _ in prompts], 0
    for step in decode(gpt.engine, prompts, n_new, pick, propose=propose):
        passes += 1
        for row, token in step:
            new[row].append(token)
    assert new == plain
    if proposer == "always right":
        assert passes < n_new / 2  # several tokens a pass
    if proposer == "never right":
        assert passes >= n_new  # one a pass, as without proposals


def test_proposals_stop_at_the_end_token_and_observers_see_every_kept_token(gpt):
    eos = gpt.generate(PROMPTS[0], 6, temperature=0, eos_token_id=None)[3]  # greedy reaches it at its 4th token
    plain = gpt.generate(PROMPTS[0], 6, temperature=0, eos_token_id=eos)
    seen = []
    pick = Sampling(Sampler(temperature=0), random_generators(None, 1), eos)
    out = [t for step in decode(gpt.engine, [PROMPTS[0]], 6, pick, eos_token_id=eos, observe=lambda *a: seen.append(a),
                                propose=lambda history: [eos, eos, eos]) for _, t in step]  # fmt: skip
    assert out == plain and len(plain) < 6
    assert [token for _, _, token in seen] == plain
    for (_, logits, _), position in zip(seen, range(len(PROMPTS[0]), 100)):
        np.testing.assert_allclose(logits, gpt(PROMPTS[0] + plain)[position - 1], rtol=1e-5, atol=1e-5)


def test_an_interrupted_turn_leaves_the_conversation_able_to_go_on(tiny, monkeypatch):
    """Ctrl-C inside a forward pass must not leave the layers' caches at different lengths (issue 23)."""
    sampler = Sampler(temperature=0)
    conversation = Conversation(tiny, sampler)
    "".join(conversation.say("Hello there", 6))
    calls, real_block = [], model.block

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_block(*args, **kwargs)

    monkeypatch.setattr(model, "block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        "".join(conversation.say(" and", 6))
    monkeypatch.setattr(model, "block", real_block)
    lengths = {layer.length for layer in conversation.window.cache.layers}
    assert len(lengths) == 1
    history = list(conversation.history)
    after = "".join(conversation.say(" again", 6))
    assert after == tiny.tokenizer.decode(tiny.generate(history + tiny.tokenizer.encode(" again"), 6, temperature=0))
