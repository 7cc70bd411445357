"""The transformer: shapes and dtypes of every layer, the KV cache, and agreement with Hugging Face."""

import numpy as np
import pytest

from gptlite import GPT, Config, model
from gptlite.model import (
    MASKED,
    KVCache,
    attention,
    attention_mask,
    attn,
    block,
    gelu,
    hidden_states,
    init_params,
    layer_norm,
    linear,
    lm_head,
    mlp,
    param_shapes,
    softmax,
)
from gptlite.releases import RELEASES

from helpers import MODELS, reference, seeded_gpt

CONFIG = Config(n_vocab=100, n_ctx=16, n_embd=24, n_head=3, n_layer=2)
B, T = 2, 5  # batch rows, sequence length


@pytest.fixture(scope="module")
def params():
    return init_params(CONFIG, seed=0)


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((B, T, CONFIG.n_embd), dtype=np.float32)


def no_padding_mask(n_seq, n_kv):
    return attention_mask(np.ones((B, n_kv), bool), n_seq)


def test_gelu_matches_the_tanh_formula_and_keeps_float32():
    x = np.linspace(-5, 5, 11, dtype=np.float32)
    expected = (
        0.5 * x.astype(np.float64) * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x.astype(np.float64) ** 3)))
    )
    assert gelu(x).dtype == np.float32
    np.testing.assert_allclose(gelu(x), expected, atol=1e-6)


def test_softmax_rows_sum_to_one_without_overflow():
    x = np.array([[1000, 1000, -1000]], np.float32)
    p = softmax(x)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, [[0.5, 0.5, 0]], atol=1e-7)
    np.testing.assert_array_equal(x, [[1000, 1000, -1000]])  # the argument is left as it was
    assert softmax(x, out=x) is x and x[0, 0] == 0.5  # unless asked to work in place


def test_layer_norm_shape_and_statistics(x, params):
    ln = params["h"][0]["ln_1"]
    y = layer_norm(x, **ln)
    assert y.shape == (B, T, CONFIG.n_embd) and y.dtype == np.float32
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(-1), 1, atol=1e-3)


def test_linear_shape(x, params):
    c_attn = params["h"][0]["attn"]["c_attn"]
    y = linear(x, **c_attn)
    assert y.shape == (B, T, 3 * CONFIG.n_embd) and y.dtype == np.float32


def test_attn_mlp_block_shapes(x, params):
    h = params["h"][0]
    mask = no_padding_mask(T, T)
    assert mask.shape == (B, 1, T, T) and mask.dtype == np.float32
    out = attn(x, **h["attn"], n_head=CONFIG.n_head, mask=mask, cache=KVCache(CONFIG, B, T).layers[0])
    assert out.shape == (B, T, CONFIG.n_embd) and out.dtype == np.float32
    assert mlp(x, **h["mlp"]).shape == (B, T, CONFIG.n_embd)
    out = block(x, h, CONFIG, 0, mask, KVCache(CONFIG, B, T).layers[0])
    assert out.shape == (B, T, CONFIG.n_embd) and out.dtype == np.float32


def test_kv_cache_advances_itself_layer_by_layer():
    cache = KVCache(CONFIG, B, 8)
    assert len(cache.layers) == CONFIG.n_layer and cache.n_past == 0
    first, last = cache.layers[0], cache.layers[-1]
    assert first.k.shape == (B, CONFIG.n_head, 8, CONFIG.d_head)
    new = np.ones((B, CONFIG.n_head, 3, CONFIG.d_head), np.float32)
    k, v = first.extend(new, 2 * new)
    assert k.shape == v.shape == (B, CONFIG.n_head, 3, CONFIG.d_head)
    assert first.length == 3 and cache.n_past == 0  # only when every layer has the positions do they count
    last.extend(new, 2 * new)
    assert cache.n_past == 3
    k, v = first.extend(new[:, :, :1], new[:, :, :1])
    assert k.shape == (B, CONFIG.n_head, 4, CONFIG.d_head) and first.length == 4
    np.testing.assert_array_equal(v[:, :, :3], 2)
    first.extend(
        np.ones((B, CONFIG.n_head, 4, CONFIG.d_head), np.float32),
        np.ones((B, CONFIG.n_head, 4, CONFIG.d_head), np.float32),
    )
    with pytest.raises(ValueError, match="KV cache full"):
        first.extend(new[:, :, :1], new[:, :, :1])


@pytest.mark.parametrize("n_seq, n_kv", [(7, 7), (3, 10), (1, 6)])
@pytest.mark.parametrize("query_block", [128, 2])
def test_attention_equals_the_plain_formula(n_seq, n_kv, query_block, monkeypatch):
    monkeypatch.setattr(model, "QUERY_BLOCK", query_block)
    rng = np.random.default_rng(0)
    q = rng.standard_normal((B, 3, n_seq, 4), dtype=np.float32)
    k, v = rng.standard_normal((2, B, 3, n_kv, 4), dtype=np.float32)
    real = np.ones((B, n_kv), bool)
    real[0, :2] = False  # left padding in row 0
    mask = attention_mask(real, n_seq)
    z = attention(q, k, v, mask)
    assert z.shape == (B, 3, n_seq, 4) and z.dtype == np.float32
    real_queries = real[:, n_kv - n_seq :]  # [B, n_seq]: a padding query sees nothing, and its output is never used
    np.testing.assert_allclose(
        z.transpose(0, 2, 1, 3)[real_queries],
        model.textbook_attention(q, k, v, mask, 1 / np.sqrt(4)).transpose(0, 2, 1, 3)[real_queries],
        atol=1e-6,
    )
    assert MASKED == np.finfo(np.float32).min


