"""Fit & layout page: will a model fit on N chips, for serving or training, in what layout,
and how few chips would do — with every candidate layout ranked, and the reason each
rejected one fails, in a sortable table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import pandas as pd
from dash import ALL, Input, Output, State, ctx, dcc, html

import roofline
from roofline.dashboard import components as ui
from roofline.dashboard import fields as F
from roofline.dashboard.catalog import options
from roofline.dashboard.state import Field, check
from roofline.dashboard.wiring import (
    View,
    register_options,
    register_url,
    register_view,
    resolve,
    training_available,
    training_missing,
)
from roofline.formatting import seconds, si, value
from roofline.views.plots import MemoryBar, empty_figure, memory_figure

NAME = "fit"
PATH = "/fit"
TITLE = "Fit & layout"
PURPOSES = {"serve": "serving", "train": "training"}
#: Layout table columns, in order, when the engine's table has them (serving or training).
LAYOUT_COLUMNS = ("rank", "ok", "tp", "pp", "dp", "cp", "ep", "micro_batch", "zero",
                  "recompute", "chips_per_replica", "replicas", "memory_bytes",
                  "memory_fraction", "ttft_s", "tpot_s", "step_time_s", "tokens_per_s_per_chip",
                  "mfu", "reason")
#: Layout rows per table page (every row is several page elements: pages keep it quick).
ROWS_PER_PAGE = 25
FIELDS: tuple[Field, ...] = (
    F.with_default(F.MODEL, "gpt-4"), F.CHIP, F.with_default(F.COUNT, 64), F.PURPOSE,
    F.PRECISION, F.with_default(F.BATCH, 1), F.with_default(F.PROMPT, 1024), F.OUTPUT,
    Field("tpot", "float", None, "TPOT target (ms)", lo=1e-3, hi=1e6, optional=True),
    F.SEQ_LEN, F.GLOBAL_BATCH,
    Field("sort", "str", "", "sort", optional=True, prop="data"),
    Field("page", "int", 1, "table page", lo=1, hi=1_000_000),
)
SERVE_KEYS = ("batch", "prompt", "output", "tpot")
TRAIN_KEYS = ("seq", "gbatch")
FALLBACK: tuple[Any, ...] = ("", empty_figure(), "", "")


#: Words for the engine's ``binding`` (what stops a search when nothing is acceptable).
BINDINGS = {"memory": "memory-bound", "target": "target-bound", "layout": "layout-bound"}


def expected_pairs(purpose: str, expected: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Headline figures of the chosen layout: TTFT, TPOT and decode tokens/s for serving;
    step time, tokens/s and MFU for training (as the engine reports them)."""
    if not expected:
        return []
    if purpose == "train":
        return [("step time", seconds(expected.get("step_time_s"))),
                ("tokens/s", value("tokens_per_s", expected.get("tokens_per_s"))),
                ("MFU", value("mfu", expected.get("mfu")))]
    return [("expected", f"TTFT {seconds(expected.get('ttft_s'))}, TPOT "
                         f"{seconds(expected.get('tpot_s'))}"),
            ("decode tokens/s", value("decode_tokens_per_s",
                                      expected.get("decode_tokens_per_s")))]


def _verdict(res: roofline.FitResult) -> html.Div:
    """The engine's verdict and reason as they are (the CLI's ``fit`` prints the same)."""
    s = res.summary()
    where = f"{s['count']} x {s['chip']}" if s["count"] else s["chip"]
    lay = s["layout"] or {}
    pairs = [("layout", ", ".join(f"{k}={v}" for k, v in lay.items()) or "-"),
             ("fewest chips that fit", "-" if s["min_chips"] is None else str(s["min_chips"]))]
    pairs += expected_pairs(s["purpose"], s["assumptions"].get("expected") or {})
    parts = s["memory_per_device_bytes"] or {}
    if parts:
        pairs.append(("memory per device", f"{si(sum(parts.values()), 'B')} of "
                      f"{si(s['capacity_per_device_bytes'], 'B')}: " + ", ".join(
                          f"{k} {si(v, 'B')}" for k, v in parts.items() if v)))
    binding = BINDINGS.get(s.get("binding") or "", "")
    return html.Div([
        html.Div(f"{s['model']} for {PURPOSES[s['purpose']]} on {where}: "
                 f"{'FITS' if s['fits'] else 'DOES NOT FIT'}"
                 + (f" ({binding})" if binding else ""), id="fit-verdict-line",
                 className="verdict " + ("ok" if s["fits"] else "bad"),
                 **{"data-binding": s.get("binding") or "fits"}),
        html.P(s["reason"], id="fit-reason"),
        ui.facts(pairs, "fit-facts"),
        ui.assumptions({k: v for k, v in s["assumptions"].items() if k != "expected"}),
    ])


