"""How the catalog has grown: models by release date (parameters, training tokens and
training compute) and chips by release year (dense 16-bit FLOP/s, memory capacity and
memory bandwidth), with the growth rate of each fitted as an exponential.

Release dates and training tokens are the sourced ``release`` and ``training`` fields of
the model YAML (left empty where nothing public gives them); chips carry their
``release_year``. Growth is read from the records (each model or chip larger than every
one released before it), as trends of the frontier usually are. Training compute is the
published figure where one exists, else ``6 x active parameters x training tokens``
(Kaplan et al. 2020, eq. 2.1; :func:`roofline.engine.training.flops.training_compute`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from roofline.engine.training.flops import training_compute
from roofline.errors import SpecError
from roofline.results import Result, plotting
from roofline.specs.catalog import chips as catalog_chips
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.catalog import models as catalog_models
from roofline.specs.chip import Chip
from roofline.specs.dtypes import Dtype
from roofline.specs.model import ModelSpec

Kind = Literal["models", "chips"]
#: What each timeline measures, as (column, words) in plotting order.
METRICS: dict[Kind, tuple[tuple[str, str], ...]] = {
    "models": (("total_params", "total parameters"), ("active_params", "active parameters"),
               ("training_tokens", "training tokens"), ("training_flops", "training compute")),
    "chips": (("dense_16bit_flops_per_s", "dense 16-bit FLOP/s"),
              ("memory_capacity_bytes", "memory capacity"),
              ("memory_bandwidth_bytes_per_s", "memory bandwidth")),
}
DAYS_PER_YEAR = 365.2425


class TimelineResult(Result):
    """One row per catalog model (or chip) in release order; :meth:`growth` fits how fast
    each measure has grown."""

    def __init__(self, frame: pd.DataFrame, assumptions: dict[str, Any], kind: Kind) -> None:
        super().__init__(frame, assumptions)
        self.kind: Kind = kind

    def records(self, column: str) -> NDArray[np.bool_]:
        """Which rows set a record in ``column``: larger than everything released before
        them (and the largest of their release date). The frontier a growth rate is read
        from: a small model released today does not slow the growth of the largest."""
        years = self.frame["release_year"].to_numpy(dtype=float)
        v = self.frame[column].to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(v) & (v > 0) & np.isfinite(years)
        out = np.zeros(v.shape, dtype=bool)
        for i in np.flatnonzero(ok):
            earlier = v[ok & (years < years[i])]
            same = v[ok & (years == years[i])]
            out[i] = v[i] >= same.max() and (earlier.size == 0 or v[i] > earlier.max())
        return out

    def growth(self) -> pd.DataFrame:
        """Per measure: an exponential fitted by least squares to log2(value) against the
        release year over the records (:meth:`records`), as the factor per year and the
        doubling time (years), with the line itself: log2(value) = ``log2_at_year_0`` +
        ``doublings_per_year`` x year. NaN with fewer than two records in distinct years."""
        rows = []
        years = self.frame["release_year"].to_numpy(dtype=float)
        for column, words in METRICS[self.kind]:
            v = self.frame[column].to_numpy(dtype=float, na_value=np.nan)
            rec = self.records(column)
            slope = icept = np.nan
            if rec.sum() >= 2 and np.ptp(years[rec]) > 0:
                slope, icept = (float(x) for x in np.polyfit(years[rec], np.log2(v[rec]), 1))
            rows.append({"measure": column, "label": words, "records": int(rec.sum()),
                         "first_year": float(years[rec].min()) if rec.any() else np.nan,
                         "last_year": float(years[rec].max()) if rec.any() else np.nan,
                         "factor_per_year": 2.0**slope,
                         "doubling_time_years": 1.0 / slope if slope > 0 else np.nan,
                         "doublings_per_year": slope, "log2_at_year_0": icept})
        return pd.DataFrame(rows)

    def _figure(self, **kwargs: Any) -> Any:
        """Each measure against release date, log scale, with its fitted trend."""
        return plotting().timeline_figure(self, **kwargs)


def _year(d: Any) -> float:
    """A date as a fractional year (2020-07-02 -> ~2020.5)."""
    return float(d.year + (d.timetuple().tm_yday - 1) / DAYS_PER_YEAR)


def model_row(m: ModelSpec) -> dict[str, Any]:
    """A model's timeline row: release, parameters, training tokens and compute."""
    p = m.params()
    tokens = m.training.tokens if m.training else None
    published = m.training.compute_flops if m.training else None
    estimated = float(training_compute(p.active, tokens)) if tokens else math.nan
    return {
        "name": m.name, "display_name": m.display_name or m.name,
        "release_date": pd.Timestamp(m.release.date) if m.release else pd.NaT,
        "release_year": _year(m.release.date) if m.release else math.nan,
        "total_params": float(p.total), "active_params": float(p.active),
        "training_tokens": float(tokens) if tokens else math.nan,
        "training_flops": float(published) if published else estimated,
        "training_flops_source": ("published" if published else
                                  "6 x active params x tokens" if tokens else ""),
        "tokens_per_param": float(tokens) / float(p.total) if tokens else math.nan,
        "rumoured": m.rumoured,
    }


