"""`python -m gptlite.generate`: output, options and one-line errors with exit status 2."""

import os
import subprocess
import sys
import time

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
        (["--max-new-tokens", "-5"], "must be at least 0"),
        (["--seed", "-7"], "--seed must be an integer >= 0, or -1"),
        (["--temprature", "0.5"], "(did you mean --temperature?)"),
        (["--num-beams", "2", "--num-return-sequences", "3"], "at most num_beams"),
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


def test_prompt_from_a_file_or_stdin_and_no_echo(tmp_path, capsys, monkeypatch):
    path = tmp_path / "prompt.txt"
    path.write_text("Hello there")
    assert main(["-f", str(path), "-m", TINY, "-t", "0", "-n", "6"]) == 0
    from_file = capsys.readouterr().out
    assert from_file.startswith("Hello there")
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("Hello there"))
    assert main(["-", "-m", TINY, "-t", "0", "-n", "6"]) == 0
    assert capsys.readouterr().out == from_file
    assert main(["Hello there", "-m", TINY, "-t", "0", "-n", "6", "--no-echo"]) == 0
    assert "Hello there" + capsys.readouterr().out == from_file
    assert main(["-m", TINY]) == 2 and "no prompt" in capsys.readouterr().err


def test_stop_understands_escapes_and_short_flags_work(capsys):
    from gptlite.generate import unescape

    assert unescape("a\\nb\\tc\\\\n") == "a\nb\tc\\n"
    assert main(["Hello", "-m", TINY, "-t", "1", "-k", "5", "-p", "0.9", "-s", "3", "-n", "12"]) == 0
    first = capsys.readouterr().out
    assert main(["Hello", "--model", TINY, "--temperature", "1", "--top-k", "5", "--top-p", "0.9", "--seed", "3",
                 "--max-new-tokens", "12"]) == 0  # fmt: skip
    assert capsys.readouterr().out == first
    assert main(["Hello", "-m", TINY, "-s", "-1", "-n", "3"]) == 0  # -1: a random seed


def test_version_several_sequences_beams_and_sliding(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("gptlite ")
    assert main(["Hello", "-m", TINY, "-n", "5", "--num-return-sequences", "3", "-s", "1", "--no-echo"]) == 0
    assert capsys.readouterr().out.count("\n----\n") == 2
    assert main(["Hello", "-m", TINY, "-n", "5", "--num-beams", "3", "--num-return-sequences", "2"]) == 0
    assert capsys.readouterr().out.count("Hello") == 2
    assert main(["Hello", "-m", TINY, "-n", "100", "-t", "0", "--no-repeat-ngram-size", "2"]) == 0  # context: 64
    captured = capsys.readouterr()
    assert captured.err.count("window slides") == 1 and len(captured.out) > 100


def test_a_prompt_longer_than_the_context(capsys):
    long_prompt = "word " * 100  # more than the tiny model's 64 tokens
    assert main([long_prompt, "-m", TINY, "-n", "3"]) == 2
    assert "--truncate-prompt" in capsys.readouterr().err
    assert main([long_prompt, "-m", TINY, "-n", "3", "--truncate-prompt", "--no-echo"]) == 0


def read_until(fd, marker, timeout=60):
    """What a pseudo-terminal shows until `marker` appears (or fails the test after timeout seconds)."""
    import select
    import time

    seen, deadline = b"", time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, seen[-500:]
        if select.select([fd], [], [], 0.5)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the child is gone
                break
    return seen.decode("utf-8", errors="replace")


def test_interactive_mode_through_a_pseudo_terminal():
    """Type lines, stop a long answer with Ctrl-C, end with Ctrl-D: as a person at a terminal would."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, with the pseudo-terminal as its terminal
        os.execv(
            sys.executable, [sys.executable, "-m", "gptlite.generate", "-i", "-m", TINY, "-t", "0", "-n", "100000"]
        )
    try:
        read_until(fd, b"> ")  # the first prompt (no opening text was given)
        os.write(fd, b"Hello there\n")
        time.sleep(1.0)  # the answer is 100,000 tokens long: it is still going
        os.write(fd, b"\x03")  # Ctrl-C: stop this answer, not the program
        shown = read_until(fd, b"> ")
        assert len(shown) > 20
        os.write(fd, b"\x04")  # Ctrl-D: the end
        read_until(fd, b"", timeout=30)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        os.close(fd)


def test_a_conversation_keeps_its_cache_and_computes_what_generate_computes(tiny):
    from gptlite.conversation import Conversation
    from gptlite.sampling import Sampler

    conversation = Conversation(tiny, Sampler(temperature=0))
    first = "".join(conversation.say("Hello there", 6))
    before = list(conversation.history)
    assert first == tiny.complete("Hello there", 6, temperature=0)
    second = "".join(conversation.say(" and again", 6))
    assert second == tiny.tokenizer.decode(
        tiny.generate(before + tiny.tokenizer.encode(" and again"), 6, temperature=0)
    )
    assert (
        conversation.window.cache.n_past == len(conversation.history) - 1
    )  # only the last token is not in the cache yet
    long = "".join(conversation.say(" more", 120))  # past the 64-token context: the window slides
    assert len(tiny.tokenizer.encode(long)) > 60
