"""Building blocks shared by every page: labelled inputs with an error line beside them,
graphs, formatted tables, messages.

Component ids are ``<page>-<field key>`` for an input and ``<page>-<field key>-error`` for
the message beside it, so the URL state (:mod:`roofline.dashboard.state`) and the
callbacks (:mod:`roofline.dashboard.wiring`) can find them from the field declarations.
Cell text comes from :func:`roofline.formatting.value`: a missing value prints ``-``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from dash import dcc, html

from roofline.dashboard import fields as F
from roofline.dashboard.catalog import options
from roofline.dashboard.state import Field
from roofline.formatting import value as format_value

#: Column headings for engine column names (the unit is in the formatted cell).
LABELS: dict[str, str] = {
    "chip": "chip", "model": "model", "fits": "fits", "ok": "ok", "reason": "reason",
    "note": "note", "tp": "tp", "pp": "pp", "ep": "ep", "dp": "dp", "cp": "cp",
    "zero": "ZeRO", "micro_batch": "micro-batch", "replicas": "replicas",
    "chips_per_replica": "chips / replica", "chips_needed": "chips needed",
    "ttft_s": "TTFT", "tpot_s": "TPOT", "e2e_s": "end to end",
    "decode_tokens_per_s": "decode tok/s", "output_tokens_per_s": "output tok/s",
    "tokens_per_s_per_chip": "tok/s per chip", "memory_bytes": "memory / device",
    "memory_fraction": "of capacity", "weights_bytes": "weights", "kv_cache_bytes": "KV cache",
    "activation_bytes": "activations", "reserve_bytes": "reserve",
    "gradients_bytes": "gradients", "optimizer_bytes": "optimizer",
    "usd_per_m_input_tokens": "$ / 1M input tok", "usd_per_m_output_tokens": "$ / 1M output tok",
    "joules_per_output_token": "J / output tok", "usd_per_chip_hour": "$ / chip-hour",
    "decode_bound": "decode bound", "operator": "operator", "phase": "phase",
    "layers": "layers", "dtype": "dtype", "flops": "FLOPs", "bytes": "bytes",
    "intensity_flop_per_byte": "FLOP / byte", "compute_s": "compute", "memory_s": "memory",
    "time_s": "time", "bound": "bound", "rank": "rank", "chips": "chips",
    "name": "name", "vendor": "vendor", "display_name": "display name",
    "release_year": "year", "bf16_flops_per_s": "bf16 dense", "fp8_flops_per_s": "fp8 dense",
    "fp4_flops_per_s": "fp4 dense", "memory_bandwidth_bytes_per_s": "memory bandwidth",
    "ridge_point_bf16_flop_per_byte": "bf16 ridge (FLOP/B)",
    "scale_up_bytes_per_s": "scale-up / direction", "scale_up_domain": "scale-up domain",
    "tdp_w": "TDP (W)", "model_type": "type", "total_params": "parameters",
    "active_params": "active", "hidden_size": "hidden", "attention": "attention",
    "experts": "experts", "experts_per_token": "experts / token",
    "max_position_embeddings": "context", "capacity_bytes": "capacity", "layout": "layout",
    "step_time_s": "step time", "mfu": "MFU", "total_time_s": "run time",
    "chip_hours": "chip-hours", "cost_usd": "run cost", "energy_kwh": "energy (kWh)",
    "recompute": "recompute", "prefill_bound": "prefill bound", "step_share": "share of step",
}


def cid(page: str, key: str) -> str:
    """Component id of a page's input."""
    return f"{page}-{key}"


def error_id(page: str, key: str) -> str:
    """Component id of the message beside a page's input."""
    return f"{page}-{key}-error"


#: Columns holding plain whole numbers (a year, a width), printed without separators.
PLAIN = frozenset({"release_year", "hidden_size", "layers", "experts", "experts_per_token",
                   "scale_up_domain", "batch", "tp", "pp", "ep", "dp", "cp", "zero", "rank",
                   "replicas", "chips", "chips_needed", "chips_per_replica", "micro_batch",
                   "records", "first_year", "last_year"})


def cell(column: str, v: Any) -> str:
    """One table cell as text (units from the column name; ``-`` when missing)."""
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, bool):
        return "yes" if v else "no"
    if (column in PLAIN and isinstance(v, int | float) and math.isfinite(v)
            and v == int(v)):
        return str(int(v))
    return format_value(column, v)


def field(page: str, f: Field, control: Any, help_text: str | None = None) -> html.Div:
    """A labelled input with its error line beside it."""
    parts: list[Any] = [html.Label(f.title, htmlFor=cid(page, f.key)), control]
    if help_text:
        parts.append(html.Small(help_text, className="help"))
    parts.append(html.Div(id=error_id(page, f.key), className="field-error", role="alert"))
    return html.Div(parts, className="field")


def number(page: str, f: Field, value: Any, help_text: str | None = None) -> html.Div:
    """A number input bounded by the field's range; commits after a short pause."""
    step = 1 if f.kind == "int" else "any"
    return field(page, f, dcc.Input(
        id=cid(page, f.key), type="number", value=value, min=f.lo, max=f.hi, step=step,
        debounce=0.4, placeholder="(none)" if f.optional else None, className="number"),
        help_text)


