"""Run every benchmark in turn and refresh docs/performance.md.

    python benchmarks/run_all.py [--quick] [--skip NAME ...]

Each benchmark runs in its own process (a clean interpreter, so one's memory or caches
never colour the next). ``--quick`` shortens the long ones (load test 15 s with 10 users,
fewer repeats) for a smoke run; the numbers in the docs come from a full run. The
dashboard's callback-latency benchmark (``dashboard_callbacks.py``, owned by the dashboard)
does not write the docs itself: its output is recorded here as a section.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _common import ROOT, write_section

HERE = ROOT / "benchmarks"
FULL: dict[str, list[str]] = {
    "single": ["single_scenario.py"],
    "sweep": ["sweep_1m.py"],
    "layouts": ["layout_search.py"],
    "frontier": ["frontier.py"],
    "import": ["import_time.py"],
    "callbacks": ["dashboard_callbacks.py"],
    "load": ["load_test.py"],
    "load-saturated": ["load_test.py", "--think", "0"],
    "peers": ["peers.py"],
}
QUICK: dict[str, list[str]] = {
    "single": ["--calls", "20"], "sweep": ["--repeat", "1"], "layouts": ["--repeat", "1"],
    "frontier": ["--repeat", "1"],
    "import": ["--runs", "2"], "callbacks": ["--repeat", "1", "--no-browser"],
    "load": ["--users", "10", "--seconds", "15"],
    "load-saturated": ["--users", "10", "--seconds", "15"], "peers": ["--repeat", "3"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(FULL))
    args = parser.parse_args(argv)
    failed = []
    for name, cmd in FULL.items():
        if name in args.skip:
            continue
        extra = QUICK.get(name, []) if args.quick else []
        print(f"\n==> {name}: {' '.join(cmd + extra)}", flush=True)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:], *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=1800)
        print(proc.stdout[-6000:], proc.stderr[-3000:] if proc.returncode else "", sep="")
        if proc.returncode:
            failed.append(name)
        elif name == "callbacks":
            write_section("callbacks", "Dashboard callback latency (`dashboard_callbacks.py`)",
                          "```text\n" + proc.stdout.strip() + "\n```")
        print(f"({name}: {time.perf_counter() - t:.0f} s, exit {proc.returncode})")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
