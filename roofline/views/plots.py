"""Plotly figure builders shared by the API (``InferenceResult.plot()``) and the dashboard.

Every number plotted comes from the engine; this module only arranges and labels it.
Axes stay in SI base units (FLOP/s, bytes, seconds) with SI tick prefixes; hover text is
formatted by :mod:`roofline.formatting`, so a missing value reads ``-``, never ``NaN``.

- :func:`roofline_figure`: attainable FLOP/s against arithmetic intensity (Williams,
  Waterman & Patterson 2009), roofs and ridge points per chip and dtype, a scenario's
  operators as points (prefill and decode apart).
- :func:`memory_figure`: stacked memory per device by part against capacity.
- :func:`latency_throughput_figure`: time per output token against tokens/s per chip over
  batch sizes.
- :func:`cost_figure`: grouped bars of $ figures per chip.
- :func:`table_figure`: any two columns of a result table (``Result.plot(x=, y=)``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import NDArray

from roofline.engine.timing.roofline import attainable_flops_per_s
from roofline.formatting import seconds, si, value
from roofline.specs.catalog import load_chip
from roofline.specs.chip import Chip
from roofline.specs.dtypes import Dtype
from roofline.views.style import DASHES, PALETTE, TITLE, grid, layout, log_ticks

# TimelineResult.plot() is served from this module (the plotting backend), as every plot is.
from roofline.views.timeline import timeline_figure as timeline_figure

if TYPE_CHECKING:
    from roofline.engine.planning.fit import FitResult
    from roofline.engine.serving.inference import InferenceResult
    from roofline.results import Result

PHASE_STYLE = {"prefill": {"symbol": "circle", "color": "#1f77b4"},
               "decode": {"symbol": "diamond", "color": "#d62728"}}
#: Memory parts in stacking order: key (as in engine column names, without ``_bytes``),
#: label and colour.
MEMORY_PARTS: tuple[tuple[str, str, str], ...] = (
    ("weights", "weights", "#4c78a8"),
    ("kv_cache", "KV cache", "#f58518"),
    ("activation", "activations", "#54a24b"),
    ("gradients", "gradients", "#e45756"),
    ("optimizer", "optimizer states", "#b279a2"),
    ("reserve", "runtime reserve", "#9d9d9d"),
)

def _finite(x: Any) -> bool:
    return isinstance(x, int | float | np.floating | np.integer) and math.isfinite(float(x))


def _chip(c: Chip | str) -> Chip:
    return c if isinstance(c, Chip) else load_chip(c)


# --- roofline ----------------------------------------------------------------------------


def roof_dtypes(chip: Chip, wanted: Iterable[str]) -> list[Dtype]:
    """The dtypes whose roofs are drawn for ``chip``: each wanted dtype as the chip computes
    it (a dtype without a native peak falls back to the next wider one), without repeats."""
    out: list[Dtype] = []
    for d in wanted:
        got = chip.resolve_dtype(d)
        if got not in out:
            out.append(got)
    return out


def intensity_range(chips: Sequence[Chip], dtypes: Sequence[str],
                     ops: Sequence[pd.DataFrame]) -> tuple[float, float]:
    """x-axis span (FLOP/byte): a decade either side of every ridge point and operator."""
    xs = [c.ridge_point(d) for c in chips for d in roof_dtypes(c, dtypes)]
    for frame in ops:
        xs.extend(float(v) for v in frame["intensity_flop_per_byte"] if _finite(v) and v > 0)
    lo, hi = min(xs), max(xs)
    return 10 ** math.floor(math.log10(lo) - 1), 10 ** math.ceil(math.log10(hi) + 1)


def roof_traces(chips: Sequence[Chip], dtypes: Sequence[str],
                x_range: tuple[float, float]) -> list[dict[str, Any]]:
    """Roof lines (``min(peak, intensity x bandwidth)``) and ridge points of every chip and
    dtype, as plotly trace dicts (colour per chip, dash per dtype)."""
    traces: list[dict[str, Any]] = []
    for i, c in enumerate(chips):
        colour = PALETTE[i % len(PALETTE)]
        bw = c.memory.bandwidth
        for j, d in enumerate(roof_dtypes(c, dtypes)):
            peak = c.peak(d)
            ridge = c.ridge_point(d)
            xs = np.array([x_range[0], ridge, x_range[1]])
            ys = attainable_flops_per_s(xs, peak, bw)
            name = f"{c.name} {d.value}"
            traces.append({
                "type": "scatter", "x": xs, "y": ys, "mode": "lines", "name": name,
                "legendgroup": name, "uid": name,
                "line": {"color": colour, "dash": DASHES[j % len(DASHES)], "width": 2},
                "hovertemplate": (f"{name}<br>peak {si(peak, 'FLOP/s')}<br>"
                                  f"memory {si(bw, 'B/s')}<extra></extra>")})
            traces.append({
                "type": "scatter", "x": [ridge], "y": [peak], "mode": "markers",
                "name": f"{name} ridge point", "legendgroup": name, "showlegend": False,
                "uid": f"{name} ridge point",
                "marker": {"color": colour, "size": 10, "symbol": "x"},
                "hovertemplate": (f"{name} ridge point<br>{ridge:.3g} FLOP/B at "
                                  f"{si(peak, 'FLOP/s')}<extra></extra>")})
    return traces


def plottable(ops: pd.DataFrame) -> NDArray[np.bool_]:
    """Which operators can sit on a log-log roofline: FLOPs, bytes and time all > 0."""
    return np.asarray((ops["flops"] > 0) & (ops["bytes"] > 0) & (ops["time_s"] > 0))


def operator_points(ops: pd.DataFrame) -> pd.DataFrame:
    """Operators that can sit on a log-log roofline (:func:`plottable`), with the FLOP/s
    they attain: FLOPs / time (``time_s`` = max(compute, memory) from the engine)."""
    keep = ops[plottable(ops)]
    return keep.assign(attained_flops_per_s=keep["flops"] / keep["time_s"])


def _operator_trace(ops: pd.DataFrame, phase: str) -> go.Scatter:
    pts = operator_points(ops)
    hover = [
        f"<b>{r['operator']}</b> ({phase}, {r['layers']} layers, {r['dtype']})<br>"
        f"FLOPs {si(r['flops'], 'FLOP')}<br>bytes {si(r['bytes'], 'B')}<br>"
        f"intensity {r['intensity_flop_per_byte']:.3g} FLOP/B<br>"
        f"time {seconds(r['time_s'])} ({r['bound']}-bound)<br>"
        f"attains {si(r['attained_flops_per_s'], 'FLOP/s')}"
        for r in pts.to_dict("records")
    ]
    style = PHASE_STYLE.get(phase, {"symbol": "square", "color": "#333"})
    return go.Scatter(
        x=pts["intensity_flop_per_byte"], y=pts["attained_flops_per_s"], mode="markers",
        name=f"{phase} operators", text=hover, hovertemplate="%{text}<extra></extra>",
        customdata=pts["operator"],
        marker={"symbol": style["symbol"], "color": style["color"], "size": 11,
                "line": {"width": 1, "color": "white"}})


def roofline_figure(result: InferenceResult | None = None, *,
                    chips: Sequence[Chip | str] | None = None,
                    dtypes: Sequence[str] | None = None,
                    phases: Sequence[str] = ("prefill", "decode"), mode: str = "expected",
                    index: int = 0, title: str | None = None) -> go.Figure:
    """Log-log roofline: attainable FLOP/s (y) against FLOP per byte (x).

    Roofs: ``min(peak, intensity x bandwidth)`` for every chip in ``chips`` (default: the
    result's chip) and dtype in ``dtypes`` (default: the dtypes the operators compute in),
    with each ridge point (peak / bandwidth, FLOP/byte) marked. Points: the operators of
    scenario ``index`` of ``result`` per device, one trace per phase, at the FLOP/s they
    attain in ``mode`` ("expected": with the engine's efficiencies, below the roof;
    "ideal": on it). Operators without FLOPs (pure data movement) are left out.
    """
    op_frames = {ph: result.operators(ph, mode, index) for ph in phases} if result else {}  # type: ignore[arg-type]
    chip_list = [_chip(c) for c in chips] if chips else ([result.chip] if result else [])
    if not chip_list:
        raise ValueError("roofline_figure needs a result or at least one chip")
    if dtypes is None:
        used = [d for f in op_frames.values() for d in f.loc[f["flops"] > 0, "dtype"]]
        dtypes = list(dict.fromkeys(used)) or ["bf16"]
    x_range = intensity_range(chip_list, dtypes, list(op_frames.values()))
    fig = go.Figure(roof_traces(chip_list, dtypes, x_range))
    for ph, frame in op_frames.items():
        fig.add_trace(_operator_trace(frame, ph))
    if title is None and result is not None:
        row = result.frame.iloc[index]
        title = (f"{row['model']} on {row['chip']} - batch {int(row['batch'])}, prompt "
                 f"{int(row['prompt_len'])}, tp {int(row['tp'])}, {row['precision']}, "
                 f"{mode} (per device)")
    fig.update_layout(
        **layout(), title={"text": title or "roofline", **TITLE},
        xaxis={**grid(), "type": "log", "title": "arithmetic intensity (FLOP/byte)",
               "range": [math.log10(x_range[0]), math.log10(x_range[1])],
               "exponentformat": "power"},
        yaxis={**grid(), "type": "log", "title": "attainable FLOP/s", "tickformat": "~s"},
        hovermode="closest")
    return fig


# --- memory ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryBar:
    """One device's memory: bytes by part (keys as in :data:`MEMORY_PARTS`, with or without
    the ``_bytes`` suffix) and the device capacity, bytes."""

    label: str
    parts_bytes: Mapping[str, float]
    capacity_bytes: float
    note: str = ""

    def part(self, key: str) -> float:
        v = self.parts_bytes.get(key, self.parts_bytes.get(f"{key}_bytes"))
        return float(v) if v is not None and _finite(v) else 0.0

    @property
    def total_bytes(self) -> float:
        return sum(self.part(k) for k, _, _ in MEMORY_PARTS)


def memory_bars(frame: pd.DataFrame, label: str = "chip") -> list[MemoryBar]:
    """One :class:`MemoryBar` per row of an engine frame with ``*_bytes`` memory columns
    and ``capacity_bytes`` (an ``infer`` frame, a layouts table)."""
    keys = [f"{k}_bytes" for k, _, _ in MEMORY_PARTS]
    return [MemoryBar(str(row[label]), {k: row[k] for k in keys if k in row},
                      float(row["capacity_bytes"])) for _, row in frame.iterrows()]


def memory_figure(bars: Sequence[MemoryBar], *, title: str = "memory per device") -> go.Figure:
    """Stacked bars of memory per device by part, with each device's capacity marked."""
    labels = [b.label for b in bars]
    fig = go.Figure()
    for key, name, colour in MEMORY_PARTS:
        ys = [b.part(key) for b in bars]
        if not any(ys):
            continue
        hover = [f"{b.label}<br>{name}: {si(y, 'B')} ({y / b.capacity_bytes:.0%} of "
                 f"{si(b.capacity_bytes, 'B')})" for b, y in zip(bars, ys, strict=True)]
        fig.add_trace(go.Bar(x=labels, y=ys, name=name, marker_color=colour, text=hover,
                             hovertemplate="%{text}<extra></extra>", textposition="none"))
    caps = [b.capacity_bytes for b in bars]
    cap_hover = [f"{b.label}<br>capacity {si(b.capacity_bytes, 'B')}; total "
                 f"{si(b.total_bytes, 'B')} ({b.total_bytes / b.capacity_bytes:.0%})"
                 + (f"<br>{b.note}" if b.note else "") for b in bars]
    fig.add_trace(go.Scatter(
        x=labels, y=caps, mode="markers", name="capacity", text=cap_hover,
        hovertemplate="%{text}<extra></extra>",
        marker={"symbol": "line-ew-open", "size": 16, "color": "black",
                "line": {"width": 3, "color": "black"}}))
    for i, cap in enumerate(caps):  # the capacity as a line across each bar
        fig.add_shape(type="line", xref="x", yref="y", x0=i - 0.45, x1=i + 0.45, y0=cap,
                      y1=cap, line={"color": "black", "width": 3})
    fig.update_layout(**layout(), barmode="stack", title={"text": title, **TITLE},
                      yaxis={**grid(), "title": "bytes per device", "exponentformat": "SI",
                             "ticksuffix": "B"},
                      xaxis={**grid(), "title": None, "type": "category"}, hovermode="closest")
    return fig


