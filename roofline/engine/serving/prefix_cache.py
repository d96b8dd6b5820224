"""Prefix caching: a share of each prompt's tokens is already in a KV cache (a shared
system prompt, an earlier turn), so prefill computes only the rest and reads the hit
tokens' KV from the tier that holds them.

With hit fraction h of an S-token prompt: prefill computes (1 - h) S new tokens attending
to h S cached ones (SGLang RadixAttention, Zheng et al. NeurIPS'24); the hit KV,
h S x (KV bytes per token), comes from device memory (no transfer), host memory (over the
host link) or disk (DeepSeek's 3FS KVCache, Mooncake arXiv 2407.00079) at that tier's
bandwidth, and it is loaded layer by layer while earlier layers compute, so only what
exceeds the prefill compute is exposed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.memory import kv_bytes_per_sequence
from roofline.engine.serving.pool import Layout, Pool
from roofline.errors import SpecError

Array = NDArray[np.float64]
Tier = Literal["hbm", "host", "disk"]

#: DeepSeek 3FS KVCache read throughput: "peak throughput reaching up to 40 GiB/s" per
#: client node of 8 GPUs (deepseek-ai/3FS README, KVCache), i.e. 5 GiB/s per GPU.
DISK_BYTES_PER_S_PER_CHIP = 40 * 2**30 / 8


def split_prompt(prompt: ArrayLike, hit_fraction: ArrayLike) -> tuple[Array, Array]:
    """(new tokens to compute, cached tokens) of a prompt with a prefix-cache hit."""
    h = np.asarray(hit_fraction, dtype=np.float64)
    if np.any((h < 0) | (h >= 1)):
        raise SpecError("cache_hit must be a fraction in [0, 1) of the prompt's tokens")
    s = np.asarray(prompt, dtype=np.float64)
    cached = np.floor(s * h)
    return s - cached, cached


def tier_bandwidth(pool: Pool, tier: Tier, disk_bytes_per_s: float | None = None) -> float:
    """Bytes/s per chip at which cached KV reaches device memory from ``tier``."""
    if tier == "hbm":
        return float("inf")
    if tier == "host":
        host = pool.chip.host
        if host is None:
            raise SpecError(f"{pool.chip.name} has no host tier in its YAML (host: "
                            "bandwidth_per_direction); use cache_tier='hbm' or 'disk'")
        return float(host.bandwidth_per_direction * pool.eff.network)
    if tier == "disk":
        return disk_bytes_per_s or DISK_BYTES_PER_S_PER_CHIP
    raise SpecError(f"cache_tier must be hbm, host or disk, got {tier!r}")


def cache_load_s(pool: Pool, layout: Layout, batch: ArrayLike, cached: ArrayLike,
                 tier: Tier, disk_bytes_per_s: float | None = None) -> Array:
    """Seconds to bring ``batch`` requests' cached KV (per attention group) into device
    memory; each of the group's tp chips loads its own copy of MLA latents / its KV heads."""
    kv = np.asarray(batch, dtype=np.float64) * kv_bytes_per_sequence(
        pool.model, pool.precision, cached, layout.tp)
    bw = tier_bandwidth(pool, tier, disk_bytes_per_s)
    return kv / bw if np.isfinite(bw) else np.zeros_like(kv)


def exposed_load_s(load_s: ArrayLike, compute_s: ArrayLike, layers: int) -> Array:
    """Load time left over when KV is fetched layer by layer under the prefill: at least
    the first layer's share, at most what exceeds the compute."""
    load, comp = np.asarray(load_s, dtype=np.float64), np.asarray(compute_s, dtype=np.float64)
    return np.maximum(load - comp, load / layers)
