"""Benchmark: one million serving scenarios in one vectorised call, end to end.

    python benchmarks/sweep_1m.py [--rows 1000000]

Three ways of asking for 1,000,000 scenarios of Llama-3.1-70B on H100, each timed from the
call to the finished pandas DataFrame (one row per scenario, ~60 columns):

- ``infer`` on flat arrays: every input a 1M-long array (no broadcasting shortcut);
- ``infer`` on broadcasting axes: batch x prompt x output x tp as orthogonal axes;
- ``roofline.sweep``: the same grid as keyword lists (the public sweep API).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import table, write_section

import roofline


def _axes(rows: int) -> dict[str, np.ndarray]:
    """Orthogonal axes whose product is about ``rows`` (1M: 100 x 50 x 25 x 8)."""
    per_batch = 50 * 25 * 8
    return {"batch": np.arange(1, max(1, rows // per_batch) + 1, dtype=float),
            "prompt_len": np.linspace(128, 131072, 50).round(),
            "output_len": np.linspace(16, 4096, 25).round(),
            "tp": np.array([1, 2, 4, 8, 16, 32, 64, 128], dtype=float)}


def _time(label: str, run: Callable[[], Any], repeat: int) -> tuple[str, float, float, int,
                                                                     int]:
    """Median and best of ``repeat`` runs, seconds, and the frame's shape."""
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        frame = run()
        times.append(time.perf_counter() - t)
        rows, cols = frame.shape
        del frame
    med, best = statistics.median(times), min(times)
    print(f"{label:<36} median {med:6.2f} s  best {best:6.2f} s  {rows:,} rows x {cols} "
          f"columns  ({rows / med / 1e6:.2f} M scenarios/s)")
    return label, med, best, rows, cols


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    model, chip = roofline.load_model("llama-3.1-70b"), roofline.load_chip("h100")
    roofline.infer(model, chip, batch=[1, 2])  # warm-up: imports and first-call caches
    axes = _axes(args.rows)
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    flat = {k: m.reshape(-1) for k, m in zip(axes, mesh, strict=True)}
    n = len(flat["batch"])
    shaped = {k: v.reshape([-1 if i == j else 1 for j in range(len(axes))])
              for i, (k, v) in enumerate(axes.items())}
    results = [
        _time("infer, flat 1M-long arrays", lambda: roofline.infer(model, chip, **flat).frame,
              args.repeat),
        _time("infer, broadcasting axes", lambda: roofline.infer(model, chip, **shaped).frame,
              args.repeat),
        _time("roofline.sweep (keyword lists)", lambda: roofline.sweep(
            model, chip, progress=False, **{k: list(v) for k, v in axes.items()}), args.repeat),
    ]
    valid = roofline.infer(model, chip, **shaped).frame["valid"].mean()
    body = table(("call", f"median s ({args.repeat} runs)", "best s", "rows", "columns",
                  "M scenarios/s (median)"),
                 [(label, f"{med:.2f}", f"{best:.2f}", f"{r:,}", c, f"{r / med / 1e6:.2f}")
                  for label, med, best, r, c in results])
    body += (f"\n\nLlama-3.1-70B on H100, {n:,} scenarios: batch 1-{len(axes['batch'])} x "
             f"{len(axes['prompt_len'])} prompt lengths (128-131,072) x "
             f"{len(axes['output_len'])} output lengths (16-4,096) x tp 1-128 "
             f"({valid:.0%} valid layouts: tp 128 exceeds the 64 heads); timed from the call "
             "to the finished DataFrame, after one warm-up call.")
    write_section("sweep", "One million scenarios (vectorised `infer`, `sweep`)", body)


if __name__ == "__main__":
    main()
