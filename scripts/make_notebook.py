"""Write examples/capacity_planning.ipynb (cells as source; CI executes it with nbclient).

Run: python scripts/make_notebook.py
"""

from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", """# Capacity planning with roofline

Four questions a capacity planner brings, each answered from the shipped chip and model
specs alone (no weights, no network). Every number comes with its assumptions."""),
    ("code", """import pandas as pd

import roofline

pd.set_option("display.width", 160)"""),
    ("md", """## 1. Is the rumoured 1.76T-parameter GPT-4 servable on our 512 H100s?

`fit` searches every serving layout (tensor x pipeline x expert parallel) in one
vectorised call and returns the verdict, the layout and memory per device."""),
    ("code", """serve_bf16 = roofline.fit("gpt-4", "h100", 512, "serve")
serve_fp8 = roofline.fit("gpt-4", "h100", 512, "serve", precision="fp8")
pd.DataFrame([serve_bf16.summary(), serve_fp8.summary()])[
    ["fits", "min_chips", "layout", "reason"]]"""),
    ("code", """# Why 32 H100s are not enough:
roofline.fit("gpt-4", "h100", 32).reason"""),
    ("md", """## 2. What would training it cost?

Training needs weights, gradients and Adam states (16 bytes per parameter before ZeRO
sharding) plus activations. The search covers tp, pp, dp, cp, ep, micro-batch, ZeRO stage
and recomputation; `train` then prices a 13T-token run on the chosen layout."""),
    ("code", """verdict = roofline.fit("gpt-4", "h100", 512, "train", seq_len=8192,
                       global_batch=2048)
layout = verdict.assumptions["layout"]
run = roofline.train("gpt-4", "h100", count=512, seq_len=8192, global_batch=2048,
                     tokens=13e12, **{k: v for k, v in layout.items() if k != "dp"})
run.frame[["layout", "step_time_s", "mfu", "memory_bytes", "total_time_s", "chip_hours",
           "cost_usd", "energy_kwh"]].T"""),
    ("code", """# The compute-optimal model for the same FLOP budget (Besiroglu et al. 2024 fit):
roofline.compute_optimal(float(run.frame["training_flops"].iloc[0]))"""),
    ("md", """## 3. Which chip is cheapest per token for Llama-3-70B?

One call evaluates the scenario on every catalog chip: whether it fits, on how many,
latency, throughput, $ per million tokens (catalog prices) and energy per token."""),
    ("code", """table = roofline.compare("llama-3-70b", batch=32, prompt_len=1024,
                         output_len=256).frame
table[table["fits"]][["chip", "chips_needed", "tpot_s", "output_tokens_per_s",
                      "usd_per_m_output_tokens", "joules_per_output_token"]].head(10)"""),
    ("md", """## 4. The roofline of DeepSeek-V3 decode on H200 vs MI325X

Eight chips each, fp8 weights, batch 64 at a 4k context. Every operator is a point at its
arithmetic intensity; the roofs are the chips' dense fp8 peaks and HBM bandwidths."""),
    ("code", """kw = dict(batch=64, prompt_len=4096, output_len=256, tp=8, precision="fp8")
h200 = roofline.infer("deepseek-v3", "h200", **kw)
mi325x = roofline.infer("deepseek-v3", "mi325x", **kw)
pd.concat([h200.frame, mi325x.frame])[["chip", "ttft_s", "tpot_s", "decode_tokens_per_s",
                                      "decode_bound", "memory_fraction"]]"""),
    ("code", """h200.operators("decode")[["operator", "flops", "bytes", "intensity_flop_per_byte",
                          "time_s", "bound"]]"""),
    ("code", """from roofline.views.plots import roofline_figure

fig = roofline_figure(h200, chips=["h200", "mi325x"], dtypes=["fp8"], phases=["decode"])
fig"""),
]


def build() -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
                for kind, src in CELLS]
    return nb


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "examples" / "capacity_planning.ipynb"
    nbf.write(build(), out)
    print(f"wrote {out}")
