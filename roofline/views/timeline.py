"""Timeline figures: each measure of the catalog's models (or chips) against release date
on a log scale, one panel per measure, with the engine's fitted exponential trend and its
doubling time (:meth:`roofline.engine.planning.timeline.TimelineResult.growth`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from roofline.formatting import value
from roofline.views.style import PALETTE, TITLE, grid, layout

if TYPE_CHECKING:
    from roofline.engine.planning.timeline import TimelineResult

#: Panels of each timeline: (title, measures drawn in it).
PANELS = {"models": (("parameters", ("total_params", "active_params")),
                     ("training tokens", ("training_tokens",)),
                     ("training compute (FLOPs)", ("training_flops",))),
          "chips": (("dense 16-bit FLOP/s", ("dense_16bit_flops_per_s",)),
                    ("memory capacity (bytes)", ("memory_capacity_bytes",)),
                    ("memory bandwidth (bytes/s)", ("memory_bandwidth_bytes_per_s",)))}


def _trend_label(words: str, row: Mapping[Any, Any]) -> str:
    f, d = float(row["factor_per_year"]), float(row["doubling_time_years"])
    if not math.isfinite(f):
        return f"{words}: too few points for a trend"
    return (f"{words}: x{f:.2g} per year" + (f", doubling every {d:.2g} years"
                                             if math.isfinite(d) else ""))


def timeline_figure(result: TimelineResult, *, title: str | None = None) -> go.Figure:
    """One panel per measure (``PANELS``), a point per model or chip (hover: name, date,
    value; records, which the trend is fitted to, drawn larger) and a dotted line for the
    engine's fitted trend, whose legend entry gives the growth per year."""
    frame, kind = result.frame, result.kind
    panels = PANELS[kind]
    growth = {str(r["measure"]): r for r in result.growth().to_dict("records")}
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[p[0] for p in panels])
    when = "release_date" if kind == "models" else "release_year"
    colour = 0
    for row, (_, measures) in enumerate(panels, start=1):
        for column in measures:
            v = frame[column].to_numpy(dtype=float, na_value=np.nan)
            ok = np.isfinite(v) & (v > 0)
            g = growth[column]
            hover = [f"<b>{n}</b><br>{d}<br>{g['label']}: {value(column, val)}"
                     for n, d, val in zip(frame.loc[ok, "display_name"],
                                          frame.loc[ok, when].astype(str), v[ok], strict=True)]
            c = PALETTE[colour % len(PALETTE)]
            colour += 1
            fig.add_trace(go.Scatter(
                x=frame.loc[ok, when], y=v[ok], mode="markers", name=g["label"],
                legendgroup=column, uid=column, text=hover,
                hovertemplate="%{text}<extra></extra>", customdata=frame.loc[ok, "name"],
                marker={"color": c, "size": np.where(result.records(column)[ok], 12, 7)}),
                row=row, col=1)
            if math.isfinite(g["doublings_per_year"]):
                span = np.array([g["first_year"], g["last_year"]], dtype=float)
                fig.add_trace(go.Scatter(
                    x=[_date(y) for y in span] if kind == "models" else span,
                    y=2.0 ** (g["log2_at_year_0"] + g["doublings_per_year"] * span),
                    mode="lines", name=_trend_label(g["label"], g), legendgroup=column,
                    uid=f"{column} trend", hoverinfo="skip",
                    line={"color": c, "dash": "dot", "width": 2}), row=row, col=1)
            fig.update_yaxes(type="log", exponentformat="SI", row=row, col=1, **grid())
    fig.update_xaxes(**grid())
    fig.update_xaxes(title="release date" if kind == "models" else "release year",
                     row=len(panels), col=1)
    default = ("catalog models by release date" if kind == "models"
               else "catalog chips by release year")
    fig.update_layout(**layout(), title={"text": title or default, **TITLE},
                      hovermode="closest")
    fig.update_layout(legend={"orientation": "h", "y": -0.08, "x": 0})
    return fig


def _date(year: float) -> str:
    """A fractional year as an ISO date (for a date axis)."""
    import datetime as dt

    whole = int(year)
    day = dt.date(whole, 1, 1) + dt.timedelta(days=(year - whole) * 365.2425)
    return day.isoformat()
