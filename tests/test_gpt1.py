"""GPT-1 (`openai-gpt`): the post-LN block, loading by name and from a directory, and everything gptlite does
with GPT-2 done with GPT-1, against transformers' OpenAIGPTLMHeadModel (scripts/make_gpt1_fixtures.py)."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from gptlite import GPT, Config, Tokenizer
from gptlite.backprop import backward, forward
from gptlite.gpt1_tokenizer import GPT1Tokenizer
from gptlite.hooks import activation_names, stream_names
from gptlite.model import final_norm, flatten, init_params, log_softmax, nest, param_shapes
from gptlite.releases import GPT1_RELEASES, known_names
from gptlite.weights import hub
from gptlite.weights.checkpoint import load_dir

from fakehub import FakeHub
from helpers import MODELS, central_differences, reference

FIXTURES = ["gpt1-tiny", "gpt1-deep", "gpt1-wide"]


@pytest.fixture(scope="module", params=FIXTURES)
def fixture(request):
    return request.param, GPT.from_pretrained(MODELS / request.param), reference(request.param)


@pytest.fixture(scope="module")
def tiny():
    return GPT.from_pretrained(MODELS / "gpt1-tiny")


def test_logits_match_transformers(fixture):
    name, gpt, ref = fixture
    assert gpt.config.layer_norm == "post" and "ln_f" not in gpt.params
    assert isinstance(gpt.tokenizer, GPT1Tokenizer)
    assert np.abs(gpt(ref["prompt"]) - ref["logits"]).max() <= 1e-4


def test_the_directories_are_the_layouts_they_stand_for():
    """tiny: the hub's names and causal-mask buffers; deep: a torch.save pickle, prefixed, the tied head in it;
    wide: an untied head and relu."""
    from gptlite.weights import safetensors, torch_checkpoint

    names = set(safetensors.load(MODELS / "gpt1-tiny" / "model.safetensors"))
    assert {"tokens_embed.weight", "positions_embed.weight", "h.0.attn.bias", "h.1.ln_2.weight"} <= names
    assert not any(n.startswith("transformer.") or n.startswith("ln_f") for n in names)
    names = set(torch_checkpoint.load(MODELS / "gpt1-deep" / "pytorch_model.bin"))
    assert {"transformer.tokens_embed.weight", "lm_head.weight"} <= names
    config, tensors, _ = load_dir(MODELS / "gpt1-wide")
    assert config.activation == "relu" and not config.tie_word_embeddings and "lm_head" in tensors
    assert set(tensors) == set(param_shapes(config))


def test_hidden_states_and_attention_per_layer_match_transformers(fixture):
    """transformers' hidden_states: the embeddings, then each block's output (ln_2's, in a post-LN block)."""
    _, gpt, ref = fixture
    run = gpt.run(ref["prompt"])
    n_layer = gpt.config.n_layer
    np.testing.assert_allclose(run["h.0.resid_pre"], ref["hidden_states_0"], atol=1e-5)
    for i in range(n_layer):
        np.testing.assert_allclose(run[f"h.{i}.ln_2.normalized"], ref[f"hidden_states_{i + 1}"], atol=1e-4)
        np.testing.assert_allclose(run[f"h.{i}.attn.pattern"], ref[f"attentions_{i}"], atol=1e-5)
        if i + 1 < n_layer:  # the stream that goes on is the normalised one
            np.testing.assert_array_equal(run[f"h.{i + 1}.resid_pre"], run[f"h.{i}.ln_2.normalized"])
        np.testing.assert_allclose(run[f"h.{i}.resid_mid"], run[f"h.{i}.resid_pre"] + run[f"h.{i}.attn.out"],
                                   atol=1e-6)  # fmt: skip
        np.testing.assert_allclose(run[f"h.{i}.resid_post"], run[f"h.{i}.ln_1.normalized"] + run[f"h.{i}.mlp.out"],
                                   atol=1e-6)  # fmt: skip
    assert sorted(run.records) == sorted(activation_names(n_layer, "post"))
    assert "ln_f.normalized" not in run.records


def test_greedy_matches_transformers_and_an_uncached_argmax_loop(fixture):
    _, gpt, ref = fixture
    prompt = ref["prompt"].tolist()
    cached = gpt.generate(prompt, 32, temperature=0)
    assert cached == ref["greedy"].tolist()
    ids = list(prompt)
    for _ in range(32):  # the whole sequence again at every step: no cache
        ids.append(int(gpt(ids)[-1].argmax()))
    assert ids[len(prompt) :] == cached


def test_batches_compute_what_each_sequence_does_alone(tiny):
    prompts = [[5, 6, 7, 8, 9, 10, 11], [1, 2], [3] * 12, [700]]
    together = tiny(prompts)
    for prompt, logits in zip(prompts, together):
        np.testing.assert_allclose(logits, tiny(prompt), atol=1e-5)
    assert tiny.generate(prompts, 10, temperature=0) == [tiny.generate(p, 10, temperature=0) for p in prompts]
    sampled = tiny.generate(prompts, 10, temperature=1.0, seed=[1, 2, 3, 4])
    assert sampled == [tiny.generate(p, 10, temperature=1.0, seed=s) for p, s in zip(prompts, [1, 2, 3, 4])]


def test_beam_search_matches_transformers(fixture):
    _, gpt, ref = fixture
    eos = int(ref["eos"])
    hypotheses = gpt.beam_search(ref["prompt"].tolist(), 16, num_beams=4, eos_token_id=eos)

    def until_eos(sequence):
        sequence = list(map(int, sequence))
        return sequence[: sequence.index(eos)] if eos in sequence else sequence

    assert [h.ids for h in hypotheses] == [until_eos(s) for s in ref["beam_sequences"]]
    np.testing.assert_allclose([h.score for h in hypotheses], ref["beam_scores"], atol=1e-4)


def test_scoring(tiny):
    ref = reference("gpt1-tiny")
    ids = ref["prompt"].tolist()
    score = tiny.score(ids, prepend_eot=False)
    expected = log_softmax(ref["logits"].astype(np.float64))[np.arange(len(ids) - 1), ids[1:]]
    np.testing.assert_allclose(score.logprobs, expected, atol=1e-4)
    with pytest.raises(ValueError, match="no <|endoftext|>"):  # GPT-1's vocabulary has none
        tiny.score(ids)
    text = "the king is dead . long live the king ! " * 20
    result = tiny.perplexity(text)  # the defaults work on a 64-token context
    assert np.isfinite(result.perplexity) and result.perplexity > 1


def test_text_in_text_out(tiny):
    """GPT-1's tokenizer (lower-cased, words ending in </w>) behind the text calls."""
    assert tiny.tokenizer.decode(tiny.tokenizer.encode("The King")) == "the king"
    text = tiny.complete("the king is", 8, seed=0)
    assert isinstance(text, str) and text == tiny.complete("the king is", 8, seed=0)
    assert "".join(tiny.stream("the king is", 8, seed=0)) == text


def test_hooks_patch_the_post_ln_stream(tiny):
    """Replacing the stream between the blocks changes the logits; handing back what was there does not."""
    ids = reference("gpt1-tiny")["prompt"].tolist()
    plain = tiny(ids)
    run = tiny.run(ids, names=["h.0.ln_2.normalized"])
    same = tiny.run(ids, hooks={"h.1.resid_pre": lambda x, name: run["h.0.ln_2.normalized"]})
    np.testing.assert_allclose(same.logits, plain, atol=1e-6)
    zeroed = tiny.run(ids, hooks={"h.1.ln_2.normalized": lambda x, name: np.zeros_like(x)})
    np.testing.assert_allclose(zeroed.logits, 0, atol=1e-6)  # the last block's output is what the head reads


def test_views_render(tiny):
    run = tiny.run("the king is dead", names=["h.*.attn.pattern"])
    assert run._repr_html_().count('class="tok"') == len(run.ids)
    assert run.attention()._repr_html_().count('class="cell"') == len(run.ids) ** 2
    trace = tiny.trace("the king is", 5, seed=0)
    assert trace._repr_html_().count('class="tok"') == 1 + 5  # the prompt, then each new token


def test_the_post_ln_block_runs_on_init_params_and_caches():
    """A post-LN model from init_params has no ln_f, and one cached pass equals step-by-step passes."""
    config = Config(n_vocab=50, n_ctx=16, n_embd=16, n_head=2, n_layer=3, layer_norm="post")
    params = init_params(config)
    assert "ln_f" not in params and set(param_shapes(config)) == set(param_shapes(Config(**{
        **dataclasses.asdict(config), "layer_norm": "pre"}))) - {"ln_f.g", "ln_f.b"}  # fmt: skip
    gpt = GPT(config, params, None)
    ids = [3, 1, 4, 1, 5, 9, 2, 6]
    assert gpt.generate(ids, 6, temperature=0) == [int(x) for x in _argmax_loop(gpt, ids, 6)]
    with pytest.raises(ValueError, match="layer_norm must be 'pre'"):
        Config(layer_norm="middle")


def _argmax_loop(gpt, ids, n):
    ids = list(ids)
    for _ in range(n):
        ids.append(int(gpt(ids)[-1].argmax()))
    return ids[-n:]


def write_config(tmp_path, **changes):
    directory = tmp_path / "model"
    shutil.copytree(MODELS / "gpt1-tiny", directory)
    config = json.loads((directory / "config.json").read_text())
    config.update(changes)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


@pytest.mark.parametrize("changes, message", [
    ({"n_embd": "32"}, "n_embd must be an integer"),
    ({"n_layer": True}, "n_layer must be an integer"),
    ({"layer_norm_epsilon": "small"}, "layer_norm_epsilon must be a finite number"),
    ({"afn": ["gelu"]}, "afn must be a string"),
    ({"afn": "gelu_fast"}, "afn='gelu_fast' is not supported"),
    ({"tie_word_embeddings": "yes"}, "tie_word_embeddings must be true or false"),
    ({"n_head": 5}, "divisible"),
    ({"n_positions": 65}, "wpe has shape"),
    ({"n_layer": 3}, "layers, but the weights hold|missing tensor h.2"),
])  # fmt: skip
def test_bad_gpt1_configs_are_one_line_errors(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        GPT.from_pretrained(write_config(tmp_path, **changes))


def test_relu_and_swish_configs_name_their_activations(tmp_path):
    assert load_dir(write_config(tmp_path, afn="swish"))[0].activation == "silu"
    shutil.rmtree(tmp_path / "model")
    assert load_dir(write_config(tmp_path, afn="gelu"))[0].activation == "gelu_new"  # the tanh form


def test_a_gpt1_checkpoint_with_an_ln_f_is_refused(tmp_path):
    from gptlite.weights import safetensors

    directory = write_config(tmp_path)
    tensors = dict(safetensors.load(directory / "model.safetensors"))
    tensors |= {"ln_f.weight": np.ones(32, np.float32), "ln_f.bias": np.zeros(32, np.float32)}
    safetensors.save(directory / "model.safetensors", {k: np.array(v) for k, v in tensors.items()})
    with pytest.raises(ValueError, match="unexpected tensor ln_f"):
        GPT.from_pretrained(directory)


def test_openai_gpt_by_name_from_the_hub(tmp_path, monkeypatch):
    assert "openai-gpt" in known_names()
    with FakeHub() as server:
        server.add_repo("openai-community/openai-gpt", MODELS / "gpt1-tiny")
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("GPTLITE_HOME", str(tmp_path / "home"))
        for var in ("GPTLITE_OFFLINE", "HF_HUB_OFFLINE", "HF_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        alone = Tokenizer.from_pretrained("openai-gpt", quiet=True)  # its two files, fetched without the model
        assert sorted(entry[0].rpartition("/")[2] for entry in server.log) == ["merges.txt", "vocab.json"]
        gpt = GPT.from_pretrained("openai-gpt", quiet=True)
        assert any("openai-community/openai-gpt/resolve/main/config.json" in entry[0] for entry in server.log)
        n_requests = len(server.log)
        again = GPT.from_pretrained("openai-gpt")  # the converted copy: no request
        tokenizer = Tokenizer.from_pretrained("openai-gpt")  # the cached model's files
        assert len(server.log) == n_requests
    ref = reference("gpt1-tiny")
    for model in (gpt, again):
        assert model.config.layer_norm == "post" and isinstance(model.tokenizer, GPT1Tokenizer)
        assert np.abs(model(ref["prompt"]) - ref["logits"]).max() <= 1e-4
    for tok in (alone, tokenizer):
        assert isinstance(tok, GPT1Tokenizer) and tok.encode("The King!") == gpt.tokenizer.encode("the king !")
    assert hub.is_cached("openai-gpt")


def test_the_release_is_gpt1s_shape():
    """Radford et al. 2018: 12 blocks of 768 with 12 heads, 512 positions, 40,478 tokens; 116.5M parameters
    as transformers counts them (no ln_f, the head tied)."""
    config = Config(**GPT1_RELEASES["openai-gpt"].shape)
    assert config.n_ctx == 512 and config.n_vocab == 40478 and config.layer_norm == "post"
    assert sum(np.prod(s) for s in param_shapes(config).values()) == 116_534_784


def test_post_ln_gradients_match_central_finite_differences():
    """backprop's post-LN block and its head without ln_f, against (loss(p + eps) - loss(p - eps)) / 2 eps for
    every parameter, in float64 with every weight, bias and gain random."""
    config = Config(n_vocab=13, n_ctx=7, n_embd=8, n_head=2, n_layer=2, layer_norm="post")
    rng = np.random.default_rng(0)
    flat = {k: rng.standard_normal(v.shape) * (0.3 if k.endswith((".w", "wte", "wpe")) else 0.1)
            + (1.0 if k.endswith(".g") else 0.0) for k, v in flatten(init_params(config)).items()}  # fmt: skip
    params = nest(flat)
    ids, targets = rng.integers(0, 13, (2, 6)), rng.integers(0, 13, (2, 6))
    loss, acts = forward(params, ids, targets, config)
    grads = flatten(backward(params, acts))
    assert grads.keys() == flat.keys() and "ln_f.g" not in grads
    numeric = central_differences(params, lambda: forward(params, ids, targets, config)[0])
    for name in flat:
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-5, atol=1e-8, err_msg=name)


def test_training_forward_is_the_inference_forward_post_ln(tiny):
    ids = reference("gpt1-tiny")["prompt"][None]
    _, acts = forward(tiny.params, ids, ids, tiny.config)
    np.testing.assert_allclose(acts["logp"][0], log_softmax(tiny(ids[0])), atol=1e-5)


def test_fine_tuning_a_gpt1(tiny, tmp_path):
    from gptlite.train import fit

    before = tiny.params["h"][0]["ln_1"]["g"].copy()
    text = "the king is dead . long live the king ! what light through yonder window breaks ?\n" * 30
    result = fit(text, model=tiny, steps=8, batch_size=2, n_ctx=32, warmup=1, lr=3e-3, eval_every=4, quiet=True,
                 out=tmp_path / "tuned")  # fmt: skip
    np.testing.assert_array_equal(tiny.params["h"][0]["ln_1"]["g"], before)  # the argument is untouched
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    reloaded = GPT.from_pretrained(tmp_path / "tuned")
    assert reloaded.config == tiny.config and isinstance(reloaded.tokenizer, GPT1Tokenizer)
    np.testing.assert_array_equal(reloaded.params["wte"], result.gpt.params["wte"])
    resumed = fit(None, steps=10, quiet=True, out=tmp_path / "tuned", resume=True)  # its post-LN blocks, resumed
    assert resumed.step == 10 and resumed.gpt.config.layer_norm == "post" and "ln_f" not in resumed.gpt.params


def test_the_stream_between_blocks_and_what_the_head_reads_of_it(tiny):
    """hooks.stream_names and model.final_norm, what a logit lens needs: the last name's activation, through
    final_norm and the head, gives the model's logits, for GPT-1 (no ln_f) as for GPT-2."""
    gpt2 = GPT.from_pretrained(MODELS / "tiny")
    for gpt in (tiny, gpt2):
        names = stream_names(gpt.config.n_layer, gpt.config.layer_norm)
        run = gpt.run("the king is dead", names=names)
        assert names[0] == "h.0.resid_pre" and len(names) == gpt.config.n_layer + 1
        logits = gpt.engine.head(final_norm(gpt.params, run[names[-1]], gpt.config))
        np.testing.assert_allclose(logits, run.logits, atol=1e-5)
    assert stream_names(2, "post")[1:] == ["h.0.ln_2.normalized", "h.1.ln_2.normalized"]
    assert stream_names(2)[1:] == ["h.0.resid_post", "h.1.resid_post"]


def test_the_logit_lens_decodes_a_post_ln_stream_without_ln_f(tmp_path):
    """GPT-1's stream after each block is its ln_2.normalized, and there is no ln_f: the lens decodes that
    stream with the head alone, so after the last block it gives the logits."""
    gpt = GPT.from_pretrained(MODELS / "gpt1-tiny")
    run = gpt.run([5, 6, 7, 8, 9])
    lens = run.logit_lens()
    assert lens.top_ids.shape == (gpt.config.n_layer + 1, 5)
    np.testing.assert_allclose(lens.logits(-1), run.logits, rtol=1e-5, atol=1e-5)
    assert run.names().index("h.0.resid_mid") < run.names().index("h.0.ln_1.normalized")  # GPT-1's order
    run.save(tmp_path / "run.html")
    assert "logit lens" in (tmp_path / "run.html").read_text().lower()
    with pytest.raises(ValueError, match=r"needs h.1.ln_2.normalized \(and h.\*.ln_2.normalized\)"):
        gpt.run([5, 6, 7], names=["h.0.*"]).logit_lens()
