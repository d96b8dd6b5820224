"""The exhaustive training layout search: every (tp, pp, dp, cp, ep, micro-batch, ZeRO,
recompute) candidate for a chip count, evaluated in one vectorised ``train`` call."""

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
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

AttentionKernel = Literal["flash", "materialised"]


# --------------------------------------------------------------------------------------
# Layout search
# --------------------------------------------------------------------------------------

def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def candidate_training_layouts(m: ModelSpec, count: int, global_batch: int, *,
                               micro_batches: Sequence[int] = (1, 2, 4, 8),
                               zero: Sequence[int] = (0, 1, 2, 3),
                               recompute: Sequence[str] | None = None,
                               flash: bool = True) -> dict[str, NDArray[Any]]:
    """Every (tp, pp, cp, ep, micro_batch, zero, recompute) with ``tp x pp x cp`` dividing
    ``count`` (``dp`` the rest): tp, pp, cp over the divisors of ``count``, ep over the
    divisors of the expert count (1 for dense models), as flat arrays."""
    divs = _divisors(count)
    triples = [(t, p_, c_) for t in divs for p_ in divs if count % (t * p_) == 0
               for c_ in divs if count % (t * p_ * c_) == 0]
    eps = _divisors(m.moe.num_experts) if m.moe is not None else [1]
    if recompute is None:  # with FlashAttention, selective = none (the kernel recomputes)
        recompute = ("none", "full") if flash else RECOMPUTE
    rcodes = [RECOMPUTE_CODES[r] for r in recompute]
    mbs = [b for b in micro_batches if global_batch % b == 0]
    grid = np.array(list(itertools.product(range(len(triples)), eps, mbs, zero, rcodes)),
                    dtype=np.int64).reshape(-1, 5)
    tri = np.array(triples, dtype=np.int64)[grid[:, 0]]
    return {"tp": tri[:, 0], "pp": tri[:, 1], "cp": tri[:, 2], "ep": grid[:, 1],
            "micro_batch": grid[:, 2], "zero": grid[:, 3], "recompute": grid[:, 4]}


def search_training_layouts(model: str | Path | ModelSpec | Mapping[str, Any],
                            chip: str | Path | Chip | Mapping[str, Any] | Cluster,
                            count: int, *, seq_len: int, global_batch: int,
                            micro_batches: Sequence[int] = (1, 2, 4, 8),
                            zero: Sequence[int] = (0, 1, 2, 3),
                            recompute: Sequence[str] | None = None,
                            tp_within_domain: bool = True,
                            attention_kernel: AttentionKernel = "flash",
                            **kwargs: Any) -> pd.DataFrame:
    """Every training layout of ``model`` on ``count`` chips, evaluated in one vectorised
    :func:`train` call and ranked by step time among those that are valid and fit.

    Rejected layouts stay in the table with ``ok = False`` and a ``reason`` ("tp=16 does
    not divide the 84 attention heads", "does not fit: 97.3 GB per device > 80 GB", ...).
    ``tp_within_domain`` rejects tensor parallelism wider than the scale-up domain.
    Other keyword arguments go to :func:`train` (precision, optimizer, interleave, ...).
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
                                      flash=attention_kernel == "flash")
    res = train(m, cluster, count=count, seq_len=seq_len, global_batch=global_batch,
                micro_batch=grid["micro_batch"], tp=grid["tp"], pp=grid["pp"],
                cp=grid["cp"], ep=grid["ep"], zero=grid["zero"], recompute=grid["recompute"],
                attention_kernel=attention_kernel, **kwargs)
    df = res.frame
    reason = df["reason"].astype(object).to_numpy().copy()
    if tp_within_domain:
        wide = (reason == "") & (df["tp"].to_numpy() > cluster.domain)
        reason[wide] = [f"tp={v:g} exceeds the scale-up domain of {cluster.domain} chips"
                        for v in df["tp"].to_numpy()[wide]]
    over = (reason == "") & ~df["fits"].to_numpy()
    cap = c.memory.capacity
    reason[over] = [f"does not fit: {v / 1e9:.1f} GB per device > {cap / 1e9:.0f} GB"
                    for v in df["memory_bytes"].to_numpy()[over]]
    df["reason"] = reason
    df["ok"] = reason == ""
    order = np.lexsort((df["memory_bytes"].fillna(np.inf).to_numpy(),
                        df["step_time_s"].fillna(np.inf).to_numpy(), ~df["ok"].to_numpy()))
    df = df.iloc[order].reset_index(drop=True)
    ranks = np.where(df["ok"].to_numpy(), np.cumsum(df["ok"].to_numpy()), 0)
    df.insert(0, "rank", ranks)
    df.attrs["assumptions"] = res.assumptions
    return df


def best_training_layout(table: pd.DataFrame) -> dict[str, Any] | None:
    """The first ``ok`` row of a :func:`search_training_layouts` table, as a dict."""
    ok = table[table["ok"]]
    return None if ok.empty else ok.iloc[0].to_dict()
