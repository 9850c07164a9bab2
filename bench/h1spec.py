#!/usr/bin/env python3
"""Runs the cases of uNetworking/h1spec (https://github.com/uNetworking/h1spec) against a server.

h1spec is one Deno script, http_test.ts, whose `testCases` list holds raw requests, each with the
status ranges a conforming server answers it with, or `expectedTimeout` for a request that is
not complete yet (the server must wait for the rest, not answer). This reads that list from the
suite's own file, so the cases and their expectations are the suite's, and grades them the way
its runner does: one connection per case, the request sent whole, the first read parsed for
a status line, and 500 ms of silence counted as waiting. Deno is not needed.

    python3 bench/h1spec.py --suite /path/to/h1spec/http_test.ts --port 8080

Prints one line per case and a count; exits 1 when a case fails, 2 when the suite's file
cannot be read. python3 stdlib only; connects to 127.0.0.1 (or --host) only.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import time

STRING = r'"((?:[^"\\]|\\.)*)"'


def js_string(text: str) -> str:
    """The value of a double-quoted JavaScript string literal's body."""
    # \xHH is JavaScript's and not JSON's; everything else the suite uses (\r \n \t \\ \") is both.
    text = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: "\\u00" + m.group(1), text)
    return json.loads('"' + text + '"')


def cases(source: str) -> list[dict]:
    start = source.find("testCases")
    if start < 0:
        raise ValueError("no testCases list")
    found = []
    # Each case is an object literal `{ request: "...", description: "...", expectedStatus: [...] }`.
    for match in re.finditer(r"\{([^{}]*?request\s*:[^{}]*?)\}", source[start:], re.S):
        body = match.group(1)
        request = re.search(r"request\s*:\s*" + STRING, body, re.S)
        description = re.search(r"description\s*:\s*" + STRING, body, re.S)
        status = re.search(r"expectedStatus\s*:\s*(\[\s*(?:\[[^\]]*\]\s*,?\s*)*\])", body, re.S)
        if not (request and description and status):
            raise ValueError("a case without request, description or expectedStatus: " + body[:80])
        found.append({
            "request": js_string(request.group(1)).encode("latin-1"),
            "description": js_string(description.group(1)),
            "ranges": json.loads(status.group(1)),
            "timeout": re.search(r"expectedTimeout\s*:\s*true", body) is not None,
        })
    return found


def run(case: dict, host: str, port: int, wait: float) -> tuple[bool, str]:
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(case["request"])
        conn.settimeout(wait)
        try:
            data = conn.recv(1024)
        except socket.timeout:
            return case["timeout"], "waited"
    match = re.match(rb"HTTP/1\.\d (\d{3})", data)
    status = int(match.group(1)) if match else 0
    ok = any(low <= status <= high for low, high in case["ranges"])
    return ok, f"status {status}" if data else "closed without an answer"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", required=True, help="h1spec's http_test.ts")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--wait", type=float, default=0.5, help="silence counted as waiting (the suite's 500 ms)")
    args = ap.parse_args()
    try:
        with open(args.suite, encoding="utf-8") as f:
            listed = cases(f.read())
    except (OSError, ValueError) as e:
        print(f"h1spec.py: cannot read the suite's cases from {args.suite}: {e}", file=sys.stderr)
        return 2
    if not listed:
        print(f"h1spec.py: no cases in {args.suite}", file=sys.stderr)
        return 2
    passed = 0
    for case in listed:
        began = time.monotonic()
        ok, what = run(case, args.host, args.port, args.wait)
        passed += ok
        expected = "to wait" if case["timeout"] else "status in " + ", ".join(f"{a}-{b}" for a, b in case["ranges"])
        print(f"{'pass' if ok else 'FAIL'}  {case['description']}: {what} "
              f"({(time.monotonic() - began) * 1000:.0f} ms; expected {expected})")
    print(f"h1spec: {passed} of {len(listed)} passed")
    return 0 if passed == len(listed) else 1


if __name__ == "__main__":
    sys.exit(main())
