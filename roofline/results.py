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
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
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


def with_aliases(frame: pd.DataFrame, **typed: Any) -> pd.DataFrame:
    """Insert ``<name>_alias`` beside each ``<name>`` column (``model``, ``chip``): the
    string the caller passed (``"h100"``), or the canonical name when a spec object or
    file was passed, so ``df[df.chip_alias == "h100"]`` finds the rows the user asked for."""
    for name, given in typed.items():
        if name not in frame or f"{name}_alias" in frame:
            continue
        canonical = frame[name]
        if isinstance(given, str) and not given.endswith((".yaml", ".yml", ".json")):
            alias: Any = constant_category(given, len(frame))
        else:
            alias = canonical.copy()
        frame.insert(column_after(frame, name), f"{name}_alias", alias)
    return frame


def _clean(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if v is pd.NA:
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

    def __init__(self, frame: pd.DataFrame | Result,
                 assumptions: Mapping[str, Any] | None = None) -> None:
        table = frame.frame if isinstance(frame, Result) else frame
        self.frame: pd.DataFrame = integer_columns(table)
        self.frame.attrs["assumptions"] = dict(
            assumptions if assumptions is not None else table.attrs.get("assumptions", {}))

    @property
    def assumptions(self) -> dict[str, Any]:
        """What the numbers rest on, by name (``frame.attrs["assumptions"]``)."""
        out: dict[str, Any] = self.frame.attrs.setdefault("assumptions", {})
        return out

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
        rows = [{str(k): _clean(v) for k, v in r.items()}
                for r in self.frame.to_dict("records")]
        if len(rows) == 1:
            return {**rows[0], "assumptions": self.assumptions}
        return {"rows": rows, "assumptions": self.assumptions}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON (NaN as null)."""
        return json.dumps(self.to_dict(), indent=2, default=str, allow_nan=False)

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, column: str) -> Any:
        """A column; for a single scenario, its scalar value."""
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
        from roofline.views import plots

        if x is None and y is None:
            return self._figure(**kwargs)
        return plots.table_figure(self.frame, x=x, y=y, color=color, **kwargs)

    def _figure(self, **kwargs: Any) -> go.Figure:
        """The figure drawn by ``plot()`` without columns; subclasses draw their own."""
        from roofline.views import plots

        if "capacity_bytes" in self.frame and "weights_bytes" in self.frame:
            return plots.memory_figure(plots.memory_bars(self.frame), **kwargs)
        usd = {c: c.removeprefix("usd_per_m_").replace("_", " ") for c in map(str, self.frame)
               if c.startswith("usd_per_m_")}
        if usd and "chip" in self.frame:
            return plots.cost_figure(self.frame, usd, title="$ per 1M tokens", **kwargs)
        return plots.table_figure(self.frame, **kwargs)

    def _formatted(self, max_rows: int) -> pd.DataFrame:
        from roofline.views.format import value

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
        view = self._formatted(40)
        body = (view.T if len(view) == 1 else view).to_string(
            header=len(view) != 1, index=len(view) == 1,
            line_width=pd.get_option("display.width"))
        more = f"\n... {len(self.frame) - 40:,} more rows" if len(self.frame) > 40 else ""
        return f"{type(self).__name__} ({len(self.frame):,} rows)\n{body}{more}"
