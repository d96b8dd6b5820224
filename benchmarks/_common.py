"""Shared by the benchmark scripts: what machine they ran on, and writing their results
into docs/performance.md.

Each script owns one section of that file, between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``: a run replaces its section (or appends it the first time), so the
file always holds the latest results of every benchmark, each with its date and machine.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
HEADER = """# Performance

Measured, not claimed: every number below comes from a script in `benchmarks/`, run on the
machine named beside it. Re-run a script to refresh its section (`python benchmarks/NAME.py`;
`python benchmarks/run_all.py` runs them all). Timings are wall-clock seconds on an
otherwise idle machine unless stated; CPU count matters, so compare like with like.
"""


#: Order of the sections in the file.
ORDER = ["targets", "single", "sweep", "layouts", "frontier", "import", "callbacks", "load",
         "load-saturated", "peers", "peer-ratios"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024 / 2**30
    except OSError:
        pass
    return None


def machine() -> str:
    """One line naming the machine: cores, CPU model, memory, OS, Python and numpy."""
    import numpy as np
    import pandas as pd

    mem = _memory_gib()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cores} cores ({os.cpu_count()} online), {_cpu_model()}, "
            f"{f'{mem:.0f} GiB' if mem else '? GiB'} RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, numpy {np.__version__}, "
            f"pandas {pd.__version__}; load average {os.getloadavg()[0]:.2f} when written")


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def stats(xs: Sequence[float]) -> dict[str, float]:
    """min, median, p95 and max of a sample."""
    s = sorted(xs)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return {"min": s[0], "median": statistics.median(s), "p95": p95, "max": s[-1]}


def write_section(name: str, title: str, body: str) -> None:
    """Put ``body`` (markdown) in docs/performance.md as section ``name``, dated and with the
    machine, replacing the previous run's."""
    block = (f"<!-- bench:{name} -->\n## {title}\n\n"
             f"_{today()}; `{' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}`; "
             f"{machine()}_\n\n{body.strip()}\n<!-- /bench:{name} -->\n")
    text = DOC.read_text() if DOC.exists() else HEADER
    any_block = re.compile(r"<!-- bench:([\w-]+) -->.*?<!-- /bench:\1 -->\n?", re.S)
    blocks = {m.group(1): m.group(0).rstrip("\n") + "\n" for m in any_block.finditer(text)}
    blocks[name] = block
    head = any_block.sub("", text).rstrip("\n")
    order = sorted(blocks, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
    DOC.write_text(head + "\n\n" + "\n".join(blocks[k] for k in order))
    print(f"\n(written to {DOC.relative_to(ROOT)}, section {name!r})")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
