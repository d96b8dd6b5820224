"""Collective communication time: latency + bytes / bandwidth, per algorithm, on a cluster's
scale-up topology (switch, mesh, torus, PCIe) and scale-out network.

``m`` is the full buffer per rank in bytes (the gathered size for an all-gather, the input
of a reduce-scatter); bandwidths are per chip, per direction; every argument broadcasts as a
numpy array. A group of ``n`` ranks ``stride`` apart has ``d`` members in each of ``k``
scale-up domains (:func:`span`).

Bandwidth terms. A ring reduce-scatter or all-gather moves ``(n-1)/n`` of the buffer over
each chip's links, an all-reduce twice that (Patarasuk & Yuan 2009; Thakur et al. 2005).
Across domains the levels pipeline, so the slowest level sets the time: inside a domain
``m (d-1) / (d W_gpu)``, across ``m (k-1) / (k W_node)`` with ``W_node = d x`` the NIC
bandwidth of each member ("How to Scale Your Model", GPU chapter, cross-node collectives).
On a torus a group rings along each axis it covers, both directions where the axis wraps
around, and gathers over several axes at once: ``V (n-1)/n / sum_i R_i`` (ibid., ch. 3).
An all-reduce is a reduce-scatter then an all-gather, so RS + AG = AR (bandwidth terms).

Algorithms and latency terms, as NCCL's tuning model has them (src/graph/tuning.cc, LL
protocol): ring ``base + steps x hop``, tree ``base + 2 ((d-1) hop + log2 k hop_net)``,
NVLS (NVLink SHARP: the switch reduces; measured ~1.3x the ring's bus bandwidth on
8 x H100) and, inside one switch or mesh domain, the direct one-shot / two-shot kernels of
vLLM / SGLang / TensorRT-LLM (one or two synchronised steps). ``algorithm="auto"`` takes the
fastest available for each message size, as NCCL's tuner and the serving runtimes do.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.scenario.cluster import Cluster
from roofline.engine.scenario.topology import Fabric, torus_axes

Array = NDArray[np.float64]
Algorithm = Literal["auto", "ring", "tree", "one_shot", "two_shot", "nvls"]
ALGORITHMS: tuple[Algorithm, ...] = ("ring", "tree", "one_shot", "two_shot", "nvls")

#: NCCL's fixed latency of a ring / tree collective, LL protocol (tuning.cc baseLat).
RING_BASE_S = 6.6e-6
TREE_BASE_S = 6.8e-6
#: NCCL's NVLS latency inside an NVLink domain, and per tree level across domains
#: (tuning.cc hwLat: NVLink NVLS 23 us, network NVLSTree 14 us).
NVLS_LATENCY_S = 23e-6
NVLS_NET_LEVEL_S = 14e-6
#: One synchronised step of a direct (one-shot) kernel over NVLink / Infinity Fabric:
#: 3.7-5.9 us for 0.5-4 KB on 2-8 H100 (TensorRT-LLM-derived kernels, sgl-project/sglang
#: PR #2904), 6.3 us for 24 KB on 8 MI355X (vllm-project/vllm PR #39080). Two-shot = 2 steps.
DIRECT_STEP_S = 5.0e-6
#: Measured NVLS all-reduce bus bandwidth over the ring's on 8 x H100: ~480 vs ~370 GB/s
#: ("How to Scale Your Model", GPU chapter, NCCL 2.27.5), short of the 2(n-1)/n theory.
NVLS_GAIN = 1.3


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def _div(num: Array, den: ArrayLike) -> Array:
    """num / den: 0 where nothing is sent, inf where something must cross a missing link."""
    if np.ndim(num) == 0 and np.ndim(den) == 0:  # a single answer, without array overhead
        n, d = float(num), float(den)
        return np.float64(0.0 if n == 0 else (n / d if d > 0 else math.inf))  # type: ignore[return-value]
    num, den = np.broadcast_arrays(_a(num), _a(den))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(num == 0, 0.0, np.where(den > 0, num / np.where(den > 0, den, 1), np.inf))


def span(n: ArrayLike, stride: ArrayLike, domain: ArrayLike) -> tuple[Array, Array]:
    """Members of a group inside one scale-up domain, and domains the group spans.

    A group of ``n`` ranks whose members are ``stride`` ranks apart (tensor parallel is
    innermost, stride 1) on a cluster packed domain by domain.
    """
    n, stride, domain = _a(n), _a(stride), _a(domain)
    inside = np.clip(np.floor(domain / np.maximum(stride, 1)), 1, None)
    inside = np.minimum(inside, n)
    return inside, np.ceil(n / inside)


def _torus(f: Fabric, d: Array, stride: Array) -> tuple[Array, Array, list[Array], list[Array]]:
    """(sum of per-axis ring bandwidths, hops of a bidirectional gather, per-axis chips,
    per-axis wraps) of a group's ``d`` members on the torus slice."""
    covered, wraps = torus_axes(f, d, stride)
    ring_bw = np.zeros(np.shape(d))
    hops = np.zeros(np.shape(d))
    for c, w in zip(covered, wraps, strict=True):
        ring_bw = ring_bw + np.where(c > 1, f.link_bw * np.where(w, 2.0, 1.0), 0.0)
        hops = hops + np.where(w, np.floor(c / 2), c - 1)
    return ring_bw, hops, covered, wraps


