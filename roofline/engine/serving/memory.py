"""Serving memory per device: weights of the most loaded stage, KV cache of an attention
group's sequences, the transient activations of one scheduler step, and what is kept free
(a memory-utilisation share, as vLLM's ``gpu_memory_utilization``); and the batch and
context the KV blocks then admit."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.memory import (
    KV_BLOCK_TOKENS,
    MAX_NUM_SEQS,
    activation_bytes,
    kv_bytes_per_sequence,
    stage_layer_share,
    weight_bytes_per_device,
)
from roofline.engine.operators.table import sliding_window
from roofline.engine.scenario.precision import Precision
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

Array = NDArray[np.float64]
Kernel = Literal["fused", "materialised"]


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def memory_columns(m: ModelSpec, c: Chip, p: Precision, s: Array, o: Array, group: Array,
                   micro: Array, tp_: Array, pp_: Array, dp_: Array, attention_kernel: Kernel,
                   runtime_reserve_bytes: float | None, memory_utilisation: float,
                   token_budget: int, redundant_experts: int, mtp: bool) -> dict[str, Any]:
    """Memory per device (weights, KV cache, activations, reserve) against capacity, and
    the largest batch and context that fit (bytes, sequences, tokens).

    ``group`` sequences of ``s + o`` tokens per attention group, ``micro`` per micro-batch.
    The reserve is ``(1 - memory_utilisation)`` of the device unless
    ``runtime_reserve_bytes`` is given. ``max_batch``: KV-block admission (vLLM's 16-token
    blocks) beside the weights and the transient activations of the largest step the
    scheduler runs (``token_budget`` tokens, at most :data:`MAX_NUM_SEQS` sequences).
    """
    params = m.params()
    weights = weight_bytes_per_device(m, p, params, tp_, pp_, dp_, redundant_experts, mtp)
    ctx = s + o
    share = stage_layer_share(m, pp_)  # each stage caches its (whole) layers
    kv_seq = kv_bytes_per_sequence(m, p, ctx, tp_) * share
    blocks = np.ceil(ctx / KV_BLOCK_TOKENS) * KV_BLOCK_TOKENS  # paged in 16-token blocks
    kv_block_seq = kv_bytes_per_sequence(m, p, blocks, tp_) * share
    kv = group * kv_seq
    step_tokens = np.minimum(micro * s, token_budget)  # chunked prefill caps a step
    rect = step_tokens * s if attention_kernel == "materialised" else 0.0
    act = activation_bytes(m, p, step_tokens, np.minimum(micro, MAX_NUM_SEQS), tp_, rect)
    cap = c.memory.capacity
    reserve = np.asarray(float((1 - memory_utilisation) * cap if runtime_reserve_bytes is None
                               else runtime_reserve_bytes))
    total = weights + kv + act + reserve
    out: dict[str, Any] = {
        "weights_bytes": weights, "kv_cache_bytes": kv, "activation_bytes": act,
        "reserve_bytes": reserve, "memory_bytes": total, "capacity_bytes": cap,
        "memory_fraction": total / cap, "fits": total <= cap}
    budget_act = activation_bytes(m, p, float(token_budget), float(MAX_NUM_SEQS), tp_,
                                  token_budget * s if attention_kernel == "materialised"
                                  else 0.0)
    free = cap - weights - reserve
    # A model without a per-sequence KV cache (kv_block_seq 0) is bounded by the
    # scheduler's sequence cap alone, as long as the step's activations fit.
    with np.errstate(divide="ignore", invalid="ignore"):
        by_kv = np.where(kv_block_seq > 0, np.floor((free - budget_act) / np.where(
            kv_block_seq > 0, kv_block_seq, 1.0)), np.where(free > budget_act,
                                                           MAX_NUM_SEQS, 0.0))
    out["max_batch"] = np.maximum(by_kv, 0) * dp_
    out["max_context"] = _max_context(m, p, free - act, group * share, tp_)
    return out


def memory_note(runtime_reserve_bytes: float | None, memory_utilisation: float,
                token_budget: int, mtp: bool) -> str:
    """The memory assumptions of :func:`memory_columns`, in words."""
    kept = (f"{memory_utilisation:.0%} of each device (vLLM gpu_memory_utilization)"
            if runtime_reserve_bytes is None else
            f"runtime reserve {runtime_reserve_bytes / 2**30:.2g} GiB per device")
    return (kept + f"; whole layers per stage; step activations within {token_budget} "
            f"tokens; KV in {KV_BLOCK_TOKENS}-token blocks" + ("; MTP weights" if mtp else ""))


def _max_context(m: ModelSpec, p: Precision, free: Array, seqs_per_device: Array,
                 tp: Array) -> Array:
    """Longest context (tokens) whose KV cache fits in ``free`` bytes for the batch."""
    per_seq = free / np.maximum(seqs_per_device, 1e-9)
    base = kv_bytes_per_sequence(m, p, 0, tp)
    budget = per_seq - base
    w = sliding_window(m)
    mixers = m.mixers()
    n_full, n_slide = mixers.count("full_attention"), mixers.count("sliding_attention")
    unit = kv_bytes_per_token_layer(m, p, tp)
    a_full, a_both = unit * n_full, unit * (n_full + n_slide)
    limit = float(m.max_position_embeddings or 10**9)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(a_both > 0, budget / np.where(a_both > 0, a_both, 1), np.inf)
        beyond = np.where(a_full > 0, w + (budget - a_both * w) / np.where(a_full > 0, a_full, 1),
                          np.inf)
    ctx = np.where(first <= w, first, beyond)
    ctx = np.where(budget <= 0, 0.0, ctx)
    return np.floor(np.minimum(ctx, limit))


def kv_bytes_per_token_layer(m: ModelSpec, p: Precision, tp: ArrayLike) -> Array:
    """KV bytes per token per attention layer on one tensor-parallel rank."""
    a = m.attention
    if a is None:
        return np.zeros(np.shape(tp))
    if m.mla is not None:
        width = float(m.mla.kv_lora_rank + m.mla.qk_rope_head_dim) + 0 * _a(tp)
    else:
        width = 2 * np.ceil(a.kv_heads / _a(tp)) * m.head_dim
    return width * p.kv_cache.bytes_per_element
