"""The backtest report: docs/validation.md and its predicted-vs-measured plot.

In-sample figures come from the calibrated defaults (fitted on every case); out-of-sample
figures from :mod:`roofline.validation.crossval` (each source predicted by a fit that never
saw it). Both are shown side by side, per category and per tag, against the targets of
issue 18.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from roofline.validation.calibrate import Fit
from roofline.validation.cases import CATEGORIES, Case
from roofline.validation.crossval import CrossValidation, error_stats

#: Targets (issue 18): out-of-sample median and 90th-percentile |error| for the end-to-end
#: kinds, the largest factor any case may be off by, and the band's held-out coverage.
TARGET_MEDIAN = 0.10
TARGET_P90 = 0.25
TARGET_WORST_FACTOR = 1.5
TARGET_COVERAGE = (0.70, 0.90)
TAGS = ("moe", "blackwell", "non-nvidia", "consumer")


def _num(v: float) -> str:
    """Four significant digits, thousands separated, never in exponent form."""
    digits = max(0, 3 - math.floor(math.log10(abs(v)))) if v else 0
    return f"{round(v, digits):,.{digits}f}"


def fmt_value(v: float, unit: str) -> str:
    """A measured or predicted value in the source's unit, for the tables."""
    if not np.isfinite(v):
        return "-"
    if unit == "MFU":
        return f"{v:.1%}"
    if unit in ("FLOP/s per chip", "FLOP/s"):
        return f"{_num(v / 1e12)} TFLOP/s"
    if unit == "B/s":
        return f"{_num(v / 1e12)} TB/s"
    if unit == "tokens/s per chip":
        return f"{_num(v)} tok/s/chip"
    return f"{_num(v)} tok/s"


def _pct(x: float, sign: bool = True) -> str:
    if not np.isfinite(x):
        return "-"
    return f"{x:+.1%}" if sign else f"{x:.1%}"


def scenario_text(c: Case) -> str:
    """One line describing the case's scenario."""
    s = c.scenario
    if c.kind == "matmul":
        return f"{s['dtype']} {s['m']}x{s['n']}x{s['k']} on {s['chip']}"
    if c.kind == "memory":
        return (f"{s.get('streams', 2)} streams x {float(s['buffer_bytes']) / 1e9:g} GB on "
                f"{s['chip']}")
    keys = (("tp", "tp"), ("pp", "pp"), ("cp", "cp"), ("ep", "ep"), ("interleave", "v"),
            ("zero", "zero"), ("micro_batch", "mb"), ("global_batch", "gb"),
            ("seq_len", "seq"), ("batch", "batch"), ("prompt_len", "in"),
            ("output_len", "out"))
    parts = []
    for k, label in keys:
        if k in s:
            v = s[k]
            if isinstance(v, Mapping):
                v = f"fit<={v.get('cap', 'inf')}"
            parts.append(f"{label} {v}")
    prec = s.get("precision", "bf16")
    prec = prec.get("label", "custom") if isinstance(prec, Mapping) else prec
    rec = f", {s['recompute']} recompute" if "recompute" in s else ""
    return f"{s['model']} on {s.get('count', 1)}x {s['chip']}, " + ", ".join(parts) + (
        f", {prec}{rec}")


def merged(after: pd.DataFrame, cv: CrossValidation) -> pd.DataFrame:
    """The evaluation table with the out-of-sample error of each fitted case."""
    oos = cv.table.set_index("id")["oos_error"]
    out = after.copy()
    out["oos_error"] = out["id"].map(oos)
    return out


def _factor(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.2f}x"


def _stats_rows(t: pd.DataFrame, label: str) -> str:
    a, b = error_stats(t["error"].dropna().to_numpy()), error_stats(
        t["oos_error"].dropna().to_numpy())
    if a["cases"] == 0:
        return ""
    return (f"| {label} | {a['cases']} | {_pct(a['median'], False)} | {_pct(a['p90'], False)} "
            f"| {_pct(b['median'], False)} | {_pct(b['p90'], False)} | "
            f"{_factor(b['worst_factor'])} | "
            f"{int((~t['ideal_ok']).sum())} |")


