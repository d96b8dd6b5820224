"""Training: step time with its parts, MFU and HFU, memory per device, time, cost and energy
of a run, vectorised over layouts; and the exhaustive layout search.

Layout (documented once, used by every stride below). ``count = tp x cp x dp x pp`` ranks,
numbered with tensor parallelism innermost:

    rank = t + tp * (c + cp * (d + dp * p))     t < tp, c < cp, d < dp, p < pp

so a tensor-parallel group has stride 1, a context-parallel group stride ``tp``, the
data-parallel group stride ``tp x cp`` and a pipeline group stride ``tp x cp x dp``.
Expert parallelism folds into data parallelism (Megatron-Core, DeepSpeed-MoE): an
expert-parallel group is ``ep`` consecutive data-parallel ranks (stride ``tp x cp``), and
expert weights are data-parallel over the remaining ``dp / ep``. Chips are packed into
scale-up domains in rank order, so :func:`collectives.span` with these strides says
which groups stay on NVLink / ICI and which cross the scale-out network.

Per micro-batch and pipeline stage: forward operators by the roofline
(:func:`operator_table` and :func:`time_op`, as :func:`forward_time` does), backward 2x
forward, recomputation per policy; tensor-parallel all-reduces (or all-gather +
reduce-scatter with sequence parallelism) forward and backward; expert all-to-all; context
parallelism as ring attention (KV passed around the ring, hidden behind attention compute)
or Ulysses all-to-all; pipeline point-to-point. Per step: ``m`` micro-batches plus the 1F1B
bubble ``(p - 1)/v`` micro-batch times (Narayanan et al. 2021 sec. 2.2), data-parallel
gradient reduction and ZeRO gathers partly hidden behind compute (``dp_overlap``), and the
optimizer update (memory-bound).
"""


from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.network import collectives as col
from roofline.engine.network import moe_comm
from roofline.engine.operators.table import Op, operator_table, sliding_window
from roofline.engine.scenario.cluster import Cluster
from roofline.engine.scenario.precision import Precision
from roofline.engine.timing.efficiency import Efficiency
from roofline.engine.timing.forward import layer_allreduces
from roofline.engine.timing.roofline import time_op
from roofline.engine.training import schedules as sched
from roofline.engine.training.flops import (
    NON_LAYER_OPS,
    RECOMPUTE,
    recompute_factor,
    training_step,
)
from roofline.engine.training.memory import (
    RECOMPUTE_CODES,
    stage_params,
    stage_share,
)
from roofline.specs.model import ModelSpec

Array = NDArray[np.float64]
CpMode = Literal["ring", "ulysses"]


# --------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepTime:
    """Seconds per training step, by part (arrays over the configurations)."""

    compute: Array      # m micro-batches of forward + backward + recomputation, one stage
    tp_comm: Array      # tensor-parallel collectives (not overlapped)
    cp_comm: Array      # context-parallel: ring KV passing beyond attention, or all-to-all
    ep_comm: Array      # expert-parallel all-to-all (dispatch and combine)
    pp_comm: Array      # pipeline point-to-point sends
    bubble: Array       # pipeline fill and drain (schedules.bubble)
    dp_comm: Array      # exposed data-parallel gradient reduction and ZeRO gathers
    optimizer: Array    # optimizer update (memory-bound)
    dp_comm_total: Array  # gradient reduction and ZeRO gathers before overlap
    microbatch: Array   # one micro-batch through one stage, communication included

    @property
    def total(self) -> Array:
        return (self.compute + self.tp_comm + self.cp_comm + self.ep_comm + self.pp_comm +
                self.bubble + self.dp_comm + self.optimizer)


def _sum_times(times: list[tuple[Op, Array]], pick: Callable[[Op], float]) -> Array:
    total = np.zeros(())
    for op, t in times:
        f = pick(op)
        if f:
            total = total + f * t
    return total


