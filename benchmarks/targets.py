"""Benchmark: the single-answer and start-up figures of issue 16, each against its target.

    python benchmarks/targets.py [--calls 200] [--fresh 5]

- ``infer`` / ``train`` of one scenario: median of warm calls (catalog names resolved in the
  call, result read as ``result['tpot_s']``; the DataFrame is built only when asked for);
- ``import roofline``, ``roofline --help`` and ``roofline fit gpt-4 h100 --count 512``:
  median wall time of fresh processes;
- vectorised ``infer`` over 100,000 and 1,000,000 scenarios to a DataFrame, and the
  72,800-layout training search for the 1.76T GPT-4 MoE on 4,096 H100: median of 3.

The machine's load average is printed beside the figures: on a shared machine every time
grows with it, so compare runs at similar load (or use peers.py's ratios, measured in one run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import ROOT, stats, table, write_section


def _warm(call: Callable[[], Any], n: int) -> float:
    call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return stats(times)["median"]


def _fresh(argv: list[str], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
    return stats(times)["median"]


def _frame(call: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: call().frame


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="warm calls per single answer")
    parser.add_argument("--fresh", type=int, default=5, help="fresh processes per start-up")
    args = parser.parse_args(argv)
    import roofline
    from roofline.engine.training.search import search_training_layouts

    load0 = os.getloadavg()[0]
    py, cli = sys.executable, [sys.executable, "-m", "roofline"]
    axes_1m = dict(batch=np.arange(1, 101)[:, None, None, None],
                   prompt_len=np.geomspace(128, 131072, 50).round()[None, :, None, None],
                   output_len=np.geomspace(16, 4096, 25).round()[None, None, :, None],
                   tp=np.array([1, 2, 4, 8, 16, 32, 64, 128])[None, None, None, :])
    axes_100k = {**axes_1m, "batch": np.arange(1, 11)[:, None, None, None]}
    rows: list[tuple[str, float, float, str]] = [
        ("infer, one scenario (llama-3.1-70b, h100)", 0.3e-3,
         _warm(lambda: roofline.infer("llama-3.1-70b", "h100")["tpot_s"], args.calls), "ms"),
        ("infer, one scenario (gpt-4, b200, tp8 pp4 ep8)", 0.3e-3,
         _warm(lambda: roofline.infer("gpt-4", "b200", tp=8, pp=4, ep=8)["tpot_s"],
               args.calls), "ms"),
        ("train, one layout (llama-3.1-70b, 64 h100, tp8 pp2)", 0.5e-3,
         _warm(lambda: roofline.train("llama-3.1-70b", "h100", count=64, tp=8, pp=2,
                                      seq_len=4096, global_batch=512)["step_time_s"],
               max(args.calls // 4, 10)), "ms"),
        ("infer, 100,000 scenarios to a DataFrame", 60e-3,
         _warm(_frame(lambda: roofline.infer("llama-3.1-70b", "h100", **axes_100k)), 3), "ms"),
        ("infer, 1,000,000 scenarios to a DataFrame", 0.6,
         _warm(_frame(lambda: roofline.infer("llama-3.1-70b", "h100", **axes_1m)), 3), "s"),
        ("training layout search, gpt-4 on 4,096 h100 (72,800 layouts)", 0.25,
         _warm(lambda: search_training_layouts("gpt-4", "h100", 4096, seq_len=8192,
                                               global_batch=2048), 3), "s"),
        ("import roofline (fresh process)", 0.35,
         _fresh([py, "-c", "import roofline"], args.fresh), "s"),
        ("import roofline; roofline.infer (fresh process, first answer)", float("nan"),
         _fresh([py, "-c", "import roofline; roofline.infer('llama-3.1-70b', 'h100')"],
                args.fresh), "s"),
        ("roofline --help", 0.3, _fresh([*cli, "--help"], args.fresh), "s"),
        ("roofline fit gpt-4 h100 --count 512", 0.8,
         _fresh([*cli, "fit", "gpt-4", "h100", "--count", "512"], args.fresh), "s"),
    ]
    load1 = os.getloadavg()[0]
    scale = {"ms": 1e3, "s": 1.0}
    out = []
    for name, target, got, unit in rows:
        k = scale[unit]
        verdict = "-" if target != target else ("met" if got <= target else
                                                 f"{got / target:.1f}x over")
        tgt = "-" if target != target else f"{target * k:.3g}"
        out.append((name, f"{got * k:.3g}", tgt, unit, verdict))
        print(f"{name:<66} {got * k:9.3g} {unit:<2} (target {tgt}) {verdict}")
    print(f"load average {load0:.1f} before, {load1:.1f} after")
    write_section("targets", "Issue 16 targets: single answers and start-up", table(
        ("measurement", "median", "target", "unit", "verdict"), out) + (
        f"\n\nSingle answers: median of {args.calls} warm calls (train: a quarter of that); "
        f"start-up: median of {args.fresh} fresh processes; vectorised calls and the search: "
        f"median of 3 after a warm-up. Load average {load0:.1f} at the start and {load1:.1f} "
        "at the end of the run (on the shared 2-core machine, times scale roughly with it)."))


if __name__ == "__main__":
    main()
