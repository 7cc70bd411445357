"""Downloads by name, against a loopback server: caching, resume, checksums, errors, offline mode, locking."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gptlite import GPT, Tokenizer
from gptlite.download import main as download_main
from gptlite.generate import main as generate_main
from gptlite.releases import GPT2_VOCAB
from gptlite.weights import hub

from fakehub import FakeHub
from helpers import MODELS, reference

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    with FakeHub() as server:
        server.add_repo("openai-community/gpt2", MODELS / "tiny")  # safetensors, vocab.json + merges.txt
        server.add_repo("distilbert/distilgpt2", MODELS / "depth6-bin")  # only pytorch_model.bin
        tf = MODELS / "depth6-tf"
        server.add_openai(
            "124M", {**{p.name: p for p in tf.iterdir()}, "encoder.json": GPT2_VOCAB[0], "vocab.bpe": GPT2_VOCAB[1]}
        )
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("GPTLITE_OPENAI_ENDPOINT", server.url + "/gpt-2")
        monkeypatch.setenv("GPTLITE_HOME", str(tmp_path / "home"))
        for var in ("GPTLITE_OFFLINE", "HF_HUB_OFFLINE", "HF_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setattr(hub, "BACKOFF", 0.01)
        yield server


def cached(name="openai-community--gpt2"):
    return hub.home() / "models" / "hf" / name / "main"


def assert_logits(gpt, fixture):
    ref = reference(fixture)
    assert np.abs(gpt(ref["prompt"]) - ref["logits"]).max() <= 1e-4


def test_download_convert_cache_then_no_network(fake, monkeypatch):
    gpt = GPT.from_pretrained("gpt2")
    assert_logits(gpt, "tiny")
    assert gpt.tokenizer.encode("Hello world") == [15496, 995]
    assert (cached() / "gptlite.json").is_file()
    assert not (
        hub.home() / "downloads" / "hf" / "openai-community--gpt2" / "main"
    ).exists()  # deleted after conversion
    n = len(fake.log)
    assert n >= 4
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")
    assert len(fake.log) == n, "a cached model must load without a single request"
    monkeypatch.setenv("GPTLITE_OFFLINE", "1")
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")


def test_lfs_checksum_comes_from_the_redirect(fake):
    GPT.from_pretrained("gpt2")
    lfs = [path for path, _, name in fake.log if name == "model.safetensors"]
    assert lfs[0].endswith("/resolve/main/model.safetensors") and lfs[1].startswith("/lfs/")


def test_falls_back_to_pytorch_bin(fake):
    assert_logits(GPT.from_pretrained("distilgpt2"), "depth6")
    assert (cached("distilbert--distilgpt2") / "weights.safetensors").is_file()


def test_openai_tensorflow_release(fake):
    gpt = GPT.from_pretrained("gpt2", source="openai")
    assert_logits(gpt, "depth6")
    assert (hub.home() / "models" / "openai" / "124M" / "gptlite.json").is_file()


def test_resumes_a_dropped_connection(fake):
    fake.faults["model.safetensors"] = [("drop", 1_000_000)]
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")
    ranges = [r for path, r, name in fake.log if path.startswith("/lfs/") and r]
    assert len(ranges) == 1 and 900_000 < int(ranges[0][6:-1]) <= 1_000_000  # resumed near where it broke


def test_interrupted_download_leaves_only_a_part_file_and_resumes(fake):
    fake.faults["model.safetensors"] = [("drop", 200_000)] * hub.ATTEMPTS  # every attempt breaks off
    with pytest.raises(hub.DownloadError, match="connection lost.*run again to resume"):
        GPT.from_pretrained("gpt2")
    staged = hub.home() / "downloads" / "hf" / "openai-community--gpt2" / "main"
    assert not (staged / "model.safetensors").exists(), "an incomplete file must never carry the final name"
    assert (staged / "model.safetensors.part").stat().st_size > 0
    assert not (cached() / "gptlite.json").exists()
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")
    assert [r for _, r, n in fake.log if n == "model.safetensors" and r][-1] != "bytes=0-"


def test_corrupted_byte_is_a_checksum_error_and_nothing_is_kept(fake):
    fake.faults["model.safetensors"] = [("corrupt", 12345)]
    with pytest.raises(ValueError, match="checksum mismatch.*deleted, run again to retry"):
        GPT.from_pretrained("gpt2")
    staged = hub.home() / "downloads" / "hf" / "openai-community--gpt2" / "main"
    assert not (staged / "model.safetensors").exists() and not (staged / "model.safetensors.part").exists()
    assert not (cached() / "gptlite.json").exists()
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")  # the next run fetches it again


def test_server_error_is_retried(fake):
    fake.faults["config.json"] = [500, 503]
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")
    assert len([1 for _, _, n in fake.log if n == "config.json"]) == 3


def test_missing_repo_is_404(fake):
    with pytest.raises(FileNotFoundError, match=r"not found \(404\)"):
        GPT.from_pretrained("nobody/nothing")
    assert len(fake.log) == 1, "no retries on 404"


def test_private_repo_is_access_denied(fake):
    fake.faults["config.json"] = [401]
    with pytest.raises(hub.DownloadError, match=r"access denied \(401\).*HF_TOKEN"):
        GPT.from_pretrained("gpt2")
    assert len(fake.log) == 1, "no retries on 401"


def test_no_server(fake, monkeypatch):
    fake.server.shutdown()
    fake.server.server_close()
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    with pytest.raises(hub.DownloadError, match="cannot reach 127.0.0.1.*no network"):
        GPT.from_pretrained("gpt2")


@pytest.mark.parametrize("var", ["GPTLITE_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_mode_fails_at_once_naming_the_missing_files(fake, monkeypatch, var):
    monkeypatch.setenv(var, "1")
    with pytest.raises(
        FileNotFoundError, match=f"{var}=1.*missing: config.json, model.safetensors.*gptlite.download gpt2"
    ):
        GPT.from_pretrained("gpt2")
    assert fake.log == []


def test_unknown_names(fake):
    with pytest.raises(ValueError, match="unknown model 'gpt3': use one of gpt2, gpt2-medium"):
        GPT.from_pretrained("gpt3")
    with pytest.raises(ValueError, match="OpenAI released no 'distilgpt2'"):
        GPT.from_pretrained("distilgpt2", source="openai")
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        GPT.from_pretrained("./no/such/model")


def test_disk_full_keeps_nothing(fake):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    staged = hub.home() / "downloads" / "hf" / "openai-community--gpt2" / "main"
    staged.mkdir(parents=True)
    (staged / "config.json.part").symlink_to("/dev/full")  # every write there fails with ENOSPC
    with pytest.raises(hub.DownloadError, match="No space left on device.*nothing was kept"):
        GPT.from_pretrained("gpt2")
    assert not os.path.lexists(staged / "config.json.part") and not (staged / "config.json").exists()


def test_two_processes_download_one_model(fake, tmp_path):
    fake.delay = 0.02  # slow enough that the two overlap
    code = "from gptlite import GPT; GPT.from_pretrained('gpt2', quiet=True); print('ok')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    lfs_downloads = [1 for path, _, n in fake.log if n == "model.safetensors" and path.startswith("/lfs/")]
    assert len(lfs_downloads) == 1, "the second process must wait for the first, not download again"
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")
    assert not list(hub.home().rglob("*.part"))


def test_download_command(fake, capsys):
    assert download_main(["gpt2", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(cached())
    assert download_main(["gpt3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model 'gpt3'" in err


def test_generate_downloads_on_first_use(fake, capsys):
    assert generate_main(["Hello", "--model", "gpt2", "--max-new-tokens", "4", "--temperature", "0"]) == 0
    assert capsys.readouterr().out.startswith("Hello")
    assert generate_main(["Hello", "--model", "nobody/nothing"]) == 2
    assert "not found (404)" in capsys.readouterr().err


@pytest.mark.parametrize("revision", ["..", ".", "a/../b", "/main", "main/", "", "x" * 300, "a b", "v1\n"])
def test_revisions_that_could_leave_the_cache_are_refused(fake, revision):
    with pytest.raises(ValueError, match="bad revision"):
        GPT.from_pretrained("gpt2", revision=revision)
    assert not (hub.home() / "downloads").exists() and not (hub.home() / "models").exists()


@pytest.mark.parametrize("name", ["a--b/c", "a/b--c", "a/..b", "-a/b", "a/b.", "a/b/c", "a/" + "x" * 97])
def test_names_the_hub_would_refuse_are_refused(fake, name):
    with pytest.raises((ValueError, FileNotFoundError)):
        GPT.from_pretrained(name)


def test_cache_keys_are_one_to_one():
    keys = {hub.plan(name, revision=rev)[0] for name, rev in
            [("a/b", "x/y"), ("a/b", "x--y"), ("a/b", "x.y"), ("a/b-c", "main"), ("a-b/c", "main")]}  # fmt: skip
    assert len(keys) == 5
    assert hub.plan("gpt2")[0] == "hf/openai-community--gpt2/main"  # unchanged for every existing cache


@pytest.mark.parametrize(
    "filename, bad",
    [("config.json", b"<html><body>Service temporarily unavailable</body></html>"),
     ("merges.txt", (MODELS / "tiny" / "merges.txt").read_bytes()[:20_000]),
     ("vocab.json", b'{"a": 0}')],
)  # fmt: skip
def test_a_bad_file_served_with_200_is_never_kept(fake, filename, bad):
    fake.faults[filename] = [("replace", bad)]
    with pytest.raises(ValueError, match=f"deleted what had no checksum .*{filename}.*run again"):
        GPT.from_pretrained("gpt2")
    assert not hub.is_cached("gpt2")
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")  # the next run fetches it anew
    assert len(fake.requests_for("model.safetensors")) == 2  # 302 + body, once: the checked weights were kept


def test_a_trickling_server_is_dropped_and_retried(fake, monkeypatch):
    monkeypatch.setattr(hub, "RATE_WINDOW", 0.5)
    monkeypatch.setattr(hub, "MIN_RATE", 100)
    fake.faults["config.json"] = [("trickle", 0.1)]
    start = time.perf_counter()
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")
    assert time.perf_counter() - start < 30 and len(fake.requests_for("config.json")) == 2


def test_a_body_longer_than_declared_stops_at_the_declared_size(fake):
    fake.faults["model.safetensors"] = [("oversize", 5_000_000)]
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")
    assert len(fake.requests_for("model.safetensors")) == 4  # 302 + oversized body, then 302 + the right body


def test_429_waits_as_long_as_retry_after_says(fake):
    fake.faults["config.json"] = [("retry-after", 1)]
    start = time.perf_counter()
    assert_logits(GPT.from_pretrained("gpt2"), "tiny")
    assert time.perf_counter() - start >= 1 and len(fake.requests_for("config.json")) == 2


def test_no_leftovers(fake):
    """A made-up repo leaves no folders; temporary files of a killed conversion are cleaned up next time."""
    with pytest.raises(FileNotFoundError, match="404"):
        GPT.from_pretrained("nobody/nothing")
    assert sorted(p.name for p in hub.home().iterdir()) == ["locks"]
    target = cached()
    target.mkdir(parents=True)
    (target / ".weights.safetensors.x1y2.tmp").write_bytes(b"\0" * 1000)  # as a SIGKILL mid-write leaves it
    GPT.from_pretrained("gpt2")
    assert not list(target.glob(".*.tmp"))
    assert not (hub.home() / "downloads").exists()


def test_tokenizer_by_every_name_gpt_takes(fake, tmp_path):
    assert Tokenizer.from_pretrained("gptlite-shakespeare").n_vocab == 2048
    assert Tokenizer.from_pretrained("distilgpt2").encode("Hello world") == [15496, 995]
    fake.add_repo("someone/finetune", MODELS / "tiny")
    tok = Tokenizer.from_pretrained("someone/finetune")
    assert tok.encode("Hello world") == [15496, 995]
    fetched = {entry[2] for entry in fake.log}
    assert fetched == {"vocab.json", "merges.txt"}  # the tokenizer's files alone, not the weights
    Tokenizer.from_pretrained("someone/finetune")
    assert len(fake.log) == 2  # cached
    with pytest.raises(FileNotFoundError, match="404"):
        Tokenizer.from_pretrained("nobody/nothing")
    assert not (hub.home() / "tokenizers" / "hf" / "nobody--nothing").exists()
    GPT.from_pretrained("gpt2")
    assert Tokenizer.from_pretrained("openai-community/gpt2").n_vocab == 50257  # from the cached model


def test_download_checking_and_converting_show_progress(fake, monkeypatch):
    """Each phase of fetching a model has a bar (tqdm.auto: a widget in Jupyter), told of every byte."""

    class Bar:
        def __init__(self, quiet=False, total=None, desc=None, **kwargs):
            self.total, self.desc, self.n = total, desc, 0
            bars.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    bars = []
    monkeypatch.setattr(hub, "progress_bar", Bar)
    GPT.from_pretrained("gpt2", source="openai")
    by_name = {bar.desc: bar for bar in bars}
    assert {"model.ckpt.data-00000-of-00001", "checking", "converting"} <= set(by_name)
    for desc in ("checking", "converting", "model.ckpt.data-00000-of-00001"):
        assert by_name[desc].n == by_name[desc].total > 0, desc  # every byte and every tensor was counted


def empty_folders(root):
    return [p for p in root.rglob("*") if p.is_dir() and not any(p.iterdir())]


HTML = b"<!doctype html><html><body>Sign in to continue</body></html>"


@pytest.mark.parametrize(
    "faults, error",
    [({"config.json": [401]}, hub.DownloadError), ({"config.json": [503] * hub.ATTEMPTS}, hub.DownloadError),
     ({"config.json": [("drop", 0)] * hub.ATTEMPTS}, hub.DownloadError),
     ({"config.json": [404]}, FileNotFoundError),
     ({name: [("replace", HTML)] for name in ("config.json", "vocab.json", "merges.txt")}, ValueError)],
)  # fmt: skip
def test_a_failed_download_leaves_no_empty_folders(fake, faults, error):
    """Whatever fails (access, a server error, a dropped connection, a missing file, a mirror's HTML page), the
    cache holds no empty folder afterwards: only what a retry resumes from (a checked file, a .part)."""
    fake.faults.update(faults)
    with pytest.raises(error):
        GPT.from_pretrained("gpt2")
    assert empty_folders(hub.home()) == []


def test_no_server_leaves_no_empty_folders(fake, monkeypatch):
    fake.server.shutdown()
    fake.server.server_close()
    with pytest.raises(hub.DownloadError):
        GPT.from_pretrained("gpt2")
    assert empty_folders(hub.home()) == []
    assert sorted(p.name for p in hub.home().iterdir()) == ["locks"]


def test_an_interrupted_start_of_a_download_leaves_no_empty_folders(fake, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hub, "fetch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        GPT.from_pretrained("gpt2")
    assert empty_folders(hub.home()) == []


@pytest.mark.parametrize("everything", [False, True])
def test_behind_a_mirror_answering_html_generate_falls_back_to_the_bundled_model(fake, capsys, everything):
    """A captive portal or a broken mirror answers every file (or only the config) with an HTML page and status
    200: without --model, generate says so in one line and uses the bundled model, as it does offline."""
    names = ("config.json", "model.safetensors", "vocab.json", "merges.txt") if everything else ("config.json",)
    for name in names:
        fake.faults[name] = [("replace", HTML)] * 20
    assert generate_main(["The king", "-n", "3", "-t", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("The king")
    notes = [line for line in captured.err.splitlines() if line.strip()]
    assert len(notes) == 1 and "using the bundled model gptlite-shakespeare" in notes[0], captured.err
    assert generate_main(["The king", "-n", "3", "--model", "gpt2"]) == 2  # named explicitly: never replaced
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("kind", ["empty", "files", "file"])
def test_download_of_a_path_that_holds_no_model_is_refused(fake, capsys, tmp_path, kind):
    target = tmp_path / "somewhere"
    if kind != "file":
        target.mkdir()
    if kind == "files":
        (target / "notes.txt").write_text("not a model")
    if kind == "file":
        target.write_text("a file")
    assert download_main([str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err and "Traceback" not in err


def test_download_of_a_model_directory_prints_it(fake, capsys):
    assert download_main([str(MODELS / "tiny")]) == 0
    assert capsys.readouterr().out.strip() == str(MODELS / "tiny")
