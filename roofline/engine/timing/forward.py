"""Time of one forward pass on a parallel layout: per-operator roofline plus the
collectives that tensor, data-parallel attention, expert and pipeline parallelism add."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.network import collectives as col
from roofline.engine.network import moe_comm
from roofline.engine.operators.table import Op, operator_table
from roofline.engine.scenario.cluster import Cluster
from roofline.engine.scenario.precision import Precision
from roofline.engine.scenario.step import Step
from roofline.engine.timing.efficiency import Efficiency
from roofline.engine.timing.roofline import OpTime, time_op
from roofline.specs.dtypes import Dtype
from roofline.specs.model import ModelSpec
from roofline.specs.params import expert_params

Array = NDArray[np.float64]


@dataclass(frozen=True)
class ForwardTime:
    """One forward pass of the whole model (all pipeline stages in turn), seconds."""

    ops: list[OpTime]
    compute_s: Array      # sum over operators of max(compute, memory)
    tp_comm_s: Array      # tensor-parallel all-reduces
    ep_comm_s: Array      # expert-parallel dispatch / combine
    pp_comm_s: Array      # pipeline hand-offs
    hidden_s: Array = field(default_factory=lambda: np.zeros(()))  # overlapped (TBO)

    @property
    def comm_s(self) -> Array:
        return self.tp_comm_s + self.ep_comm_s + self.pp_comm_s

    @property
    def total_s(self) -> Array:
        """Operators plus communication, less what two-batch overlap hides."""
        return self.compute_s + self.comm_s - self.hidden_s


def layer_allreduces(m: ModelSpec) -> tuple[int, int]:
    """Per forward pass: (tensor-parallel all-reduces outside MoE blocks, MoE layers).
    Megatron-LM puts one all-reduce after attention and one after
    the MLP (Shoeybi et al. 2019, fig. 3); a parallel attention+MLP block needs one."""
    dense_ar = moe_layers = 0
    for (_, ffn), n in m.layer_counts().items():
        if ffn == "moe":
            moe_layers += n
            dense_ar += n  # the mixer's all-reduce
        else:
            per = 1 if (m.parallel_attention_mlp or ffn == "none") else 2
            dense_ar += per * n
    return dense_ar, moe_layers


def comm_times(m: ModelSpec, p: Precision, cluster: Cluster, eff: Efficiency, tokens: ArrayLike,
               tp: ArrayLike, ep: ArrayLike, pp: ArrayLike, dp: ArrayLike = 1,
               dedup: bool = True) -> tuple[Array, Array, Array]:
    """(tensor-parallel, expert-parallel, pipeline) communication of one forward pass, s,
    for ``tokens`` tokens per attention group (``dp`` groups of ``tp`` chips per stage).

    Experts by tensor parallelism (``ep = 1``): one all-reduce after the MoE block over the
    ``tp`` ranks, or, with ``dp > 1``, an all-gather of every group's tokens and a
    reduce-scatter over all ``tp x dp`` ranks. By expert parallelism: the mixer's
    all-reduce becomes a reduce-scatter (each tp rank keeps 1/tp of the tokens), DeepEP's
    dispatch (fp8 when the experts compute in fp8) and combine (bf16) over the ``ep`` ranks
    (:func:`~roofline.engine.network.moe_comm.exchange_time`; ``dedup=False``: the low-latency
    kernels' one copy per expert, for passes that carry decodes), an all-reduce of
    expert-tensor-parallel partial sums when ``ep < tp x dp``, and an all-gather back to
    the tp ranks (SGLang's DP attention; DeepEP README).
    """
    t, tp, ep, pp, dp = (np.asarray(x, dtype=np.float64) for x in (tokens, tp, ep, pp, dp))
    if all(x.ndim == 0 and x == 1 for x in (tp, ep, pp, dp)):  # one chip: no traffic
        zero = np.zeros(())
        return zero, zero, zero
    ab = p.activation_bytes
    msg = t * m.hidden_size * ab / eff.network
    dense_ar, moe_layers = layer_allreduces(m)
    ar = col.all_reduce(cluster, msg, tp)
    tp_s = dense_ar * ar
    ep_s = np.zeros_like(tp_s)
    if moe_layers and m.moe is not None:
        k = m.moe.num_experts_per_tok
        n = tp * dp
        inner = np.maximum(n / np.maximum(ep, 1), 1.0)
        disp = (moe_comm.FP8_DISPATCH_BYTES if p.compute_dtype("experts") == Dtype.fp8
                else ab)
        pair = sum(moe_comm.exchange_time(cluster, t / tp, m.hidden_size, k, ep, inner, b,
                                          network_efficiency=eff.network, dedup=dedup)
                   for b in (disp, ab))
        partial = np.where(inner > 1, col.all_reduce(cluster, msg * dp * k / np.maximum(
            ep, 1), inner), 0.0)
        rs = col.reduce_scatter(cluster, msg, tp)
        wide = pair + partial + col.all_gather(cluster, msg, tp) + rs - ar
        narrow = np.where(dp > 1, 2 * col.all_gather(cluster, msg * dp, n), ar)
        tp_s = tp_s + moe_layers * np.where(ep > 1, 0.0, narrow)
        ep_s = moe_layers * np.where(ep > 1, wide, 0.0)
    # Stage boundaries crossing a scale-up domain go over the scale-out network.
    per_domain = np.maximum(np.floor(cluster.domain / np.maximum(tp * dp, 1)), 1)
    crossing = np.where(tp * dp >= cluster.domain, pp - 1, np.floor((pp - 1) / per_domain))
    inside = (pp - 1) - crossing
    with np.errstate(invalid="ignore"):  # 0 hand-offs x no link = 0, not NaN
        pp_s = (np.where(crossing > 0, crossing * col.p2p(cluster, msg, True), 0.0) +
                np.where(inside > 0, inside * col.p2p(cluster, msg, False), 0.0))
    return tp_s, ep_s, pp_s


def experts_on_busiest_rank(op: Op, m: ModelSpec, p: Precision, tokens: ArrayLike,
                            tp: ArrayLike, dp: ArrayLike, ep: ArrayLike,
                            redundant: ArrayLike = 0, busy: ArrayLike | None = None) -> Op:
    """The routed-expert operator on the busiest chip of a replica stage: the ``tokens`` of
    each of ``busy`` attention groups (default all ``dp``) reach the experts, spread ``ep``
    ways and tensor-split over the ``tp x dp / ep`` chips of each expert-parallel rank, at
    the load of the busiest rank (:func:`~roofline.engine.network.moe_comm.busiest_rank`)."""
    moe = m.moe
    assert moe is not None
    E, k = moe.num_experts, moe.num_experts_per_tok
    t, tp, dp, ep = (np.asarray(x, dtype=np.float64) for x in (tokens, tp, dp, ep))
    everyone = t * (dp if busy is None else np.asarray(busy, dtype=np.float64))
    pairs, touched = moe_comm.busiest_rank(everyone, k, E, ep, redundant)
    inner = tp * dp / ep
    per_expert = expert_params(m.hidden_size, moe) * p.weight_bytes("experts")
    read = E / ep * moe_comm.distinct_experts(everyone, k, E) * touched
    return replace(op, flops=op.flops * pairs, act_bytes=op.act_bytes * pairs,
                   weight_bytes=op.layers * read * per_expert / inner)


def two_batch_overlap(timed: list[OpTime], compute: Array, comm: Array) -> tuple[Array, Array]:
    """(compute, hidden communication) when the batch runs as two micro-batches whose
    dispatch / combine overlap each other's compute (SGLang's two-batch overlap, DeepSeek-V3
    sec. 3.4): every weight is read twice, and of a two-stage pipeline over the halves
    ``(C + M + max(C, M)) / 2`` is left, so ``min(C, M) / 2`` of the communication hides."""
    extra = np.zeros(())
    for t in timed:
        share = np.asarray(t.op.weight_bytes) / np.maximum(np.asarray(t.op.bytes), 1e-300)
        w = t.memory_s * share
        half = np.maximum(t.compute_s / 2, w + (t.memory_s - w) / 2)
        extra = extra + np.maximum(2 * half - t.time_s, 0.0)
    c = compute + extra
    return c, np.minimum(c, comm) / 2


def forward_time(m: ModelSpec, p: Precision, cluster: Cluster, step: Step, eff: Efficiency,
                 tp: ArrayLike = 1, ep: ArrayLike = 1, pp: ArrayLike = 1, *,
                 fused_attention: bool = True, mla_absorb: bool | None = None,
                 ops: list[Op] | None = None, dp: ArrayLike = 1, redundant: ArrayLike = 0,
                 tbo: bool = False, busy: ArrayLike | None = None,
                 busiest: bool = True) -> ForwardTime:
    """Roofline time of one forward pass of ``step`` through every layer of ``m``
    (``ops``: a precomputed :func:`operator_table` of the same step, to time it again at
    another efficiency). ``step`` is one attention group's work; with ``dp > 1`` groups the
    routed experts see all of them (``busy`` of them when the batch leaves some idle;
    :func:`experts_on_busiest_rank`); ``tbo`` overlaps the
    expert all-to-all with compute (:func:`two_batch_overlap`)."""
    if ops is None:
        ops = operator_table(m, p, step, tp, ep, fused_attention=fused_attention,
                             mla_absorb=mla_absorb)
    if m.moe is not None and busiest:  # busiest=False: ``ops`` already carry the load
        ops = [experts_on_busiest_rank(op, m, p, step.tokens, tp, dp, ep, redundant, busy)
               if op.name == "experts" else op for op in ops]
    timed = [time_op(op, cluster.chip, eff) for op in ops]
    compute = np.zeros(())
    for t in timed:
        compute = compute + t.time_s
    tp_s, ep_s, pp_s = comm_times(m, p, cluster, eff, step.tokens, tp, ep, pp, dp,
                                  dedup=not np.any(step.decode.tokens))
    hidden = np.zeros(())
    if tbo:
        compute, hidden = two_batch_overlap(timed, compute, ep_s)
    return ForwardTime(timed, compute, tp_s, ep_s, pp_s, hidden)