def _exposed(comm: Array, window: Array, overlap: Array) -> Array:
    """Communication left on the critical path when a share ``overlap`` of it runs under
    ``window`` seconds of independent compute."""
    return comm - overlap * np.minimum(comm, window)


def _stage_forward(L: int, pp: Array, interleave: Array, layer_fwd: Array, head_fwd: Array,
                   mtp_layers: int, schedule: ArrayLike) -> tuple[Array, Array]:
    """(forward seconds of one micro-batch on the slowest device, its share of the layers).

    The last stage carries its layers, the LM head and any multi-token-prediction modules
    (one average layer plus the shared head each; DeepSeek-V3 sec. 2.2). DualPipe puts
    stages i and p - 1 - i on one device (DeepSeek-V3 sec. 3.2.1): the device with the first
    and the last stage averages them over its two directions.
    """
    share = stage_share(L, pp, interleave)  # 1/pp when stages are even
    mtp_fwd = mtp_layers * (layer_fwd / L + head_fwd)
    fwd = layer_fwd * share + head_fwd + mtp_fwd
    last_layers = np.maximum(L - (pp - 1) * np.ceil(L / pp), 0.0) / L
    paired = np.maximum(layer_fwd * share, 0.5 * (layer_fwd * (share + last_layers) +
                                                  head_fwd + mtp_fwd))
    dual = np.asarray(schedule) == sched.SCHEDULE_CODES["dualpipe"]
    return np.where(dual, paired, fwd), share


