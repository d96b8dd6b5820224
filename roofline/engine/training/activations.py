"""Training activations per device: Korthikanti et al. 2022 (arXiv 2205.05198, sec. 4
and Table 2) exactly (:func:`korthikanti_layer_bytes`), and generalised to any
:class:`ModelSpec` (:func:`layer_activation_bytes`: GQA, MLA, gated MLPs, MoE, Mamba,
FlashAttention, no dropout, selective recomputation of the norms / MLA up-projections /
activation functions, fp8-cached matmul inputs), which reduces to theirs for a GPT model;
plus the embedding's and the output layer's activations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.table import sliding_window
from roofline.errors import SpecError
from roofline.specs.model import ModelSpec
from roofline.specs.params import ssm_dt_rank, ssm_inner

Array = NDArray[np.float64]

#: Bytes of a dropout mask element (PyTorch stores a byte per element; Korthikanti sec. 4.1).
MASK_BYTES = 1.0
#: Bytes per element of fp32 statistics kept for the backward pass (softmax log-sum-exp,
#: router probabilities, cross-entropy logits).
FP32 = 4.0


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


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
    what full recomputation keeps (the input of each layer). Parts of the first two, as
    (replicated, sharded) pairs: ``dropped``, what selective recomputation under
    FlashAttention rebuilds (norm outputs, MLA's decompressed q/k/v, activation outputs,
    expert outputs; :func:`~roofline.engine.training_flops.recompute_factor`); ``fp8``,
    the inputs of matmuls and activation functions an fp8 recipe caches in fp8 (DeepSeek-V3
    sec. 3.3.2; Transformer Engine saves fp8 inputs); ``fp8_dropped``, the tensors in both.
    """

    replicated: float
    sharded: float
    scores_per_key: float
    scores_per_key_window: float
    layer_input: float
    dropped: tuple[float, float] = (0.0, 0.0)
    fp8: tuple[float, float] = (0.0, 0.0)
    fp8_dropped: tuple[float, float] = (0.0, 0.0)


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
    per_key = per_key_w = 0.0
    tot = np.zeros((4, 2))  # rows: stored, dropped, fp8-cacheable, both; cols: rep, shard
    score_bytes = ab + (MASK_BYTES + ab if dropout else 0.0)  # softmax out, mask, dropout out

    def keep(n: int, nbytes: float, sharded: bool = False, drop: bool = False,
             fp8: bool = False) -> None:
        """A tensor of ``nbytes`` per token kept for the backward pass in ``n`` layers:
        ``drop`` if selective recomputation rebuilds it, ``fp8`` if it is the input of a
        matmul or activation function an fp8 recipe caches in fp8."""
        col = int(sharded)
        tot[0, col] += n * nbytes
        tot[1, col] += n * nbytes * drop
        tot[2, col] += n * nbytes * fp8
        tot[3, col] += n * nbytes * (drop and fp8)

    for (mixer, ffn), n in m.layer_counts().items():
        keep(n, m.norms_per_layer * ab * h)       # each norm keeps its input
        if mixer == "mamba":
            ssm = m.ssm
            assert ssm is not None
            d, N = ssm_inner(h, ssm), ssm.state_size
            keep(n, ab * h)                       # in_proj input
            if ssm.version == 1:                 # x, z; conv out; x_proj out; dt; y
                keep(n, ab * (2 * d + d + ssm_dt_rank(h, ssm) + 2 * N + d + d), True)
            else:                                # in_proj out (x, z, B, C, dt); conv out; y
                heads = d / ssm.head_dim
                keep(n, ab * (2 * d + 2 * ssm.n_groups * N + heads + d + d), True)
            keep(n, ab * d, True)                 # out_proj input (gated norm output)
        else:
            a = m.attention
            assert a is not None
            H = a.num_attention_heads
            keep(n, ab * h, drop=True, fp8=True)  # q/k/v input (the norm's output)
            keep(n, mask)                         # dropout mask after o_proj
            if m.mla is not None:
                x = m.mla
                keep(n, ab * ((x.q_lora_rank or 0) + x.kv_lora_rank + x.qk_rope_head_dim),
                     fp8=True)                    # latents: the up-projections' inputs
                d_qk, d_v = x.qk_nope_head_dim + x.qk_rope_head_dim, x.v_head_dim
                keep(n, ab * H * (2 * d_qk + d_v), True, drop=True)  # q, decompressed k, v
            else:
                d_qk = d_v = m.head_dim
                keep(n, ab * (H * d_qk + 2 * a.kv_heads * d_qk), True)  # q, k, v
            keep(n, ab * H * d_v, True, fp8=True)  # attention output = o_proj input
            if flash:
                keep(n, FP32 * H, True)           # log-sum-exp per query and head
            elif mixer == "sliding_attention":
                per_key_w += n * H * score_bytes
            else:
                per_key += n * H * score_bytes
        if ffn == "dense":
            mlp = m.mlp
            assert mlp is not None
            ff = mlp.intermediate_size
            keep(n, ab * h, drop=True, fp8=True)  # MLP input (the norm's output)
            keep(n, mask)                         # dropout mask after it
            keep(n, ab * ff * (_ffn_width(mlp.gated) - 1), True, fp8=True)  # act. input
            keep(n, ab * ff, True, drop=True, fp8=True)  # act. output = down_proj input
        elif ffn == "moe":
            moe = m.moe
            assert moe is not None
            k, ffe, w = moe.num_experts_per_tok, moe.moe_intermediate_size, _ffn_width(moe.gated)
            keep(n, ab * h, drop=True, fp8=True)  # MoE input (the norm's output)
            keep(n, mask + FP32 * moe.num_experts)  # dropout mask, router probabilities
            keep(n, ab * k * h, fp8=True)         # dispatched token copies (expert inputs)
            # expert outputs, for the gradient of the router weights; dropped when the
            # weights fold into the recomputed activation (Megatron-Core's weighted SwiGLU)
            keep(n, ab * k * h, drop=True)
            for width in (k * ffe, moe.shared_intermediate):
                keep(n, ab * width * (w - 1), True, fp8=True)  # activation inputs
                keep(n, ab * width, True, drop=True, fp8=True)  # activation outputs
    return LayerActivations(float(tot[0, 0]), float(tot[0, 1]), per_key, per_key_w,
                            m.num_hidden_layers * ab * h, tuple(tot[1]), tuple(tot[2]),
                            tuple(tot[3]))


