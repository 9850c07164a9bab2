#!/usr/bin/env python3
"""Memory and streaming probes for paca, with nginx proxy_cache as the yardstick.

    python3 bench/streamprobe.py never-read  [options]   # = bench/never-read.sh
    python3 bench/streamprobe.py big-body    [options]   # = bench/big-body.sh
    python3 bench/streamprobe.py slow-client [options]   # = bench/slow-client.sh

Each probe starts bench/origin.py and, by default, a fresh paca and a fresh nginx with
generated configs in a temp directory (or measures a proxy you run, with --url/--pid), drives
it with raw sockets, samples the proxy's resident memory (VmRSS of the process and its
children, from /proc) and prints a short report; --json FILE appends one JSON line of
figures. Everything listens on and talks to 127.0.0.1 only; every process started here is
stopped by PID when the probe ends (also on Ctrl-C, on failure and when the --max-seconds
watchdog fires). python3 stdlib only. See bench/README.md.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import stat
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
import origin as blobs  # noqa: E402  (the data generator and size parser)

MiB = 1 << 20
KiB = 1 << 10


def note(msg: str) -> None:
    print(f"== {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> None:
    raise ProbeError(msg)


class ProbeError(Exception):
    pass


class Watchdog(BaseException):
    pass


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    if abs(n) >= MiB:
        return f"{n / MiB:.1f} MiB"
    return f"{n / KiB:.1f} KiB"


def mib(n_kib_or_bytes: float | None, unit: int = MiB) -> float | None:
    return None if n_kib_or_bytes is None else round(n_kib_or_bytes / unit, 1)


# ------------------------------------------------------------------ processes

_libc = None


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the probe dies without cleaning up."""
    global _libc
    try:
        _libc = _libc or ctypes.CDLL("libc.so.6", use_errno=True)
        _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Procs:
    """Processes started by the probe, remembered by PID and stopped in reverse order."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.items: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], cwd: str | None = None) -> subprocess.Popen:
        log = open(os.path.join(self.tmp, f"{name}.log"), "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                preexec_fn=_die_with_parent)
        log.close()
        self.items.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 10) -> None:
        if proc.poll() is None:
            try:
                proc.terminate()
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.items = [(n, p) for n, p in self.items if p is not proc]

    def stop_all(self) -> None:
        for _, proc in reversed(list(self.items)):
            self.stop(proc)

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            with open(os.path.join(self.tmp, f"{name}.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None, name: str, procs: Procs, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            die(f"{name} exited during start-up (code {proc.returncode}):\n{procs.log_tail(name)}")
        time.sleep(0.1)
    die(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f} s:\n{procs.log_tail(name)}")


# ------------------------------------------------------------------ memory and disk

def tree_pids(pid: int) -> list[int]:
    """pid and its descendants (through /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                try:
                    with open(f"/proc/{p}/task/{tid}/children") as f:
                        todo.extend(int(c) for c in f.read().split())
                except OSError:
                    pass
        except OSError:
            pass
    return out


def rss_kib(pid: int) -> int | None:
    """VmRSS of pid and its descendants, KiB; None when pid is gone."""
    total, found = 0, False
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        found = True
                        break
        except OSError:
            pass
    return total if found else None


class Sampler:
    """Samples measure() every `interval` seconds on a thread (None: not sampled)."""

    def __init__(self, measure, interval: float):
        self.measure, self.interval = measure, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            v = self.measure()
            if v is not None:
                self.samples.append((time.time(), v))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def window(self, t0: float, t1: float) -> list[int]:
        return [v for t, v in list(self.samples) if t0 <= t <= t1]

    def median(self, t0: float, t1: float) -> int | None:
        w = self.window(t0, t1)
        return int(statistics.median(w)) if w else None

    def peak(self, t0: float, t1: float) -> int | None:
        w = self.window(t0, t1)
        return max(w) if w else None


def RssSampler(pid: int | None, interval: float = 0.05) -> Sampler:
    """VmRSS (KiB) of pid and its children, every 50 ms."""
    return Sampler((lambda: rss_kib(pid)) if pid else (lambda: None), interval)


def du_bytes(paths: list[str]) -> int:
    total = 0
    for root in paths:
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
                except OSError:
                    pass
    return total


def open_deleted_bytes(pid: int | None) -> int:
    """Disk blocks of files that pid (or a child) holds open after unlinking them: nginx's
    request and response temp files are unlinked as soon as they are created."""
    if not pid:
        return 0
    seen, total = set(), 0
    for p in tree_pids(pid):
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if not os.readlink(f"/proc/{p}/fd/{fd}").endswith(" (deleted)"):
                    continue
                st = os.stat(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def DiskSampler(t: "Target") -> Sampler:
    """Bytes on disk under the target's cache/temp directories plus its open unlinked files."""
    return Sampler(lambda: du_bytes(t.disk) + open_deleted_bytes(t.pid), 0.25)


def wait_disk_settled(paths: list[str], quiet: float = 1.5, limit: float = 30) -> float:
    """Waits until the size under `paths` has not changed for `quiet` seconds; returns seconds waited."""
    start = time.monotonic()
    if not paths:
        time.sleep(quiet)
        return quiet
    last, since = du_bytes(paths), time.monotonic()
    while time.monotonic() - start < limit:
        time.sleep(0.25)
        now = du_bytes(paths)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return time.monotonic() - start


# ------------------------------------------------------------------ targets

def deep_merge(base: dict, extra: dict) -> dict:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = v
    return base


class Target:
    def __init__(self, name: str, port: int, pid: int | None, proc: subprocess.Popen | None = None,
                 disk: list[str] | None = None):
        self.name, self.port, self.pid, self.proc = name, port, pid, proc
        self.disk = disk or []

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is None or os.path.exists(f"/proc/{self.pid}")


def start_paca(args, procs: Procs, tmp: str, origin_port: int, tag: str) -> Target:
    binary = args.paca
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        die(f"paca binary not found at {binary}: build it with 'swift build -c release' "
            f"(or --paca PATH, or --targets nginx)")
    d = os.path.join(tmp, f"paca-{tag}")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    route = {"name": "all", "match": "/*", "origin": f"http://127.0.0.1:{origin_port}", "ttl": "3600s",
             "max_body_bytes": "8GB", "timeout": "300s"}
    config = {
        "listen": f"127.0.0.1:{port}",
        "storage": {"l1": {"max_bytes": "256MB"}, "l2": {"path": os.path.join(d, "cache"), "max_bytes": "8GB"}},
        "server": {"max_body_bytes": "8GB", "idle_timeout": "300s"},
        "routes": [deep_merge(route, json.loads(args.paca_route_json or "{}"))],
    }
    deep_merge(config, json.loads(args.paca_json or "{}"))
    path = os.path.join(d, "routes.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    name = f"paca-{tag}"
    proc = procs.start(name, [binary, "serve", "--config", path])
    wait_port(port, proc, name, procs)
    return Target("paca", port, proc.pid, proc, [d])


def start_nginx(args, procs: Procs, tmp: str, origin_port: int, tag: str) -> Target:
    d = os.path.join(tmp, f"nginx-{tag}")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    user_line = "user root root;" if os.geteuid() == 0 else ""
    conf = f"""{user_line}
worker_processes 1;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    client_max_body_size 0;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy_temp;
    fastcgi_temp_path {d}/fastcgi_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    proxy_cache_path {d}/cache levels=1:2 keys_zone=probe:16m max_size=8g inactive=1h use_temp_path=off;
    {args.nginx_extra}
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache probe;
            proxy_cache_valid 200 3600s;
            proxy_cache_lock on;
            proxy_request_buffering {args.nginx_request_buffering};
            proxy_read_timeout 300s;
            proxy_send_timeout 300s;
            proxy_ignore_headers Set-Cookie;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    os.chmod(tmp, 0o755)
    os.chmod(d, 0o755)
    name = f"nginx-{tag}"
    proc = procs.start(name, ["nginx", "-e", f"{d}/error.log", "-p", d, "-c", path, "-g", "daemon off;"])
    wait_port(port, proc, name, procs)
    return Target("nginx", port, proc.pid, proc, [f"{d}/cache", f"{d}/proxy_temp", f"{d}/body"])


class Session:
    """The origin, the targets, the temp dir and the watchdog of one probe run."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix=f"paca-{args.probe}.")
        self.procs = Procs(self.tmp)
        self.run_id = f"{int(time.time())}-{os.getpid()}"
        self.origin_port = args.origin_port or free_port()
        self.origin_log = os.path.join(self.tmp, "origin.log")

    def __enter__(self):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

        def fire(*_):
            raise Watchdog(f"watchdog: over {self.args.max_seconds} s, stopping")

        signal.signal(signal.SIGALRM, fire)
        signal.alarm(int(self.args.max_seconds))
        try:
            ensure_tools(self.args)
            argv = [sys.executable, os.path.join(HERE, "origin.py"), "--port", str(self.origin_port),
                    "--log", self.origin_log, "--progress-interval", "0.1",
                    "--max-seconds", str(int(self.args.max_seconds) + 60)]
            proc = self.procs.start("origin", argv)
            wait_port(self.origin_port, proc, "origin", self.procs)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        note(f"origin on 127.0.0.1:{self.origin_port} (log {self.origin_log})")
        return self

    def __exit__(self, exc_type, exc, tb):
        signal.alarm(0)
        self.procs.stop_all()
        keep = self.args.keep_tmp or exc_type is not None
        if keep:
            note(f"logs and configs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def targets(self) -> list[str]:
        if self.args.url:
            return ["external"]
        return self.args.targets

    def start(self, kind: str, tag: str) -> Target:
        if kind == "paca":
            t = start_paca(self.args, self.procs, self.tmp, self.origin_port, tag)
        elif kind == "nginx":
            t = start_nginx(self.args, self.procs, self.tmp, self.origin_port, tag)
        else:
            u = urllib.parse.urlsplit(self.args.url)
            if u.hostname not in ("127.0.0.1", "localhost") or not u.port:
                die("--url must be http://127.0.0.1:PORT (loopback only)")
            t = Target(self.args.name or "target", u.port, self.args.pid, None, self.args.disk or [])
            if not self.args.pid:
                note("no --pid: memory is not measured")
            return t
        note(f"{t.name} on 127.0.0.1:{t.port} (pid {t.pid})")
        return t

    def stop(self, t: Target) -> None:
        if t.proc is not None:
            self.procs.stop(t.proc)

    def origin_events(self) -> list[dict]:
        out = []
        try:
            with open(self.origin_log) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        except OSError:
            pass
        return out

    def origin_requests(self, path: str) -> list[int]:
        return [e["req"] for e in self.origin_events() if e["ev"] == "req" and e.get("path") == path]

    def origin_transfer(self, req: int) -> dict:
        """Events of origin request `req`: start/done/aborted/first, progress [(t, n)]."""
        info: dict = {"progress": []}
        for e in self.origin_events():
            if e.get("req") != req:
                continue
            ev = e["ev"]
            if ev in ("progress", "upload_progress"):
                info["progress"].append((e["t"], e.get("sent", e.get("received"))))
            else:
                info[ev] = e
        return info


def ensure_tools(args) -> None:
    if "nginx" in args.targets and not args.url and not shutil.which("nginx"):
        note("installing nginx with apt-get")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        ok = subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env).returncode == 0 and \
            subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "nginx"], env=env).returncode == 0
        if not ok or not shutil.which("nginx"):
            die("nginx is missing and could not be installed (or use --targets paca)")


# ------------------------------------------------------------------ HTTP over raw sockets

class Response:
    def __init__(self):
        self.status = 0
        self.headers: dict[str, str] = {}
        self.t_sent = self.t_first_byte = self.t_first_body = self.t_end = None
        self.bytes = 0
        self.sha256 = None
        self.complete = False
        self.error = None
        self.body_prefix = b""

    def cache_status(self) -> str:
        for h in ("cache-status", "x-cache-status", "x-cache"):
            if h in self.headers:
                return f"{h}: {self.headers[h]}"
        return "(no cache status field)"

    def is_hit(self) -> bool:
        v = " ".join(self.headers.get(h, "") for h in ("cache-status", "x-cache-status", "x-cache")).lower()
        return "hit" in v.replace("hit-for-miss", "")


class ChunkedDecoder:
    """Incremental Transfer-Encoding: chunked decoder: feed() returns body bytes."""

    def __init__(self):
        self.buf = b""
        self.left = 0  # bytes left in the current chunk
        self.state = "size"  # size | data | crlf | trailer | done

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        self.buf += data
        while True:
            if self.state == "data":
                if not self.buf:
                    break
                take = self.buf[: self.left]
                out.append(take)
                self.buf = self.buf[len(take):]
                self.left -= len(take)
                if self.left == 0:
                    self.state = "crlf"
            elif self.state in ("size", "crlf", "trailer"):
                i = self.buf.find(b"\r\n")
                if i < 0:
                    break
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                if self.state == "crlf":
                    self.state = "size"
                elif self.state == "size":
                    self.left = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    self.state = "data" if self.left else "trailer"
                elif not line:
                    self.state = "done"
                    break
            else:
                break
        return out


def read_response(sock: socket.socket, r: Response, *, deadline: float, rate: float = 0, stop_after: float = 0,
                  hash_body: bool = True, head: bool = False) -> Response:
    """Reads one response from sock into r. rate: bytes/s (0: as fast as possible);
    stop_after: stop reading (and leave) that many seconds after the request was sent."""
    digest = hashlib.sha256() if hash_body else None
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    head_bytes = b""
    framing = None  # ("length", n) | ("chunked", decoder) | ("close",)
    body_left = 0
    decoder = None
    read_start = None
    got_raw = 0
    try:
        while True:
            now = time.time()
            if now > deadline:
                r.error = "deadline"
                return r
            if stop_after and r.t_sent and now - r.t_sent >= stop_after:
                r.error = "stopped reading (by design)"
                return r
            want = len(buf)
            if rate and read_start is not None:
                allowed = rate * (now - read_start) - got_raw
                if allowed < 1024:
                    time.sleep(min(0.02, max(0.001, (1024 - allowed) / rate)))
                    continue
                want = int(min(want, allowed, 64 * KiB))
            sock.settimeout(max(0.05, min(1.0, deadline - now)))
            try:
                n = sock.recv_into(view[:want])
            except socket.timeout:
                continue
            if n == 0:
                if framing and framing[0] == "close":
                    r.complete = True
                else:
                    r.error = "connection closed early"
                r.t_end = time.time()
                return r
            t = time.time()
            if r.t_first_byte is None:
                r.t_first_byte = t
                read_start = t
            got_raw += n
            data = bytes(view[:n]) if framing is None else view[:n]
            if framing is None:
                head_bytes += data
                i = head_bytes.find(b"\r\n\r\n")
                if i < 0:
                    if len(head_bytes) > 65536:
                        r.error = "response head too large"
                        return r
                    continue
                head_text, rest = head_bytes[:i].decode("latin-1"), head_bytes[i + 4:]
                lines = head_text.split("\r\n")
                r.status = int(lines[0].split()[1])
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    r.headers[k.strip().lower()] = v.strip()
                if 100 <= r.status < 200:
                    head_bytes = rest
                    r.headers = {}
                    continue
                te = r.headers.get("transfer-encoding", "").lower()
                if head or r.status in (204, 304):
                    framing, body_left = ("length",), 0
                elif "chunked" in te:
                    decoder = ChunkedDecoder()
                    framing = ("chunked",)
                elif "content-length" in r.headers:
                    framing, body_left = ("length",), int(r.headers["content-length"])
                else:
                    framing = ("close",)
                data = rest
            pieces = decoder.feed(bytes(data)) if decoder else [data]
            for p in pieces:
                if not len(p):
                    continue
                if framing[0] == "length":
                    p = p[:body_left]
                    body_left -= len(p)
                if r.t_first_body is None and len(p):
                    r.t_first_body = t
                r.bytes += len(p)
                if digest:
                    digest.update(p)
                if len(r.body_prefix) < 512:
                    r.body_prefix += bytes(p[: 512 - len(r.body_prefix)])
            if (framing[0] == "length" and body_left <= 0) or (decoder and decoder.state == "done"):
                r.complete = True
                r.t_end = time.time()
                return r
    except OSError as e:
        r.error = f"{type(e).__name__}: {e}"
        return r
    finally:
        if r.t_end is None:
            r.t_end = time.time()
        if digest:
            r.sha256 = digest.hexdigest()


def connect(port: int, rcvbuf: int = 0, sndbuf: int = 0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def abort(s: socket.socket) -> None:
    """Close with RST (no lingering), as a client that gives up does."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def http_get(port: int, path: str, *, max_seconds: float = 120, rate: float = 0, rcvbuf: int = 0,
             stop_after: float = 0, hash_body: bool = True) -> Response:
    r = Response()
    try:
        s = connect(port, rcvbuf)
    except OSError as e:
        r.error = f"connect: {e}"
        return r
    try:
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: paca-streamprobe\r\n"
               f"Connection: close\r\n\r\n").encode()
        r.t_sent = time.time()
        s.sendall(req)
        read_response(s, r, deadline=r.t_sent + max_seconds, rate=rate, stop_after=stop_after, hash_body=hash_body)
    except OSError as e:
        r.error = f"{type(e).__name__}: {e}"
    finally:
        abort(s)
    return r


class Upload(Response):
    def __init__(self):
        super().__init__()
        self.t_body_start = self.t_body_done = None
        self.sent = 0
        self.sent_sha256 = None
        self.send_error = None
        self.progress: list[tuple[float, int]] = []  # (time, bytes sent so far)

    def sent_at(self, t: float) -> int:
        best = 0
        for ts, n in self.progress:
            if ts > t:
                break
            best = n
        return best


def http_upload(port: int, path: str, nbytes: int, seed: str, *, method: str = "PUT",
                max_seconds: float = 120) -> Upload:
    u = Upload()
    try:
        s = connect(port)
    except OSError as e:
        u.error = f"connect: {e}"
        return u
    deadline = time.time() + max_seconds
    digest = hashlib.sha256()
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: paca-streamprobe\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {nbytes}\r\n"
                f"Connection: close\r\n\r\n").encode()
        u.t_sent = time.time()
        s.settimeout(30)
        s.sendall(head)
        u.t_body_start = time.time()
        try:
            for piece in blobs.chunks(seed, nbytes):
                if time.time() > deadline:
                    u.send_error = "deadline"
                    break
                s.sendall(piece)
                digest.update(piece)
                u.sent += len(piece)
                u.progress.append((time.time(), u.sent))
        except OSError as e:
            u.send_error = f"{type(e).__name__}: {e}"
        u.t_body_done = time.time()
        u.sent_sha256 = digest.hexdigest()
        read_response(s, u, deadline=max(deadline, time.time() + 10))
    except OSError as e:
        u.error = f"{type(e).__name__}: {e}"
    finally:
        abort(s)
    return u


def warm(port: int, path: str, size: int, tries: int = 10) -> tuple[bool, Response]:
    """Requests path until a response says hit (with the full body)."""
    r = Response()
    for _ in range(tries):
        r = http_get(port, path, max_seconds=30)
        if r.status == 200 and r.bytes == size and r.is_hit():
            return True, r
        time.sleep(0.2)
    return False, r


# ------------------------------------------------------------------ reporting

class Report:
    def __init__(self, args):
        self.args = args
        self.results: list[dict] = []
        self.misses: list[str] = []  # paca results over target
        self.started = time.time()

    def add(self, result: dict) -> None:
        self.results.append(result)

    def verdict(self, target: str, ok: bool | None, what: str) -> str:
        if ok is None:
            return f"[{what}: n/a]"
        if not ok and target == "paca":
            self.misses.append(what)
        return f"[{what}: {'ok' if ok else 'MISSED'}]"

    def finish(self, params: dict) -> int:
        if self.args.json:
            line = json.dumps({"probe": self.args.probe, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                               "seconds": round(time.time() - self.started, 1), "params": params,
                               "results": self.results}, separators=(",", ":"))
            if self.args.json == "-":
                print(line)
            else:
                with open(self.args.json, "a") as f:
                    f.write(line + "\n")
                note(f"figures appended to {self.args.json}")
        if self.args.strict and self.misses:
            print(f"paca missed: {', '.join(self.misses)}")
            return 1
        return 0


def rss_figures(sampler: RssSampler, t0: float, t1: float, t_after: float | None = None) -> dict:
    base = sampler.median(t0 - 1.0, t0)
    peak = sampler.peak(t0, t1)
    d = {"rss_base_mib": mib(base, KiB), "rss_peak_mib": mib(peak, KiB),
         "rss_growth_mib": mib(peak - base, KiB) if base is not None and peak is not None else None}
    if t_after is not None:
        after = sampler.median(t_after - 0.5, t_after)
        d["rss_after_mib"] = mib(after, KiB)
        d["rss_retained_mib"] = mib(after - base, KiB) if base is not None and after is not None else None
    return d


def rss_text(d: dict) -> str:
    if d.get("rss_base_mib") is None:
        return "RSS not measured"
    s = f"RSS {d['rss_base_mib']:.1f} -> peak {d['rss_peak_mib']:.1f} MiB (+{d['rss_growth_mib']:.1f})"
    if d.get("rss_after_mib") is not None:
        s += f", after {d['rss_after_mib']:.1f} MiB ({d['rss_retained_mib']:+.1f})"
    return s


# ------------------------------------------------------------------ probe 1: never-read

def never_read_clients(port: int, path: str, conns: int, seconds: float, rcvbuf: int, over_cap=lambda: False) -> dict:
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: paca-streamprobe\r\n\r\n".encode()
    payload = req * 256
    socks, offs, sent, closed = [], {}, {}, {}
    for _ in range(conns):
        s = connect(port, rcvbuf=rcvbuf)
        s.setblocking(False)
        socks.append(s)
        offs[s], sent[s] = 0, 0
    start = time.time()
    deadline = start + seconds
    live = list(socks)
    capped = None
    try:
        while live and time.time() < deadline:
            if over_cap():
                capped = round(time.time() - start, 2)
                break
            _, writable, _ = select.select([], live, [], min(0.1, max(0.0, deadline - time.time())))
            for s in writable:
                try:
                    n = s.send(memoryview(payload)[offs[s]:])
                except BlockingIOError:
                    continue
                except OSError as e:
                    closed[s] = (time.time() - start, type(e).__name__)
                    live.remove(s)
                    continue
                offs[s] = (offs[s] + n) % len(payload)
                sent[s] += n
    finally:
        for s in socks:
            abort(s)
    total = sum(sent.values())
    return {"requests_sent": total // len(req), "request_bytes_sent": total,
            "closed_by_server": [{"after_s": round(t, 2), "error": e} for t, e in closed.values()],
            "stopped_at_rss_cap_s": capped, "seconds": round(time.time() - start, 2)}


def probe_never_read(args) -> int:
    report = Report(args)
    with Session(args) as sess:
        for kind in sess.targets():
            for size in args.sizes:
                tag = f"nr-{size}"
                t = sess.start(kind, tag)
                path = f"/blob/{size}/ttl=3600/id={sess.run_id}-{t.name}-{tag}"
                sampler = RssSampler(t.pid)
                try:
                    hit, w = warm(t.port, path, size)
                    if not hit:
                        note(f"{t.name}: {path} never became a hit ({w.status}, {w.cache_status()}); measuring anyway")
                    time.sleep(1.2)
                    t0 = time.time()
                    note(f"{t.name} {fmt_bytes(size)}: {args.conns} connections pipelining GETs for {args.seconds:g} s, never reading")
                    base = sampler.median(t0 - 1.0, t0)

                    def over_cap() -> bool:
                        last = sampler.samples[-1][1] if sampler.samples else None
                        return base is not None and last is not None and (last - base) / KiB > args.rss_cap_mib

                    c = never_read_clients(t.port, path, args.conns, args.seconds, args.rcvbuf, over_cap)
                    t1 = time.time()
                    time.sleep(args.after)
                    t2 = time.time()
                    h = http_get(t.port, path, max_seconds=10)
                    healthy = h.status == 200 and h.bytes == size
                    alive = t.alive()
                    figs = rss_figures(sampler, t0, t1 + 0.5, t2)
                finally:
                    sampler.stop()
                    sess.stop(t)
                ok = None if figs["rss_growth_mib"] is None else figs["rss_growth_mib"] < args.target_mib
                res = {"target": t.name, "body_bytes": size, "conns": args.conns, "seconds": args.seconds,
                       "warm_hit": hit, "healthy_after": healthy, "alive_after": alive, **c, **figs,
                       "target_growth_mib": args.target_mib, "within_target": ok}
                report.add(res)
                closed = f"; {len(c['closed_by_server'])} closed by the server" if c["closed_by_server"] else ""
                if c["stopped_at_rss_cap_s"] is not None:
                    closed += f"; stopped after {c['stopped_at_rss_cap_s']:g} s at the RSS cap ({args.rss_cap_mib:g} MiB)"
                print(f"{t.name:6} {fmt_bytes(size):>9} x{args.conns} {args.seconds:g}s: {c['requests_sent']:,} requests "
                      f"written ({fmt_bytes(c['request_bytes_sent'])}){closed}; {rss_text(figs)}; "
                      f"answers afterwards: {'yes' if healthy else 'NO'}  "
                      f"{report.verdict(t.name, ok, f'growth < {args.target_mib:g} MiB')}", flush=True)
    return report.finish({"conns": args.conns, "seconds": args.seconds, "sizes": args.sizes, "rcvbuf": args.rcvbuf})


# ------------------------------------------------------------------ probe 2: big-body

def probe_big_body(args) -> int:
    report = Report(args)
    size = args.size
    with Session(args) as sess:
        for kind in sess.targets():
            t = sess.start(kind, "bb")
            sampler = RssSampler(t.pid)
            disk = DiskSampler(t)

            def disk_figs(t0: float, t1: float) -> dict:
                before, peak, end = disk.median(t0 - 1.0, t0), disk.peak(t0, t1), disk.median(t1 - 0.3, t1)
                if before is None or peak is None:
                    return {}
                return {"disk_peak_growth_mib": mib(peak - before), "disk_growth_mib": mib((end or peak) - before)}

            def disk_text(d: dict) -> str:
                if not d:
                    return ""
                return f"; disk peak +{d['disk_peak_growth_mib']:.1f} MiB, kept +{d['disk_growth_mib']:.1f} MiB"
            try:
                rate = f"/rate={args.origin_rate}" if args.origin_rate else ""
                path = f"/blob/{size}/ttl=3600{rate}/id={sess.run_id}-{t.name}"
                expected = None
                for phase in [p for p in ("miss", "again") if p in args.phases]:
                    time.sleep(1.2)
                    before = sess.origin_requests(path)
                    t0 = time.time()
                    note(f"{t.name}: GET {fmt_bytes(size)} ({phase})")
                    r = http_get(t.port, path, max_seconds=args.max_transfer)
                    time.sleep(0.5)
                    figs = rss_figures(sampler, t0, time.time())
                    figs.update(disk_figs(t0, time.time()))
                    new = [q for q in sess.origin_requests(path) if q not in before]
                    res = {"target": t.name, "phase": f"get-{phase}", "bytes_expected": size, "status": r.status,
                           "bytes": r.bytes, "complete": r.complete, "error": r.error,
                           "cache_status": r.cache_status(), "origin_requests": len(new),
                           "client_ttfb_s": round(r.t_first_body - r.t_sent, 3) if r.t_first_body else None,
                           "client_total_s": round(r.t_end - r.t_sent, 3), **figs}
                    line = f"{t.name:6} GET {phase:5} {fmt_bytes(size)}: HTTP {r.status}, {fmt_bytes(r.bytes)}"
                    if r.error:
                        line += f" ({r.error})"
                    if new:
                        o = sess.origin_transfer(new[0])
                        done = o.get("send_done")
                        start = o.get("send_start")
                        if done:
                            expected = done["sha256"]
                        if done and start and r.t_first_body:
                            lead = done["t"] - r.t_first_body
                            share = sent_at(o, r.t_first_body) / size
                            res.update(origin_send_s=round(done["t"] - start["t"], 3), first_byte_before_origin_done_s=round(lead, 3),
                                       origin_share_sent_at_first_byte=round(share, 4), streamed=share < 0.5)
                            line += (f"; first byte after {res['client_ttfb_s']:.2f} s, origin sent for "
                                     f"{res['origin_send_s']:.2f} s and had sent {share:.0%} when the client got its first byte"
                                     f" ({abs(lead):.2f} s {'before' if lead > 0 else 'after'} it finished)")
                        streamed_ok = res.get("streamed")
                    else:
                        streamed_ok = None
                        line += f"; not fetched from the origin; {res['client_ttfb_s']} s to first byte, {res['client_total_s']} s in all"
                    sha_ok = expected is not None and r.sha256 == expected and r.bytes == size
                    res.update(sha256=r.sha256, sha256_ok=sha_ok)
                    ok = None if figs["rss_growth_mib"] is None else figs["rss_growth_mib"] < args.target_mib
                    res.update(target_growth_mib=args.target_mib, within_target=ok)
                    line += f"; sha256 {'ok' if sha_ok else 'MISMATCH'}; {res['cache_status']}; {rss_text(figs)}{disk_text(figs)}  "
                    line += report.verdict(t.name, ok, f"growth < {args.target_mib:g} MiB")
                    if phase == "miss":
                        line += " " + report.verdict(t.name, streamed_ok, "streamed")
                    else:
                        line += " " + report.verdict(t.name, len(new) == 0 and r.is_hit(), "served from cache")
                    report.add(res)
                    print(line, flush=True)
                    if phase == "miss":
                        waited = wait_disk_settled(t.disk)
                        note(f"{t.name}: cache on disk settled after {waited:.1f} s ({fmt_bytes(du_bytes(t.disk))})")

                if "upload" not in args.phases:
                    continue
                time.sleep(1.2)
                upath = f"/upload/id={sess.run_id}-{t.name}"
                before = sess.origin_requests(upath)
                t0 = time.time()
                note(f"{t.name}: {args.upload_method} {fmt_bytes(size)}")
                u = http_upload(t.port, upath, size, "paca", method=args.upload_method, max_seconds=args.max_transfer)
                time.sleep(0.5)
                figs = rss_figures(sampler, t0, time.time())
                figs.update(disk_figs(t0, time.time()))
                new = [q for q in sess.origin_requests(upath) if q not in before]
                res = {"target": t.name, "phase": "upload", "bytes_expected": size, "status": u.status, "sent": u.sent,
                       "send_error": u.send_error, "error": u.error,
                       "client_send_s": round(u.t_body_done - u.t_body_start, 3) if u.t_body_done else None,
                       "client_total_s": round(u.t_end - u.t_sent, 3) if u.t_end else None, **figs}
                line = f"{t.name:6} {args.upload_method} {fmt_bytes(size)}: HTTP {u.status}, sent {fmt_bytes(u.sent)}"
                if u.send_error or u.error:
                    line += f" ({u.send_error or u.error})"
                streamed_ok = None
                sha_ok = False
                if new:
                    o = sess.origin_transfer(new[0])
                    first, done = o.get("upload_first"), o.get("upload_done")
                    if done:
                        sha_ok = done["sha256"] == u.sent_sha256 and done["bytes"] == size
                    if first and u.t_body_done:
                        lead = u.t_body_done - first["t"]
                        share = u.sent_at(first["t"]) / size
                        streamed_ok = share < 0.5
                        res.update(origin_first_byte_before_client_done_s=round(lead, 3),
                                   client_share_sent_at_origin_first_byte=round(share, 4), streamed=streamed_ok)
                        line += (f"; client sent for {res['client_send_s']:.2f} s and had sent {share:.0%} when the origin got "
                                 f"its first byte ({abs(lead):.2f} s {'before' if lead > 0 else 'after'} the client finished)")
                    if done:
                        res["origin_received"] = done["bytes"]
                else:
                    line += "; the origin never saw the request"
                ok = None if figs["rss_growth_mib"] is None else figs["rss_growth_mib"] < args.target_mib
                res.update(sha256_ok=sha_ok, target_growth_mib=args.target_mib, within_target=ok)
                line += f"; sha256 at origin {'ok' if sha_ok else 'MISMATCH'}; {rss_text(figs)}{disk_text(figs)}  "
                line += report.verdict(t.name, ok, f"growth < {args.target_mib:g} MiB") + " " + \
                    report.verdict(t.name, streamed_ok, "streamed")
                report.add(res)
                print(line, flush=True)
            finally:
                sampler.stop()
                disk.stop()
                sess.stop(t)
    return report.finish({"size": size, "origin_rate": args.origin_rate, "upload_method": args.upload_method,
                          "phases": args.phases})


# ------------------------------------------------------------------ probe 3: slow-client

def sent_at(o: dict, t: float) -> int:
    """Bytes the origin had sent by time t (from its progress samples and end events)."""
    best = 0
    for ts, n in o["progress"]:
        if ts <= t:
            best = max(best, n)
    for ev in ("send_done", "send_aborted"):
        e = o.get(ev)
        if e and e["t"] <= t:
            best = max(best, e.get("bytes", e.get("sent", 0)))
    return best


def probe_slow_client(args) -> int:
    report = Report(args)
    size = args.size
    with Session(args) as sess:
        for kind in sess.targets():
            for variant in args.variants:
                t = sess.start(kind, f"sc-{variant}")
                opt = "nostore=1" if variant == "no-store" else "ttl=3600"
                path = f"/blob/{size}/{opt}/id={sess.run_id}-{t.name}-{variant}"
                sampler = RssSampler(t.pid)
                disk = DiskSampler(t)
                try:
                    time.sleep(1.2)
                    disk0 = disk.median(time.time() - 1.0, time.time()) or 0
                    t0 = time.time()
                    note(f"{t.name} {variant}: reading {fmt_bytes(size)} at {fmt_bytes(args.client_rate)}/s for {args.seconds:g} s")
                    r = http_get(t.port, path, rate=args.client_rate, rcvbuf=args.rcvbuf, stop_after=args.seconds,
                                 max_seconds=args.seconds + 30)
                    t_close = r.t_end
                    time.sleep(args.after)
                    t_after = time.time()
                    figs = rss_figures(sampler, t0, t_after)
                    reqs = sess.origin_requests(path)
                    o = sess.origin_transfer(reqs[0]) if reqs else {"progress": []}
                    disk_peak = disk.peak(t0, t_close) or disk0
                finally:
                    sampler.stop()
                    disk.stop()
                    sess.stop(t)
                origin_sent = sent_at(o, t_close)
                done = o.get("send_done")
                aborted = o.get("send_aborted")
                finished_early = bool(done and done["t"] <= t_close)
                held = origin_sent - r.bytes
                paused = (not finished_early) and origin_sent < size / 2
                timeline = []
                for s in args.marks:
                    if s <= args.seconds:
                        timeline.append((s, sent_at(o, t0 + s)))
                if done and done["t"] > t_close:
                    after = f"finished sending {done['t'] - t_close:.1f} s after the client left"
                elif aborted:
                    after = (f"aborted {aborted['t'] - t_close:.1f} s after the client left, at "
                             f"{fmt_bytes(aborted['sent'])}") if aborted["t"] > t_close else "aborted before the client left"
                elif finished_early:
                    after = f"had finished {t_close - done['t']:.1f} s before the client left"
                else:
                    after = f"still sending {args.after:g} s after the client left"
                ok = None if figs["rss_growth_mib"] is None else figs["rss_growth_mib"] < args.target_mib
                res = {"target": t.name, "variant": variant, "body_bytes": size, "client_rate": args.client_rate,
                       "seconds": args.seconds, "status": r.status, "client_received": r.bytes,
                       "origin_sent_at_client_close": origin_sent, "origin_finished_before_close": finished_early,
                       "held_between_mib": mib(held), "origin_paused": paused, "origin_after_close": after,
                       "origin_timeline": [{"s": s, "sent": n} for s, n in timeline],
                       "proxy_disk_peak_growth_mib": mib(disk_peak - disk0), **figs,
                       "target_growth_mib": args.target_mib, "within_target": ok}
                report.add(res)
                tl = " ".join(f"{s:g}s:{n / MiB:.0f}" for s, n in timeline)
                print(f"{t.name:6} {variant:9} {fmt_bytes(size)} read at {fmt_bytes(args.client_rate)}/s for {args.seconds:g} s: "
                      f"client got {fmt_bytes(r.bytes)} (HTTP {r.status}); origin had sent {fmt_bytes(origin_sent)} "
                      f"by then ({fmt_bytes(held)} held in between; MiB sent at {tl}); origin {after}; "
                      f"proxy disk peak +{fmt_bytes(disk_peak - disk0)}; {rss_text(figs)}  "
                      f"{report.verdict(t.name, paused, 'origin paused')} "
                      f"{report.verdict(t.name, ok, f'growth < {args.target_mib:g} MiB')}", flush=True)
    return report.finish({"size": size, "client_rate": args.client_rate, "seconds": args.seconds,
                          "variants": args.variants, "rcvbuf": args.rcvbuf})


# ------------------------------------------------------------------ command line

def size_arg(text: str) -> int:
    try:
        return blobs.parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="probe", required=True)

    def common(p, max_seconds: int):
        p.add_argument("--targets", default="paca,nginx", type=lambda s: [x for x in s.split(",") if x],
                       help="comma-separated: paca, nginx (default both)")
        p.add_argument("--paca", default=os.environ.get("PACA", os.path.join(ROOT, ".build/release/paca")),
                       help="paca binary (default .build/release/paca, or $PACA)")
        p.add_argument("--paca-json", default=os.environ.get("PACA_JSON", ""),
                       help="JSON merged into the generated paca config (e.g. new storage options)")
        p.add_argument("--paca-route-json", default=os.environ.get("PACA_ROUTE_JSON", ""),
                       help="JSON merged into the generated paca route")
        p.add_argument("--nginx-extra", default=os.environ.get("NGINX_EXTRA", ""), help="more nginx http{} directives")
        p.add_argument("--nginx-request-buffering", default="on", choices=["on", "off"],
                       help="nginx proxy_request_buffering (default on, nginx's default)")
        p.add_argument("--url", help="measure a proxy you run instead: http://127.0.0.1:PORT, routing /* to --origin-port")
        p.add_argument("--pid", type=int, help="with --url: the proxy's PID (RSS of it and its children is sampled)")
        p.add_argument("--name", help="with --url: a label for the report")
        p.add_argument("--disk", action="append", help="with --url: a directory whose growth is reported (repeatable)")
        p.add_argument("--origin-port", type=int, help="port for bench/origin.py (default: a free one; needed with --url)")
        p.add_argument("--json", help="append one JSON line of figures to this file ('-': stdout)")
        p.add_argument("--strict", action="store_true", help="exit 1 when paca misses a target")
        p.add_argument("--keep-tmp", action="store_true", help="keep configs and logs")
        p.add_argument("--max-seconds", type=float, default=max_seconds, help="watchdog for the whole probe")

    p = sub.add_parser("never-read", help="pipelined GETs whose responses are never read")
    common(p, 240)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--sizes", default=[16 * KiB, KiB], type=lambda s: [size_arg(x) for x in s.split(",")],
                   help="cached object sizes (default 16K,1K)")
    p.add_argument("--rcvbuf", type=size_arg, default=64 * KiB, help="client SO_RCVBUF (default 64K)")
    p.add_argument("--after", type=float, default=3, help="seconds to watch RSS after the connections close")
    p.add_argument("--target-mib", type=float, default=16)
    p.add_argument("--rss-cap-mib", type=float, default=2048,
                   help="stop the clients early when the proxy has grown by this much (protects the machine)")

    p = sub.add_parser("big-body", help="a huge response (miss, then again) and a huge upload")
    common(p, 300)
    p.add_argument("--size", type=size_arg, default=1 << 30, help="body size (default 1G)")
    p.add_argument("--origin-rate", default="128M", help="origin send rate for the GET, bytes/s with K/M/G ('' = unlimited)")
    p.add_argument("--phases", default=["miss", "again", "upload"], type=lambda s: [x for x in s.split(",") if x],
                   help="which of miss,again,upload to run (default all; again needs miss)")
    p.add_argument("--upload-method", default="PUT", choices=["PUT", "POST"])
    p.add_argument("--max-transfer", type=float, default=90, help="seconds allowed per transfer")
    p.add_argument("--target-mib", type=float, default=64)

    p = sub.add_parser("slow-client", help="a client reading a big body at ~1 MiB/s from a fast origin")
    common(p, 240)
    p.add_argument("--size", type=size_arg, default=256 * MiB, help="body size (default 256M)")
    p.add_argument("--client-rate", type=size_arg, default=MiB, help="client read rate, bytes/s (default 1M)")
    p.add_argument("--seconds", type=float, default=15, help="how long the client reads before leaving")
    p.add_argument("--variants", default=["no-store", "cacheable"], type=lambda s: [x for x in s.split(",") if x],
                   help="no-store and/or cacheable (default both)")
    p.add_argument("--rcvbuf", type=size_arg, default=128 * KiB, help="client SO_RCVBUF (default 128K)")
    p.add_argument("--after", type=float, default=3, help="seconds to watch the origin after the client leaves")
    p.add_argument("--marks", default=[1, 2, 5, 10, 15], type=lambda s: [float(x) for x in s.split(",")],
                   help="seconds at which the origin's sent bytes are printed")
    p.add_argument("--target-mib", type=float, default=64)

    args = ap.parse_args()
    for t in args.targets:
        if t not in ("paca", "nginx"):
            ap.error(f"unknown target {t!r} (paca, nginx)")
    if args.url and not args.origin_port:
        ap.error("--url needs --origin-port: the proxy must route /* to http://127.0.0.1:<origin-port>")
    if getattr(args, "variants", None):
        for v in args.variants:
            if v not in ("no-store", "cacheable"):
                ap.error(f"unknown variant {v!r}")
    if args.probe == "big-body":
        if args.origin_rate:
            blobs.parse_size(args.origin_rate)
        for ph in args.phases:
            if ph not in ("miss", "again", "upload"):
                ap.error(f"unknown phase {ph!r}")
    probe = {"never-read": probe_never_read, "big-body": probe_big_body, "slow-client": probe_slow_client}[args.probe]
    try:
        return probe(args)
    except ProbeError as e:
        print(f"{args.probe}: {e}", file=sys.stderr)
        return 2
    except Watchdog as e:
        print(f"{args.probe}: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