def _level_terms(f: Fabric, d: Array, k: Array, stride: Array) -> tuple[Array, Array, Array]:
    """Seconds per byte of a reduce-scatter inside the domain and across domains, and the
    scale-up hops of one inside pass (ring steps, or a torus's bidirectional hops)."""
    if f.kind == "torus":
        ring_bw, hops, _, _ = _torus(f, d, stride)
        inside = _div((d - 1) / np.maximum(d, 1), ring_bw)
    else:
        inside = _div((d - 1) / np.maximum(d, 1), f.group_bw(d))
        hops = d - 1
    across = _div((k - 1) / np.maximum(k, 1), d * f.out_bw)
    return inside, across, hops


def _gather(c: Cluster, m: ArrayLike, n: ArrayLike, stride: ArrayLike,
            algorithm: Algorithm) -> Array:
    f = c.fabric
    m, n, stride = _a(m), _a(n), _a(stride)
    d, k = span(n, stride, f.domain)
    inside, across, hops = _level_terms(f, d, k, stride)
    beta = m * np.maximum(inside, across)
    net = (k - 1) * f.out_hop_s
    if f.kind == "torus":
        ring = beta + hops * f.up_hop_s + net
    else:
        ring = beta + RING_BASE_S + (n - k) * f.up_hop_s + net
    direct = np.where((k == 1) & (f.kind in ("switch", "mesh")), beta + DIRECT_STEP_S, np.inf)
    times = {"ring": ring, "one_shot": direct}
    t = np.minimum(ring, direct) if algorithm == "auto" else times.get(algorithm, ring)
    return np.where(n > 1, t, 0.0)


def all_gather(c: Cluster, m: ArrayLike, n: ArrayLike, stride: ArrayLike = 1,
               algorithm: Algorithm = "auto") -> Array:
    """All-gather time (s) of a buffer of ``m`` bytes (gathered size) over ``n`` ranks."""
    return _gather(c, m, n, stride, algorithm)


def reduce_scatter(c: Cluster, m: ArrayLike, n: ArrayLike, stride: ArrayLike = 1,
                   algorithm: Algorithm = "auto") -> Array:
    """Reduce-scatter time (s) of an ``m``-byte input over ``n`` ranks (= all-gather)."""
    return _gather(c, m, n, stride, algorithm)


def all_reduce_algorithms(c: Cluster, m: ArrayLike, n: ArrayLike,
                          stride: ArrayLike = 1) -> dict[str, Array]:
    """All-reduce time (s) of ``m`` bytes over ``n`` ranks by each algorithm (inf where the
    topology does not offer it)."""
    f = c.fabric
    m, n, stride = _a(m), _a(n), _a(stride)
    d, k = span(n, stride, f.domain)
    inside, across, hops = _level_terms(f, d, k, stride)
    beta = 2 * m * np.maximum(inside, across)
    net = 2 * (k - 1) * f.out_hop_s
    inf = np.full(np.broadcast(m, n, stride).shape, np.inf)
    if f.kind == "torus":  # reduce-scatter then all-gather along the axes (XLA)
        return {"ring": beta + 2 * hops * f.up_hop_s + net, "tree": inf, "one_shot": inf,
                "two_shot": inf, "nvls": inf}
    log_k = np.log2(np.maximum(k, 1))
    out = {
        "ring": beta + RING_BASE_S + 2 * (n - k) * f.up_hop_s + net,
        "tree": beta + TREE_BASE_S + 2 * ((d - 1) * f.up_hop_s + log_k * f.out_hop_s),
    }
    direct = (k == 1) & (f.kind in ("switch", "mesh"))
    bw = f.group_bw(d)
    out["one_shot"] = np.where(direct, _div(m * (d - 1), bw) + DIRECT_STEP_S, np.inf)
    out["two_shot"] = np.where(direct, 2 * m * inside + 2 * DIRECT_STEP_S, np.inf)
    if f.nvls:
        nvls_beta = np.maximum(_div(m, bw), 2 * m * inside / NVLS_GAIN)
        out["nvls"] = (np.maximum(nvls_beta, 2 * m * across) + NVLS_LATENCY_S +
                       2 * log_k * NVLS_NET_LEVEL_S)
    else:
        out["nvls"] = inf
    return {a: np.broadcast_to(t, inf.shape) for a, t in out.items()}


