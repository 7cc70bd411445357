"""The PyTorch and TensorFlow readers: same weights as safetensors, refusal of code, clear errors on damage."""

import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest

from gptlite import GPT
from gptlite.weights import safetensors, tf_checkpoint, torch_checkpoint
from gptlite.weights.crc32c import crc32c, mask

from helpers import MODELS, reference


@pytest.mark.parametrize("name", ["depth6-bin", "depth6-bin-legacy", "depth6-tf"])
def test_every_format_gives_the_safetensors_logits(name):
    ref = reference("depth6")
    gpt = GPT.from_pretrained(MODELS / name)
    assert np.abs(gpt(ref["prompt"]) - ref["logits"]).max() <= 1e-4
    assert gpt.generate(ref["prompt"], 32, temperature=0) == ref["greedy"].tolist()


@pytest.mark.parametrize("name", ["depth6-bin", "depth6-bin-legacy"])
def test_pytorch_bins_hold_the_same_tensors(name):
    expected = safetensors.load(MODELS / "depth6" / "model.safetensors")
    got = torch_checkpoint.load(MODELS / name / "pytorch_model.bin")
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


def test_tf_names_and_squeezed_conv1d_weights():
    tensors = tf_checkpoint.load(str(MODELS / "depth6-tf" / "model.ckpt"))
    assert tensors["model/h0/attn/c_attn/w"].shape == (1, 32, 96)
    assert tf_checkpoint.openai_name("model/h3/mlp/c_fc/w") == "h.3.mlp.c_fc.w"
    assert tf_checkpoint.load_openai(str(MODELS / "depth6-tf" / "model.ckpt"))["h.0.attn.c_attn.w"].shape == (32, 96)


class RunsCode:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


class CallsEval:
    def __reduce__(self):
        return eval, ("1 + 1",)


@pytest.mark.parametrize(
    "payload, pickled_as", [("os.system", "(os|posix|nt).system"), ("eval", "(builtins|__builtin__).eval")]
)
@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_pickle_with_code_is_refused_before_it_runs(tmp_path, payload, pickled_as, layout):
    marker = tmp_path / "pwned"
    evil = {"wte.weight": RunsCode(marker) if payload == "os.system" else CallsEval()}
    path = tmp_path / "pytorch_model.bin"
    if layout == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", pickle.dumps(evil, protocol=2))
    else:
        with open(path, "wb") as f:
            for obj in (torch_checkpoint.LEGACY_MAGIC, torch_checkpoint.LEGACY_PROTOCOL, {}):
                pickle.dump(obj, f, protocol=2)
            pickle.dump(evil, f, protocol=2)
    with pytest.raises(ValueError, match=f"refusing to unpickle {pickled_as}"):
        torch_checkpoint.load(path)
    assert not marker.exists()


def test_not_a_pytorch_file(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(b"hello, not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch state dict|not a PyTorch checkpoint"):
        torch_checkpoint.load(path)


def test_truncated_legacy_bin(tmp_path):
    data = (MODELS / "depth6-bin-legacy" / "pytorch_model.bin").read_bytes()
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(ValueError, match="truncated"):
        torch_checkpoint.load(path)


def tf_copy(tmp_path):
    shutil.copytree(MODELS / "depth6-tf", tmp_path / "tf")
    return tmp_path / "tf"


def flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def test_truncated_tf_index(tmp_path):
    directory = tf_copy(tmp_path)
    index = directory / "model.ckpt.index"
    index.write_bytes(index.read_bytes()[:-20])
    with pytest.raises(ValueError, match="not a TensorFlow checkpoint index"):
        GPT.from_pretrained(directory)


def test_bit_flip_in_tf_index(tmp_path):
    directory = tf_copy(tmp_path)
    flip(directory / "model.ckpt.index", 100)
    with pytest.raises(ValueError, match="fails its checksum"):
        GPT.from_pretrained(directory)


def test_bit_flip_in_tf_data(tmp_path):
    directory = tf_copy(tmp_path)
    flip(directory / "model.ckpt.data-00000-of-00001", 5000)
    with pytest.raises(ValueError, match="fails its CRC-32C check"):
        GPT.from_pretrained(directory)


def test_truncated_tf_data(tmp_path):
    directory = tf_copy(tmp_path)
    data = directory / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:-100])
    with pytest.raises(ValueError, match="does not fit the data file"):
        GPT.from_pretrained(directory)


def bitwise_crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value (RFC 3720)
    data = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    for n in (0, 1, 4095, 4096, 4097, 12289, 20000):  # around the chunk size
        assert crc32c(data[:n]) == bitwise_crc32c(data[:n]), n
    assert mask(0) == 0xA282EAD8
