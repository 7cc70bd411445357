"""Every GPT-2 release (and GPT-1) by name: downloaded once, checked, converted, cached, then loaded offline.

Sources:
* Hugging Face: `{endpoint}/{repo}/resolve/{revision}/{file}`, the endpoint being
  `$HF_ENDPOINT` (the ecosystem's variable for mirrors) or https://huggingface.co.
  Large files live in Git LFS: the hub answers with a redirect whose
  `X-Linked-Etag` header is the file's sha256 and `X-Linked-Size` its size.
  `$HF_TOKEN`, if set, is sent for private or gated repos.
* OpenAI's original TensorFlow release: `{endpoint}/models/{124M,355M,774M,1558M}/{file}`,
  the endpoint being `$GPTLITE_OPENAI_ENDPOINT` or
  https://openaipublic.blob.core.windows.net/gpt-2. No checksum is published, so
  the size is checked on download and every tensor's CRC-32C on conversion.

Cache: `$GPTLITE_HOME` (default ~/.cache/gptlite). A model is downloaded into
`downloads/<key>/`, converted to gptlite's layout in `models/<key>/`, and the
download is then deleted. A converted model is loaded with no network request.

Safety of the files on disk: each file is written as `<name>.part` and renamed
only once it is complete and verified, so a crash or Ctrl-C never leaves a file
that looks complete, and the next run resumes the `.part` with an HTTP Range
request. A lock file keeps two processes from downloading the same model at
once: the second waits, then finds the model converted.
"""

import hashlib
import os
import re
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlparse

import requests

from ..progress import progress_bar
from ..releases import BUNDLED, BUNDLED_DIR, known_names, release
from ..vocab import check_files, find_vocab_files
from .checkpoint import is_converted, load_dir, no_model_directory, save_converted

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent downloads of one model are then unguarded
    fcntl = None

HF_ENDPOINT = "https://huggingface.co"
OPENAI_ENDPOINT = "https://openaipublic.blob.core.windows.net/gpt-2"
OPENAI_FILES = [
    "checkpoint",
    "hparams.json",
    "encoder.json",
    "vocab.bpe",
    "model.ckpt.index",
    "model.ckpt.data-00000-of-00001",
]
TIMEOUT = (10, 60)  # seconds to connect, seconds between bytes
ATTEMPTS = 4  # per file
BACKOFF = 0.5  # seconds before the second attempt, doubling after each failure
CHUNK = 1 << 16  # bytes per read: a dropped connection loses at most this much
MIN_RATE, RATE_WINDOW = 1024, 60.0  # a transfer slower than this many bytes a second over that window is retried
MAX_RETRY_AFTER = 60.0  # seconds: the longest Retry-After honoured


class DownloadError(OSError):
    """A download that failed for a reason the user can act on; the message says which."""


def home():
    return Path(os.environ.get("GPTLITE_HOME") or Path.home() / ".cache" / "gptlite").expanduser()


