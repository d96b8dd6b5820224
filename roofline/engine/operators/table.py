"""Per-operator FLOPs and bytes of one forward pass, per device.

For each operator of each layer group: FLOPs (2 per multiply-accumulate), bytes of
weights, activations and KV cache moved to and from device memory, and the compute dtype.
Every value is a numpy array over the scenario axes; totals cover all layers of the
model on one tensor/expert-parallel shard (a pipeline stage holds 1/pp of them).

Formulas: matmul FLOPs 2mnk (Kaplan et al. 2020; "Transformer Inference Arithmetic");
attention 2 x pairs x heads x (d_qk + d_v) (FlashAttention skips masked blocks, a
materialised kernel computes and stores the whole rectangle); MLA with and without weight
absorption per DeepSeek-V2 (arXiv 2405.04434, sec. 2.1.3); expected distinct experts
touched by T tokens E(1 - (1 - k/E)^T); Mamba selective scan ~9 FLOPs per state element
per token (Gu & Dao 2023, sec. 3.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.gemm import Gemm
from roofline.engine.scenario.precision import Component, Precision
from roofline.engine.scenario.step import AttnWork, Step
from roofline.specs.dtypes import BYTES_PER_ELEMENT, Dtype
from roofline.specs.model import ModelSpec
from roofline.specs.params import ffn_params, norm_params, ssm_dt_rank, ssm_inner

Array = NDArray[np.float64]
OpKind = Literal["matmul", "attention", "memory"]

#: FLOPs per element of the Mamba selective-scan recurrence (discretise, update, read out).
SCAN_FLOPS_PER_STATE = 9.0
#: FLOPs per element of an RMSNorm/LayerNorm (square, sum, scale, multiply) and a residual add.
NORM_FLOPS_PER_ELEMENT = 5.0
#: Bytes per element of the SSM recurrent state (kept in fp32 by the reference kernels).
SSM_STATE_BYTES = 4.0


@dataclass
class Op:
    """One operator's work on one device, summed over the layers it runs in."""

    name: str
    kind: OpKind
    component: Component | Literal["norm", "attention_core"]
    dtype: Dtype
    layers: int
    flops: Array
    weight_bytes: Array
    act_bytes: Array
    kv_bytes: Array = field(default_factory=lambda: np.zeros(()))
    gemms: tuple[Gemm, ...] = ()  # the matmul shapes, for gemm.gemm_factor

    @property
    def bytes(self) -> Array:
        """All memory traffic: weights + activations + KV cache, bytes."""
        return self.weight_bytes + self.act_bytes + self.kv_bytes


@dataclass(frozen=True)
class Shard:
    """Tensor and expert parallel degrees (arrays broadcast with the step)."""

    tp: Array
    ep: Array

    @staticmethod
    def of(tp: ArrayLike = 1, ep: ArrayLike = 1) -> Shard:
        return Shard(np.asarray(tp, dtype=np.float64), np.asarray(ep, dtype=np.float64))


class _Table:
    """Accumulates ops by name (the same op in several layer groups is summed)."""

    def __init__(self) -> None:
        self.ops: dict[str, Op] = {}

    def add(self, op: Op, n: int) -> None:
        old = self.ops.get(op.name)
        if old is None:
            self.ops[op.name] = Op(op.name, op.kind, op.component, op.dtype, n, op.flops * n,
                                   op.weight_bytes * n, op.act_bytes * n, op.kv_bytes * n,
                                   op.gemms)
            return
        old.layers += n
        old.flops = old.flops + op.flops * n
        old.weight_bytes = old.weight_bytes + op.weight_bytes * n
        old.act_bytes = old.act_bytes + op.act_bytes * n
        old.kv_bytes = old.kv_bytes + op.kv_bytes * n


def _matmul(name: str, comp: Component, p: Precision, tokens: Array, k: ArrayLike,
            n: ArrayLike, weight_elems: ArrayLike | None = None) -> Op:
    """y[tokens, n] = x[tokens, k] @ W[k, n]; weights read once per pass."""
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    w = k * n if weight_elems is None else np.asarray(weight_elems, dtype=np.float64)
    used = np.asarray(tokens) > 0  # a matmul with no rows reads no weights
    return Op(name, "matmul", comp, p.compute_dtype(comp), 1, 2.0 * tokens * k * n,
              w * p.weight_bytes(comp) * used, tokens * (k + n) * p.activation_bytes,
              gemms=(Gemm(tokens, n, k),))


