#!/usr/bin/env python3
"""A test origin for the streaming probes: big deterministic bodies, uploads, and a log.

python3 stdlib only; listens on 127.0.0.1 only.

    python3 bench/origin.py --port 9100 --log /tmp/origin.log

GET/HEAD /blob/<bytes>[/<option>...]
    <bytes> pseudo-random bytes (a number, or with K/M/G, 1024-based), with Content-Length.
    The body depends only on the seed and the offset, so a prefix of a bigger blob is the
    same bytes, and every 64 KiB block differs (a dropped, doubled or reordered block changes
    the hash). Options, one path segment each (so they are part of any cache key):
      ttl=<s>       Cache-Control: public, max-age=<s>   (default: no Cache-Control)
      nostore=1     Cache-Control: no-store
      rate=<n>      send at most <n> bytes/s (K/M/G suffixes), e.g. rate=128M
      seed=<text>   data seed (default "paca"); anything else (id=...) only changes the URL
POST/PUT /upload[/<option>...]
    Reads the body (Content-Length or chunked), hashes it, answers 200 with a JSON object
    {"bytes", "sha256", "t_first", "t_done"} and Cache-Control: no-store.
    Option rate=<n> reads at most <n> bytes/s.
GET /health
    200 "ok".
--any-path
    Every other path is there too: GET/HEAD answer 200 "ok", POST/PUT read the body as
    /upload does. For conformance suites that send to / or /hello and expect a success
    (bench/smuggling.sh).

--log FILE gets one JSON object per line, each with "t" (time.time()), "ev" and "req" (a
request number): "req" (method, path), "send_start" (total), "progress" (sent, total:
every --progress-interval seconds for every body being sent, also while a send is
blocked), "send_done" (bytes, sha256, seconds), "send_aborted" (sent, error),
"upload_first" (first body byte arrived), "upload_progress" (received),
"upload_done" (bytes, sha256) and "upload_aborted". Probes read it to learn when the
origin finished sending and how its sending progressed.

The process exits by itself after --max-seconds (default 900).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK = 64 * 1024
_POOL_BYTES = 1 << 20
_pools: dict[str, bytes] = {}
_pools_lock = threading.Lock()


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([KMG]i?B?)?", text.strip(), re.IGNORECASE)
    if not m:
        raise ValueError(f"bad size: {text!r}")
    unit = (m.group(2) or "").upper()[:1]
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]


def _pool(seed: str) -> bytes:
    with _pools_lock:
        pool = _pools.get(seed)
        if pool is None:
            rng = random.Random(seed)
            pool = rng.randbytes(_POOL_BYTES + BLOCK)
            _pools[seed] = pool
        return pool


def block(seed: str, index: int) -> bytes:
    """Block `index` (64 KiB) of the stream for `seed`: its number, then pool bytes."""
    pool = _pool(seed)
    off = (index * 40961) % _POOL_BYTES
    return struct.pack("<Q", index) + pool[off:off + BLOCK - 8]


def chunks(seed: str, total: int, chunk_blocks: int = 4):
    """The first `total` bytes of the stream for `seed`, in pieces of chunk_blocks blocks."""
    sent = 0
    index = 0
    while sent < total:
        piece = b"".join(block(seed, i) for i in range(index, index + chunk_blocks))
        index += chunk_blocks
        piece = piece[: total - sent]
        sent += len(piece)
        yield piece


def parse_options(segments: list[str]) -> dict[str, str]:
    opts = {}
    for seg in segments:
        if not seg:
            continue
        k, _, v = seg.partition("=")
        opts[k] = v if _ else "1"
    return opts


class Log:
    def __init__(self, path: str | None):
        self._f = open(path, "a", buffering=1) if path else None
        self._lock = threading.Lock()

    def write(self, ev: str, req: int, **fields) -> None:
        if not self._f:
            return
        rec = {"t": round(time.time(), 6), "ev": ev, "req": req, **fields}
        line = json.dumps(rec, separators=(",", ":"))
        with self._lock:
            self._f.write(line + "\n")


class Transfers:
    """Bodies in flight, sampled by a thread into "progress" lines."""

    def __init__(self, log: Log, interval: float):
        self.log = log
        self.interval = interval
        self.active: dict[int, list] = {}  # req -> [kind, done, total]
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self.lock:
                items = [(r, list(v)) for r, v in self.active.items()]
            for req, (kind, done, total) in items:
                if kind == "send":
                    self.log.write("progress", req, sent=done, total=total)
                else:
                    self.log.write("upload_progress", req, received=done, total=total)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--log", help="JSON-lines event log")
    ap.add_argument("--progress-interval", type=float, default=0.2)
    ap.add_argument("--sndbuf", type=parse_size, help="SO_SNDBUF for accepted connections")
    ap.add_argument("--max-seconds", type=float, default=900)
    ap.add_argument("--any-path", action="store_true", help="every path answers (see above)")
    args = ap.parse_args()

    log = Log(args.log)
    transfers = Transfers(log, args.progress_interval)
    counter = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "paca-bench-origin"

        def log_message(self, *a) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if args.sndbuf:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, args.sndbuf)

        def _simple(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            req = next(counter)
            log.write("req", req, method=self.command, path=self.path)
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if parts == ["health"]:
                return self._simple(200, b"ok\n")
            if parts[0] != "blob" or len(parts) < 2:
                return self._simple(200, b"ok\n") if args.any_path else self._simple(404, b"not found\n")
            try:
                total = parse_size(parts[1])
                opts = parse_options(parts[2:])
                rate = parse_size(opts["rate"]) if "rate" in opts else 0
            except (ValueError, KeyError):
                return self._simple(400, b"bad blob path\n")
            seed = opts.get("seed", "paca")
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(total))
            if "ttl" in opts:
                self.send_header("Cache-Control", f"public, max-age={int(opts['ttl'])}")
            elif "nostore" in opts:
                self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command == "HEAD":
                return
            self._send_blob(req, seed, total, rate)

        def _send_blob(self, req: int, seed: str, total: int, rate: int) -> None:
            digest = hashlib.sha256()
            sent = 0
            state = ["send", 0, total]
            log.write("send_start", req, total=total, rate=rate)
            start = time.monotonic()
            with transfers.lock:
                transfers.active[req] = state
            try:
                for piece in chunks(seed, total):
                    digest.update(piece)
                    self.wfile.write(piece)
                    sent += len(piece)
                    state[1] = sent
                    if rate and sent < total:
                        ahead = sent / rate - (time.monotonic() - start)
                        if ahead > 0:
                            time.sleep(ahead)
            except OSError as e:
                log.write("send_aborted", req, sent=sent, total=total, error=type(e).__name__)
                self.close_connection = True
                return
            finally:
                with transfers.lock:
                    transfers.active.pop(req, None)
            log.write("send_done", req, bytes=sent, sha256=digest.hexdigest(),
                      seconds=round(time.monotonic() - start, 6))

        def do_POST(self) -> None:
            req = next(counter)
            log.write("req", req, method=self.command, path=self.path)
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if parts[0] != "upload" and not args.any_path:
                return self._simple(404, b"not found\n")
            try:
                opts = parse_options(parts[1:]) if parts[0] == "upload" else {}
                rate = parse_size(opts["rate"]) if "rate" in opts else 0
            except (ValueError, KeyError):
                return self._simple(400, b"bad upload path\n")
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            length = None if chunked else int(self.headers.get("Content-Length") or 0)
            digest = hashlib.sha256()
            got = 0
            t_first = None
            state = ["upload", 0, length]
            start = time.monotonic()
            with transfers.lock:
                transfers.active[req] = state
            try:
                for piece in self._body(chunked, length):
                    if t_first is None:
                        t_first = time.time()
                        log.write("upload_first", req)
                    digest.update(piece)
                    got += len(piece)
                    state[1] = got
                    if rate:
                        ahead = got / rate - (time.monotonic() - start)
                        if ahead > 0:
                            time.sleep(ahead)
            except (OSError, ValueError, EOFError) as e:
                log.write("upload_aborted", req, received=got, error=type(e).__name__)
                self.close_connection = True
                return
            finally:
                with transfers.lock:
                    transfers.active.pop(req, None)
            t_done = time.time()
            sha = digest.hexdigest()
            log.write("upload_done", req, bytes=got, sha256=sha)
            body = json.dumps({"bytes": got, "sha256": sha, "t_first": t_first, "t_done": t_done}).encode()
            self._simple(200, body + b"\n", "application/json")

        do_PUT = do_POST

        def _body(self, chunked: bool, length: int | None):
            rf = self.rfile
            if not chunked:
                left = length or 0
                while left > 0:
                    piece = rf.read1(min(left, 1 << 18))
                    if not piece:
                        raise EOFError("body ended early")
                    left -= len(piece)
                    yield piece
                return
            while True:
                line = rf.readline(1024)
                if not line:
                    raise EOFError("chunked body ended early")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while rf.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                left = size
                while left > 0:
                    piece = rf.read1(min(left, 1 << 18))
                    if not piece:
                        raise EOFError("chunked body ended early")
                    left -= len(piece)
                    yield piece
                if rf.readline(1024) not in (b"\r\n", b"\n"):
                    raise ValueError("bad chunk end")

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128

        def handle_error(self, request, client_address) -> None:
            pass  # a peer that went away mid-request (probes do that on purpose)

    server = Server((args.host, args.port), Handler)
    timer = threading.Timer(args.max_seconds, lambda: (log.write("max_seconds", 0), server.shutdown()))
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
