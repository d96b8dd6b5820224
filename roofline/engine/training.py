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

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from roofline.broadcasting import check_lengths
from roofline.engine import collectives as col
from roofline.engine.cluster import Cluster
from roofline.engine.cost import (
    DEFAULT_POWER_UTILISATION,
    DEFAULT_PUE,
    EnergyAssumptions,
    energy_kwh,
    power_note,
)
from roofline.engine.efficiency import (
    Efficiency,
    Mode,
    band_columns,
    efficiency_for,
    uncertainty_band,
)
from roofline.engine.fidelity import fidelity
from roofline.engine.forward import layer_allreduces
from roofline.engine.inputs import (
    check_choice,
    check_flags,
    check_mapping,
    check_numbers,
    check_scalars,
    check_shapes,
)
from roofline.engine.memory import RUNTIME_RESERVE_BYTES
from roofline.engine.operators import Op, operator_table, sliding_window
from roofline.engine.precision import Precision, get_precision
from roofline.engine.timing import time_op
from roofline.engine.training_flops import (
    NON_LAYER_OPS,
    RECOMPUTE,
    TOKENS_PER_PARAM,
    model_flops_per_token,
    recompute_factor,
    recompute_flops_per_token,
    training_step,
    utilisation,
)
from roofline.engine.training_memory import (
    MASTER_BYTES,
    RECOMPUTE_CODES,
    get_optimizer,
    stage_params,
    stage_share,
    training_memory,
)
from roofline.errors import Problem, SpecError
from roofline.results import Result, frame_from_columns, with_aliases
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.dtypes import Dtype
from roofline.specs.model import ModelSpec

Array = NDArray[np.float64]
CpMode = Literal["ring", "ulysses"]
AttentionKernel = Literal["flash", "materialised"]


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------------------
# Validity
# --------------------------------------------------------------------------------------

def training_layout_reasons(m: ModelSpec, *, count: ArrayLike, tp: ArrayLike, pp: ArrayLike,
                            dp: ArrayLike, cp: ArrayLike, ep: ArrayLike,
                            micro_batch: ArrayLike, global_batch: ArrayLike,
                            seq_len: ArrayLike, interleave: ArrayLike = 1,
                            cp_mode: CpMode = "ring") -> NDArray[np.object_]:
    """Why each training layout is impossible ('' where valid), vectorised; the first
    failing rule is named, with the offending numbers."""
    arrs = np.broadcast_arrays(*(_a(x) for x in (count, tp, pp, dp, cp, ep, micro_batch,
                                                   global_batch, seq_len, interleave)))
    n, tp, pp, dp, cp, ep, mb, gb, s, v = arrs
    reasons = np.full(tp.shape, "", dtype=object)
    flagged = np.zeros(tp.shape, dtype=bool)

    def flag(bad: NDArray[np.bool_], text: str | Callable[..., str],
             keys: Sequence[Array] = ()) -> None:
        take = np.asarray(bad, dtype=bool) & ~flagged
        if not take.any():
            return
        flagged[take] = True
        if isinstance(text, str):
            reasons[take] = text
            return
        if not keys:
            raise ValueError("a message function needs keys")
        # one message per distinct combination of the numbers it names
        sub = np.stack([k[take] for k in keys], axis=1)
        uniq, inv = np.unique(sub, axis=0, return_inverse=True)
        msgs = np.array([text(*row) for row in uniq], dtype=object)
        reasons[take] = msgs[inv.reshape(-1)]

    def g(x: float) -> str:
        return f"{x:g}"

    for name, x in (("tp", tp), ("pp", pp), ("dp", dp), ("cp", cp), ("ep", ep),
                    ("micro_batch", mb), ("global_batch", gb), ("interleave", v),
                    ("count", n), ("seq_len", s)):
        flag((x < 1) | (x != np.round(x)), f"{name} must be a whole number >= 1")
    flag(tp * pp * cp * dp != n,
         lambda a, b, c, d, e: f"tp x pp x cp x dp = {g(a)} x {g(b)} x {g(c)} x {g(d)} = "
                               f"{g(a * b * c * d)} != count {g(e)}", (tp, pp, cp, dp, n))
    a = m.attention
    if a is not None:
        heads = a.num_attention_heads
        flag(tp > heads, lambda t: f"tp={g(t)} exceeds the {heads} attention heads", (tp,))
        flag(heads % tp != 0, lambda t: f"tp={g(t)} does not divide the {heads} attention "
                                        "heads", (tp,))
        if m.mla is None:
            kv = a.kv_heads
            flag((kv % tp != 0) & (tp % kv != 0),
                 lambda t: f"tp={g(t)} neither divides nor is a multiple of the {kv} KV heads",
                 (tp,))
    if m.ssm is not None:
        d = int(m.ssm.expand * m.hidden_size)
        flag(d % tp != 0, lambda t: f"tp={g(t)} does not divide the SSM inner width {d}",
             (tp,))
        if "mamba" in m.mixers():
            flag(cp > 1, "context parallelism is not modelled for Mamba layers")
    L = m.num_hidden_layers
    flag(pp > L, lambda p: f"pp={g(p)} exceeds the {L} layers", (pp,))
    flag(pp * v > L, lambda p, i: f"pp x interleave = {g(p * i)} exceeds the {L} layers",
         (pp, v))
    flag((v > 1) & (pp == 1), "interleave > 1 needs pipeline parallelism (pp > 1)")
    if m.moe is None:
        flag(ep > 1, lambda e: f"ep={g(e)} needs a mixture-of-experts model", (ep,))
    else:
        E = m.moe.num_experts
        flag(E % ep != 0, lambda e: f"ep={g(e)} does not divide the {E} experts", (ep,))
        flag(dp % ep != 0, lambda e, d: f"ep={g(e)} does not divide dp={g(d)} (experts are "
                                        "spread over data-parallel ranks)", (ep, dp))
    flag(gb % (dp * mb) != 0,
         lambda b, d, u: f"global batch {g(b)} is not divisible by dp x micro_batch = "
                         f"{g(d)} x {g(u)}", (gb, dp, mb))
    micro = gb / (dp * mb)
    flag((v > 1) & (micro % pp != 0),
         lambda k, p: f"interleaved 1F1B needs micro-batches ({g(k)}) divisible by pp={g(p)}",
         (micro, pp))
    if cp_mode == "ring":
        flag((cp > 1) & (s % (2 * cp) != 0),
             lambda x, c: f"seq_len {g(x)} is not divisible by 2 x cp = {g(2 * c)} "
                          "(load-balanced ring attention)", (s, cp))
    else:
        flag(s % cp != 0, lambda x, c: f"seq_len {g(x)} is not divisible by cp={g(c)}",
             (s, cp))
        if a is not None:
            heads = a.num_attention_heads
            flag((heads / tp) % cp != 0,
                 lambda t, c: f"Ulysses needs cp={g(c)} to divide the {heads}/tp={g(t)} heads "
                              "per rank", (tp, cp))
    return reasons


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
    bubble: Array       # pipeline fill and drain: (p - 1)/v micro-batch times
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


