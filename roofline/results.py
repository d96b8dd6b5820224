"""The one result type every verb returns (infer, train, fit, compare, context, sweep, ...):
a tidy pandas DataFrame with one row per scenario, its assumptions in ``frame.attrs``,
notebook rendering in the CLI's units, conversion, and one ``plot`` signature.

Column names follow one scheme (docs/results.md): ``<quantity>[_<variant>]_<unit>``, the
variant ``ideal`` (datasheet peaks), ``low`` / ``high`` (the calibrated uncertainty band)
or none (expected, with calibrated efficiencies), and SI units in the name (``_s``,
``_bytes``, ``_per_s``, ``_flops``, ``_usd``, ...). Counts (batch, layout degrees, chips)
are integers; ``model`` and ``chip`` hold the canonical catalog names, with the name the
caller typed beside them in ``model_alias`` and ``chip_alias``.
"""

from __future__ import annotations

import html
import importlib
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

#: Columns that count things (inputs and layout degrees): integers in every result.
INTEGER_COLUMNS = frozenset({
    "batch", "prompt_len", "output_len", "seq_len", "global_batch", "micro_batch", "tp",
    "pp", "dp", "cp", "ep", "zero", "interleave", "count", "chips", "replicas",
    "chips_needed", "min_chips", "max_batch", "max_context", "layers", "micro_batches",
})
#: Unit suffixes of column names, longest first (docs/results.md).
UNIT_SUFFIXES = ("tokens_per_s_per_chip", "tokens_per_s", "bytes_per_s", "flops_per_s",
                 "bytes", "flops", "usd", "kwh", "kg", "j", "s")
#: How many rows the notebook rendering shows.
HTML_MAX_ROWS = 60


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
            x = np.float64(arr[0])
            return int(x) if column in INTEGER_COLUMNS and x.is_integer() else x
        if arr.dtype.kind == "b":
            return arr[0]
        return arr[0].item() if isinstance(arr[0], np.generic) else arr[0]


@cache
def variant(name: str, which: str) -> str:
    """The ``which`` (``ideal``, ``low``, ``high``) variant of column ``name``: just before
    the unit (``tpot_s`` -> ``tpot_low_s``, ``decode_tokens_per_s`` ->
    ``decode_low_tokens_per_s``, ``tokens_per_s`` -> ``low_tokens_per_s``), or last for a
    quantity without a unit (``mfu`` -> ``mfu_low``)."""
    for unit in UNIT_SUFFIXES:
        if name == unit:
            return f"{which}_{unit}"
        if name.endswith(f"_{unit}"):
            return f"{name[:-len(unit) - 1]}_{which}_{unit}"
    return f"{name}_{which}"


def constant_category(value: Any, n: int) -> pd.Categorical:
    """``n`` copies of ``value`` as a one-category Categorical (one byte per row)."""
    import pandas as pd

    codes: np.ndarray[tuple[Any, ...], np.dtype[np.int8]] = np.zeros(n, dtype=np.int8)
    return pd.Categorical.from_codes(codes, categories=pd.Index([value]))


def column_after(frame: pd.DataFrame, name: str) -> int:
    """The position just after column ``name`` (for ``frame.insert``)."""
    loc = frame.columns.get_loc(name)
    if not isinstance(loc, int):
        raise ValueError(f"column {name!r} is not unique")
    return loc + 1


def frame_from_columns(columns: dict[str, Any], shape: tuple[int, ...]) -> pd.DataFrame:
    """A DataFrame with one row per element of ``shape`` from scalars and arrays that
    broadcast to it (flattened in C order), built for speed at a million rows: numeric
    columns share one float block, text columns are categorical; counting columns are
    then integers (:func:`integer_columns`)."""
    import pandas as pd

    n = int(np.prod(shape))
    numeric: dict[str, np.ndarray] = {}
    other: dict[str, Any] = {}
    for k, v in columns.items():
        if isinstance(v, Labels):
            codes = (v.codes.reshape(n) if v.codes.size == n  # already one per row
                     else np.broadcast_to(v.codes, shape).reshape(n))
            other[k] = pd.Categorical.from_codes(codes, pd.Index(list(v.categories)))
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
            other[k] = constant_category(arr.item(), n)
        else:
            other[k] = pd.Categorical(np.broadcast_to(arr.astype(object), shape).reshape(n))
    block = np.empty((len(numeric), n))
    for i, v in enumerate(numeric.values()):
        block[i] = v
    frame = pd.DataFrame(block.T, columns=list(numeric), copy=False)
    for k, v in other.items():
        frame[k] = v
    return integer_columns(frame[list(columns)])


