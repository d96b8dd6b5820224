"""One scenario on every catalog chip: does it fit, on how many, how fast, at what cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from roofline.engine.planning.fit import fit
from roofline.engine.scenario.rules import RULES, check
from roofline.engine.serving.inference import infer
from roofline.engine.timing.cost import EnergyAssumptions, serving_costs
from roofline.errors import Problem, SpecError
from roofline.results import Result
from roofline.specs.catalog import chips as catalog_chips
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

#: Columns ``compare`` can sort by (``sort_by``).
SORT_KEYS: tuple[str, ...] = RULES["compare.sort_by"].choices or ()


def compare(model: str | Path | ModelSpec | Mapping[str, Any],
            chips: Sequence[str | Chip] | None = None, *, batch: int = 8,
            prompt_len: int = 1024, output_len: int = 256, precision: Any = "native",
            max_tpot_s: float | None = None, utilisation: float = 1.0,
            energy: EnergyAssumptions | None = None, sort_by: str = "usd_per_m_output_tokens",
            **kwargs: Any) -> Result:
    """A table over chips (default: the whole catalog) for one serving scenario.

    Each row: ``fits`` (on some layout), the layout with the most output tokens/s per chip
    (so the cheapest per token) and its ``chips_needed``, ``min_chips`` (the fewest that fit),
    TTFT, TPOT, ``decode_tokens_per_s`` per replica, ``capacity_bytes`` per device, $ per
    1M input and output tokens (chips without a price get no $ figure and say so in
    ``note``) and energy per output token.
    """
    m = load_model(model)
    check("compare", {"sort_by": sort_by, "utilisation": utilisation,
                      "max_tpot_s": max_tpot_s, "batch": batch, "prompt_len": prompt_len,
                      "output_len": output_len},
          single=("utilisation", "max_tpot_s", "batch", "prompt_len", "output_len"))
    if isinstance(chips, str | Path | Chip | Mapping) or (
            chips is not None and not isinstance(chips, Sequence)):
        raise SpecError([Problem(f"chips must be a list of chips (names, paths or Chip objects), "
                                 f"got {type(chips).__name__} {str(chips)[:40]!r}; e.g. "
                                 f"[{str(chips)[:40]!r}]", field="chips")])
    if chips is not None and not chips:
        raise SpecError([Problem("chips is empty; give at least one chip, or None for the "
                                 "whole catalog", field="chips")])
    e = energy or EnergyAssumptions()
    rows = []
    for chip in [load_chip(c) for c in chips] if chips is not None else catalog_chips():
        row: dict[str, Any] = {"chip": chip.name, "vendor": chip.vendor,
                               "capacity_bytes": chip.memory.capacity}
        verdict = fit(m, chip, None, "serve", batch=batch, prompt_len=prompt_len,
                      output_len=output_len, precision=precision, max_tpot_s=max_tpot_s,
                      **kwargs)
        row["fits"] = verdict.fits
        if not verdict.fits:
            row["note"] = verdict.reason
            rows.append(row)
            continue
        # The cheapest layout per token: the most output tokens/s per chip among those
        # that fit (and meet the target); the fewest chips is reported beside it.
        ok = verdict.layouts[verdict.layouts["ok"]]
        lay = ok.loc[ok["tokens_per_s_per_chip"].idxmax()]
        tp, pp, ep = (int(lay[k]) for k in ("tp", "pp", "ep"))
        r = infer(m, chip, batch=batch, prompt_len=prompt_len, output_len=output_len,
                  precision=precision, tp=tp, pp=pp, ep=ep, **kwargs)
        f = r.frame.iloc[0]
        row.update({"chips_needed": tp * pp, "min_chips": int(verdict.frame["min_chips"][0]),
                    "tp": tp, "pp": pp, "ep": ep, "ttft_s": f["ttft_s"],
                    "tpot_s": f["tpot_s"], "decode_tokens_per_s": f["decode_tokens_per_s"],
                    "decode_bound": f["decode_bound"]})
        if chip.price is not None:
            costs = serving_costs(r.frame, chip, None, utilisation, e)
            row.update({k: float(v[0]) for k, v in costs.items()})
            row["usd_per_chip_hour"] = chip.price.usd_per_chip_hour
        else:
            row["note"] = "no indicative price in the chip spec"
            if chip.power_per_chip() is not None:
                costs = serving_costs(r.frame, chip, 1.0, utilisation, e)
                row["joules_per_output_token"] = float(costs["joules_per_output_token"][0])
        rows.append(row)
    frame = pd.DataFrame(rows)
    if chips is not None:  # the names the caller used, beside the canonical ones
        typed = {load_chip(c).name: c for c in chips}
        frame.insert(1, "chip_alias", [typed[n] if isinstance(typed[n], str) else n
                                       for n in frame["chip"]])
    if sort_by in frame:  # a column no chip has (no chip fits) leaves the catalog order
        frame = frame.sort_values(sort_by, na_position="last").reset_index(drop=True)
    assumptions = {
        "workload": f"static batch {batch}, prompt {prompt_len} + output {output_len} tokens",
        "layout": "per chip, the replica layout with the most output tokens/s per chip among "
                  "those that fit" + (
            f" and meet TPOT <= {max_tpot_s * 1e3:g} ms" if max_tpot_s else ""),
        "cost": f"catalog indicative prices, {utilisation:.0%} utilisation; prefill time "
                "charged to input tokens, decode time to output tokens",
        "energy": e.describe(),
    }
    return Result(frame, assumptions)
