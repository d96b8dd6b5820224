"""One scenario on every catalog chip: does it fit, on how many, how fast, at what cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from roofline.engine.capacity import fit
from roofline.engine.cost import EnergyAssumptions, serving_costs
from roofline.engine.inference import infer
from roofline.results import Result
from roofline.specs.catalog import chips as catalog_chips
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec


def compare(model: str | Path | ModelSpec | Mapping[str, Any],
            chips: Sequence[str | Chip] | None = None, *, batch: int = 8,
            prompt_len: int = 1024, output_len: int = 256, precision: Any = "native",
            max_tpot_s: float | None = None, utilisation: float = 1.0,
            energy: EnergyAssumptions | None = None, sort_by: str = "usd_per_m_output_tokens",
            **kwargs: Any) -> Result:
    """A table over chips (default: the whole catalog) for one serving scenario.

    Each row: ``fits`` (on some layout), ``chips_needed`` (fewest per replica), the layout,
    TTFT, TPOT, output tokens/s per replica, $ per 1M input and output tokens (chips
    without a price get no $ figure and say so in ``note``) and energy per output token.
    """
    m = load_model(model)
    e = energy or EnergyAssumptions()
    rows = []
    for chip in [load_chip(c) for c in chips] if chips is not None else catalog_chips():
        row: dict[str, Any] = {"chip": chip.name, "vendor": chip.vendor,
                               "memory_bytes": chip.memory.capacity}
        verdict = fit(m, chip, None, "serve", batch=batch, prompt_len=prompt_len,
                      output_len=output_len, precision=precision, max_tpot_s=max_tpot_s,
                      **kwargs)
        row["fits"] = verdict.fits
        if not verdict.fits:
            row["note"] = verdict.reason
            rows.append(row)
            continue
        lay = verdict.assumptions["layout"]
        r = infer(m, chip, batch=batch, prompt_len=prompt_len, output_len=output_len,
                  precision=precision, tp=lay["tp"], pp=lay["pp"], ep=lay["ep"], **kwargs)
        f = r.frame.iloc[0]
        row.update({"chips_needed": int(lay["tp"] * lay["pp"]), "tp": lay["tp"],
                    "pp": lay["pp"], "ep": lay["ep"], "ttft_s": f["ttft_s"],
                    "tpot_s": f["tpot_s"], "output_tokens_per_s": f["decode_tokens_per_s"],
                    "decode_bound": f["decode_bound"]})
        if chip.price is not None:
            costs = serving_costs(r.frame, chip, None, utilisation, e)
            row.update({k: float(v[0]) for k, v in costs.items()})
            row["usd_per_chip_hour"] = chip.price.usd_per_chip_hour
        else:
            row["note"] = "no indicative price in the chip spec"
            if chip.tdp is not None:
                costs = serving_costs(r.frame, chip, 1.0, utilisation, e)
                row["joules_per_output_token"] = float(costs["joules_per_output_token"][0])
        rows.append(row)
    frame = pd.DataFrame(rows)
    if sort_by in frame:
        frame = frame.sort_values(sort_by, na_position="last").reset_index(drop=True)
    assumptions = {
        "workload": f"static batch {batch}, prompt {prompt_len} + output {output_len} tokens",
        "layout": "fewest chips per replica that fit" + (
            f" and meet TPOT <= {max_tpot_s * 1e3:g} ms" if max_tpot_s else ""),
        "cost": f"catalog indicative prices, {utilisation:.0%} utilisation; prefill time "
                "charged to input tokens, decode time to output tokens",
        "energy": e.describe(),
    }
    return Result(frame, assumptions)
