"""Speculative decoding with draft heads on the target itself: DeepSeek-V3's multi-token
prediction (MTP) module and EAGLE-style heads.

A cycle: the head drafts ``k`` tokens one after another (``k`` small steps), then the
target verifies all ``k + 1`` positions in one step and keeps the accepted prefix plus its
own next token. Acceptance is given as the mean tokens kept per cycle at each ``k`` (for
example 1.79 / 2.27 / 2.49 / 2.54 at k = 1..4), or as a per-token acceptance rate ``a``,
whose chain gives (1 - a^(k+1)) / (1 - a) (Leviathan et al. 2023, eq. 1).

Tokens/s per sequence = accepted / (verify_s + k x draft_s); both step times come from the
serving pool's roofline, so at small batch (memory-bound) verification costs about one
plain step and speculation pays ~accepted x, while at large batch (compute-bound) the
k + 1 verified positions cost up to k + 1 steps and the gain shrinks (DeepSeek-V3 report
sec. 5.4.3: 85-90% second-token acceptance, 1.8x tokens/s; EAGLE-3, arXiv 2503.01840).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.serving.pool import Layout, Pool, decode_s, weights_per_chip
from roofline.engine.serving.speculative import expected_tokens_per_step
from roofline.errors import SpecError
from roofline.specs.model import MLP, ModelSpec
from roofline.specs.params import count_params

Array = NDArray[np.float64]
Method = Literal["mtp", "eagle"]

#: Mean tokens kept per cycle at k = 1..4 draft tokens, the issue's example of an EAGLE-3
#: style head (EAGLE-3, arXiv 2503.01840, reports accepted lengths of this order).
EXAMPLE_ACCEPTED = (1.79, 2.27, 2.49, 2.54)
#: DeepSeek-V3 MTP: "the acceptance rate of the second token prediction ranges between
#: 85% and 90%" (report sec. 5.4.3); the midpoint.
MTP_ACCEPTANCE = 0.875


def accepted_per_cycle(acceptance: float | Sequence[float], draft_tokens: ArrayLike) -> Array:
    """Mean tokens kept per verification cycle: from a per-token acceptance rate (chain
    rule), or read from a table of mean accepted lengths at k = 1..n."""
    k = np.asarray(draft_tokens, dtype=np.float64)
    if np.any((k < 0) | (k != np.round(k))):
        raise SpecError("draft_tokens must be whole numbers >= 0")
    if isinstance(acceptance, int | float):
        if not 0 <= acceptance < 1:
            raise SpecError(f"acceptance must be a rate in [0, 1) or a list of mean "
                            f"accepted lengths, got {acceptance}")
        return expected_tokens_per_step(acceptance, k)
    table = np.asarray([1.0, *acceptance], dtype=np.float64)
    ks = np.arange(table.size)
    if np.any(np.diff(table) < 0) or np.any(table > ks + 1) or np.any(table < 1):
        raise SpecError("acceptance lengths must be non-decreasing, each between 1 and k + 1 "
                        "(mean tokens kept per cycle at k = 1, 2, ...)")
    if np.any(k > table.size - 1):
        raise SpecError(f"draft_tokens up to {table.size - 1}: the acceptance table has "
                        f"{table.size - 1} entries")
    return np.asarray(table[k.astype(int)], dtype=np.float64)


def draft_head(m: ModelSpec, method: Method) -> ModelSpec:
    """The draft head as a one-layer model sharing the target's embedding and LM head.

    MTP: one transformer block with the target's last-layer FFN (DeepSeek-V3 sec. 2.2; its
    extra 2h -> h projection is left out, ~0.1% of the block). EAGLE: one dense decoder
    layer with the target's attention and a dense MLP (the target's dense width, or the
    activated expert width of an all-MoE target).
    """
    if method == "mtp":
        if not m.num_nextn_predict_layers:
            raise SpecError(f"{m.name} has no MTP module (num_nextn_predict_layers = 0); "
                            "use method='eagle'")
        moe = m.moe.model_copy(update={"first_k_dense_replace": 0}) if m.moe else None
        last_dense = m.ffns()[-1] != "moe"
        return m.model_copy(update={"num_hidden_layers": 1, "layer_types": None,
                                    "moe": None if last_dense else moe,
                                    "num_nextn_predict_layers": 0})
    mlp = m.mlp
    if mlp is None:
        if m.moe is None:
            raise SpecError(f"{m.name} has neither a dense MLP nor experts to size a head")
        width = m.moe.moe_intermediate_size * m.moe.num_experts_per_tok
        mlp = MLP(intermediate_size=width, hidden_act="silu", gated=m.moe.gated)
    return m.model_copy(update={"num_hidden_layers": 1, "layer_types": None, "moe": None,
                                "mlp": mlp, "num_nextn_predict_layers": 0})


def draft_pool(pool: Pool, method: Method) -> Pool:
    """The pool the draft head runs in: same chips, layout and precision."""
    return Pool(draft_head(pool.model, method), pool.precision, pool.cluster, pool.eff,
                pool.overlap)


def draft_weight_bytes(pool: Pool, layout: Layout, method: Method) -> Array:
    """Extra weight bytes per chip the head holds (embedding and LM head are shared)."""
    head = draft_pool(pool, method)
    params = count_params(head.model)
    shared = (params.embedding + params.lm_head) * pool.precision.weight_bytes("lm_head")
    return np.maximum(weights_per_chip(head, layout, params) - shared / layout.tp, 0.0)


def speculative_cycle(pool: Pool, layout: Layout, batch: ArrayLike, context: ArrayLike,
                      draft_tokens: ArrayLike, accepted: ArrayLike,
                      method: Method) -> tuple[Array, Array]:
    """(seconds per cycle, tokens per sequence per cycle) of speculation with ``k`` draft
    tokens; ``k = 0`` is plain decoding (one step, one token)."""
    k = np.asarray(draft_tokens, dtype=np.float64)
    verify = decode_s(pool, layout, batch, context, k + 1)
    cycle = verify
    if np.any(k > 0):
        cycle = cycle + k * decode_s(draft_pool(pool, method), layout, batch, context)
    return cycle, np.where(k > 0, np.asarray(accepted, dtype=np.float64), 1.0)
