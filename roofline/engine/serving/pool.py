"""One pool of identical serving instances: the layout of an instance (tensor, data-parallel
attention, expert parallel), the time of one engine step on it, and its memory per chip.

An instance has ``tp x dp`` chips. Attention, dense FFNs, shared experts, embeddings and
the LM head are split ``tp`` ways inside each of ``dp`` attention groups, each group serving
its own requests (DP attention: DeepSeek-V3 report sec. 3.4; SGLang ``--enable-dp-attention``).
Routed experts are either split ``tp`` ways (``ep = 1``, then ``dp = 1``) or spread by
expert over all ``ep = tp x dp`` chips, with a dispatch and a combine all-to-all around each
MoE layer (DeepEP). ``dp = 1, ep = tp`` is vLLM's expert-parallel mode inside one tensor
group, the layout :func:`~roofline.engine.serving.inference.infer` models.

Step times come from the engine's own per-operator roofline
(:func:`~roofline.engine.timing.forward.forward_time`): the non-expert operators of one attention
group's step at ``tp``, the routed experts of all ``dp`` groups' tokens at ``tp x dp``
(each chip holding ``E / ep`` experts), plus the collectives. Every argument is a numpy
array over configurations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.network import collectives as col
from roofline.engine.operators.memory import (
    RUNTIME_RESERVE_BYTES,
    activation_bytes,
    kv_bytes_per_sequence,
    weight_bytes_per_device,
)
from roofline.engine.operators.table import operator_table, sliding_window
from roofline.engine.scenario.cluster import Cluster
from roofline.engine.scenario.precision import Precision
from roofline.engine.scenario.step import AttnWork, Step
from roofline.engine.timing.efficiency import Efficiency
from roofline.engine.timing.forward import forward_time, layer_allreduces
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec
from roofline.specs.params import ParamCount

Array = NDArray[np.float64]
#: Operators that run on the expert-parallel shard rather than the attention group.
ROUTED = ("experts",)


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class Layout:
    """One serving instance: ``tp`` chips per attention group, ``dp`` groups, routed experts
    over ``ep`` chips (1 or ``tp x dp``). Arrays broadcast over configurations."""

    tp: Array
    dp: Array
    ep: Array

    @staticmethod
    def of(tp: ArrayLike = 1, dp: ArrayLike = 1, ep: ArrayLike = 1) -> Layout:
        return Layout(_a(tp), _a(dp), _a(ep))

    @property
    def chips(self) -> Array:
        """Chips per instance."""
        return self.tp * self.dp

    def reasons(self, m: ModelSpec) -> NDArray[np.object_]:
        """Why each layout is impossible for ``m`` ('' where it is valid)."""
        tp, dp, ep = np.broadcast_arrays(self.tp, self.dp, self.ep)
        out = np.full(tp.shape, "", dtype=object)
        heads = m.attention.num_attention_heads if m.attention else 1
        out[heads % tp != 0] = f"tp must divide the {heads} attention heads"
        if m.moe is None:
            out[(out == "") & ((ep > 1) | (dp > 1))] = "dp/ep > 1 need a mixture-of-experts model"
        else:
            out[(out == "") & (ep != 1) & (ep != tp * dp)] = "ep must be 1 or tp x dp"
            out[(out == "") & (ep == 1) & (dp > 1)] = "dp attention needs ep = tp x dp"
            out[(out == "") & (m.moe.num_experts % ep != 0)] = (
                f"ep must divide the {m.moe.num_experts} experts")
        return out


@dataclass(frozen=True)
class Pool:
    """What every step of a pool is timed with: model, precision, chip links, efficiency."""

    model: ModelSpec
    precision: Precision
    cluster: Cluster
    eff: Efficiency
    overlap: bool = False  # two micro-batches hide communication behind compute (DeepSeek)

    @property
    def chip(self) -> Chip:
        return self.cluster.chip


def dispatch_s(pool: Pool, layout: Layout, rank_bytes: ArrayLike, dedup: bool) -> Array:
    """One dispatch (or combine) all-to-all over the ep chips: each chip sends
    ``rank_bytes`` (its tokens' hidden states) to the k experts of each token.

    DeepEP's normal kernels (prefill) send a token once to each remote node holding one of
    its experts and forward it over NVLink inside the node; its low-latency kernels
    (decode) send one copy per expert over RDMA. All peers' messages are posted at once
    from the GPU, so the exchange pays one link latency (deepseek-ai/DeepEP README).
    Expected distinct nodes among k uniform expert picks over N nodes: N (1 - (1 - 1/N)^k).
    """
    m, c = pool.model, pool.cluster
    assert m.moe is not None
    k = m.moe.num_experts_per_tok
    ep, per_token = layout.ep, _a(rank_bytes)
    inside = np.minimum(ep, c.domain)
    nodes = np.ceil(ep / inside)
    within = per_token * k * (inside - 1) / ep
    if dedup:
        across = per_token * nodes * (1 - (1 - 1 / nodes) ** k) * (nodes - 1) / nodes
    else:
        across = per_token * k * (ep - inside) / ep
    with np.errstate(divide="ignore", invalid="ignore"):
        t_in = np.where(within > 0, within / c.up_bw, 0.0) if c.up_bw > 0 else np.where(
            within > 0, np.inf, 0.0)
        t_out = np.where(across > 0, across / c.out_bw, 0.0) if c.out_bw > 0 else np.where(
            across > 0, np.inf, 0.0)
    latency = np.where(ep > c.domain, c.fabric.out_hop_s, c.fabric.up_hop_s)
    return np.where(ep > 1, np.maximum(t_in, t_out) + latency, 0.0)


def moe_comm_s(pool: Pool, layout: Layout, group_tokens: ArrayLike, dedup: bool) -> Array:
    """Communication of one step: tensor all-reduces inside an attention group, and per MoE
    layer either an all-reduce (experts split by tensor) or a dispatch and a combine over
    the ep chips, each chip sending its 1/tp slice of its group's tokens, then an
    all-gather back to the tp ranks (Megatron-LM; DeepEP)."""
    m, p, c = pool.model, pool.precision, pool.cluster
    tp, ep = layout.tp, layout.ep
    msg = _a(group_tokens) * m.hidden_size * p.activation_bytes / pool.eff.network
    dense_ar, moe_layers = layer_allreduces(m)
    ar = col.all_reduce(c, msg, tp)
    total = dense_ar * ar
    if moe_layers and m.moe is not None:
        wide = 2 * dispatch_s(pool, layout, msg / tp, dedup) + col.all_gather(c, msg, tp)
        total = total + moe_layers * np.where(ep > 1, wide, ar)
    return total


def step_time(pool: Pool, layout: Layout, step: Step) -> tuple[Array, Array]:
    """(compute, communication) seconds of one step in which every attention group runs
    ``step`` (its own sequences); the routed experts see the tokens of all groups. A step
    without decodes dispatches with DeepEP's normal kernels, any other with low-latency."""
    m, p = pool.model, pool.precision
    ops = [op for op in operator_table(m, p, step, layout.tp, 1) if op.name not in ROUTED]
    if m.moe is not None:  # only the routed experts of the pooled step are timed
        pooled = Step(decode=AttnWork.decode(step.tokens * layout.dp, 1.0))
        shard = np.where(layout.ep > 1, layout.ep, layout.tp)
        ops += [op for op in operator_table(m, p, pooled, shard, layout.ep)
                if op.name in ROUTED]
    compute = forward_time(m, p, pool.cluster, step, pool.eff, layout.tp, 1, ops=ops).compute_s
    prefill_only = not np.any(step.decode.tokens)
    return compute, moe_comm_s(pool, layout, step.tokens, prefill_only)


def step_s(pool: Pool, layout: Layout, step: Step) -> Array:
    """Seconds of one step: compute plus communication, or the larger of the two when the
    pool overlaps them (two-micro-batch overlap)."""
    compute, comm = step_time(pool, layout, step)
    return np.maximum(compute, comm) if pool.overlap else compute + comm


def prefill_s(pool: Pool, layout: Layout, batch: ArrayLike, new: ArrayLike,
              cached: ArrayLike = 0) -> Array:
    """One prefill step: ``batch`` prompts per attention group, each computing ``new``
    tokens after ``cached`` ones already in the KV cache (a prefix-cache hit)."""
    w = sliding_window(pool.model)
    return step_s(pool, layout, Step(prefill=AttnWork.prefill(batch, new, cached, w)))


def decode_s(pool: Pool, layout: Layout, batch: ArrayLike, context: ArrayLike,
             tokens_per_seq: ArrayLike = 1) -> Array:
    """One decode step of ``batch`` sequences per attention group at ``context`` tokens;
    ``tokens_per_seq > 1`` verifies speculated tokens (a prefill-shaped step after the
    cached context)."""
    w = sliding_window(pool.model)
    n = _a(tokens_per_seq)
    if np.all(n == 1):
        return step_s(pool, layout, Step.for_decode(batch, context, w))
    work = AttnWork.prefill(batch, n, _a(context) - 1, w)
    return step_s(pool, layout, Step(decode=work))


def mixed_s(pool: Pool, layout: Layout, n_decode: ArrayLike, context: ArrayLike,
            chunk: ArrayLike, prompt: ArrayLike, tokens_per_seq: ArrayLike = 1) -> Array:
    """A chunked-prefill step (Sarathi-Serve, Agrawal et al. 2024): ``n_decode`` sequences
    per group each decoding (or verifying) ``tokens_per_seq`` tokens at ``context``, plus
    ``chunk`` prompt tokens attending on average to half their ``prompt``-token prompt."""
    w = sliding_window(pool.model)
    s = _a(prompt)
    pre = AttnWork.prefill(_a(chunk) / s, s, 0, w)
    dec = AttnWork.prefill(n_decode, tokens_per_seq, _a(context) - 1, w)
    return step_s(pool, layout, Step(prefill=pre, decode=dec))


def weights_per_chip(pool: Pool, layout: Layout, params: ParamCount) -> Array:
    """Weight bytes on one chip: routed experts over ``ep`` chips (``tp`` when ep = 1),
    everything else over the ``tp`` chips of an attention group."""
    m, p = pool.model, pool.precision
    rest = weight_bytes_per_device(m, p, replace(params, experts_routed=0), layout.tp)
    shard = np.where(layout.ep > 1, layout.ep, layout.tp)
    return rest + params.experts_routed * p.weight_bytes("experts") / shard


def memory_per_chip(pool: Pool, layout: Layout, params: ParamCount, seqs: ArrayLike,
                    context: ArrayLike, step_tokens: ArrayLike,
                    extra_bytes: ArrayLike = 0.0) -> Array:
    """Bytes per chip: weights, KV cache of ``seqs`` sequences per group at ``context``
    tokens (MLA latents replicated on each tp rank), one step's activations, the runtime
    reserve and ``extra_bytes`` (e.g. a draft head)."""
    m, p = pool.model, pool.precision
    kv = _a(seqs) * kv_bytes_per_sequence(m, p, context, layout.tp)
    act = activation_bytes(m, p, step_tokens, seqs, layout.tp)
    return (weights_per_chip(pool, layout, params) + kv + act + RUNTIME_RESERVE_BYTES +
            _a(extra_bytes))


def max_seqs(pool: Pool, layout: Layout, params: ParamCount, context: ArrayLike,
             extra_bytes: ArrayLike = 0.0, capacity: float | None = None) -> Array:
    """Most sequences per attention group whose KV cache (at ``context``) fits beside the
    weights in device memory (``capacity``: bytes per chip, default the chip's)."""
    m, p = pool.model, pool.precision
    cap = pool.chip.memory.capacity if capacity is None else capacity
    free = cap - weights_per_chip(pool, layout, params) - RUNTIME_RESERVE_BYTES - _a(extra_bytes)
    per_seq = kv_bytes_per_sequence(m, p, context, layout.tp) + activation_bytes(
        m, p, 1.0, 1.0, layout.tp)
    return np.maximum(np.floor(free / per_seq), 0.0)
