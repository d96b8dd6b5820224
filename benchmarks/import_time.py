"""Benchmark: how long ``import roofline`` takes, and what it spends the time on.

    python benchmarks/import_time.py [--runs 5]

Runs ``python -X importtime -c 'import roofline'`` in fresh interpreters; reports the
median wall time of the whole import, the package's own cumulative import time, and the
heaviest top-level dependencies (self + children, from the last run).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _common import ROOT, table, write_section


def _importtime() -> tuple[float, dict[str, int]]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import roofline"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    cumulative: dict[str, int] = {}
    for line in proc.stderr.splitlines():  # "import time: self | cumulative | <indent>name"
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].strip()
        if "." not in name:  # packages, at whatever depth they were first imported
            cumulative[name] = max(cumulative.get(name, 0), int(parts[1]))
    return wall, cumulative


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    _importtime()  # warm the file-system cache and .pyc files
    walls, last = [], {}
    for _ in range(args.runs):
        wall, last = _importtime()
        walls.append(wall)
    baseline = statistics.median(_bare() for _ in range(args.runs))
    own = last.get("roofline", 0) / 1e6
    heavy = sorted(((k, v) for k, v in last.items() if k not in ("roofline", "site")),
                   key=lambda kv: -kv[1])
    print(f"python -c 'import roofline': median {statistics.median(walls):.3f} s wall "
          f"(bare interpreter {baseline:.3f} s); roofline's import tree {own:.3f} s")
    for k, v in heavy[:8]:
        print(f"  {k:<30} {v / 1e6:.3f} s")
    body = (f"`python -X importtime -c 'import roofline'`, median of {args.runs} fresh "
            f"processes: **{statistics.median(walls):.2f} s** wall (a bare interpreter: "
            f"{baseline:.2f} s); the `roofline` import tree (cumulative, -X importtime): "
            f"{own:.2f} s.\n\nHeaviest packages it pulls in (cumulative):\n\n"
            + table(("module", "cumulative s"), [(k, f"{v / 1e6:.3f}") for k, v in heavy[:6]]))
    write_section("import", "Import time", body)


def _bare() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
