"""Weights on disk: the safetensors reader/writer, Hugging Face directories and gptlite's converted layout."""

import json
import shutil

import numpy as np
import pytest

from gptlite import GPT, Config
from gptlite.convert import convert
from gptlite.convert import main as convert_main
from gptlite.model import flatten, param_shapes
from gptlite.weights import safetensors
from gptlite.weights.checkpoint import hf_name, load_dir, save_converted

from helpers import MODELS, reference


def test_safetensors_round_trip(tmp_path):
    tensors = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([1, 2], np.int64),
        "c": np.ones((2, 2), np.float16),
        "empty": np.zeros((0, 4), np.float32),
    }
    safetensors.save(tmp_path / "t.safetensors", tensors, metadata={"format": "pt"})
    header, start = safetensors.read_header(tmp_path / "t.safetensors")
    assert start % 64 == 0
    assert header["__metadata__"] == {"format": "pt"} and header["a"]["dtype"] == "F32"
    loaded = safetensors.load(tmp_path / "t.safetensors")
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)


def test_safetensors_reads_the_files_transformers_writes():
    path = MODELS / "bf16" / "model.safetensors"  # written by transformers, in BF16
    header, _ = safetensors.read_header(path)
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"BF16"}
    tensors = safetensors.load(path)
    assert all(t.dtype == np.float32 for t in tensors.values())


@pytest.mark.parametrize("cut", [0, 4, 8, 100, -1])
def test_truncated_safetensors_is_a_clear_error(tmp_path, cut):
    data = (MODELS / "f16" / "model.safetensors").read_bytes()
    path = tmp_path / "broken.safetensors"
    path.write_bytes(data[:cut] if cut >= 0 else data[:-10])
    with pytest.raises(ValueError, match="broken.safetensors"):
        safetensors.load(path)


def test_hf_names():
    assert hf_name("transformer.h.3.ln_1.weight") == "h.3.ln_1.g"
    assert hf_name("h.3.attn.c_attn.weight") == "h.3.attn.c_attn.w"
    assert hf_name("h.0.mlp.c_proj.bias") == "h.0.mlp.c_proj.b"
    assert hf_name("wte.weight") == "wte" and hf_name("ln_f.bias") == "ln_f.b"


def test_hub_layout_with_buffers_and_prefixed_layout_both_load():
    raw = safetensors.load(MODELS / "tiny" / "model.safetensors")
    assert "h.0.attn.bias" in raw and "h.0.attn.masked_bias" in raw  # the hub's buffers really are in the file
    assert any(n.startswith("transformer.") for n in safetensors.load(MODELS / "depth6" / "model.safetensors"))
    for name in ("tiny", "depth6"):  # tiny: no prefix + attn.bias buffers; depth6: transformers' save_pretrained
        config, tensors, _ = load_dir(MODELS / name)
        assert set(tensors) == set(param_shapes(config))  # buffers dropped, nothing else added or lost
        assert all(t.dtype == np.float32 for t in tensors.values())


def test_converted_layout_loads_by_memory_map_to_the_same_logits(tmp_path):
    convert(MODELS / "tiny", tmp_path / "tiny")
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == [
        "encoder.json",
        "gptlite.json",
        "vocab.bpe",
        "weights.safetensors",
    ]
    gpt = GPT.from_pretrained(tmp_path / "tiny")
    assert isinstance(gpt.params["h"][0]["attn"]["c_attn"]["w"].base, np.memmap) or isinstance(
        gpt.params["wte"].base, np.memmap
    )
    ref = reference("tiny")
    # The matrices stored transposed reach another BLAS kernel: the same sums, in an order that may round apart.
    converted, as_named = gpt(ref["prompt"]), GPT.from_pretrained(MODELS / "tiny")(ref["prompt"])
    np.testing.assert_allclose(converted, as_named, rtol=1e-5, atol=1e-6)
    assert gpt.tokenizer.encode("Hello world") == [15496, 995]


def test_convert_command(tmp_path, capsys):
    assert convert_main([str(MODELS / "f16"), str(tmp_path / "out")]) == 0
    assert "2 layers" in capsys.readouterr().out
    assert convert_main([str(tmp_path / "missing"), str(tmp_path / "out2")]) == 2
    assert "model directory not found" in capsys.readouterr().err
    (tmp_path / "file").write_text("not a model")
    assert convert_main([str(tmp_path / "file"), str(tmp_path / "out3")]) == 2
    assert "file: not a directory" in capsys.readouterr().err
    assert not (tmp_path / "out3").exists()


def broken_copy(tmp_path, edit):
    """A copy of the f16 fixture whose tensors were changed by edit(dict)."""
    directory = tmp_path / "model"
    shutil.copytree(MODELS / "f16", directory)
    tensors = dict(safetensors.load(directory / "model.safetensors", mmap=False))
    edit(tensors)
    safetensors.save(directory / "model.safetensors", {k: v.astype(np.float32) for k, v in tensors.items()})
    return directory