def _native_16bit(c: Chip) -> float:
    """The chip's dense 16-bit peak (bf16 or fp16, whichever is higher), FLOP/s; NaN when
    it computes neither natively."""
    peaks = [c.peak_flops[d] for d in (Dtype.bf16, Dtype.fp16) if d in c.peak_flops]
    return max(peaks) if peaks else math.nan


def chip_row(c: Chip) -> dict[str, Any]:
    """A chip's timeline row: release year and the three things LLMs want from it."""
    kind = c.memory.kind or ""
    return {"name": c.name, "display_name": c.display_name or c.name, "vendor": c.vendor,
            "release_year": float(c.release_year), "memory_kind": kind,
            "hbm": kind.upper().startswith("HBM"),
            "dense_16bit_flops_per_s": _native_16bit(c),
            "memory_capacity_bytes": float(c.memory.capacity),
            "memory_bandwidth_bytes_per_s": float(c.memory.bandwidth)}


def timeline(kind: Kind = "models",
             specs: Iterable[str | Path | ModelSpec | Chip | Mapping[str, Any]] | None = None,
             *, since: float | None = None, hbm_only: bool = False) -> TimelineResult:
    """The catalog's models (``kind="models"``) or chips (``"chips"``) in release order.

    Models: ``release_date``, ``release_year`` (fractional), ``total_params``,
    ``active_params``, ``training_tokens``, ``training_flops`` (published, else
    6 x active x tokens; ``training_flops_source`` says which), ``tokens_per_param``;
    rows without a known release date are left out. Chips: ``release_year``,
    ``dense_16bit_flops_per_s``, ``memory_capacity_bytes``,
    ``memory_bandwidth_bytes_per_s``, ``memory_kind`` and ``hbm`` (HBM memory: the
    datacenter accelerators, not CPUs or consumer cards). ``specs`` limits it to some
    models or chips (names, paths or specs), ``since`` to those released in that year or
    later, ``hbm_only`` to the chips with HBM (the datacenter accelerators).
    ``.growth()`` fits each measure's growth per year over its records
    (``.records(column)``: rows larger than every earlier one).
    """
    if kind == "models":
        ms = catalog_models() if specs is None else [load_model(s) for s in specs]  # type: ignore[arg-type]
        rows = [model_row(m) for m in ms if m.release is not None]
        note = {"release dates and training tokens": "as the model YAML cites them; models "
                "without a public release date are left out, missing tokens are blank",
                "training compute": "published where given, else 6 x active parameters x "
                "training tokens (Kaplan et al. 2020)"}
    elif kind == "chips":
        cs = catalog_chips() if specs is None else [load_chip(s) for s in specs]  # type: ignore[arg-type]
        rows = [chip_row(c) for c in cs]
        note = {"dense 16-bit FLOP/s": "the chip's bf16 or fp16 dense peak, whichever is "
                "higher (no sparsity); blank when it has neither",
                "release year": "the chip YAML's release_year"}
    else:
        raise SpecError(f"timeline kind must be 'models' or 'chips', got {kind!r}")
    if since is not None:
        if not (isinstance(since, int | float) and math.isfinite(since)):
            raise SpecError(f"since must be a year, got {since!r}")
        rows = [r for r in rows if r["release_year"] >= math.floor(since)]
    if hbm_only:
        rows = [r for r in rows if r.get("hbm")]
    columns = ["name", "release_year"] if not rows else list(rows[0])
    frame = pd.DataFrame(rows, columns=columns).sort_values(
        ["release_year", "name"], kind="stable").reset_index(drop=True)
    return TimelineResult(frame, {**note, "growth": "exponential fit (least squares on "
                                  "log2 of the value) over the records: each model or chip "
                                  "larger than every one released before it"}, kind)
