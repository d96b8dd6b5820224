"""Cost page: $ per 1M tokens served on each chosen chip with the latency vs throughput
curve over batch size, or the cost of a training run on each chip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import numpy as np
import pandas as pd
from dash import Input, Output, State, dcc, html

import roofline
from roofline.dashboard import components as ui
from roofline.dashboard import fields as F
from roofline.dashboard.catalog import resolve_chip, resolve_model
from roofline.dashboard.state import Field
from roofline.dashboard.wiring import (
    STORE_ID,
    View,
    figure_or_message,
    purpose_inputs,
    register_options,
    register_url,
    register_view,
    training_available,
    training_missing,
)
from roofline.views.plots import cost_figure, empty_figure, latency_throughput_figure

NAME = "cost"
PATH = "/cost"
TITLE = "Cost"
PURPOSES = {"serve": "serving", "train": "training run"}
#: Batch sizes of the latency vs throughput curve.
CURVE_BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512], dtype=np.float64)
FIELDS: tuple[Field, ...] = (
    F.MODEL, F.CHIPS,
    F.PURPOSE, F.PRECISION, F.BATCH, F.with_default(F.PROMPT, 1024), F.OUTPUT,
    Field("util", "float", 1.0, "utilisation (busy share of paid hours)", lo=0.01, hi=1.0),
    F.with_default(F.COUNT, 1024), F.SEQ_LEN, F.GLOBAL_BATCH, F.TOKENS,
)
SERVE_KEYS = ("batch", "prompt", "output", "util")
TRAIN_KEYS = ("count", "seq", "gbatch", "tokens")
SERVE_COLUMNS = ("chip", "fits", "chips_needed", "tp", "pp", "ep", "ttft_s", "tpot_s",
                 "decode_tokens_per_s", "usd_per_m_input_tokens", "usd_per_m_output_tokens",
                 "joules_per_output_token", "usd_per_chip_hour", "note")
SERVE_COSTS = {"usd_per_m_input_tokens": "$ per 1M input tokens",
               "usd_per_m_output_tokens": "$ per 1M output tokens"}
FALLBACK: tuple[Any, ...] = (empty_figure("fix the inputs on the left"), "", None)


def curve_request(values: Mapping[str, Any], refs: Mapping[str, str],
                  table: pd.DataFrame) -> dict[str, Any]:
    """What the latency curve needs, handed from the cost callback to the curve callback
    (JSON): the workload, and each fitting chip's reference and the layout it got."""
    return {"model": values["model"], "precision": values["precision"],
            "prompt": values["prompt"], "output": values["output"],
            "chips": [{"ref": refs[r.chip], "name": r.chip, "tp": int(r.tp), "pp": int(r.pp),
                       "ep": int(r.ep)} for r in table[table["fits"]].itertuples()]}


def curves(request: Mapping[str, Any] | None, store: Any) -> Any:
    """Latency vs throughput over :data:`CURVE_BATCHES`: one vectorised ``infer`` per chip
    on the layout the cost table chose for it."""
    if not request:
        return empty_figure("the latency curve is for serving")
    if not request["chips"]:
        return empty_figure("no chosen chip fits this model")
    model = resolve_model(request["model"], store)
    frames = {}
    for c in request["chips"]:
        res = roofline.infer(model, resolve_chip(c["ref"], store), batch=CURVE_BATCHES,
                             prompt_len=request["prompt"], output_len=request["output"],
                             precision=request["precision"], tp=c["tp"], pp=c["pp"],
                             ep=c["ep"])
        frames[f"{c['name']} (tp={c['tp']}, pp={c['pp']})"] = res.frame
    return latency_throughput_figure(frames, title=f"{model.name}: latency vs throughput, "
                                     f"batch 1-{int(CURVE_BATCHES[-1])} (hollow: does not "
                                     "fit)")


def _serve(model: Any, chips: list[Any], v: Mapping[str, Any]) -> View:
    res = roofline.compare(model, chips, batch=v["batch"], prompt_len=v["prompt"],
                           output_len=v["output"], precision=v["precision"],
                           utilisation=v["util"])
    table = res.frame
    costs = cost_figure(table, SERVE_COSTS, title=f"{model.name}: $ per 1M tokens at batch "
                        f"{v['batch']} ({v['util']:.0%} utilisation)",
                        axis_title="$ per 1M tokens")
    detail = html.Div([ui.table(table, SERVE_COLUMNS, "cost-table"),
                       ui.assumptions(res.assumptions)])
    refs = {c.name: ref for c, ref in zip(chips, v["chips"], strict=True)}
    return View((costs, detail, curve_request(v, refs, table)))


