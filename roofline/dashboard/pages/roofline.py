"""Roofline page: attainable FLOP/s against arithmetic intensity for the chosen chips and
dtypes, with the scenario's operators on every chosen chip (prefill and decode) as points;
click a point for its operators' figures."""

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
from roofline.engine.serving.inference import InferenceResult
from roofline.errors import SpecError
from roofline.formatting import si
from roofline.views.plots import empty_figure
from roofline.views.roofline_compare import roofline_comparison_figure

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
#: The operator table: what every chip shares (the operators of one forward pass per
#: device), then each chip's time, bound and share of the step.
OP_COLUMNS = ("phase", "operator", "layers", "dtype", "flops", "bytes",
              "intensity_flop_per_byte")
PER_CHIP = {"time_s": "time", "bound": "bound", "step_share": "share"}
DETAIL_COLUMNS = (*OP_COLUMNS[1:], "compute_s", "memory_s", "time_s", "bound", "step_share")
SUMMARY_COLUMNS = ("chip", "fits", "memory_bytes", "capacity_bytes", "memory_fraction",
                   "ttft_s", "prefill_bound", "tpot_s", "decode_bound")
#: Keeps zoom and legend choices across updates (plotly's ``uirevision``).
UIREVISION = "roofline"
DETAILS_HINT = "Click a point for its operators' FLOPs, bytes, time, bound and share of the step."
FALLBACK: tuple[Any, ...] = (empty_figure("fix the inputs on the left"), "", "", "", None)


def _infer_each(model: Any, chips: list[Any], v: Mapping[str, Any]
                ) -> tuple[list[InferenceResult], dict[str, str]]:
    """One ``roofline.infer`` per chip; a chip the layout is impossible on (``tp`` beyond
    its scale-up domain) gets its message instead of a result."""
    results, failed, errors = [], {}, []
    for chip in chips:
        try:
            results.append(roofline.infer(model, chip, batch=v["batch"],
                                          prompt_len=v["prompt"], output_len=v["output"],
                                          precision=v["precision"], tp=v["tp"]))
        except SpecError as e:
            failed[chip.name] = "; ".join(p.message for p in e.problems)
            errors.append(e)
    if not results:  # said once when it is the same on every chip (a model's layout)
        if len(set(failed.values())) == 1:
            raise errors[0]
        raise SpecError("; ".join(f"{k}: {m}" for k, m in failed.items()))
    return results, failed


def warnings(results: list[InferenceResult], failed: Mapping[str, str]) -> list[html.Div]:
    """A line per chip the scenario does not fit in memory (the engine's numbers), and per
    chip it cannot run on at all."""
    lines = []
    for row in results:  # a single scenario each: read cells without building a frame
        if not row["fits"]:
            lines.append(html.Div(
                f"Does not fit on {row['chip']} x {int(row['tp'])} (tp): needs "
                f"{si(row['memory_bytes'], 'B')} per device, capacity "
                f"{si(row['capacity_bytes'], 'B')} ({row['memory_fraction']:.0%}). Its points "
                "show a scenario that cannot run; raise tp, lower the precision or the batch."))
    lines += [html.Div(f"Not drawn for {chip}: {msg}") for chip, msg in failed.items()]
    return lines


def compute(values: Mapping[str, Any], store: Any) -> View:
    """Roofline of ``values`` (page fields): ``infer`` on every chosen chip, all of them on
    one plot. Returns the figure, a warning per chip the scenario does not fit, a summary
    per chip, the per-operator table (per device), and clears the clicked point."""
    clean, errors = check(values, FIELDS)
    specs, spec_errors = resolve(clean, store, {"model": "model", "chips": "chip"})
    errors |= spec_errors
    if errors:
        return View(FALLBACK, errors)
    results, failed = _infer_each(specs["model"], specs["chips"], clean)
    mode = clean["mode"]
    fig = roofline_comparison_figure(results, dtypes=clean["dtypes"], mode=mode)
    fig.update_layout(uirevision=UIREVISION)
    rows = pd.DataFrame([{k: res[k] for k in SUMMARY_COLUMNS} for res in results])
    summary = html.Div([ui.table(rows, SUMMARY_COLUMNS, "roofline-summary"),
                        html.P(DETAILS_HINT, className="note")])
    ops, labels = operator_table(results, mode)
    table = html.Div([html.H3("operators per device (one forward pass, all layers)"),
                      ui.table(ops, list(ops.columns), "roofline-ops", labels=labels),
                      ui.assumptions(results[0].assumptions)])
    return View((fig, warnings(results, failed), summary, table, None))


