"""Serving memory per device: weights at their stored precision, KV cache (MHA/GQA/MQA,
MLA latents, sliding windows), SSM state, transient activations and a runtime reserve.

Per-token KV size follows vLLM/PagedAttention (Kwon et al. 2023): 2 x layers x kv_heads x
head_dim x bytes; MLA caches the compressed latent plus the decoupled RoPE key,
(kv_lora_rank + qk_rope_head_dim) x bytes per layer (DeepSeek-V2, sec. 2.1.2), and that
latent is replicated on every tensor-parallel rank of an attention group (with data-parallel
attention each group caches only its own sequences).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.table import SSM_STATE_BYTES, sliding_window
from roofline.engine.scenario.precision import Precision
from roofline.specs.model import ModelSpec
from roofline.specs.params import ParamCount, expert_params, norm_params, ssm_inner

Array = NDArray[np.float64]

#: Runtime reserve per device: CUDA/ROCm context, cuBLAS/NCCL workspaces and allocator slack
#: (PyTorch + NCCL typically hold 0.5-1.5 GiB before any tensor); training keeps this.
RUNTIME_RESERVE_BYTES = 2**30
#: Share of device memory a serving engine uses: vLLM's gpu_memory_utilization default 0.9
#: (SGLang's mem_fraction_static is of the same kind).
MEMORY_UTILISATION = 0.9
#: Tokens per KV-cache block (vLLM's default block_size, PagedAttention).
KV_BLOCK_TOKENS = 16
#: The scheduler's token budget per step (vLLM V1's max_num_batched_tokens default for online
#: serving) and its most sequences per step (max_num_seqs): they bound transient activations.
TOKEN_BUDGET = 8192
MAX_NUM_SEQS = 256


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def stage_layer_share(m: ModelSpec, pp: ArrayLike = 1) -> Array:
    """Share of the layers on the most loaded pipeline stage: whole layers, ceil(L/pp)/L."""
    L = m.num_hidden_layers
    return np.ceil(L / _a(pp)) / L


def weight_bytes_per_device(m: ModelSpec, p: Precision, params: ParamCount, tp: ArrayLike = 1,
                            pp: ArrayLike = 1, dp: ArrayLike = 1, redundant: ArrayLike = 0,
                            mtp: bool = False) -> Array:
    """Stored weight bytes on one device of the most loaded pipeline stage.

    Tensor parallelism splits attention, FFNs, shared experts and the vocabulary; norms and
    the MoE router are replicated; routed experts are spread over all ``tp x dp`` chips of
    a stage (by tensor or by expert parallelism alike), plus ``redundant`` replicated
    experts (EPLB). Stages hold whole layers (ceil(L/pp) on the largest) and, when pp > 1,
    the embedding or the LM head; ``mtp`` adds the multi-token-prediction modules (DeepSeek
    MTP, used for speculative decoding) to that stage.
    """
    tp, pp, dp = _a(tp), _a(pp), _a(dp)
    E = m.moe.num_experts if m.moe is not None else 1
    final = norm_params(m) * 2.0
    layers = (params.attention * p.weight_bytes("attention") +
              params.ssm * p.weight_bytes("ssm") + params.mlp * p.weight_bytes("mlp") +
              params.experts_shared * p.weight_bytes("experts")) / tp
    layers = layers + params.experts_routed * p.weight_bytes("experts") * (
        1 + _a(redundant) / E) / (tp * dp)
    layers = layers + params.router * p.weight_bytes("router") + params.norms * 2.0 - final
    emb = params.embedding * p.weight_bytes("embedding") / tp
    head = params.lm_head * p.weight_bytes("lm_head") / tp
    ends = np.where(pp > 1, np.maximum(emb, head), emb + head) + final
    extra = np.zeros(())
    if mtp and params.mtp:
        routed = (m.num_nextn_predict_layers * E * expert_params(m.hidden_size, m.moe)
                  if m.moe is not None else 0)
        extra = ((params.mtp - routed) * p.weight_bytes("attention") / tp +
                 routed * p.weight_bytes("experts") / (tp * dp))
    return layers * stage_layer_share(m, pp) + ends + extra


def kv_bytes_per_sequence(m: ModelSpec, p: Precision, context: ArrayLike,
                          tp: ArrayLike = 1) -> Array:
    """KV cache (and SSM state) bytes of one sequence of ``context`` tokens on one
    tensor-parallel rank, all layers."""
    c, tp = _a(context), _a(tp)
    kvb = p.kv_cache.bytes_per_element
    mixers = m.mixers()
    n_full = mixers.count("full_attention")
    n_slide = mixers.count("sliding_attention")
    n_mamba = mixers.count("mamba")
    total = np.zeros(np.broadcast(c, tp).shape)
    if n_full or n_slide:
        a = m.attention
        assert a is not None
        if m.mla is not None:
            width = (m.mla.kv_lora_rank + m.mla.qk_rope_head_dim) + 0 * tp
        else:
            width = 2 * np.ceil(a.kv_heads / tp) * m.head_dim
        w = sliding_window(m)
        tokens = n_full * c + n_slide * np.minimum(c, w)
        total = total + tokens * width * kvb
    if n_mamba:
        ssm = m.ssm
        assert ssm is not None
        d = ssm_inner(m.hidden_size, ssm) / tp
        total = total + n_mamba * d * (ssm.state_size * SSM_STATE_BYTES +
                                       (ssm.conv_kernel - 1) * p.activation_bytes)
    return total


def kv_bytes_per_token(m: ModelSpec, p: Precision, tp: ArrayLike = 1) -> Array:
    """KV bytes one more token of context adds (below any sliding window), one tp rank."""
    return kv_bytes_per_sequence(m, p, 1, tp) - kv_bytes_per_sequence(m, p, 0, tp)


def activation_bytes(m: ModelSpec, p: Precision, tokens: ArrayLike, logit_rows: ArrayLike,
                     tp: ArrayLike = 1, attn_rect: ArrayLike = 0) -> Array:
    """Peak transient activations of one forward pass of ``tokens`` tokens on one device.

    Layers run one at a time, so the peak is one layer's working set: the residual stream
    and its normed copy, q/k/v and attention output, the FFN intermediates (gated: 3 x ff),
    plus fp32 logits for the LM-head rows; a materialised attention kernel adds its score
    matrix (``attn_rect`` query x key pairs per layer, all sequences).
    """
    t, tp = _a(tokens), _a(tp)
    h, ab = m.hidden_size, p.activation_bytes
    ff = 0.0
    if m.mlp is not None:
        ff = m.mlp.intermediate_size * (3 if m.mlp.gated else 2)
    if m.moe is not None:
        moe = m.moe
        ff = max(ff, moe.num_experts_per_tok * moe.moe_intermediate_size * (3 if moe.gated else 2)
                 + moe.shared_intermediate * 3)
    if m.ssm is not None:
        ff = max(ff, 4 * ssm_inner(h, m.ssm))
    heads, qkv = 0, 0.0
    if m.attention is not None:
        heads = m.attention.num_attention_heads
        if m.mla is not None:  # decompressed q, k (nope + rope) and v
            x = m.mla
            qkv = heads * (2 * (x.qk_nope_head_dim + x.qk_rope_head_dim) + x.v_head_dim)
        else:
            qkv = 3 * heads * m.head_dim
    per_token = 4 * h + (qkv + ff) / tp
    scores = _a(attn_rect) * heads / tp * ab * 2
    return t * per_token * ab + _a(logit_rows) * m.vocab_size / tp * 4.0 + scores
