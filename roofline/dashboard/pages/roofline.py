"""Roofline page: attainable FLOP/s against arithmetic intensity for the chosen chips and
dtypes, with the scenario's operators (prefill and decode) as points."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import pandas as pd
from dash import Output, html

import roofline
from roofline.dashboard import components as ui
from roofline.dashboard import fields as F
from roofline.dashboard.catalog import options
from roofline.dashboard.state import Field, check
from roofline.dashboard.wiring import View, register_options, register_url, register_view, resolve
from roofline.formatting import seconds, si
from roofline.views.plots import empty_figure, roofline_figure

NAME = "roofline"
PATH = "/roofline"
TITLE = "Roofline"
MODES = {"expected": "expected (with efficiencies)", "ideal": "ideal (datasheet peak)"}
FIELDS: tuple[Field, ...] = (
    F.MODEL, F.CHIPS, Field("dtypes", "list", ["bf16", "fp8"], "roofs for dtypes",
                            choices=F.DTYPES),
    F.PRECISION, F.BATCH, F.PROMPT, F.OUTPUT, F.TP,
    Field("mode", "str", "expected", "operator timing", choices=tuple(MODES)),
)
OP_COLUMNS = ("phase", "operator", "layers", "dtype", "flops", "bytes",
              "intensity_flop_per_byte", "compute_s", "memory_s", "time_s", "bound")
FALLBACK: tuple[Any, ...] = (empty_figure("fix the inputs on the left"), "", "")


def compute(values: Mapping[str, Any], store: Any) -> View:
    """Roofline of ``values`` (page fields): infer on the first chosen chip, roofs for all.

    Returns the figure, headline numbers and the per-operator table (per device)."""
    clean, errors = check(values, FIELDS)
    specs, spec_errors = resolve(clean, store, {"model": "model", "chips": "chip"})
    errors |= spec_errors
    if errors:
        return View(FALLBACK, errors)
    model, chips = specs["model"], specs["chips"]
    res = roofline.infer(model, chips[0], batch=clean["batch"], prompt_len=clean["prompt"],
                         output_len=clean["output"], precision=clean["precision"],
                         tp=clean["tp"])
    mode = clean["mode"]
    fig = roofline_figure(res, chips=chips, dtypes=clean["dtypes"], mode=mode)
    ops = pd.concat([res.operators(ph, mode).assign(phase=ph)  # type: ignore[arg-type]
                     for ph in ("prefill", "decode")], ignore_index=True)
    row = res.frame.iloc[0]
    summary = ui.facts([
        ("operators on", f"{row['chip']} x {int(row['tp'])} (tp), {row['precision']}"),
        ("time to first token", f"{seconds(row['ttft_s'])} ({row['prefill_bound']}-bound)"),
        ("time per output token", f"{seconds(row['tpot_s'])} ({row['decode_bound']}-bound)"),
        ("memory per device", f"{si(row['memory_bytes'], 'B')} of "
                              f"{si(row['capacity_bytes'], 'B')} ({row['memory_fraction']:.0%})"
                              + ("" if row["fits"] else " - does not fit")),
    ], "roofline-summary")
    table = html.Div([html.H3("operators per device (one forward pass, all layers)"),
                      ui.table(ops, OP_COLUMNS, "roofline-ops"),
                      ui.assumptions(res.assumptions)])
    return View((fig, summary, table))


def layout(values: Mapping[str, Any]) -> html.Div:
    """The page with its inputs set to ``values``."""
    v = values
    controls = ui.form(NAME, [
        ui.dropdown(NAME, FIELDS[0], v["model"], options("model", None, [v["model"]])),
        ui.dropdown(NAME, FIELDS[1], v["chips"], options("chip", None, v["chips"]), multi=True,
                    help_text="operators run on the first; roofs drawn for all"),
        ui.dropdown(NAME, FIELDS[2], v["dtypes"], F.DTYPES, multi=True),
        ui.dropdown(NAME, FIELDS[3], v["precision"], F.PRECISIONS),
        *(ui.number(NAME, f, v[f.key]) for f in FIELDS[4:8]),
        ui.radio(NAME, FIELDS[8], v["mode"], MODES),
    ])
    return ui.page(NAME, TITLE, "Where each operator of a forward pass sits under the roofs of the "
                   "chosen chips: left of a ridge point it is memory-bound, right of it "
                   "compute-bound. Hover a point for its FLOPs, bytes and time.",
                   controls, [ui.graph("roofline-graph", 560), html.Div(id="roofline-summary-box"),
                              html.Div(id="roofline-table-box")])


def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS, [Output("roofline-graph", "figure"),
                                      Output("roofline-summary-box", "children"),
                                      Output("roofline-table-box", "children")],
                  compute, FALLBACK)
    register_url(app, NAME, FIELDS)
    register_options(app, NAME, {"model": "model", "chips": "chip"})