# --- latency vs throughput ---------------------------------------------------------------


def latency_throughput_figure(curves: Mapping[str, pd.DataFrame], *,
                              title: str = "latency vs throughput over batch size "
                                           "(hollow: does not fit)") -> go.Figure:
    """Time per output token (y, milliseconds) against output tokens/s per chip (x), one
    curve per label, one point per batch size.

    Each frame is an ``infer`` frame over batch sizes (columns ``batch``, ``tpot_s``,
    ``decode_tokens_per_s``, ``chips``, ``fits``, ``memory_fraction``). Batches whose
    memory does not fit are drawn hollow, off the line (and left out of the legend).
    """
    fig = go.Figure()
    all_ms: list[float] = []
    for i, (label, frame) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        per_chip = frame["decode_tokens_per_s"] / frame["chips"]
        hover = [f"<b>{label}</b><br>batch {int(b)}<br>TPOT {seconds(t)}<br>"
                 f"{value('tokens_per_s', x)} per chip<br>memory {m:.0%} of capacity"
                 for b, t, x, m in zip(frame["batch"], frame["tpot_s"], per_chip,
                                       frame["memory_fraction"], strict=True)]
        hover_s = pd.Series(hover, index=frame.index)
        tpot_ms = frame["tpot_s"] * 1e3  # display unit only
        all_ms.extend(float(v) for v in tpot_ms if _finite(v) and v > 0)
        for fits, suffix in ((True, ""), (False, " (does not fit)")):
            sel = frame["fits"] == fits
            if not sel.any():
                continue
            fig.add_trace(go.Scatter(
                x=per_chip[sel], y=tpot_ms[sel], text=hover_s[sel],
                customdata=frame.loc[sel, "batch"], name=f"{label}{suffix}",
                legendgroup=label, mode="lines+markers" if fits else "markers",
                showlegend=fits,
                hovertemplate="%{text}<extra></extra>",
                line={"color": colour},
                marker={"color": colour, "size": 8,
                        "symbol": "circle" if fits else "circle-open"}))
    fig.update_layout(**layout(), title={"text": title, **TITLE},
                      xaxis={**grid(), "type": "log", "title": "output tokens/s per chip",
                             "tickformat": "~s"},
                      yaxis={**grid(), "type": "log", "title": "time per output token (ms)",
                             **log_ticks(all_ms)},
                      hovermode="closest")
    return fig


