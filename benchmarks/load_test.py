"""Load test: the dashboard under its production server (waitress) on 127.0.0.1, with
simulated users clicking through the pages for a bounded time.

    python benchmarks/load_test.py [--users 50] [--seconds 60] [--think 1.0]

Starts ``roofline serve --production`` on a free loopback port, records the callback
requests of every page from the real layout (``tests/dash_payloads.py``: the router, each
page's view, options and toggles), then runs ``--users`` threads for ``--seconds``. Each
user opens a page (index HTML, router, the page's initial callbacks), then changes one
input of the page's view at a time (batch, prompt, tp, precision ... from values a person
would pick), waiting ``--think`` seconds on average (exponential) between actions;
``--think 0`` saturates the server. Reports p50/p95/p99 latency per kind of request and the
error count (any status other than 200/204, a transport error, a timeout, or an
"internal error" message in a page), which must be 0. Loopback only; the server is stopped
at the end whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, table, write_section

sys.path.insert(0, str(ROOT / "tests"))
from dash_payloads import UPDATE, HttpClient, Recording, page_paths, record, route

HOST = "127.0.0.1"
#: Values a person would try, by the kind of input (matched on the component id's end).
CHOICES: dict[str, list[Any]] = {
    "batch": [1, 4, 8, 16, 32, 64, 256], "prompt": [512, 2048, 8192, 32768],
    "output": [64, 256, 1024], "tp": [1, 2, 4, 8], "pp": [1, 2, 4], "ep": [1, 2, 8],
    "count": [8, 16, 64, 256], "precision": ["native", "bf16", "fp8", "int4"],
    "model": ["llama-3.1-70b", "llama-3.1-8b", "mixtral-8x7b", "deepseek-v3", "qwen3-8b"],
    "chip": ["nvidia-h100-sxm", "amd-mi300x", "nvidia-b200", "nvidia-l40s"],
    "chips": [["nvidia-h100-sxm"], ["nvidia-h100-sxm", "amd-mi300x"], ["nvidia-b200"]],
    "q": ["h100", "llama", "moe", ""], "mode": ["expected", "ideal"],
    "util": [0.3, 0.5, 0.8], "tpot": [None, 20.0, 50.0],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(port: int, timeout: float = 180.0) -> Iterator[subprocess.Popen[bytes]]:
    """``roofline serve --production`` on 127.0.0.1:``port``, stopped on exit."""
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"roofline-load-{port}.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "roofline", "serve", "--production", "--host", HOST,
         "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        client = HttpClient(f"http://{HOST}:{port}", timeout=5)
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited ({proc.returncode}); see {log.name}")
            with contextlib.suppress(OSError):
                if client.get("/").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer in {timeout:.0f} s")
            time.sleep(0.5)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the session this script started
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def _interactions(view: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``view`` with one input changed to a value a person would pick."""
    out = copy.deepcopy(view)
    candidates = [item for item in out["inputs"]
                  if item["id"].rsplit("-", 1)[-1] in CHOICES]
    if not candidates:
        return out
    item = rng.choice(candidates)
    key = item["id"].rsplit("-", 1)[-1]
    item["value"] = rng.choice(CHOICES[key])
    out["changedPropIds"] = [f"{item['id']}.{item['property']}"]
    return out


def _kind(payload: dict[str, Any]) -> str:
    out = payload["output"]
    if "page.children" in out:
        return "router"
    if out.endswith(".options"):
        return "options"
    if "-message.children" in out:
        return "view"
    return "other"


class Stats:
    """Latencies by kind of request, and errors (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            if error:
                self.errors.append(f"{kind}: {error}")


def user(base: str, rec: Recording, stats: Stats, deadline: float, think: float,
         seed: int) -> None:
    """One simulated user: open pages and change inputs until ``deadline``."""
    rng = random.Random(seed)
    client = HttpClient(base, timeout=60)
    paths = list(rec.pages)

    def call(kind: str, send: Any) -> None:
        t = time.perf_counter()
        error = None
        try:
            reply = send()
            if reply.status_code not in (200, 204):
                error = f"HTTP {reply.status_code}"
            elif b"internal error" in reply.data:
                error = "internal error in the page"
        except Exception as e:  # a transport error or a timeout counts, never stops the run
            error = f"{type(e).__name__}: {e}"
        stats.add(kind, time.perf_counter() - t, error)

    def pause() -> None:
        if think > 0:
            time.sleep(min(rng.expovariate(1 / think), 5 * think))

    while time.monotonic() < deadline:
        path = rng.choice(paths)
        call("index", lambda: client.get("/"))
        call("router", lambda p=path: client.post(UPDATE, json=route(rec.router, p)))
        for payload in rec.pages[path]:
            call(_kind(payload), lambda b=payload: client.post(UPDATE, json=b))
        views = [p for p in rec.pages[path] if _kind(p) == "view"]
        for _ in range(rng.randint(2, 6)):
            if time.monotonic() >= deadline or not views:
                break
            pause()
            body = _interactions(rng.choice(views), rng)
            call("view", lambda b=body: client.post(UPDATE, json=b))
        pause()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds a user waits between actions (0: none)")
    parser.add_argument("--section", default=None, help="docs section name (default: by think)")
    args = parser.parse_args(argv)
    port = free_port()
    with server(port):
        base = f"http://{HOST}:{port}"
        client = HttpClient(base)
        rec = record(client, page_paths(client))
        stats = Stats()
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=user, args=(base, rec, stats, deadline, args.think,
                                                       i), daemon=True)
                   for i in range(args.users)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.seconds + 120)
        elapsed = time.monotonic() - t0
    rows = []
    every = [x for xs in stats.latency.values() for x in xs]
    for kind, xs in [*sorted(stats.latency.items()), ("all", every)]:
        p = np.percentile(np.asarray(xs) * 1e3, [50, 95, 99])
        rows.append((kind, f"{len(xs):,}", f"{p[0]:.0f}", f"{p[1]:.0f}", f"{p[2]:.0f}",
                     f"{max(xs) * 1e3:.0f}"))
    text = table(("request", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"), rows)
    print(text)
    print(f"\n{len(every):,} requests in {elapsed:.0f} s ({len(every) / elapsed:.1f}/s) from "
          f"{args.users} users (think {args.think:g} s); errors: {len(stats.errors)}")
    for e in stats.errors[:10]:
        print("  ", e)
    name = args.section or ("load" if args.think > 0 else "load-saturated")
    title = ("Dashboard under load" if args.think > 0 else
             "Dashboard under load, no think time (saturation)")
    write_section(name, title, text + (
        f"\n\n{args.users} simulated users for {args.seconds:.0f} s against `roofline serve "
        f"--production` (waitress, 8 threads) on 127.0.0.1; mean think time {args.think:g} s "
        f"(exponential) between actions. {len(every):,} requests ({len(every) / elapsed:.1f}/s)"
        f", **{len(stats.errors)} errors**. `index` = the page HTML, `router` = rendering a "
        "page, `view` = a page's main callback (engine + figure), `options` = dropdown "
        "lists, `other` = small toggles; payloads recorded from the live layout. The simulated "
        "users run on the same machine as the server and share its cores, so the latencies "
        "include their CPU contention."))
    return 1 if stats.errors else 0


if __name__ == "__main__":
    sys.exit(main())
