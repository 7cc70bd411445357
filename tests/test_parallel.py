"""The two-thread path (parallel.py) against the plain one (model.py): same logits, same tokens, same scores."""

import copy
import dataclasses
import threading

import numpy as np
import pytest

from gptlite import GPT, model, parallel
from gptlite.engine import left_pad
from gptlite.model import Config, KVCache, attention_mask, hidden_states
from gptlite.weights import safetensors
from gptlite.weights.checkpoint import save_converted, transposed_on_disk

CONFIGS = {
    "gpt2-like": Config(n_vocab=300, n_ctx=64, n_embd=32, n_head=4, n_layer=2),
    "odd heads, untied, scaled by layer": Config(
        n_vocab=301,
        n_ctx=64,
        n_embd=40,
        n_head=5,
        n_layer=3,
        n_inner=72,
        tie_word_embeddings=False,
        scale_attn_by_inverse_layer_idx=True,
        activation="gelu",
    ),
}
PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [1, 2], [3] * 12, [4, 5, 6], [7], [8, 9, 10, 11, 12], [13, 14], [15] * 9]


def random_gpt(config, layout="as named"):
    """A model whose every parameter, biases and layer norms included, is random, so a misplaced slice shows.
    layout "converted": the matrices lie in memory as the converted layout stores them (the head and each c_proj
    transposed, loaded as views), which the two-thread path must read as well as C-order ones."""
    rng = np.random.default_rng(0)
    flat = model.flatten(model.init_params(config, seed=1))
    flat = {k: (v + rng.normal(0, 0.1, v.shape)).astype(np.float32) for k, v in flat.items()}
    if layout == "converted":
        flat |= {name: np.ascontiguousarray(flat[name].T).T for name in transposed_on_disk(config)}
    return GPT(config, model.nest(flat), tokenizer=None)


@pytest.fixture(scope="module", params=[(c, layout) for c in CONFIGS for layout in ("as named", "converted")],
                ids=lambda p: f"{p[0]}, {p[1]}")  # fmt: skip
def gpt(request):
    return random_gpt(CONFIGS[request.param[0]], request.param[1])


@pytest.fixture(autouse=True)
def always_split(monkeypatch):
    """The two-thread path wherever it can run, with no self-check: on these tiny models it would lose, and
    the tests are of its results. Tests of the self-check set GPTLITE_PARALLEL themselves."""
    monkeypatch.setenv("GPTLITE_PARALLEL", "on")


@pytest.mark.parametrize("order", ["C", "F"])  # F: stored transposed, as the converted layout stores c_proj
@pytest.mark.parametrize("n_rows", [1, 4, 5, 13])  # chunks of 4 rows below: one, one whole, two padded, four
def test_panels_multiply_like_the_matrix(order, n_rows, monkeypatch):
    monkeypatch.setattr(parallel, "SMALL_PRODUCT", 4 * 24 * parallel.PANEL)  # 4 rows of 24 a small product
    w = np.random.default_rng(0).normal(size=(24, 150)).astype(np.float32)  # 150: not a multiple of PANEL
    w = np.asarray(w, order=order)
    x = np.random.default_rng(1).normal(size=(n_rows, 24)).astype(np.float32)
    p = parallel.panels(w)
    assert p.shape == (3, 24, parallel.PANEL)
    out = parallel.panel_matmul(x, p, 150)
    assert out.shape == (n_rows, 150) and out.dtype == np.float32
    np.testing.assert_allclose(out, x @ w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_rows, n_in, shape", [(16, 768, (1, 16, 768)), (20, 768, (1, 20, 768)),
                                                 (21, 768, (2, 11, 768)), (127, 1536, (13, 10, 1536)),
                                                 (3, 20000, (3, 1, 20000))])  # fmt: skip
def test_rows_go_in_the_fewest_chunks_that_are_small_products(n_rows, n_in, shape):
    """Each chunk times a panel is within OpenBLAS's small-matrix limit (one row at least, however wide), the
    chunks are as few as that allows and of one size, and the padding rows are zeros."""
    x = np.random.default_rng(0).normal(size=(n_rows, n_in)).astype(np.float32)
    chunks = parallel.row_chunks(x)
    assert chunks.shape == shape
    n_chunks, n_chunk, _ = shape
    assert n_chunk * n_in * parallel.PANEL <= parallel.SMALL_PRODUCT or n_chunk == 1
    assert (n_chunk - 1) * n_chunks < n_rows <= n_chunks * n_chunk  # no chunk could go
    flat = chunks.reshape(-1, n_in)
    np.testing.assert_array_equal(flat[:n_rows], x)
    assert not flat[n_rows:].any()


