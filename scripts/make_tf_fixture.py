"""Write tests/fixtures/models/depth6-tf: the `depth6` fixture as OpenAI released GPT-2, a TensorFlow checkpoint.

Needs tensorflow, in a virtual environment of its own (never a gptlite dependency):

    python -m venv .venv-tf && .venv-tf/bin/pip install tensorflow-cpu
    .venv-tf/bin/python scripts/make_tf_fixture.py

TensorFlow's own SaveV2 op writes the tensor bundle, with OpenAI's variable names
(`model/h0/attn/c_attn/w`, conv1d weights with a leading 1) and `hparams.json`.
Then the script checks that gptlite's pure-NumPy reader returns exactly what
TensorFlow's reader returns.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gptlite.weights.checkpoint import load_dir  # noqa: E402
from gptlite.weights.tf_checkpoint import load as read_bundle  # noqa: E402

SOURCE, OUT = ROOT / "tests" / "fixtures" / "models" / "depth6", ROOT / "tests" / "fixtures" / "models" / "depth6-tf"


def openai_variable(name):
    """gptlite's name -> OpenAI's: "h.3.attn.c_attn.w" -> "model/h3/attn/c_attn/w"."""
    parts = name.split(".")
    if parts[0] == "h":
        parts[0:2] = [f"h{parts[1]}"]
    return "model/" + "/".join(parts)


def main():
    config, tensors, _ = load_dir(SOURCE)
    variables = {}
    for name, array in tensors.items():
        is_conv1d_weight = name.endswith(".w")
        variables[openai_variable(name)] = np.asarray(array)[None] if is_conv1d_weight else np.asarray(array)
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    names = sorted(variables)
    tf.raw_ops.SaveV2(
        prefix=str(OUT / "model.ckpt"),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(variables[n]) for n in names],
    )
    (OUT / "checkpoint").write_text('model_checkpoint_path: "model.ckpt"\nall_model_checkpoint_paths: "model.ckpt"\n')
    hparams = {
        "n_vocab": config.n_vocab,
        "n_ctx": config.n_ctx,
        "n_embd": config.n_embd,
        "n_head": config.n_head,
        "n_layer": config.n_layer,
    }
    (OUT / "hparams.json").write_text(json.dumps(hparams, indent=2) + "\n")

    reader = tf.train.load_checkpoint(str(OUT / "model.ckpt"))
    ours = read_bundle(str(OUT / "model.ckpt"))
    assert sorted(ours) == sorted(reader.get_variable_to_shape_map()) == names
    for n in names:
        np.testing.assert_array_equal(ours[n], reader.get_tensor(n))
    print(f"depth6-tf: {len(names)} tensors; gptlite's reader matches tensorflow {tf.__version__}'s exactly")


if __name__ == "__main__":
    main()