def step_time(m: ModelSpec, p: Precision, cluster: Cluster, eff: Efficiency, *,
              seq_len: Array, micro_batch: Array, microbatches: Array, tp: Array, pp: Array,
              dp: Array, cp: Array, ep: Array, zero: Array, recompute: Array,
              sequence_parallel: NDArray[np.bool_], interleave: Array, dp_overlap: Array,
              count: Array, cp_mode: CpMode = "ring", flash: bool = True,
              weight_bytes: float = 2.0, grad_bytes: float = 2.0,
              optimizer_update_bytes: float = 28.0) -> StepTime:
    """Time of one training step (see the module docstring for the model)."""
    c = cluster
    ab = p.activation_bytes
    h = m.hidden_size
    step = training_step(micro_batch, seq_len, cp, sliding_window(m))
    ops = operator_table(m, p, step, tp, ep, fused_attention=flash)
    # operator_table spreads experts over the tp ranks only (serving's layout); in training
    # each device holds E/ep of them, so their weight traffic is 1/ep of that.
    ops = [replace(op, weight_bytes=op.weight_bytes / ep) if op.name == "experts" else op
           for op in ops]
    times = [(op, time_op(op, c.chip, eff).time_s) for op in ops]
    layer_fwd = _sum_times(times, lambda op: float(op.name not in NON_LAYER_OPS))
    head_fwd = _sum_times(times, lambda op: float(op.name in NON_LAYER_OPS))
    attn_fwd = _sum_times(times, lambda op: float(op.kind == "attention"))
    rc = np.asarray(recompute)
    rec = np.select([rc == RECOMPUTE_CODES[r] for r in RECOMPUTE],
                    [_sum_times(times, lambda op, r=r: recompute_factor(op, r, flash))
                     for r in RECOMPUTE])
    full = (rc == RECOMPUTE_CODES["full"]).astype(np.float64)
    share = stage_share(m.num_hidden_layers, pp, interleave)  # 1/pp when stages are even
    fwd_mb = layer_fwd * share + head_fwd  # the last stage: its layers and the LM head
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

    # Expert parallel: dispatch and combine all-to-all of k token copies per MoE layer,
    # forward and backward (DeepSpeed-MoE, Rajbhandari et al. 2022; GShard).
    ep_mb = np.zeros(())
    if moe_layers and m.moe is not None:
        k_tok = m.moe.num_experts_per_tok
        msg = act_msg * k_tok / np.where(sequence_parallel, tp, 1.0)
        ep_mb = moe_layers * share * 2 * col.all_to_all(c, msg, ep, tp * cp) * (2 + full)

    # Pipeline: each micro-batch's activations forward and gradients backward, once per
    # virtual stage; scatter-gather over tp (Narayanan et al. 2021 sec. 4.1). A pipeline that
    # spans more than one scale-up domain has a hop on the scale-out network: stages run at
    # the slowest hop.
    crosses = count > c.domain
    pp_mb = np.where(pp > 1, 2 * interleave * col.p2p(c, act_msg / tp, crosses), 0.0)

    t_mb = compute_mb + tp_mb + cp_mb + ep_mb + pp_mb
    bubble = (pp - 1) / interleave * t_mb  # 1F1B: (p - 1)/m of the ideal; interleaved /v

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


