"""Result objects shared by every verb (infer, train, fit, compare, sweep): a tidy
DataFrame underneath, with notebook rendering, conversion and plotting."""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Labels:
    """A text column as codes into ``categories`` (a categorical column without pandas)."""

    codes: np.ndarray
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Columns:
    """A result table not yet built: columns (scalars or arrays broadcasting to ``shape``)
    in order. :class:`Result` builds the DataFrame from it on first access to ``.frame``."""

    data: dict[str, Any]
    shape: tuple[int, ...]

    @property
    def rows(self) -> int:
        return math.prod(self.shape)

    def cell(self, column: str) -> Any:
        """The first row's value of ``column``, as the frame would hold it (numbers as
        float64, flags as bool, labels as str), without pandas."""
        v = self.data[column]
        if isinstance(v, Labels):
            return v.categories[int(v.codes.reshape(-1)[0])]
        if hasattr(v, "categories"):  # a pandas Categorical made by the engine
            return v[0]
        arr = np.asarray(v).reshape(-1)
        if arr.dtype.kind in "fiu":
            return np.float64(arr[0])
        if arr.dtype.kind == "b":
            return arr[0]
        return arr[0].item() if isinstance(arr[0], np.generic) else arr[0]


def frame_from_columns(columns: dict[str, Any], shape: tuple[int, ...]) -> pd.DataFrame:
    """A DataFrame with one row per element of ``shape`` from scalars and arrays that
    broadcast to it (flattened in C order), built for speed at a million rows: numeric
    columns share one float block, text columns are categorical."""
    import pandas as pd

    n = int(np.prod(shape))
    numeric: dict[str, np.ndarray] = {}
    other: dict[str, Any] = {}
    for k, v in columns.items():
        if isinstance(v, Labels):
            codes = np.broadcast_to(v.codes, shape).reshape(n)
            other[k] = pd.Categorical.from_codes(codes, list(v.categories))
            continue
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


#: The module that draws results, imported on the first ``.plot()`` (as pandas names its
#: plotting backend): results and the engine that makes them never import the views.
PLOTTING_BACKEND = "roofline.views.plots"


def plotting() -> ModuleType:
    """The plotting backend (:data:`PLOTTING_BACKEND`), imported on first use."""
    return importlib.import_module(PLOTTING_BACKEND)


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

    def __init__(self, frame: pd.DataFrame | Columns,
                 assumptions: dict[str, Any] | None = None) -> None:
        self._frame, self._columns = (None, frame) if isinstance(frame, Columns) else (frame,
                                                                                      None)
        self.assumptions: dict[str, Any] = dict(assumptions or {})

    @property
    def frame(self) -> pd.DataFrame:
        """The result table, built on first access (a single answer need not wait for it)."""
        if self._frame is None:
            assert self._columns is not None
            self._frame = frame_from_columns(self._columns.data, self._columns.shape)
        return self._frame

    @frame.setter
    def frame(self, value: pd.DataFrame) -> None:
        self._frame, self._columns = value, None

    def to_frame(self) -> pd.DataFrame:
        """A copy of the result table."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``rows`` (one per scenario) and ``assumptions``."""
        if self._frame is None and self._columns is not None and self._columns.rows == 1:
            row = {k: _clean(self._columns.cell(k)) for k in self._columns.data}
            return {**row, "assumptions": self.assumptions}
        rows = [{k: _clean(v) for k, v in r.items()} for r in self.frame.to_dict("records")]
        if len(rows) == 1:
            return {**rows[0], "assumptions": self.assumptions}
        return {"rows": rows, "assumptions": self.assumptions}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str, allow_nan=False)

    def __len__(self) -> int:
        return self._columns.rows if self._frame is None and self._columns else len(self.frame)

    def __getitem__(self, column: str) -> Any:
        """A column; for a single scenario, its scalar value (read without pandas)."""
        if self._frame is None and self._columns is not None and self._columns.rows == 1:
            if column not in self._columns.data:
                raise KeyError(column)
            return self._columns.cell(column)
        col = self.frame[column]
        return col.iloc[0] if len(self.frame) == 1 else col

    def plot(self, x: str | None = None, y: str | None = None, color: str | None = None,
             **kwargs: Any) -> Any:
        """A plotly figure of this table: ``y`` against ``x`` (one line per ``color``);
        with one row, memory per device by part against capacity. Subclasses draw their
        own domain figure (roofline, layouts) when called without arguments."""
        return plotting().result_figure(self, x=x, y=y, color=color, **kwargs)

    def _repr_html_(self) -> str:
        notes = "".join(f"<li><b>{k}</b>: {v}</li>" for k, v in self.assumptions.items())
        table = (self.frame.T if len(self.frame) == 1 else self.frame).to_html(
            max_rows=60, float_format=lambda x: f"{x:.4g}")
        return f"{table}<details><summary>assumptions</summary><ul>{notes}</ul></details>"

    def __repr__(self) -> str:
        body = (self.frame.T if len(self.frame) == 1 else self.frame).to_string(max_rows=40)
        return f"{type(self).__name__}\n{body}"