def _attention_core(name: str, p: Precision, work: AttnWork, sliding: bool, heads: Array,
                    d_qk: float, d_v: float, kv_width: Array, fused: bool) -> Op:
    """Scores and weighted sum over cached keys: FLOPs, q/o traffic, KV reads."""
    pairs = work.pairs_window if sliding else work.pairs_full
    rect = work.rect_window if sliding else work.rect_full
    kv_tokens = work.kv_window if sliding else work.kv_full
    computed = pairs if fused else rect
    flops = 2.0 * computed * heads * (d_qk + d_v)
    ab = p.activation_bytes
    act = work.tokens * heads * (d_qk + d_v) * ab
    if not fused:  # scores written, read by softmax, probabilities written, read by P @ V
        act = act + 4.0 * rect * heads * ab
    kv = kv_tokens * kv_width * p.kv_cache.bytes_per_element
    return Op(name, "attention", "attention_core", p.attention_dtype, 1, flops, np.zeros(()), act,
              kv)


def _empty(work: AttnWork) -> bool:
    """True when no scenario has work of this kind (keeps tables free of zero rows)."""
    return not np.any(work.tokens)


def _attention_ops(m: ModelSpec, p: Precision, step: Step, sh: Shard, sliding: bool,
                   fused: bool, mla_absorb: bool | None) -> list[Op]:
    a = m.attention
    assert a is not None
    h, T = m.hidden_size, step.tokens
    heads = a.num_attention_heads / sh.tp
    tag = " (sliding)" if sliding else ""
    ops: list[Op] = []
    kv_new = T  # every new token's K/V (or latent) is written to the cache
    if m.mla is None:
        d = m.head_dim
        kv_heads = np.ceil(a.kv_heads / sh.tp)  # replicated when kv heads < tp
        q_out = heads * (2 if a.output_gate else 1)  # gated attention: q and its gate
        ops.append(_matmul("qkv_proj", "attention", p, T, h, (q_out + 2 * kv_heads) * d))
        width = 2 * kv_heads * d
        for work in (step.prefill, step.decode):
            if _empty(work):
                continue
            ops.append(_attention_core(f"attention{tag}", p, work, sliding, heads, d, d, width,
                                       fused))
        ops.append(_matmul("o_proj", "attention", p, T, heads * d, h))
    else:
        x = m.mla
        dn, dr, dv, rkv = x.qk_nope_head_dim, x.qk_rope_head_dim, x.v_head_dim, x.kv_lora_rank
        if x.q_lora_rank:  # W^DQ is replicated across tensor-parallel ranks, W^UQ split
            ops.append(_matmul("mla_q_down", "attention", p, T, h, x.q_lora_rank))
            ops.append(_matmul("mla_q_up", "attention", p, T, x.q_lora_rank, heads * (dn + dr)))
        else:
            ops.append(_matmul("mla_q_up", "attention", p, T, h, heads * (dn + dr)))
        ops.append(_matmul("mla_kv_down", "attention", p, T, h, rkv + dr))
        latent = np.asarray(rkv + dr, dtype=np.float64)  # the cache: shared by all heads
        for work, is_decode in ((step.prefill, False), (step.decode, True)):
            if _empty(work):
                continue
            absorb = is_decode if mla_absorb is None else mla_absorb
            if absorb:  # W^UK folded into q, W^UV into the output: attend in latent space
                ops.append(_matmul("mla_absorb_uk_uv", "attention", p, work.tokens, rkv,
                                   heads * (dn + dv)))
                ops.append(_attention_core(f"attention{tag} (MLA absorbed)", p, work, sliding,
                                           heads, rkv + dr, rkv, latent, fused))
            else:  # decompress K and V for every cached token, then ordinary attention
                kv_tokens = work.kv_window if sliding else work.kv_full
                up = _matmul("mla_kv_up", "attention", p, kv_tokens, rkv, heads * (dn + dv))
                ops.append(up)
                ops.append(_attention_core(f"attention{tag} (MLA)", p, work, sliding, heads,
                                           dn + dr, dv, latent, fused))
        ops.append(_matmul("o_proj", "attention", p, T, heads * dv, h))
        width = latent
    kv_write = kv_new * width * p.kv_cache.bytes_per_element
    ops.append(Op("kv_cache_write", "memory", "attention_core", p.activations, 1,
                  np.zeros_like(kv_write), np.zeros(()), np.zeros(()), kv_write))
    return ops