# --------------------------------------------------------------------------------------
# The verb
# --------------------------------------------------------------------------------------

class TrainingResult(Result):
    """Training metrics per configuration (one row each); see :func:`train`."""

    def breakdown(self, index: int = 0) -> pd.Series:
        """Step time of configuration ``index`` by part, seconds."""
        cols = ["compute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s", "pp_comm_s", "bubble_s",
                "dp_comm_s", "optimizer_s"]
        return self.frame.iloc[index][cols].astype(float)

    def memory(self, index: int = 0) -> pd.Series:
        """Memory per device of configuration ``index`` by part, bytes."""
        cols = ["weights_bytes", "gradients_bytes", "optimizer_bytes", "activation_bytes",
                "reserve_bytes"]
        return self.frame.iloc[index][cols].astype(float)


def _codes(values: ArrayLike, table: Mapping[str, int], name: str) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        if not np.isin(arr, list(table.values())).all():  # NaN and 1.5 too
            raise SpecError([Problem(f"{name} codes must be in {sorted(table.values())}",
                                     field=name)])
        return arr.astype(np.int64)
    flat = [str(x).lower() for x in arr.reshape(-1)]
    bad = sorted({x for x in flat if x not in table})
    if bad:
        raise SpecError([Problem(f"unknown {name} {bad[0]!r}; use one of {', '.join(table)}",
                                 field=name)])
    return np.array([table[x] for x in flat], dtype=np.int64).reshape(arr.shape)


def _train_bytes(p: Precision, master_weights: str) -> tuple[float, float, float]:
    """(weight, gradient, master) bytes per parameter: 16-bit weights and gradients unless
    the recipe computes in fp32 (fp8/fp4 recipes keep 16-bit weights and cast per matmul, as
    Transformer Engine and DeepSeek-V3 do); no master copy when weights are fp32."""
    if master_weights not in MASTER_BYTES:
        raise SpecError([Problem(f"master_weights must be one of {', '.join(MASTER_BYTES)}",
                                 field="master_weights")])
    wb = 4.0 if p.activations in (Dtype.fp32, Dtype.tf32) else 2.0
    master = 0.0 if wb == 4.0 else MASTER_BYTES[master_weights]
    return wb, wb, master


