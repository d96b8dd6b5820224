"""Benchmark: latency of one serving scenario, ``roofline.infer(model, chip)``, warm.

    python benchmarks/single_scenario.py [--calls 200]

Times single-scenario calls for a few model families (dense GQA, MoE + MLA, hybrid Mamba)
by catalog name, each call end to end: name lookup, precision, per-operator table, roofline
timing, collectives, memory and the result DataFrame. The first call (imports, catalog
parsing) is reported apart.
"""

from __future__ import annotations

import argparse
import time

from _common import stats, table, write_section

CASES = [("llama-3.1-70b", "h100", {}), ("deepseek-v3", "h200", {"tp": 8}),
         ("jamba-1.5-mini", "mi300x", {}), ("gpt-4", "b200", {"tp": 8, "pp": 4, "ep": 8})]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per case")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    import roofline

    roofline.infer("llama-3.1-70b", "h100")
    first = time.perf_counter() - t0
    rows = []
    for model, chip, kw in CASES:
        roofline.infer(model, chip, **kw)
        times = []
        for _ in range(args.calls):
            t = time.perf_counter()
            roofline.infer(model, chip, **kw)
            times.append(time.perf_counter() - t)
        s = stats(times)
        layout = ", ".join(f"{k}={v}" for k, v in kw.items()) or "tp=1"
        rows.append((f"{model} on {chip} ({layout})", f"{s['median'] * 1e3:.1f}",
                     f"{s['p95'] * 1e3:.1f}", f"{s['min'] * 1e3:.1f}"))
        print(f"{rows[-1][0]:<45} median {rows[-1][1]} ms  p95 {rows[-1][2]} ms  "
              f"min {rows[-1][3]} ms")
    print(f"first call in a fresh process (import + catalog + infer): {first:.2f} s")
    write_section("single", "Single-scenario latency (`roofline.infer`)",
                  table(("scenario", "median ms", "p95 ms", "min ms"), rows)
                  + f"\n\n{args.calls} warm calls each. First call in a fresh process "
                    f"(import, catalog parsing, infer): {first:.2f} s.")


if __name__ == "__main__":
    main()
