"""Collective communication time by the alpha-beta model on a two-level network.

Message sizes ``m`` are the full buffer per rank in bytes; bandwidths are per chip, per
direction; all arguments broadcast as numpy arrays. Ring costs follow Thakur, Rabenseifner
and Gropp (2005) and Patarasuk & Yuan (2009): a ring all-reduce moves 2(n-1)/n of the
buffer over each link; reduce-scatter and all-gather move (n-1)/n. A group larger than
its scale-up domain runs hierarchically: reduce-scatter inside the domain, all-reduce
across domains on the scale-out network (each chip's NIC carrying 1/d of the buffer),
all-gather back ("How to Scale Your Model", ch. 3; NCCL's tree/ring-of-rings).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.scenario.cluster import Cluster

Array = NDArray[np.float64]
Algorithm = Literal["ring", "tree"]


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def _per_byte(frac: Array, bw: Array) -> Array:
    """Seconds per byte of buffer when a share ``frac`` of it crosses a link of ``bw``
    bytes/s: 0 when nothing crosses, inf when something must cross a missing link."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(frac == 0, 0.0, np.where(bw > 0, frac / np.where(bw > 0, bw, 1), np.inf))


def _safe_div(num: Array, den: Array) -> Array:
    """num / den, with 0 where num is 0 and inf where only den is 0 (no link)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(num == 0, 0.0, np.where(den > 0, num / np.where(den > 0, den, 1), np.inf))


def all_reduce_flat(m: ArrayLike, n: ArrayLike, bw: ArrayLike, alpha: ArrayLike,
                    algorithm: Algorithm = "ring") -> Array:
    """All-reduce of ``m`` bytes over ``n`` ranks on one link level (seconds)."""
    m, n, bw, alpha = _a(m), _a(n), _a(bw), _a(alpha)
    frac = np.where(n > 1, 2 * (n - 1) / np.maximum(n, 1), 0.0)
    steps = (2 * (n - 1) if algorithm == "ring" else 2 * np.ceil(np.log2(np.maximum(n, 1))))
    return m * _per_byte(frac, bw) + np.where(n > 1, steps * alpha, 0.0)


def gather_flat(m: ArrayLike, n: ArrayLike, bw: ArrayLike, alpha: ArrayLike) -> Array:
    """All-gather (or reduce-scatter, or all-to-all on a full-bisection switch) of a
    ``m``-byte buffer over ``n`` ranks on one link level (seconds)."""
    m, n, bw, alpha = _a(m), _a(n), _a(bw), _a(alpha)
    frac = np.where(n > 1, (n - 1) / np.maximum(n, 1), 0.0)
    return m * _per_byte(frac, bw) + np.where(n > 1, (n - 1) * alpha, 0.0)


def span(n: ArrayLike, stride: ArrayLike, domain: ArrayLike) -> tuple[Array, Array]:
    """Members of a group inside one scale-up domain, and domains the group spans.

    A group of ``n`` ranks whose members are ``stride`` ranks apart (tensor parallel is
    innermost, stride 1) on a cluster packed domain by domain.
    """
    n, stride, domain = _a(n), _a(stride), _a(domain)
    inside = np.clip(np.floor(domain / np.maximum(stride, 1)), 1, None)
    inside = np.minimum(inside, n)
    return inside, np.ceil(n / inside)


def all_reduce(c: Cluster, m: ArrayLike, n: ArrayLike, stride: ArrayLike = 1,
               algorithm: Algorithm = "ring") -> Array:
    """All-reduce time (s) of ``m`` bytes over a group of ``n`` ranks on cluster ``c``."""
    d, k = span(n, stride, c.domain)
    m = _a(m)
    inside = all_reduce_flat(m, d, c.up_bw, c.scale_up_latency_s, algorithm)
    hier = (2 * gather_flat(m, d, c.up_bw, c.scale_up_latency_s) +
            all_reduce_flat(m / d, k, c.out_bw, c.scale_out_latency_s, algorithm))
    return np.where(k > 1, hier, inside)


def all_gather(c: Cluster, m: ArrayLike, n: ArrayLike, stride: ArrayLike = 1) -> Array:
    """All-gather (= reduce-scatter) time (s) of a buffer of ``m`` bytes (gathered size)."""
    d, k = span(n, stride, c.domain)
    m = _a(m)
    inside = gather_flat(m, d, c.up_bw, c.scale_up_latency_s)
    hier = (gather_flat(m / k, d, c.up_bw, c.scale_up_latency_s) +
            gather_flat(m, k, c.out_bw, c.scale_out_latency_s))
    return np.where(k > 1, hier, inside)


reduce_scatter = all_gather


def all_to_all(c: Cluster, m: ArrayLike, n: ArrayLike, stride: ArrayLike = 1) -> Array:
    """All-to-all time (s): each rank sends ``m`` bytes spread evenly over ``n`` ranks.

    The share bound for other domains crosses the scale-out network, the rest the
    scale-up links; the slower of the two sets the time.
    """
    d, k = span(n, stride, c.domain)
    m, n_ = _a(m), _a(n)
    within = _safe_div(m * (d - 1) / np.maximum(n_, 1), _a(c.up_bw))
    across = _safe_div(m * (n_ - d) / np.maximum(n_, 1), _a(c.out_bw))
    alpha = np.where(k > 1, c.scale_out_latency_s, c.scale_up_latency_s) * np.maximum(n_ - 1, 0)
    return np.maximum(within, across) + alpha


def p2p(c: Cluster, m: ArrayLike, crosses_domain: ArrayLike) -> Array:
    """Point-to-point send of ``m`` bytes (pipeline hand-off), seconds."""
    cross = np.asarray(crosses_domain, dtype=bool)
    bw = np.where(cross, c.out_bw, c.up_bw)
    lat = np.where(cross, c.scale_out_latency_s, c.scale_up_latency_s)
    return _safe_div(_a(m), _a(bw)) + lat