def all_reduce(c: Cluster, m: ArrayLike, n: ArrayLike, stride: ArrayLike = 1,
               algorithm: Algorithm = "auto") -> Array:
    """All-reduce time (s) of ``m`` bytes over a group of ``n`` ranks on cluster ``c``."""
    times = all_reduce_algorithms(c, m, n, stride)
    if algorithm == "auto":
        t = np.minimum.reduce([times[a] for a in ALGORITHMS])
    else:
        t = times[algorithm]
    return np.where(_a(n) > 1, t, 0.0)


def all_reduce_choice(c: Cluster, m: ArrayLike, n: ArrayLike,
                      stride: ArrayLike = 1) -> NDArray[np.str_]:
    """The algorithm ``all_reduce(algorithm="auto")`` picks for each message (names)."""
    times = all_reduce_algorithms(c, m, n, stride)
    stack = np.stack([times[a] for a in ALGORITHMS])
    return np.asarray(ALGORITHMS)[np.argmin(stack, axis=0)]


def all_to_all(c: Cluster, m: ArrayLike, n: ArrayLike, stride: ArrayLike = 1) -> Array:
    """All-to-all time (s): each rank sends ``m`` bytes spread evenly over ``n`` ranks.

    The share bound for other domains crosses the scale-out network at each member's NIC,
    the rest the scale-up links; the slower of the two sets the time. On a switch or mesh
    every chip sends straight to each peer ("How to Scale Your Model", GPU chapter); on a
    torus the exchange rides the axis rings, 1/4 of an all-gather of the whole group's data
    on a wrapped ring and 1/2 on a line (ibid., ch. 3), never faster than the chip's links.
    """
    f = c.fabric
    m, n, stride = _a(m), _a(n), _a(stride)
    d, k = span(n, stride, f.domain)
    across = _div(m * (n - d) / np.maximum(n, 1), f.out_bw)
    if f.kind == "torus":
        _, hops, covered, wraps = _torus(f, d, stride)
        rate = np.zeros(np.shape(d))
        for cov, w in zip(covered, wraps, strict=True):
            rate = rate + np.where(cov > 1, f.link_bw * np.where(w, 8.0, 4.0), 0.0)
        ring = _div(d * d * m / np.maximum(n, 1), rate)  # the domain's share, V = d m d / n
        links = _div(m * (d - 1) / np.maximum(n, 1), 2.0 * len(f.shape) * f.link_bw)
        within = np.maximum(ring, links)
        lat = hops * f.up_hop_s
    else:
        within = _div(m * (d - 1) / np.maximum(n, 1), f.group_bw(d))
        lat = np.full(np.shape(d), DIRECT_STEP_S if f.kind in ("switch", "mesh")
                      else RING_BASE_S + f.up_hop_s)
    lat = lat + np.where(k > 1, f.out_hop_s, 0.0)
    return np.where(n > 1, np.maximum(within, across) + lat, 0.0)


def p2p(c: Cluster, m: ArrayLike, crosses_domain: ArrayLike) -> Array:
    """Point-to-point send of ``m`` bytes to a neighbour (pipeline hand-off), seconds: over
    one peer link inside the domain (a mesh or torus link, or the switch port), else over
    the NIC."""
    f = c.fabric
    cross = np.asarray(crosses_domain, dtype=bool)
    bw = np.where(cross, f.out_bw, f.peer_bw())
    lat = np.where(cross, f.out_hop_s, f.up_hop_s)
    return _div(_a(m), bw) + lat


def bus_bandwidth(op: Literal["all_reduce", "all_gather", "reduce_scatter", "all_to_all"],
                  m: ArrayLike, n: ArrayLike, seconds: ArrayLike) -> Array:
    """nccl-tests' bus bandwidth (bytes/s) of a collective of ``m`` bytes over ``n`` ranks
    taking ``seconds``: algorithm bandwidth m / t times 2(n-1)/n for an all-reduce, (n-1)/n
    otherwise (NVIDIA/nccl-tests doc/PERFORMANCE.md)."""
    m, n = _a(m), _a(n)
    factor = 2 * (n - 1) / n if op == "all_reduce" else (n - 1) / n
    return _div(m, seconds) * factor
