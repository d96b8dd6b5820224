"""Memory page: what one device holds (weights, KV cache, activations, gradients,
optimizer states, runtime reserve) against its capacity, per chip, for serving a given
layout or for the training layout the engine finds on a cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, html

import roofline
from roofline.dashboard import components as ui
from roofline.dashboard import fields as F
from roofline.dashboard.state import Field
from roofline.dashboard.wiring import (
    View,
    message_lines,
    purpose_inputs,
    register_options,
    register_url,
    register_view,
    training_available,
    training_missing,
)
from roofline.errors import SpecError
from roofline.views.plots import MemoryBar, empty_figure, memory_bars, memory_figure

NAME = "memory"
PATH = "/memory"
TITLE = "Memory"
PURPOSES = {"serve": "serving", "train": "training"}
FIELDS: tuple[Field, ...] = (F.MODEL, F.CHIPS, F.PURPOSE, F.PRECISION, F.BATCH, F.PROMPT,
                             F.OUTPUT, F.TP, F.PP, F.EP, F.COUNT, F.SEQ_LEN, F.GLOBAL_BATCH)
SERVE_KEYS = ("batch", "prompt", "output", "tp", "pp", "ep")
TRAIN_KEYS = ("count", "seq", "gbatch")
SERVE_COLUMNS = ("chip", "weights_bytes", "kv_cache_bytes", "activation_bytes", "reserve_bytes",
                 "memory_bytes", "memory_fraction", "fits", "max_batch", "max_context")
FALLBACK: tuple[Any, ...] = (empty_figure("fix the inputs on the left"), "")


def _serve(model: Any, chips: list[Any], v: Mapping[str, Any]) -> View:
    frames, notes = [], []
    for chip in chips:
        try:
            frames.append(roofline.infer(model, chip, batch=v["batch"], prompt_len=v["prompt"],
                                         output_len=v["output"], precision=v["precision"],
                                         tp=v["tp"], pp=v["pp"], ep=v["ep"]).frame)
        except SpecError as e:
            notes.append(f"{chip.name}: {e}")
    if not frames:
        return View(FALLBACK, {}, message_lines("\n".join(notes)))
    frame = pd.concat(frames, ignore_index=True)
    layout = f"tp={v['tp']}, pp={v['pp']}, ep={v['ep']}"
    fig = memory_figure(memory_bars(frame), title=f"{model.name} serving per device ({layout}, "
                        f"batch {v['batch']}, {v['prompt']}+{v['output']} tokens)")
    detail = html.Div([ui.table(frame, SERVE_COLUMNS, "memory-table"),
                       *[html.P(n, className="note") for n in notes]])
    return View((fig, detail))


def _train_bar(res: roofline.FitResult) -> MemoryBar:
    """The chosen training layout's memory, or the leanest layout's when none fits."""
    s = res.summary()
    cap = float(s["capacity_per_device_bytes"])
    if s["memory_per_device_bytes"]:
        lay = ", ".join(f"{k}={v}" for k, v in (s["layout"] or {}).items())
        return MemoryBar(s["chip"], s["memory_per_device_bytes"], cap, lay)
    table = res.layouts
    if "memory_bytes" in table and not table.empty:
        lean = table.sort_values("memory_bytes").iloc[0]
        return MemoryBar(s["chip"], lean.to_dict(), cap, "does not fit (leanest layout)")
    return MemoryBar(s["chip"], {}, cap, "no valid layout")


def _train(model: Any, chips: list[Any], v: Mapping[str, Any]) -> View:
    if not training_available():
        return View((empty_figure("training estimates are not available yet"), ""), {},
                    training_missing())
    bars, rows = [], []
    for chip in chips:
        res = roofline.fit(model, chip, v["count"], "train", precision=v["precision"],
                           seq_len=v["seq"], global_batch=v["gbatch"])
        bars.append(_train_bar(res))
        rows.append({"chip": chip.name, "fits": res.fits, "reason": res.reason})
    where = f"{v['count']} chips" if v["count"] else "the fewest chips that fit"
    fig = memory_figure(bars, title=f"{model.name} training per device on {where} "
                        f"(global batch {v['gbatch']} x {v['seq']} tokens)")
    return View((fig, ui.table(pd.DataFrame(rows), ("chip", "fits", "reason"), "memory-table")))


def compute(values: Mapping[str, Any], store: Any) -> View:
    """Memory per device for every chosen chip: serving (the given tp/pp/ep layout) or
    training (the layout ``roofline.fit(..., purpose="train")`` picks)."""
    clean, specs, errors = purpose_inputs(values, store, FIELDS, SERVE_KEYS, TRAIN_KEYS)
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
        html.Div([ui.number(NAME, by_key[k], v[k]) for k in SERVE_KEYS], id="memory-serve"),
        html.Div([ui.number(NAME, by_key["count"], v["count"],
                            "empty: the fewest chips that fit"),
                  ui.number(NAME, by_key["seq"], v["seq"]),
                  ui.number(NAME, by_key["gbatch"], v["gbatch"])], id="memory-train"),
    ])
    return ui.page(NAME, TITLE, "Memory on one device, part by part, against its capacity (the "
                   "black mark). Serving uses the tp/pp/ep layout given; training the layout "
                   "the engine finds on the cluster.", controls,
                   [ui.graph("memory-graph", 520), html.Div(id="memory-detail")])



def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS, [Output("memory-graph", "figure"),
                                      Output("memory-detail", "children")], compute, FALLBACK)
    register_url(app, NAME, FIELDS)
    register_options(app, NAME, {"model": "model", "chips": "chip"})
    app.callback(Output("memory-serve", "style"), Output("memory-train", "style"),
                 Input(ui.cid(NAME, "purpose"), "value"))(ui.purpose_visibility)
