"""Efficiency factors: the share of datasheet peak that real kernels reach.

``ideal`` mode uses 1.0 everywhere (the roofline bound); ``expected`` mode uses these
defaults, by vendor, overridable per call. Sources of the defaults:

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
Calibration against published runs (validation/) may refine these.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from roofline.specs.chip import Chip

Mode = Literal["ideal", "expected"]


@dataclass(frozen=True)
class Efficiency:
    """Fractions of peak (0-1] for matmul FLOP/s, memory bandwidth and link bandwidth."""

    matmul: float = 1.0
    memory: float = 1.0
    network: float = 1.0
    source: str = "ideal: datasheet peaks"

    def __post_init__(self) -> None:
        for name in ("matmul", "memory", "network"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise ValueError(f"efficiency.{name} must be in (0, 1], got {v}")


IDEAL = Efficiency()

_BY_VENDOR: dict[str, Efficiency] = {
    "nvidia": Efficiency(0.72, 0.88, 0.80, "expected: NVIDIA defaults (efficiency.py)"),
    "amd": Efficiency(0.45, 0.80, 0.75, "expected: AMD defaults (efficiency.py)"),
    "google": Efficiency(0.75, 0.85, 0.80, "expected: TPU defaults (efficiency.py)"),
}
_GENERIC = Efficiency(0.60, 0.80, 0.70, "expected: generic defaults (efficiency.py)")


def efficiency_for(chip: Chip, mode: Mode = "expected", **overrides: float) -> Efficiency:
    """Efficiency of ``chip`` in ``mode``; keyword overrides (matmul=, memory=, network=)."""
    base = IDEAL if mode == "ideal" else _BY_VENDOR.get(chip.vendor, _GENERIC)
    if overrides:
        base = replace(base, **overrides, source=base.source + " with overrides "
                       + ", ".join(f"{k}={v}" for k, v in overrides.items()))
    return base
