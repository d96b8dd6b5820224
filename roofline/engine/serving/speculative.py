"""Speculative decoding (Leviathan, Kalman & Matias 2023, arXiv 2211.17192): a draft
model proposes ``g`` tokens, the target verifies them in one forward pass.

Expected tokens per target pass: (1 - a^(g+1)) / (1 - a) for acceptance rate a (their
eq. 1). Speed-up = tokens per pass x target step time / (g x draft step time + target
verification time), with both step times from the engine's own roofline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from roofline.broadcasting import check_lengths
from roofline.engine.operators.table import sliding_window
from roofline.engine.scenario.cluster import default_cluster
from roofline.engine.scenario.precision import get_precision
from roofline.engine.scenario.rules import check
from roofline.engine.scenario.step import AttnWork, Step
from roofline.engine.timing.efficiency import efficiency_for
from roofline.engine.timing.forward import forward_time
from roofline.results import Result
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

Array = NDArray[np.float64]


def expected_tokens_per_step(acceptance: ArrayLike, draft_len: ArrayLike) -> Array:
    """(1 - a^(g+1)) / (1 - a); g + 1 when every draft is accepted (a = 1)."""
    a = np.asarray(acceptance, dtype=np.float64)
    g = np.asarray(draft_len, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a >= 1.0, g + 1, (1 - a ** (g + 1)) / np.where(a >= 1, 1, 1 - a))


def speculative(target: str | Path | ModelSpec | Mapping[str, Any],
                draft: str | Path | ModelSpec | Mapping[str, Any],
                chip: str | Path | Chip | Mapping[str, Any], *,
                acceptance: ArrayLike = 0.7, draft_len: ArrayLike = 4, batch: int = 1,
                context: int = 2048, precision: Any = "native", tp: int = 1,
                mode: str = "expected") -> Result:
    """Speed-up of speculative decoding over plain decoding, vectorised over acceptance
    rates and draft lengths (the draft runs on the same tp chips)."""
    check_lengths(acceptance=acceptance, draft_len=draft_len)
    t, d, c = load_model(target), load_model(draft), load_chip(chip)
    v = check("speculative", {"acceptance": acceptance, "draft_len": draft_len,
                              "batch": batch, "context": context, "tp": tp, "mode": mode},
              single=("batch", "context", "tp"))
    a, g = (x.reshape(-1) for x in np.broadcast_arrays(v["acceptance"], v["draft_len"]))
    cl = default_cluster(c, int(tp))
    eff = efficiency_for(c, "ideal" if mode == "ideal" else "expected")
    pt, pd_ = get_precision(precision, t.quantization), get_precision(precision, d.quantization)

    def step_time(m: ModelSpec, p: Any, tokens_per_seq: ArrayLike) -> Array:
        work = AttnWork.prefill(batch, tokens_per_seq, context, sliding_window(m))
        return forward_time(m, p, cl, Step(decode=work), eff, tp).total_s

    # Step(decode=prefill-shaped work): g+1 new tokens per sequence after `context` cached.
    target_step = step_time(t, pt, 1.0)
    verify = step_time(t, pt, g + 1)
    draft_step = step_time(d, pd_, 1.0)
    tokens = expected_tokens_per_step(a, g)
    cycle = g * draft_step + verify
    speedup = tokens * target_step / cycle
    frame = pd.DataFrame({
        "target": t.name, "draft": d.name, "chip": c.name, "acceptance": a, "draft_len": g,
        "tokens_per_target_step": tokens, "target_step_s": target_step,
        "draft_step_s": draft_step, "verify_step_s": verify,
        "tpot_s": cycle / tokens, "speedup": speedup,
    })
    return Result(frame, {"method": "Leviathan et al. 2023, eq. 1 with engine step times",
                          "batch": batch, "context": context, "efficiency": eff.source})