# --- cost --------------------------------------------------------------------------------


def cost_figure(frame: pd.DataFrame, columns: Mapping[str, str], *, label: str = "chip",
                title: str = "cost", axis_title: str = "$",
                colours: Sequence[str] = PALETTE) -> go.Figure:
    """Grouped bars of $ figures per row: ``columns`` maps a frame column (in $) to its
    legend name, drawn in ``colours`` in turn. Rows without a finite value for a column get
    no bar for it, and the figure says which (a chip without a price, a model that does
    not fit)."""
    fig = go.Figure()
    missing: list[str] = []
    for i, (col, name) in enumerate(columns.items()):
        if col not in frame:
            continue
        ok = frame[col].map(_finite).astype(bool)
        missing.extend(str(x) for x in frame.loc[~ok, label])
        sub = frame[ok]
        hover = [f"{r}<br>{name}: {value(col, v)}" for r, v in zip(sub[label], sub[col],
                                                                    strict=True)]
        fig.add_trace(go.Bar(x=sub[label], y=sub[col], name=name, text=hover,
                             textposition="none", hovertemplate="%{text}<extra></extra>",
                             marker_color=colours[i % len(colours)]))
    note = sorted(set(missing))
    fig.update_layout(**layout(), barmode="group", title={"text": title, **TITLE},
                      yaxis={**grid(), "title": axis_title, "tickprefix": "$",
                             "exponentformat": "SI"},
                      xaxis={**grid(), "type": "category"})
    if note:
        fig.add_annotation(text="no figure for: " + ", ".join(note), xref="paper",
                           yref="paper", x=0, y=1.06, showarrow=False, xanchor="left",
                           font={"size": 11, "color": "#666"})
    return fig


