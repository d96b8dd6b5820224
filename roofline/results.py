"""Result objects shared by every verb (infer, train, fit, compare, sweep): a tidy
DataFrame underneath, with notebook rendering, conversion and plotting."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd


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

    def _repr_html_(self) -> str:
        notes = "".join(f"<li><b>{k}</b>: {v}</li>" for k, v in self.assumptions.items())
        table = (self.frame.T if len(self.frame) == 1 else self.frame).to_html(
            max_rows=60, float_format=lambda x: f"{x:.4g}")
        return f"{table}<details><summary>assumptions</summary><ul>{notes}</ul></details>"

    def __repr__(self) -> str:
        body = (self.frame.T if len(self.frame) == 1 else self.frame).to_string(max_rows=40)
        return f"{type(self).__name__}\n{body}"
