"""`python -m gptlite.generate`: output, options and one-line errors with exit status 2."""

import subprocess
import sys

import pytest

from gptlite.generate import main, parser

from helpers import MODELS

TINY = str(MODELS / "tiny")


def test_prints_the_prompt_then_the_continuation(capsys):
    assert main(["Hello", "--model", TINY, "--temperature", "0", "--max-new-tokens", "8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Hello") and out.endswith("\n") and len(out) > len("Hello\n")


def test_same_seed_same_text(capsys):
    args = ["The weather today is", "--model", TINY, "--seed", "5", "--top-p", "0.9", "--repetition-penalty", "1.2"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--model",
        "--max-new-tokens",
        "--temperature",
        "--top-k",
        "--top-p",
        "--repetition-penalty",
        "--seed",
        "--stop",
    ):
        assert option in text
    assert all(action.help for action in parser()._actions)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--temperature", "-1"], "temperature must be >= 0"),
        (["--top-p", "0"], "top_p must be in (0, 1]"),
        (["--top-p", "1.5"], "top_p must be in (0, 1]"),
        (["--top-k", "-3"], "top_k must be an integer >= 0"),
        (["--max-new-tokens", "1000"], "longer than the model's context of 64 tokens"),
        (["--model", "/no/such/dir"], "/no/such/dir"),
        (["--max-new-tokens", "many"], "invalid int value: 'many'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(capsys, args, message):
    with pytest.raises(SystemExit) as e:
        sys.exit(main(["Hi", "--model", TINY, *args]))
    assert e.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err and captured.err.count("\n") == 1, captured.err


def test_broken_model_directory(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert main(["Hi", "--model", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err


def test_runs_as_a_module():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gptlite.generate",
            "Hi",
            "--model",
            TINY,
            "--temperature",
            "0",
            "--max-new-tokens",
            "5",
            "--stop",
            "zzz",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hi")
    result = subprocess.run(
        [sys.executable, "-m", "gptlite.generate", "Hi", "--model", TINY, "--top-p", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_an_empty_model_name_is_an_error_not_the_default(capsys):
    assert main(["Hi", "--model", ""]) == 2
    assert "--model is empty" in capsys.readouterr().err
