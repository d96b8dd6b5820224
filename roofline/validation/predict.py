"""Predictions of backtest cases, in the unit each source publishes.

For each case the engine predicts the measured quantity twice, in ``expected`` mode (at a
given :class:`~roofline.engine.timing.efficiency.Efficiency`, by default the calibrated one) and
``ideal`` mode (datasheet peaks):

- ``matmul``: one M x N x K GEMM timed by the roofline (:func:`timing.time_op`), FLOP/s.
- ``memory``: a streaming kernel moving ``streams`` x ``buffer_bytes`` (STREAM's
  convention: bytes read plus bytes written), bytes/s.
- ``serving``: :func:`infer`, output tokens per second of the whole system
  (``output_tokens_per_s``: batch x output / (prefill + decode)); a batch of
  ``{fit: true, cap: N}`` is the largest that fits in memory, at most N.
- ``training``: :func:`train`, tokens per second converted into the source's unit with the
  source's own FLOP count (``convention``: ``megatron`` = Narayanan et al. 2021 eq. 3 with
  full recomputation; ``model`` = PaLM's model FLOPs, :func:`model_flops_per_token`).

The error of a case is expected / measured - 1 (positive: the engine is optimistic). The
ideal prediction is an upper bound: it must not fall below the measurement, or a spec (a
peak, a bandwidth) or the model (counting too much work) is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from roofline.engine.operators.gemm import Gemm
from roofline.engine.operators.table import Op
from roofline.engine.serving.inference import infer
from roofline.engine.timing.efficiency import (
    IDEAL,
    Efficiency,
    default_efficiency,
    efficiency_class,
)
from roofline.engine.timing.roofline import time_op
from roofline.engine.training.flops import megatron_flops_per_iteration, model_flops_per_token
from roofline.engine.training.run import train
from roofline.errors import SpecError
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.dtypes import Dtype
from roofline.validation.cases import Case


@dataclass(frozen=True)
class Prediction:
    """Expected- and ideal-mode predictions of one case, in the measured unit."""

    expected: float
    ideal: float
    notes: tuple[str, ...] = ()


def _eff_kwargs(e: Efficiency) -> dict[str, Any]:
    return {"matmul": e.matmul, "memory": e.memory, "network": e.network}


def _points(eff: Efficiency) -> int | None:
    """The number of efficiency points in ``eff`` (None: a single scalar point)."""
    n = max(np.size(getattr(eff, f)) for f in ("matmul", "memory", "network"))
    return None if all(np.ndim(getattr(eff, f)) == 0 for f in ("matmul", "memory",
                                                                 "network")) else n


def _spread(value: Any, k: int | None) -> Any:
    """``value`` repeated along the efficiency axis (k points), so the engine's scenario
    axes line up with the efficiency grid."""
    return value if k is None else np.full(k, float(value))


def _predict_matmul(case: Case, eff: Efficiency) -> NDArray[np.float64]:
    s = case.scenario
    c = load_chip(s["chip"])
    dtype = Dtype(s.get("dtype", "bf16"))
    m, n, k = (float(s[x]) for x in ("m", "n", "k"))
    elem = 1.0 if dtype in (Dtype.fp8, Dtype.int8) else 2.0
    flops = 2 * m * n * k
    op = Op("gemm", "matmul", "mlp", dtype, 1, np.asarray(flops), np.asarray(k * n * elem),
            np.asarray((m * k * elem) + m * n * 2.0), gemms=(Gemm(m, n, k),))
    return flops / np.asarray(time_op(op, c, eff).time_s)


def _predict_memory(case: Case, eff: Efficiency) -> NDArray[np.float64]:
    s = case.scenario
    c = load_chip(s["chip"])
    moved = float(s["buffer_bytes"]) * float(s.get("streams", 2))
    op = Op("stream", "memory", "norm", Dtype.bf16, 1, np.asarray(0.0), np.asarray(0.0),
            np.asarray(moved))
    return moved / np.asarray(time_op(op, c, eff).time_s)


_SERVE_KEYS = ("model", "chip", "count", "tp", "pp", "ep", "prompt_len", "output_len",
               "precision", "attention_kernel")


def _serving_batch(s: Mapping[str, Any], kwargs: dict[str, Any]) -> tuple[float, str]:
    spec = s.get("batch", 1)
    if not isinstance(spec, Mapping):
        return float(spec), ""
    probe = infer(**{**kwargs, "batch": 1})
    fit = float(probe["max_batch"])
    cap = float(spec.get("cap", math.inf))
    b = max(1.0, min(fit, cap))
    why = f"batch {b:g} ({'memory-bound' if fit < cap else 'capped'}: fits {fit:g}, cap {cap:g})"
    return b, why


def _predict_serving(case: Case, eff: Efficiency
                     ) -> tuple[NDArray[np.float64], float, tuple[str, ...]]:
    s = dict(case.scenario)
    kwargs = {k: s[k] for k in _SERVE_KEYS if k in s}
    batch, why = _serving_batch(s, kwargs)
    r = infer(**kwargs, batch=_spread(batch, _points(eff)), efficiency=_eff_kwargs(eff))
    f = r.frame
    fits = bool(f["fits"].all())
    notes = tuple(x for x in (why, "" if fits else "does not fit in memory") if x)
    return (f["output_tokens_per_s"].to_numpy(),
            float(f["output_ideal_tokens_per_s"].iloc[0]), notes)


_TRAIN_KEYS = ("model", "chip", "count", "seq_len", "global_batch", "micro_batch", "tp", "pp",
               "cp", "ep", "zero", "recompute", "sequence_parallel", "interleave",
               "attention_kernel", "precision", "dp_overlap", "cp_mode", "optimizer",
               "dropout")


def training_unit_factor(case: Case) -> float:
    """Published unit per (tokens/s of the whole run)."""
    s = case.scenario
    m = load_model(s["model"])
    seq, n = float(s["seq_len"]), float(s["count"])
    unit, conv = case.measured.unit, case.measured.convention
    if unit == "tokens/s per chip":
        return 1.0 / n
    if unit == "tokens/s":
        return 1.0
    if conv == "megatron":
        if m.attention is None:
            raise SpecError(f"{case.id}: the megatron convention needs an attention model")
        per_token = float(megatron_flops_per_iteration(1, seq, m.num_hidden_layers,
                                                       m.hidden_size, m.vocab_size,
                                                       "full")) / seq
    elif conv == "model":
        per_token = float(model_flops_per_token(m, seq))
    else:
        raise SpecError(f"{case.id}: unit {unit!r} needs a FLOP convention")
    if unit == "FLOP/s per chip":
        return per_token / n
    if unit == "MFU":
        c = load_chip(s["chip"])
        dtype = Dtype(str(s.get("precision", "bf16")))
        return per_token / (n * c.peak(c.resolve_dtype(dtype)))
    raise SpecError(f"{case.id}: unit {unit!r} is not a training unit")


def _predict_training(case: Case, eff: Efficiency, *, ideal: bool = True
                      ) -> tuple[NDArray[np.float64], float, tuple[str, ...]]:
    s = case.scenario
    kwargs = {k: s[k] for k in _TRAIN_KEYS if k in s}
    factor = training_unit_factor(case)
    kwargs["count"] = _spread(kwargs["count"], _points(eff))
    exp = train(**kwargs, mode="expected", efficiency=_eff_kwargs(eff)).frame
    ide = float(train(**{**kwargs, "count": s["count"]}, mode="ideal")["tokens_per_s"]) if (
        ideal) else math.nan
    notes = ("does not fit in memory",) if not bool(exp["fits"].all()) else ()
    return exp["tokens_per_s"].to_numpy() * factor, ide * factor, notes


def predict_grid(case: Case, eff: Efficiency) -> NDArray[np.float64]:
    """Expected-mode predictions of ``case`` at every point of an array-valued ``eff``
    (one vectorised engine call), in the measured unit."""
    if case.pending:
        raise SpecError(f"not expressible yet: {case.pending}")
    if case.kind == "matmul":
        return np.broadcast_to(_predict_matmul(case, eff), np.shape(eff.matmul))
    if case.kind == "memory":
        return np.broadcast_to(_predict_memory(case, eff), np.shape(eff.memory))
    if case.kind == "serving":
        return _predict_serving(case, eff)[0]
    return _predict_training(case, eff, ideal=False)[0]


def predict(case: Case, eff: Efficiency | None = None) -> Prediction:
    """Expected (at ``eff``, default: the package's calibrated defaults) and ideal
    predictions of ``case`` in its measured unit."""
    if case.pending:
        raise SpecError(f"not expressible yet: {case.pending}")
    e = eff if eff is not None else default_efficiency(load_chip(case.chip))
    if case.kind == "matmul":
        return Prediction(float(_predict_matmul(case, e)), float(_predict_matmul(case, IDEAL)))
    if case.kind == "memory":
        return Prediction(float(_predict_memory(case, e)), float(_predict_memory(case, IDEAL)))
    run = _predict_serving if case.kind == "serving" else _predict_training
    exp, ide, notes = run(case, e)
    return Prediction(float(exp[0]), ide, notes)


def case_row(c: Case) -> dict[str, Any]:
    """The descriptive columns of a case's row (id, kind, category, chip, vendor, tags)."""
    chip = load_chip(c.chip)
    return {"id": c.id, "kind": c.kind, "category": c.category, "group": c.group,
            "chip": chip.name, "vendor": chip.vendor, "class": efficiency_class(chip),
            "tags": ",".join(sorted(c.tags)),
            "unit": c.measured.unit, "measured": c.measured.value}


def evaluate(cases: Sequence[Case], effs: Mapping[str, Efficiency] | None = None
             ) -> pd.DataFrame:
    """One row per case: measured, expected, ideal, error and whether the ideal bound holds.

    ``effs`` maps efficiency class -> expected-mode efficiency (default: the package's
    calibrated defaults). A case the
    engine cannot express (it raises :class:`SpecError`, or the case is ``pending``) gets
    ``status`` = the reason and no prediction.
    """
    rows = []
    for c in cases:
        row = case_row(c)
        e = (effs or {}).get(row["class"]) or default_efficiency(load_chip(c.chip))
        try:
            p = predict(c, e)
        except SpecError as err:
            reason = str(err).removeprefix("<input>: ")
            row.update(expected=np.nan, ideal=np.nan, error=np.nan, ideal_ok=True,
                       status=f"not evaluated: {reason}", notes="")
        else:
            row.update(expected=p.expected, ideal=p.ideal,
                       error=p.expected / c.measured.value - 1.0,
                       ideal_ok=bool(p.ideal >= c.measured.value * (1 - 1e-9)),
                       status="ok", notes="; ".join(p.notes))
        rows.append(row)
    return pd.DataFrame(rows)
