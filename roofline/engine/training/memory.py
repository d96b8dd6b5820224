"""Training memory per device: weights, gradients and optimizer states under ZeRO / FSDP,
and activations under tensor, sequence, context, pipeline and expert parallelism.

Model states follow Rajbhandari et al. 2020 (ZeRO, arXiv 1910.02054, sec. 3 and 5):
mixed-precision Adam holds ``2 + 2 + K`` bytes per parameter (fp16/bf16 weights and
gradients, ``K = 12`` bytes of fp32 master weights, momentum and variance); ZeRO stage 1
partitions the optimizer states over the ``N_d`` data-parallel ranks, stage 2 also the
gradients, stage 3 also the weights (PyTorch FSDP's FULL_SHARD is stage 3).

Activations follow Korthikanti et al. 2022 (arXiv 2205.05198, sec. 4 and Table 2), whose
formulas are kept exactly (:func:`korthikanti_layer_bytes`) and generalised to any
:class:`ModelSpec` (:func:`layer_activation_bytes`: GQA, MLA, gated MLPs, MoE, Mamba,
FlashAttention, no dropout), which reduces to theirs for a GPT model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.memory import RUNTIME_RESERVE_BYTES
from roofline.engine.operators.table import sliding_window
from roofline.errors import Problem, SpecError
from roofline.specs.model import ModelSpec
from roofline.specs.params import (
    ParamCount,
    norm_params,
    ssm_dt_rank,
    ssm_inner,
)

Array = NDArray[np.float64]

#: Recomputation policies by code (vectorised calls carry the code).
RECOMPUTE_CODES = {"none": 0, "selective": 1, "full": 2}
#: Bytes of a dropout mask element (PyTorch stores a byte per element; Korthikanti sec. 4.1).
MASK_BYTES = 1.0
#: Bytes per element of fp32 statistics kept for the backward pass (softmax log-sum-exp,
#: router probabilities, cross-entropy logits).
FP32 = 4.0


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------------------
# Model states
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Optimizer:
    """Optimizer state bytes per parameter, besides the weights, gradients and master copy."""

    name: str
    state_bytes_per_param: float
    label: str


#: Adam: fp32 momentum and variance (Kingma & Ba 2015; ZeRO's K = 12 with the fp32 master).
#: 8-bit Adam: both moments in 8 bits with one fp32 absmax per block of 2048 (Dettmers et al.
#: 2022, arXiv 2110.02861). SGD: one fp32 momentum buffer.
OPTIMIZERS: dict[str, Optimizer] = {
    "adam": Optimizer("adam", 8.0, "Adam/AdamW, fp32 momentum + variance"),
    "adam-8bit": Optimizer("adam-8bit", 2.0 + 2 * FP32 / 2048,
                           "8-bit Adam (block-wise quantised moments, block 2048)"),
    "sgd": Optimizer("sgd", 4.0, "SGD with fp32 momentum"),
}
#: Master-weight copy kept by mixed-precision training (Micikevicius et al. 2018).
MASTER_BYTES = {"fp32": 4.0, "bf16": 2.0, "none": 0.0}


def get_optimizer(name: str | Optimizer) -> Optimizer:
    """An :class:`Optimizer` by name (:data:`OPTIMIZERS`)."""
    if isinstance(name, Optimizer):
        return name
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise SpecError([Problem(f"unknown optimizer {name!r}; use one of "
                                 f"{', '.join(OPTIMIZERS)}", field="optimizer")])
    return OPTIMIZERS[key]


def zero_state_bytes(n_params: ArrayLike, dp: ArrayLike, zero: ArrayLike, *,
                     weight_bytes: float = 2.0, grad_bytes: float = 2.0,
                     optimizer_bytes: float = 12.0) -> tuple[Array, Array, Array]:
    """(weights, gradients, optimizer states) bytes per device for ``n_params`` parameters
    replicated over ``dp`` data-parallel ranks, ZeRO stage ``zero`` (0-3).

    Rajbhandari et al. 2020 fig. 1: baseline ``(2 + 2 + K) Psi``; P_os ``4 Psi + K Psi/N_d``;
    P_os+g ``2 Psi + (2 + K) Psi/N_d``; P_os+g+p ``(2 + 2 + K) Psi / N_d``.
    """
    psi, nd, z = _a(n_params), _a(dp), _a(zero)
    w = psi * weight_bytes / np.where(z >= 3, nd, 1)
    g = psi * grad_bytes / np.where(z >= 2, nd, 1)
    o = psi * optimizer_bytes / np.where(z >= 1, nd, 1)
    return w, g, o


@dataclass(frozen=True)
class StageParams:
    """Parameters on one device of the first and of the last pipeline stage.

    ``dense``: replicated over the data-parallel group (attention, dense MLP, shared
    experts, router, norms, embedding / LM head), after tensor and pipeline sharding;
    ``experts``: routed experts, after tensor, expert and pipeline sharding.
    """

    dense_first: Array
    dense_last: Array
    experts: Array
    layer_avg: Array  # one average layer's parameters on one device (ZeRO-3 gather buffer)


def stage_share(layers: ArrayLike, pp: ArrayLike, interleave: ArrayLike = 1) -> Array:
    """Share of the layers the most loaded pipeline stage holds: ceil(L / (p v)) x v / L.

    1/p when ``p x v`` divides ``L``; otherwise stages are uneven (Llama 3 405B's 126 layers
    on 16 stages, Dubey et al. 2024 sec. 3.3.2) and the largest sets the pace and memory.
    """
    L, p, v = _a(layers), _a(pp), _a(interleave)
    return np.ceil(L / (p * v)) * v / L


def stage_params(p: ParamCount, m: ModelSpec, tp: ArrayLike, pp: ArrayLike,
                 ep: ArrayLike, interleave: ArrayLike = 1) -> StageParams:
    """Per-device parameters of the first and last stages (the most loaded stage's layers,
    :func:`stage_share`).

    Tensor parallelism splits attention, MLPs, experts and the vocabulary (Megatron's
    vocab-parallel embedding) and replicates norms and the router. The first stage holds the
    embedding, the last the LM head (a tied embedding is copied there when ``pp > 1``, as
    Megatron does) and the final norm.
    """
    tp, pp, ep = _a(tp), _a(pp), _a(ep)
    share = stage_share(m.num_hidden_layers, pp, interleave)
    final_norm = norm_params(m)
    sharded = p.attention + p.ssm + p.mlp + p.experts_shared
    replicated = p.router + p.norms - final_norm
    layers = (sharded / tp + replicated) * share
    experts = p.experts_routed / (tp * ep) * share
    head = p.lm_head if p.lm_head else m.vocab_size * m.hidden_size
    one = pp == 1
    first = layers + p.embedding / tp + np.where(one, p.lm_head / tp + final_norm, 0.0)
    last = layers + np.where(one, p.embedding / tp + p.lm_head / tp, head / tp) + final_norm
    per_layer = (layers + experts) / (share * m.num_hidden_layers)
    return StageParams(first, last, experts, per_layer)


# --------------------------------------------------------------------------------------
# Activations: Korthikanti et al. 2022 exactly
# --------------------------------------------------------------------------------------

def korthikanti_layer_bytes(s: ArrayLike, b: ArrayLike, h: ArrayLike, a: ArrayLike,
                            t: ArrayLike = 1, *, sequence_parallel: bool = False,
                            recompute: str = "none") -> Array:
    """Activation bytes of one GPT layer, Korthikanti et al. 2022 Table 2 (16-bit
    activations, 1-byte dropout masks, MHA, 4h MLP).

    ========================================  ===========================
    no parallelism                            ``sbh (34 + 5as/h)``
    tensor parallel                           ``sbh (10 + 24/t + 5as/(ht))``
    tensor + sequence parallel                ``sbh (34/t + 5as/(ht))``
    tensor parallel + selective recompute     ``sbh (10 + 24/t)``
    tensor + sequence + selective recompute   ``sbh (34/t)``
    full activation recompute                 ``sbh (2)``
    ========================================  ===========================
    """
    s, b, h, a, t = (_a(x) for x in (s, b, h, a, t))
    sbh = s * b * h
    if recompute == "full":
        return 2 * sbh
    scores = 0.0 if recompute == "selective" else 5 * a * s / (h * t)
    if recompute not in ("none", "selective"):
        raise SpecError(f"recompute must be none, selective or full, got {recompute!r}")
    base = 34 / t if sequence_parallel else 10 + 24 / t
    return sbh * (base + scores)


def korthikanti_first_stage_bytes(s: ArrayLike, b: ArrayLike, h: ArrayLike, a: ArrayLike,
                                  layers: ArrayLike, t: ArrayLike = 1, p: ArrayLike = 1,
                                  interleave: ArrayLike = 1, *,
                                  sequence_parallel: bool = True,
                                  recompute: str = "none") -> Array:
    """Activations of the first pipeline stage, Korthikanti et al. 2022 sec. 4.2.3: under
    1F1B it holds ``p`` micro-batches of ``L/p`` layers, i.e. ``L`` layers' worth (eq. 5:
    ``sbhL/t (34 + 5as/h)`` with tensor + sequence parallelism); the interleaved schedule
    multiplies that by ``1 + (p - 1)/(p v)``. Input/output layers are left out, as there.
    """
    p, v = _a(p), _a(interleave)
    factor = np.where(v > 1, 1 + (p - 1) / (p * v), 1.0)
    return korthikanti_layer_bytes(s, b, h, a, t, sequence_parallel=sequence_parallel,
                                   recompute=recompute) * _a(layers) * factor


# --------------------------------------------------------------------------------------
# Activations: any ModelSpec
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerActivations:
    """Bytes per token stored for the backward pass, summed over all layers of the model.

    ``replicated``: tensors every tensor-parallel rank holds whole unless sequence
    parallelism splits them (norm inputs, layer inputs, dropout masks, MoE token copies);
    ``sharded``: tensors split over tensor-parallel ranks (q/k/v, attention output, MLP
    intermediates); ``scores``: per token *per key* (materialised softmax, its dropout mask
    and output: Korthikanti's ``5as``), split over tensor-parallel ranks; ``layer_input``:
    what full recomputation keeps (the input of each layer).
    """

    replicated: float
    sharded: float
    scores_per_key: float
    scores_per_key_window: float
    layer_input: float


def _ffn_width(gated: bool) -> int:
    """Intermediates a (gated) MLP stores per intermediate unit: plain GeLU keeps its input
    and output (Korthikanti's 8sbh + 8sbh for 4h); SwiGLU the gate, the up projection and
    their product (Megatron's fused swiglu saves its 2ff input and the ff output)."""
    return 3 if gated else 2


def layer_activations(m: ModelSpec, act_bytes: float = 2.0, *, flash: bool = True,
                      dropout: bool = False) -> LayerActivations:
    """Per-token activation bytes of every layer of ``m`` (see :class:`LayerActivations`).

    GPT with ``flash=False, dropout=True, act_bytes=2`` gives Korthikanti's 10 h replicated,
    24 h sharded and 5a per key per token, per layer.
    """
    h, ab = m.hidden_size, act_bytes
    mask = MASK_BYTES * h if dropout else 0.0  # one dropout mask over the hidden width
    rep = shard = per_key = per_key_w = 0.0
    score_bytes = ab + (MASK_BYTES + ab if dropout else 0.0)  # softmax out, mask, dropout out
    for (mixer, ffn), n in m.layer_counts().items():
        r = m.norms_per_layer * ab * h           # each norm keeps its input
        s = 0.0
        if mixer == "mamba":
            ssm = m.ssm
            assert ssm is not None
            d, N = ssm_inner(h, ssm), ssm.state_size
            r += ab * h                           # in_proj input
            if ssm.version == 1:                 # x, z; conv out; x_proj out; dt; y
                s += ab * (2 * d + d + ssm_dt_rank(h, ssm) + 2 * N + d + d)
            else:                                # in_proj out (x, z, B, C, dt); conv out; y
                heads = d / ssm.head_dim
                s += ab * (2 * d + 2 * ssm.n_groups * N + heads + d + d)
            s += ab * d                           # out_proj input (gated norm output)
        else:
            a = m.attention
            assert a is not None
            H = a.num_attention_heads
            r += ab * h + mask                    # q/k/v input; dropout mask after o_proj
            if m.mla is not None:
                x = m.mla
                r += ab * ((x.q_lora_rank or 0) + x.kv_lora_rank + x.qk_rope_head_dim)
                d_qk, d_v = x.qk_nope_head_dim + x.qk_rope_head_dim, x.v_head_dim
                s += ab * H * (2 * d_qk + d_v)    # q, decompressed k and v
            else:
                d_qk = d_v = m.head_dim
                s += ab * (H * d_qk + 2 * a.kv_heads * d_qk)  # q, k, v
            s += ab * H * d_v                     # attention output = o_proj input
            if flash:
                s += FP32 * H                     # log-sum-exp per query and head
            elif mixer == "sliding_attention":
                per_key_w += n * H * score_bytes
            else:
                per_key += n * H * score_bytes
        if ffn == "dense":
            mlp = m.mlp
            assert mlp is not None
            r += ab * h + mask                    # MLP input; dropout mask after it
            s += ab * mlp.intermediate_size * _ffn_width(mlp.gated)
        elif ffn == "moe":
            moe = m.moe
            assert moe is not None
            k = moe.num_experts_per_tok
            r += ab * h + mask + FP32 * moe.num_experts  # input, mask, router probabilities
            r += 2 * ab * k * h                   # dispatched token copies, expert outputs
            s += ab * k * moe.moe_intermediate_size * _ffn_width(moe.gated)
            s += ab * moe.shared_intermediate * _ffn_width(moe.gated)
        rep += n * r
        shard += n * s
    return LayerActivations(rep, shard, per_key, per_key_w, m.num_hidden_layers * ab * h)


def layer_activation_bytes(m: ModelSpec, seq_len: ArrayLike, micro_batch: ArrayLike,
                           tp: ArrayLike = 1, cp: ArrayLike = 1,
                           sequence_parallel: ArrayLike = True, recompute: ArrayLike = 0,
                           *, act_bytes: float = 2.0, flash: bool = True,
                           dropout: bool = False) -> Array:
    """Activation bytes of one micro-batch through *all* layers on one device.

    Korthikanti et al. 2022 generalised: tokens per device ``b s / cp``; replicated
    tensors ``/t`` only with sequence parallelism, sharded ones ``/t``; materialised scores
    per query over ``s`` keys (or the sliding window), ``/t``; ``recompute`` code 1
    (selective) drops the scores, 2 (full) keeps only each layer's input (``/t`` with
    sequence parallelism, as Megatron stores the sequence-parallel shard; the paper's Table
    2 writes ``2sbh`` whatever ``t``).
    """
    la = layer_activations(m, act_bytes, flash=flash, dropout=dropout)
    s, b, tp, cp = _a(seq_len), _a(micro_batch), _a(tp), _a(cp)
    sp = np.asarray(sequence_parallel, dtype=bool)
    rc = np.asarray(recompute)
    tokens = b * s / cp
    rep_div = np.where(sp, tp, 1.0)
    keys_w = np.minimum(s, sliding_window(m))
    scores = tokens * (la.scores_per_key * s + la.scores_per_key_window * keys_w) / tp
    stored = tokens * (la.replicated / rep_div + la.sharded / tp)
    full = tokens * la.layer_input / rep_div
    return np.where(rc >= 2, full, stored + np.where(rc >= 1, 0.0, scores))


def embedding_activation_bytes(m: ModelSpec, seq_len: ArrayLike, micro_batch: ArrayLike,
                               tp: ArrayLike = 1, cp: ArrayLike = 1,
                               sequence_parallel: ArrayLike = True, *,
                               dropout: bool = False) -> Array:
    """First stage, per micro-batch: the embedding output's dropout mask
    (Korthikanti sec. 4.3: ``sbhp/t`` for p micro-batches)."""
    if not dropout:
        return np.zeros(np.broadcast(_a(seq_len), _a(micro_batch), _a(tp), _a(cp)).shape)
    div = np.where(np.asarray(sequence_parallel, dtype=bool), _a(tp), 1.0)
    return _a(micro_batch) * _a(seq_len) / _a(cp) * m.hidden_size * MASK_BYTES / div


def output_activation_bytes(m: ModelSpec, seq_len: ArrayLike, micro_batch: ArrayLike,
                            tp: ArrayLike = 1, cp: ArrayLike = 1,
                            sequence_parallel: ArrayLike = True, *,
                            act_bytes: float = 2.0) -> Array:
    """Last stage, per micro-batch: final-norm input, LM-head input and fp32 logits,
    Korthikanti sec. 4.3 ``4sbh/t (1 + V/h)`` (vocabulary split over ``t``)."""
    tokens = _a(micro_batch) * _a(seq_len) / _a(cp)
    div = np.where(np.asarray(sequence_parallel, dtype=bool), _a(tp), 1.0)
    return tokens * (2 * act_bytes * m.hidden_size / div + FP32 * m.vocab_size / _a(tp))


def stage_layers_held(layers: ArrayLike, pp: ArrayLike, microbatches: ArrayLike,
                      interleave: ArrayLike = 1) -> tuple[Array, Array]:
    """Layers' worth of micro-batch activations the first and the last stage hold at peak.

    1F1B (Narayanan et al. 2021 sec. 2.2.1): stage ``i`` of ``p`` warms up with ``p - i``
    forward passes, so the first holds ``min(m, p)`` micro-batches of ``L/p`` layers (``L``
    layers' worth) and the last one. Interleaved with ``v`` chunks per device: the first
    holds ``2(p-1) + (v-1)p + 1`` chunks of ``L/(pv)`` layers, ``L (1 + (p-1)/(pv))``
    (Korthikanti et al. sec. 4.2.3); the last ``(v-1)p + 1``.
    """
    L, p, mb, v = _a(layers), _a(pp), _a(microbatches), _a(interleave)
    chunk = np.ceil(L / (p * v))  # layers per virtual stage (the largest, when uneven)
    per_stage = chunk * v
    first = np.where(v > 1, chunk * np.minimum(mb * v, p * v + p - 1),
                     per_stage * np.minimum(mb, p))
    last = np.where(v > 1, chunk * np.minimum(mb * v, (v - 1) * p + 1), per_stage)
    return first, last


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes per device of the most loaded pipeline stage, by part (arrays)."""

    weights: Array
    gradients: Array
    optimizer: Array
    activations: Array
    reserve: Array
    stage: Array  # 0 = first stage is the larger, 1 = last stage

    @property
    def total(self) -> Array:
        return self.weights + self.gradients + self.optimizer + self.activations + self.reserve


def training_memory(m: ModelSpec, params: ParamCount, *, seq_len: ArrayLike,
                    micro_batch: ArrayLike, microbatches: ArrayLike, tp: ArrayLike = 1,
                    pp: ArrayLike = 1, dp: ArrayLike = 1, cp: ArrayLike = 1,
                    ep: ArrayLike = 1, zero: ArrayLike = 1, recompute: ArrayLike = 1,
                    sequence_parallel: ArrayLike = True, interleave: ArrayLike = 1,
                    weight_bytes: float = 2.0, grad_bytes: float = 2.0,
                    optimizer_bytes: float = 12.0, act_bytes: float = 2.0,
                    flash: bool = True, dropout: bool = False,
                    reserve_bytes: float = RUNTIME_RESERVE_BYTES) -> TrainingMemory:
    """Memory per device (bytes) of the larger of the first and the last pipeline stage.

    Model states: dense parameters are ZeRO-partitioned over the ``dp x cp`` ranks that hold
    the same shard (Megatron's distributed optimizer shards over data and context parallel
    ranks), routed experts over ``dp x cp / ep``. ZeRO-3 also holds two gathered layers
    (the one computing and the one prefetched). Activations per :func:`layer_activation_bytes`
    times :func:`stage_layers_held`; plus a runtime reserve (CUDA context, NCCL buffers).
    """
    tp, pp, dp, cp, ep = (_a(x) for x in (tp, pp, dp, cp, ep))
    z = _a(zero)
    st = stage_params(params, m, tp, pp, ep, interleave)
    n_dense, n_exp = dp * cp, dp * cp / ep
    kw = dict(weight_bytes=weight_bytes, grad_bytes=grad_bytes, optimizer_bytes=optimizer_bytes)
    we, ge, oe = zero_state_bytes(st.experts, n_exp, z, **kw)
    parts = []
    per_mb = layer_activation_bytes(m, seq_len, micro_batch, tp, cp, sequence_parallel,
                                    recompute, act_bytes=act_bytes, flash=flash,
                                    dropout=dropout) / m.num_hidden_layers
    held_first, held_last = stage_layers_held(m.num_hidden_layers, pp, microbatches, interleave)
    emb = embedding_activation_bytes(m, seq_len, micro_batch, tp, cp, sequence_parallel,
                                     dropout=dropout)
    out = output_activation_bytes(m, seq_len, micro_batch, tp, cp, sequence_parallel,
                                  act_bytes=act_bytes)
    in_flight_first = np.minimum(_a(microbatches), pp)
    one = pp == 1
    acts = (per_mb * held_first + emb * in_flight_first + np.where(one, out, 0.0),
            per_mb * held_last + out + np.where(one, emb, 0.0))
    gather = np.where(z >= 3, 2 * st.layer_avg * weight_bytes, 0.0)
    for dense, act in zip((st.dense_first, st.dense_last), acts, strict=True):
        w, g, o = zero_state_bytes(dense, n_dense, z, **kw)
        parts.append((w + we + gather, g + ge, o + oe, act))
    tot = [sum(p) for p in parts]
    last = tot[1] > tot[0]
    pick = [np.where(last, b, a) for a, b in zip(*parts, strict=True)]
    shape = np.broadcast(*pick).shape
    return TrainingMemory(*(np.broadcast_to(x, shape) for x in pick),
                          reserve=np.full(shape, float(reserve_bytes)),
                          stage=np.broadcast_to(last.astype(np.float64), shape))