def _ffn_gemms(rows: ArrayLike, h: float, ff: ArrayLike, n_in: int,
               groups: ArrayLike = 1.0) -> tuple[Gemm, Gemm]:
    """Up (and gate) projection h -> n_in ff, then down projection ff -> h."""
    return (Gemm(rows, np.asarray(ff) * n_in, h, groups, n_in / (n_in + 1)),
            Gemm(rows, h, ff, groups, 1 / (n_in + 1)))


def _ffn_ops(m: ModelSpec, p: Precision, step: Step, sh: Shard, kind: str) -> list[Op]:
    h, T = m.hidden_size, step.tokens
    ab = p.activation_bytes
    ops: list[Op] = []
    if kind == "dense":
        mlp = m.mlp
        assert mlp is not None
        n_in = 2 if mlp.gated else 1
        ff = mlp.intermediate_size / sh.tp
        op = _matmul("mlp", "mlp", p, T, h, (n_in + 1) * ff,
                     weight_elems=ffn_params(h, mlp.intermediate_size, gated=mlp.gated,
                                             bias=mlp.mlp_bias) / sh.tp)
        op.flops = 2.0 * T * (n_in + 1) * h * ff
        op.gemms = _ffn_gemms(T, h, ff, n_in)
        op.act_bytes = ab * (2 * T * h + T * ff * (2 * n_in + 2))
        ops.append(op)
    elif kind == "moe":
        moe = m.moe
        assert moe is not None
        E, k = moe.num_experts, moe.num_experts_per_tok
        n_in = 2 if moe.gated else 1
        pe = ffn_params(h, moe.moe_intermediate_size, gated=moe.gated, bias=moe.expert_bias)
        router = _matmul("router", "router", p, T, h, E)
        ops.append(router)
        # Distinct experts the step's T tokens touch: E(1 - (1 - k/E)^T); their weights are
        # read once, split over the tp x ep devices.
        distinct = E * (1.0 - (1.0 - k / E) ** T)
        ffe = moe.moe_intermediate_size
        experts = Op("experts", "matmul", "experts", p.compute_dtype("experts"), 1,
                     2.0 * T * k * pe / sh.tp, distinct * pe * p.weight_bytes("experts") / sh.tp,
                     ab * (2 * T * k * h + T * k * ffe * (2 * n_in + 2)) / sh.tp)
        # GEMM shapes (balanced routing): with expert parallelism each device holds E/ep
        # whole experts, each seeing T k ep / (E tp) rows; without it, all E experts split
        # tp ways, each seeing T k / E rows. Both carry the op's FLOPs.
        wide = sh.ep > 1
        experts.gemms = _ffn_gemms(T * k * np.where(wide, sh.ep / sh.tp, 1.0) / E, h,
                                   np.where(wide, ffe, ffe / sh.tp), n_in,
                                   groups=np.where(wide, E / sh.ep, E))
        ops.append(experts)
        # Token permutation around the grouped GEMM: each token's k copies are gathered in
        # expert order (read T h, write T k h) and, after it, weighted and summed back
        # (read T k h, write T h): Megatron-Core's permute / unpermute kernels, DeepEP's
        # combine reduction (the router weights are 2 FLOPs per element). Memory-bound
        # passes outside the GEMM; the dispatch itself is communication (moe_comm).
        ops.append(Op("moe_permute", "memory", "experts", p.activations, 1,
                      2.0 * T * k * h / sh.tp, np.zeros(()), 2.0 * ab * T * h * (1 + k) / sh.tp))
        if moe.shared_intermediate:
            ps = ffn_params(h, moe.shared_intermediate, gated=moe.gated, bias=moe.expert_bias)
            ops.append(Op("shared_experts", "matmul", "experts", p.compute_dtype("experts"), 1,
                          2.0 * T * ps / sh.tp, ps * p.weight_bytes("experts") / sh.tp,
                          ab * (2 * T * h + T * moe.shared_intermediate * (2 * n_in + 2) / sh.tp),
                          gemms=_ffn_gemms(T, h, moe.shared_intermediate / sh.tp, n_in)))
    return ops


