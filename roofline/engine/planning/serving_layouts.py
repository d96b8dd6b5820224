"""Search of serving layouts: every (tp, dp, pp, ep) a model admits on a chip, evaluated in
one vectorised :func:`infer` call, ranked, with the reason each rejected layout fails."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from roofline.engine.scenario.rules import check
from roofline.engine.serving.inference import infer
from roofline.formatting import si
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

#: Tensor-parallel degrees tried (powers of two, as attention head counts are).
TP_CANDIDATES = (1, 2, 4, 8, 16, 32, 64, 128)


def candidate_layouts(m: ModelSpec, count: int | None, max_chips: int = 4096) -> pd.DataFrame:
    """(tp, dp, pp, ep) grid: tp a power of two, pp any stage count up to the layers; for MoE
    models data-parallel attention groups dp (powers of two, tp x dp within one scale-up
    domain's worth of power-of-two sizes) and ep any power of two dividing tp x dp and the
    experts; with ``count``, tp x dp x pp must divide it."""
    limit = count if count is not None else max_chips
    rows = []
    for tp in TP_CANDIDATES:
        if tp > limit:
            break
        dps = [d for d in TP_CANDIDATES if tp * d <= limit] if m.moe else [1]
        for dp in dps:
            n = tp * dp
            eps = ([e for e in TP_CANDIDATES if e <= n and n % e == 0
                    and m.moe.num_experts % e == 0] if m.moe else [1])
            for pp in range(1, min(m.num_hidden_layers, limit // n) + 1):
                if count is not None and count % (n * pp):
                    continue
                rows.extend((tp, dp, pp, ep) for ep in eps)
    return pd.DataFrame(rows, columns=["tp", "dp", "pp", "ep"])


def search_serving_layouts(model: ModelSpec, chip: Chip, count: int | None = None, *,
                           batch: ArrayLike = 1, prompt_len: ArrayLike = 1024,
                           output_len: ArrayLike = 256, precision: Any = "native",
                           max_tpot_s: float | None = None, max_ttft_s: float | None = None,
                           **kwargs: Any) -> pd.DataFrame:
    """Every candidate layout with its metrics, ``ok`` and ``reason``, best first.

    Ranking among layouts that fit (and meet the latency targets): fewest chips per replica,
    then highest output tokens/s per chip.
    """
    check("layouts", {"count": count, "max_tpot_s": max_tpot_s, "max_ttft_s": max_ttft_s},
          single=("count", "max_tpot_s", "max_ttft_s"))
    grid = candidate_layouts(model, count)
    res = infer(model, chip, batch=batch, prompt_len=prompt_len, output_len=output_len,
                precision=precision, tp=grid["tp"].to_numpy(), pp=grid["pp"].to_numpy(),
                ep=grid["ep"].to_numpy(), dp=grid["dp"].to_numpy(), count=count,
                **kwargs).frame
    reason = res["reason"].astype(object).copy()
    over = (reason == "") & ~res["fits"]
    cap = chip.memory.capacity
    reason[over] = [f"does not fit: {si(v, 'B')} per device > {si(cap, 'B')}"
                    for v in res.loc[over, "memory_bytes"]]
    if max_tpot_s is not None:
        slow = (reason == "") & (res["tpot_s"] > max_tpot_s)
        reason[slow] = [f"TPOT {v * 1e3:.1f} ms > target {max_tpot_s * 1e3:.1f} ms"
                        for v in res.loc[slow, "tpot_s"]]
    if max_ttft_s is not None:
        slow = (reason == "") & (res["ttft_s"] > max_ttft_s)
        reason[slow] = [f"TTFT {v:.2f} s > target {max_ttft_s:.2f} s"
                        for v in res.loc[slow, "ttft_s"]]
    res["reason"] = reason
    res["ok"] = reason == ""
    res["chips_per_replica"] = res["tp"] * res["dp"] * res["pp"]
    res["tokens_per_s_per_chip"] = res["decode_tokens_per_s"] / (res["chips_per_replica"] *
                                                                  res["replicas"])
    order = np.lexsort((-res["tokens_per_s_per_chip"].to_numpy(),
                        res["chips_per_replica"].to_numpy(), ~res["ok"].to_numpy()))
    return res.iloc[order].reset_index(drop=True)


def best_serving_layout(table: pd.DataFrame) -> Mapping[str, Any] | None:
    """The first acceptable row of a ranked layout table, or None."""
    ok = table[table["ok"]]
    return None if ok.empty else ok.iloc[0].to_dict()
