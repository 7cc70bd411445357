"""Every GPT-2 release by name: downloaded once, checked, converted, cached, then loaded offline.

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
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import requests
from tqdm import tqdm

from ..releases import BUNDLED, BUNDLED_DIR, RELEASES, known_names
from .checkpoint import is_converted, load_dir, save_converted

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
        folder = RELEASES[name].openai_folder if name in RELEASES else None
        if folder is None:
            raise ValueError(f"OpenAI released no {name!r}; its names are gpt2, gpt2-medium, gpt2-large, gpt2-xl")
        endpoint = os.environ.get("GPTLITE_OPENAI_ENDPOINT", OPENAI_ENDPOINT).rstrip("/")
        return f"openai/{folder}", [(f"{endpoint}/models/{folder}/{f}", f, True) for f in OPENAI_FILES], {}
    repo = RELEASES[name].hf_repo if name in RELEASES else name
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise ValueError(
            f"unknown model {name!r}: use one of {known_names()}, a Hugging Face repo id (owner/name), or a directory"
        )
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", revision):
        raise ValueError(f"bad revision {revision!r}")
    endpoint = os.environ.get("HF_ENDPOINT", HF_ENDPOINT).rstrip("/")
    base = f"{endpoint}/{repo}/resolve/{revision}"
    files = [("config.json", True), ("model.safetensors", False), ("vocab.json", False), ("merges.txt", False)]
    headers = {"Authorization": f"Bearer {os.environ['HF_TOKEN']}"} if os.environ.get("HF_TOKEN") else {}
    key = f"hf/{repo.replace('/', '--')}/{revision.replace('/', '--')}"
    return key, [(f"{base}/{f}", f, required) for f, required in files], headers


def resolve(name_or_dir, source="hf", revision="main", quiet=False):
    """The directory to load for a name: a local directory as is, else the cached model, fetched first if needed."""
    if os.path.isdir(name_or_dir):
        return Path(name_or_dir)
    if name_or_dir == BUNDLED:
        return BUNDLED_DIR
    name = str(name_or_dir)
    if isinstance(name_or_dir, os.PathLike) or name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise FileNotFoundError(f"{name}: model directory not found")
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
    with locked(target):
        if not is_converted(target):  # another process may have finished it while we waited
            download_and_convert(name, files, headers, target, home() / "downloads" / key, quiet)
    return target


def is_cached(name, source="hf", revision="main"):
    """Whether a converted copy of this model is in the cache."""
    return is_converted(home() / "models" / plan(name, source, revision)[0])


@contextmanager
def locked(target):
    """Hold an exclusive lock on `target` (a lock file beside it) for the duration."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def download_and_convert(name, files, headers, target, staged, quiet):
    staged.mkdir(parents=True, exist_ok=True)
    session = requests.Session()
    session.headers.update(headers)
    for url, filename, required in files:
        if not (staged / filename).is_file():
            found = fetch(session, url, staged / filename, required, quiet)
            if not found and filename == "model.safetensors":  # older repos: weights only as a pickle
                fetch(
                    session,
                    url.replace("model.safetensors", "pytorch_model.bin"),
                    staged / "pytorch_model.bin",
                    True,
                    quiet,
                )
    config, tensors, vocab = load_dir(staged)
    save_converted(target, config, tensors, vocab, source=name)
    del tensors  # release the memory maps of the staged files before deleting them
    shutil.rmtree(staged, ignore_errors=True)


def fetch(session, url, dest, required, quiet):
    """Download url to dest through dest.part, resuming, retrying and verifying. False if absent and not required."""
    part = dest.with_name(dest.name + ".part")
    last_error = None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        try:
            return _fetch_once(session, url, dest, part, required, quiet)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as e:
            last_error = (
                f"cannot reach {urlparse(url).netloc} ({type(e).__name__}); no network?"
                if part_size(part) == 0
                else f"connection lost ({type(e).__name__})"
            )
        except ServerError as e:
            last_error = str(e)
    raise DownloadError(f"{url}: {last_error}; gave up after {ATTEMPTS} attempts (run again to resume)")


class ServerError(Exception):
    """A 5xx answer: worth retrying."""


def part_size(part):
    return part.stat().st_size if part.exists() else 0


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
        if r.status_code >= 500:
            raise ServerError(f"server error {r.status_code}")
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
        bar = tqdm(
            total=total,
            initial=start,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=dest.name,
            disable=quiet or not sys.stderr.isatty(),
            leave=False,
        )
        try:
            with open(part, "ab" if start else "wb") as f:
                for block in r.iter_content(CHUNK):
                    f.write(block)
                    digest.update(block)
                    bar.update(len(block))
        except requests.RequestException:
            raise  # the network failed, not the disk (requests' errors are OSErrors too): keep the .part to resume
        except OSError as e:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{dest}: cannot write ({e.strerror}); nothing was kept") from None
        finally:
            bar.close()
    size = part_size(part)
    if total is not None and size != total:
        if size > total:
            part.unlink()
        raise ServerError(f"got {size} of {total} bytes")
    if re.fullmatch(r"[0-9a-f]{64}", sha256) and digest.hexdigest() != sha256:
        part.unlink()
        raise ValueError(
            f"{url}: checksum mismatch (sha256 {digest.hexdigest()}, expected {sha256}); "
            "the file was deleted, run again to retry"
        )
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
