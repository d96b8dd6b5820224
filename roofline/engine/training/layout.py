"""Which training layouts are possible: tp, cp, dp, pp, ep and micro-batching
against the model and the chip count, with the reason for each impossible one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.training.schedules import SCHEDULE_CODES
from roofline.specs.model import ModelSpec

Array = NDArray[np.float64]
CpMode = Literal["ring", "ulysses"]


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------------------
# Validity
# --------------------------------------------------------------------------------------

def training_layout_reasons(m: ModelSpec, *, count: ArrayLike, tp: ArrayLike, pp: ArrayLike,
                            dp: ArrayLike, cp: ArrayLike, ep: ArrayLike,
                            micro_batch: ArrayLike, global_batch: ArrayLike,
                            seq_len: ArrayLike, interleave: ArrayLike = 1,
                            cp_mode: CpMode = "ring", schedule: ArrayLike = 0
                            ) -> NDArray[np.object_]:
    """Why each training layout is impossible ('' where valid), vectorised; the first
    failing rule is named, with the offending numbers."""
    arrs = np.broadcast_arrays(*(_a(x) for x in (count, tp, pp, dp, cp, ep, micro_batch,
                                                   global_batch, seq_len, interleave,
                                                   schedule)))
    n, tp, pp, dp, cp, ep, mb, gb, s, v, sc = arrs
    reasons = np.full(tp.shape, "", dtype=object)
    flagged = np.zeros(tp.shape, dtype=bool)

    def flag(bad: NDArray[np.bool_], text: str | Callable[..., str],
             keys: Sequence[Array] = ()) -> None:
        take = np.asarray(bad, dtype=bool) & ~flagged
        if not take.any():
            return
        flagged[take] = True
        if isinstance(text, str):
            reasons[take] = text
            return
        if not keys:
            raise ValueError("a message function needs keys")
        # one message per distinct combination of the numbers it names
        sub = np.stack([k[take] for k in keys], axis=1)
        uniq, inv = np.unique(sub, axis=0, return_inverse=True)
        msgs = np.array([text(*row) for row in uniq], dtype=object)
        reasons[take] = msgs[inv.reshape(-1)]

    def g(x: float) -> str:
        return f"{x:g}"

    for name, x in (("tp", tp), ("pp", pp), ("dp", dp), ("cp", cp), ("ep", ep),
                    ("micro_batch", mb), ("global_batch", gb), ("interleave", v),
                    ("count", n), ("seq_len", s)):
        flag((x < 1) | (x != np.round(x)), f"{name} must be a whole number >= 1")
    flag(tp * pp * cp * dp != n,
         lambda a, b, c, d, e: f"tp x pp x cp x dp = {g(a)} x {g(b)} x {g(c)} x {g(d)} = "
                               f"{g(a * b * c * d)} != count {g(e)}", (tp, pp, cp, dp, n))
    a = m.attention
    if a is not None:
        heads = a.num_attention_heads
        flag(tp > heads, lambda t: f"tp={g(t)} exceeds the {heads} attention heads", (tp,))
        flag(heads % tp != 0, lambda t: f"tp={g(t)} does not divide the {heads} attention "
                                        "heads", (tp,))
        if m.mla is None:
            kv = a.kv_heads
            flag((kv % tp != 0) & (tp % kv != 0),
                 lambda t: f"tp={g(t)} neither divides nor is a multiple of the {kv} KV heads",
                 (tp,))
    if m.ssm is not None:
        d = int(m.ssm.expand * m.hidden_size)
        flag(d % tp != 0, lambda t: f"tp={g(t)} does not divide the SSM inner width {d}",
             (tp,))
        if "mamba" in m.mixers():
            flag(cp > 1, "context parallelism is not modelled for Mamba layers")
    L = m.num_hidden_layers
    flag(pp > L, lambda p: f"pp={g(p)} exceeds the {L} layers", (pp,))
    flag(pp * v > L, lambda p, i: f"pp x interleave = {g(p * i)} exceeds the {L} layers",
         (pp, v))
    flag((v > 1) & (pp == 1), "interleave > 1 needs pipeline parallelism (pp > 1)")
    if m.moe is None:
        flag(ep > 1, lambda e: f"ep={g(e)} needs a mixture-of-experts model", (ep,))
    else:
        E = m.moe.num_experts
        flag(E % ep != 0, lambda e: f"ep={g(e)} does not divide the {E} experts", (ep,))
        flag(dp % ep != 0, lambda e, d: f"ep={g(e)} does not divide dp={g(d)} (experts are "
                                        "spread over data-parallel ranks)", (ep, dp))
    flag(gb % (dp * mb) != 0,
         lambda b, d, u: f"global batch {g(b)} is not divisible by dp x micro_batch = "
                         f"{g(d)} x {g(u)}", (gb, dp, mb))
    micro = gb / (dp * mb)
    flag((v > 1) & (micro % pp != 0),
         lambda k, p: f"interleaved 1F1B needs micro-batches ({g(k)}) divisible by pp={g(p)}",
         (micro, pp))
    dual = sc == SCHEDULE_CODES["dualpipe"]  # DeepSeek-V3 sec. 3.2.1
    flag(dual & ((pp < 2) | (pp % 2 != 0)),
         lambda p: f"DualPipe needs an even pp >= 2, got pp={g(p)}", (pp,))
    flag(dual & (v > 1), "DualPipe does not interleave (interleave must be 1)")
    flag(dual & ((micro < pp) | (micro % 2 != 0)),
         lambda k, p: f"DualPipe needs an even number of micro-batches >= pp={g(p)}, got "
                      f"{g(k)}", (micro, pp))
    if cp_mode == "ring":
        flag((cp > 1) & (s % (2 * cp) != 0),
             lambda x, c: f"seq_len {g(x)} is not divisible by 2 x cp = {g(2 * c)} "
                          "(load-balanced ring attention)", (s, cp))
    else:
        flag(s % cp != 0, lambda x, c: f"seq_len {g(x)} is not divisible by cp={g(c)}",
             (s, cp))
        if a is not None:
            heads = a.num_attention_heads
            flag((heads / tp) % cp != 0,
                 lambda t, c: f"Ulysses needs cp={g(c)} to divide the {heads}/tp={g(t)} heads "
                              "per rank", (tp, cp))
    return reasons
