"""Benchmark: one serving answer, ours against llm-analysis and llm-cal, as "ours / peer".

    python -m venv /tmp/peer-la  && /tmp/peer-la/bin/pip install llm-analysis
    python -m venv /tmp/peer-cal && /tmp/peer-cal/bin/pip install llm-cal
    python benchmarks/peer_ratios.py [--la /tmp/peer-la/bin/python]
                                     [--cal /tmp/peer-cal/bin/python] [--repeat 200]

The two peers cannot share an environment (their pins conflict), and neither is ever a
dependency of ours: each runs in its own virtual environment, in a subprocess started by
this script, right after ours, so all three see the same machine load. Per configuration
(the peers.py grid: Llama-3.1-8B at tp=1 and 70B at tp=4, A100-80GB and H100, batch 1 and
16, 1,024 + 256 tokens, bf16) the figure is the median of ``--repeat`` warm calls, each
from names to the answer: ours ``roofline.infer(...)['tpot_s']``; llm-analysis's
``infer()`` (model file, GPU name); llm-cal's architecture detection, GPU lookup, prefill
and decode estimates from a config.json dict. A ratio below 1 means ours is faster.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import table, write_section
from peers import BATCHES, CHIPS, MODELS, OUTPUT, PROMPT, _la_model_file

import roofline

#: our chip -> llm-cal's GPU id
CAL_GPU = {"nvidia-a100-sxm-80gb": "A100-80G", "nvidia-h100-sxm": "H100"}

TIMER = r'''
import json, logging, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
job = json.load(sys.stdin)

def timed(fn, s):
    fn(s)
    times = []
    for _ in range(job["repeat"]):
        t = time.perf_counter()
        fn(s)
        times.append(time.perf_counter() - t)
    return statistics.median(times)
'''

LA = TIMER + r'''
from llm_analysis.analysis import infer
def run(s):
    return infer(model_name=s["la_model"], gpu_name=s["la_gpu"], dtype_name="w16a16e16",
                 log_level="ERROR", batch_size_per_gpu=s["batch"], tp_size=s["tp"],
                 seq_len=s["prompt"], num_tokens_to_generate=s["output"],
                 flops_efficiency=1.0, hbm_memory_efficiency=1.0)["decode_latency"]
print(json.dumps({s["key"]: timed(run, s) for s in job["scenarios"]}))
'''

CAL = TIMER + r'''
from llm_cal.architecture.detector import detect
from llm_cal.hardware.loader import lookup
from llm_cal.performance.compute import estimate_decode, estimate_prefill
def run(s):
    profile, gpu = detect(s["config"]), lookup(s["cal_gpu"])
    estimate_prefill(profile, s["params"], gpu, s["tp"], s["prompt"], utilization=1.0)
    return estimate_decode(profile, 2 * s["params"], gpu, s["tp"], bw_utilization=1.0,
                           cluster_comm_efficiency=1.0)
print(json.dumps({s["key"]: timed(run, s) for s in job["scenarios"]}))
'''


def _config(name: str) -> dict[str, Any]:
    """A HF config.json dict for one of our dense models (what llm-cal reads)."""
    m = roofline.load_model(name)
    assert m.attention is not None and m.mlp is not None
    return {"model_type": "llama", "architectures": ["LlamaForCausalLM"],
            "hidden_size": m.hidden_size, "num_hidden_layers": m.num_hidden_layers,
            "num_attention_heads": m.attention.num_attention_heads,
            "num_key_value_heads": m.attention.kv_heads, "vocab_size": m.vocab_size,
            "intermediate_size": m.mlp.intermediate_size, "torch_dtype": "bfloat16",
            "max_position_embeddings": m.max_position_embeddings}


def _scenarios(folder: Path) -> list[dict[str, Any]]:
    out = []
    for model, tp, _ in MODELS:
        la_model, cfg = _la_model_file(folder, model), _config(model)
        params = roofline.load_model(model).params().total
        for chip, la_gpu, _ in CHIPS:
            for batch in BATCHES:
                out.append({"key": f"{model} tp{tp} {chip} b{batch}", "model": model,
                            "chip": chip, "tp": tp, "batch": batch, "prompt": PROMPT,
                            "output": OUTPUT, "la_model": la_model, "la_gpu": la_gpu,
                            "config": cfg, "params": params, "cal_gpu": CAL_GPU[chip]})
    return out


def _ours(items: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    out = {}
    for s in items:
        def call(s: dict[str, Any] = s) -> float:
            return roofline.infer(s["model"], s["chip"], batch=s["batch"],
                                  prompt_len=s["prompt"], output_len=s["output"], tp=s["tp"],
                                  precision="bf16")["tpot_s"]
        call()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        out[s["key"]] = statistics.median(times)
    return out


def _peer(python: str, code: str, items: list[dict[str, Any]], repeat: int,
          cwd: str) -> dict[str, float] | str:
    if not Path(python).exists():
        return f"no environment at {python}"
    proc = subprocess.run([python, "-c", code], input=json.dumps(
        {"scenarios": items, "repeat": repeat}), capture_output=True, text=True, timeout=1800,
        cwd=cwd)
    if proc.returncode:
        return proc.stderr.strip().splitlines()[-1][:200]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _version(python: str, dist: str) -> str:
    proc = subprocess.run([python, "-c", f"from importlib.metadata import version; "
                           f"print(version({dist!r}))"], capture_output=True, text=True)
    return proc.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--la", default="/tmp/peer-la/bin/python")
    parser.add_argument("--cal", default="/tmp/peer-cal/bin/python")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="roofline-peers-") as tmp:
        items = _scenarios(Path(tmp))
        mine = _ours(items, args.repeat)
        la = _peer(args.la, LA, items, args.repeat, tmp)
        cal = _peer(args.cal, CAL, items, args.repeat, tmp)
    load1 = os.getloadavg()[0]

    def cell(peer: dict[str, float] | str, key: str) -> tuple[str, str]:
        if isinstance(peer, str):
            return "error", ""
        return f"{peer[key] * 1e3:.3f}", f"{mine[key] / peer[key]:.2f}"

    rows = [(s["key"], f"{mine[s['key']] * 1e3:.3f}", *cell(la, s["key"]),
             *cell(cal, s["key"])) for s in items]
    ratios = {name: statistics.median(mine[k] / p[k] for k in mine)
              for name, p in (("llm-analysis", la), ("llm-cal", cal)) if isinstance(p, dict)}
    text = table(("configuration", "ours ms", "llm-analysis ms", "ours / llm-analysis",
                  "llm-cal ms", "ours / llm-cal"), rows)
    print(text)
    errors = {n: p for n, p in (("llm-analysis", la), ("llm-cal", cal)) if isinstance(p, str)}
    summary = "; ".join(f"median ours / {n}: {r:.2f}" for n, r in ratios.items())
    print(summary, errors or "")
    versions = (f"llm-analysis {_version(args.la, 'llm-analysis')}, "
                f"llm-cal {_version(args.cal, 'llm-cal')}")
    write_section("peer-ratios", "One serving answer: ours / peer, same run", text + (
        f"\n\n{summary}. Peers: {versions}, each in its own virtual environment (never a "
        f"dependency). Median of {args.repeat} warm calls per configuration and tool, each "
        "from names to the answer. llm-cal's model is two closed-form lines (2 x params x "
        "tokens FLOPs; weights / bandwidth per token), llm-analysis's a per-layer analytic "
        "model; ours times every operator of prefill and decode in ideal and expected mode, "
        f"with memory and layout checks. Load average {load0:.1f} at the start, {load1:.1f} "
        "at the end (shared machine: the ratio, not the milliseconds, is the figure)."
        + (f" Errors: {errors}." if errors else "")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