def test_missing_tensor_is_named_with_its_shape(tmp_path):
    directory = broken_copy(tmp_path, lambda t: t.pop("transformer.h.1.mlp.c_fc.weight"))
    with pytest.raises(ValueError, match=r"missing tensor h\.1\.mlp\.c_fc\.w \(expected shape \[32, 128\]\)"):
        GPT.from_pretrained(directory)


def test_wrong_shape_names_expected_and_found(tmp_path):
    def edit(t):
        t["transformer.h.0.attn.c_attn.weight"] = t["transformer.h.0.attn.c_attn.weight"][:, :90]

    with pytest.raises(ValueError, match=r"h\.0\.attn\.c_attn\.w has shape \[32, 90\], expected \[32, 96\]"):
        GPT.from_pretrained(broken_copy(tmp_path, edit))


def test_unsupported_config_is_refused(tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(MODELS / "f16", directory)
    config = json.loads((directory / "config.json").read_text())
    config["activation_function"] = "gelu_10"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="activation_function='gelu_10' is not supported"):
        GPT.from_pretrained(directory)


def test_missing_and_unrecognised_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        GPT.from_pretrained(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="not a model directory"):
        GPT.from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"junk")  # a file where a directory was meant
    for path in (tmp_path / "model.safetensors", str(tmp_path / "model.safetensors")):
        with pytest.raises(FileNotFoundError, match=r"model.safetensors: not a directory \(a model is a directory"):
            GPT.from_pretrained(path)


def test_failed_conversion_leaves_no_model_behind(tmp_path, monkeypatch):
    """gptlite.json is written last: a conversion that dies midway leaves nothing that loads as a model."""
    config, tensors, vocab = load_dir(MODELS / "tiny")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors, "save", disk_full)
    with pytest.raises(OSError):
        save_converted(tmp_path / "out", config, tensors, vocab, "test")
    assert not (tmp_path / "out" / "gptlite.json").exists()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


OPTIONS = sorted(p.name for p in (MODELS / "options").iterdir())


