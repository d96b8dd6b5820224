"""Out-of-sample scoring: grouped k-fold cross-validation by source.

Every source (one paper, one results page, one README: :attr:`Case.group`) is one fold.
For each fold the efficiencies are refitted (:func:`~roofline.validation.calibrate.fit`)
on the cases of every *other* source, and the fold's cases are predicted with that fit:
their errors are out of sample. Holding out a whole source, not one case, keeps a table's
sibling rows (the same software, the same assumptions) from vouching for each other.

The uncertainty band is computed from these out-of-sample residuals (10th-90th percentile
of measured / expected per kind, with the split-conformal finite-sample correction); its
coverage is scored the same way, each fold's cases
against the band of the other folds' residuals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from roofline.validation.calibrate import FITTED_KINDS, Fit, Surface, fit, predicted_ratio

#: Percentiles of measured / expected that bound the uncertainty band.
BAND_PERCENTILES = (10.0, 90.0)


@dataclass(frozen=True)
class CrossValidation:
    """Per-case in-sample and out-of-sample errors, the band and its held-out coverage."""

    table: pd.DataFrame
    folds: int
    bands: dict[str, tuple[float, float, int]]
    coverage: dict[str, float]


def _band(ratios: np.ndarray) -> tuple[float, float]:
    """The 10th-90th percentile band of ``ratios`` with the finite-sample (split conformal)
    correction: each tail at rank ceil((n + 1) q) of n, so that a new held-out case falls
    inside with probability >= 80% (Lei et al. 2018, "Distribution-free predictive
    inference for regression", sec. 2.2)."""
    n = ratios.size
    q_hi = min(1.0, math.ceil((n + 1) * BAND_PERCENTILES[1] / 100) / n)
    q_lo = max(0.0, 1.0 - q_hi)
    lo, hi = np.quantile(ratios, [q_lo, q_hi], method="inverted_cdf")
    return float(lo), float(hi)


def cross_validate(surfs: Sequence[Surface], full: Fit) -> CrossValidation:
    """Leave-one-source-out errors of ``surfs``; ``full`` is the fit on all of them."""
    rows = []
    groups = sorted({s.case.group for s in surfs})
    for g in groups:
        held = [s for s in surfs if s.case.group == g]
        f = fit([s for s in surfs if s.case.group != g])
        for s in held:
            rows.append({"id": s.case.id, "group": g, "kind": s.case.kind,
                         "category": s.case.category, "tags": ",".join(sorted(s.case.tags)),
                         "class": s.cls, "in_sample_error": predicted_ratio(s, full) - 1,
                         "oos_error": predicted_ratio(s, f) - 1})
    table = pd.DataFrame(rows)
    bands: dict[str, tuple[float, float, int]] = {}
    coverage: dict[str, float] = {}
    for kind in FITTED_KINDS:
        t = table[table["kind"] == kind]
        if t.empty:
            continue
        ratio = 1.0 / (1.0 + t["oos_error"].to_numpy())  # measured / expected
        lo, hi = _band(ratio)
        bands[kind] = (round(lo, 3), round(hi, 3), len(t))
        inside = []
        for g in t["group"].unique():
            own = (t["group"] == g).to_numpy()
            if own.all():
                continue
            blo, bhi = _band(ratio[~own])
            inside.extend(((ratio[own] >= blo) & (ratio[own] <= bhi)).tolist())
        coverage[kind] = float(np.mean(inside)) if inside else float("nan")
    return CrossValidation(table, len(groups), bands, coverage)


def error_stats(errors: np.ndarray) -> dict[str, float]:
    """Count, median, 90th percentile and worst |error| (and the worst as a factor)."""
    a = np.abs(np.asarray(errors, dtype=np.float64))
    if a.size == 0:
        return {"cases": 0, "median": np.nan, "p90": np.nan, "worst": np.nan,
                "worst_factor": np.nan}
    ratio = 1.0 + np.asarray(errors, dtype=np.float64)
    return {"cases": int(a.size), "median": float(np.median(a)),
            "p90": float(np.percentile(a, 90)), "worst": float(a.max()),
            "worst_factor": float(np.max(np.maximum(ratio, 1.0 / ratio)))}
