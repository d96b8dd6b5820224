"""The serving frontier: output tokens/s per chip (y) against output tokens/s per user (x,
1 / TPOT), every feasible configuration faint and each serving mode's Pareto front drawn
over it (:meth:`roofline.FrontierResult.front`), with the latency targets marked. Each
point carries its configuration in ``customdata``, so a click can show how to launch it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from roofline.formatting import seconds, value
from roofline.views.style import PALETTE, TITLE, grid, layout, log_ticks

if TYPE_CHECKING:
    from roofline.engine.planning.frontier import FrontierResult

#: Colour per serving mode, the same on every figure.
MODE_COLOURS = {"aggregated": PALETTE[0], "disaggregated": PALETTE[1]}
#: Configuration fields a point carries (engine column names), in reading order.
CONFIG_COLUMNS = ("mode", "tp", "dp", "ep", "batch", "concurrency", "draft_tokens",
                  "prefill_tp", "prefill_dp", "prefill_ep", "prefill_batch", "xpyd", "chips",
                  "deployment_chips", "ttft_s", "tpot_s", "output_tokens_per_s_per_user",
                  "output_tokens_per_s_per_chip", "usd_per_m_output_tokens")


def _clean(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _points(rows: Any) -> list[dict[str, Any]]:
    cols = [c for c in CONFIG_COLUMNS if c in rows]
    data = [rows[c].tolist() for c in cols]
    return [{c: _clean(v) for c, v in zip(cols, r, strict=True)} for r in zip(*data, strict=True)]


def _layout_text(p: dict[str, Any]) -> str:
    lay = f"tp {p['tp']:g} x dp {p['dp']:g}" + (f", ep {p['ep']:g}" if p.get("ep", 1) > 1 else "")
    if p["mode"] == "disaggregated" and p.get("xpyd"):
        lay += (f"; prefill tp {p['prefill_tp']:g} x dp {p['prefill_dp']:g}, "
                f"{p['xpyd']}")
    return lay


def _hover(p: dict[str, Any]) -> str:
    return (f"<b>{p['mode']}</b>: {_layout_text(p)}<br>batch {p['batch']:g} per group "
            f"(concurrency {p['concurrency']:g})<br>TTFT {seconds(p['ttft_s'])}, TPOT "
            f"{seconds(p['tpot_s'])}<br>"
            f"{value('tokens_per_s', p['output_tokens_per_s_per_user'])} per user, "
            f"{value('tokens_per_s', p['output_tokens_per_s_per_chip'])} per chip"
            + (f"<br>{value('usd', p['usd_per_m_output_tokens'])} per 1M output tokens"
               if p.get("usd_per_m_output_tokens") is not None else "")
            + "<br>click for its launch settings")


def frontier_figure(result: FrontierResult, modes: Sequence[str] = ("aggregated",
                                                                     "disaggregated"), *,
                    max_tpot_s: float | None = None, max_ttft_s: float | None = None,
                    title: str | None = None) -> go.Figure:
    """Every feasible configuration of ``modes`` (faint) and each mode's front (line),
    output tokens/s per chip against per user; ``max_tpot_s`` draws the TPOT target as
    the per-user speed it implies (1 / TPOT), ``max_ttft_s`` is named in the title."""
    traces: list[dict[str, Any]] = []
    conf = result.configurations
    for mode in modes:
        colour = MODE_COLOURS.get(mode, PALETTE[2])
        every = _points(conf[conf["mode"] == mode])
        front = _points(result.front(mode))
        if not every:
            continue
        for pts, name, style in (
                (every, f"{mode}: every configuration", {
                    "mode": "markers", "opacity": 0.35, "showlegend": True,
                    "marker": {"color": colour, "size": 6, "symbol": "circle-open"}}),
                (front, f"{mode} front", {
                    "mode": "lines+markers", "line": {"color": colour, "width": 2},
                    "marker": {"color": colour, "size": 9}})):
            traces.append({
                "type": "scatter", "name": name, "uid": name, "legendgroup": name,
                "x": [p["output_tokens_per_s_per_user"] for p in pts],
                "y": [p["output_tokens_per_s_per_chip"] for p in pts],
                "text": [_hover(p) for p in pts], "hovertemplate": "%{text}<extra></extra>",
                "customdata": pts, **style})
    shapes, notes = [], []
    if max_tpot_s is not None:
        x = 1.0 / max_tpot_s  # tokens/s per user; a shape takes it as it is, an annotation
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x,
                       "y0": 0, "y1": 1, "line": {"color": "#555", "dash": "dash"}})
        notes.append({"x": math.log10(x), "y": 1, "xref": "x", "yref": "paper",  # in log10
                      "showarrow": False,
                      "xanchor": "left", "yanchor": "top", "font": {"size": 11},
                      "text": f" TPOT target {seconds(max_tpot_s)}: right of this line"})
    xs = [x for t in traces for x in t["x"] if x and x > 0]
    ys = [y for t in traces for y in t["y"] if y and y > 0]
    row = result.frame.iloc[0] if len(result.frame) else None
    default = (f"{row['model']} on {row['chip']}: output tokens/s per chip vs per user"
               if row is not None else "serving frontier")
    if max_ttft_s is not None:
        default += f" (TTFT target {seconds(max_ttft_s)} met by every point)"
    return go.Figure(data=traces, layout={
        **layout(), "title": {"text": title or default, **TITLE}, "hovermode": "closest",
        "shapes": shapes, "annotations": notes,
        "xaxis": {**grid(), "type": "log", "title": "output tokens/s per user (1 / TPOT)",
                  **log_ticks([*xs, *([1.0 / max_tpot_s] if max_tpot_s else [])])},
        "yaxis": {**grid(), "type": "log", "title": "output tokens/s per chip",
                  **log_ticks(ys)}})