def _evaluate(m: ModelSpec, c: Chip, cluster: Cluster, p: Precision, eff: Efficiency, *,
              count: Array, seq_len: Array, global_batch: Array, micro_batch: Array,
              tp: Array, pp: Array, dp: Array | None, cp: Array, ep: Array, zero: Array,
              recompute: Array, sequence_parallel: Array, interleave: Array,
              dp_overlap: Array, optimizer: str, master_weights: str, cp_mode: CpMode,
              flash: bool, dropout: bool, runtime_reserve_bytes: float
              ) -> tuple[dict[str, Any], tuple[int, ...], NDArray[np.object_]]:
    """Every metric of every configuration (arrays broadcast together)."""
    if dp is None:
        dp = count / (tp * pp * cp)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (
        count, seq_len, global_batch, micro_batch, tp, pp, dp, cp, ep, zero, recompute,
        sequence_parallel, interleave, dp_overlap)), (1,))
    reasons = np.broadcast_to(training_layout_reasons(
        m, count=count, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=micro_batch,
        global_batch=global_batch, seq_len=seq_len, interleave=interleave, cp_mode=cp_mode),
        shape).copy()
    # Chips beyond one scale-up domain talk over the scale-out network: it must exist.
    apart = np.broadcast_to((count > cluster.domain) & (cluster.out_bw <= 0), shape)
    reasons[apart & (reasons == "")] = (f"{c.name} has no scale-out network: at most "
                                        f"{cluster.domain} chip(s) can work together")
    valid = reasons == ""
    opt = get_optimizer(optimizer)
    wb, gb, master = _train_bytes(p, master_weights)
    k_bytes = opt.state_bytes_per_param + master
    microbatches = global_batch / (dp * micro_batch)
    with np.errstate(all="ignore"):
        t = step_time(m, p, cluster, eff, seq_len=seq_len, micro_batch=micro_batch,
                      microbatches=microbatches, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, zero=zero,
                      recompute=recompute, sequence_parallel=sequence_parallel,
                      interleave=interleave, dp_overlap=dp_overlap, count=count,
                      cp_mode=cp_mode, flash=flash, weight_bytes=wb, grad_bytes=gb,
                      optimizer_update_bytes=2 * k_bytes + gb + wb)
        mem = training_memory(m, m.params(), seq_len=seq_len, micro_batch=micro_batch,
                              microbatches=microbatches, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep,
                              zero=zero, recompute=recompute,
                              sequence_parallel=sequence_parallel, interleave=interleave,
                              weight_bytes=wb, grad_bytes=gb, optimizer_bytes=k_bytes,
                              act_bytes=p.activation_bytes, flash=flash, dropout=dropout,
                              reserve_bytes=runtime_reserve_bytes)
        tokens_step = global_batch * seq_len
        step_s = t.total
        mf_tok = model_flops_per_token(m, seq_len)
        rc = np.asarray(recompute)
        rec_tok = np.select([rc == RECOMPUTE_CODES[r] for r in RECOMPUTE],
                            [recompute_flops_per_token(m, seq_len, r, flash=flash)
                             for r in RECOMPUTE])
        model_flops = mf_tok * tokens_step
        hw_flops = (mf_tok + rec_tok) * tokens_step
        peak = c.peak(p.compute_dtype("mlp"))
        ideal_mb = t.compute / np.maximum(microbatches, 1e-300)
        bubble_fraction = t.bubble / (microbatches * t.microbatch)
    cap = c.memory.capacity
    total_mem = mem.total
    out: dict[str, Any] = {
        "model": m.name, "chip": c.name, "precision": p.label, "count": count,
        "seq_len": seq_len, "global_batch": global_batch, "micro_batch": micro_batch,
        "num_microbatches": microbatches, "tp": tp, "pp": pp, "dp": dp, "cp": cp, "ep": ep,
        "zero": zero, "recompute": recompute, "sequence_parallel": sequence_parallel,
        "interleave": interleave,
        "step_time_s": step_s, "compute_s": t.compute, "tp_comm_s": t.tp_comm,
        "cp_comm_s": t.cp_comm, "ep_comm_s": t.ep_comm, "pp_comm_s": t.pp_comm,
        "bubble_s": t.bubble, "dp_comm_s": t.dp_comm, "optimizer_s": t.optimizer,
        "dp_comm_total_s": t.dp_comm_total, "microbatch_compute_s": ideal_mb,
        "bubble_fraction": bubble_fraction,
        "tokens_per_step": tokens_step, "tokens_per_s": tokens_step / step_s,
        "tokens_per_s_per_chip": tokens_step / step_s / count,
        "model_flops_per_token": mf_tok, "flops_per_step": model_flops,
        "hardware_flops_per_step": hw_flops,
        "mfu": utilisation(model_flops, step_s, count, peak),
        "hfu": utilisation(hw_flops, step_s, count, peak),
        "weights_bytes": mem.weights, "gradients_bytes": mem.gradients,
        "optimizer_bytes": mem.optimizer, "activation_bytes": mem.activations,
        "reserve_bytes": mem.reserve, "memory_bytes": total_mem, "capacity_bytes": cap,
        "memory_fraction": total_mem / cap, "fits": valid & (total_mem <= cap),
        "peak_memory_stage": np.where(mem.stage > 0, "last", "first"),
    }
    return out, shape, reasons


_NUMERIC_OUT = ("step_time_s", "compute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s", "pp_comm_s",
                "bubble_s", "dp_comm_s", "optimizer_s", "dp_comm_total_s",
                "microbatch_compute_s", "bubble_fraction", "tokens_per_s",
                "tokens_per_s_per_chip", "mfu", "hfu", "weights_bytes", "gradients_bytes",
                "optimizer_bytes", "activation_bytes", "memory_bytes", "memory_fraction",
                "flops_per_step", "hardware_flops_per_step")


def _mask_invalid(out: dict[str, Any], shape: tuple[int, ...], valid: NDArray[np.bool_]
                  ) -> None:
    """Invalid layouts get NaN metrics (their ``reason`` says why)."""
    if valid.all():
        return
    for k in _NUMERIC_OUT:
        out[k] = np.where(valid, np.broadcast_to(_a(out[k]), shape), np.nan)