@pytest.mark.parametrize("option", OPTIONS)
def test_gpt2_config_options_are_computed_as_transformers_computes_them(option):
    """Each GPT2Config option on a small random model: logits within 1e-4 of transformers, same greedy tokens;
    and the option matters: computing the same weights without it is off by far more."""
    ref = reference(f"options/{option}")
    gpt = GPT.from_pretrained(MODELS / "options" / option)
    assert np.abs(gpt(ref["prompt"]) - ref["logits"]).max() <= 1e-4
    assert gpt.generate(ref["prompt"], 32, temperature=0, eos_token_id=None) == ref["greedy"].tolist()
    if option not in ("reorder_and_upcast_attn", "gelu_pytorch_tanh"):  # the same math as GPT-2's, in float32
        plain = Config(**{k: getattr(gpt.config, k) for k in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")})
        params = {k: v for k, v in gpt.params.items() if k != "lm_head"}  # a plain GPT-2 ties its head
        if plain.d_mlp == gpt.config.d_mlp:  # (n_inner: the weights do not even fit a plain GPT-2)
            assert np.abs(GPT(plain, params, None)(ref["prompt"]) - ref["logits"]).max() > 1e-3


def test_options_survive_conversion(tmp_path):
    convert(MODELS / "options" / "untied_head", tmp_path / "out")
    gpt = GPT.from_pretrained(tmp_path / "out")
    assert not gpt.config.tie_word_embeddings and gpt.params["lm_head"].shape == (200, 32)
    ref = reference("options/untied_head")
    assert np.abs(gpt(ref["prompt"]) - ref["logits"]).max() <= 1e-4


def memory_mapped(array):
    """Whether the array is a view of a file's memory map (through any chain of views), not a copy."""
    bases = [array]
    while getattr(bases[-1], "base", None) is not None:
        bases.append(bases[-1].base)
    return any(isinstance(base, np.memmap) for base in bases)


@pytest.mark.parametrize("model, head", [("tiny", "wte"), ("options/untied_head", "lm_head")])
def test_version_3_stores_the_head_and_each_c_proj_transposed_and_loads_them_as_views(tmp_path, model, head):
    """On disk the head is [n_embd, n_vocab] and each c_proj.w [n_out, n_in], C order; loaded, every tensor has
    gptlite's shape again, as a view of the map; c_attn and c_fc are stored as they are named."""
    convert(MODELS / model, tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "gptlite.json").read_text())
    gpt, original = GPT.from_pretrained(tmp_path / "out"), GPT.from_pretrained(MODELS / model)
    blocks = [f"h.{i}.{kind}.c_proj.w" for i in range(gpt.config.n_layer) for kind in ("attn", "mlp")]
    assert meta["version"] == 3 and meta["stored_transposed"] == [head, *blocks]
    stored, loaded, wanted = (safetensors.load(tmp_path / "out" / "weights.safetensors"), flatten(gpt.params),
                              flatten(original.params))  # fmt: skip
    for name in param_shapes(gpt.config):
        assert memory_mapped(loaded[name]), name
        assert loaded[name].shape == wanted[name].shape, name
        np.testing.assert_array_equal(loaded[name], wanted[name])
        if name in meta["stored_transposed"]:
            assert stored[name].shape == loaded[name].shape[::-1] and loaded[name].T.flags.c_contiguous, name
        else:
            assert stored[name].shape == loaded[name].shape and loaded[name].flags.c_contiguous, name
    ids = reference(model)["prompt"]
    np.testing.assert_allclose(gpt(ids), original(ids), rtol=1e-5, atol=1e-5)


def rewrite(directory, target, version, transposed):
    """A copy of a converted directory as an older version would have written it: the tensors in `transposed`
    stored transposed, every other one as named."""
    target.mkdir()
    for name in ("encoder.json", "vocab.bpe"):
        shutil.copy(directory / name, target / name)
    gpt = GPT.from_pretrained(directory)
    tensors = {k: np.ascontiguousarray(v.T if k in transposed else v) for k, v in flatten(gpt.params).items()}
    safetensors.save(target / "weights.safetensors", tensors)
    meta = json.loads((directory / "gptlite.json").read_text())
    meta["stored_transposed"] = transposed
    (target / "gptlite.json").write_text(json.dumps(meta | {"version": version}))
    return gpt


@pytest.mark.parametrize("version, transposed", [(1, []), (2, ["wte"])])
def test_older_versions_still_load(tmp_path, version, transposed):
    """Directories converted by version 1 (every tensor as named) and 2 (only the head transposed) load to the
    same weights, in the order their files hold them."""
    convert(MODELS / "tiny", tmp_path / "v3")
    v3 = rewrite(tmp_path / "v3", tmp_path / "old", version, transposed)
    if version == 1:
        meta = json.loads((tmp_path / "old" / "gptlite.json").read_text())
        del meta["stored_transposed"]  # version 1 had no such field
        (tmp_path / "old" / "gptlite.json").write_text(json.dumps(meta))
    old = GPT.from_pretrained(tmp_path / "old")
    assert old.params["h"][0]["mlp"]["c_proj"]["w"].flags.c_contiguous
    assert old.params["wte"].flags.c_contiguous == (version == 1)
    for name, array in flatten(old.params).items():
        np.testing.assert_array_equal(array, flatten(v3.params)[name])
    np.testing.assert_allclose(old(reference("tiny")["prompt"]), v3(reference("tiny")["prompt"]), rtol=1e-5, atol=1e-5)


def without(meta, *drop):
    return {k: v for k, v in meta.items() if k not in drop}


def listed(meta, keep):
    return meta | {"stored_transposed": [n for n in meta["stored_transposed"] if keep(n)]}


BAD_META = {
    "version 4": lambda m: m | {"version": 4},
    "version 1 with a list": lambda m: m | {"version": 1},
    "version 2 with c_proj": lambda m: m | {"version": 2},
    "not a list": lambda m: m | {"stored_transposed": "wte"},
    "a list of lists": lambda m: m | {"stored_transposed": [["wte"]]},
    "null": lambda m: m | {"stored_transposed": None},
    "a name twice": lambda m: m | {"stored_transposed": [*m["stored_transposed"], "wte"]},
    "no such tensor": lambda m: m | {"stored_transposed": [*m["stored_transposed"], "h.0"]},
    "a layer the model lacks": lambda m: m | {"stored_transposed": [*m["stored_transposed"], "h.99.mlp.c_proj.w"]},
    "c_fc too": lambda m: m | {"stored_transposed": [*m["stored_transposed"], "h.0.mlp.c_fc.w"]},
    "a square matrix left out": lambda m: listed(m, lambda n: "attn.c_proj" not in n),  # loads wrong, unrefused
    "the head left out": lambda m: listed(m, lambda n: n != "wte"),
    "lm_head of a tied model": lambda m: m | {"stored_transposed": ["lm_head", *m["stored_transposed"][1:]]},
    "version 3 without the field": lambda m: without(m, "stored_transposed"),
}


@pytest.mark.parametrize("change", list(BAD_META))
def test_a_bad_version_or_stored_transposed_is_refused_in_one_line(tmp_path, change):
    """Every stored_transposed but the one its version writes is refused: attn.c_proj is square, so the shapes
    alone would let a list that leaves it out load, transposed, without an error."""
    convert(MODELS / "tiny", tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "gptlite.json").read_text())
    (tmp_path / "out" / "gptlite.json").write_text(json.dumps(BAD_META[change](meta)))
    with pytest.raises(
        ValueError, match=r"gptlite.json: (not a gptlite model of version 1, 2 or 3|stored_transposed)"
    ) as e:
        GPT.from_pretrained(tmp_path / "out")
    assert str(e.value).count("gptlite.json") == 1  # the path said once
