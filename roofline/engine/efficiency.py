"""Efficiency factors: the share of datasheet peak that real kernels reach, and the
uncertainty band around expected-mode results.

``ideal`` mode uses 1.0 everywhere (the roofline bound); ``expected`` mode uses per-vendor
defaults, overridable per call. The defaults are *fitted* on published measurements
(``validation/cases.yaml``) by ``roofline validate-runs --calibrate`` and stored in
``efficiency.yaml`` beside this module; docs/validation.md lists the cases, the fit and its
residuals. Without that file (or for a vendor it does not cover) the hand-set priors below
apply. Sources of the priors (the fit starts from them and is pulled towards them where the
cases say little):

- matmul, NVIDIA Hopper/Blackwell: large bf16 GEMMs in cuBLAS reach ~700-750 of 989 TFLOP/s
  on H100 SXM (SemiAnalysis, "MI300X vs H100 vs H200 Benchmark Part 1: Training",
  Dec 2024; NVIDIA's own Transformer Engine results), i.e. ~0.72.
- matmul, AMD MI300X: ~550-650 of 1307 TFLOP/s bf16 in hipBLASLt in the same study, ~0.45.
- matmul, Google TPU: MaxText reports 55-65% MFU end to end on v5p/v6e, so the matmul units
  themselves reach at least ~0.75 (Google Cloud "MaxText" benchmark tables).
- memory: device-to-device copy bandwidth (STREAM-like) reaches ~90% of HBM peak on
  H100/H200 (NVIDIA nvbandwidth) and ~80% on MI300X (Chips and Cheese, "Testing AMD's
  Giant MI300X", 2024).
- network: NCCL bus bandwidth reaches ~80% of NVLink per-direction peak for large
  all-reduce messages (nccl-tests on DGX H100: ~360 of 450 GB/s).

Uncertainty band: the calibration stores, per workload kind (serving, training), the 10th
and 90th percentiles of measured / expected throughput over its cases. :func:`band_columns`
turns them into ``*_low`` / ``*_high`` columns beside each expected-mode figure, never past
the ideal (roofline) bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from roofline.errors import Problem, SpecError
from roofline.specs.chip import Chip

Mode = Literal["ideal", "expected"]
Kind = Literal["serving", "training"]

#: The calibrated table written by ``roofline validate-runs --calibrate``.
CALIBRATION_FILE = Path(__file__).with_name("efficiency.yaml")


#: The fractions of peak an :class:`Efficiency` holds (the keys ``efficiency=`` accepts).
FRACTIONS = ("matmul", "memory", "network")


@dataclass(frozen=True)
class Efficiency:
    """Fractions of peak (0-1] for matmul FLOP/s, memory bandwidth and link bandwidth."""

    matmul: float = 1.0
    memory: float = 1.0
    network: float = 1.0
    source: str = "ideal: datasheet peaks"

    def __post_init__(self) -> None:
        for name in FRACTIONS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
                raise SpecError([Problem(f"must be a number in (0, 1] (a fraction of peak), "
                                         f"got {v!r}", field=f"efficiency.{name}")])


@dataclass(frozen=True)
class Band:
    """Measured / expected throughput ratio at the 10th (``low``) and 90th (``high``)
    percentile of the calibration residuals of one workload kind (dimensionless)."""

    low: float = 1.0
    high: float = 1.0
    cases: int = 0
    source: str = "no calibration: no band"


IDEAL = Efficiency()

#: Hand-set priors by vendor (sources in the module docstring).
PRIOR_BY_VENDOR: dict[str, Efficiency] = {
    "nvidia": Efficiency(0.72, 0.88, 0.80, "expected: NVIDIA priors (efficiency.py)"),
    "amd": Efficiency(0.45, 0.80, 0.75, "expected: AMD priors (efficiency.py)"),
    "google": Efficiency(0.75, 0.85, 0.80, "expected: TPU priors (efficiency.py)"),
}
PRIOR_GENERIC = Efficiency(0.60, 0.80, 0.70, "expected: generic priors (efficiency.py)")


@dataclass(frozen=True)
class Calibration:
    """The fitted defaults by vendor and the uncertainty band by workload kind."""

    by_vendor: Mapping[str, Efficiency]
    bands: Mapping[str, Band]


def _read_calibration(path: Path) -> Calibration:
    """Parse ``efficiency.yaml``; an absent file means priors only and no band."""
    if not path.is_file():
        return Calibration({}, {})
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cases = data.get("cases", "?")
    by_vendor = {
        vendor: Efficiency(float(v["matmul"]), float(v["memory"]), float(v["network"]),
                           f"expected: {vendor} defaults fitted on {v.get('cases', cases)} "
                           "published cases (efficiency.yaml, docs/validation.md)")
        for vendor, v in (data.get("by_vendor") or {}).items()}
    bands = {kind: Band(float(b["low"]), float(b["high"]), int(b.get("cases", 0)),
                        f"10th-90th percentile of measured / expected over {b.get('cases')} "
                        f"{kind} cases (docs/validation.md)")
             for kind, b in (data.get("band") or {}).items()}
    return Calibration(by_vendor, bands)


@lru_cache(maxsize=1)
def calibration() -> Calibration:
    """The calibration shipped with the package (read once)."""
    return _read_calibration(CALIBRATION_FILE)


def default_efficiency(vendor: str, *, priors: bool = False) -> Efficiency:
    """Expected-mode efficiency of ``vendor``: the fitted value, else the prior
    (``priors=True``: the prior regardless of the calibration)."""
    if not priors:
        fitted = calibration().by_vendor.get(vendor)
        if fitted is not None:
            return fitted
    return PRIOR_BY_VENDOR.get(vendor, PRIOR_GENERIC)


def efficiency_for(chip: Chip, mode: Mode = "expected", **overrides: float) -> Efficiency:
    """Efficiency of ``chip`` in ``mode``; keyword overrides (matmul=, memory=, network=)."""
    base = IDEAL if mode == "ideal" else default_efficiency(chip.vendor)
    unknown = sorted(set(overrides) - set(FRACTIONS))
    if unknown:
        raise SpecError([Problem(f"unknown key(s) {', '.join(map(repr, unknown))}; use "
                                 f"{', '.join(FRACTIONS)}", field="efficiency")])
    if overrides:
        base = replace(base, **overrides, source=base.source + " with overrides "
                       + ", ".join(f"{k}={v}" for k, v in overrides.items()))
    return base


def uncertainty_band(kind: Kind) -> Band:
    """The calibrated band of ``kind`` (a zero-width band when there is no calibration)."""
    return calibration().bands.get(kind, Band())


def band_columns(out: Mapping[str, Any], kind: Kind, *, mode: Mode = "expected",
                 times: tuple[str, ...] | None = None, rates: tuple[str, ...] | None = None
                 ) -> dict[str, Any]:
    """``*_low`` / ``*_high`` columns for the expected-mode figures in ``out``.

    Times ``x_s`` get ``x_low_s`` (optimistic: ``x_s / band.high``, never below the ideal
    ``x_ideal_s`` when there is one) and ``x_high_s`` (``x_s / band.low``); rates ``r`` get
    ``r_low`` = ``r x band.low`` and ``r_high`` = ``r x band.high`` (never above ``r_ideal``).
    By default every ``x_s`` with an ``x_ideal_s`` partner is a time and every ``r`` with an
    ``r_ideal`` partner a rate. In ideal mode the band has zero width.
    """
    band = uncertainty_band(kind) if mode == "expected" else Band()
    if times is None:
        times = tuple(k for k in out if k.endswith("_s") and f"{k[:-2]}_ideal_s" in out)
    if rates is None:
        rates = tuple(k for k in out if f"{k}_ideal" in out)
    cols: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in times:
            t = np.asarray(out[k], dtype=np.float64)
            ideal = out.get(f"{k[:-2]}_ideal_s")
            low = t / band.high
            cols[f"{k[:-2]}_low_s"] = low if ideal is None else np.maximum(low, ideal)
            cols[f"{k[:-2]}_high_s"] = t / band.low
        for k in rates:
            r = np.asarray(out[k], dtype=np.float64)
            ideal = out.get(f"{k}_ideal")
            high = r * band.high
            cols[f"{k}_low"] = r * band.low
            cols[f"{k}_high"] = high if ideal is None else np.minimum(high, ideal)
    return cols