def train(model: str | Path | ModelSpec | Mapping[str, Any],
          chip: str | Path | Chip | Mapping[str, Any] | Cluster, *,
          seq_len: ArrayLike, global_batch: ArrayLike, count: ArrayLike | None = None,
          micro_batch: ArrayLike = 1, tp: ArrayLike = 1,
          pp: ArrayLike = 1, dp: ArrayLike | None = None, cp: ArrayLike = 1,
          ep: ArrayLike = 1, zero: ArrayLike = 1, optimizer: str = "adam",
          master_weights: str = "fp32", recompute: ArrayLike = "selective",
          sequence_parallel: ArrayLike = True, interleave: ArrayLike = 1,
          cp_mode: CpMode = "ring", attention_kernel: AttentionKernel = "flash",
          dropout: bool = False, dp_overlap: ArrayLike = 0.9,
          precision: str | Precision | Mapping[str, Any] | None = "bf16",
          mode: Mode = "expected", efficiency: Mapping[str, float] | None = None,
          tokens: float | None = None, usd_per_chip_hour: float | None = None,
          pue: float = DEFAULT_PUE, utilisation_power: float = DEFAULT_POWER_UTILISATION,
          energy: EnergyAssumptions | None = None, cluster: Cluster | None = None,
          runtime_reserve_bytes: float = RUNTIME_RESERVE_BYTES) -> TrainingResult:
    """Train ``model`` on ``count`` chips; every layout input may be an array or list.

    Layout: ``tp`` x ``cp`` x ``dp`` x ``pp`` = ``count`` (``dp`` derived when not given),
    ``ep`` inside ``dp``, ``micro_batch`` sequences per micro-batch, ``global_batch``
    sequences of ``seq_len`` tokens per step, ZeRO stage ``zero`` (0-3; 3 = FSDP),
    ``recompute`` none / selective / full, ``interleave`` virtual stages per device.

    Returns one row per configuration (SI units): ``step_time_s`` and its parts
    (``compute_s``, ``tp_comm_s``, ``cp_comm_s``, ``ep_comm_s``, ``pp_comm_s``,
    ``bubble_s``, ``dp_comm_s``, ``optimizer_s``), ``tokens_per_s``, ``mfu`` and ``hfu``
    (PaLM app. B), ``flops_per_step`` (model FLOPs), memory per device by part
    (``weights_bytes``, ``gradients_bytes``, ``optimizer_bytes``, ``activation_bytes``,
    ``reserve_bytes``, ``memory_bytes``) and ``fits``; for a run of ``tokens`` tokens
    ``total_time_s``, ``chip_hours``, ``cost_usd`` (when a price is known) and
    ``energy_kwh``. ``valid`` and ``reason`` flag impossible layouts (a single configuration
    raises :class:`SpecError` instead: all inputs scalars). Assumptions are listed in
    ``assumptions``.
    """
    check_lengths(seq_len=seq_len, global_batch=global_batch, count=count,
                  micro_batch=micro_batch, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, zero=zero,
                  recompute=recompute, sequence_parallel=sequence_parallel,
                  interleave=interleave, dp_overlap=dp_overlap)
    m = load_model(model)
    if isinstance(chip, Cluster):
        cluster = chip
    c = cluster.chip if cluster is not None else load_chip(chip)  # type: ignore[arg-type]
    if count is None:
        if cluster is None:
            raise SpecError([Problem("count (number of chips) is required", field="count")])
        count = cluster.count
    p = get_precision(precision, m.quantization)
    check_choice("mode", mode)
    check_flags(dropout=dropout)
    check_choice("master_weights", master_weights, tuple(MASTER_BYTES))
    check_choice("cp_mode", cp_mode, ("ring", "ulysses"))
    check_choice("attention_kernel", attention_kernel, ("flash", "materialised"))
    numbers = {"count": count, "seq_len": seq_len, "global_batch": global_batch,
               "micro_batch": micro_batch, "tp": tp, "pp": pp, "dp": dp, "cp": cp, "ep": ep,
               "zero": zero, "interleave": interleave, "dp_overlap": dp_overlap}
    check_numbers(**numbers)
    check_scalars(tokens=tokens, usd_per_chip_hour=usd_per_chip_hour, pue=pue,
                  utilisation_power=utilisation_power,
                  runtime_reserve_bytes=runtime_reserve_bytes)
    check_shapes(**{k: v for k, v in numbers.items() if v is not None},
                 recompute=recompute if isinstance(recompute, str) else np.asarray(recompute),
                 sequence_parallel=sequence_parallel)
    ov, zero_ = _a(dp_overlap), _a(zero)
    rc = _codes(recompute, RECOMPUTE_CODES, "recompute")
    sp = np.asarray(sequence_parallel, dtype=bool)
    n = _a(count)
    if cluster is None:
        cluster = Cluster(chip=c, count=int(max(1, np.max(n))))
    eff = efficiency_for(c, mode, **check_mapping("efficiency", efficiency))
    e = energy or EnergyAssumptions(pue=pue, power_utilisation=utilisation_power)
    flash = attention_kernel == "flash"
    out, shape, reasons = _evaluate(
        m, c, cluster, p, eff, count=n, seq_len=_a(seq_len), global_batch=_a(global_batch),
        micro_batch=_a(micro_batch), tp=_a(tp), pp=_a(pp),
        dp=None if dp is None else _a(dp), cp=_a(cp), ep=_a(ep), zero=zero_, recompute=rc,
        sequence_parallel=sp, interleave=_a(interleave), dp_overlap=ov,
        optimizer=optimizer, master_weights=master_weights, cp_mode=cp_mode, flash=flash,
        dropout=dropout, runtime_reserve_bytes=runtime_reserve_bytes)
    scalar = all(np.ndim(x) == 0 for x in (
        n, seq_len, global_batch, micro_batch, tp, pp, cp, ep, zero_, rc, sp, interleave, ov,
        0 if dp is None else dp))
    if scalar and reasons.reshape(-1)[0]:
        raise SpecError(f"impossible training layout for {m.name} on {c.name}: "
                        f"{reasons.reshape(-1)[0]}")
    valid = reasons == ""
    _mask_invalid(out, shape, valid)
    out["recompute"] = np.array(RECOMPUTE)[np.broadcast_to(rc, shape)]
    out["layout"] = _layout_strings(out, shape)
    assumptions = _assumptions(m, c, cluster, p, eff, optimizer, master_weights, cp_mode,
                               attention_kernel, dropout, runtime_reserve_bytes)
    _run_totals(out, m, c, e, tokens, usd_per_chip_hour, assumptions)
    # Uncertainty band (step_time_low_s / _high_s, low_tokens_per_s / high_..., mfu_low / _high)
    # from the calibration residuals of published training runs (docs/validation.md).
    out.update(band_columns(out, "training", mode=mode, times=("step_time_s",),
                            rates=("tokens_per_s", "tokens_per_s_per_chip", "mfu")))
    assumptions["uncertainty band"] = uncertainty_band("training").source
    assumptions["fidelity"] = fidelity("training", c, m, mode=mode, count=float(np.max(n))).text
    out["valid"] = valid
    out["reason"] = reasons
    frame = with_aliases(frame_from_columns(out, shape), model=model,
                         chip=chip.chip.name if isinstance(chip, Cluster) else chip)
    return TrainingResult(frame, assumptions)


