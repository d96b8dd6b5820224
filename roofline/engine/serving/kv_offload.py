"""KV offload: KV-cache blocks beyond device memory held in the host tier (CPU DRAM over
PCIe, or LPDDR5X over NVLink-C2C on Grace systems) and streamed back every decode step.

A batch of B sequences per attention group, of which n_hbm fit in device memory, keeps
(B - n_hbm) x KV-per-sequence bytes per chip in the host tier. Each step reads every
sequence's KV once, so those bytes cross the host link every step; prefetched layer by
layer under compute (FlexGen, Sheng et al. 2023, arXiv 2303.06865), a step takes
max(roofline step, offloaded bytes / host bandwidth). Offload lets a larger batch fit
(up to n_hbm + host capacity / KV-per-sequence) and pays only where that larger batch
gives more tokens/s than the largest batch that fits on the device.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.memory import kv_bytes_per_sequence
from roofline.engine.serving.pool import Layout, Pool, decode_s, max_seqs
from roofline.errors import SpecError
from roofline.specs.params import ParamCount

Array = NDArray[np.float64]


def host_bandwidth(pool: Pool) -> float:
    """Host-link bytes/s per chip, one direction, at the pool's network efficiency."""
    host = pool.chip.host
    if host is None:
        raise SpecError(f"{pool.chip.name} has no host tier in hardware_specs (host: "
                        "technology, bandwidth_per_direction, memory_capacity); add it to offload")
    return float(host.bandwidth_per_direction * pool.eff.network)


def offload_split(pool: Pool, layout: Layout, params: ParamCount, batch: ArrayLike,
                  context: ArrayLike) -> tuple[Array, Array, Array]:
    """(sequences in device memory, sequences in the host tier, host bytes per chip) for
    ``batch`` sequences per attention group at ``context`` tokens."""
    b = np.asarray(batch, dtype=np.float64)
    in_hbm = np.minimum(max_seqs(pool, layout, params, context), b)
    in_host = b - in_hbm
    return in_hbm, in_host, in_host * kv_bytes_per_sequence(pool.model, pool.precision,
                                                            context, layout.tp)


def offloaded_decode_s(pool: Pool, layout: Layout, params: ParamCount, batch: ArrayLike,
                       context: ArrayLike) -> tuple[Array, Array, NDArray[np.bool_]]:
    """(step seconds with offload, seconds streaming the host share, whether the batch
    fits in device plus host memory)."""
    bw = host_bandwidth(pool)
    _, _, host_bytes = offload_split(pool, layout, params, batch, context)
    stream = host_bytes / bw
    step = np.asarray(np.maximum(decode_s(pool, layout, batch, context), stream),
                      dtype=np.float64)
    host_cap = pool.chip.host.memory_capacity if pool.chip.host else 0.0
    return step, stream, host_bytes <= host_cap
