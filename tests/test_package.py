"""The package as a whole: what importing it pulls in, its version, and its commands."""

import subprocess
import sys
from pathlib import Path

import tomllib

import gptlite

ROOT = Path(__file__).resolve().parents[1]


def test_the_teaching_core_imports_with_numpy_and_regex_alone():
    """requests and tqdm are for downloads and progress bars: the model, tokenizer and sampler never need them."""
    code = (
        "import sys\n"
        "sys.modules['requests'] = sys.modules['tqdm'] = None  # importing either now fails\n"
        "import gptlite, gptlite.model, gptlite.tokenizer, gptlite.sampling, gptlite.hooks, gptlite.backprop\n"
        "from gptlite import GPT, Config, Sampler, Tokenizer\n"
        "from gptlite.model import init_params\n"
        "config = Config(n_vocab=50, n_ctx=8, n_embd=8, n_head=2, n_layer=1)\n"
        "assert len(GPT(config, init_params(config), None).generate([1, 2], 3)) == 3\n"
        "assert Tokenizer.from_pretrained('gpt2').encode('Hello world') == [15496, 995]\n"
        "assert 'gptlite.weights.hub' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_one_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert gptlite.__version__.count(".") >= 2


def test_every_command_is_a_console_script():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    commands = ["generate", "download", "convert", "train", "train_tokenizer", "inspect", "eval", "tokenize"]
    assert scripts == {f"gptlite-{c.replace('_', '-')}": f"gptlite.{c}:main" for c in commands}
    for command in commands:
        assert callable(__import__(f"gptlite.{command}", fromlist=["main"]).main)
