"""GEMM efficiency by shape and dtype: the part of a matmul's time the flat ``matmul``
efficiency factor cannot see.

A tiled GEMM kernel (CUTLASS/cuBLAS, hipBLASLt, the TPU MXU pipeline) computes C[M, N] in
output tiles (the library picks among :data:`TILES` per shape; the best one counts), one
per compute unit (SM, CU) at a time, looping over K:

- tile and wave quantisation: ceil(M/T) ceil(N/T) tiles (times the ``groups`` of a
  grouped GEMM: the local experts of an MoE layer run in one launch) are issued in
  ceil(tiles / units) waves, so the useful share of the issued work is
  groups M N / (waves units T^2) (NVIDIA, "Matrix Multiplication Background User's Guide",
  sections "Tile Quantization" and "Wave Quantization"); small-M decode GEMMs run
  kernels whose M tile matches M (the next power of two, at least the MMA's 16 rows), so
  they pay the padding of M to that tile and stay memory-bound;
- the K loop: each tile pays a prologue and epilogue worth about ``K_OVERHEAD`` of K, so a
  tile reaches K / (K + K_OVERHEAD) of its main-loop rate (a short reduction, such as an
  MoE expert's down projection over its small intermediate width, is slower);
- dtype: narrow types reach a smaller share of their (doubled) peak in cuBLAS: MAMF reaches
  0.709 of the FP8 peak on H100 against 0.803 for BF16 (S. Bekman, ML Engineering,
  "Maximum Achievable Matmul FLOPS"), a ratio of 0.88; tuned FP8 kernels close most of
  that gap (DeepGEMM: up to 1550 of 1979 TFLOPS on H800, 0.78 of peak, README of
  deepseek-ai/DeepGEMM), and the serving engines in the backtest use them, so FP8/INT8 are
  given 0.96 (between the two) and FP6/FP4 0.90 (no microbenchmark in validation/ yet).

The factor is normalised to an 8192^3 GEMM on the same chip, where the calibrated
``matmul`` efficiency is defined, and never exceeds 1. Parameters are fixed priors (not
fitted): the tile set, ``K_OVERHEAD`` 256, the dtype ratios, and the compute units per chip
(:data:`COMPUTE_UNITS`, vendor figures). A chip without a unit count pays tile padding but
no wave quantisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.specs.chip import Chip
from roofline.specs.dtypes import Dtype

Array = NDArray[np.float64]

#: Output tile edge of the reference kernel (CUTLASS's common 128 x 128 tile).
TILE = 128.0
#: Output tiles (M x N) the kernel library chooses among per shape (cuBLAS / CUTLASS
#: heuristics): the best of them sets the tile and wave quantisation of a GEMM.
TILES = ((128.0, 128.0), (128.0, 256.0), (256.0, 128.0), (64.0, 128.0), (128.0, 64.0))
#: Smallest M tile of the small-M (decode) kernels: the tensor-core MMA's 16 rows.
MIN_TILE_M = 16.0
#: Equivalent K of a tile's prologue + epilogue (about four 64-deep main-loop steps).
K_OVERHEAD = 256.0
#: Side of the reference GEMM at which the calibrated matmul efficiency is defined.
REFERENCE = 8192.0
#: Inputs of at least this many elements are evaluated once per distinct GEMM shape.
DEDUPLICATE_FROM = 4096
#: Share of peak reached by a dtype relative to bf16 (module docstring: between cuBLAS's
#: MAMF ratio and DeepGEMM's; FP6/FP4 assumed).
DTYPE_RELATIVE: dict[Dtype, float] = {Dtype.fp8: 0.96, Dtype.int8: 0.96, Dtype.fp6: 0.90,
                                      Dtype.fp4: 0.90}
#: Compute units (SMs / CUs) per chip: NVIDIA architecture whitepapers and product briefs
#: (V100 80, A100 108, H100 SXM 132, H100 PCIe 114, H200 132, H20 78, H800 132 (H100's
#: die with fewer NVLinks), L4 58, L40S 142,
#: RTX 4090 128, RTX 5090 170); B200 / GB200 148 and B300 160 as reported by the CUDA
#: driver (NVIDIA publishes no SM count for Blackwell datacenter parts); AMD CDNA
#: whitepapers (MI250X 220, MI300X / MI325X 304, MI355X 256).
COMPUTE_UNITS: dict[str, int] = {
    "nvidia-v100-sxm2": 80, "nvidia-a100-sxm-40gb": 108, "nvidia-a100-sxm-80gb": 108,
    "nvidia-h100-sxm": 132, "nvidia-h100-pcie": 114, "nvidia-h200-sxm": 132, "nvidia-h20": 78,
    "nvidia-h800": 132,
    "nvidia-b200": 148, "nvidia-gb200": 148, "nvidia-b300": 160, "nvidia-l4": 58,
    "nvidia-l40s": 142, "nvidia-rtx-4090": 128, "nvidia-rtx-5090": 170, "amd-mi250x": 220,
    "amd-mi300x": 304, "amd-mi325x": 304, "amd-mi355x": 256,
}


@dataclass(frozen=True)
class Gemm:
    """One (grouped) GEMM C[M, N] = A[M, K] B[K, N] of an operator, per device.

    ``groups`` GEMMs of this shape run in one launch (local MoE experts); ``share`` is the
    fraction of the operator's FLOPs it carries (an MLP: up/gate and down projections).
    """

    m: Any
    n: Any
    k: Any
    groups: Any = 1.0
    share: float = 1.0


def _tile_share(m: Array, n: Array, groups: Array, tile_m: float, tile_n: float,
                units: int | None) -> Array:
    """Useful share of the issued work with ``tile_m`` x ``tile_n`` output tiles."""
    # Small-M kernels use an M tile matched to M: the next power of two, at least MIN_TILE_M.
    tm = np.clip(2.0 ** np.ceil(np.log2(np.maximum(m, 1.0))), MIN_TILE_M, tile_m)
    tiles = groups * np.ceil(m / tm) * np.ceil(n / tile_n)
    issued = tiles if units is None else np.ceil(tiles / units) * units
    return np.where(issued > 0, groups * m * n / (issued * tm * tile_n), 1.0)


def _scalar_shape_efficiency(m: float, n: float, k: float, groups: float,
                             units: int | None) -> float:
    """:func:`shape_efficiency` of one GEMM in plain floats (a single answer: numpy's
    per-call overhead would dominate); the same operations as the array path."""
    best = 0.0
    for tile_m, tile_n in TILES:
        tm = min(max(2.0 ** math.ceil(math.log2(max(m, 1.0))), MIN_TILE_M), tile_m)
        tiles = groups * math.ceil(m / tm) * math.ceil(n / tile_n)
        issued = tiles if units is None else math.ceil(tiles / units) * units
        best = max(best, groups * m * n / (issued * tm * tile_n) if issued > 0 else 1.0)
    return best * (k / (k + K_OVERHEAD) if k > 0 else 1.0)


def _scalars(g: Gemm) -> tuple[float, float, float, float] | None:
    """The GEMM's m, n, k, groups as finite floats, or None when any is an array."""
    values = (g.m, g.n, g.k, g.groups)
    if all(type(v) in (float, int) or (isinstance(v, np.ndarray | np.generic)
                                       and np.ndim(v) == 0) for v in values):
        out = tuple(float(v) for v in values)
        if all(math.isfinite(v) for v in out):
            return out  # type: ignore[return-value]
    return None