def test_attention_mask_is_causal_and_hides_padding():
    seen = np.array([[False, True, True, True]])
    mask = attention_mask(seen, 2)  # 2 new queries at positions 2 and 3
    assert mask.shape == (1, 1, 2, 4)
    allowed = mask[0, 0] == 0
    np.testing.assert_array_equal(allowed, [[False, True, True, False], [False, True, True, True]])


def test_hidden_states_and_head_shapes(params):
    ids = np.zeros((B, T), np.int64)
    cache = KVCache(CONFIG, B, T)
    x = hidden_states(params, ids, np.tile(np.arange(T), (B, 1)), no_padding_mask(T, T), cache, CONFIG)
    assert [layer.length for layer in cache.layers] == [T] * CONFIG.n_layer
    assert x.shape == (B, T, CONFIG.n_embd) and x.dtype == np.float32
    assert cache.n_past == T
    logits = lm_head(x, params["wte"])
    assert logits.shape == (B, T, CONFIG.n_vocab) and logits.dtype == np.float32


def test_init_params_has_every_tensor_in_float32():
    params = init_params(CONFIG)
    assert params["wte"].shape == (CONFIG.n_vocab, CONFIG.n_embd)
    assert len(params["h"]) == CONFIG.n_layer
    assert params["h"][1]["mlp"]["c_fc"]["w"].shape == (CONFIG.n_embd, 4 * CONFIG.n_embd)
    assert all(
        a.dtype == np.float32 for a in [params["wte"], params["h"][0]["attn"]["c_proj"]["w"], params["ln_f"]["g"]]
    )


def test_init_params_follows_openai():
    """OpenAI's model.py: wte N(0, 0.02), wpe N(0, 0.01); the paper: c_proj scaled by 1/sqrt(2 n_layer)."""
    config = Config(n_vocab=2000, n_ctx=512, n_embd=64, n_head=4, n_layer=8)
    params = init_params(config)
    assert abs(params["wte"].std() - 0.02) < 0.001 and abs(params["wpe"].std() - 0.01) < 0.0005
    assert abs(params["h"][0]["mlp"]["c_proj"]["w"].std() - 0.02 / 4) < 0.0005
    assert abs(params["h"][0]["mlp"]["c_fc"]["w"].std() - 0.02) < 0.001


def test_released_model_sizes():
    """Parameter counts of the releases, as commonly quoted (124M, 355M, 774M, 1558M, 82M)."""
    counts = {name: sum(np.prod(s) for s in param_shapes(Config(**r.shape)).values()) for name, r in RELEASES.items()}
    assert counts["gpt2"] == 124_439_808
    assert counts["gpt2-medium"] == 354_823_168
    assert counts["gpt2-large"] == 774_030_080
    assert counts["gpt2-xl"] == 1_557_611_200
    assert counts["distilgpt2"] == 81_912_576


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        Config(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="n_layer"):
        Config(n_layer=0)


def test_cached_and_uncached_logits_agree(params):
    gpt = GPT(CONFIG, params, None)
    ids = np.random.default_rng(1).integers(0, CONFIG.n_vocab, 12)
    full = gpt(ids)  # one pass over all 12 positions
    assert full.shape == (12, CONFIG.n_vocab) and full.dtype == np.float32
    cache = KVCache(CONFIG, 1, 12)
    real = np.ones((1, 12), bool)
    stepwise = []
    for start, end in [(0, 5)] + [(i, i + 1) for i in range(5, 12)]:  # prefill 5, then one token at a time
        assert cache.n_past == start
        mask = attention_mask(real[:, :end], end - start)
        x = hidden_states(params, ids[None, start:end], np.arange(start, end)[None], mask, cache, CONFIG)
        stepwise.append(lm_head(x[0], params["wte"]))
    np.testing.assert_allclose(np.concatenate(stepwise), full, atol=1e-5)


def test_query_blocks_change_nothing(params, monkeypatch):
    """Attention in blocks of 3 queries (as long prompts run) equals attention over all queries at once."""
    gpt = GPT(CONFIG, params, None)
    ids = np.random.default_rng(2).integers(0, CONFIG.n_vocab, 14)
    whole = gpt(ids)
    batch = gpt.generate([ids[:9], ids], 2, temperature=0)
    monkeypatch.setattr(model, "QUERY_BLOCK", 3)
    np.testing.assert_allclose(gpt(ids), whole, atol=1e-5)
    assert gpt.generate([ids[:9], ids], 2, temperature=0) == batch


@pytest.mark.parametrize("query_block", [128, 5])
@pytest.mark.parametrize("name", ["tiny", "depth6", "f16", "bf16"])
def test_matches_hugging_face(name, query_block, monkeypatch):
    """Logits within 1e-4 of transformers and the same 32-token greedy continuation (also in small query blocks)."""
    monkeypatch.setattr(model, "QUERY_BLOCK", query_block)
    ref = reference(name)
    gpt = GPT.from_pretrained(MODELS / name)
    assert np.abs(gpt(ref["prompt"]) - ref["logits"]).max() <= 1e-4
    assert gpt.generate(ref["prompt"], 32, temperature=0, eos_token_id=None) == ref["greedy"].tolist()


def test_matches_hugging_face_with_gpt2_xl_head_shape():
    gpt, ref = seeded_gpt("xl-heads")
    assert (gpt.config.n_head, gpt.config.d_head) == (25, 64)
    assert np.abs(gpt(ref["prompt"]) - ref["logits"]).max() <= 1e-4
    assert gpt.generate(ref["prompt"], 32, temperature=0) == ref["greedy"].tolist()


def test_depth6_fixture_has_distilgpt2_depth():
    assert GPT.from_pretrained(MODELS / "depth6").config.n_layer == RELEASES["distilgpt2"].shape["n_layer"] == 6
