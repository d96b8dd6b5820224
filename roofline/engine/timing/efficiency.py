"""Efficiency factors: the share of datasheet peak that real kernels reach, and the
uncertainty band around expected-mode results.

``ideal`` mode uses 1.0 everywhere (the roofline bound); ``expected`` mode uses the factors
of the chip's *efficiency class* (vendor and generation: ``nvidia-hopper``, ``amd-cdna3``,
``google-tpu``; :data:`CLASS_OF_CHIP`), overridable per call. Three factors per class:
``matmul`` (sustained fraction of the dense tensor peak on large GEMMs), ``memory``
(sustained fraction of HBM/GDDR bandwidth on streaming kernels) and ``network``
(collective bus bandwidth as a fraction of the per-direction link rate).

The defaults are *fitted* on published end-to-end measurements (``validation/*.yaml``) by
``roofline validate-runs --calibrate`` and stored in ``efficiency.yaml`` beside this
module; docs/validation.md lists the cases, the fit and its out-of-sample errors. The fit
is hierarchical: one set per vendor pulled towards the vendor's prior, then one set per
class pulled towards the vendor's fitted set (scaled by the class/vendor prior ratio), so
a class with few cases stays near its vendor and a class with none takes the vendor's
values. Priors (hand-set from microbenchmarks; the fit starts from them):

- matmul, NVIDIA: MAMF (largest sustained bf16 GEMM) reaches 0.87 of peak on A100, 0.80
  on H100 and 0.78 on B200 (S. Bekman, ML Engineering, "Maximum Achievable Matmul FLOPS";
  the matmul cases in validation/); end-to-end kernels (attention, fused epilogues, small
  GEMMs) sit ~10% below that: 0.72 Hopper, 0.76 Ampere, 0.70 Blackwell.
- matmul, AMD CDNA3: MAMF 0.51 (MI300X) to 0.60 (MI325X), end-to-end ~0.45
  (SemiAnalysis, "MI300X vs H100 vs H200 Benchmark Part 1: Training", Dec 2024).
- matmul, Google TPU: MaxText reports 55-65% MFU end to end on v5p/v6e, so the matrix
  units reach at least ~0.75 (Google Cloud MaxText benchmark tables).
- memory: STREAM-like copies reach 0.89 of HBM peak on A100 and 0.85 on H100 PCIe (gpu-
  benches, the memory cases in validation/), ~0.80 on MI300X (Chips and Cheese, "Testing
  AMD's Giant MI300X", 2024); GDDR consumer parts ~0.85 (llama.cpp batch-1 decode sustains
  ~0.82 of an RTX 4090's bandwidth, issue 18).
- network: NCCL bus bandwidth reaches ~80% of NVLink per-direction peak for large
  all-reduce messages (nccl-tests on DGX H100: ~360 of 450 GB/s).

Uncertainty band: the calibration stores, per workload kind (serving, training), the 10th
and 90th percentiles of measured / expected throughput over its cases *out of sample*
(each case predicted by a fit that did not see its source). :func:`band_columns` turns them
into ``*_low`` / ``*_high`` columns beside each expected-mode figure, never past the ideal
(roofline) bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from roofline.errors import Problem, SpecError
from roofline.specs.chip import Chip
from roofline.specs.loading import load_shipped_data

Mode = Literal["ideal", "expected"]
Kind = Literal["serving", "training"]
FACTORS = ("matmul", "memory", "network")

#: The calibrated table written by ``roofline validate-runs --calibrate``.
CALIBRATION_FILE = Path(__file__).with_name("efficiency.yaml")


@dataclass(frozen=True)
class Efficiency:
    """Fractions of peak (0-1] for matmul FLOP/s, memory bandwidth and link bandwidth.

    Each factor is a float, or an array that broadcasts against the scenario axes (the
    calibration evaluates a grid of efficiencies in one vectorised engine call).
    """

    matmul: Any = 1.0
    memory: Any = 1.0
    network: Any = 1.0
    source: str = "ideal: datasheet peaks"
    #: Scale matmul by the GEMM shape and dtype (roofline.engine.operators.gemm); off in ideal mode.
    shape_aware: bool = True

    def __post_init__(self) -> None:
        for name in FACTORS:
            raw = getattr(self, name)
            try:
                v = (None if isinstance(raw, bool | str | bytes)
                     else np.asarray(raw, dtype=np.float64))
            except (TypeError, ValueError):
                v = None
            if v is None or not bool(np.all((v > 0) & (v <= 1))):
                raise SpecError([Problem(f"must be a number in (0, 1] (a fraction of peak), "
                                         f"got {raw!r}", field=f"efficiency.{name}")])

    def describe(self, factors: tuple[str, ...] = FACTORS) -> str:
        """``matmul 72%, memory 88%, network 80% of peak (source)`` (a grid: its size)."""
        def pct(v: ArrayLike) -> str:
            a = np.asarray(v)
            return f"{float(a):.0%}" if a.ndim == 0 else f"{a.size} values"
        body = ", ".join(f"{f} {pct(getattr(self, f))}" for f in factors)
        return f"{body} of peak ({self.source})"

    def values(self) -> tuple[float, float, float]:
        """(matmul, memory, network) as floats."""
        return (float(self.matmul), float(self.memory), float(self.network))


@dataclass(frozen=True)
class Band:
    """Measured / expected throughput ratio at the 10th (``low``) and 90th (``high``)
    percentile of the out-of-sample residuals of one workload kind (dimensionless)."""

    low: float = 1.0
    high: float = 1.0
    cases: int = 0
    source: str = "no calibration: no band"


IDEAL = Efficiency(shape_aware=False)

#: Efficiency class (vendor-generation) of each catalogued chip; a chip not listed falls
#: into its vendor's class ``<vendor>-other``, which takes the vendor's values.
CLASS_OF_CHIP: dict[str, str] = {
    "nvidia-v100-sxm2": "nvidia-volta",
    "nvidia-a100-sxm-40gb": "nvidia-ampere", "nvidia-a100-sxm-80gb": "nvidia-ampere",
    "nvidia-h100-sxm": "nvidia-hopper", "nvidia-h100-pcie": "nvidia-hopper",
    "nvidia-h200-sxm": "nvidia-hopper", "nvidia-h20": "nvidia-hopper",
    "nvidia-h800": "nvidia-hopper",
    "nvidia-b200": "nvidia-blackwell", "nvidia-b300": "nvidia-blackwell",
    "nvidia-gb200": "nvidia-blackwell",
    "nvidia-l4": "nvidia-gddr", "nvidia-l40s": "nvidia-gddr",
    "nvidia-rtx-4090": "nvidia-gddr", "nvidia-rtx-5090": "nvidia-gddr",
    "amd-mi250x": "amd-cdna2", "amd-mi300x": "amd-cdna3", "amd-mi325x": "amd-cdna3",
    "amd-mi355x": "amd-cdna4",
    "google-tpu-v4": "google-tpu", "google-tpu-v5e": "google-tpu",
    "google-tpu-v5p": "google-tpu", "google-tpu-v6e": "google-tpu",
    "google-tpu-v7": "google-tpu",
}

#: Hand-set priors by vendor (sources in the module docstring).
PRIOR_BY_VENDOR: dict[str, Efficiency] = {
    "nvidia": Efficiency(0.72, 0.88, 0.80, "expected: NVIDIA priors (efficiency.py)"),
    "amd": Efficiency(0.45, 0.80, 0.75, "expected: AMD priors (efficiency.py)"),
    "google": Efficiency(0.75, 0.85, 0.80, "expected: TPU priors (efficiency.py)"),
}
PRIOR_GENERIC = Efficiency(0.60, 0.80, 0.70, "expected: generic priors (efficiency.py)")
#: Hand-set priors by class where the microbenchmarks set them apart from the vendor's.
PRIOR_BY_CLASS: dict[str, Efficiency] = {
    "nvidia-ampere": Efficiency(0.76, 0.89, 0.80, "expected: Ampere priors (efficiency.py)"),
    "nvidia-hopper": Efficiency(0.72, 0.85, 0.80, "expected: Hopper priors (efficiency.py)"),
    "nvidia-blackwell": Efficiency(0.70, 0.85, 0.80,
                                   "expected: Blackwell priors (efficiency.py)"),
    "nvidia-gddr": Efficiency(0.65, 0.85, 0.70,
                              "expected: GDDR consumer priors (efficiency.py)"),
}


def efficiency_class(chip: Chip) -> str:
    """The efficiency class of ``chip`` (:data:`CLASS_OF_CHIP`, else ``<vendor>-other``)."""
    return CLASS_OF_CHIP.get(chip.name, f"{chip.vendor}-other")


def vendor_prior(vendor: str) -> Efficiency:
    """The hand-set prior of ``vendor`` (generic where there is none)."""
    return PRIOR_BY_VENDOR.get(vendor, PRIOR_GENERIC)


def class_prior(cls: str, vendor: str) -> Efficiency:
    """The hand-set prior of class ``cls`` (its vendor's where there is none)."""
    return PRIOR_BY_CLASS.get(cls, vendor_prior(vendor))


@dataclass(frozen=True)
class Calibration:
    """The fitted defaults by vendor and by class, and the band by workload kind."""

    by_vendor: Mapping[str, Efficiency]
    by_class: Mapping[str, Efficiency]
    bands: Mapping[str, Band]


def _read_calibration(path: Path) -> Calibration:
    """Parse ``efficiency.yaml``; an absent file means priors only and no band."""
    if not path.is_file():
        return Calibration({}, {}, {})
    data: Any = load_shipped_data(path) or {}

    def table(key: str) -> dict[str, Efficiency]:
        return {name: Efficiency(float(v["matmul"]), float(v["memory"]), float(v["network"]),
                                 f"expected: {name} defaults fitted on {v.get('cases', '?')} "
                                 "published cases (efficiency.yaml, docs/validation.md)")
                for name, v in (data.get(key) or {}).items()}

    bands = {kind: Band(float(b["low"]), float(b["high"]), int(b.get("cases", 0)),
                        f"10th-90th percentile of measured / expected over {b.get('cases')} "
                        f"{kind} cases, out of sample (docs/validation.md)")
             for kind, b in (data.get("band") or {}).items()}
    return Calibration(table("by_vendor"), table("by_class"), bands)


@lru_cache(maxsize=1)
def calibration() -> Calibration:
    """The calibration shipped with the package (read once)."""
    return _read_calibration(CALIBRATION_FILE)


def default_efficiency(chip: Chip, *, priors: bool = False) -> Efficiency:
    """Expected-mode efficiency of ``chip``: its class's fitted value, else its vendor's,
    else the class prior (``priors=True``: the class prior regardless of the calibration)."""
    cls = efficiency_class(chip)
    if not priors:
        cal = calibration()
        fitted = cal.by_class.get(cls) or cal.by_vendor.get(chip.vendor)
        if fitted is not None:
            return fitted
    return class_prior(cls, chip.vendor)


def efficiency_for(chip: Chip, mode: Mode = "expected", **overrides: Any) -> Efficiency:
    """Efficiency of ``chip`` in ``mode``; keyword overrides (matmul=, memory=, network=)."""
    base = IDEAL if mode == "ideal" else default_efficiency(chip)
    unknown = sorted(set(overrides) - {*FACTORS, "shape_aware"})
    if unknown:
        raise SpecError([Problem(f"unknown key(s) {', '.join(map(repr, unknown))}; use "
                                 f"{', '.join(FACTORS)}", field="efficiency")])
    if overrides:
        base = replace(base, **overrides, source=base.source + " with overrides "
                       + ", ".join(f"{k}={v}" for k, v in overrides.items()
                                   if np.ndim(v) == 0))
    return base


def uncertainty_band(kind: Kind) -> Band:
    """The calibrated band of ``kind`` (a zero-width band when there is no calibration)."""
    return calibration().bands.get(kind, Band())


def band_columns(out: Mapping[str, Any], kind: Kind, *, mode: Mode = "expected",
                 times: tuple[str, ...] | None = None, rates: tuple[str, ...] | None = None
                 ) -> dict[str, Any]:
    """``low`` / ``high`` variants (:func:`roofline.results.variant`) of the expected-mode
    figures in ``out``.

    Times ``x_s`` get ``x_low_s`` (optimistic: ``x_s / band.high``, never below the ideal
    ``x_ideal_s`` when there is one) and ``x_high_s`` (``x_s / band.low``); rates ``r`` get
    low = ``r x band.low`` and high = ``r x band.high`` (never above the ideal). By default
    every ``x_s`` with an ``x_ideal_s`` partner is a time and every other column with an
    ideal partner a rate. In ideal mode the band has zero width.
    """
    from roofline.results import variant

    band = uncertainty_band(kind) if mode == "expected" else Band()
    if times is None:
        times = tuple(k for k in out if k.endswith("_s") and not k.endswith("_per_s")
                      and variant(k, "ideal") in out)
    if rates is None:
        rates = tuple(k for k in out if k not in times and variant(k, "ideal") in out)
    cols: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in times:
            t = np.asarray(out[k], dtype=np.float64)
            ideal = out.get(variant(k, "ideal"))
            low = t / band.high
            cols[variant(k, "low")] = low if ideal is None else np.maximum(low, ideal)
            cols[variant(k, "high")] = t / band.low
        for k in rates:
            r = np.asarray(out[k], dtype=np.float64)
            ideal = out.get(variant(k, "ideal"))
            high = r * band.high
            cols[variant(k, "low")] = r * band.low
            cols[variant(k, "high")] = high if ideal is None else np.minimum(high, ideal)
    return cols
