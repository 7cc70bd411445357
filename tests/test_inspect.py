"""Looking inside: every activation by name and shape, hooks, the logit lens, traces, agreement with transformers."""

import numpy as np
import pytest

from gptlite import GPT, Config
from gptlite.hooks import NAMES, Record, activation_names, canonical
from gptlite.inspect import main as inspect_main
from gptlite.model import init_params, log_softmax

from helpers import MODELS

TEXT = "After John and Mary went to the store, John gave a bottle of milk to"


@pytest.fixture(scope="module")
def run(tiny):
    return tiny.run(TEXT)


def shape_of(spec, config, n_seq):
    sizes = {
        "n_seq": n_seq,
        "n_kv": n_seq,
        "n_embd": config.n_embd,
        "d_mlp": config.d_mlp,
        "n_head": config.n_head,
        "d_head": config.d_head,
        "n_vocab": config.n_vocab,
    }
    return tuple(sizes[axis.strip()] for axis in spec.split(","))


def test_every_activation_is_recorded_with_its_documented_shape(tiny, run):
    n_seq = len(run.ids)
    assert run.names() == activation_names(tiny.config.n_layer)  # all of them, in forward order
    assert len(run.names()) == 4 + 15 * tiny.config.n_layer
    for template, spec, _ in NAMES:
        for name in [template.format(i=i) for i in range(tiny.config.n_layer)] if "{i}" in template else [template]:
            assert run[name].shape == shape_of(spec, tiny.config, n_seq), name
            assert run[name].dtype == np.float32, name


def test_run_basics(tiny, run):
    assert run.tokens == tiny.tokenizer.to_str_tokens(run.ids) and "".join(run.tokens) == TEXT
    assert run.tokens[:3] == ["After", " John", " and"]
    np.testing.assert_array_equal(run.logits, tiny(run.ids))
    np.testing.assert_array_equal(run["logits"], run.logits)
    expected = log_softmax(tiny(run.ids).astype(np.float64))[np.arange(len(run.ids) - 1), run.ids[1:]]
    np.testing.assert_allclose(run.logprobs, expected, rtol=1e-6)
    assert run.logprobs.shape == (len(run.ids) - 1,)
    top = run.top(k=4)
    assert [t.id for t in top] == np.argsort(-run.logits[-1], kind="stable")[:4].tolist()
    probabilities = np.exp(log_softmax(run.logits[-1].astype(np.float64)))  # [n_vocab]: the model's own
    np.testing.assert_allclose([t.probability for t in top], probabilities[[t.id for t in top]], rtol=1e-6)
    assert top[0].probability >= top[1].probability >= top[3].probability
    for bad in (True, 0, 2.0):
        with pytest.raises(ValueError, match="k must be an integer"):
            run.top(k=bad)
    assert top[0].token == tiny.tokenizer.decode([top[0].id]) and top[0].logit == run.logits[-1, top[0].id]
    assert run.top(2, position=3)[0].id == int(run.logits[3].argmax())


def test_transformer_lens_names_are_aliases(run):
    assert canonical("blocks.1.attn.hook_pattern") == "h.1.attn.pattern"
    assert canonical("blocks.*.hook_resid_pre") == "h.*.resid_pre"
    assert canonical("ln_final.hook_normalized") == "ln_f.normalized"
    assert canonical("blocks.0.ln1.hook_normalized") == "h.0.ln_1.normalized"
    np.testing.assert_array_equal(run["blocks.1.attn.hook_z"], run["h.1.attn.z"])
    np.testing.assert_array_equal(run["hook_embed"], run["embed"])


@pytest.mark.parametrize("name", ["tiny", "depth6"])
def test_attention_and_hidden_states_match_transformers(name):
    """output_attentions / output_hidden_states of transformers, to 1e-5."""
    ref = dict(np.load(MODELS / name / "inside.npz"))
    gpt = GPT.from_pretrained(MODELS / name)
    result = gpt.run(ref["prompt"])
    n_layer = gpt.config.n_layer
    for i in range(n_layer):
        assert np.abs(result[f"h.{i}.attn.pattern"] - ref[f"attentions_{i}"]).max() <= 1e-5
        assert np.abs(result[f"h.{i}.resid_pre"] - ref[f"hidden_states_{i}"]).max() <= 1e-5
    assert np.abs(result["ln_f.normalized"] - ref[f"hidden_states_{n_layer}"]).max() <= 1e-5  # HF's last is after ln_f