def shape_efficiency(g: Gemm, units: int | None) -> Array:
    """Useful share of the issued tile work (the best of the kernel library's tile
    configurations :data:`TILES`, as its heuristics pick) times the K-loop efficiency
    (unnormalised)."""
    scalars = _scalars(g)
    if scalars is not None:
        return np.float64(_scalar_shape_efficiency(*scalars, units))  # type: ignore[return-value]
    m, n, k = (np.asarray(x, dtype=np.float64) for x in (g.m, g.n, g.k))
    groups = np.asarray(g.groups, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _best_tile_share(m, n, groups, units) * np.where(k > 0, k / (k + K_OVERHEAD),
                                                                1.0)


def _best_tile_share(m: Array, n: Array, groups: Array, units: int | None) -> Array:
    """The best tile configuration's useful share, element by element. A sweep repeats few
    distinct shapes (M follows the batch), so large inputs are evaluated once per distinct
    (M, N, groups) and scattered back: the same operations on the same values."""
    shape = np.broadcast_shapes(m.shape, n.shape, groups.shape)
    size = math.prod(shape)
    if size >= DEDUPLICATE_FROM:
        flat = [np.broadcast_to(a, shape).reshape(-1) for a in (m, n, groups)]
        code, span = np.zeros(size, dtype=np.int64), 1
        for a, f in zip((m, n, groups), flat, strict=True):
            if a.size > 1:  # numbered by distinct value (1-D unique is a fast sort)
                values, index = np.unique(f, return_inverse=True)
                code, span = code * len(values) + index, span * len(values)
        if span < 2**62:
            _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
            if len(first) <= size // 2:
                best = _best_tile_share(flat[0][first], flat[1][first], flat[2][first], units)
                return np.asarray(best[inverse].reshape(shape), dtype=np.float64)
    shares = [_tile_share(m, n, groups, tm, tn, units) for tm, tn in TILES]
    return np.asarray(np.max(shares, axis=0), dtype=np.float64)


@cache
def _reference(units: int | None) -> float:
    """Shape efficiency of the 8192^3 reference GEMM on a chip of ``units`` compute units."""
    return _scalar_shape_efficiency(REFERENCE, REFERENCE, REFERENCE, 1.0, units)


def gemm_factor(gemms: Sequence[Gemm], dtype: Dtype, chip: Chip) -> Array | float:
    """Efficiency of an operator's GEMMs relative to the 8192^3 bf16 reference on ``chip``:
    the FLOP-weighted harmonic mean of its GEMMs' normalised shape efficiencies, times the
    dtype ratio (1 for an operator without GEMMs: attention cores, elementwise work)."""
    rel = DTYPE_RELATIVE.get(dtype, 1.0)
    if not gemms:
        return rel
    units = COMPUTE_UNITS.get(chip.name)
    ref = _reference(units)
    inv: ArrayLike = 0.0
    for g in gemms:
        scalars = _scalars(g)
        if scalars is not None:
            eta: Any = min(max(_scalar_shape_efficiency(*scalars, units) / ref, 1e-3), 1.0)
        else:
            eta = np.clip(shape_efficiency(g, units) / ref, 1e-3, 1.0)
        inv = inv + g.share / eta
    return rel / np.asarray(inv)