def summary_table(t: pd.DataFrame) -> list[str]:
    """Per category and tag: in-sample and out-of-sample median and p90 |error|."""
    ok = t[t["status"] == "ok"]
    lines = ["| category | cases | in-sample median | in-sample p90 | out-of-sample median | "
             "out-of-sample p90 | worst out of sample | ideal-bound violations |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    rows = [_stats_rows(ok[ok["category"].str.startswith(c) if c == "serving" else
                           ok["category"] == c], c) for c in CATEGORIES]
    fitted = ok[ok["kind"].isin(("training", "serving"))]
    rows += [_stats_rows(fitted[fitted["tags"].str.contains(tag)], f"tag: {tag}")
             for tag in TAGS]
    return lines + [r for r in rows if r]


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def targets_table(t: pd.DataFrame, cv: CrossValidation) -> list[str]:
    """The issue's targets and where the backtest stands."""
    ok = t[t["status"] == "ok"]
    lines = ["| target | value | met |", "| --- | ---: | :---: |"]
    for kind in ("training", "serving"):
        s = error_stats(ok[ok["kind"] == kind]["oos_error"].dropna().to_numpy())
        med, p90 = s["median"], s["p90"]
        lines.append(f"| {kind}: out-of-sample median abs error <= {TARGET_MEDIAN:.0%} | "
                     f"{_pct(med, False)} | {_yes(med <= TARGET_MEDIAN)} |")
        lines.append(f"| {kind}: out-of-sample p90 abs error <= {TARGET_P90:.0%} | "
                     f"{_pct(p90, False)} | {_yes(p90 <= TARGET_P90)} |")
    s = error_stats(ok["oos_error"].dropna().to_numpy())
    lines.append(f"| no case off by more than {TARGET_WORST_FACTOR}x (out of sample) | "
                 f"{_factor(s['worst_factor'])} | "
                 f"{_yes(s['worst_factor'] <= TARGET_WORST_FACTOR)} |")
    viol = int((~ok["ideal_ok"]).sum())
    lines.append(f"| ideal-bound violations = 0 | {viol} | {_yes(viol == 0)} |")
    lo, hi = TARGET_COVERAGE
    for kind, cov in sorted(cv.coverage.items()):
        lines.append(f"| {kind}: 80% band holds {lo:.0%}-{hi:.0%} of held-out cases | "
                     f"{_pct(cov, False)} | {_yes(lo <= cov <= hi)} |")
    return lines


