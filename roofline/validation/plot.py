"""Predicted vs measured: docs/validation-plot.html.

Every case on one dimensionless scale: the fraction of its ideal (roofline) bound that the
measurement reached (x) against the fraction the engine predicts (y), in sample and out of
sample. Points on the diagonal are exact; the bound is 1 on both axes.
"""

from __future__ import annotations

import pandas as pd

#: Where the plot is written beside docs/validation.md.
PLOT_NAME = "validation-plot.html"


def plot_html(t: pd.DataFrame) -> str:
    """The plotly figure as a standalone HTML page (plotly.js from its CDN)."""
    import plotly.graph_objects as go

    ok = t[(t["status"] == "ok") & t["kind"].isin(("training", "serving"))].copy()
    ok["x"] = ok["measured"] / ok["ideal"]
    fig = go.Figure()
    for kind, symbol in (("training", "circle"), ("serving", "diamond")):
        k = ok[ok["kind"] == kind]
        for label, col, colour in (("in sample", "error", "#1f77b4"),
                                   ("out of sample", "oos_error", "#d62728")):
            fig.add_trace(go.Scatter(
                x=k["x"].round(4), y=(k["x"] * (1 + k[col])).round(4), mode="markers",
                name=f"{kind}, {label}", text=k["id"], marker={"symbol": symbol,
                                                               "color": colour, "size": 8},
                hovertemplate="%{text}<br>measured %{x:.1%} of ideal<br>predicted %{y:.1%}"))
    for factor, dash in ((1.0, "solid"), (1.25, "dot"), (0.8, "dot")):
        fig.add_trace(go.Scatter(x=[0.01, 1.0], y=[0.01 * factor, factor], mode="lines",
                                 line={"color": "grey", "dash": dash, "width": 1},
                                 showlegend=False, hoverinfo="skip"))
    fig.update_layout(title="Predicted vs measured (fraction of the ideal bound)",
                      xaxis={"title": "measured / ideal", "type": "log", "range": [-2, 0]},
                      yaxis={"title": "predicted / ideal", "type": "log", "range": [-2, 0.1]},
                      width=820, height=700, template="plotly_white")
    return fig.to_html(include_plotlyjs="cdn", full_html=True, div_id="validation-plot")
