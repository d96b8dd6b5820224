"""One pool of identical serving instances: the layout of an instance (tensor, data-parallel
attention, expert parallel), the time of one engine step on it, and its memory per chip.

An instance has ``tp x dp`` chips. Attention, dense FFNs, shared experts, embeddings and
the LM head are split ``tp`` ways inside each of ``dp`` attention groups, each group serving
its own requests (DP attention: DeepSeek-V3 report sec. 3.4; SGLang ``--enable-dp-attention``).
Routed experts are either split ``tp`` ways (``ep = 1``, then ``dp = 1``) or spread by
expert over all ``ep = tp x dp`` chips, with a dispatch and a combine all-to-all around each
MoE layer (DeepEP), counted as every forward pass counts them
(:func:`~roofline.engine.timing.forward.comm_times`, whose exchange is
:func:`~roofline.engine.network.moe_comm.exchange_time`); ``dp = 1, ep = tp`` is vLLM's
expert-parallel mode. :func:`~roofline.engine.serving.inference.infer` takes the same
layouts and also ``ep`` dividing ``tp x dp``.

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
from roofline.engine.timing.forward import comm_times, experts_on_busiest_rank, forward_time
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec
from roofline.specs.params import ParamCount

Array = NDArray[np.float64]
#: Operators that run on the expert-parallel shard rather than the attention group.
ROUTED = ("experts", "moe_permute")


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
    redundant_experts: int = 0  # replicas of hot experts per instance (EPLB)

    @property
    def chip(self) -> Chip:
        return self.cluster.chip


def moe_comm_s(pool: Pool, layout: Layout, group_tokens: ArrayLike, dedup: bool) -> Array:
    """Communication of one step: the tensor-parallel collectives inside an attention
    group and, per MoE layer, the expert exchange over the ``ep`` chips, as every forward
    pass counts them (:func:`~roofline.engine.timing.forward.comm_times`; ``dedup``:
    DeepEP's normal kernels, for steps without decodes)."""
    tp_s, ep_s, _ = comm_times(pool.model, pool.precision, pool.cluster, pool.eff,
                               group_tokens, layout.tp, layout.ep, 1, layout.dp, dedup=dedup)
    return tp_s + ep_s


def step_time(pool: Pool, layout: Layout, step: Step) -> tuple[Array, Array]:
    """(compute, communication) seconds of one step in which every attention group runs
    ``step`` (its own sequences); the routed experts see the tokens of all groups. A step
    without decodes dispatches with DeepEP's normal kernels, any other with low-latency."""
    m, p = pool.model, pool.precision
    ops = [op for op in operator_table(m, p, step, layout.tp, 1) if op.name not in ROUTED]
    if m.moe is not None:  # only the routed experts of the pooled step are timed
        pooled = Step(decode=AttnWork.decode(step.tokens * layout.dp, 1.0))
        shard = np.where(layout.ep > 1, layout.ep, layout.tp)
        ops += [experts_on_busiest_rank(op, m, p, pooled.tokens, shard, 1, layout.ep,
                                        pool.redundant_experts) if op.name == "experts" else op
                for op in operator_table(m, p, pooled, shard, layout.ep) if op.name in ROUTED]
    compute = forward_time(m, p, pool.cluster, step, pool.eff, layout.tp, 1, ops=ops,
                           busiest=False).compute_s
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
