"""Fidelity: how far an answer can be trusted.

Every result is labelled with its mode, ``ideal`` (speed of light at datasheet peaks: an
upper bound, never a forecast) or ``calibrated`` (expected mode: efficiencies fitted on
published measurements, docs/validation.md), and with the nearest backtest case and that
case's *out-of-sample* error (predicted by a fit that never saw its source), from
``backtest.yaml`` beside this module (written by ``roofline validate-runs --calibrate``).

Nearness (:func:`case_distance`) weighs what moves the error most in the backtest: a
different efficiency class (vendor generation) counts 2, a different chip 0.5, dense vs
MoE 1, a different serving regime (batch 1 vs batched) 1, and model size and chip count
by |log10| of their ratios (0.5 per decade of chips). A case farther than
``NEAR_DISTANCE`` is not "near": the label then says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from roofline.engine.timing.efficiency import efficiency_class
from roofline.specs.chip import Chip
from roofline.specs.loading import load_shipped_data
from roofline.specs.model import ModelSpec

#: Per-case features and errors written by ``roofline validate-runs --calibrate``.
BACKTEST_FILE = Path(__file__).with_name("backtest.yaml")
#: Largest :func:`case_distance` at which a backtest case vouches for a scenario: a case on
#: the same vendor's previous generation (2 + 0.5) still does, one that also differs in
#: model size by more than a decade or in dense / MoE does not.
NEAR_DISTANCE = 3.0

Workload = Literal["training", "serving"]


@dataclass(frozen=True)
class Fidelity:
    """The trust label of one result."""

    mode: Literal["ideal", "calibrated"]
    case: str | None = None
    case_oos_error: float | None = None
    distance: float | None = None

    @property
    def text(self) -> str:
        """One line for the CLI and the assumptions table."""
        if self.mode == "ideal":
            head = "ideal: speed of light at datasheet peaks (an upper bound, not a forecast)"
        else:
            head = "calibrated: efficiencies fitted on published measurements"
        if self.case is None:
            return head + "; no backtest case is close to this scenario"
        return (f"{head}; nearest backtest case `{self.case}` (out-of-sample error "
                f"{self.case_oos_error:+.1%}, docs/validation.md)")


@lru_cache(maxsize=1)
def backtest() -> tuple[dict[str, Any], ...]:
    """The shipped backtest rows (read once; empty without the file)."""
    if not BACKTEST_FILE.is_file():
        return ()
    rows = load_shipped_data(BACKTEST_FILE) or []
    return tuple(rows)


@lru_cache(maxsize=256)
def _model_features(name: str) -> tuple[float, bool]:
    from roofline.specs.catalog import load_model

    m = load_model(name)
    return float(m.params().total), m.moe is not None


def case_distance(row: dict[str, Any], kind: Workload, chip_class: str, chip_name: str,
                  params: float, moe: bool, count: float, batch: float | None) -> float:
    """How far backtest ``row`` is from a scenario (see the module docstring) on a chip
    named ``chip_name`` of efficiency class ``chip_class``."""
    if row["kind"] != kind:
        return math.inf
    case_params, case_moe = _model_features(str(row["model"]))
    d = 2.0 * (row["class"] != chip_class) + 0.5 * (row["chip"] != chip_name)
    d += 1.0 * (case_moe != moe) + abs(math.log10(max(params, 1.0) / case_params))
    d += 0.5 * abs(math.log10(max(count, 1.0) / max(float(row["count"]), 1.0)))
    if kind == "serving" and batch is not None:
        d += 1.0 * ((row["category"] == "serving: batch 1") != (batch <= 1))
    return float(d)


def fidelity(kind: Workload, chip: Chip, model: ModelSpec, *, mode: str = "expected",
             count: float = 1.0, batch: float | None = None) -> Fidelity:
    """The trust label of a ``kind`` result for ``model`` on ``count`` x ``chip`` (serving:
    at ``batch`` concurrent sequences) in ``mode`` (``ideal`` or ``expected``)."""
    return _nearest(kind, efficiency_class(chip), chip.name, float(model.params().total),
                    model.moe is not None, mode, float(count),
                    None if batch is None else float(batch))


@lru_cache(maxsize=4096)
def _nearest(kind: Workload, chip_class: str, chip_name: str, params: float, moe: bool,
             mode: str, count: float, batch: float | None) -> Fidelity:
    """:func:`fidelity` from the scenario's features (cached: a single answer need not
    rescan the backtest)."""
    label: Literal["ideal", "calibrated"] = "ideal" if mode == "ideal" else "calibrated"
    best, best_d = None, math.inf
    for row in backtest():
        d = case_distance(row, kind, chip_class, chip_name, params, moe, count, batch)
        if d < best_d:
            best, best_d = row, d
    if best is None or best_d > NEAR_DISTANCE:
        return Fidelity(label)
    return Fidelity(label, str(best["id"]), float(best["oos_error"]), round(best_d, 3))
