"""Timeline figures: each measure of the catalog's models (or chips) against release date
on a log scale, one panel per measure, with the engine's fitted exponential trend and its
doubling time (:meth:`roofline.engine.planning.timeline.TimelineResult.growth`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from roofline.formatting import value
from roofline.views.style import PALETTE, TITLE, grid, layout, log_ticks

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


def _ticks(values: list[float]) -> dict[str, Any]:
    """Log-axis ticks: one per decade over two decades or more, else 1-2-5 per decade."""
    if not values:
        return {}
    if math.log10(max(values) / min(values)) >= 2:
        return {"dtick": 1}
    return log_ticks(values)


#: Vertical gap between panels, as a fraction of the plot's height.
GAP = 0.07


def _panels_layout(titles: list[str], x_title: str, date_axis: bool) -> dict[str, Any]:
    """Axes of ``len(titles)`` stacked panels sharing one x axis (log y axes), with a
    title above each (what plotly's make_subplots builds, without its validation cost)."""
    n = len(titles)
    h = (1 - GAP * (n - 1)) / n
    out: dict[str, Any] = {"annotations": []}
    for k in range(1, n + 1):
        top = 1 - (k - 1) * (h + GAP)
        sfx = "" if k == 1 else str(k)
        out[f"xaxis{sfx}"] = {**grid(), "anchor": f"y{sfx}", "showticklabels": k == n,
                              "type": "date" if date_axis else "-",
                              **({"matches": "x"} if k > 1 else {}),
                              **({"title": x_title} if k == n else {})}
        domain = [round(max(top - h, 0.0), 6), round(min(top, 1.0), 6)]
        out[f"yaxis{sfx}"] = {**grid(), "anchor": f"x{sfx}", "domain": domain,
                              "type": "log", "exponentformat": "SI"}
        out["annotations"].append({"text": titles[k - 1], "x": 0.5, "y": top,
                                   "xref": "paper", "yref": "paper", "showarrow": False,
                                   "xanchor": "center", "yanchor": "bottom",
                                   "font": {"size": 13}})
    return out


def timeline_figure(result: TimelineResult, *, title: str | None = None) -> go.Figure:
    """One panel per measure (``PANELS``), a point per model or chip (hover: name, date,
    value; records, which the trend is fitted to, drawn larger) and a dotted line for the
    engine's fitted trend, whose legend entry gives the growth per year."""
    frame, kind = result.frame, result.kind
    panels = PANELS[kind]
    growth = {str(r["measure"]): r for r in result.growth().to_dict("records")}
    when = "release_date" if kind == "models" else "release_year"
    xs = (frame[when].dt.strftime("%Y-%m-%d") if kind == "models" else frame[when]).tolist()
    names, shown = frame["name"].tolist(), frame["display_name"].tolist()
    traces: list[dict[str, Any]] = []
    ticks: dict[int, dict[str, Any]] = {}
    for k, (_, measures) in enumerate(panels, start=1):
        axes = {"xaxis": "x" if k == 1 else f"x{k}", "yaxis": "y" if k == 1 else f"y{k}"}
        values: list[float] = []
        for column in measures:
            v = frame[column].to_numpy(dtype=float, na_value=np.nan)
            rec = result.records(column)
            idx = [i for i in range(len(v)) if math.isfinite(v[i]) and v[i] > 0]
            g = growth[column]
            c = PALETTE[len(traces) // 2 % len(PALETTE)]
            traces.append({
                "type": "scatter", "mode": "markers", "name": g["label"], "uid": column,
                "legendgroup": column, **axes,
                "x": [xs[i] for i in idx], "y": [float(v[i]) for i in idx],
                "customdata": [names[i] for i in idx],
                "text": [f"<b>{shown[i]}</b><br>{xs[i]}<br>{g['label']}: "
                         f"{value(column, v[i])}" for i in idx],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"color": c, "size": [12 if rec[i] else 7 for i in idx]}})
            trend: dict[str, Any] = {"x": [], "y": []}
            if math.isfinite(g["doublings_per_year"]):
                span = np.array([g["first_year"], g["last_year"]], dtype=float)
                trend = {"x": [_date(y) for y in span] if kind == "models" else span.tolist(),
                         "y": (2.0 ** (g["log2_at_year_0"]
                                       + g["doublings_per_year"] * span)).tolist()}
            values += [float(v[i]) for i in idx]
            traces.append({
                "type": "scatter", "mode": "lines", "name": _trend_label(g["label"], g),
                "uid": f"{column} trend", "legendgroup": column, "hoverinfo": "skip", **axes,
                **trend, "line": {"color": c, "dash": "dot", "width": 2}})
        ticks[k] = _ticks(values)
    default = ("catalog models by release date" if kind == "models"
               else "catalog chips by release year")
    fig_layout = {**layout(), **_panels_layout([p[0] for p in panels],
                                               "release date" if kind == "models"
                                               else "release year", kind == "models"),
                  "title": {"text": title or default, **TITLE}, "hovermode": "closest",
                  "legend": {"orientation": "h", "y": -0.1, "x": 0}}
    for k, t in ticks.items():
        fig_layout["yaxis" if k == 1 else f"yaxis{k}"].update(t)
    # Built from dicts this module writes (checked against plotly's schema in the tests).
    return go.Figure(data=traces, layout=fig_layout, _validate=False)


def _date(year: float) -> str:
    """A fractional year as an ISO date (for a date axis)."""
    import datetime as dt

    whole = int(year)
    day = dt.date(whole, 1, 1) + dt.timedelta(days=(year - whole) * 365.2425)
    return day.isoformat()