def _layout_strings(out: Mapping[str, Any], shape: tuple[int, ...]) -> NDArray[np.str_]:
    """``"tp8 pp4 dp64 cp1 ep8 mb1 zero1 selective"`` per configuration (vectorised: each
    component's distinct values are formatted once, then joined by numpy string ufuncs)."""
    parts = []
    for key, tag in (("tp", "tp"), ("pp", "pp"), ("dp", "dp"), ("cp", "cp"), ("ep", "ep"),
                     ("micro_batch", "mb"), ("zero", "zero")):
        vals = np.broadcast_to(_a(out[key]), shape).reshape(-1)
        uniq, inv = np.unique(vals, return_inverse=True)
        parts.append(np.array([f"{tag}{v:g} " for v in uniq])[inv.reshape(-1)])
    parts.append(np.broadcast_to(np.asarray(out["recompute"]), shape).reshape(-1).astype(str))
    text = parts[0]
    for part in parts[1:]:
        text = np.char.add(text, part)
    return text.reshape(shape)


def _run_totals(out: dict[str, Any], m: ModelSpec, c: Chip, e: EnergyAssumptions,
                tokens: float | None, usd_per_chip_hour: float | None,
                assumptions: dict[str, Any]) -> None:
    """Time, chip-hours, cost and energy of training on ``tokens`` tokens."""
    if tokens is None:
        tokens = TOKENS_PER_PARAM * m.params().total
        assumptions["tokens"] = (f"not given: {TOKENS_PER_PARAM:g} tokens per parameter x "
                                 f"{m.params().total:.4g} parameters = {tokens:.4g} tokens "
                                 "(Hoffmann et al. 2022's compute-optimal ratio); pass "
                                 "tokens= for your run")
    else:
        if not tokens > 0:
            raise SpecError([Problem("tokens must be > 0", field="tokens")])
        assumptions["tokens"] = f"{tokens:.4g} training tokens (given)"
    steps = tokens / _a(out["tokens_per_step"])
    total = steps * _a(out["step_time_s"])
    chip_hours = total * _a(out["count"]) / 3600.0
    out.update({"tokens": tokens, "steps": steps, "total_time_s": total,
                "chip_hours": chip_hours, "training_flops": tokens * _a(
                    out["model_flops_per_token"])})
    price = usd_per_chip_hour if usd_per_chip_hour is not None else (
        c.price.usd_per_chip_hour if c.price else None)
    if usd_per_chip_hour is not None and not usd_per_chip_hour > 0:
        raise SpecError([Problem("usd_per_chip_hour must be > 0", field="usd_per_chip_hour")])
    if price is None:
        assumptions["cost"] = (f"omitted: {c.name} has no price in hardware_specs/ and "
                               "usd_per_chip_hour was not given")
    else:
        out["usd_per_chip_hour"] = price
        out["cost_usd"] = chip_hours * price
        assumptions["cost"] = (f"${price:g} per chip-hour ("
                               + ("given" if usd_per_chip_hour is not None else
                                  f"{c.price.provider}, {c.price.date}")  # type: ignore[union-attr]
                               + "), chips x total time")
    if c.power_per_chip() is None:
        assumptions["energy"] = f"omitted: {c.name} has no TDP in hardware_specs/"
    else:
        out["energy_kwh"] = energy_kwh(c, out["count"], total / 3600.0, e)
        out["energy_j"] = out["energy_kwh"] * 3.6e6
        assumptions["energy"] = (f"chips x {power_note(c)} x {e.power_utilisation:.0%} "
                                 f"utilisation x PUE {e.pue:g} x total time")
        if e.grid_kg_co2_per_kwh is not None:
            out["co2_kg"] = out["energy_kwh"] * e.grid_kg_co2_per_kwh
            assumptions["energy"] += f"; grid {e.grid_kg_co2_per_kwh:g} kg CO2e/kWh"


