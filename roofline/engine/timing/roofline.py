"""Roofline timing (Williams, Waterman & Patterson 2009): an operator takes the longer of
its compute time and its memory time; attainable FLOP/s = min(peak, intensity x bandwidth)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from roofline.engine.operators.gemm import gemm_factor
from roofline.engine.operators.table import Op
from roofline.engine.timing.efficiency import Efficiency
from roofline.specs.chip import Chip

Array = NDArray[np.float64]


@dataclass(frozen=True)
class OpTime:
    """Roofline timing of one operator (arrays over the scenario axes)."""

    op: Op
    peak_flops_per_s: float
    compute_s: Array
    memory_s: Array
    time_s: Array  # max(compute_s, memory_s)

    @property
    def compute_bound(self) -> NDArray[np.bool_]:
        return self.compute_s >= self.memory_s

    @property
    def intensity(self) -> Array:
        """Arithmetic intensity, FLOP per byte of memory traffic."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.op.bytes > 0, self.op.flops / np.where(
                self.op.bytes > 0, self.op.bytes, 1), np.inf)


def time_op(op: Op, chip: Chip, eff: Efficiency) -> OpTime:
    """Compute and memory time of ``op`` on ``chip`` at efficiency ``eff``: the matmul
    factor is scaled by the operator's GEMM shape and dtype (:func:`gemm.gemm_factor`)
    except in ideal mode, which stays at the datasheet peak."""
    peak = chip.peak(op.dtype)
    shape = gemm_factor(op.gemms, op.dtype, chip) if eff.shape_aware else 1.0
    compute = op.flops * (1.0 / (peak * eff.matmul * shape))
    memory = op.bytes * (1.0 / (chip.memory.bandwidth * eff.memory))
    compute = np.asarray(compute, dtype=np.float64)
    memory = np.asarray(memory, dtype=np.float64)
    return OpTime(op, peak, compute, memory, np.maximum(compute, memory))


def attainable_flops_per_s(intensity: Array, peak: float, bandwidth: float) -> Array:
    """The roofline: min(peak, intensity x bandwidth), FLOP/s."""
    return np.minimum(peak, np.asarray(intensity) * bandwidth)
