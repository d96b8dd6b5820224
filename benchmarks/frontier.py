"""Benchmark: whole throughput-interactivity frontiers (``roofline.frontier``), each one
vectorised call over every configuration (aggregated and disaggregated layouts x batch x
speculation, with every prefill pairing), timed end to end after a warm-up call.

    python benchmarks/frontier.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import table, write_section

import roofline

CASES = (
    ("deepseek-r1", "gb200", 72, "nvfp4"),
    ("deepseek-r1", "b200", 8, "nvfp4"),
    ("llama-3.1-70b", "h100", 16, "fp8"),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    roofline.frontier("llama-3.1-8b", "h100", count=8)  # warm-up: imports, catalogs
    rows = []
    for model, chip, count, precision in CASES:
        times, res = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            res = roofline.frontier(model, chip, count=count, prompt_len=1024,
                                    output_len=1024, precision=precision)
            times.append(time.perf_counter() - t)
        assert res is not None
        pairs = int(res.assumptions["configurations evaluated"])
        med = statistics.median(times)
        print(f"frontier({model}, {chip}, count={count}): median {med:.3f} s, "
              f"min {min(times):.3f} s; {pairs:,} configurations, {len(res.frame)} on the front")
        rows.append((f"`frontier('{model}', '{chip}', count={count}, precision='{precision}')`"
                     " 1k/1k", f"{med:.3f}", f"{min(times):.3f}", f"{pairs:,}",
                     f"{len(res.configurations):,}", f"{len(res.frame)}"))
    write_section("frontier", "Throughput-interactivity frontier",
                  table(("frontier", f"median s ({args.repeat} runs)", "best s",
                         "configurations evaluated", "feasible", "on the front"), rows)
                  + "\n\nConfigurations evaluated count every aggregated point and every "
                    "(prefill, decode) pairing of the disaggregated grid; target: a whole "
                    "frontier in <= 1 s on the 2-core CI machine.")


if __name__ == "__main__":
    main()