def factors_table(fit: Fit, cases_by_class: Mapping[str, int]) -> list[str]:
    """Fitted factors per vendor and class."""
    from roofline.engine.timing.efficiency import class_prior, vendor_prior

    lines = ["| vendor / class | cases | matmul | memory | network | prior (matmul / memory / "
             "network) |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    for v, e in sorted(fit.by_vendor.items()):
        p = vendor_prior(v)
        lines.append(f"| **{v}** | {fit.cases_by_vendor[v]} | {e.matmul:.3f} | {e.memory:.3f} "
                     f"| {e.network:.3f} | {p.matmul:.2f} / {p.memory:.2f} / {p.network:.2f} |")
        for cls, ce in sorted(fit.by_class.items()):
            if not cls.startswith(v + "-"):
                continue
            p = class_prior(cls, v)
            lines.append(f"| {cls} | {cases_by_class.get(cls, 0)} | {ce.matmul:.3f} | "
                         f"{ce.memory:.3f} | {ce.network:.3f} | {p.matmul:.2f} / "
                         f"{p.memory:.2f} / {p.network:.2f} |")
    return lines


def case_tables(t: pd.DataFrame, by_id: Mapping[str, Case]) -> list[str]:
    """One table per kind: published, expected, out-of-sample error, ideal, bound."""
    L: list[str] = []
    for kind in ("training", "serving", "matmul", "memory"):
        k = t[t["kind"] == kind]
        if k.empty:
            continue
        L += ["", f"## {kind.capitalize()} cases", "",
              "| case | scenario | tags | published | expected | error | out-of-sample error "
              "| ideal | ideal >= published | notes |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | :---: | --- |"]
        for _, r in k.iterrows():
            c = by_id[r["id"]]
            unit = c.measured.unit
            ok = "-" if r["status"] != "ok" else ("yes" if r["ideal_ok"] else "**NO**")
            note = r["notes"] if r["status"] == "ok" else r["status"]
            if not c.fitted:
                note = "; ".join(x for x in ("scored, not fitted (see below)", note) if x)
            L.append(f"| `{c.id}` | {scenario_text(c)} | {r['tags'] or '-'} | "
                     f"{fmt_value(c.measured.value, unit)} | {fmt_value(r['expected'], unit)} | "
                     f"{_pct(r['error'])} | {_pct(r['oos_error'])} | "
                     f"{fmt_value(r['ideal'], unit)} | {ok} | {note} |")
    return L


def sources(cases: Sequence[Case]) -> list[str]:
    """Citations and assumptions of every case."""
    L = ["", "## Sources and assumptions", ""]
    for c in cases:
        L.append(f"- `{c.id}` (group `{c.group}`): {c.source.citation.strip()} "
                 f"<{c.source.url}>. Read in: {c.source.retrieved.strip()}.")
        L += [f"  - assumed: {a.strip()}" for a in c.assumptions]
    return L


def method_notes() -> list[str]:
    """The report's sections on the fidelity labels and the efficiency model."""
    return ["", "## Fidelity labels", "",
          "Every `infer` and `train` result carries `assumptions['fidelity']` (printed by the "
          "CLI with the other assumptions; `roofline.fidelity()` computes it for any "
          "scenario): `ideal` (speed of light at datasheet peaks, an upper bound) or "
          "`calibrated` (expected mode), and the nearest backtest case with its "
          "out-of-sample error, from roofline/engine/timing/backtest.yaml (written by "
          "`--calibrate`). Nearness: a different efficiency class counts 2, a different chip "
          "0.5, dense against MoE 1, batch 1 against batched serving 1, and |log10| of the "
          "model-size and chip-count ratios (the latter halved); beyond 3 the label says no "
          "case is close.", "",
          "## Efficiency model", "",
          "Expected-mode time of a matmul = FLOPs / (peak x `matmul` factor of the chip's "
          "class x GEMM shape-and-dtype factor); memory time = bytes / (bandwidth x `memory` "
          "factor); collectives at the `network` factor of the link rate. The shape factor "
          "(roofline/engine/operators/gemm.py) has fixed, documented parameters: 128 x 128 output "
          "tiles (small-M decode kernels: an M tile of the next power of two, at least 16) "
          "with wave quantisation over the chip's SM/CU count, a K-loop overhead worth 256 of "
          "K, normalised to an 8192^3 GEMM; FP8/INT8 reach 0.96 and FP6/FP4 0.90 of the "
          "bf16 share of their peak (between cuBLAS's MAMF ratio and DeepGEMM's). MoE token "
          "permutation (`moe_permute`) and the quantisation pass before every fp8 / int8 / "
          "fp4 matmul (`activation_quant`) are memory-bound operators of their own (issue "
          "17b). Not modelled yet, and visible in the errors below: the router's softmax / "
          "top-k kernels and expert load beyond uniform routing, FP8 training's amax "
          "reductions, per-algorithm collective "
          "efficiency (issue 17a), in-flight batching of mixed-length requests (issue 12/17b), "
          "weight-only dequantisation work in batch-1 kernels, and FP16-accumulate peaks of "
          "consumer GPUs (the RTX 4090 spec lists FP32-accumulate peaks; llama.cpp's decode "
          "cases here are memory-bound, so no case needs it yet)."]