def _memory(res: roofline.FitResult) -> Any:
    s = res.summary()
    if not s["memory_per_device_bytes"]:
        return empty_figure("nothing fits: see the reason above and the table below")
    bar = MemoryBar(f"{s['chip']}", s["memory_per_device_bytes"],
                    float(s["capacity_per_device_bytes"]))
    return memory_figure([bar], title="memory per device, chosen layout")


def parse_sort(sort: str | None) -> tuple[str, bool] | None:
    """``"tpot_s:desc"`` -> ("tpot_s", True); None for no sort or an unknown column."""
    column, _, direction = (sort if isinstance(sort, str) else "").partition(":")
    if column not in LAYOUT_COLUMNS:
        return None
    return column, direction == "desc"


def next_sort(current: str | None, column: str) -> str:
    """The sort after clicking ``column``'s heading: ascending, then descending, then
    ascending again; another column starts ascending."""
    now = parse_sort(current)
    if now is not None and now[0] == column and not now[1]:
        return f"{column}:desc"
    return f"{column}:asc"


def layout_table(layouts: pd.DataFrame, sort: str | None, page: int = 1
                 ) -> tuple[html.Table, str]:
    """One page of the ranked layouts, sorted by the raw values of ``sort`` ("col:asc" or
    "col:desc"; engine rank when empty) with the rejected ones always last, headings as sort
    buttons; and a line saying which rows are shown."""
    frame = layouts.reset_index(drop=True).assign(rank=lambda d: d.index + 1)
    if "ok" not in frame and {"valid", "fits"} <= set(frame.columns):
        frame["ok"] = frame["valid"] & frame["fits"]
    by = parse_sort(sort)
    if by is not None and by[0] in frame:
        frame = frame.sort_values(by[0], ascending=not by[1], na_position="last",
                                  kind="stable")
    if "ok" in frame:  # rejected layouts last whatever the sort (stable: order kept within)
        frame = frame.sort_values("ok", ascending=False, kind="stable")
    cols = [c for c in LAYOUT_COLUMNS if c in frame]
    pages = max(1, -(-len(frame) // ROWS_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = frame.iloc[(page - 1) * ROWS_PER_PAGE:page * ROWS_PER_PAGE]
    arrow = {c: "" for c in cols} | ({by[0]: " ▼" if by[1] else " ▲"} if by else {})
    head = html.Thead(html.Tr([html.Th(html.Button(
        ui.LABELS.get(c, c) + arrow[c], id={"type": "fit-sort-by", "column": c},
        className="sort", title=f"sort by {ui.LABELS.get(c, c)}")) for c in cols]))
    rows = [html.Tr([html.Td(ui.cell(c, v), **{"data-column": c}) for c, v in
                     zip(cols, rec, strict=True)], className="" if ok else "rejected")
            for rec, ok in zip(shown[cols].itertuples(index=False, name=None), shown["ok"],
                               strict=True)]
    n_ok = int(frame["ok"].sum()) if "ok" in frame else 0
    first = (page - 1) * ROWS_PER_PAGE + 1 if len(frame) else 0
    note = (f"{len(frame)} candidate layouts, {n_ok} acceptable; rows {first}-"
            f"{first + len(shown) - 1 if len(shown) else 0} (page {page} of {pages})")
    return html.Table([head, html.Tbody(rows)], className="table layouts",
                      id="fit-layouts"), note


def first_page(*args: Any) -> Any:
    """The table page after any other input (or the sort) changed: the first one, so a new
    answer opens on its best layouts (``args`` end with the current page)."""
    return dash.no_update if args[-1] == 1 else 1


def compute(values: Mapping[str, Any], store: Any) -> View:
    """``roofline.fit`` of the page's inputs: verdict, memory of the chosen layout, and the
    ranked layouts table."""
    purpose = values.get("purpose")
    skip = TRAIN_KEYS if purpose == "serve" else SERVE_KEYS
    active = tuple(f for f in FIELDS if f.key not in skip)
    clean, errors = check(values, active)
    specs, spec_errors = resolve(clean, store, {"model": "model", "chip": "chip"})
    errors |= spec_errors
    if errors:
        return View(FALLBACK, errors)
    if clean["purpose"] == "train" and not training_available():
        return View(FALLBACK, {}, training_missing())
    tpot = clean.get("tpot")
    res = roofline.fit(specs["model"], specs["chip"], clean["count"], clean["purpose"],
                       precision=clean["precision"], batch=clean.get("batch") or 1,
                       prompt_len=clean.get("prompt") or 1024,
                       output_len=clean.get("output") or 256,
                       seq_len=clean.get("seq") or 2048, global_batch=clean.get("gbatch"),
                       max_tpot_s=tpot / 1e3 if tpot else None)
    table, note = layout_table(res.layouts, clean["sort"], clean["page"])
    return View((_verdict(res), _memory(res), table, note))


def layout(values: Mapping[str, Any]) -> html.Div:
    """The page with its inputs set to ``values``."""
    v = values
    by_key = {f.key: f for f in FIELDS}
    controls = ui.form(NAME, [
        ui.dropdown(NAME, by_key["model"], v["model"], options("model", None, [v["model"]])),
        ui.dropdown(NAME, by_key["chip"], v["chip"], options("chip", None, [v["chip"]])),
        ui.number(NAME, by_key["count"], v["count"], "empty: the fewest chips that fit"),
        ui.radio(NAME, by_key["purpose"], v["purpose"], PURPOSES),
        ui.dropdown(NAME, by_key["precision"], v["precision"], F.PRECISIONS),
        html.Div([ui.number(NAME, by_key[k], v[k]) for k in SERVE_KEYS], id="fit-serve"),
        html.Div([ui.number(NAME, by_key[k], v[k]) for k in TRAIN_KEYS], id="fit-train"),
    ])
    return ui.page(NAME, TITLE, "The 1.76T question as a form: does the model fit on these chips, "
                   "in which layout, and how few chips would do? Click a column heading to "
                   "sort the candidate layouts.", controls, [
                       html.Div(id="fit-verdict"), ui.graph("fit-memory", 300),
                       html.H3("candidate layouts"), html.P(id="fit-table-note"),
                       dcc.Store(id=ui.cid(NAME, "sort"), data=v["sort"]),
                       html.Div(id=ui.error_id(NAME, "sort"), className="field-error"),
                       html.Div(id="fit-table", className="scroll"),
                       html.Div(ui.number(NAME, by_key["page"], v["page"]), className="pager")])



def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS, [
        Output("fit-verdict", "children"), Output("fit-memory", "figure"),
        Output("fit-table", "children"), Output("fit-table-note", "children")],
        compute, FALLBACK)
    register_url(app, NAME, FIELDS)
    register_options(app, NAME, {"model": "model", "chip": "chip"})
    app.callback(Output("fit-serve", "style"), Output("fit-train", "style"),
                 Input(ui.cid(NAME, "purpose"), "value"))(ui.purpose_visibility)

    app.callback(Output(ui.cid(NAME, "page"), "value"),
                 [Input(ui.cid(NAME, f.key), f.prop) for f in FIELDS if f.key != "page"],
                 State(ui.cid(NAME, "page"), "value"), prevent_initial_call=True)(first_page)

    @app.callback(Output(ui.cid(NAME, "sort"), "data"),
                  Input({"type": "fit-sort-by", "column": ALL}, "n_clicks"),
                  State(ui.cid(NAME, "sort"), "data"), prevent_initial_call=True)
    def _sort(_: Any, current: str | None) -> Any:
        clicked = ctx.triggered_id
        if not isinstance(clicked, Mapping) or not any(t.get("value") for t in ctx.triggered):
            return dash.no_update  # headings re-rendered, not clicked
        return next_sort(current, str(clicked.get("column")))
