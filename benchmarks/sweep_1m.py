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


def _time(label: str, run: Callable[[], Any]) -> tuple[str, float, int, int]:
    gc.collect()
    t = time.perf_counter()
    frame = run()
    elapsed = time.perf_counter() - t
    rows, cols = frame.shape
    print(f"{label:<48} {elapsed:7.2f} s  {rows:,} rows x {cols} columns  "
          f"({rows / elapsed / 1e6:.2f} M scenarios/s)")
    return label, elapsed, rows, cols


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
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
        _time("infer, flat 1M-long arrays", lambda: roofline.infer(model, chip, **flat).frame),
        _time("infer, broadcasting axes", lambda: roofline.infer(model, chip, **shaped).frame),
        _time("roofline.sweep (keyword lists)", lambda: roofline.sweep(
            model, chip, progress=False, **{k: list(v) for k, v in axes.items()})),
    ]
    valid = roofline.infer(model, chip, **shaped).frame["valid"].mean()
    body = table(("call", "seconds", "rows", "columns", "M scenarios/s"),
                 [(label, f"{t:.2f}", f"{r:,}", c, f"{r / t / 1e6:.2f}")
                  for label, t, r, c in results])
    body += (f"\n\nLlama-3.1-70B on H100, {n:,} scenarios: batch 1-{len(axes['batch'])} x "
             f"{len(axes['prompt_len'])} prompt lengths (128-131,072) x "
             f"{len(axes['output_len'])} output lengths (16-4,096) x tp 1-128 "
             f"({valid:.0%} valid layouts: tp 128 exceeds the 64 heads); timed from the call "
             "to the finished DataFrame, after one warm-up call.")
    write_section("sweep", "One million scenarios (vectorised `infer`, `sweep`)", body)


if __name__ == "__main__":
    main()