def step_time(m: ModelSpec, p: Precision, cluster: Cluster, eff: Efficiency, *,
              seq_len: Array, micro_batch: Array, microbatches: Array, tp: Array, pp: Array,
              dp: Array, cp: Array, ep: Array, zero: Array, recompute: Array,
              sequence_parallel: NDArray[np.bool_], interleave: Array, dp_overlap: Array,
              count: Array, cp_mode: CpMode = "ring", flash: bool = True,
              weight_bytes: float = 2.0, grad_bytes: float = 2.0,
              optimizer_update_bytes: float = 28.0, schedule: ArrayLike = 0,
              comm_overlap: ArrayLike = 1.0, dispatch_bytes: float | None = None,
              node_limit: int | None = None, comm_sm_share: float = sched.COMM_SM_SHARE,
              mtp_layers: int = 0) -> StepTime:
    """Time of one training step (see the module docstring for the model).

    ``schedule``: a :data:`~roofline.engine.training.schedules.SCHEDULE_CODES` code;
    ``comm_overlap`` the share of overlappable expert / pipeline communication actually
    hidden; ``dispatch_bytes`` bytes per element of the expert dispatch (combine in
    activation bytes); ``node_limit`` scale-up domains a token may be sent to;
    ``mtp_layers`` multi-token-prediction modules trained on the last stage.
    """
    c = cluster
    ab = p.activation_bytes
    h = m.hidden_size
    step = training_step(micro_batch, seq_len, cp, sliding_window(m))
    ops = operator_table(m, p, step, tp, ep, fused_attention=flash)
    # operator_table spreads experts over the tp ranks only (serving's layout); in training
    # each device holds E/ep of them, so their weight traffic is 1/ep of that, and the
    # busiest of the ep ranks, which sets the pace, computes more than the mean rank's
    # token-expert pairs (moe_comm.busiest_rank over the group's micro-batch tokens).
    # Sequence parallelism splits the norms and residual adds over the tp ranks
    # (Korthikanti et al. 2022 sec. 4.2.2).
    sp_div = np.where(sequence_parallel, tp, 1.0)
    busy = np.ones(())
    if m.moe is not None:
        busy, _ = moe_comm.busiest_rank(micro_batch * seq_len / cp * ep,
                                        m.moe.num_experts_per_tok, m.moe.num_experts, ep)
    ops = [replace(op, weight_bytes=op.weight_bytes / ep, flops=op.flops * busy,
                   act_bytes=op.act_bytes * busy) if op.name == "experts" else
           replace(op, flops=op.flops / sp_div, act_bytes=op.act_bytes / sp_div)
           if op.name == "norms_elementwise" else op for op in ops]
    times = [(op, time_op(op, c.chip, eff).time_s) for op in ops]
    layer_fwd = _sum_times(times, lambda op: float(op.name not in NON_LAYER_OPS))
    head_fwd = _sum_times(times, lambda op: float(op.name in NON_LAYER_OPS))
    attn_fwd = _sum_times(times, lambda op: float(op.kind == "attention"))
    rc = np.asarray(recompute)
    rec = np.select([rc == RECOMPUTE_CODES[r] for r in RECOMPUTE],
                    [_sum_times(times, lambda op, r=r: recompute_factor(op, r, flash))
                     for r in RECOMPUTE])
    full = (rc == RECOMPUTE_CODES["full"]).astype(np.float64)
    fwd_mb, share = _stage_forward(m.num_hidden_layers, pp, interleave, layer_fwd, head_fwd,
                                   mtp_layers, schedule)
    compute_mb = 3 * fwd_mb + rec * share
    bwd_mb = compute_mb - fwd_mb
    net = eff.network
    tokens = micro_batch * seq_len / cp  # per device
    act_msg = tokens * h * ab / net

    # Tensor parallel: Megatron's 2 all-reduces per layer forward and 2 backward (Shoeybi et
    # al. 2019 fig. 4); with sequence parallelism each becomes all-gather + reduce-scatter,
    # the same bytes (Korthikanti et al. 2022 sec. 4.2.2). Full recompute repeats forward's.
    dense_ar, moe_layers = layer_allreduces(m)
    per_coll = np.where(sequence_parallel, 2 * col.all_gather(c, act_msg, tp, 1),
                        col.all_reduce(c, act_msg, tp, 1))
    tp_mb = (dense_ar + moe_layers) * share * per_coll * (2 + full)

    # Context parallel.
    mixers = m.mixers()
    n_attn = sum(x != "mamba" for x in mixers)
    a = m.attention
    cp_mb = np.zeros(())
    if a is not None and n_attn:
        H = a.num_attention_heads / tp
        if m.mla is not None:  # decompressed per-head k (nope + rope) and v; q and o alike
            d_qk = m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim
            kv_width = q_o_width = H * (d_qk + m.mla.v_head_dim)
        else:
            kv_width = 2 * np.ceil(a.kv_heads / tp) * m.head_dim
            q_o_width = 2 * H * m.head_dim
        if cp_mode == "ring":
            # Ring attention (Liu et al. 2023; Megatron CP): cp - 1 steps, each passing one
            # KV chunk to the next rank while attending to the current one; forward exposed
            # = max(0, comm - attention), backward passes KV and dKV over 2x the compute.
            _, k = col.span(cp, tp, c.domain)
            kv_chunk = tokens * kv_width * ab / net
            ring = (cp - 1) * col.p2p(c, kv_chunk, k > 1)
            exposed = np.maximum(0.0, ring - attn_fwd / n_attn)
            cp_mb = n_attn * share * exposed * (3 + full)
        else:
            # Ulysses (Jacobs et al. 2023): all-to-all q, k, v to head-sharded, o back.
            a2a = col.all_to_all(c, tokens * (kv_width + q_o_width) * ab / net, cp, tp)
            cp_mb = n_attn * share * a2a * (2 + full)
        cp_mb = np.where(cp > 1, cp_mb, 0.0)

    # Expert parallel: dispatch and combine per MoE layer forward, and their mirror images
    # backward (the gradient of combine is dispatched, of dispatch combined: DeepSeek-V3
    # sec. 3.3.2), repeated by full recomputation; each tp rank sends its sequence shard.
    ep_mb = np.zeros(())
    if moe_layers and m.moe is not None:
        k_tok = m.moe.num_experts_per_tok
        toks = tokens / sp_div
        disp = ab if dispatch_bytes is None else dispatch_bytes
        pair = sum(moe_comm.exchange_time(c, toks, h, k_tok, ep, tp * cp, b,
                                          node_limit=node_limit, network_efficiency=net)
                   for b in (disp, ab))
        ep_mb = moe_layers * share * pair * (2 + full)

    # Pipeline: each micro-batch's activations forward and gradients backward, once per
    # virtual stage; scatter-gather over tp (Narayanan et al. 2021 sec. 4.1). A pipeline that
    # spans more than one scale-up domain has a hop on the scale-out network: stages run at
    # the slowest hop.
    crosses = count > c.domain
    pp_mb = np.where(pp > 1, 2 * interleave * col.p2p(c, act_msg / tp, crosses), 0.0)

    # Overlapped schedules hide expert and pipeline communication under the paired
    # micro-batch's compute, whose kernels lose the SMs the communication takes.
    shared = sched.overlapped_share(schedule, pp, microbatches) * (ep > 1)
    compute_mb = compute_mb * (1 + shared * comm_sm_share / (1 - comm_sm_share))
    ep_mb = ep_mb - sched.hidden(ep_mb, compute_mb, shared, comm_overlap)
    dual = np.asarray(schedule) == sched.SCHEDULE_CODES["dualpipe"]
    pp_mb = pp_mb - sched.hidden(pp_mb, compute_mb, np.where(dual, 1.0, shared), comm_overlap)
    t_mb = compute_mb + tp_mb + cp_mb + ep_mb + pp_mb
    bubble = sched.bubble(schedule, pp, interleave, t_mb, fwd_mb, compute_mb - fwd_mb)

    # Data parallel over the dp x cp ranks holding the same shard (stride tp); experts over
    # dp x cp / ep (stride tp x ep). ZeRO 0/1: one all-reduce (or reduce-scatter +
    # all-gather) of gradients per step, hidden behind the last micro-batch's backward;
    # ZeRO 2: reduce-scatter every micro-batch, parameter all-gather once; ZeRO 3 (FSDP):
    # parameters gathered for forward and for backward of every micro-batch, gradients
    # reduce-scattered (Rajbhandari et al. 2020 sec. 7).
    st = stage_params(m.params(), m, tp, pp, ep, interleave)
    dense = np.maximum(st.dense_first, st.dense_last)
    groups = ((dense, dp * cp, tp), (st.experts, dp * cp / ep, tp * ep))
    z = np.asarray(zero)
    mb_n = microbatches
    dp_total = np.zeros(())
    dp_exposed = np.zeros(())
    for n_params, n, stride in groups:
        grads = n_params * grad_bytes / net
        weights = n_params * weight_bytes / net
        ar = col.all_reduce(c, grads, n, stride)
        rs = col.reduce_scatter(c, grads, n, stride)
        ag = col.all_gather(c, weights, n, stride)
        tot = np.select([z <= 1, z == 2], [ar, mb_n * rs + ag], mb_n * (2 * ag + rs))
        exp = np.select(
            [z <= 1, z == 2],
            [_exposed(ar, bwd_mb, dp_overlap),
             mb_n * _exposed(rs, bwd_mb, dp_overlap) + _exposed(ag, fwd_mb, dp_overlap)],
            mb_n * (_exposed(ag, fwd_mb, dp_overlap) + _exposed(ag + rs, bwd_mb, dp_overlap)))
        dp_total = dp_total + tot
        dp_exposed = dp_exposed + exp

    # Optimizer: each device updates its (ZeRO-partitioned) share, reading and writing the
    # states, master weights and weights and reading the gradients.
    owned = np.where(z >= 1, dense / (dp * cp) + st.experts / (dp * cp / ep),
                     dense + st.experts)
    opt = owned * optimizer_update_bytes / (c.chip.memory.bandwidth * eff.memory)

    def per_step(x: Array) -> Array:
        return mb_n * x

    return StepTime(per_step(compute_mb), per_step(tp_mb), per_step(cp_mb), per_step(ep_mb),
                    per_step(pp_mb), bubble, dp_exposed, opt, dp_total, t_mb)
