"""Benchmark (not a timed test): search every training layout of the rumoured 1.76T GPT-4
MoE on 4,096 H100s. Issue 4's target: 2 s or less on a 2-core machine.

    python benchmarks/training_search.py
"""

from __future__ import annotations

import time

from roofline.engine.training.search import search_training_layouts
from roofline.specs import load_chip, load_model


def main() -> None:
    model, chip = load_model("gpt-4"), load_chip("h100")
    search_training_layouts("llama-3-8b", chip, 8, seq_len=4096, global_batch=64)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        table = search_training_layouts(model, chip, 4096, seq_len=8192, global_batch=2048)
        times.append(time.perf_counter() - start)
    ok = table[table["ok"]]
    print(f"{len(table)} layouts ({len(ok)} valid and fitting) in {min(times):.2f} s "
          f"(best of 3; runs {', '.join(f'{t:.2f}' for t in times)} s)")
    cols = ["rank", "layout", "step_time_s", "mfu", "memory_bytes"]
    print(ok[cols].head(5).to_string(index=False))


if __name__ == "__main__":
    main()