def _assumptions(m: ModelSpec, c: Chip, cluster: Cluster, p: Precision, eff: Efficiency,
                 optimizer: str, master_weights: str, cp_mode: str, kernel: str,
                 dropout: bool, reserve: float) -> dict[str, Any]:
    opt = get_optimizer(optimizer)
    wb, _, master = _train_bytes(p, master_weights)
    peak_dtype = c.resolve_dtype(p.compute_dtype("mlp"))
    return {
        "efficiency": eff.describe(),
        "precision": f"{p.label}: matmuls in {peak_dtype.value}; weights and gradients "
                     f"{wb:g} B, master weights {master:g} B ({master_weights}), "
                     f"activations {p.activation_bytes:g} B per element",
        "optimizer": f"{opt.label}: {opt.state_bytes_per_param:g} B of state per parameter",
        "layout": "rank = t + tp(c + cp(d + dp p)): tp innermost (stride 1), then cp, dp "
                  "(ep = consecutive dp ranks), pp outermost; chips fill scale-up domains "
                  f"of {cluster.domain} in rank order",
        "network": f"scale-up {cluster.up_bw:.4g} B/s, scale-out {cluster.out_bw:.4g} B/s per "
                   "chip per direction; alpha-beta ring collectives, hierarchical across "
                   "domains (collectives.py)",
        "pipeline": "1F1B; bubble (pp - 1)/interleave micro-batch times (Narayanan et al. "
                    "2021); the last stage (its layers and the LM head) sets the pace",
        "overlap": "TP, EP and pipeline sends on the critical path; ring-attention KV "
                   "passing hidden behind attention; data-parallel reduction and ZeRO "
                   "gathers hidden up to dp_overlap behind backward / forward compute",
        "recompute": "full: every layer's forward again; selective: the attention core "
                     "again (Korthikanti et al. 2022); FlashAttention's backward recomputes "
                     "QK^T itself",
        "attention": f"{kernel} kernel; context parallelism {cp_mode}; dropout "
                     f"{'on' if dropout else 'off'}",
        "mfu": "model FLOPs per token = 3 x forward matmul + attention FLOPs over the full "
               "T x T rectangle (PaLM's 6N + 12LHQT, N without the embedding lookup); HFU "
               f"adds recomputation; peak = {c.name} dense {peak_dtype.value}",
        "memory": "the larger of the first stage (embedding, in-flight micro-batches) and "
                  f"the last (LM head, logits); runtime reserve {reserve / 2**30:.2g} GiB",
    }


# --------------------------------------------------------------------------------------
# Layout search
# --------------------------------------------------------------------------------------

