"""Training memory per device: weights, gradients and optimizer states under ZeRO / FSDP,
and activations under tensor, sequence, context, pipeline and expert parallelism.

Model states follow Rajbhandari et al. 2020 (ZeRO, arXiv 1910.02054, sec. 3 and 5):
mixed-precision Adam holds ``2 + 2 + K`` bytes per parameter (fp16/bf16 weights and
gradients, ``K = 12`` bytes of fp32 master weights, momentum and variance); ZeRO stage 1
partitions the optimizer states over the ``N_d`` data-parallel ranks, stage 2 also the
gradients, stage 3 also the weights (PyTorch FSDP's FULL_SHARD is stage 3).

Activations per layer and micro-batch are in :mod:`~roofline.engine.training.activations`
(Korthikanti et al. 2022, generalised); here they are multiplied by the micro-batches each
stage holds in flight (1F1B, interleaved, DualPipe).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.memory import RUNTIME_RESERVE_BYTES
from roofline.engine.training.activations import (
    FP32,
    embedding_activation_bytes,
    layer_activation_bytes,
    output_activation_bytes,
)
from roofline.errors import Problem, SpecError
from roofline.specs.model import ModelSpec
from roofline.specs.params import (
    ParamCount,
    expert_params,
    norm_params,
)

Array = NDArray[np.float64]

#: Recomputation policies by code (vectorised calls carry the code).
RECOMPUTE_CODES = {"none": 0, "selective": 1, "full": 2}


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
    # DeepSeek-V3 (arXiv 2412.19437 sec. 3.3.3) tracks Adam's moments in bf16.
    "adam-bf16": Optimizer("adam-bf16", 4.0, "AdamW with bf16 momentum + variance"),
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
                    reserve_bytes: float = RUNTIME_RESERVE_BYTES,
                    dualpipe: ArrayLike = False, fp8_cache: bool = False,
                    mtp: bool = False) -> TrainingMemory:
    """Memory per device (bytes) of the larger of the first and the last pipeline stage.

    Model states: dense parameters are ZeRO-partitioned over the ``dp x cp`` ranks that hold
    the same shard (Megatron's distributed optimizer shards over data and context parallel
    ranks), routed experts over ``dp x cp / ep``. ZeRO-3 also holds two gathered layers
    (the one computing and the one prefetched). Activations per :func:`layer_activation_bytes`
    times :func:`stage_layers_held`; plus a runtime reserve (CUDA context, NCCL buffers).

    ``dualpipe``: each device holds stage ``i`` and stage ``p - 1 - i`` (DeepSeek-V3 Table 2:
    2x parameters, ``p + 1`` micro-batches of activations), so device 0 carries both the
    embedding and the LM head; each stage's states are ZeRO-sharded over the ``2 dp`` ranks
    that hold it. ``mtp``: the multi-token-prediction modules sit on the last stage with the
    output head (DeepSeek-V3 sec. 2.2 and 3.2.1), their routed experts sharded by ``ep``.
    """
    tp, pp, dp, cp, ep = (_a(x) for x in (tp, pp, dp, cp, ep))
    z = _a(zero)
    dual = np.asarray(dualpipe, dtype=bool)
    st = stage_params(params, m, tp, pp, ep, interleave)
    if mtp and params.mtp:
        routed = (m.num_nextn_predict_layers * m.moe.num_experts * expert_params(m.hidden_size,
                                                                                  m.moe)
                  if m.moe is not None and m.ffns()[-1] == "moe" else 0)
        extra = (params.mtp - routed) / tp + routed / (tp * ep)
        st = StageParams(st.dense_first, st.dense_last + extra, st.experts, st.layer_avg)
    copies = np.where(dual, 2.0, 1.0)
    n_dense, n_exp = dp * cp * copies, dp * cp / ep * copies
    st = StageParams(np.where(dual, st.dense_first + st.dense_last, st.dense_first),
                     np.where(dual, st.dense_first + st.dense_last, st.dense_last),
                     st.experts * copies, st.layer_avg)
    kw = dict(weight_bytes=weight_bytes, grad_bytes=grad_bytes, optimizer_bytes=optimizer_bytes)
    we, ge, oe = zero_state_bytes(st.experts, n_exp, z, **kw)
    parts = []
    per_mb = layer_activation_bytes(m, seq_len, micro_batch, tp, cp, sequence_parallel,
                                    recompute, act_bytes=act_bytes, flash=flash,
                                    dropout=dropout, fp8_cache=fp8_cache
                                    ) / m.num_hidden_layers
    held_first, held_last = stage_layers_held(m.num_hidden_layers, pp, microbatches, interleave)
    dual_held = np.ceil(m.num_hidden_layers / pp) * (pp + 1)
    held_first = np.where(dual, dual_held, held_first)
    held_last = np.where(dual, dual_held, held_last)
    emb = embedding_activation_bytes(m, seq_len, micro_batch, tp, cp, sequence_parallel,
                                     dropout=dropout)
    out = output_activation_bytes(m, seq_len, micro_batch, tp, cp, sequence_parallel,
                                  act_bytes=act_bytes)
    in_flight_first = np.minimum(_a(microbatches), pp)
    one = (pp == 1) | dual
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