def operator_table(results: list[InferenceResult], mode: str
                   ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Prefill then decode operators, with each chip's time, bound and share of the step
    side by side (columns ``<chip>:time_s``, ...), and headings for those columns. The
    operators (FLOPs, bytes per device) are the same on every chip: they depend on the
    model, the precision and the layout only."""
    frames = []
    for ph in ("prefill", "decode"):
        per_chip = [res.operators(ph, mode) for res in results]  # type: ignore[arg-type]
        part = per_chip[0][list(OP_COLUMNS[1:])].assign(phase=ph)
        for res, ops in zip(results, per_chip, strict=True):
            part = part.assign(**{f"{res.chip.name}:{k}": ops[k].to_numpy() for k in PER_CHIP})
        frames.append(part)
    table = pd.concat(frames, ignore_index=True)
    chip_cols = [f"{r.chip.name}:{k}" for r in results for k in PER_CHIP]
    labels = {f"{r.chip.name}:{k}": f"{r.chip.name} {label}" for r in results
              for k, label in PER_CHIP.items()}
    return table[[*OP_COLUMNS, *chip_cols]], labels


def details(click: Any) -> Any:
    """The clicked marker's operators (carried in its ``customdata``) as a table."""
    points = click.get("points") if isinstance(click, Mapping) else None
    data = points[0].get("customdata") if points and isinstance(points[0], Mapping) else None
    listed = data.get("operators") if isinstance(data, Mapping) else None
    ops = pd.DataFrame([o for o in listed if isinstance(o, Mapping)]
                       if isinstance(listed, list) else [])
    if ops.empty or not {"chip", "phase"} <= set(ops.columns):
        return ""
    n = len(ops)
    where = sorted(set(zip(ops["chip"], ops["phase"], strict=True)))
    title = (f"{where[0][0]}, {where[0][1]}: " if len(where) == 1 else "") + (
        f"{n} operator{'s' if n > 1 else ''} at this point")
    return html.Div([html.H3(title), ui.table(ops, ("chip", "phase", *DETAIL_COLUMNS),
                                              "roofline-details-table")],
                    className="details")


def layout(values: Mapping[str, Any]) -> html.Div:
    """The page with its inputs set to ``values``."""
    v = values
    controls = ui.form(NAME, [
        ui.dropdown(NAME, FIELDS[0], v["model"], options("model", None, [v["model"]])),
        ui.dropdown(NAME, FIELDS[1], v["chips"], options("chip", None, v["chips"]), multi=True,
                    help_text="each chip's roofs and operators, in its colour"),
        ui.dropdown(NAME, FIELDS[2], v["dtypes"], F.DTYPES, multi=True),
        ui.dropdown(NAME, FIELDS[3], v["precision"], F.PRECISIONS),
        *(ui.number(NAME, f, v[f.key]) for f in FIELDS[4:8]),
        ui.radio(NAME, FIELDS[8], v["mode"], MODES),
    ])
    return ui.page(NAME, TITLE, "Where each operator of a forward pass sits under the roofs of the "
                   "chosen chips: left of a ridge point it is memory-bound, right of it "
                   "compute-bound. Colour is the chip, circles prefill, diamonds decode; hover "
                   "a point for its operators, click it for their figures.",
                   controls, [html.Div(id="roofline-warning", className="warning",
                                       role="alert"),
                              ui.graph("roofline-graph", 560),
                              dcc.Store(id=figure_store_id("roofline-graph")),
                              html.Div(id="roofline-details"),
                              html.Div(id="roofline-summary-box"),
                              html.Div(id="roofline-table-box")])


def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS, [Output(figure_store_id("roofline-graph"), "data"),
                                      Output("roofline-warning", "children"),
                                      Output("roofline-summary-box", "children"),
                                      Output("roofline-table-box", "children"),
                                      Output("roofline-graph", "clickData")],
                  compute, FALLBACK)
    register_kept_view(app, "roofline-graph")
    app.callback(Output("roofline-details", "children"),
                 Input("roofline-graph", "clickData"))(details)
    register_url(app, NAME, FIELDS)
    register_options(app, NAME, {"model": "model", "chips": "chip"})