# --- any table --------------------------------------------------------------------------


def _log_axis(values: pd.Series) -> bool:
    """Whether a column spans more than two decades of positive values (log axis)."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    v = v[np.isfinite(v) & (v > 0)]
    return bool(v.size > 1 and v.max() / v.min() > 100)


def table_figure(frame: pd.DataFrame, *, x: str | None = None, y: str | None = None,
                 color: str | None = None, log_x: bool | None = None,
                 log_y: bool | None = None, title: str | None = None) -> go.Figure:
    """Column ``y`` against column ``x`` of any result table (a sweep, a layout search),
    one line per value of ``color``; an axis is logarithmic when its column spans more than
    two decades (or as ``log_x`` / ``log_y`` say). Rows with a missing value are left out;
    hover text is formatted by the columns' units."""
    missing = [f"{k}={v!r}" for k, v in (("x", x), ("y", y)) if v is None or v not in frame]
    if missing or (color is not None and color not in frame):
        raise ValueError("plot needs x= and y= (and optionally color=) naming columns of the "
                         f"table; got {', '.join(missing) or f'color={color!r}'}; columns: "
                         f"{', '.join(map(str, frame.columns))}")
    assert x is not None and y is not None
    groups = frame.groupby(color, sort=False, observed=True) if color else [(y, frame)]
    fig = go.Figure()
    for i, (key, part) in enumerate(groups):
        part = part[part[x].map(_finite) & part[y].map(_finite)].sort_values(x)
        label = str(key[0] if isinstance(key, tuple) else key)
        hover = [f"{label}<br>{x} {value(x, a)}<br>{y} {value(y, b)}"
                 for a, b in zip(part[x], part[y], strict=True)]
        fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers", name=label,
                                 text=hover, hovertemplate="%{text}<extra></extra>",
                                 line={"color": PALETTE[i % len(PALETTE)]}))
    lx = _log_axis(frame[x]) if log_x is None else log_x
    ly = _log_axis(frame[y]) if log_y is None else log_y
    fig.update_layout(**layout(), title={"text": title or f"{y} vs {x}", **TITLE},
                      xaxis={**grid(), "title": x, "type": "log" if lx else "linear"},
                      yaxis={**grid(), "title": y, "type": "log" if ly else "linear"},
                      showlegend=color is not None, hovermode="closest")
    return fig


