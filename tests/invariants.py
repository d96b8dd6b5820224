"""Invariants every engine result must hold, whatever the inputs (checked on every
:class:`~roofline.results.Result` built during the test suite, see ``conftest.py``, and by
the fuzzers): no negative time, bytes, cost, energy or rate in a row marked valid (a row
flagged invalid shows its inputs as given, beside the reason); a row marked valid holds no NaN;
``fits`` is never True above capacity."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Numeric columns that may be negative: none of the engine's outputs.
NEGATIVE_OK: frozenset[str] = frozenset()
#: Numeric columns that may be NaN in a valid row, and why.
NAN_OK = {
    "count": "fit without count= (the fewest chips are asked for)",
    "min_chips": "nothing fits",
    "memory_bytes": "fit: nothing fits, so no layout's memory",
    "max_position_embeddings": "a model without a context limit (SSM)",
}
#: Relative slack on ``memory <= capacity`` (float rounding of a sum of parts).
RTOL = 1e-9


def violations(frame: pd.DataFrame) -> list[str]:
    """Every invariant the rows of ``frame`` break, in words (empty when none)."""
    out: list[str] = []
    num = frame.select_dtypes(include="number")
    values = num.to_numpy(dtype=np.float64, na_value=np.nan)
    # a row flagged valid=False shows the inputs as given (e.g. batch=-1 in a sweep) beside
    # its reason, with NaN metrics: the sign invariant is on the rows presented as answers
    valid = (frame["valid"].to_numpy(dtype=bool) if "valid" in frame
             else np.ones(len(frame), dtype=bool))
    for i, col in enumerate(num.columns):
        if col not in NEGATIVE_OK and np.any(values[valid, i] < 0):
            out.append(f"{col} is negative ({np.nanmin(values[valid, i]):g})")
    if "valid" in frame:
        for i, col in enumerate(num.columns):
            if col not in NAN_OK and np.any(np.isnan(values[valid, i])):
                out.append(f"{col} is NaN in a row marked valid")
    if {"fits", "memory_bytes", "capacity_bytes"} <= set(frame.columns):
        fits = frame["fits"].to_numpy(dtype=bool)
        mem = frame["memory_bytes"].to_numpy(dtype=np.float64, na_value=np.nan)
        cap = frame["capacity_bytes"].to_numpy(dtype=np.float64)
        over = fits & ~(mem <= cap * (1 + RTOL))
        if np.any(over):
            out.append(f"fits is True with memory {mem[over][0]:.4g} B > capacity "
                       f"{cap[over][0]:.4g} B")
    return out


def assert_invariants(frame: pd.DataFrame, what: str = "result") -> None:
    bad = violations(frame)
    assert not bad, f"{what} breaks invariants: " + "; ".join(bad)