def dropdown(page: str, f: Field, value: Any, options: Sequence[Mapping[str, str]] | Sequence[str],
             *, multi: bool = False, help_text: str | None = None) -> html.Div:
    """A searchable dropdown (several values when ``multi``)."""
    opts = [o if isinstance(o, Mapping) else {"label": o, "value": o} for o in options]
    return field(page, f, dcc.Dropdown(
        id=cid(page, f.key), options=opts, value=value, multi=multi, clearable=multi,
        searchable=True), help_text)


def radio(page: str, f: Field, value: Any, options: Mapping[str, str],
          help_text: str | None = None) -> html.Div:
    """Radio buttons: ``options`` maps values to labels."""
    return field(page, f, dcc.RadioItems(
        id=cid(page, f.key), value=value, inline=True, className="radio",
        options=[{"label": label, "value": v} for v, label in options.items()]), help_text)


def graph(graph_id: str, height: int = 520) -> dcc.Graph:
    """An empty graph filled by a callback."""
    return dcc.Graph(id=graph_id, style={"height": f"{height}px"},
                     config={"displaylogo": False, "responsive": True})


def form(page: str, controls: Sequence[Any]) -> html.Div:
    """The inputs column, with the page-level message (engine errors) on top."""
    return html.Div([html.Div(id=f"{page}-message", className="form-message", role="alert"),
                     *controls], className="controls")


def mounted_id(page: str) -> str:
    """Id of a page's marker that exists exactly while the page is shown."""
    return f"{page}-mounted"


def mounted(page: str) -> dcc.Store:
    """The page's marker: callbacks that read only the shell (the user's specs) but write
    into the page take it as an input, so that they run when the page is inserted (Dash
    runs a callback on insertion only when one of its inputs arrives with the page)."""
    return dcc.Store(id=mounted_id(page), data=True)


def results_id(page: str) -> str:
    """Id of the box holding a page's results (greyed while they are recomputed)."""
    return f"{page}-results"


def busy_id(page: str) -> str:
    """Id of a page's "computing" line (shown while its results are recomputed)."""
    return f"{page}-busy"


def busy(page: str) -> html.Div:
    """The "computing" line, hidden until a view callback runs (see
    :func:`roofline.dashboard.wiring.running_states`)."""
    return html.Div("computing…", id=busy_id(page), className="busy", role="status",
                    hidden=True)


def page(name: str, title: str, intro: str, controls: Any, results: Sequence[Any]
         ) -> html.Div:
    """A page: heading and one-line introduction, inputs on the left, results on the right
    (under a "computing" line shown while they are stale)."""
    return html.Div([mounted(name), html.H1(title), html.P(intro, className="intro"),
                     html.Div([controls, html.Div([busy(name), *results], id=results_id(name),
                                                  className="results")],
                              className="columns")])


def table(frame: pd.DataFrame, columns: Sequence[str], table_id: str | None = None,
          max_rows: int = 200, labels: Mapping[str, str] | None = None) -> html.Div:
    """A formatted table of ``columns`` (those present) of ``frame`` in a horizontally
    scrolling box; ``td`` elements carry ``data-column`` so tests can read a column.
    Headings come from ``labels``, then :data:`LABELS`."""
    cols = [c for c in columns if c in frame.columns]
    names = {**LABELS, **(labels or {})}
    head = html.Thead(html.Tr([html.Th(names.get(c, c.replace("_", " "))) for c in cols]))
    rows = [html.Tr([html.Td(cell(c, v), **{"data-column": c}) for c, v in
                     zip(cols, record, strict=True)])
            for record in frame[cols].head(max_rows).itertuples(index=False, name=None)]
    kwargs = {"id": table_id} if table_id else {}
    return html.Div(html.Table([head, html.Tbody(rows)], className="table", **kwargs),
                    className="scroll")


def facts(pairs: Sequence[tuple[str, str]], facts_id: str | None = None) -> html.Dl:
    """A short list of ``label: value`` lines (verdicts, headline numbers)."""
    kwargs = {"id": facts_id} if facts_id else {}
    return html.Dl([item for k, v in pairs for item in (html.Dt(k), html.Dd(v))],
                   className="facts", **kwargs)


def assumptions(notes: Mapping[str, Any]) -> html.Details:
    """The engine's assumptions behind a result, folded away."""
    return html.Details([html.Summary("assumptions"),
                         html.Ul([html.Li([html.B(k), f": {_note(v)}"])
                                  for k, v in notes.items()])], className="assumptions")


def _note(v: Any) -> str:
    if isinstance(v, Mapping):
        return ", ".join(f"{k} {cell(str(k), x)}" for k, x in v.items())
    return str(v)


def purpose_visibility(purpose: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Styles showing the serving inputs and hiding the training ones, or the reverse."""
    shown, hidden = {}, {"display": "none"}
    return (shown, hidden) if purpose != "train" else (hidden, shown)


def comparison_controls(page: str, fields: Sequence[Field], values: Mapping[str, Any],
                        purposes: Mapping[str, str]) -> list[Any]:
    """Model, chips (several), purpose and precision: the controls every page that compares
    chips for serving or training opens with."""
    by_key = {f.key: f for f in fields}
    v = values
    return [
        dropdown(page, by_key["model"], v["model"], options("model", None, [v["model"]])),
        dropdown(page, by_key["chips"], v["chips"], options("chip", None, v["chips"]),
                 multi=True),
        radio(page, by_key["purpose"], v["purpose"], purposes),
        dropdown(page, by_key["precision"], v["precision"], F.PRECISIONS),
    ]
