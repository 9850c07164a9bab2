#!/usr/bin/env python3
"""A stand-in for `paca demo-origin`, for running bench/hits.sh without a paca build.

Same contract as the demo origin: `/X` serves fixtures/origin/X, else X.json, else 404;
headers from fixtures/origin/_headers.json (first matching glob wins, `*` matches anything
including `/`); Content-Type from the extension; ETag, Last-Modified and Date added; every
response delayed by --latency. python3 stdlib only. Answers 304 to a matching
If-None-Match.

    python3 bench/standin_origin.py --fixtures fixtures --port 9000 --latency 50ms
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import mimetypes
import re
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def parse_duration(s: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", s.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration: {s}")
    value, unit = float(m.group(1)), m.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def glob_to_regex(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", default="fixtures")
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--latency", type=parse_duration, default=0.05)
    args = ap.parse_args()

    root = (Path(args.fixtures) / "origin").resolve()
    spec = json.loads((root / "_headers.json").read_text())
    rules = [(glob_to_regex(r["match"]), r["headers"]) for r in spec.get("rules", [])]
    default = spec.get("default", {})

    def headers_for(path: str, target: str) -> dict:
        for rx, hdrs in rules:
            if rx.match(path) or rx.match(target):
                return hdrs
        return default

    def resolve(target: str) -> Path | None:
        path = urllib.parse.unquote(target.split("?", 1)[0])
        candidates = [target, target + ".json", path, path + ".json"] if "?" in target \
            else [path, path + ".json"]
        for c in candidates:
            p = (root / c.lstrip("/")).resolve()
            if p.is_relative_to(root) and p.is_file() and p.name != "_headers.json":
                return p
        return None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "paca-standin-origin"

        def log_message(self, *a) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            time.sleep(args.latency)
            file = resolve(self.path)
            if file is None:
                body = b'{"error":"not found"}\n'
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)
                return
            data = file.read_bytes()
            etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
            path = self.path.split("?", 1)[0]
            status = 304 if self.headers.get("If-None-Match") == etag else 200
            self.send_response(status)
            for k, v in headers_for(path, self.path).items():
                self.send_header(k, v)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified",
                             email.utils.formatdate(file.stat().st_mtime, usegmt=True))
            if status == 304:
                self.end_headers()
                return
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
