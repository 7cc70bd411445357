"""A loopback HTTP server that serves fixture models as the Hugging Face hub and OpenAI's blob store do.

Hugging Face: GET /{owner}/{name}/resolve/{revision}/{file}. Large files (.safetensors,
.bin) answer 302 to /lfs/{sha256} with X-Linked-Etag (the sha256) and X-Linked-Size,
as the hub does for Git LFS. OpenAI: GET /gpt-2/models/{folder}/{file}, no checksums.
Range requests get 206 partial content.

Faults, per file name, each used by one request in order: an int answers that HTTP
status; ("drop", n) sends n bytes and closes the connection; ("corrupt", i) flips
byte i of what is sent; ("retry-after", s) answers 429 with Retry-After: s;
("replace", data) sends data instead, as if it were the file (an HTML error page
served with 200, a cut-short file with a matching length); ("oversize", n) sends n
bytes more than the file; ("trickle", s) sends one byte every s seconds (until the
client hangs up). `delay` slows every 64 KiB block (for concurrency tests).
"""

import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FakeHub:
    def __init__(self):
        self.repos = {}  # "owner/name" -> {file name: bytes}
        self.openai = {}  # "124M" -> {file name: bytes}
        self.faults = {}  # file name -> [fault, ...]
        self.log = []  # (path, Range header) of every request
        self.delay = 0.0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._lock = threading.Lock()

    def add_repo(self, repo, directory, files=None):
        directory = Path(directory)
        names = files or [p.name for p in directory.iterdir() if p.is_file() and p.name != "reference.npz"]
        self.repos[repo] = {n: (directory / n).read_bytes() for n in names}

    def add_openai(self, folder, files):
        self.openai[folder] = {name: Path(path).read_bytes() for name, path in files.items()}

    def requests_for(self, name):
        return [entry for entry in self.log if entry[0].endswith(name) or entry[2] == name]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _next_fault(self, name):
        with self._lock:
            queue = self.faults.get(name, [])
            return queue.pop(0) if queue else None

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if m:
                    files = hub.repos.get(m.group(1), {})
                    name = m.group(3)
                    hub.log.append((path, self.headers.get("Range"), name))
                    if name not in files:
                        return self.status(404)
                    if name.endswith((".safetensors", ".bin")):
                        sha = hashlib.sha256(files[name]).hexdigest()
                        self.send_response(302)
                        self.send_header("Location", f"/lfs/{sha}?name={name}&repo={m.group(1)}")
                        self.send_header("X-Linked-Etag", f'"{sha}"')
                        self.send_header("X-Linked-Size", str(len(files[name])))
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    return self.serve(name, files[name])
                m = re.fullmatch(r"/lfs/[0-9a-f]{64}", path)
                if m:
                    query = dict(kv.split("=") for kv in self.path.split("?")[1].split("&"))
                    hub.log.append((path, self.headers.get("Range"), query["name"]))
                    return self.serve(query["name"], hub.repos[query["repo"]][query["name"]])
                m = re.fullmatch(r"/gpt-2/models/([^/]+)/(.+)", path)
                if m:
                    hub.log.append((path, self.headers.get("Range"), m.group(2)))
                    files = hub.openai.get(m.group(1), {})
                    if m.group(2) not in files:
                        return self.status(404)
                    return self.serve(m.group(2), files[m.group(2)])
                self.status(404)

            def status(self, code):
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def serve(self, name, data):
                fault = hub._next_fault(name)
                if isinstance(fault, int):
                    return self.status(fault)
                if fault and fault[0] == "retry-after":
                    self.send_response(429)
                    self.send_header("Retry-After", str(fault[1]))
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                if fault and fault[0] == "replace":
                    data = fault[1]
                if fault and fault[0] == "oversize":
                    data = data + b"\0" * fault[1]
                if fault and fault[0] == "trickle":
                    return self.trickle(data, fault[1])
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if m:
                    start = int(m.group(1))
                    if start >= len(data):
                        return self.status(416)
                body = bytearray(data[start:])
                if fault and fault[0] == "corrupt":
                    body[fault[1] - start] ^= 0xFF
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                limit = fault[1] if fault and fault[0] == "drop" else len(body)
                for i in range(0, limit, 65536):
                    self.wfile.write(body[i : min(i + 65536, limit)])
                    time.sleep(hub.delay)
                if limit < len(body):
                    self.wfile.flush()
                    self.close_connection = True

            def trickle(self, data, interval):
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    for i in range(min(len(data), 600)):  # bounded: it stops by itself within minutes at worst
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        time.sleep(interval)
                except OSError:
                    pass  # the client gave up on us, as it should
                self.close_connection = True

        return Handler