def _ssm_ops(m: ModelSpec, p: Precision, step: Step, sh: Shard) -> list[Op]:
    ssm = m.ssm
    assert ssm is not None
    h, T, ab = m.hidden_size, step.tokens, p.activation_bytes
    d = ssm_inner(h, ssm) / sh.tp
    n = ssm.state_size
    if ssm.version == 1:
        r = ssm_dt_rank(h, ssm)
        proj_in = h * 2 * d + d * (r + 2 * n) + r * d
    else:
        heads = d / ssm.head_dim
        proj_in = h * (2 * d + 2 * ssm.n_groups * n + heads)
    proj = proj_in + d * h
    ops = [Op("ssm_proj", "matmul", "ssm", p.compute_dtype("ssm"), 1, 2.0 * T * proj,
              proj * p.weight_bytes("ssm"), ab * T * (2 * h + 4 * d))]
    seqs = step.seqs
    scan_flops = T * d * (SCAN_FLOPS_PER_STATE * n + 2 * ssm.conv_kernel)
    state = seqs * d * (n * SSM_STATE_BYTES + (ssm.conv_kernel - 1) * ab)
    # Decode reads and writes each sequence's state; prefill streams x, dt, B, C and y and
    # writes the final state once (the scan keeps it in SRAM).
    state_io = 2.0 * state * (step.decode.seqs > 0) + state * (step.prefill.seqs > 0)
    ops.append(Op("ssm_scan", "memory", "ssm", p.activations, 1, scan_flops, np.zeros(()),
                  ab * T * (3 * d + 2 * n), state_io))
    return ops


def _norm_op(m: ModelSpec, p: Precision, step: Step, per_layer: float) -> Op:
    """Norms and residual adds: memory-bound elementwise work, replicated across tp."""
    T, h, ab = step.tokens, m.hidden_size, p.activation_bytes
    return Op("norms_elementwise", "memory", "norm", p.activations, 1,
              T * h * (per_layer * NORM_FLOPS_PER_ELEMENT + 2),
              np.asarray(per_layer * norm_params(m) * 2.0),  # bf16 norm weights
              T * h * ab * (2 * per_layer + 3 * 2))


def _quantise_op(ops: list[Op], p: Precision) -> Op | None:
    """Quantisation of the inputs of the matmuls that compute in a sub-16-bit format: each
    input element is read in activation precision and written in the narrow one (its
    per-tile scales are 1/128 of that) by a separate pass before the GEMM (DeepSeek-V3
    sec. 3.3.2 and 3.5.2: 128 BF16 values read from HBM, quantised, written back as FP8
    and read again for the MMA; Transformer Engine casts its fp8 inputs the same way).
    Input elements of a GEMM C = A B: FLOPs / (2 N)."""
    elems = np.zeros(())
    narrow = np.zeros(())
    for op in ops:
        width = BYTES_PER_ELEMENT[op.dtype]
        if op.kind != "matmul" or width >= 2:
            continue
        for g in op.gemms:
            e = op.flops * g.share / (2.0 * np.maximum(np.asarray(g.n, dtype=np.float64), 1))
            elems = elems + e
            narrow = narrow + e * width
    if not np.any(elems):
        return None
    return Op("activation_quant", "memory", "norm", p.activations, 1, 2.0 * elems,
              np.zeros(()), elems * p.activation_bytes + narrow)


def operator_table(m: ModelSpec, p: Precision, step: Step, tp: ArrayLike = 1,
                   ep: ArrayLike = 1, *, fused_attention: bool = True,
                   mla_absorb: bool | None = None) -> list[Op]:
    """Every operator of one forward pass of ``m`` on one tensor/expert shard.

    ``mla_absorb=None`` absorbs MLA's up-projections in decode and not in prefill, as
    serving engines do (vLLM, SGLang).
    """
    sh = Shard.of(tp, ep)
    table = _Table()
    T, h = step.tokens, m.hidden_size
    ab = p.activation_bytes
    table.add(Op("embedding", "memory", "embedding", p.activations, 1, np.zeros_like(T),
                  T * h * p.weight_bytes("embedding") / sh.tp, T * h * ab), 1)
    for (mixer, ffn), n in m.layer_counts().items():
        if mixer == "mamba":
            ops = _ssm_ops(m, p, step, sh)
        else:
            ops = _attention_ops(m, p, step, sh, mixer == "sliding_attention",
                                 fused_attention, mla_absorb)
        for op in ops + _ffn_ops(m, p, step, sh, ffn):
            table.add(op, n)
        table.add(_norm_op(m, p, step, m.norms_per_layer), n)
    table.add(_norm_op(m, p, step, 1.0), 1)  # final norm
    rows = step.logit_rows
    head = _matmul("lm_head", "lm_head", p, rows, h, m.vocab_size / sh.tp)
    table.add(head, 1)
    quant = _quantise_op(list(table.ops.values()), p)
    if quant is not None:
        table.add(quant, 1)
    return list(table.ops.values())


def sliding_window(m: ModelSpec) -> float:
    """The model's attention window in tokens (inf when it has none)."""
    w = m.attention.sliding_window if m.attention is not None else None
    return float(w) if w else float("inf")
