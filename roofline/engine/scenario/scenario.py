"""The typed scenario a serving verb hands through the pipeline: specs, precision,
workload and layout, resolved, checked (:mod:`~roofline.engine.scenario.rules`) and turned
into float64 arrays once, at the verb's edge.

Arrays keep their own shapes (a scalar ``tp`` stays 0-d, so per-layout quantities are
computed once); ``shape`` is what they broadcast to, with at least one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.broadcasting import check_lengths
from roofline.engine.scenario.precision import Precision, get_precision
from roofline.engine.scenario.rules import check, check_context
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

Array = NDArray[np.float64]
ModelRef = str | Path | ModelSpec | Mapping[str, Any]
ChipRef = str | Path | Chip | Mapping[str, Any]


@dataclass(frozen=True)
class Workload:
    """Serving requests: ``batch`` sequences of ``prompt_len`` + ``output_len`` tokens."""

    batch: Array
    prompt_len: Array
    output_len: Array


@dataclass(frozen=True)
class Layout:
    """One replica's parallel degrees (``dp``: data-parallel attention groups per stage),
    and the chips in all (None: one replica)."""

    tp: Array
    pp: Array
    ep: Array
    dp: Array
    count: float | None = None


@dataclass(frozen=True)
class ServingScenario:
    """Everything :func:`~roofline.engine.serving.inference.infer` is asked, checked."""

    model: ModelSpec
    chip: Chip
    precision: Precision
    workload: Workload
    layout: Layout
    shape: tuple[int, ...]
    #: every input a scalar: an impossible layout is an error, not a flagged row
    single: bool
    #: a prompt + output beyond the model's context window is evaluated, not refused
    allow_beyond_context: bool = False


def serving_scenario(model: ModelRef, chip: ChipRef, *, batch: ArrayLike = 1,
                     prompt_len: ArrayLike = 1024, output_len: ArrayLike = 256,
                     precision: str | Precision | Mapping[str, Any] | None = "native",
                     tp: ArrayLike = 1, pp: ArrayLike = 1, ep: ArrayLike = 1,
                     dp: ArrayLike = 1, count: int | None = None,
                     allow_beyond_context: bool = False,
                     other: Mapping[str, Any] | None = None) -> ServingScenario:
    """Resolve specs and precision, check every input (``other``: the verb's further
    inputs, checked in the same pass so every bad one is named at once), broadcast once.
    A prompt plus output beyond the model's context window is an error unless
    ``allow_beyond_context`` (for arrays: a row flagged by the verb, see
    :func:`~roofline.engine.scenario.rules.beyond_context`)."""
    check_lengths(batch=batch, prompt_len=prompt_len, output_len=output_len, tp=tp, pp=pp,
                  ep=ep, dp=dp)
    m, c = load_model(model), load_chip(chip)
    p = get_precision(precision, m.quantization)
    v = check("infer", {"batch": batch, "prompt_len": prompt_len, "output_len": output_len,
                        "tp": tp, "pp": pp, "ep": ep, "dp": dp, "count": count,
                        "allow_beyond_context": allow_beyond_context, **(other or {})},
              single=("count", "runtime_reserve_bytes", "redundant_experts",
                      "memory_utilisation", "token_budget"))
    arrays = [v[k] for k in ("batch", "prompt_len", "output_len", "tp", "pp", "ep", "dp")]
    shape = np.broadcast_shapes(*(a.shape for a in arrays), (1,))
    single = all(a.ndim == 0 for a in arrays)
    if single:  # in arrays (a sweep) a request beyond the window is a flagged row
        check_context(m, arrays[1], arrays[2], allow_beyond_context)
    return ServingScenario(
        model=m, chip=c, precision=p, workload=Workload(*arrays[:3]),
        layout=Layout(tp=arrays[3], pp=arrays[4], ep=arrays[5], dp=arrays[6],
                      count=None if count is None else float(v["count"])),
        shape=shape, single=single, allow_beyond_context=allow_beyond_context)
