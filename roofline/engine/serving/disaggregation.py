"""Aggregated and disaggregated serving of one workload, per configuration.

Aggregated (one pool, chunked prefill; Sarathi-Serve, Agrawal et al. 2024): each step runs
B decodes per attention group plus the prompt tokens that keep the pool in steady state,
C = B x accepted x S_new / S_out per cycle on average, so TPOT (the mean cycle) grows with
the prompt-to-output ratio; TTFT is the step that carries a whole prompt beside the decodes.

Disaggregated (DistServe, Zhong et al. OSDI'24; Splitwise, Patel et al. ISCA'24): a prefill
pool and a decode pool, each with its own layout. A prefill instance serves R_p = b_p x dp
/ t_prefill requests/s, a decode instance R_d = B x dp x accepted / (cycle x S_out); pools
of x prefill and y decode instances serve min(x R_p, y R_d) requests/s, and the best
whole (x, y) in the deployment gives output tokens/s per chip
    min(x R_p, y R_d) x S_out / (x chips_p + y chips_d)
(the fluid limit, x / y = R_d / R_p, is S_out / (chips_p / R_p + chips_d / R_d)).
The prompt's KV cache, S x KV bytes per token, crosses from prefill to decode chips over
the scale-out network (NVLink when both pools share one scale-up domain), sent layer by
layer while later layers compute (Mooncake, Dynamo NIXL): only what exceeds the prefill is
exposed in TTFT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.memory import kv_bytes_per_sequence
from roofline.engine.serving.pool import Layout, Pool, decode_s, mixed_s, prefill_s
from roofline.engine.serving.prefix_cache import Tier, cache_load_s, exposed_load_s
from roofline.engine.serving.speculative_heads import Method, draft_pool, speculative_cycle

Array = NDArray[np.float64]


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class Workload:
    """Mean prompt and output tokens per request, the prompt's prefix-cache hit share and
    the tier the hits come from."""

    prompt: float
    output: float
    cache_hit: float = 0.0
    cache_tier: Tier = "hbm"

    @property
    def cached(self) -> float:
        return float(np.floor(self.prompt * self.cache_hit))

    @property
    def new(self) -> float:
        return self.prompt - self.cached

    @property
    def decode_context(self) -> float:
        """Mean context of a decode step, prompt + (output + 1) / 2 (cost is linear in it)."""
        return self.prompt + (self.output + 1) / 2


def kv_transfer_s(pool: Pool, layout_p: Layout, batch_p: ArrayLike, w: Workload,
                  same_domain: ArrayLike) -> Array:
    """Seconds to send one prefill step's prompts' KV (``batch_p`` per attention group) to
    the decode pool, over the group's tp NICs (scale-up links when ``same_domain``)."""
    kv = _a(batch_p) * kv_bytes_per_sequence(pool.model, pool.precision, w.prompt, 1)
    c = pool.cluster
    bw = np.where(same_domain, c.up_bw, c.out_bw) * pool.eff.network * layout_p.tp
    with np.errstate(divide="ignore"):
        return np.where(bw > 0, kv / np.where(bw > 0, bw, 1.0), np.inf)


def prefill_phase(pool: Pool, layout: Layout, batch: ArrayLike, w: Workload,
                  same_domain: ArrayLike) -> dict[str, Array]:
    """A prefill instance: step seconds, TTFT (step + exposed cache load + exposed KV
    transfer) and requests/s per instance."""
    step = prefill_s(pool, layout, batch, w.new, w.cached)
    layers = pool.model.num_hidden_layers
    load = cache_load_s(pool, layout, batch, w.cached, w.cache_tier)
    send = kv_transfer_s(pool, layout, batch, w, same_domain)
    ttft = step + exposed_load_s(load, step, layers) + exposed_load_s(send, step, layers)
    return {"prefill_step_s": step, "kv_transfer_s": send, "cache_load_s": load,
            "ttft_s": ttft, "requests_per_s": _a(batch) * layout.dp / step}


def decode_phase(pool: Pool, layout: Layout, batch: ArrayLike, w: Workload,
                 draft_tokens: ArrayLike, accepted: ArrayLike,
                 method: Method) -> dict[str, Array]:
    """A decode instance: cycle seconds, TPOT, tokens/s per user and requests/s."""
    cycle, tokens = speculative_cycle(pool, layout, batch, w.decode_context, draft_tokens,
                                      accepted, method)
    tpot = cycle / tokens
    return {"cycle_s": cycle, "tpot_s": tpot, "requests_per_s":
            _a(batch) * layout.dp / (tpot * w.output)}


def aggregated(pool: Pool, layout: Layout, batch: ArrayLike, w: Workload,
               draft_tokens: ArrayLike, accepted: ArrayLike, method: Method) -> dict[str, Array]:
    """One pool with chunked prefill in steady state: TPOT, TTFT and tokens/s per chip."""
    k = _a(draft_tokens)
    acc = np.where(k > 0, _a(accepted), 1.0)
    b = _a(batch)
    chunk = b * acc * w.new / w.output  # prompt tokens per cycle that balance the outputs
    verify = mixed_s(pool, layout, b, w.decode_context, chunk, w.new, k + 1)
    draft = decode_s(draft_pool(pool, method), layout, b, w.decode_context) if np.any(
        k > 0) else 0.0
    cycle = verify + k * draft
    tpot = cycle / acc
    # A prompt runs as one chunk in the step it is admitted to (token budget >= prompt),
    # beside the running decodes; no queueing at the frontier's steady state.
    first = mixed_s(pool, layout, b, w.decode_context, w.new, w.new, k + 1)
    load = cache_load_s(pool, layout, 1.0, w.cached, w.cache_tier)
    ttft = first + exposed_load_s(load, first, pool.model.num_hidden_layers)
    per_chip = b * acc / cycle / layout.tp
    return {"tpot_s": tpot, "ttft_s": ttft, "cycle_s": cycle,
            "output_tokens_per_s_per_chip": per_chip}


#: Decode instances tried per deployment; prefill instances follow from the rate ratio.
DECODE_INSTANCES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)


def matched(rp: ArrayLike, rd: ArrayLike, chips_p: ArrayLike, chips_d: ArrayLike,
            output: float, count: int) -> dict[str, Array]:
    """Rate matching of the pools in a deployment of at most ``count`` chips: x prefill and
    y decode instances (whole numbers), serving min(x R_p, y R_d) requests/s; returns the
    best (x, y) and output tokens/s per chip used. A pool sized past its partner's rate
    idles, which is why a small deployment with a cheap prefill loses to one pool."""
    rp, rd, cp, cd = np.broadcast_arrays(_a(rp), _a(rd), _a(chips_p), _a(chips_d))
    best = np.full(rp.shape, -np.inf)
    bx, by = np.zeros(rp.shape), np.zeros(rp.shape)
    for y in DECODE_INSTANCES:
        room = np.floor((count - y * cd) / cp)
        for x in (np.floor(y * rd / rp), np.ceil(y * rd / rp)):
            x = np.clip(x, 1, np.maximum(room, 1))
            chips = x * cp + y * cd
            rate = np.minimum(x * rp, y * rd) * output / chips
            take = (room >= 1) & (rate > best)
            best, bx, by = (np.where(take, rate, best), np.where(take, x, bx),
                            np.where(take, y, by))
    return {"output_tokens_per_s_per_chip": best, "prefill_instances": bx,
            "decode_instances": by}
