"""$ per 1M output tokens across batch sizes, one line per chip (the chip's colour, as on
the latency curve), the cheapest batch that meets the latency target marked
(:func:`roofline.cost_curve`'s ``chosen``)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from roofline.formatting import seconds, value
from roofline.views.style import PALETTE, TITLE, grid, layout, log_ticks


def cost_batch_figure(curves: Mapping[str, pd.DataFrame], *,
                      title: str = "$ per 1M output tokens across batch size") -> go.Figure:
    """One line per label (a ``cost_curve`` frame each): batches that fit and meet the
    target solid, the others hollow; the chosen batch a star with its price."""
    fig = go.Figure()
    usd_all: list[float] = []
    batches: list[float] = []
    for i, (label, frame) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        good = frame["fits"] & frame["meets_target"]
        hover = [f"<b>{label}</b><br>batch {int(b)}<br>"
                 f"{value('usd', u)} per 1M output tokens<br>TPOT {seconds(t)}"
                 + ("" if f else "<br>does not fit in memory")
                 + ("" if m else "<br>misses the TPOT target")
                 for b, u, t, f, m in zip(frame["batch"], frame["usd_per_m_output_tokens"],
                                          frame["tpot_s"], frame["fits"],
                                          frame["meets_target"], strict=True)]
        text = pd.Series(hover, index=frame.index)
        usd_all += [float(u) for u in frame["usd_per_m_output_tokens"] if u > 0]
        batches += [float(b) for b in frame["batch"]]
        for sel, suffix, mode, symbol in ((good, "", "lines+markers", "circle"),
                                          (~good, " (does not fit or misses target)",
                                           "markers", "circle-open")):
            if not sel.any():
                continue
            fig.add_trace(go.Scatter(
                x=frame.loc[sel, "batch"], y=frame.loc[sel, "usd_per_m_output_tokens"],
                text=text[sel], hovertemplate="%{text}<extra></extra>", name=label + suffix,
                legendgroup=label, showlegend=not suffix, mode=mode,
                line={"color": colour}, marker={"color": colour, "size": 8, "symbol": symbol}))
        chosen = frame[frame["chosen"]]
        for _, r in chosen.iterrows():
            fig.add_trace(go.Scatter(
                x=[r["batch"]], y=[r["usd_per_m_output_tokens"]], mode="markers+text",
                name=f"{label}: cheapest batch {int(r['batch'])}", legendgroup=label,
                text=[f" batch {int(r['batch'])}: {value('usd', r['usd_per_m_output_tokens'])}"],
                textposition="middle right", hovertemplate=f"{label}: the chosen batch"
                                                           "<extra></extra>",
                marker={"color": colour, "size": 16, "symbol": "star",
                        "line": {"width": 1, "color": "black"}}, showlegend=True))
    ticks = sorted(set(batches))
    fig.update_layout(**layout(), title={"text": title, **TITLE}, hovermode="closest",
                      xaxis={**grid(), "type": "log", "title": "batch (sequences per replica)",
                             "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]},
                      yaxis={**grid(), "type": "log", "title": "$ per 1M output tokens",
                             "tickprefix": "$", **log_ticks(usd_all)})
    return fig
