"""The exhaustive training layout search: every (tp, pp, dp, cp, ep, micro-batch, ZeRO,
recompute, pipeline schedule) candidate for a chip count, evaluated in one vectorised
``train`` call, with near-ties and how robust the pick is to the overlap assumptions."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from roofline.engine.scenario.cluster import Cluster, default_cluster
from roofline.engine.scenario.rules import check
from roofline.engine.training.flops import RECOMPUTE
from roofline.engine.training.memory import RECOMPUTE_CODES
from roofline.engine.training.run import train
from roofline.engine.training.schedules import SCHEDULE_CODES, SCHEDULES
from roofline.errors import Problem, SpecError
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

AttentionKernel = Literal["flash", "materialised"]


# --------------------------------------------------------------------------------------
# Layout search
# --------------------------------------------------------------------------------------

def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


#: Interleaved virtual stages per device the search tries (Narayanan et al. 2021 sec. 2.2).
INTERLEAVE_CANDIDATES = (1, 2, 4)


def candidate_training_layouts(m: ModelSpec, count: int, global_batch: int, *,
                               micro_batches: Sequence[int] = (1, 2, 4, 8),
                               zero: Sequence[int] = (1, 2, 3),
                               recompute: Sequence[str] | None = None,
                               flash: bool = True, max_tp: int | None = None,
                               schedules: Sequence[str] | None = None
                               ) -> dict[str, NDArray[Any]]:
    """Every (tp, pp, cp, ep, micro_batch, zero, recompute, pipeline variant) with
    ``tp x pp x cp`` dividing ``count`` (``dp`` the rest), as flat arrays.

    tp, pp, cp run over the divisors of ``count`` (tp up to ``max_tp``), ep over the divisors
    of the expert count (1 for dense models). Pipeline variants: 1F1B with 1, 2 or 4
    interleaved chunks, overlapped 1F1B (MoE with ep > 1) and DualPipe (even pp), as
    ``schedules`` allows. ZeRO-0 is left out by default: it costs what ZeRO-1 costs with more
    memory (the same gradient reduction bytes; Rajbhandari et al. 2020).
    """
    divs = _divisors(count)
    tps = [t for t in divs if max_tp is None or t <= max_tp]
    triples = [(t, p_, c_) for t in tps for p_ in divs if count % (t * p_) == 0
               and p_ <= m.num_hidden_layers for c_ in divs if count % (t * p_ * c_) == 0]
    eps = _divisors(m.moe.num_experts) if m.moe is not None else [1]
    if recompute is None:
        recompute = RECOMPUTE
    allowed = set(SCHEDULES if schedules is None else schedules)
    rcodes = [RECOMPUTE_CODES[r] for r in recompute]
    mbs = [b for b in micro_batches if global_batch % b == 0]
    base = np.array(list(itertools.product(range(len(triples)), eps, mbs, zero, rcodes)),
                    dtype=np.int64).reshape(-1, 5)
    tri = np.array(triples, dtype=np.int64)[base[:, 0]]
    tp, pp, cp, ep = tri[:, 0], tri[:, 1], tri[:, 2], base[:, 1]
    parts = []
    for sched_name, v in ([("1f1b", v) for v in INTERLEAVE_CANDIDATES] +
                          [("1f1b-overlap", 1), ("dualpipe", 1)]):
        if sched_name not in allowed:
            continue
        keep = np.ones(len(base), dtype=bool) if v == 1 else (
            (pp > 1) & (pp * v <= m.num_hidden_layers))
        if sched_name == "1f1b-overlap":
            keep &= ep > 1
        if sched_name == "dualpipe":
            keep &= (pp >= 2) & (pp % 2 == 0)
        idx = np.nonzero(keep)[0]
        parts.append((idx, SCHEDULE_CODES[sched_name], v))
    rows = np.concatenate([i for i, _, _ in parts])
    return {"tp": tp[rows], "pp": pp[rows], "cp": cp[rows], "ep": ep[rows],
            "micro_batch": base[rows, 2], "zero": base[rows, 3], "recompute": base[rows, 4],
            "schedule": np.concatenate([np.full(len(i), c) for i, c, _ in parts]),
            "interleave": np.concatenate([np.full(len(i), v) for i, _, v in parts])}


#: Layouts within this share of the best step time are reported as near-ties.
NEAR_TIE = 0.05
#: How many of the top layouts are re-evaluated under pessimistic overlap assumptions.
ROBUSTNESS_TOP = 20
#: The pessimistic assumptions: half the overlappable communication hidden.
PESSIMISTIC_OVERLAP = 0.5


def search_training_layouts(model: str | Path | ModelSpec | Mapping[str, Any],
                            chip: str | Path | Chip | Mapping[str, Any] | Cluster,
                            count: int, *, seq_len: int, global_batch: int,
                            micro_batches: Sequence[int] = (1, 2, 4, 8),
                            zero: Sequence[int] = (1, 2, 3),
                            recompute: Sequence[str] | None = None,
                            schedules: Sequence[str] | None = None,
                            tp_within_domain: bool = True,
                            attention_kernel: AttentionKernel = "flash",
                            **kwargs: Any) -> pd.DataFrame:
    """Every training layout of ``model`` on ``count`` chips, evaluated in one vectorised
    :func:`train` call and ranked by step time among those that are valid and fit.

    The grid (:func:`candidate_training_layouts`) spans tp, pp, cp, ep, micro-batch, ZeRO
    stage, recomputation (none / selective / full) and pipeline schedule (1F1B with 1, 2 or
    4 interleaved chunks, overlapped 1F1B, DualPipe). Rejected layouts stay in the table
    with ``ok = False`` and a ``reason`` ("tp=16 does not divide the 84 attention heads",
    "does not fit: 97.3 GB per device > 80 GB", ...). ``tp_within_domain`` rejects tensor
    parallelism wider than the scale-up domain (one degree past it is evaluated, to say so).
    ``near_tie`` marks layouts within :data:`NEAR_TIE` of the best; the top
    :data:`ROBUSTNESS_TOP` are re-evaluated with only half the overlappable communication
    (expert, pipeline, data-parallel) hidden, in ``step_time_pessimistic_s`` and
    ``rank_pessimistic``; ``attrs["robustness"]`` says whether the pick survives.
    Other keyword arguments go to :func:`train` (precision, optimizer, ...).
    """
    check("layouts", {"count": count, "seq_len": seq_len, "global_batch": global_batch},
          single=("count", "seq_len", "global_batch"))
    m = load_model(model)
    cluster = chip if isinstance(chip, Cluster) else kwargs.pop("cluster", None)
    c = cluster.chip if cluster is not None else load_chip(chip)  # type: ignore[arg-type]
    if cluster is None:
        cluster = default_cluster(c, count)
    grid = candidate_training_layouts(m, int(count), int(global_batch),
                                      micro_batches=micro_batches, zero=zero,
                                      recompute=recompute,
                                      flash=attention_kernel == "flash",
                                      max_tp=2 * cluster.domain if tp_within_domain else None,
                                      schedules=schedules)
    for key in ("schedule", "interleave"):
        if key in kwargs:  # a fixed choice narrows the grid
            grid = _narrow(grid, key, kwargs.pop(key))
    res = train(m, cluster, count=count, seq_len=seq_len, global_batch=global_batch,
                attention_kernel=attention_kernel, **grid, **kwargs)
    df = res.frame
    reason = df["reason"].astype(object).to_numpy().copy()
    if tp_within_domain:
        wide = (reason == "") & (df["tp"].to_numpy() > cluster.domain)
        reason[wide] = [f"tp={v:g} exceeds the scale-up domain of {cluster.domain} chips"
                        for v in df["tp"].to_numpy()[wide]]
    over = (reason == "") & ~df["fits"].to_numpy()
    cap = c.memory.capacity
    gb, inv = np.unique(np.round(df["memory_bytes"].to_numpy()[over] / 1e8) / 10,
                        return_inverse=True)
    reason[over] = np.array([f"does not fit: {v:.1f} GB per device > {cap / 1e9:.0f} GB"
                             for v in gb], dtype=object)[inv.reshape(-1)]
    df["reason"] = reason
    df["ok"] = reason == ""
    order = np.lexsort((df["memory_bytes"].fillna(np.inf).to_numpy(),
                        df["step_time_s"].fillna(np.inf).to_numpy(), ~df["ok"].to_numpy()))
    df = df.iloc[order].reset_index(drop=True)
    ranks = np.where(df["ok"].to_numpy(), np.cumsum(df["ok"].to_numpy()), 0)
    df.insert(0, "rank", ranks)
    best = df["step_time_s"].iloc[0] if df["ok"].iloc[0] else np.nan
    df["near_tie"] = df["ok"] & (df["step_time_s"] <= best * (1 + NEAR_TIE))
    df.attrs["assumptions"] = res.assumptions
    df.attrs["robustness"] = _robustness(df, m, cluster, count, seq_len, global_batch,
                                         attention_kernel, kwargs)
    return df


def _narrow(grid: dict[str, NDArray[Any]], key: str, value: Any) -> dict[str, NDArray[Any]]:
    """The grid rows whose ``key`` equals a fixed ``value`` (a schedule name or a number)."""
    code = SCHEDULE_CODES.get(value, value) if key == "schedule" else value
    keep = grid[key] == code
    if not keep.any():
        raise SpecError([Problem(f"{key}={value!r} leaves no layout to search", field=key)])
    return {k: v[keep] for k, v in grid.items()}


def _robustness(df: pd.DataFrame, m: ModelSpec, cluster: Cluster, count: int, seq_len: int,
                global_batch: int, kernel: AttentionKernel, kwargs: dict[str, Any]) -> str:
    """Re-evaluate the top layouts with half the overlappable communication hidden; fill
    ``step_time_pessimistic_s`` / ``rank_pessimistic`` and say whether the pick holds."""
    df["step_time_pessimistic_s"] = np.nan
    df["rank_pessimistic"] = 0
    top = df.index[df["ok"]][:ROBUSTNESS_TOP]
    if len(top) == 0:
        return "no layout fits"
    cols = ("tp", "pp", "cp", "ep", "micro_batch", "zero", "interleave")
    rows = df.loc[top]
    kw = {k: v for k, v in kwargs.items() if k not in ("comm_overlap", "dp_overlap")}
    alt = train(m, cluster, count=count, seq_len=seq_len, global_batch=global_batch,
                attention_kernel=kernel, **{k: rows[k].to_numpy() for k in cols},
                recompute=rows["recompute"].to_numpy(), schedule=rows["schedule"].to_numpy(),
                comm_overlap=PESSIMISTIC_OVERLAP, dp_overlap=PESSIMISTIC_OVERLAP, **kw).frame
    slow = alt["step_time_s"].to_numpy()
    df.loc[top, "step_time_pessimistic_s"] = slow
    df.loc[top, "rank_pessimistic"] = np.argsort(np.argsort(slow)) + 1
    first = int(np.argmin(slow))
    pick = rows["layout"].iloc[0]
    if first == 0:
        return (f"robust: with half the overlappable communication hidden, {pick} stays the "
                f"fastest of the top {len(top)} ({slow[0]:.4g} s per step)")
    return (f"sensitive: with half the overlappable communication hidden, "
            f"{rows['layout'].iloc[first]} ({slow[first]:.4g} s) overtakes {pick} "
            f"({slow[0]:.4g} s)")


def best_training_layout(table: pd.DataFrame) -> dict[str, Any] | None:
    """The first ``ok`` row of a :func:`search_training_layouts` table, as a dict."""
    ok = table[table["ok"]]
    return None if ok.empty else ok.iloc[0].to_dict()
