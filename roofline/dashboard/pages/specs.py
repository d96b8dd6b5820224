"""Specs page: browse the shipped catalog; paste or upload a chip or model YAML or a HF
config.json, validated by the real loaders, and use it at once on every page.

The user's specs live in their browser (``localStorage``), so they survive a reload and
never touch the server's disk; each can be downloaded as YAML or removed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import dash
import pandas as pd
from dash import ALL, Input, Output, State, ctx, dcc, html

from roofline.dashboard import components as ui
from roofline.dashboard.catalog import (
    INPUT_KINDS,
    MAX_SPEC_BYTES,
    add_user_spec,
    parse_user_spec,
    remove_user_spec,
    spec_yaml,
    user_specs,
)
from roofline.dashboard.state import Field, check
from roofline.dashboard.wiring import STORE_ID, View, message_lines, register_url, register_view
from roofline.errors import SpecError
from roofline.specs import catalog
from roofline.specs.catalog import list_chips, list_models

NAME = "specs"
PATH = "/specs"
TITLE = "Specs"
KINDS = {"auto": "detect", "chip": "chip YAML", "model": "model YAML", "hf": "HF config.json"}
assert tuple(KINDS) == INPUT_KINDS
FIELDS: tuple[Field, ...] = (
    Field("q", "str", "", "filter by name", optional=True),
    Field("kind", "str", "auto", "read as", choices=INPUT_KINDS),
)
CHIP_COLUMNS = ("name", "vendor", "display_name", "release_year", "bf16_flops_per_s",
                "fp8_flops_per_s", "fp4_flops_per_s", "memory_bytes",
                "memory_bandwidth_bytes_per_s", "ridge_point_bf16_flop_per_byte",
                "scale_up_bytes_per_s", "scale_up_domain", "tdp_w", "usd_per_chip_hour")
MODEL_COLUMNS = ("name", "display_name", "model_type", "total_params", "active_params",
                 "layers", "hidden_size", "attention", "experts", "experts_per_token",
                 "max_position_embeddings")


def _matching(frame: pd.DataFrame, q: str, columns: tuple[str, ...]) -> pd.DataFrame:
    needle = q.strip().lower()
    if not needle:
        return frame
    text = frame[[c for c in columns if c in frame]].astype(str).agg(" ".join, axis=1)
    return frame[text.str.lower().str.contains(needle, regex=False)]


def compute(values: Mapping[str, Any], store: Any) -> View:
    """The catalog tables, filtered by ``q`` (name, alias, vendor, display name, type)."""
    clean, errors = check(values, FIELDS[:1])
    q = clean["q"] or ""
    chips = _matching(list_chips(), q, ("name", "aliases", "vendor", "display_name"))
    models = _matching(list_models(), q, ("name", "aliases", "display_name", "model_type"))
    n_chips, n_models = len(catalog.chips()), len(catalog.models())
    return View((ui.table(chips, CHIP_COLUMNS, "chips-table"),
                 ui.table(models, MODEL_COLUMNS, "models-table"),
                 f"({len(chips)} of {n_chips})", f"({len(models)} of {n_models})"), errors)


def read_upload(contents: str, filename: str | None) -> str:
    """The text of a ``dcc.Upload`` data URL, size-limited; raises :class:`SpecError`."""
    source = f"<upload {filename or 'file'}>"
    _, _, b64 = (contents or "").partition(",")
    if len(b64) > MAX_SPEC_BYTES * 4 // 3 + 8:
        raise SpecError(f"the file is over {MAX_SPEC_BYTES // 1024} kB", source=source)
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise SpecError(f"could not read the upload ({e})", source=source) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"the file is over {MAX_SPEC_BYTES // 1024} kB", source=source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text ({e.reason} at byte {e.start})", source=source) from None


def add_spec(store: Any, text: str | None, kind: str | None, source: str
             ) -> tuple[dict[str, Any], str]:
    """Validate ``text`` and return the new store and what was added; raises
    :class:`SpecError` (with the loader's file/field/line message) when invalid."""
    spec_kind, spec, stored = parse_user_spec(text or "", kind or "auto", source)
    new = add_user_spec(store, spec_kind, spec.name, stored)
    return new, (f"added {spec_kind} {spec.name!r}: choose \"{spec.name} (yours)\" in the "
                 f"{spec_kind} lists of the other pages")


def on_add(n_clicks: int | None, contents: str | None, text: str | None, kind: str | None,
           filename: str | None, store: Any, trigger: str | None
           ) -> tuple[Any, Any, Any, Any]:
    """Add-button or upload -> (store, error beside the input, confirmation, textarea)."""
    keep = dash.no_update
    # Client data: anything but text (a tampered request) counts as nothing given.
    text, contents = (v if isinstance(v, str) else None for v in (text, contents))
    kind = kind if isinstance(kind, str) else "auto"
    filename = filename if isinstance(filename, str) else None
    try:
        if trigger == "specs-upload":
            if not contents:
                return keep, keep, keep, keep
            text = read_upload(contents, filename)
            new, done = add_spec(store, text, kind, f"<upload {filename or 'file'}>")
            return new, "", done, text
        if not n_clicks:
            return keep, keep, keep, keep
        new, done = add_spec(store, text, kind, "<pasted spec>")
        return new, "", done, keep
    except SpecError as e:
        uploaded = text if trigger == "specs-upload" and text else keep
        return keep, message_lines(str(e)), "", uploaded


def mine(store: Any) -> Any:
    """The user's specs, each with download and remove buttons."""
    specs = user_specs(store)
    rows = [html.Li([html.Code(name), f" ({kind}) ",
                     html.Button("download YAML", className="small",
                                 id={"type": "spec-download", "kind": kind, "name": name}),
                     html.Button("remove", className="small",
                                 id={"type": "spec-remove", "kind": kind, "name": name})])
            for kind, named in specs.items() for name in sorted(named)]
    return html.Ul(rows, id="specs-mine-list") if rows else html.P(
        "none yet: paste or upload one above", className="note")


def template(ref: str | None) -> str:
    """A catalog spec as YAML, to start a new one from (``chip:<name>`` / ``model:<name>``)."""
    kind, _, name = (ref if isinstance(ref, str) else "").partition(":")
    found = {"chip": {c.name: c for c in catalog.chips()},
             "model": {m.name: m for m in catalog.models()}}.get(kind, {}).get(name)
    return spec_yaml(found) if found is not None else ""


def download(store: Any, kind: str, name: str) -> dict[str, str] | None:
    """What the download button of the user's ``kind`` named ``name`` saves: its YAML as
    ``<name>.yaml`` (None when there is no such spec)."""
    text = user_specs(store).get(kind, {}).get(name)  # type: ignore[call-overload]
    if text is None:
        return None
    return {"content": text, "filename": f"{name}.yaml", "type": "text/yaml"}


def _clicked(store: Any) -> tuple[str, str] | None:
    """(kind, name) of the pattern-matched button that fired, if it was really clicked."""
    trig = ctx.triggered_id
    if not isinstance(trig, Mapping) or not any(t.get("value") for t in ctx.triggered):
        return None
    kind, name = str(trig.get("kind")), str(trig.get("name"))
    return (kind, name) if name in user_specs(store).get(kind, {}) else None  # type: ignore[call-overload]


def layout(values: Mapping[str, Any]) -> html.Div:
    """The page with its inputs set to ``values``."""
    q_field, kind_field = FIELDS
    templates = ([{"label": f"chip: {c.name}", "value": f"chip:{c.name}"}
                  for c in catalog.chips()] +
                 [{"label": f"model: {m.name}", "value": f"model:{m.name}"}
                  for m in catalog.models()])
    editor = html.Div([
        html.H2("Your specs"),
        html.P("Paste a chip or model YAML (format: docs/specs.md) or a Hugging Face "
               "config.json, or upload one (at most 256 kB). It is checked by the same "
               "loaders as the catalog and kept in this browser only.", className="intro"),
        ui.radio(NAME, kind_field, values["kind"], KINDS),
        html.Div([html.Label("start from a catalog spec", htmlFor="specs-template"),
                  dcc.Dropdown(id="specs-template", options=templates, value=None,
                               placeholder="(optional)")], className="field"),
        html.Div([html.Label("spec text", htmlFor="specs-text"),
                  dcc.Textarea(id="specs-text", value="", spellCheck=False,
                               className="spec-text", placeholder="name: my-chip\n..."),
                  html.Div(id="specs-text-error", className="field-error", role="alert")],
                 className="field"),
        html.Div([html.Button("Add", id="specs-add", className="primary"),
                  dcc.Upload(html.Button("Upload a file", className="secondary"),
                             id="specs-upload", max_size=MAX_SPEC_BYTES, multiple=False,
                             accept=".yaml,.yml,.json,application/json,text/yaml")],
                 className="buttons"),
        html.Div(id="specs-added", className="ok-message", role="status"),
        html.H3("kept in this browser"), html.Div(id="specs-mine"),
        dcc.Download(id="specs-download"),
    ], className="editor")
    browse = html.Div([
        html.H2("Catalog"),
        html.Div(id=f"{NAME}-message", className="form-message"),
        ui.field(NAME, q_field, dcc.Input(id=ui.cid(NAME, "q"), type="text",
                                          value=values["q"], debounce=0.3,
                                          placeholder="e.g. h100, llama, moe")),
        html.H3(["Chips ", html.Small(id="chips-count")]), html.Div(id="specs-chips",
                                                                   className="scroll"),
        html.H3(["Models ", html.Small(id="models-count")]), html.Div(id="specs-models",
                                                                    className="scroll"),
    ], className="browse")
    return html.Div([ui.mounted(NAME), html.H1(TITLE),
                     html.Div([editor, browse], className="columns specs")])


def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS[:1], [Output("specs-chips", "children"),
                                          Output("specs-models", "children"),
                                          Output("chips-count", "children"),
                                          Output("models-count", "children")],
                  compute, ("", "", "", ""), busy=False)
    register_url(app, NAME, FIELDS)

    @app.callback(Output(STORE_ID, "data"), Output("specs-text-error", "children"),
                  Output("specs-added", "children"),
                  Output("specs-text", "value", allow_duplicate=True),
                  Input("specs-add", "n_clicks"), Input("specs-upload", "contents"),
                  State("specs-text", "value"), State(ui.cid(NAME, "kind"), "value"),
                  State("specs-upload", "filename"), State(STORE_ID, "data"),
                  prevent_initial_call=True)
    def _add(n_clicks: int | None, contents: str | None, text: str | None, kind: str | None,
             filename: str | None, store: Any) -> tuple[Any, Any, Any, Any]:
        return on_add(n_clicks, contents, text, kind, filename, store, ctx.triggered_id)

    app.callback(Output("specs-mine", "children"), Input(STORE_ID, "data"),
                 Input(ui.mounted_id(NAME), "data"))(lambda store, _: mine(store))
    app.callback(Output("specs-text", "value"), Input("specs-template", "value"),
                 prevent_initial_call=True)(template)

    @app.callback(Output("specs-download", "data"),
                  Input({"type": "spec-download", "kind": ALL, "name": ALL}, "n_clicks"),
                  State(STORE_ID, "data"), prevent_initial_call=True)
    def _download(_: Any, store: Any) -> Any:
        hit = _clicked(store)
        return dash.no_update if hit is None else download(store, *hit)

    @app.callback(Output(STORE_ID, "data", allow_duplicate=True),
                  Input({"type": "spec-remove", "kind": ALL, "name": ALL}, "n_clicks"),
                  State(STORE_ID, "data"), prevent_initial_call=True)
    def _remove(_: Any, store: Any) -> Any:
        hit = _clicked(store)
        if hit is None:
            return dash.no_update
        return remove_user_spec(store, *hit)  # type: ignore[arg-type]

