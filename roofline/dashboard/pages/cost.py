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
from roofline.views.cost_plot import cost_batch_figure
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
    Field("tpot", "float", None, "TPOT target (ms) for the cheapest batch", lo=1e-3, hi=1e6,
          optional=True),
    F.with_default(F.COUNT, 1024), F.SEQ_LEN, F.GLOBAL_BATCH, F.TOKENS,
)
SERVE_KEYS = ("batch", "prompt", "output", "util", "tpot")
TRAIN_KEYS = ("count", "seq", "gbatch", "tokens")
SERVE_COLUMNS = ("chip", "fits", "chips_needed", "tp", "pp", "ep", "ttft_s", "tpot_s",
                 "decode_tokens_per_s", "usd_per_m_input_tokens", "usd_per_m_output_tokens",
                 "joules_per_output_token", "usd_per_chip_hour", "note")
#: Bar colours for input and output tokens: greys, so that a colour on this page always
#: means a chip (the batch curves colour each chip the same way).
TOKEN_GREYS = ("#a3acb9", "#3f4a5a")
SERVE_COSTS = {"usd_per_m_input_tokens": "$ per 1M input tokens",
               "usd_per_m_output_tokens": "$ per 1M output tokens"}
FALLBACK: tuple[Any, ...] = (empty_figure("fix the inputs on the left"), "", None)


def curve_request(values: Mapping[str, Any], refs: Mapping[str, str],
                  table: pd.DataFrame) -> dict[str, Any]:
    """What the latency curve needs, handed from the cost callback to the curve callback
    (JSON): the workload, and each fitting chip's reference and the layout it got."""
    return {"model": values["model"], "precision": values["precision"],
            "prompt": values["prompt"], "output": values["output"], "util": values["util"],
            "tpot": values.get("tpot"),
            "chips": [{"ref": refs[r.chip], "name": r.chip, "tp": int(r.tp), "pp": int(r.pp),
                       "ep": int(r.ep)} for r in table[table["fits"]].itertuples()]}


CHOSEN_COLUMNS = ("chip", "tp", "pp", "batch", "tpot_s", "usd_per_m_output_tokens",
                  "usd_per_m_input_tokens")


def curves(request: Mapping[str, Any] | None, store: Any) -> tuple[Any, Any, Any]:
    """Over :data:`CURVE_BATCHES` on the layout the cost table chose for each chip: one
    ``roofline.cost_curve`` per chip gives the cost curve with its cheapest batch under
    the TPOT target, and the latency vs throughput curve (colour per chip on both)."""
    if not request:
        msg = "the batch curves are for serving"
        return empty_figure(msg), "", empty_figure(msg)
    if not request["chips"]:
        return empty_figure("no chosen chip fits this model"), "", empty_figure()
    model = resolve_model(request["model"], store)
    tpot = request.get("tpot")
    frames = {}
    for c in request["chips"]:
        res = roofline.cost_curve(model, resolve_chip(c["ref"], store), batches=CURVE_BATCHES,
                                  prompt_len=request["prompt"], output_len=request["output"],
                                  precision=request["precision"], tp=c["tp"], pp=c["pp"],
                                  ep=c["ep"], utilisation=request.get("util") or 1.0,
                                  max_tpot_s=tpot / 1e3 if tpot else None)
        frames[f"{c['name']} (tp={c['tp']}, pp={c['pp']})"] = res.frame
    target = f"TPOT <= {tpot:g} ms" if tpot else "no TPOT target"
    cost = cost_batch_figure(frames, title=f"{model.name}: $ per 1M output tokens across "
                             f"batch, cheapest batch marked ({target})")
    chosen = pd.concat([f[f["chosen"]] for f in frames.values()], ignore_index=True)
    note = (html.Div([html.H3(f"cheapest batch per chip ({target})"),
                      ui.table(chosen, CHOSEN_COLUMNS, "cost-chosen")]) if len(chosen) else
            html.P(f"No batch fits in memory and meets {target} on the chosen chips.",
                   className="note", id="cost-chosen"))
    latency = latency_throughput_figure(frames, title=f"{model.name}: latency vs throughput, "
                                        f"batch 1-{int(CURVE_BATCHES[-1])} (hollow: does not "
                                        "fit)")
    return cost, note, latency


def safe_curves(request: Mapping[str, Any] | None, store: Any) -> tuple[Any, Any, Any]:
    """:func:`curves`, or both figures saying what went wrong (an input error, or that an
    unexpected one was logged on the server): never a traceback."""
    out: list[tuple[Any, Any, Any]] = []

    def build(req: Any, st: Any) -> Any:
        out.append(curves(req, st))
        return out[0][0]

    fig = figure_or_message(build, request, store)
    return out[0] if out else (fig, "", fig)


def _serve(model: Any, chips: list[Any], v: Mapping[str, Any]) -> View:
    res = roofline.compare(model, chips, batch=v["batch"], prompt_len=v["prompt"],
                           output_len=v["output"], precision=v["precision"],
                           utilisation=v["util"])
    table = res.frame
    costs = cost_figure(table, SERVE_COSTS, title=f"{model.name}: $ per 1M tokens at batch "
                        f"{v['batch']} ({v['util']:.0%} utilisation)",
                        axis_title="$ per 1M tokens", colours=TOKEN_GREYS)
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
                    dcc.Store(id="cost-curve-request"), ui.graph("cost-by-batch", 460),
                    html.Div(id="cost-by-batch-note"), ui.graph("cost-curve", 460)])


def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS, [Output("cost-graph", "figure"),
                                      Output("cost-detail", "children"),
                                      Output("cost-curve-request", "data")], compute, FALLBACK)

    @app.callback(Output("cost-by-batch", "figure"), Output("cost-by-batch-note", "children"),
                  Output("cost-curve", "figure"), Input("cost-curve-request", "data"),
                  State(STORE_ID, "data"),
                  running=[(Output("cost-curve", "className"), "stale", ""),
                           (Output("cost-by-batch", "className"), "stale", "")])
    def _curve(request: Any, store: Any) -> Any:
        return safe_curves(request, store)
    register_url(app, NAME, FIELDS)
    register_options(app, NAME, {"model": "model", "chips": "chip"})
    app.callback(Output("cost-serve", "style"), Output("cost-train", "style"),
                 Input(ui.cid(NAME, "purpose"), "value"))(ui.purpose_visibility)
