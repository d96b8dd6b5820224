"""Time of one forward pass on a parallel layout: per-operator roofline plus the
collectives that tensor, expert and pipeline parallelism add."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.network import collectives as col
from roofline.engine.operators.table import Op, operator_table
from roofline.engine.scenario.cluster import Cluster
from roofline.engine.scenario.precision import Precision
from roofline.engine.scenario.step import Step
from roofline.engine.timing.efficiency import Efficiency
from roofline.engine.timing.roofline import OpTime, time_op
from roofline.specs.model import ModelSpec

Array = NDArray[np.float64]


@dataclass(frozen=True)
class ForwardTime:
    """One forward pass of the whole model (all pipeline stages in turn), seconds."""

    ops: list[OpTime]
    compute_s: Array      # sum over operators of max(compute, memory)
    tp_comm_s: Array      # tensor-parallel all-reduces
    ep_comm_s: Array      # expert-parallel all-to-all
    pp_comm_s: Array      # pipeline hand-offs

    @property
    def comm_s(self) -> Array:
        return self.tp_comm_s + self.ep_comm_s + self.pp_comm_s

    @property
    def total_s(self) -> Array:
        """Operators plus communication, not overlapped (serving kernels rarely overlap)."""
        return self.compute_s + self.comm_s


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
               tp: ArrayLike, ep: ArrayLike, pp: ArrayLike) -> tuple[Array, Array, Array]:
    """(tensor-parallel, expert-parallel, pipeline) communication of one forward pass, s."""
    t, tp, ep, pp = (np.asarray(x, dtype=np.float64) for x in (tokens, tp, ep, pp))
    if tp.ndim == ep.ndim == pp.ndim == 0 and tp == ep == pp == 1:  # one chip: no traffic
        zero = np.zeros(())
        return zero, zero, zero
    msg = t * m.hidden_size * p.activation_bytes / eff.network
    dense_ar, moe_layers = layer_allreduces(m)
    ar = col.all_reduce(cluster, msg, tp)
    tp_s = dense_ar * ar
    ep_s = np.zeros_like(tp_s)
    if moe_layers:
        k = m.moe.num_experts_per_tok if m.moe else 0
        # Experts by tensor parallelism: one all-reduce after the MoE block. By expert
        # parallelism: dispatch and combine all-to-all over the ep group, an all-reduce over
        # the remaining tp/ep ranks, and an all-gather so attention sees every token.
        inner = tp / ep
        a2a = col.all_to_all(cluster, msg / np.maximum(ep, 1) * k, ep, inner)
        ep_path = 2 * a2a + col.all_reduce(cluster, msg, inner) + col.all_gather(
            cluster, msg, ep, inner)
        tp_s = tp_s + moe_layers * np.where(ep > 1, 0.0, ar)
        ep_s = moe_layers * np.where(ep > 1, ep_path, 0.0)
    # Stage boundaries crossing a scale-up domain go over the scale-out network.
    per_domain = np.maximum(np.floor(cluster.domain / np.maximum(tp, 1)), 1)
    crossing = np.where(tp >= cluster.domain, pp - 1, np.floor((pp - 1) / per_domain))
    inside = (pp - 1) - crossing
    with np.errstate(invalid="ignore"):  # 0 hand-offs x no link = 0, not NaN
        pp_s = (np.where(crossing > 0, crossing * col.p2p(cluster, msg, True), 0.0) +
                np.where(inside > 0, inside * col.p2p(cluster, msg, False), 0.0))
    return tp_s, ep_s, pp_s


def forward_time(m: ModelSpec, p: Precision, cluster: Cluster, step: Step, eff: Efficiency,
                 tp: ArrayLike = 1, ep: ArrayLike = 1, pp: ArrayLike = 1, *,
                 fused_attention: bool = True, mla_absorb: bool | None = None,
                 ops: list[Op] | None = None) -> ForwardTime:
    """Roofline time of one forward pass of ``step`` through every layer of ``m``
    (``ops``: a precomputed :func:`operator_table` of the same step, to time it again at
    another efficiency)."""
    if ops is None:
        ops = operator_table(m, p, step, tp, ep, fused_attention=fused_attention,
                             mla_absorb=mla_absorb)
    timed = [time_op(op, cluster.chip, eff) for op in ops]
    compute = np.zeros(())
    for t in timed:
        compute = compute + t.time_s
    tp_s, ep_s, pp_s = comm_times(m, p, cluster, eff, step.tokens, tp, ep, pp)
    return ForwardTime(timed, compute, tp_s, ep_s, pp_s)
