"""python -m gptlite.tokenize: a file's ids or their count, read in bounded blocks, errors in one line."""

import io
import json
import re
import subprocess
import sys

import pytest

import gptlite.tokenize as tokenize_module
from gptlite.tokenize import main
from gptlite.tokenizer import Tokenizer

from helpers import FIXTURES


def text_of_the_fixtures():
    cases = json.loads((FIXTURES / "tiktoken_cl100k_base.json").read_text())["ordinary"]
    return "\n".join(c["text"].encode("utf-8", "replace").decode("utf-8") for c in cases[:400])


@pytest.fixture(scope="module")
def text():
    return text_of_the_fixtures()


@pytest.mark.parametrize("encoding", ["cl100k_base", "gpt-4o", "gpt2", str(FIXTURES / "gpt1_tokenizer")])
def test_prints_the_ids_of_the_whole_text(tmp_path, capsys, monkeypatch, text, encoding):
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(tokenize_module, "BLOCK", 997)  # many blocks, cut inside characters and pieces
    assert main(["--encoding", encoding, str(path)]) == 0
    printed = capsys.readouterr().out
    expected = Tokenizer.from_pretrained(encoding).encode(text, disallowed_special=())
    assert printed == " ".join(map(str, expected)) + "\n"
    assert main(["--encoding", encoding, "--count", str(path)]) == 0
    assert capsys.readouterr().out == f"{len(expected)}\n"


def test_reads_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"hello world <|endoftext|>")))
    assert main(["--encoding", "cl100k_base", "--allow-special", "-"]) == 0
    ids = Tokenizer.from_pretrained("cl100k_base").encode("hello world <|endoftext|>", allowed_special="all")
    assert ids[-1] == 100257 and capsys.readouterr().out == " ".join(map(str, ids)) + "\n"


def test_special_token_text_is_ordinary_text_by_default(tmp_path, capsys):
    path = tmp_path / "text.txt"
    path.write_text("a<|endoftext|>b", encoding="utf-8")
    assert main(["--encoding", "cl100k_base", str(path)]) == 0
    tok = Tokenizer.from_pretrained("cl100k_base")
    assert capsys.readouterr().out == " ".join(map(str, tok.encode_ordinary("a<|endoftext|>b"))) + "\n"


def test_an_empty_file_has_no_tokens(tmp_path, capsys):
    (tmp_path / "empty.txt").write_bytes(b"")
    assert main(["--count", str(tmp_path / "empty.txt")]) == 0
    assert capsys.readouterr().out == "0\n"


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda tmp: ["--encoding", "cl100k_base", str(tmp)], "is a directory"),
        (lambda tmp: [str(tmp / "missing.txt")], "No such file"),
        (lambda tmp: [str(tmp / "bad.txt")], "not UTF-8 text \\(byte 3"),
        (lambda tmp: ["--encoding", "p50k_base", str(tmp / "bad.txt")], "does not ship tiktoken's p50k_base"),
        (lambda tmp: ["--encoding", "text-davinci-003", str(tmp / "bad.txt")], "uses tiktoken's p50k_base"),
    ],
)
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, make_args, message):
    (tmp_path / "bad.txt").write_bytes(b"abc\xff")
    assert main(make_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gptlite.tokenize: error:")
    assert re.search(message, err), err


def test_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "gptlite.tokenize", "--encoding", "gpt-4", "--count", "-"],
        input="hello world", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    n_tokens = len(Tokenizer.from_pretrained("cl100k_base").encode("hello world"))
    assert result.returncode == 0 and result.stdout == f"{n_tokens}\n", result.stderr