def layer_activation_bytes(m: ModelSpec, seq_len: ArrayLike, micro_batch: ArrayLike,
                           tp: ArrayLike = 1, cp: ArrayLike = 1,
                           sequence_parallel: ArrayLike = True, recompute: ArrayLike = 0,
                           *, act_bytes: float = 2.0, flash: bool = True,
                           dropout: bool = False, fp8_cache: bool = False) -> Array:
    """Activation bytes of one micro-batch through *all* layers on one device.

    Korthikanti et al. 2022 generalised: tokens per device ``b s / cp``; replicated
    tensors ``/t`` only with sequence parallelism, sharded ones ``/t``; materialised scores
    per query over ``s`` keys (or the sliding window), ``/t``; ``recompute`` code 1
    (selective) drops the scores, 2 (full) keeps only each layer's input (``/t`` with
    sequence parallelism, as Megatron stores the sequence-parallel shard; the paper's Table
    2 writes ``2sbh`` whatever ``t``). With FlashAttention, selective recomputation drops
    the norm outputs, MLA's decompressed q/k/v and the activation-function outputs
    and expert outputs (:class:`LayerActivations`). ``fp8_cache``: matmul and activation
    inputs stored in fp8 (1 byte) as fp8 recipes do (DeepSeek-V3 sec. 3.3.2).
    """
    la = layer_activations(m, act_bytes, flash=flash, dropout=dropout)
    s, b, tp, cp = _a(seq_len), _a(micro_batch), _a(tp), _a(cp)
    sp = np.asarray(sequence_parallel, dtype=bool)
    rc = np.asarray(recompute)
    tokens = b * s / cp
    rep_div = np.where(sp, tp, 1.0)
    keys_w = np.minimum(s, sliding_window(m))
    scores = tokens * (la.scores_per_key * s + la.scores_per_key_window * keys_w) / tp
    def per_device(pair: tuple[float, float]) -> Array:
        return tokens * (pair[0] / rep_div + pair[1] / tp)

    stored = per_device((la.replicated, la.sharded))
    sel = (rc == 1) & flash
    if flash:
        stored = stored - np.where(sel, per_device(la.dropped), 0.0)
    if fp8_cache:  # what is still stored of the fp8-cacheable tensors keeps 1 of ab bytes
        cached = per_device(la.fp8) - np.where(sel, per_device(la.fp8_dropped), 0.0)
        stored = stored - cached * (1.0 - 1.0 / act_bytes)
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