def test_logit_lens_at_the_last_layer_equals_the_logits(tiny, run):
    lens = run.logit_lens()
    n_seq = len(run.ids)
    assert lens.layers == ["embed", "h.0", "h.1"]
    assert lens.top_ids.shape == lens.top_probs.shape == (3, n_seq) and lens.next_probs.shape == (3, n_seq - 1)
    np.testing.assert_allclose(lens.logits(-1), run.logits, atol=1e-5)
    np.testing.assert_array_equal(lens.top_ids[-1], run.logits.argmax(-1))
    np.testing.assert_allclose(np.log(lens.next_probs[-1]), run.logprobs, atol=1e-4)
    assert not np.allclose(lens.logits(0), run.logits)  # the embeddings alone predict something else


def test_recording_only_what_is_asked(tiny):
    result = tiny.run(TEXT, names=["h.*.attn.pattern", "blocks.0.hook_resid_post"])
    assert set(result.records) == {"h.0.attn.pattern", "h.1.attn.pattern", "h.0.resid_post"}
    with pytest.raises(KeyError, match="was not recorded"):
        result["h.0.mlp.pre"]
    with pytest.raises(ValueError, match="logit lens needs"):
        result.logit_lens()
    assert tiny.run(TEXT, names=[]).records == {}


def test_an_identity_hook_changes_nothing(tiny, run):
    seen = []
    same = tiny.run(TEXT, hooks={"*": lambda x, name: seen.append(name) or x})
    assert seen == activation_names(tiny.config.n_layer)  # called at every point, once, in order
    for name in run.names():
        np.testing.assert_array_equal(same[name], run[name])


@pytest.mark.parametrize("layer", [0, 1])
def test_zero_ablating_the_mlp_equals_zeroing_its_weights(tiny, layer):
    ablated = tiny.run(TEXT, hooks={f"h.{layer}.mlp.out": lambda x, name: np.zeros_like(x)})
    edited = tiny.copy()
    edited.params["h"][layer]["mlp"]["c_proj"]["w"][:] = 0
    edited.params["h"][layer]["mlp"]["c_proj"]["b"][:] = 0
    np.testing.assert_allclose(ablated.logits, edited(ablated.ids), atol=1e-5)
    assert not np.allclose(ablated.logits, tiny(ablated.ids), atol=1e-3)  # and the ablation did change something


def test_copy_is_writable_and_leaves_the_loaded_model_alone(tiny):
    assert not tiny.params["wte"].flags.writeable  # loaded weights are read-only memory maps
    edited = tiny.copy()
    edited.params["wte"][0] += 1
    assert tiny.params["wte"][0, 0] != edited.params["wte"][0, 0]


def test_activation_patching(tiny, run):
    """Patch an activation of run A into run B: with A = B nothing changes; patching the last residual stream
    of a clean run into a corrupted one gives the clean logits."""
    patched = tiny.run(TEXT, hooks={"h.1.attn.z": lambda z, name: run[name]})
    np.testing.assert_array_equal(patched.logits, run.logits)
    corrupt_text = TEXT.replace("John gave", "Mary gave")
    corrupt = tiny.run(corrupt_text)
    assert len(corrupt.ids) == len(run.ids) and not np.allclose(corrupt.logits, run.logits)
    restored = tiny.run(corrupt_text, hooks={"h.1.resid_post": lambda x, name: run[name]})
    np.testing.assert_allclose(restored.logits, run.logits, atol=1e-5)
    head_0 = np.arange(2)[:, None, None] == 0  # [n_head, 1, 1]
    one_head = tiny.run(corrupt_text, hooks={"h.1.attn.z": lambda z, name: np.where(head_0, run[name], z)})
    assert not np.allclose(one_head.logits, corrupt.logits)  # patching head 0 alone moves the output


def test_hook_errors(tiny):
    with pytest.raises(ValueError, match="no activation is named 'h.9.attn.pattern'"):
        tiny.run(TEXT, names=["h.9.attn.pattern"])
    with pytest.raises(ValueError, match="no activation is named"):
        tiny.run(TEXT, hooks={"h.0.nope": lambda x, n: x})
    with pytest.raises(ValueError, match="must return an array of shape"):
        tiny.run(TEXT, hooks={"h.0.attn.z": lambda x, n: x[:1]})
    with pytest.raises(ValueError, match="must be a function"):
        tiny.run(TEXT, hooks={"h.0.attn.z": 3})


