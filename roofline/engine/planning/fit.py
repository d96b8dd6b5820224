"""Capacity answers: does a model fit on N chips, in what layout, and how few chips
would do — for serving and for training — with the binding reason in words and numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from roofline.engine.operators.memory import (
    MEMORY_UTILISATION,
    RUNTIME_RESERVE_BYTES,
    weight_bytes_per_device,
)
from roofline.engine.planning.serving_layouts import search_serving_layouts
from roofline.engine.scenario.cluster import MAX_CHIPS
from roofline.engine.scenario.precision import get_precision
from roofline.engine.scenario.rules import check, check_context
from roofline.errors import SpecError
from roofline.formatting import si
from roofline.results import Result, column_after, plotting, with_aliases
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

Purpose = Literal["serve", "train"]
#: What stops a search when nothing is acceptable (see :func:`_why_not`).
Binding = Literal["memory", "target", "layout"]
MEMORY_PARTS = ("weights_bytes", "kv_cache_bytes", "activation_bytes", "reserve_bytes",
                "gradients_bytes", "optimizer_bytes")


class FitResult(Result):
    """Verdict, chips needed, chosen layout, memory per device by part, and the ranked
    layouts (``layouts``) with the reason each rejected one fails."""

    def __init__(self, frame: pd.DataFrame, assumptions: dict[str, Any],
                 layouts: pd.DataFrame) -> None:
        super().__init__(frame, assumptions)
        self.layouts = layouts

    def _one(self, what: str) -> pd.Series:
        if len(self.frame) != 1:
            raise ValueError(f"this result answers {len(self.frame)} chip counts: use "
                             f"result.frame (columns count, fits, layout, reason) for {what}")
        return self.frame.iloc[0]

    @property
    def fits(self) -> bool:
        """Whether the model fits (one chip count; several: ``frame["fits"]``)."""
        return bool(self._one("fits")["fits"])

    @property
    def reason(self) -> str:
        """Why it fits (the layout) or the binding reason it does not, in numbers."""
        return str(self._one("reason")["reason"])

    def summary(self) -> dict[str, Any]:
        """The JSON answer: fits, min_chips, layout, memory_per_device_bytes, reason, and
        ``binding`` (None when it fits; else "memory", "target" or "layout")."""
        row = self._one("summary()")
        return {
            "model": row["model"], "chip": row["chip"], "purpose": row["purpose"],
            "count": None if pd.isna(row["count"]) else int(row["count"]),
            "fits": bool(row["fits"]),
            "min_chips": None if pd.isna(row["min_chips"]) else int(row["min_chips"]),
            "layout": self.assumptions.get("layout"),
            "memory_per_device_bytes": self.assumptions.get("memory_per_device_bytes"),
            "capacity_per_device_bytes": float(row["capacity_bytes"]),
            "reason": row["reason"],
            "binding": row["binding"],
            "assumptions": {k: v for k, v in self.assumptions.items()
                            if k not in ("layout", "memory_per_device_bytes")},
        }

    def to_dict(self) -> dict[str, Any]:
        """:meth:`summary` for one chip count; one row per count for several."""
        return self.summary() if len(self.frame) == 1 else super().to_dict()

    def _figure(self, top: int = 8, **kwargs: Any) -> Any:
        """Memory per device of the ``top`` ranked layouts against capacity (plotly)."""
        return plotting().fit_figure(self, top, **kwargs)


def _memory_parts(row: Mapping[str, Any]) -> dict[str, float]:
    return {k.removesuffix("_bytes"): float(row[k]) for k in MEMORY_PARTS
            if k in row and row[k] is not None and not pd.isna(row[k])}


def _weights_total(m: ModelSpec, precision: Any) -> tuple[float, str]:
    p = get_precision(precision, m.quantization)
    return float(weight_bytes_per_device(m, p, m.params())), p.label


def _serve(m: ModelSpec, c: Chip, count: int | None, kw: dict[str, Any],
           targets: dict[str, float | None]) -> tuple[pd.DataFrame, dict[str, Any] | None,
                                                      int | None]:
    table = search_serving_layouts(m, c, count, max_tpot_s=targets["max_tpot_s"],
                                   max_ttft_s=targets["max_ttft_s"], **kw)
    ok = table[table["ok"]]
    min_tps = targets["min_tokens_per_s"]
    if min_tps is not None and not ok.empty:
        need = np.ceil(min_tps / ok["decode_tokens_per_s"] * ok["replicas"])
        chips = need * ok["chips_per_replica"]
        ok = ok.assign(chips_for_target=chips).sort_values(["chips_for_target",
                                                            "chips_per_replica"])
        ok = ok[ok["chips_for_target"] <= (MAX_CHIPS if count is None else count)]
    if ok.empty:
        return table, None, None
    best = {str(k): v for k, v in ok.iloc[0].to_dict().items()}
    chips = int(best.get("chips_for_target", best["chips_per_replica"]))
    return table, best, chips


def fit(model: str | Path | ModelSpec | Mapping[str, Any],
        chip: str | Path | Chip | Mapping[str, Any],
        count: int | Sequence[int] | None = None, purpose: Purpose = "serve", *,
        precision: Any = "native", batch: int = 1, prompt_len: int = 1024,
        output_len: int = 256, seq_len: int = 2048, global_batch: int | None = None,
        max_tpot_s: float | None = None, max_ttft_s: float | None = None,
        min_tokens_per_s: float | None = None, **kwargs: Any) -> FitResult:
    """Will ``model`` fit on ``count`` chips of ``chip`` for ``purpose``, and how?

    With ``count``: the verdict, the layout chosen (fewest chips per replica, then fastest),
    memory per device by part, and when it does not fit the binding reason. Without
    ``count``: the fewest chips that fit (and meet ``max_tpot_s`` / ``max_ttft_s`` /
    ``min_tokens_per_s`` when given). Serving uses a static batch of ``batch`` requests of
    ``prompt_len`` + ``output_len`` tokens; training ``global_batch`` sequences of ``seq_len``.

    ``count`` may be a list: one row per count, each with its ``layout``, and ``layouts``
    holds every layout tried with its ``count``.
    """
    train = isinstance(purpose, str) and purpose == "train"
    workload = ({"seq_len": seq_len, "global_batch": global_batch} if train
                else {"batch": batch, "prompt_len": prompt_len, "output_len": output_len})
    targets = {"max_tpot_s": max_tpot_s, "max_ttft_s": max_ttft_s,
               "min_tokens_per_s": min_tokens_per_s}
    check("fit", {"purpose": purpose, "count": count, **workload, **targets},
          single=(*workload, *targets))
    kw = dict(precision=precision, batch=batch, prompt_len=prompt_len,
              output_len=output_len, seq_len=seq_len, global_batch=global_batch,
              max_tpot_s=max_tpot_s, max_ttft_s=max_ttft_s,
              min_tokens_per_s=min_tokens_per_s, **kwargs)
    if count is None or not isinstance(count, Sequence | np.ndarray):
        return _fit_one(model, chip, None if count is None else int(count), purpose, **kw)
    counts = [int(n) for n in np.ravel(count)]
    answers = [_fit_one(model, chip, n, purpose, **kw) for n in counts]
    frame = pd.concat([a.frame for a in answers], ignore_index=True)
    frame.insert(column_after(frame, "fits"), "layout", [
        ", ".join(f"{k}={v}" for k, v in a.assumptions.get("layout", {}).items()) or None
        for a in answers])
    layouts = pd.concat([a.layouts.assign(count=n) for a, n in zip(answers, counts,
                                                                    strict=True)],
                        ignore_index=True)
    shared = {k: v for k, v in answers[0].assumptions.items()
              if k not in ("layout", "memory_per_device_bytes", "expected")}
    return FitResult(frame, shared, layouts)


def _fit_one(model: str | Path | ModelSpec | Mapping[str, Any],
             chip: str | Path | Chip | Mapping[str, Any], count: int | None,
             purpose: Purpose, *, precision: Any, batch: int, prompt_len: int,
             output_len: int, seq_len: int, global_batch: int | None,
             max_tpot_s: float | None, max_ttft_s: float | None,
             min_tokens_per_s: float | None, **kwargs: Any) -> FitResult:
    """:func:`fit` for one chip count (or none: the fewest that fit)."""
    m, c = load_model(model), load_chip(chip)
    weights, plabel = _weights_total(m, precision)
    cap = c.memory.capacity
    assumptions: dict[str, Any] = {"precision": plabel}
    if purpose == "serve":
        check_context(m, prompt_len, output_len, kwargs.get("allow_beyond_context", False))
        kw = dict(batch=batch, prompt_len=prompt_len, output_len=output_len,
                  precision=precision, **kwargs)
        targets = {"max_tpot_s": max_tpot_s, "max_ttft_s": max_ttft_s,
                   "min_tokens_per_s": min_tokens_per_s}
        table, best, chips = _serve(m, c, count, kw, targets)
        assumptions["workload"] = (f"static batch {batch}, prompt {prompt_len} + output "
                                   f"{output_len} tokens, KV cache for the full context")
        if best is not None:
            assumptions["layout"] = {k: int(best[k]) for k in ("tp", "dp", "pp", "ep")} | {
                "replicas": int(best["replicas"]) if count else 1}
            assumptions["memory_per_device_bytes"] = _memory_parts(best)
            assumptions["expected"] = {"ttft_s": float(best["ttft_s"]),
                                       "tpot_s": float(best["tpot_s"]),
                                       "decode_tokens_per_s": float(best["decode_tokens_per_s"])}
    else:  # train
        from roofline.engine.training.search import (
            best_training_layout,
            search_training_layouts,
        )

        gb = 1024 if global_batch is None else global_batch
        kw = dict(seq_len=seq_len, global_batch=gb, precision=precision, **kwargs)
        assumptions["workload"] = f"global batch {gb} sequences of {seq_len} tokens"
        chips = None
        for n in _training_counts(c, count):  # the fewest chips: smallest count that fits
            if best_training_layout(search_training_layouts(m, c, n, **kw)) is not None:
                chips = n
                break
        table = search_training_layouts(m, c, count or chips or 1, **kw)
        best = best_training_layout(table) if (count or chips) else None
        if best is not None:
            assumptions["layout"] = {k: int(best[k]) for k in
                                     ("tp", "pp", "dp", "cp", "ep", "micro_batch", "zero")}
            assumptions["layout"]["recompute"] = str(best["recompute"])
            assumptions["layout"]["schedule"] = str(best["schedule"])
            if int(best["interleave"]) > 1:
                assumptions["layout"]["interleave"] = int(best["interleave"])
            assumptions["memory_per_device_bytes"] = _memory_parts(best)
            assumptions["expected"] = {"step_time_s": float(best["step_time_s"]),
                                       "tokens_per_s": float(best["tokens_per_s"]),
                                       "mfu": float(best["mfu"])}

    fits = best is not None
    if count is not None and purpose == "serve":  # the fewest chips, whatever the count
        _, _, chips = _serve(m, c, None, kw, targets)
    layout_items = assumptions.get("layout", {}).items()
    binding: Binding | None = None
    if fits:
        layout = ", ".join(f"{k}={v}" for k, v in layout_items)
        mem = float(best["memory_bytes"])  # type: ignore[index]
        reason = (f"fits: {layout}; {si(mem, 'B')} of {si(cap, 'B')} per device "
                  f"({mem / cap:.0%})")
    elif purpose == "serve" and min_tokens_per_s is not None and table["ok"].any():
        binding = "target"
        reason = (f"no layout reaches min_tokens_per_s={min_tokens_per_s:g} tokens/s on "
                  f"{count or MAX_CHIPS:,} chips or fewer")
    else:
        binding, reason = _why_not(table, weights, plabel, c, count, purpose)
    frame = pd.DataFrame([{
        "model": m.name, "chip": c.name, "purpose": purpose, "count": count, "fits": fits,
        "min_chips": chips,
        "weights_total_bytes": weights, "capacity_bytes": cap,
        "memory_bytes": float(best["memory_bytes"]) if best else None, "reason": reason,
        "binding": binding,
    }])
    return FitResult(with_aliases(frame, model=model, chip=chip), assumptions, table)


def _training_counts(c: Chip, count: int | None = None, limit: int = 1 << 20) -> list[int]:
    """Cluster sizes tried when looking for the fewest training chips: 1, 2, 4, ... up to
    one scale-up domain, then whole domains doubling; with ``count``, those below it and
    ``count`` itself."""
    domain = c.scale_up.domain_size if c.scale_up else 1
    counts = {2**k for k in range(int(math.log2(max(domain, 1))) + 1)}
    n = domain
    while n <= (count or limit):
        counts.add(n)
        n *= 2
    if count is not None:
        counts = {k for k in counts if k < count} | {count}
    return sorted(counts)


def _why_not(table: pd.DataFrame, weights: float, plabel: str, c: Chip, count: int | None,
             purpose: str) -> tuple[Binding, str]:
    """What binds when nothing is acceptable, and the reason in words and numbers:
    ``"memory"`` (no valid layout fits in memory), ``"target"`` (some fit but miss the
    latency/throughput targets), ``"layout"`` (no valid layout, or those that fit break a
    layout rule such as tp wider than the scale-up domain)."""
    cap = c.memory.capacity
    if count is not None:
        usable = cap * MEMORY_UTILISATION if purpose == "serve" else cap - RUNTIME_RESERVE_BYTES
        room = count * usable
        if weights > room:
            kept = (f"the {MEMORY_UTILISATION:.0%} memory utilisation" if purpose == "serve"
                    else "the runtime reserve")
            return "memory", (f"weights need {si(weights, 'B')} at {plabel}; {count} x "
                              f"{si(cap, 'B')} leaves {si(room - weights, 'B')} within {kept}")
    if table.empty or "memory_bytes" not in table:
        return "layout", "no valid layout for this model on this chip"
    valid = table[table["valid"].astype(bool)] if "valid" in table else table
    if valid.empty:
        return "layout", f"no valid layout for this model on this chip: {table['reason'].iloc[0]}"
    keys = [k for k in ("tp", "pp", "dp", "cp", "ep") if k in table]
    fitting = valid[valid["fits"].astype(bool)]
    if not fitting.empty:  # fits in memory, rejected for something else
        by = "tpot_s" if purpose == "serve" and "tpot_s" in fitting else "memory_bytes"
        best = fitting.sort_values(by, kind="stable").iloc[0]
        lay = ", ".join(f"{k}={int(best[k])}" for k in keys)
        if "target" in str(best["reason"]):
            return "target", (f"no layout meets the targets: the fastest that fits in memory "
                              f"({lay}) has {best['reason']}")
        return "layout", (f"no layout that fits in memory is allowed: {lay} is rejected "
                          f"because {best['reason']}")
    best = valid.sort_values("memory_bytes", kind="stable").iloc[0]
    row = {str(k): v for k, v in best.items()}
    parts = ", ".join(f"{k} {si(v, 'B')}" for k, v in _memory_parts(row).items() if v)
    lay = ", ".join(f"{k}={int(best[k])}" for k in keys)
    return "memory", (f"the leanest layout ({lay}) needs {si(best['memory_bytes'], 'B')} "
                      f"per device > {si(cap, 'B')} ({parts})")


def search_layouts(model: str | Path | ModelSpec | Mapping[str, Any],
                   chip: str | Path | Chip | Mapping[str, Any], count: int | None = None,
                   purpose: Purpose = "serve", **kwargs: Any) -> pd.DataFrame:
    """Every layout for ``purpose`` ranked best first, rejected ones with their reason
    (serving: :func:`search_serving_layouts`; training: ``search_training_layouts``, which
    needs ``count``, ``seq_len`` and ``global_batch``)."""
    m, c = load_model(model), load_chip(chip)
    if purpose == "serve":
        return search_serving_layouts(m, c, count, **kwargs)
    if purpose == "train":
        from roofline.engine.training.search import search_training_layouts

        if count is None:
            raise SpecError("training layouts need count= (chips in the cluster)")
        kwargs.setdefault("seq_len", 2048)
        kwargs.setdefault("global_batch", 1024)
        return search_training_layouts(m, c, count, **kwargs)
    raise SpecError(f"purpose must be 'serve' or 'train', got {purpose!r}")