def empty_figure(message: str = "") -> go.Figure:
    """A blank figure with a centred message (for inputs that give nothing to plot)."""
    fig = go.Figure()
    fig.update_layout(template="none", xaxis={"visible": False},
                      yaxis={"visible": False}, margin={"l": 20, "r": 20, "t": 20, "b": 20})
    if message:
        fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                           showarrow=False, font={"size": 14, "color": "#666"})
    return fig


def result_figure(result: Result, x: str | None = None, y: str | None = None,
                  color: str | None = None, **kwargs: Any) -> go.Figure:
    """``Result.plot()``: ``y`` against ``x`` of any result table; with no axes, memory per
    device against capacity, or $ per 1M tokens per chip, where the table has them."""
    frame = result.frame
    if x is None and y is None:
        if "capacity_bytes" in frame and "weights_bytes" in frame:
            return memory_figure(memory_bars(frame), **kwargs)
        usd = {c: c.removeprefix("usd_per_m_").replace("_", " ") for c in map(str, frame)
               if c.startswith("usd_per_m_")}
        if usd and "chip" in frame:
            return cost_figure(frame, usd, title="$ per 1M tokens", **kwargs)
    return table_figure(frame, x=x, y=y, color=color, **kwargs)


def fit_figure(result: FitResult, top: int = 8, **kwargs: Any) -> go.Figure:
    """``FitResult.plot()``: memory per device of the ``top`` ranked layouts (plotly)."""
    rows = result.layouts[result.layouts["valid"]].head(top).copy()
    keys = [k for k in ("tp", "pp", "dp", "cp", "ep") if k in rows]
    rows["layout"] = [" ".join(f"{k}{int(r[k])}" for k in keys) for _, r in rows.iterrows()]
    return memory_figure(memory_bars(rows, label="layout"),
                         title=kwargs.pop("title", "memory per device, best layouts"))

