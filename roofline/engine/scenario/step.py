"""The work of one forward pass: how many tokens go through the linear layers, how many
query-key pairs attention computes, and how much KV cache it reads.

All fields are numpy arrays that broadcast, so one :class:`Step` describes one scenario or
a million. Counts are per model replica, before any tensor/expert sharding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def window_pairs(n: ArrayLike, window: float) -> Array:
    """sum_{j=1..n} min(j, W): causal query-key pairs of an n-token sequence under a
    sliding window W (W = inf for full attention)."""
    n = _a(n)
    if not np.isfinite(window):
        return n * (n + 1) / 2
    w = float(window)
    return np.where(n <= w, n * (n + 1) / 2, w * (w + 1) / 2 + (n - w) * w)


@dataclass(frozen=True)
class AttnWork:
    """Attention work of one kind of query (prefill chunks or decode tokens).

    ``pairs``: causal query-key pairs (what a fused, mask-skipping kernel computes);
    ``rect``: the full query x key rectangle (what a materialised kernel computes);
    ``kv_tokens``: cached K/V entries read per layer. Each has a full-attention and a
    sliding-window variant.
    """

    tokens: Array
    seqs: Array
    pairs_full: Array
    pairs_window: Array
    rect_full: Array
    rect_window: Array
    kv_full: Array
    kv_window: Array

    @staticmethod
    def none() -> AttnWork:
        z = np.zeros(())
        return AttnWork(z, z, z, z, z, z, z, z)

    @staticmethod
    def prefill(batch: ArrayLike, new: ArrayLike, past: ArrayLike = 0,
                window: float = np.inf) -> AttnWork:
        """``batch`` sequences each adding ``new`` tokens after ``past`` cached ones."""
        b, s, p = _a(batch), _a(new), _a(past)
        w = float(window)
        total = p + s
        return AttnWork(
            tokens=b * s, seqs=b + 0 * s,
            pairs_full=b * (window_pairs(total, np.inf) - window_pairs(p, np.inf)),
            pairs_window=b * (window_pairs(total, w) - window_pairs(p, w)),
            rect_full=b * s * total, rect_window=b * s * np.minimum(total, w),
            kv_full=b * total, kv_window=b * np.minimum(total, w))

    @staticmethod
    def decode(batch: ArrayLike, context: ArrayLike, window: float = np.inf) -> AttnWork:
        """One new token for each of ``batch`` sequences holding ``context`` tokens
        (the new one included)."""
        b, c = _a(batch), _a(context)
        cw = np.minimum(c, float(window))
        return AttnWork(tokens=b + 0 * c, seqs=b + 0 * c, pairs_full=b * c, pairs_window=b * cw,
                        rect_full=b * c, rect_window=b * cw, kv_full=b * c, kv_window=b * cw)


@dataclass(frozen=True)
class Step:
    """One forward pass over a batch: prefill work, decode work, and LM-head rows.

    In serving the LM head runs only for each sequence's last position (``logit_rows`` =
    sequences); in training it runs for every token.
    """

    prefill: AttnWork = field(default_factory=AttnWork.none)
    decode: AttnWork = field(default_factory=AttnWork.none)
    training: bool = False

    @property
    def tokens(self) -> Array:
        return self.prefill.tokens + self.decode.tokens

    @property
    def seqs(self) -> Array:
        return self.prefill.seqs + self.decode.seqs

    @property
    def logit_rows(self) -> Array:
        return self.tokens if self.training else self.seqs

    @staticmethod
    def for_prefill(batch: ArrayLike, prompt: ArrayLike, window: float = np.inf) -> Step:
        return Step(prefill=AttnWork.prefill(batch, prompt, 0, window))

    @staticmethod
    def for_decode(batch: ArrayLike, context: ArrayLike, window: float = np.inf) -> Step:
        return Step(decode=AttnWork.decode(batch, context, window))

    @staticmethod
    def for_training(batch: ArrayLike, seq: ArrayLike, window: float = np.inf) -> Step:
        return Step(prefill=AttnWork.prefill(batch, seq, 0, window), training=True)
