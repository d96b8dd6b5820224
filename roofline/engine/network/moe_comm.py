"""Expert parallelism: the DeepEP-style dispatch / combine all-to-all, node-limited routing,
and the expected load of the busiest expert-parallel rank.

Dispatch sends each token to the ranks holding its ``k`` routed experts; combine brings the
``k`` expert outputs back. Across scale-up domains a token is sent once per destination
domain and forwarded inside it over NVLink (DeepEP's normal kernels; DeepSeek-V3 report,
arXiv 2412.19437, sec. 3.2.2: IB to the same-index GPU, then NVLink), so the scale-out
bytes per token are ``h x (distinct remote domains)``, at most the node limit ``M`` (the
report's routing sends a token to at most 4 nodes). Dispatch may travel in fp8 with one fp32
scale per 128 channels (DeepSeek-V3 sec. 3.3.2, DeepEP); combine travels in bf16.

Routing is assumed uniform (the aux-loss-free balancing of DeepSeek-V3 aims for it), so a
rank's load is a sum of independent draws; the busiest of ``r`` ranks carries the expected
maximum of ``r`` such loads (balls into bins), which is what sets the step time.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.network import collectives as col
from roofline.engine.scenario.cluster import Cluster

Array = NDArray[np.float64]

#: fp8 dispatch: 1 byte per element plus one fp32 scale per 1 x 128 tile (DeepSeek-V3
#: sec. 3.3.2 fine-grained quantisation; DeepEP's fp8 dispatch).
FP8_DISPATCH_BYTES = 1.0 + 4.0 / 128
#: Largest binomial count evaluated exactly; above it the normal approximation is used.
_EXACT_MAX = 512


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


@lru_cache(maxsize=256)
def _expected_max_normal(r: int) -> float:
    """E[max of r independent standard normals] (numerical integral of x d(Phi(x)^r))."""
    if r <= 1:
        return 0.0
    x = np.linspace(-10.0, 10.0, 4001)
    phi = 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in x]))
    cdf = phi ** r
    return float(np.sum(0.5 * (x[1:] + x[:-1]) * np.diff(cdf)))


def expected_max_binomial(n: ArrayLike, q: ArrayLike, ranks: ArrayLike) -> Array:
    """Expected maximum of ``ranks`` independent Binomial(``n``, ``q``) counts.

    Exact, ``sum_j (1 - F(j)^r)``, for ``n <= 512`` (the binomial CDF by the pmf recursion);
    above, the normal approximation ``nq + sqrt(nq(1-q)) E[max of r N(0,1)]``.
    """
    n, q, r = np.broadcast_arrays(_a(n), np.clip(_a(q), 0.0, 1.0), _a(ranks))
    mean = n * q
    sd = np.sqrt(n * q * (1 - q))
    z = np.zeros(r.shape)
    for rv in np.unique(r):
        z[r == rv] = _expected_max_normal(int(rv))
    approx: Array = np.minimum(mean + sd * z, n)
    small = n <= _EXACT_MAX
    if not small.any():
        return approx
    ns, qs, rs = n[small], np.clip(q[small], 0.0, 1.0 - 1e-12), r[small]
    pmf = (1.0 - qs) ** ns
    cdf = pmf.copy()
    total = np.zeros(ns.shape)
    for j in range(int(np.ceil(ns.max(initial=0)))):
        live = j < ns
        total = total + np.where(live, 1.0 - cdf ** rs, 0.0)
        pmf = np.where(live, pmf * (ns - j) / (j + 1) * qs / (1.0 - qs), 0.0)
        cdf = np.minimum(cdf + pmf, 1.0)
    out = np.array(approx, dtype=np.float64, ndmin=1)
    out[small.reshape(-1) if small.ndim == 0 else small] = total
    return out.reshape(approx.shape)


def distinct_experts(tokens: ArrayLike, k: int, experts: int) -> Array:
    """Probability that a given expert is chosen by at least one of ``tokens`` tokens, each
    choosing ``k`` of ``experts`` uniformly: ``1 - (1 - k/E)^T``."""
    return 1.0 - (1.0 - k / experts) ** _a(tokens)


def busiest_rank(tokens: ArrayLike, k: int, experts: int, ep: ArrayLike,
                 redundant: ArrayLike = 0) -> tuple[Array, Array]:
    """(token-expert pairs, distinct experts) on the busiest of ``ep`` expert-parallel ranks,
    each as a multiple of the mean rank's, for ``tokens`` tokens routed top-``k`` of
    ``experts`` uniformly.

    Pairs: the maximum of ``ep`` Binomial(T k, 1/ep) loads; experts touched: the maximum of
    ``ep`` Binomial(E/ep, 1 - (1 - k/E)^T) (at batch 1, DeepSeek-V3 on 8 ranks: the busiest
    rank reads 2.5 experts where the mean is 1). Redundant experts (EPLB, DeepSeek-V3
    sec. 3.4.1: 32 of them in prefill) let the dispatcher send a share ``R / E`` of the pairs
    to the less loaded replica; the excess over the mean is scaled by ``1 - R/E`` (an
    assumption: the replicas are placed, as EPLB does, where the load is).
    """
    t, ep_, red = _a(tokens), _a(ep), _a(redundant)
    slots = t * k
    pairs = expected_max_binomial(slots, 1.0 / ep_, ep_) / np.maximum(slots / ep_, 1e-300)
    pairs = np.where(slots > 0, np.maximum(pairs, 1.0), 1.0)
    q = distinct_experts(t, k, experts)
    per_rank = experts / ep_
    touched = expected_max_binomial(per_rank, q, ep_) / np.maximum(per_rank * q, 1e-300)
    touched = np.where(q > 0, np.maximum(touched, 1.0), 1.0)
    keep = 1.0 - np.minimum(red / experts, 1.0)
    return 1.0 + (pairs - 1.0) * keep, 1.0 + (touched - 1.0) * keep


def remote_domains(k: int, domains: ArrayLike, node_limit: int | None = None) -> Array:
    """Expected scale-up domains other than the sender's that one token is sent to, its ``k``
    experts spread uniformly over ``domains`` domains, at most ``node_limit`` of them."""
    K = np.maximum(_a(domains), 1.0)
    hit = K * (1.0 - (1.0 - 1.0 / K) ** k)
    if node_limit is not None:
        hit = np.minimum(hit, float(node_limit))
    return np.where(K > 1, hit * (K - 1) / K, 0.0)


def exchange_time(c: Cluster, tokens: ArrayLike, hidden: int, k: int, ep: ArrayLike,
                  stride: ArrayLike, bytes_per_element: ArrayLike, *,
                  node_limit: int | None = None, network_efficiency: float = 1.0,
                  dedup: bool = True) -> Array:
    """Seconds of one dispatch (or combine) of ``tokens`` tokens per rank over an
    expert-parallel group of ``ep`` ranks ``stride`` apart, on the cluster's topology
    (:func:`~roofline.engine.network.collectives.all_to_all`).

    ``dedup`` (DeepEP's normal kernels, prefill and training): a token crosses the
    scale-out network once per remote destination domain, an all-to-all over the ``K``
    domains of ``T h b x hit`` bytes per rank (``hit`` distinct domains, at most
    ``node_limit``: :func:`remote_domains`), then its ``k`` copies spread over the ``d``
    group members of each domain on the scale-up links, an all-to-all of ``T k h b`` inside
    the domain; the two levels pipeline, so the slower sets the time. Otherwise (the
    low-latency decode kernels) every copy goes straight to its expert's rank: one
    all-to-all of ``T k h b`` bytes over the whole group (deepseek-ai/DeepEP README).
    """
    f = c.fabric
    d, K = col.span(ep, stride, f.domain)
    per_copy = _a(tokens) * hidden * _a(bytes_per_element) / network_efficiency
    flat = col.all_to_all(c, per_copy * k, ep, stride)
    if not dedup:
        return np.where(_a(ep) > 1, flat, 0.0)
    hit = np.where(K > 1, remote_domains(k, K, node_limit) * K / np.maximum(K - 1, 1), 1.0)
    out = col.all_to_all(c, per_copy * hit, K, _a(stride) * d)
    up = col.all_to_all(c, per_copy * k, d, stride)
    return np.where(_a(ep) > 1, np.maximum(out, up), 0.0)