TRAIN_COLUMNS = ("chip", "fits", "layout", "step_time_s", "mfu", "total_time_s", "chip_hours",
                 "cost_usd", "energy_kwh", "reason")


def training_costs(model: Any, chips: list[Any], v: Mapping[str, Any]
                   ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per chip: the layout ``roofline.fit(..., purpose="train")`` picks on
    ``count`` chips and that layout's run of ``tokens`` tokens (time, cost, energy)."""
    rows, notes = [], {}
    for chip in chips:
        res = roofline.fit(model, chip, v["count"], "train", precision=v["precision"],
                           seq_len=v["seq"], global_batch=v["gbatch"], tokens=v["tokens"])
        row: dict[str, Any] = {"chip": chip.name, "fits": res.fits, "reason": res.reason}
        ok = res.layouts[res.layouts["ok"]] if "ok" in res.layouts else res.layouts.iloc[:0]
        if res.fits and not ok.empty:
            best = ok.iloc[0]
            row.update({k: best[k] for k in TRAIN_COLUMNS if k in best and k not in row})
        rows.append(row)
        notes.update(res.layouts.attrs.get("assumptions", {}))
    return pd.DataFrame(rows), notes


def _train(model: Any, chips: list[Any], v: Mapping[str, Any]) -> View:
    if not training_available():
        return View((empty_figure("training estimates are not available yet"), "", None), {},
                    training_missing())
    table, notes = training_costs(model, chips, v)
    fig = cost_figure(table, {"cost_usd": "training run"}, title=f"{model.name}: "
                      f"{v['tokens']:.3g} training tokens on {v['count']} chips",
                      axis_title="$ per run")
    detail = html.Div([ui.table(table, TRAIN_COLUMNS, "cost-table"), ui.assumptions(notes)])
    return View((fig, detail, None))


def compute(values: Mapping[str, Any], store: Any) -> View:
    """Serving: ``roofline.compare`` over the chosen chips and ``infer`` over batch sizes
    on each chip's layout. Training: the run's cost on each chip."""
    clean, specs, errors = purpose_inputs(values, store, FIELDS, SERVE_KEYS, TRAIN_KEYS)
    if values.get("purpose") == "train" and clean.get("count") is None:
        errors.setdefault("count", "a training run needs a chip count")
    if errors:
        return View(FALLBACK, errors)
    run = _serve if clean["purpose"] == "serve" else _train
    return run(specs["model"], specs["chips"], clean)


def layout(values: Mapping[str, Any]) -> html.Div:
    """The page with its inputs set to ``values``."""
    v = values
    by_key = {f.key: f for f in FIELDS}
    controls = ui.form(NAME, [
        *ui.comparison_controls(NAME, FIELDS, v, PURPOSES),
        html.Div([ui.number(NAME, by_key[k], v[k]) for k in SERVE_KEYS], id="cost-serve"),
        html.Div([ui.number(NAME, by_key[k], v[k]) for k in TRAIN_KEYS], id="cost-train"),
    ])
    return ui.page(NAME, TITLE, "What a million tokens cost on each chip (its cheapest layout "
                   "per token, at catalog prices), how latency trades against throughput as the "
                   "batch grows, and what a training run costs.", controls,
                   [ui.graph("cost-graph", 420), html.Div(id="cost-detail"),
                    dcc.Store(id="cost-curve-request"), ui.graph("cost-curve", 460)])


def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS, [Output("cost-graph", "figure"),
                                      Output("cost-detail", "children"),
                                      Output("cost-curve-request", "data")], compute, FALLBACK)

    @app.callback(Output("cost-curve", "figure"), Input("cost-curve-request", "data"),
                  State(STORE_ID, "data"),
                  running=[(Output("cost-curve", "className"), "stale", "")])
    def _curve(request: Any, store: Any) -> Any:
        return figure_or_message(curves, request, store)
    register_url(app, NAME, FIELDS)
    register_options(app, NAME, {"model": "model", "chips": "chip"})
    app.callback(Output("cost-serve", "style"), Output("cost-train", "style"),
                 Input(ui.cid(NAME, "purpose"), "value"))(ui.purpose_visibility)
