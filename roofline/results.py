"""Result objects shared by every verb (infer, train, fit, compare, sweep): a tidy
DataFrame underneath, with notebook rendering, conversion and plotting."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd


def frame_from_columns(columns: dict[str, Any], shape: tuple[int, ...]) -> pd.DataFrame:
    """A DataFrame with one row per element of ``shape`` from scalars and arrays that
    broadcast to it (flattened in C order), built for speed at a million rows: numeric
    columns share one float block, text columns are categorical."""
    n = int(np.prod(shape))
    numeric: dict[str, np.ndarray] = {}
    other: dict[str, Any] = {}
    for k, v in columns.items():
        if isinstance(v, pd.Categorical):
            other[k] = v
            continue
        arr = np.asarray(v)
        if arr.dtype.kind in "fiu":
            numeric[k] = np.broadcast_to(arr.astype(np.float64, copy=False), shape).reshape(n)
        elif arr.dtype.kind == "b":
            other[k] = np.broadcast_to(arr, shape).reshape(n)
        elif arr.ndim == 0:
            other[k] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [arr.item()])
        else:
            other[k] = pd.Categorical(np.broadcast_to(arr.astype(object), shape).reshape(n))
    block = np.empty((len(numeric), n))
    for i, v in enumerate(numeric.values()):
        block[i] = v
    frame = pd.DataFrame(block.T, columns=list(numeric), copy=False)
    for k, v in other.items():
        frame[k] = v
    return frame[list(columns)]


def _clean(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


class Result:
    """A table of scenarios (one row each) plus the assumptions behind the numbers.

    ``frame`` holds SI units with the unit in each column name; ``assumptions`` lists what
    the numbers rest on (efficiencies, overlap, reserves), in words.
    """

    def __init__(self, frame: pd.DataFrame, assumptions: dict[str, Any] | None = None) -> None:
        self.frame = frame
        self.assumptions: dict[str, Any] = dict(assumptions or {})

    def to_frame(self) -> pd.DataFrame:
        """A copy of the result table."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``rows`` (one per scenario) and ``assumptions``."""
        rows = [{k: _clean(v) for k, v in r.items()} for r in self.frame.to_dict("records")]
        if len(rows) == 1:
            return {**rows[0], "assumptions": self.assumptions}
        return {"rows": rows, "assumptions": self.assumptions}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str, allow_nan=False)

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, column: str) -> Any:
        """A column; for a single scenario, its scalar value."""
        col = self.frame[column]
        return col.iloc[0] if len(self.frame) == 1 else col

    def plot(self, x: str | None = None, y: str | None = None, color: str | None = None,
             **kwargs: Any) -> Any:
        """A plotly figure of this table: ``y`` against ``x`` (one line per ``color``);
        with one row, memory per device by part against capacity. Subclasses draw their
        own domain figure (roofline, layouts) when called without arguments."""
        from roofline.views import plots

        if x is None and y is None:
            if "capacity_bytes" in self.frame:
                return plots.memory_figure(plots.memory_bars(self.frame), **kwargs)
            usd = {c: c.removeprefix("usd_per_m_").replace("_", " ") for c in self.frame
                   if c.startswith("usd_per_m_")}
            if usd and "chip" in self.frame:
                return plots.cost_figure(self.frame, usd, title="$ per 1M tokens", **kwargs)
        return plots.table_figure(self.frame, x=x, y=y, color=color, **kwargs)

    def _repr_html_(self) -> str:
        notes = "".join(f"<li><b>{k}</b>: {v}</li>" for k, v in self.assumptions.items())
        table = (self.frame.T if len(self.frame) == 1 else self.frame).to_html(
            max_rows=60, float_format=lambda x: f"{x:.4g}")
        return f"{table}<details><summary>assumptions</summary><ul>{notes}</ul></details>"

    def __repr__(self) -> str:
        body = (self.frame.T if len(self.frame) == 1 else self.frame).to_string(max_rows=40)
        return f"{type(self).__name__}\n{body}"
