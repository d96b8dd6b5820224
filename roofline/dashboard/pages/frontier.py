"""Serving frontier page: output tokens/s per chip against output tokens/s per user for
every aggregated and disaggregated configuration of a model on N chips (layouts, batch,
speculation), each mode's Pareto front drawn, the latency targets applied and marked, and
a clicked point's launch settings (``roofline.frontier``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, dcc, html

import roofline
from roofline.dashboard import components as ui
from roofline.dashboard import fields as F
from roofline.dashboard.catalog import options
from roofline.dashboard.state import Field, check
from roofline.dashboard.wiring import (
    View,
    figure_store_id,
    register_kept_view,
    register_options,
    register_url,
    register_view,
    resolve,
)
from roofline.engine.planning.frontier import PRESETS
from roofline.views.frontier_plot import CONFIG_COLUMNS, frontier_figure
from roofline.views.plots import empty_figure

NAME = "frontier"
PATH = "/frontier"
TITLE = "Frontier"
MODES = {"both": "aggregated and disaggregated", "aggregated": "aggregated only",
         "disaggregated": "disaggregated only"}
FIELDS: tuple[Field, ...] = (
    F.MODEL, F.CHIP, F.with_default(F.COUNT, 8),
    Field("workload", "str", "chat", "workload (prompt / output tokens)",
          choices=tuple(PRESETS)),
    F.PRECISION,
    Field("modes", "str", "both", "serving modes", choices=tuple(MODES)),
    Field("ttft", "float", None, "TTFT target (ms)", lo=1e-3, hi=1e7, optional=True),
    Field("tpot", "float", None, "TPOT target (ms)", lo=1e-3, hi=1e6, optional=True),
)
GRAPH = "frontier-graph"
FRONT_COLUMNS = ("mode", "tp", "dp", "ep", "batch", "concurrency", "xpyd", "ttft_s",
                 "tpot_s", "output_tokens_per_s_per_user", "output_tokens_per_s_per_chip",
                 "usd_per_m_output_tokens")
LABELS = {"output_tokens_per_s_per_user": "tok/s per user",
          "output_tokens_per_s_per_chip": "tok/s per chip", "concurrency": "concurrency",
          "batch": "batch / group", "xpyd": "xPyD", "draft_tokens": "draft tokens",
          "prefill_tp": "prefill tp", "prefill_dp": "prefill dp", "prefill_ep": "prefill ep",
          "prefill_batch": "prefill batch", "deployment_chips": "deployment chips"}
HINT = "Click a point for its launch settings."
FALLBACK: tuple[Any, ...] = (empty_figure("fix the inputs on the left"), "", None)


def _seconds(ms: float | None) -> float | None:
    """A target typed in milliseconds, in seconds (None: no target)."""
    return None if ms is None else ms / 1e3


def compute(values: Mapping[str, Any], store: Any) -> View:
    """``roofline.frontier`` of the inputs: the figure (every configuration and each mode's
    front), the overall front as a table, and a cleared click."""
    clean, errors = check(values, FIELDS)
    specs, spec_errors = resolve(clean, store, {"model": "model", "chip": "chip"})
    errors |= spec_errors
    if clean.get("count") is None and "count" not in errors:
        errors["count"] = "the frontier needs a chip count"
    if errors:
        return View(FALLBACK, errors)
    ms = _seconds
    modes = ("aggregated", "disaggregated") if clean["modes"] == "both" else (clean["modes"],)
    res = roofline.frontier(
        specs["model"], specs["chip"], count=clean["count"], workload=clean["workload"],
        precision=clean["precision"], max_ttft_s=ms(clean["ttft"]),
        max_tpot_s=ms(clean["tpot"]),
        disaggregated=None if clean["modes"] == "both" else clean["modes"] == "disaggregated")
    fig = frontier_figure(res, modes, max_tpot_s=ms(clean["tpot"]),
                          max_ttft_s=ms(clean["ttft"]))
    fig.update_layout(uirevision=NAME)
    best = res.best()
    table = html.Div([
        ui.facts([("most tokens/s per chip",
                   f"{best['mode']}, tp {best['tp']:g} x dp {best['dp']:g}, batch "
                   f"{best['batch']:g}: {best['output_tokens_per_s_per_chip']:,.0f} tok/s per "
                   f"chip at {best['output_tokens_per_s_per_user']:,.1f} tok/s per user"),
                  ("configurations on the front", str(len(res.frame)))], "frontier-facts"),
        html.P(HINT, className="note"),
        html.H3("the front (every mode together)"),
        ui.table(res.frame, FRONT_COLUMNS, "frontier-front", labels=LABELS),
        ui.assumptions(res.assumptions)])
    return View((fig, table, None))


def details(click: Any) -> Any:
    """The clicked point's configuration (its ``customdata``) as launch settings."""
    points = click.get("points") if isinstance(click, Mapping) else None
    data = points[0].get("customdata") if points and isinstance(points[0], Mapping) else None
    if not isinstance(data, Mapping) or "mode" not in data:
        return ""
    row = pd.DataFrame([{k: data.get(k) for k in CONFIG_COLUMNS if k in data}])
    if data.get("mode") != "disaggregated":
        row = row.drop(columns=[c for c in row if c.startswith("prefill_")
                                or c in ("xpyd", "deployment_chips")])
    return html.Div([html.H3(f"launch settings: {data['mode']}"),
                     ui.table(row, list(row.columns), "frontier-config", labels=LABELS)],
                    className="details")


def layout(values: Mapping[str, Any]) -> html.Div:
    """The page with its inputs set to ``values``."""
    v = values
    by_key = {f.key: f for f in FIELDS}
    controls = ui.form(NAME, [
        ui.dropdown(NAME, by_key["model"], v["model"], options("model", None, [v["model"]])),
        ui.dropdown(NAME, by_key["chip"], v["chip"], options("chip", None, [v["chip"]])),
        ui.number(NAME, by_key["count"], v["count"]),
        ui.dropdown(NAME, by_key["workload"], v["workload"], [
            {"label": f"{k} ({p} / {o})", "value": k} for k, (p, o) in PRESETS.items()]),
        ui.dropdown(NAME, by_key["precision"], v["precision"], F.PRECISIONS),
        ui.radio(NAME, by_key["modes"], v["modes"], MODES),
        ui.number(NAME, by_key["ttft"], v["ttft"], "empty: no target"),
        ui.number(NAME, by_key["tpot"], v["tpot"], "empty: no target"),
    ])
    return ui.page(NAME, TITLE, "Throughput against interactivity: output tokens/s per chip "
                   "(what a deployment earns) against output tokens/s per user (what each "
                   "user sees), over every layout, batch and speculation setting the engine "
                   "evaluates, for aggregated and disaggregated serving. Points up and to the "
                   "right are better; the lines are each mode's front.", controls,
                   [ui.graph(GRAPH, 560), dcc.Store(id=figure_store_id(GRAPH)),
                    html.Div(id="frontier-details"), html.Div(id="frontier-table")])


def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS, [Output(figure_store_id(GRAPH), "data"),
                                      Output("frontier-table", "children"),
                                      Output(GRAPH, "clickData")], compute, FALLBACK)
    register_kept_view(app, GRAPH)
    app.callback(Output("frontier-details", "children"), Input(GRAPH, "clickData"))(details)
    register_url(app, NAME, FIELDS)
    register_options(app, NAME, {"model": "model", "chip": "chip"})