def offline_variable():
    """The environment variable that switches the network off, if one does."""
    for var in ("GPTLITE_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return var
    return None


def reachable(timeout=3.0):
    """Whether the Hugging Face endpoint answers at all (one quick request, no retries)."""
    try:
        requests.head(os.environ.get("HF_ENDPOINT", HF_ENDPOINT), timeout=timeout)
        return True
    except requests.RequestException:
        return False


def plan(name, source="hf", revision="main"):
    """What to fetch for a model name: (cache key, [(url, file name, required)], extra request headers)."""
    if source not in ("hf", "openai"):
        raise ValueError(
            f"unknown source {source!r}: use 'hf' (Hugging Face) or 'openai' (OpenAI's TensorFlow release)"
        )
    if source == "openai":
        folder = release(name).openai_folder if release(name) else None
        if folder is None:
            raise ValueError(f"OpenAI released no {name!r}; its names are gpt2, gpt2-medium, gpt2-large, gpt2-xl")
        endpoint = os.environ.get("GPTLITE_OPENAI_ENDPOINT", OPENAI_ENDPOINT).rstrip("/")
        return f"openai/{folder}", [(f"{endpoint}/models/{folder}/{f}", f, True) for f in OPENAI_FILES], {}
    repo = release(name).hf_repo if release(name) else name
    if not is_repo_id(repo):
        raise ValueError(
            f"unknown model {name[:100]!r}: use one of {known_names()}, a Hugging Face repo id (owner/name), "
            "or a directory"
        )
    if not is_revision(revision):
        raise ValueError(f"bad revision {str(revision)[:100]!r}: a branch, tag or commit such as main or v1.0")
    endpoint = os.environ.get("HF_ENDPOINT", HF_ENDPOINT).rstrip("/")
    base = f"{endpoint}/{repo}/resolve/{quote(revision, safe='')}"
    files = [("config.json", True), ("model.safetensors", False), ("vocab.json", False), ("merges.txt", False)]
    headers = {"Authorization": f"Bearer {os.environ['HF_TOKEN']}"} if os.environ.get("HF_TOKEN") else {}
    # One folder per (repo, revision), and never the same one for two: repo ids cannot hold "--" (the hub's
    # rule), and the revision is percent-encoded, so neither part can reach into the other, or out.
    key = f"hf/{repo.replace('/', '--')}/{quote(revision, safe='')}"
    return key, [(f"{base}/{f}", f, required) for f, required in files], headers


def is_repo_id(repo):
    """The hub's rule for "owner/name": letters, digits, "-", "_", "."; no "--" or ".."; no "-" or "." at
    either end of a part; at most 96 characters each."""
    parts = repo.split("/") if isinstance(repo, str) else []
    return len(parts) == 2 and all(
        re.fullmatch(r"[\w.-]{1,96}", part, re.ASCII) and "--" not in part and ".." not in part
        and not part.startswith(("-", ".")) and not part.endswith(("-", "."))
        for part in parts
    )  # fmt: skip


def is_revision(revision):
    """A git branch, tag or commit: path parts of letters, digits, "-", "_", "."; no "." or ".." part."""
    return (
        isinstance(revision, str)
        and 0 < len(revision) <= 200
        and all(re.fullmatch(r"[\w.-]+", part, re.ASCII) and part not in (".", "..") for part in revision.split("/"))
    )


def resolve(name_or_dir, source="hf", revision="main", quiet=False):
    """The directory to load for a name: a local directory as is, else the cached model, fetched first if needed."""
    if os.path.isdir(name_or_dir):
        return Path(name_or_dir)
    if name_or_dir == BUNDLED:
        return BUNDLED_DIR
    name = str(name_or_dir)
    if isinstance(name_or_dir, os.PathLike) or name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise no_model_directory(name)
    key, files, headers = plan(name, source, revision)
    target = home() / "models" / key
    if is_converted(target):
        return target  # cached: no network at all
    var = offline_variable()
    if var:
        staged = home() / "downloads" / key
        needed = [f for _, f, required in files if required or f == "model.safetensors"]
        missing = [f for f in needed if not (staged / f).is_file()]
        raise FileNotFoundError(
            f"{name} is not in the cache ({target}) and {var}=1 forbids downloading it "
            f"(missing: {', '.join(missing)}); "
            f"run `python -m gptlite.download {name}` with network access first"
        )
    with locked(key):
        if not is_converted(target):  # another process may have finished it while we waited
            download_and_convert(name, files, headers, target, home() / "downloads" / key, quiet)
    return target


def tokenizer_files(name, revision="main", quiet=False):
    """(encoder, merges) paths of a Hugging Face repo's tokenizer: the cached model's, or its vocab.json and
    merges.txt fetched alone into $GPTLITE_HOME/tokenizers/, checked by building the tokenizer from them."""
    if isinstance(name, os.PathLike) or name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise FileNotFoundError(f"{name}: not a directory, and not a model name")
    key, files, headers = plan(name, "hf", revision)
    model = home() / "models" / key
    if is_converted(model):
        return find_vocab_files(model)
    target = home() / "tokenizers" / key
    wanted = [(url, f) for url, f, _ in files if f in ("vocab.json", "merges.txt")]
    if not all((target / f).is_file() for _, f in wanted):
        var = offline_variable()
        if var:
            raise FileNotFoundError(f"{name}'s tokenizer is not in the cache and {var}=1 forbids downloading it")
        with locked("tokenizer-" + key):
            target.mkdir(parents=True, exist_ok=True)
            session = requests.Session()
            session.headers.update(headers)
            try:
                for url, filename in wanted:
                    fetch(session, url, target / filename, True, quiet)
                check_files(target / "vocab.json", target / "merges.txt")
            except (ValueError, OSError):
                shutil.rmtree(target, ignore_errors=True)  # nothing half-made or unchecked is kept
                remove_empty_folders(target.parent, home())
                raise
    return target / "vocab.json", target / "merges.txt"


def is_cached(name, source="hf", revision="main"):
    """Whether a converted copy of this model is in the cache."""
    return is_converted(home() / "models" / plan(name, source, revision)[0])


@contextmanager
def locked(key):
    """Hold an exclusive lock for the cache entry `key` (a file in $GPTLITE_HOME/locks) for the duration."""
    locks = home() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{quote(key, safe='')}.lock", "w") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def download_and_convert(name, files, headers, target, staged, quiet):
    """Fetch what is missing into `staged`, check it all, convert it into `target`, then delete `staged`.

    Files without a checksum (configs, vocabularies, anything served without LFS headers) are trusted only
    once they parse and the model loads from them; if that fails they are deleted, so the next run fetches
    them anew instead of failing on the same bad copy forever.
    """
    staged.mkdir(parents=True, exist_ok=True)
    session = requests.Session()
    session.headers.update(headers)
    try:
        for url, filename, required in files:
            if not (staged / filename).is_file():
                found = fetch(session, url, staged / filename, required, quiet)
                if not found and filename == "model.safetensors":  # older repos: weights only as a pickle
                    bin_url = url.replace("model.safetensors", "pytorch_model.bin")
                    fetch(session, bin_url, staged / "pytorch_model.bin", True, quiet)
    except BaseException:  # a made-up name, no network, Ctrl-C: no empty folder is left, only what resumes
        remove_empty_folders(staged, home())
        raise
    try:
        shards = [p.stat().st_size for p in staged.iterdir() if p.name.startswith("model.ckpt.data-")]
        with progress_bar(quiet or not shards, total=sum(shards), unit="B", unit_scale=True, desc="checking",
                          leave=False) as bar:  # fmt: skip
            config, tensors, vocab = load_dir(staged, bar.update)  # OpenAI's checkpoints: every tensor's CRC-32C
        if vocab is not None:
            check_files(*vocab)
    except (ValueError, OSError) as e:
        unchecked = [p for p in staged.iterdir() if p.suffix not in (".sha256", ".part") and not checked(p)]
        for path in unchecked:
            path.unlink()
        remove_empty_folders(staged, home())
        raise ValueError(
            f"{e}; deleted what had no checksum ({', '.join(p.name for p in unchecked) or 'nothing'}): "
            "run again to fetch it anew"
        ) from None
    for stale in target.glob(".*.tmp"):  # left by a conversion that was killed before it could clean up
        stale.unlink(missing_ok=True)
    total = sum(t.size for t in tensors.values()) * 4
    with progress_bar(quiet, total=total, unit="B", unit_scale=True, desc="converting", leave=False) as bar:
        save_converted(target, config, tensors, vocab, source=name, progress=bar.update)
    del tensors  # release the memory maps of the staged files before deleting them
    shutil.rmtree(staged, ignore_errors=True)
    remove_empty_folders(staged.parent, home())


def checked(path):
    """Whether a downloaded file's sha256 was checked against the one the hub published."""
    return path.with_name(path.name + ".sha256").is_file()


def remove_empty_folders(folder, root):
    """Remove `folder` and its parents up to (not including) `root`, as long as they are empty."""
    folder, root = Path(folder), Path(root)
    while folder != root and root in folder.parents and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def fetch(session, url, dest, required, quiet):
    """Download url to dest through dest.part, resuming, retrying and verifying. False if absent and not required."""
    part = dest.with_name(dest.name + ".part")
    last_error = None
    for attempt in range(ATTEMPTS):
        try:
            return _fetch_once(session, url, dest, part, required, quiet)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as e:
            last_error = (
                f"cannot reach {urlparse(url).netloc} ({type(e).__name__}); no network?"
                if part_size(part) == 0
                else f"connection lost ({type(e).__name__})"
            )
            wait = BACKOFF * 2**attempt
        except ServerError as e:
            last_error, wait = str(e), (BACKOFF * 2**attempt if e.retry_after is None else e.retry_after)
        if attempt + 1 < ATTEMPTS:
            time.sleep(wait)
    raise DownloadError(f"{url}: {last_error}; gave up after {ATTEMPTS} attempts (run again to resume)")


class ServerError(Exception):
    """An answer worth retrying: a 5xx, a 429, a short or slow body."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after  # seconds the server asked us to wait, if it did


def part_size(part):
    return part.stat().st_size if part.exists() else 0


def retry_after(response):
    """Seconds to wait from a Retry-After header (a number of seconds), capped; None if there is none."""
    value = response.headers.get("Retry-After", "").strip()
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else None


class Watchdog:
    """Closes a transfer that brings fewer than MIN_RATE bytes a second over RATE_WINDOW seconds. The read
    timeout alone never fires for a server that trickles one byte every few seconds."""

    def __init__(self, response):
        self.response, self.received, self.tripped = response, 0, False
        self._done = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        seen = 0
        while not self._done.wait(RATE_WINDOW):
            if self.received - seen < MIN_RATE * RATE_WINDOW:
                self.tripped = True
                # Shut the socket down, not just close the response: that wakes the read blocked in
                # another thread, which then fails, and the download is retried.
                sock = getattr(getattr(self.response.raw, "connection", None), "sock", None)
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
                self.response.close()
                return
            seen = self.received

    def stop(self):
        self._done.set()


def _fetch_once(session, url, dest, part, required, quiet):
    start = part_size(part)
    headers = {"Range": f"bytes={start}-"} if start else {}
    with session.get(url, headers=headers, stream=True, timeout=TIMEOUT) as r:
        if r.status_code == 404:
            if required:
                raise FileNotFoundError(f"{url}: not found (404): no such repository, revision or file")
            return False
        if r.status_code in (401, 403):
            raise DownloadError(
                f"{url}: access denied ({r.status_code}): the repository is private or gated; "
                "set HF_TOKEN to a token with access"
            )
        if r.status_code == 416:  # our .part is not a prefix the server can continue: start over
            part.unlink()
            raise ServerError("range not satisfiable, restarting")
        if r.status_code == 429:
            raise ServerError("too many requests (429)", retry_after(r))
        if r.status_code >= 500:
            raise ServerError(f"server error {r.status_code}", retry_after(r))
        if r.status_code not in (200, 206):
            raise DownloadError(f"{url}: unexpected HTTP status {r.status_code}")
        if r.status_code == 200:
            start = 0  # the server sent the whole file: our .part is discarded
        first = r.history[0] if r.history else r  # the hub puts LFS metadata on the redirect
        sha256 = first.headers.get("X-Linked-Etag", "").strip('"').removeprefix("W/").strip('"').lower()
        total = expected_size(r, first, start)
        digest = hashlib.sha256()
        if start:
            with open(part, "rb") as f:
                for block in iter(lambda: f.read(CHUNK), b""):
                    digest.update(block)
        bar = progress_bar(
            quiet, total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name, leave=False
        )
        watchdog = Watchdog(r)
        size = start
        try:
            with open(part, "ab" if start else "wb") as f:
                for block in r.iter_content(CHUNK):
                    if total is not None and size + len(block) > total:
                        f.close()
                        part.unlink()
                        raise ServerError(f"the server sent more than the {total} bytes it declared")
                    f.write(block)
                    size += len(block)
                    watchdog.received += len(block)
                    digest.update(block)
                    bar.update(len(block))
        except OSError as e:
            if watchdog.tripped:
                raise ServerError(f"transfer slower than {MIN_RATE} bytes/s for {RATE_WINDOW:g} s") from None
            if isinstance(e, requests.RequestException):
                raise  # the network failed, not the disk (requests' errors are OSErrors too): keep the .part
            part.unlink(missing_ok=True)
            raise DownloadError(f"{dest}: cannot write ({e.strerror}); nothing was kept") from None
        except (AttributeError, ValueError):
            if watchdog.tripped:  # a read on the connection the watchdog closed
                raise ServerError(f"transfer slower than {MIN_RATE} bytes/s for {RATE_WINDOW:g} s") from None
            raise
        finally:
            watchdog.stop()
            bar.close()
    if total is not None and size != total:
        raise ServerError(f"got {size} of {total} bytes")
    if re.fullmatch(r"[0-9a-f]{64}", sha256):
        if digest.hexdigest() != sha256:
            part.unlink()
            raise ValueError(
                f"{url}: checksum mismatch (sha256 {digest.hexdigest()}, expected {sha256}); "
                "the file was deleted, run again to retry"
            )
        dest.with_name(dest.name + ".sha256").write_text(sha256 + "\n")
    os.replace(part, dest)
    return True


def expected_size(r, first, start):
    """The whole file's size from the headers, or None if the server does not say."""
    if first.headers.get("X-Linked-Size", "").isdigit():
        return int(first.headers["X-Linked-Size"])
    content_range = r.headers.get("Content-Range", "")
    if r.status_code == 206 and content_range.rpartition("/")[2].isdigit():
        return int(content_range.rpartition("/")[2])
    length = r.headers.get("Content-Length", "")
    return start + int(length) if length.isdigit() and r.headers.get("Content-Encoding") is None else None