def test_panels_of_a_read_only_map_are_copied_once_and_of_other_weights_at_every_load(tmp_path):
    """A loaded model's weights are a file mapped read-only: nothing can change them, so the panels copied from
    them stay current when the same matrices are loaded again. Writable weights may have been edited since, and
    are copied again; so are read-only ones of other bytes."""
    w = np.random.default_rng(0).normal(size=(24, 150)).astype(np.float32)
    safetensors.save(tmp_path / "w.safetensors", {"w": w})
    mapped = safetensors.load(tmp_path / "w.safetensors")["w"]
    assert parallel.read_only_map(mapped[:, 10:]) and not parallel.read_only_map(w)
    for weights, kept in ((mapped, True), (w, False), (mapped.copy(), False)):
        linear = parallel.Linear()
        linear.load(weights[:, 10:])
        linear.copy_panels()
        linear.load(weights[:, 10:])  # the same bytes, in a new view, as each generation's load makes
        assert linear.panels_current == kept
        linear.load(weights[:, 20:])  # other bytes
        assert not linear.panels_current


@pytest.mark.parametrize("n_batch", [1, 2, 8])
def test_decode_step_logits_match_the_plain_path(gpt, n_batch):
    config = gpt.config
    ids, real, positions = left_pad(PROMPTS[:n_batch], max_new_tokens=3)  # rows of different lengths: padding
    n_prompt = ids.shape[1]
    plain_cache = KVCache(config, n_batch, real.shape[1])
    hidden_states(gpt.params, ids, positions, attention_mask(real[:, :n_prompt], n_prompt), plain_cache, config)
    split_cache = copy.deepcopy(plain_cache)
    two = parallel.TwoThreads(config)
    two.load(gpt.params)
    token = np.arange(n_batch)[:, None] + 3  # [n_batch, 1]
    position = positions[:, -1:] + 1
    for step in range(3):
        mask = attention_mask(real[:, : n_prompt + step + 1], 1)
        x = hidden_states(gpt.params, token, position, mask, plain_cache, config)
        expected = model.lm_head(x[:, -1], model.head_weight(gpt.params))  # [n_batch, n_vocab]
        got = two.last_logits(token, position, mask, split_cache)
        assert got.shape == (n_batch, config.n_vocab) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        assert split_cache.n_past == plain_cache.n_past == n_prompt + step + 1
        token, position = expected.argmax(-1)[:, None], position + 1
    for a, b in zip(plain_cache.layers, split_cache.layers):
        np.testing.assert_allclose(b.k[:, :, : b.length], a.k[:, :, : a.length], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.v[:, :, : b.length], a.v[:, :, : a.length], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_batch, n_seq", [(1, 2), (1, 5), (1, 40), (2, 4), (3, 9)])
def test_a_verifying_pass_through_the_panels_matches_the_plain_path(gpt, n_batch, n_seq, monkeypatch):
    """engine.logits over a few new positions after a prompt (speculative decoding's verifying pass): the blocks
    and the head run through the panels, with the logits and the cache of model.py's path. The small-matrix
    limit is set so low that these tiny matrices take several chunks of rows, the last one padded."""
    config, engine = gpt.config, gpt.engine
    monkeypatch.setattr(parallel, "SMALL_PRODUCT", 3 * config.n_embd * parallel.PANEL)  # 3 rows of the stream
    ids, real, positions = left_pad(PROMPTS[:n_batch], max_new_tokens=n_seq)
    n_prompt = ids.shape[1]
    caches, panel_products = {}, []
    real_panel_matmul = parallel.panel_matmul
    monkeypatch.setattr(parallel, "panel_matmul", lambda x, *args: panel_products.append(x.shape) or
                        real_panel_matmul(x, *args))  # fmt: skip
    for path in ("off", "on"):
        monkeypatch.setenv("GPTLITE_PARALLEL", path)
        cache = caches[path] = engine.new_cache(n_batch, real.shape[1])
        engine.last_logits(ids, positions, attention_mask(real[:, :n_prompt], n_prompt), cache)
        proposed = (np.arange(n_batch * n_seq).reshape(n_batch, n_seq) * 7) % config.n_vocab  # [n_batch, n_seq]
        positions_new = positions[:, -1:] + 1 + np.arange(n_seq)  # [n_batch, n_seq]
        mask = attention_mask(real, n_seq)
        assert engine.path(n_batch, n_seq, every_position=True) == ("two threads" if path == "on" else "model.py")
        caches[path, "logits"] = engine.logits(proposed, positions_new, mask, cache)
    expected, got = caches["off", "logits"], caches["on", "logits"]
    assert got.shape == expected.shape == (n_batch, n_seq, config.n_vocab) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    n_linears = 2 * (6 * config.n_layer + 1)  # on each thread: q, k, v, and both c_proj and c_fc a block; the head
    assert len(panel_products) == n_linears and all(n_rows == n_batch * n_seq for n_rows, _ in panel_products)
    for a, b in zip(caches["off"].layers, caches["on"].layers):
        assert a.length == b.length == n_prompt + n_seq
        np.testing.assert_allclose(b.k[:, :, : b.length], a.k[:, :, : a.length], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.v[:, :, : b.length], a.v[:, :, : a.length], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_batch", [1, 3])
def test_prefill_hidden_states_and_logits_match_the_plain_path(gpt, n_batch):
    config = gpt.config
    prompts = [list(range(1, 40)), list(range(7, 20)), [9] * 30][:n_batch]
    ids, real, positions = left_pad(prompts, max_new_tokens=2)
    n_seq = ids.shape[1]
    mask = attention_mask(real[:, :n_seq], n_seq)
    plain_cache, split_cache = KVCache(config, n_batch, n_seq + 2), KVCache(config, n_batch, n_seq + 2)
    expected = hidden_states(gpt.params, ids, positions, mask, plain_cache, config)
    two = parallel.TwoThreads(config)
    two.load(gpt.params)
    got = two.hidden_states(ids, positions, mask, split_cache)
    assert got.shape == (n_batch, n_seq, config.n_embd) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert split_cache.n_past == plain_cache.n_past == n_seq
    for a, b in zip(plain_cache.layers, split_cache.layers):
        np.testing.assert_allclose(b.k[:, :, :n_seq], a.k[:, :, :n_seq], rtol=1e-5, atol=1e-6)
    logits = two.logits(got.reshape(-1, config.n_embd))  # [n_batch * n_seq, n_vocab]
    assert logits.shape == (n_batch * n_seq, config.n_vocab) and logits.dtype == np.float32
    plain_logits = model.lm_head(expected, model.head_weight(gpt.params)).reshape(-1, config.n_vocab)
    np.testing.assert_allclose(logits, plain_logits, rtol=1e-5, atol=1e-5)
    last = two.last_logits(ids, positions, mask, KVCache(config, n_batch, n_seq))  # [n_batch, n_vocab]
    np.testing.assert_allclose(last, plain_logits.reshape(n_batch, n_seq, -1)[:, -1], rtol=1e-5, atol=1e-5)


def test_logits_and_scores_of_long_inputs_are_the_plain_paths(gpt, monkeypatch, count_split_steps):
    config = gpt.config
    monkeypatch.setattr(parallel, "PREFILL_ROWS", 16)  # these models' windows are short: 64 positions
    rng = np.random.default_rng(3)
    texts = [rng.integers(0, config.n_vocab, n).tolist() for n in (config.n_ctx, 50, 3)]
    split_logits = gpt(texts)
    split_one = gpt(texts[0])
    split_score = gpt.score(texts[0] * 3, prepend_eot=False, stride=config.n_ctx // 4)
    assert (3, config.n_ctx) in count_split_steps and (1, config.n_ctx) in count_split_steps
    monkeypatch.setenv("GPTLITE_PARALLEL", "off")
    n_steps = len(count_split_steps)
    for a, b in zip(split_logits, gpt(texts)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(split_one, gpt(texts[0]), rtol=1e-5, atol=1e-5)
    plain_score = gpt.score(texts[0] * 3, prepend_eot=False, stride=config.n_ctx // 4)
    np.testing.assert_allclose(split_score.logprobs, plain_score.logprobs, rtol=1e-5, atol=1e-5)
    assert len(count_split_steps) == n_steps  # switched off


@pytest.mark.parametrize("n_batch", [2, 8])
@pytest.mark.parametrize("options", [dict(temperature=0), dict(temperature=1.0, top_k=20, seed=7)])
def test_generated_tokens_are_the_plain_paths(gpt, n_batch, options, monkeypatch, count_split_steps):
    eos = 3  # a token the random model reaches often enough that some rows finish early
    split = gpt.generate(PROMPTS[:n_batch], 12, eos_token_id=eos, **options)
    assert len(count_split_steps) > 0
    monkeypatch.setenv("GPTLITE_PARALLEL", "0")
    n_steps = len(count_split_steps)
    plain = gpt.generate(PROMPTS[:n_batch], 12, eos_token_id=eos, **options)
    assert len(count_split_steps) == n_steps  # switched off
    assert split == plain


def test_beam_search_on_two_threads_is_the_plain_paths(gpt, monkeypatch, count_split_steps):
    split = gpt.beam_search(PROMPTS[0], 8, num_beams=4)
    assert len(count_split_steps) > 0
    monkeypatch.setenv("GPTLITE_PARALLEL", "0")
    plain = gpt.beam_search(PROMPTS[0], 8, num_beams=4)
    assert [h.ids for h in split] == [h.ids for h in plain]
    np.testing.assert_allclose([h.score for h in split], [h.score for h in plain], rtol=1e-5)


def test_finished_rows_leave_the_split_batch(count_split_steps):
    gpt = random_gpt(CONFIGS["gpt2-like"])
    first = gpt.generate(PROMPTS, 1, temperature=0)
    eos_rows = [row[0] for row in first]
    eos = max(set(eos_rows), key=eos_rows.count)  # the first token of the most rows: they stop at once
    split = gpt.generate(PROMPTS, 6, temperature=0, eos_token_id=eos)
    assert len(count_split_steps) > 0
    assert sum(len(row) == 0 for row in split) >= 1
    plain = [gpt.generate(p, 6, temperature=0, eos_token_id=eos) for p in PROMPTS]  # batch 1: the plain path
    assert split == plain


def test_a_loaded_model_copies_its_panels_once(tmp_path, monkeypatch, count_split_steps):
    """Weights loaded from the converted layout are a read-only memory map: the first batched generation copies
    them into panels, later ones reuse those, and every one gives the plain path's tokens. A writable copy of the
    same model is copied at every generation (its weights may have been edited)."""
    gpt = random_gpt(CONFIGS["gpt2-like"])
    save_converted(tmp_path, gpt.config, model.flatten(gpt.params), None, "test")
    loaded = GPT.from_pretrained(tmp_path)
    copies = []
    monkeypatch.setattr(parallel.Linear, "copy_panels", count_calls(parallel.Linear.copy_panels, copies))
    n_linears = 6 * gpt.config.n_layer + 1  # q, k, v, both c_proj and c_fc in each block, and the head: per thread
    for candidate, copied in ((loaded, [2 * n_linears, 0, 0]), (loaded.copy(), [2 * n_linears] * 3)):
        runs = []
        for _ in range(3):
            before = len(copies)
            runs.append(candidate.generate(PROMPTS, 4, temperature=0))
            assert len(count_split_steps) > 0
            copies_made = len(copies) - before
            assert copies_made == copied[len(runs) - 1]
        monkeypatch.setenv("GPTLITE_PARALLEL", "0")
        assert runs == [candidate.generate(PROMPTS, 4, temperature=0)] * 3
        monkeypatch.setenv("GPTLITE_PARALLEL", "on")


def test_a_pass_that_is_not_of_the_rows_kind_never_reads_the_panels(tmp_path, monkeypatch):
    """A loaded model's panels stay current from one generation to the next. A prompt's pass is not of the
    "rows" kind, so neither its blocks nor its head (over one position a row: a few rows) read them, whatever
    ran before: the same pass computes the same numbers, on the same kernels, every time."""
    monkeypatch.setattr(parallel, "PREFILL_ROWS", 16)  # 4 prompts of 8: a prefill on two threads
    gpt = random_gpt(CONFIGS["gpt2-like"])
    save_converted(tmp_path, gpt.config, model.flatten(gpt.params), None, "test")
    loaded = GPT.from_pretrained(tmp_path)
    prompts = [list(range(row, row + 8)) for row in range(4)]
    products = []
    monkeypatch.setattr(parallel, "panel_matmul", count_calls(parallel.panel_matmul, products))
    first = loaded.generate(prompts, 1, temperature=0)  # the prompts' pass alone
    assert products == []
    loaded.generate(prompts, 3, temperature=0)  # batched decode steps: through the panels, copied now
    assert products != []
    products.clear()
    assert loaded.generate(prompts, 1, temperature=0) == first and products == []


def count_calls(fn, calls):
    def counted(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)

    return counted


def test_each_generation_sees_the_weights_as_they_are_then(monkeypatch, count_split_steps):
    gpt = random_gpt(CONFIGS["gpt2-like"])
    before = gpt.generate(PROMPTS, 6, temperature=0)
    gpt.params["h"][1]["mlp"]["c_proj"]["w"][:] *= -3  # an edit after the split weights were first loaded
    gpt.params["wte"][:] *= 0.5
    after = gpt.generate(PROMPTS, 6, temperature=0)
    assert len(count_split_steps) == 10 and after != before
    monkeypatch.setenv("GPTLITE_PARALLEL", "0")
    assert after == gpt.generate(PROMPTS, 6, temperature=0)


@pytest.mark.parametrize("failing", ["MainThread", "gptlite-parallel"])
def test_an_error_in_either_thread_reaches_the_caller(failing, monkeypatch):
    gpt = random_gpt(CONFIGS["gpt2-like"])
    monkeypatch.setattr(parallel, "PREFILL_ROWS", 16)
    long_prompt = list(range(40))  # 40 positions: a prefill on two threads

    def fails_in_one_thread(self, x, out=None, in_panels=False):
        if threading.current_thread().name == failing:
            raise RuntimeError(f"failed in {failing} at {x.shape[0]} rows")
        return real(self, x, out, in_panels)

    real = parallel.Linear.__call__
    monkeypatch.setattr(parallel.Linear, "__call__", fails_in_one_thread)
    with pytest.raises(RuntimeError, match=f"failed in {failing} at 4 rows"):  # a decode step of the batch
        gpt.generate([[1, 2]] * 4, 4, temperature=0)
    with pytest.raises(RuntimeError, match=f"failed in {failing} at 40 rows"):  # the prefill
        gpt(long_prompt)
    assert not any(t.name == "gptlite-parallel" for t in threading.enumerate())  # no thread left waiting
    monkeypatch.setattr(parallel.Linear, "__call__", real)
    assert len(gpt.generate(PROMPTS[:4], 4, temperature=0)) == 4
    assert gpt(long_prompt).shape == (40, gpt.config.n_vocab)


def test_kind_of_pass():
    most = parallel.PREFILL_ROWS - 1
    assert parallel.kind(1, 1) is None and parallel.kind(1, 1, every_position=True) is None  # model.py's GEMVs
    assert parallel.kind(2, 1) == parallel.kind(16, 1) == parallel.kind(most, 1) == "rows"  # decode steps of a batch
    assert parallel.kind(1, 2) is None and parallel.kind(1, most) is None and parallel.kind(4, 3) is None  # prompts
    for n_batch, n_seq in ((1, 2), (1, 16), (1, most), (2, 3), (8, 9)):  # passes verifying proposed tokens
        assert parallel.kind(n_batch, n_seq, every_position=True) == "rows"
    assert parallel.kind(1, parallel.PREFILL_ROWS) == parallel.kind(4, parallel.PREFILL_ROWS // 4) == "prefill"
    assert parallel.kind(parallel.PREFILL_ROWS, 1) == parallel.kind(16, 8, every_position=True) == "prefill"


class Controller:
    """threadpoolctl's controller as panels_pay reads it: the libraries loaded, and OpenBLAS's kernels."""

    def __init__(self, *libraries):
        self.libraries = [{"internal_api": api, "architecture": kernels} for api, kernels in libraries]

    def info(self):
        return self.libraries


@pytest.mark.parametrize("libraries, pays", [
    ([("openblas", "SkylakeX")], True), ([("openblas", "Cooperlake")], True),
    ([("openblas", "SapphireRapids")], True), ([("openblas", "Haswell")], False), ([("openblas", "Zen")], False),
    ([("mkl", "SkylakeX")], False), ([("openmp", None), ("openblas", "SkylakeX")], True), ([], False),
])  # fmt: skip
def test_panels_pay_with_openblass_small_matrix_kernels(libraries, pays, monkeypatch):
    parallel.panels_pay.cache_clear()
    monkeypatch.setattr(parallel, "threadpool_controller", lambda: Controller(*libraries))
    assert parallel.panels_pay() is pays
    parallel.panels_pay.cache_clear()
    monkeypatch.setattr(parallel, "threadpool_controller", lambda: None)  # threadpoolctl not installed
    assert parallel.panels_pay() is False
    parallel.panels_pay.cache_clear()


def test_available_unless_switched_off_or_impossible(monkeypatch):
    config = CONFIGS["gpt2-like"]
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    for value in ("on", "1", "auto", "", " AUTO "):
        monkeypatch.setenv("GPTLITE_PARALLEL", value)
        assert parallel.available(config)
    monkeypatch.delenv("GPTLITE_PARALLEL")
    assert parallel.available(config) and parallel.setting() == "auto"
    assert not parallel.available(Config(n_vocab=10, n_ctx=8, n_embd=8, n_head=1, n_layer=1))  # one head
    for off in ("0", "off", "OFF"):
        monkeypatch.setenv("GPTLITE_PARALLEL", off)
        assert not parallel.available(config)
    monkeypatch.setenv("GPTLITE_PARALLEL", "fast please")
    with pytest.raises(ValueError, match="GPTLITE_PARALLEL must be auto, on or off"):
        parallel.available(config)
    monkeypatch.delenv("GPTLITE_PARALLEL")
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    assert not parallel.available(config)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    monkeypatch.setattr(parallel, "threadpool_controller", lambda: None)  # threadpoolctl not installed
    assert not parallel.available(config)
    assert random_gpt(config).engine.path(8, 1) == "model.py"


@pytest.mark.parametrize("cores, setting, pays, expected, rows", [
    (2, "auto", True, True, True), (2, "auto", False, True, False), (4, "auto", True, False, False),
    (16, "auto", True, False, False), (4, "on", False, True, True), (2, "off", True, False, False),
])  # fmt: skip
def test_the_path_is_chosen_by_rule(cores, setting, pays, expected, rows, monkeypatch, count_split_steps):
    """The path depends on the cores the process may use, the setting, OpenBLAS's kernels (for passes over a few
    rows) and the pass: nothing timed, so the same machine, model and pass take it every time."""
    monkeypatch.setenv("GPTLITE_PARALLEL", setting)
    monkeypatch.setattr(parallel, "usable_cores", lambda: cores)
    monkeypatch.setattr(parallel, "panels_pay", lambda: pays)
    config = CONFIGS["gpt2-like"]
    assert parallel.runs(config, 1, parallel.PREFILL_ROWS) is expected
    assert parallel.runs(config, 8, 1) is parallel.runs(config, 1, 5, every_position=True) is rows
    assert parallel.runs(config, 64, 1) is parallel.runs(config, 4, 25, every_position=True) is rows  # up to 127
    assert not parallel.runs(config, 1, 1) and not parallel.runs(config, 1, parallel.PREFILL_ROWS - 1)
    assert not parallel.runs(config, 1, 5)  # a short prompt: only its last position's logits are read
    gpt = random_gpt(config)
    path = "two threads" if rows else "model.py"
    assert gpt.engine.path(8, 1) == gpt.engine.path(1, 5, every_position=True) == path
    first = gpt.generate(PROMPTS, 6, temperature=1.0, seed=4)
    assert len(count_split_steps) == (5 if rows else 0)  # the 5 decode steps (the prefill, 8 x 12, is short)
    assert random_gpt(config).generate(PROMPTS, 6, temperature=1.0, seed=4) == first  # a fresh model, the same path


# A value other than GPT-2's for every Config field (for the shape fields, a shape the other tests do not use):
# test_parallel checks the two-thread path against model.py with each, so a field must be listed here before
# parallel.COMPUTES may declare it.
OPTIONS = {
    "n_vocab": [257], "n_ctx": [40], "n_embd": [48], "n_head": [2, 8], "n_layer": [1], "n_inner": [56],
    "activation": sorted(model.ACTIVATIONS), "layer_norm_epsilon": [1e-2], "scale_attn_weights": [False],
    "scale_attn_by_inverse_layer_idx": [True], "tie_word_embeddings": [False], "layer_norm": ["post"],
}  # fmt: skip


def test_every_config_field_is_declared_and_tested():
    fields = {f.name for f in dataclasses.fields(Config)}
    assert set(parallel.COMPUTES) == fields, "declare each Config field in parallel.COMPUTES (and test it)"
    assert set(OPTIONS) == fields, "give each Config field a value to test parallel.py against model.py with"


@pytest.mark.parametrize("field, value", [(f, v) for f, values in OPTIONS.items() for v in values])
def test_every_declared_field_computes_what_candidatepy_computes(field, value, count_split_steps):
    """A value COMPUTES declares gives the two-thread path's numbers equal to model.py's; any other value is
    never computed there: even with GPTLITE_PARALLEL=on (as in every test here), such a model runs model.py's."""
    base = Config(n_vocab=300, n_ctx=64, n_embd=32, n_head=4, n_layer=2)
    config = dataclasses.replace(base, **{field: value})
    gpt = random_gpt(config)
    if not parallel.computes(config):
        assert parallel.COMPUTES[field] is not None and value not in parallel.COMPUTES[field]
        assert gpt.engine.path(8, 1) == gpt.engine.path(1, 4 * parallel.PREFILL_ROWS) == "model.py"
        gpt.generate([list(range(1, 30)), [5, 6, 7]], 3, temperature=0)
        assert count_split_steps == []
        return
    prompts = [list(range(1, 30)), [5, 6, 7]]
    ids, real, positions = left_pad(prompts, max_new_tokens=1)
    n_seq = ids.shape[1]
    two = parallel.TwoThreads(config)
    two.load(gpt.params)
    caches = [KVCache(config, 2, n_seq + 1) for _ in range(2)]
    mask = attention_mask(real[:, :n_seq], n_seq)
    expected = hidden_states(gpt.params, ids, positions, mask, caches[0], config)  # [2, n_seq, n_embd]
    np.testing.assert_allclose(two.hidden_states(ids, positions, mask, caches[1]), expected, rtol=1e-4, atol=1e-5)
    token, mask = np.array([[3], [4]]), attention_mask(real, 1)  # a decode step of the batch, through the panels
    plain = model.lm_head(hidden_states(gpt.params, token, positions[:, -1:] + 1, mask, caches[0], config)[:, -1],
                          model.head_weight(gpt.params))  # fmt: skip
    np.testing.assert_allclose(two.last_logits(token, positions[:, -1:] + 1, mask, caches[1]), plain, rtol=1e-4,
                               atol=1e-5)  # fmt: skip


def test_a_value_the_path_does_not_declare_runs_in_candidatepy(monkeypatch, count_split_steps):
    monkeypatch.setitem(parallel.COMPUTES, "activation", {"gelu_new"})  # as if it computed GPT-2's gelu only
    relu = dataclasses.replace(CONFIGS["gpt2-like"], activation="relu")
    assert not parallel.computes(relu) and parallel.computes(CONFIGS["gpt2-like"])
    random_gpt(relu).generate(PROMPTS, 4, temperature=0)
    assert count_split_steps == []


def test_threads_sharing_a_candidateleave_openblas_as_they_found_it():
    from threadpoolctl import threadpool_info

    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    gpt = random_gpt(CONFIGS["gpt2-like"])
    expected = gpt.generate(PROMPTS, 8, temperature=0)
    results, errors = [], []

    def work():
        try:
            results.extend(gpt.generate(PROMPTS, 8, temperature=0) for _ in range(3))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [expected] * 12
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == before
