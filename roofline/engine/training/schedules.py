"""Pipeline schedules and the communication they hide: 1F1B (optionally interleaved),
1F1B with overlapped micro-batches, and DualPipe.

- ``1f1b``: Narayanan et al. 2021 sec. 2.2: bubble ``(p - 1)/v`` micro-batch times (``v``
  interleaved chunks per device); expert all-to-all and pipeline sends on the critical path.
- ``1f1b-overlap``: in the steady state each device runs one micro-batch's forward beside
  another's backward, so the expert all-to-all of one hides under the other's compute
  (Megatron-Core's overlapped 1F1B for MoE, the "combined 1F1B" of its EP A2A overlap;
  DeepSeek-V3 sec. 3.2.1 describes the same pairing); warm-up and cool-down stay exposed.
- ``dualpipe``: DeepSeek-V3 sec. 3.2.1 and Table 2: micro-batches fed from both ends, forward
  and backward chunks overlapped so all-to-all and pipeline sends hide under compute; bubble
  ``(p/2 - 1)(F&B + B - 3W)``, two copies of the parameters, ``p + 1`` micro-batches of
  activations in flight.

Overlapped communication kernels take streaming multiprocessors from compute: DeepSeek-V3
gives 20 of the H800's 132 SMs to communication (sec. 3.2.2), so overlapped compute runs
at ``1 - 20/132`` of its speed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]
Schedule = Literal["1f1b", "1f1b-overlap", "dualpipe"]
SCHEDULES: tuple[Schedule, ...] = ("1f1b", "1f1b-overlap", "dualpipe")
SCHEDULE_CODES = {s: i for i, s in enumerate(SCHEDULES)}
#: Share of the SMs overlapped communication takes (DeepSeek-V3 sec. 3.2.2: 20 of 132).
COMM_SM_SHARE = 20.0 / 132.0


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def overlapped_share(schedule: ArrayLike, pp: ArrayLike, microbatches: ArrayLike) -> Array:
    """Share of a stage's micro-batches whose expert and pipeline communication runs beside
    another micro-batch's compute: none under 1F1B; the ``m - p`` steady-state ones under
    overlapped 1F1B; all of them under DualPipe (its edges are in its bubble)."""
    s, p, m = _a(schedule), _a(pp), np.maximum(_a(microbatches), 1.0)
    steady = np.clip(m - p, 0.0, None) / m
    return np.select([s == SCHEDULE_CODES["1f1b-overlap"], s == SCHEDULE_CODES["dualpipe"]],
                     [steady, np.ones_like(steady)], 0.0)


def bubble(schedule: ArrayLike, pp: ArrayLike, interleave: ArrayLike, microbatch_s: ArrayLike,
           forward_s: ArrayLike, backward_s: ArrayLike) -> Array:
    """Pipeline fill and drain per step, seconds.

    1F1B: ``(p - 1)/v`` micro-batch times (Narayanan et al. 2021). DualPipe (DeepSeek-V3
    Table 2): ``(p/2 - 1)(F&B + B - 3W)`` with ``F&B = F + B`` (the overlapped pair, its
    communication hidden) and ``W = B/2`` (the weight-gradient half of the backward).
    """
    s, p, v = _a(schedule), _a(pp), _a(interleave)
    f, b = _a(forward_s), _a(backward_s)
    dual = np.maximum(p / 2 - 1, 0.0) * (f + b + b - 3 * b / 2)
    return np.where(s == SCHEDULE_CODES["dualpipe"], dual, (p - 1) / v * _a(microbatch_s))


def hidden(comm_s: ArrayLike, window_s: ArrayLike, share: ArrayLike,
           overlap: ArrayLike) -> Array:
    """Seconds of ``comm_s`` taken off the critical path: on a share ``share`` of the
    micro-batches, up to ``overlap`` of it runs under ``window_s`` of another micro-batch's
    compute."""
    c = _a(comm_s)
    return _a(share) * _a(overlap) * np.minimum(c, _a(window_s))
