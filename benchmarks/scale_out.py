"""Benchmark: sweeps that distribute on a Dask LocalCluster (docs/scale-out.md).

    python benchmarks/scale_out.py [--runs 1e7:1,1e7:2,1e8:2] [--chunk-rows 250000]

For one grid of serving scenarios (Llama-3.1-70B on H100; batch x prompt x output x tp
x pp), each run ``ROWS:WORKERS`` times a top-10 reduction (fastest layouts by TPOT among
those that fit) on a LocalCluster of WORKERS single-threaded worker processes, records
the client process's peak resident memory (the grid never exists on the client: tasks
carry axes and a row range), and, for comparison, the local path (``roofline.sweep``
without a client) on a grid that it can hold in memory (``--local-rows``).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from _common import table, write_section

from roofline import scale_out


def axes(rows: int) -> dict[str, np.ndarray]:
    """Orthogonal serving axes whose product is ``rows`` rounded down to a multiple of
    50 x 25 x 8 x 4 = 40,000 (batch takes the rest)."""
    per_batch = 50 * 25 * 8 * 4
    return {"batch": np.arange(1, max(1, rows // per_batch) + 1, dtype=float),
            "prompt_len": np.linspace(128, 131072, 50).round(),
            "output_len": np.linspace(16, 4096, 25).round(),
            "tp": np.array([1, 2, 4, 8, 16, 32, 64, 128], dtype=float),
            "pp": np.array([1, 2, 4, 8], dtype=float)}


def peak_rss_gib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_cluster(grid: dict[str, np.ndarray], workers: int, chunk_rows: int) -> float:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit="3GiB") as cluster, \
            Client(cluster):
        table_ = scale_out.scenarios("llama-3.1-70b", "h100", chunk_rows=chunk_rows, **grid)
        t = time.perf_counter()
        best = scale_out.top_k(table_, 10, by="tpot_s")
        elapsed = time.perf_counter() - t
    assert len(best) == 10 and best["fits"].all()
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="1e7:1,1e7:2,1e8:2",
                        help="comma-separated ROWS:WORKERS")
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--local-rows", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs.split(","):
        size, workers = run.split(":")
        grid = axes(int(float(size)))
        n = int(np.prod([len(v) for v in grid.values()]))
        w = int(workers)
        s = run_cluster(grid, w, args.chunk_rows)
        rows.append([f"LocalCluster, {w} worker(s), top-10", f"{n:,}", f"{s:.1f}",
                     f"{n / s / 1e6:.2f}", f"{peak_rss_gib():.2f}"])
        print(rows[-1])
    import roofline

    small = axes(args.local_rows)
    m = int(np.prod([len(v) for v in small.values()]))
    t = time.perf_counter()
    frame = roofline.sweep("llama-3.1-70b", "h100", progress=False, **small).frame
    best = frame[frame["valid"] & frame["fits"]].nsmallest(10, "tpot_s")
    s = time.perf_counter() - t
    assert len(best) == 10
    rows.append(["local sweep + nsmallest (no client)", f"{m:,}", f"{s:.1f}",
                 f"{m / s / 1e6:.2f}", f"{peak_rss_gib():.2f}"])
    print(rows[-1])
    body = table(["run", "scenarios", "seconds", "M scenarios/s", "client peak RSS (GiB)"],
                 rows)
    if not args.no_write:
        write_section("scale-out", "Dask scale-out: top-10 layouts on a LocalCluster", body)


if __name__ == "__main__":
    main()