def test_a_batch_gives_one_run_per_text(tiny):
    runs = tiny.run(["Hello there", TEXT])
    assert [len(r.ids) for r in runs] == [2, len(tiny.tokenizer.encode(TEXT))]
    np.testing.assert_array_equal(runs[1].logits, tiny(runs[1].ids))


def test_hooks_keep_no_state_between_runs_and_copy_what_they_record():
    config = Config(n_vocab=30, n_ctx=8, n_embd=8, n_head=2, n_layer=1)
    record = Record(["h.0.attn.scores", "h.0.attn.pattern"], n_layer=1)
    scores = np.zeros((1, 2, 3, 3), np.float32)
    assert record("h.0.attn.scores", scores) is scores and record.records["h.0.attn.scores"] is not scores
    gpt = GPT(config, init_params(config), None)
    result = gpt.run([1, 2, 3], names=["h.0.attn.scores", "h.0.attn.pattern"])
    assert (result["h.0.attn.scores"][:, 0, 1:] < -1e30).all()  # the mask survives: softmax did not overwrite it
    np.testing.assert_allclose(result["h.0.attn.pattern"].sum(-1), 1, rtol=1e-6)
    assert result.tokens == ["1", "2", "3"]  # no tokenizer: ids as strings


def test_trace_records_each_token_with_its_probability(tiny):
    trace = tiny.trace("The weather today is", 6, alternatives=3, temperature=0)
    ids = tiny.tokenizer.encode("The weather today is")
    new = tiny.generate(ids, 6, temperature=0)
    assert [chosen.id for chosen, _ in trace.steps] == new and trace.text == tiny.tokenizer.decode(new)
    logits = tiny(ids + new)
    for step, (chosen, alternatives) in enumerate(trace.steps):
        row = logits[len(ids) - 1 + step]
        assert len(alternatives) == 3 and alternatives[0].id == chosen.id  # greedy: the likeliest
        assert abs(chosen.probability - np.exp(log_softmax(row.astype(np.float64))[chosen.id])) < 1e-5
    sampled = tiny.trace("The weather", 8, seed=3)
    assert [c.id for c, _ in sampled.steps] == tiny.generate(tiny.tokenizer.encode("The weather"), 8, seed=3)
    assert sampled.logprobs.shape == (len(sampled.steps),) and (sampled.logprobs <= 0).all()


def test_views_as_text_and_html(tiny, run, tmp_path):
    assert "' John'" in str(run) and "expected instead" in repr(run)
    html = run._repr_html_()
    assert html.startswith('<div class="gptlite"') and html.count('class="tok"') == len(run.ids)
    attention = run.attention()
    assert attention.patterns.shape == (2, 2, len(run.ids), len(run.ids))
    assert attention._repr_html_().count('class="cell"') == len(run.ids) ** 2
    assert "h.1:" in str(attention)
    assert str(run.logit_lens()).splitlines()[-1].lstrip().startswith("h.1")
    trace = tiny.trace("Hello", 4, temperature=0)
    assert trace._repr_html_().count('class="tok"') == 5 and "alternatives" in str(trace)
    run.save(tmp_path / "run.html")
    page = (tmp_path / "run.html").read_text()
    assert page.startswith("<!doctype html>") and "http" not in page.lower().replace("http-equiv", "")
    assert page.count('class="cell"') == len(run.ids) ** 2 and "Logit lens" in page
    assert [p.name for p in tmp_path.iterdir()] == ["run.html"]


def test_inspect_command(tmp_path, capsys):
    out = tmp_path / "page.html"
    assert inspect_main([TEXT, "--model", str(MODELS / "tiny"), "--html", str(out), "--generate", "3"]) == 0
    printed = capsys.readouterr().out
    assert "' John'" in printed and "logit lens" in printed and "attention:" in printed and "prompt:" in printed
    assert out.read_text().count("Generation, token by token") == 1
    assert inspect_main(["Hi", "--model", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gptlite.inspect: error:" in err


def test_to_str_tokens_refuses_ids_outside_the_vocabulary(tiny):
    assert tiny.tokenizer.to_str_tokens([15496, 995]) == ["Hello", " world"]
    with pytest.raises(ValueError, match="not in"):
        tiny.tokenizer.to_str_tokens([-1])
    with pytest.raises(ValueError, match="not in"):
        tiny.tokenizer.decode([50257])