def integer_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its counting columns (:data:`INTEGER_COLUMNS`) as ``int64``, or as
    pandas' nullable ``Int64`` where some rows have no value (an impossible layout)."""
    for k in INTEGER_COLUMNS.intersection(frame.columns):
        col = frame[k]
        if col.dtype.kind != "f":
            continue
        values = col.to_numpy()
        finite = np.isfinite(values)
        if not np.array_equal(values[finite], np.round(values[finite])):
            continue
        if finite.all():
            frame[k] = values.astype(np.int64)
        elif not np.isinf(values).any():
            frame[k] = col.astype("Int64")
    return frame


def alias(given: Any, canonical: str) -> str:
    """The name the caller typed for a spec (``"h100"``), or the canonical name when a spec
    object or file was passed."""
    if isinstance(given, str) and not given.endswith((".yaml", ".yml", ".json")):
        return given
    return canonical


def alias_columns(data: dict[str, Any], **typed: Any) -> dict[str, Any]:
    """``data`` (columns of a :class:`Columns` table) with ``<name>_alias`` inserted after
    each one-valued label column ``<name>`` (:func:`with_aliases` for a table not built)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        out[k] = v
        if k not in typed or f"{k}_alias" in data:
            continue
        if isinstance(v, str):
            out[f"{k}_alias"] = alias(typed[k], v)
        elif isinstance(v, Labels) and len(v.categories) == 1:
            out[f"{k}_alias"] = Labels(v.codes, (alias(typed[k], v.categories[0]),))
    return out


def with_aliases(frame: pd.DataFrame, **typed: Any) -> pd.DataFrame:
    """Insert ``<name>_alias`` beside each ``<name>`` column (``model``, ``chip``): the
    string the caller passed (``"h100"``), or the canonical name when a spec object or
    file was passed, so ``df[df.chip_alias == "h100"]`` finds the rows the user asked for."""
    for name, given in typed.items():
        if name not in frame or f"{name}_alias" in frame:
            continue
        canonical = frame[name]
        typed_name: Any = (constant_category(given, len(frame)) if alias(given, "") == given
                           else canonical.copy())
        frame.insert(column_after(frame, name), f"{name}_alias", typed_name)
    return frame


#: The module that draws results, imported on the first ``.plot()`` (as pandas names its
#: plotting backend): results and the engine that makes them never import the views.
PLOTTING_BACKEND = "roofline.views.plots"


def plotting() -> ModuleType:
    """The plotting backend (:data:`PLOTTING_BACKEND`), imported on first use."""
    return importlib.import_module(PLOTTING_BACKEND)


def _clean(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    pandas = sys.modules.get("pandas")  # a missing integer (pd.NA) only exists once loaded
    if pandas is not None and v is pandas.NA:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


class Result:
    """A table of scenarios (one row each) plus the assumptions behind the numbers.

    ``frame`` holds SI units with the unit in each column name (docs/results.md);
    ``assumptions`` (also ``frame.attrs["assumptions"]``) lists what the numbers rest on
    (efficiencies, overlap, reserves), in words. DataFrame attributes not defined here
    (``columns``, ``loc``, ``groupby``, ...) are the frame's.
    """

    def __init__(self, frame: pd.DataFrame | Columns | Result,
                 assumptions: Mapping[str, Any] | None = None) -> None:
        given: dict[str, Any] = {}
        if isinstance(frame, Result):
            given = frame.assumptions
            frame = frame._columns if frame._frame is None and frame._columns else frame.frame
        self._frame: pd.DataFrame | None = None
        self._columns: Columns | None = None
        if isinstance(frame, Columns):
            self._columns = frame
        else:
            given = given or frame.attrs.get("assumptions", {})
            self._frame = integer_columns(frame)
        self._assumptions: dict[str, Any] = dict(assumptions if assumptions is not None
                                                 else given)
        if self._frame is not None:
            self._frame.attrs["assumptions"] = self._assumptions

    @property
    def frame(self) -> pd.DataFrame:
        """The result table, built on first access (a single answer need not wait for it)."""
        if self._frame is None:
            assert self._columns is not None
            self._frame = frame_from_columns(self._columns.data, self._columns.shape)
            self._frame.attrs["assumptions"] = self._assumptions
        return self._frame

    @frame.setter
    def frame(self, value: pd.DataFrame) -> None:
        self._frame, self._columns = value, None
        value.attrs["assumptions"] = self._assumptions

    @property
    def assumptions(self) -> dict[str, Any]:
        """What the numbers rest on, by name (also ``frame.attrs["assumptions"]``)."""
        return self._assumptions

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "frame":
            raise AttributeError(name)
        return getattr(self.frame, name)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the result table (its ``attrs`` carry the assumptions)."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``rows`` (one per scenario) and ``assumptions``; a single
        scenario's columns are at the top level."""
        if self._frame is None and self._columns is not None and self._columns.rows == 1:
            row = {k: _clean(self._columns.cell(k)) for k in self._columns.data}
            return {**row, "assumptions": self.assumptions}
        rows = [{str(k): _clean(v) for k, v in r.items()}
                for r in self.frame.to_dict("records")]
        if len(rows) == 1:
            return {**rows[0], "assumptions": self.assumptions}
        return {"rows": rows, "assumptions": self.assumptions}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON (NaN as null)."""
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
             **kwargs: Any) -> go.Figure:
        """A plotly figure: column ``y`` against column ``x``, one line per value of
        ``color``; without ``x`` and ``y``, this result's own figure (a roofline for
        ``infer``, memory per device for ``fit``, ``train`` and ``context``, $ per token for
        ``compare``). Keyword arguments go to the figure (``title``, ``log_x``, ``log_y``;
        ``top`` for ``fit``). Figures use the active plotly template
        (``plotly.io.templates.default``) when it is not plotly's stock one."""
        if x is None and y is None:
            return self._figure(**kwargs)
        figure: go.Figure = plotting().table_figure(self.frame, x=x, y=y, color=color,
                                                    **kwargs)
        return figure

    def _figure(self, **kwargs: Any) -> go.Figure:
        """The figure drawn by ``plot()`` without columns; subclasses draw their own."""
        figure: go.Figure = plotting().result_figure(self, **kwargs)
        return figure

    def _formatted(self, max_rows: int) -> pd.DataFrame:
        import pandas as pd

        from roofline.formatting import value

        head = self.frame.head(max_rows)
        return pd.DataFrame({c: [value(str(c), v) for v in head[c]] for c in head.columns})

    def _repr_html_(self) -> str:
        """The notebook view: values with units and thousands separators, as the CLI
        prints them (one scenario as name/value pairs), then the assumptions."""
        view = self._formatted(HTML_MAX_ROWS)
        table = (view.T.rename(columns={0: "value"}) if len(view) == 1 else view).to_html(
            escape=True, index=len(view) == 1, border=0)
        more = (f"<p>{len(self.frame) - HTML_MAX_ROWS:,} more rows (<code>.frame</code> has "
                "them all)</p>" if len(self.frame) > HTML_MAX_ROWS else "")
        notes = "".join(f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>"
                        for k, v in self.assumptions.items())
        return (f"{table}{more}<details><summary>assumptions</summary><ul>{notes}</ul>"
                "</details>")

    def __repr__(self) -> str:
        import pandas as pd

        view = self._formatted(40)
        body = (view.T if len(view) == 1 else view).to_string(
            header=len(view) != 1, index=len(view) == 1,
            line_width=pd.get_option("display.width"))
        more = f"\n... {len(self.frame) - 40:,} more rows" if len(self.frame) > 40 else ""
        return f"{type(self).__name__} ({len(self.frame):,} rows)\n{body}{more}"