def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def candidate_training_layouts(m: ModelSpec, count: int, global_batch: int, *,
                               micro_batches: Sequence[int] = (1, 2, 4, 8),
                               zero: Sequence[int] = (0, 1, 2, 3),
                               recompute: Sequence[str] | None = None,
                               flash: bool = True) -> dict[str, NDArray[Any]]:
    """Every (tp, pp, cp, ep, micro_batch, zero, recompute) with ``tp x pp x cp`` dividing
    ``count`` (``dp`` the rest): tp, pp, cp over the divisors of ``count``, ep over the
    divisors of the expert count (1 for dense models), as flat arrays."""
    divs = _divisors(count)
    triples = [(t, p_, c_) for t in divs for p_ in divs if count % (t * p_) == 0
               for c_ in divs if count % (t * p_ * c_) == 0]
    eps = _divisors(m.moe.num_experts) if m.moe is not None else [1]
    if recompute is None:  # with FlashAttention, selective = none (the kernel recomputes)
        recompute = ("none", "full") if flash else RECOMPUTE
    rcodes = [RECOMPUTE_CODES[r] for r in recompute]
    mbs = [b for b in micro_batches if global_batch % b == 0]
    grid = np.array(list(itertools.product(range(len(triples)), eps, mbs, zero, rcodes)),
                    dtype=np.int64).reshape(-1, 5)
    tri = np.array(triples, dtype=np.int64)[grid[:, 0]]
    return {"tp": tri[:, 0], "pp": tri[:, 1], "cp": tri[:, 2], "ep": grid[:, 1],
            "micro_batch": grid[:, 2], "zero": grid[:, 3], "recompute": grid[:, 4]}


def search_training_layouts(model: str | Path | ModelSpec | Mapping[str, Any],
                            chip: str | Path | Chip | Mapping[str, Any] | Cluster,
                            count: int, *, seq_len: int, global_batch: int,
                            micro_batches: Sequence[int] = (1, 2, 4, 8),
                            zero: Sequence[int] = (0, 1, 2, 3),
                            recompute: Sequence[str] | None = None,
                            tp_within_domain: bool = True,
                            attention_kernel: AttentionKernel = "flash",
                            **kwargs: Any) -> pd.DataFrame:
    """Every training layout of ``model`` on ``count`` chips, evaluated in one vectorised
    :func:`train` call and ranked by step time among those that are valid and fit.

    Rejected layouts stay in the table with ``ok = False`` and a ``reason`` ("tp=16 does
    not divide the 84 attention heads", "does not fit: 97.3 GB per device > 80 GB", ...).
    ``tp_within_domain`` rejects tensor parallelism wider than the scale-up domain.
    Other keyword arguments go to :func:`train` (precision, optimizer, interleave, ...).
    """
    m = load_model(model)
    cluster = chip if isinstance(chip, Cluster) else kwargs.pop("cluster", None)
    c = cluster.chip if cluster is not None else load_chip(chip)  # type: ignore[arg-type]
    if cluster is None:
        cluster = Cluster(chip=c, count=count)
    if count < 1 or int(count) != count:
        raise SpecError([Problem(f"count must be a whole number >= 1, got {count}",
                                 field="count")])
    grid = candidate_training_layouts(m, int(count), int(global_batch),
                                      micro_batches=micro_batches, zero=zero,
                                      recompute=recompute,
                                      flash=attention_kernel == "flash")
    res = train(m, cluster, count=count, seq_len=seq_len, global_batch=global_batch,
                micro_batch=grid["micro_batch"], tp=grid["tp"], pp=grid["pp"],
                cp=grid["cp"], ep=grid["ep"], zero=grid["zero"], recompute=grid["recompute"],
                attention_kernel=attention_kernel, **kwargs)
    df = res.frame
    reason = df["reason"].astype(object).to_numpy().copy()
    if tp_within_domain:
        wide = (reason == "") & (df["tp"].to_numpy() > cluster.domain)
        reason[wide] = [f"tp={v:g} exceeds the scale-up domain of {cluster.domain} chips"
                        for v in df["tp"].to_numpy()[wide]]
    over = (reason == "") & ~df["fits"].to_numpy()
    cap = c.memory.capacity
    reason[over] = [f"does not fit: {v / 1e9:.1f} GB per device > {cap / 1e9:.0f} GB"
                    for v in df["memory_bytes"].to_numpy()[over]]
    df["reason"] = reason
    df["ok"] = reason == ""
    order = np.lexsort((df["memory_bytes"].fillna(np.inf).to_numpy(),
                        df["step_time_s"].fillna(np.inf).to_numpy(), ~df["ok"].to_numpy()))
    df = df.iloc[order].reset_index(drop=True)
    ranks = np.where(df["ok"].to_numpy(), np.cumsum(df["ok"].to_numpy()), 0)
    df.insert(0, "rank", ranks)
    df.attrs["assumptions"] = res.assumptions
    return df


def best_training_layout(table: pd.DataFrame) -> dict[str, Any] | None:
    """The first ``ok`` row of a :func:`search_training_layouts` table, as a dict."""
    ok = table[table["ok"]]
    return None if ok.empty else ok.iloc[0].to_dict()


__all__ = ["StepTime", "TrainingResult", "best_training_layout", "candidate_training_layouts",
           "search_training_layouts", "step_time", "train", "training_layout_reasons"]
