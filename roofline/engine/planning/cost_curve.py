"""What serving costs across batch sizes on one layout, and the cheapest batch that meets a
latency target: one vectorised ``infer`` over the batches and the cost of each
(:func:`roofline.engine.timing.cost.serving_costs`: prefill time charged to input tokens,
decode time to output tokens)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from roofline.engine.serving.inference import infer
from roofline.engine.timing.cost import serving_costs
from roofline.errors import SpecError
from roofline.results import Result
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

#: Batch sizes tried by default: powers of two from 1 to 1024.
BATCHES: tuple[int, ...] = tuple(2**i for i in range(11))


def cost_curve(model: str | Path | ModelSpec | Mapping[str, Any],
               chip: str | Path | Chip | Mapping[str, Any], *,
               batches: Sequence[int] = BATCHES, prompt_len: int = 1024,
               output_len: int = 256, precision: Any = "native", tp: int = 1, pp: int = 1,
               ep: int = 1, utilisation: float = 1.0, max_tpot_s: float | None = None,
               usd_per_chip_hour: float | None = None) -> Result:
    """$ per 1M input and output tokens at each batch size of ``batches`` on one tp x pp
    (x ep) replica, and the cheapest batch (per output token) that fits in memory and
    meets ``max_tpot_s`` (seconds; None: no target).

    Columns: ``batch``, the layout and its ``chips``, ``ttft_s``, ``tpot_s``,
    ``decode_tokens_per_s`` (per replica), ``fits``,
    ``meets_target``, ``usd_per_m_input_tokens``, ``usd_per_m_output_tokens`` and
    ``chosen`` (True on the cheapest acceptable batch; no row is chosen when none is
    acceptable, and the assumptions say why). A chip without a price (and no
    ``usd_per_chip_hour``) gets blank $ columns and no chosen batch.
    """
    m, c = load_model(model), load_chip(chip)
    b = np.asarray(sorted({int(x) for x in batches}), dtype=np.float64)
    if b.size == 0 or b[0] < 1:
        raise SpecError("batches must be whole numbers >= 1")
    if max_tpot_s is not None and not (np.isfinite(max_tpot_s) and max_tpot_s > 0):
        raise SpecError(f"max_tpot_s must be a positive number of seconds, got {max_tpot_s}")
    res = infer(m, c, batch=b, prompt_len=prompt_len, output_len=output_len,
                precision=precision, tp=tp, pp=pp, ep=ep)
    frame = res.frame[["batch", "tp", "pp", "ep", "chips", "ttft_s", "tpot_s",
                       "decode_tokens_per_s", "fits", "memory_fraction"]].copy()
    frame.insert(0, "chip", c.name)
    priced = c.price is not None or usd_per_chip_hour is not None
    costs = serving_costs(res.frame, c, usd_per_chip_hour, utilisation) if priced else {}
    for k in ("usd_per_m_input_tokens", "usd_per_m_output_tokens"):
        frame[k] = costs.get(k, np.nan)  # no price: latency still, no $ figure
    frame["meets_target"] = (frame["tpot_s"] <= max_tpot_s) if max_tpot_s else True
    usd = frame["usd_per_m_output_tokens"].to_numpy(dtype=np.float64)
    ok = (frame["fits"] & frame["meets_target"]).to_numpy() & np.isfinite(usd)
    frame["chosen"] = False
    if ok.any():
        frame.loc[frame.index[np.flatnonzero(ok)[np.argmin(usd[ok])]], "chosen"] = True
    target = f"TPOT <= {max_tpot_s * 1e3:g} ms" if max_tpot_s else "no latency target"
    notes = {
        **{k: v for k, v in res.assumptions.items() if k in ("efficiency", "precision")},
        "layout": f"tp={tp}, pp={pp}, ep={ep} on {c.name}, static batches of {prompt_len} + "
                  f"{output_len} tokens",
        "chosen": (f"the cheapest $ per 1M output tokens among batches that fit in memory "
                   f"and meet {target}") if ok.any() else (
            f"{c.name} has no indicative price: pass usd_per_chip_hour=" if not priced else
            f"no batch fits in memory and meets {target}: lower the batch, relax the target "
            "or use more chips per replica"),
        "cost": f"{utilisation:.0%} utilisation; prefill time charged to input tokens, "
                "decode time to output tokens",
    }
    return Result(frame.reset_index(drop=True), notes)
