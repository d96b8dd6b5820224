"""Timeline page: how fast models and chips have grown. The catalog's models by release
date (total and active parameters, training tokens, training compute) and its chips by
release year (dense 16-bit FLOP/s, memory capacity, memory bandwidth), each with the
engine's fitted growth per year (``roofline.timeline``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
from dash import Output, html

import roofline
from roofline.dashboard import components as ui
from roofline.dashboard.state import Field, check
from roofline.dashboard.wiring import View, register_url, register_view
from roofline.specs.catalog import chips as catalog_chips
from roofline.specs.catalog import models as catalog_models
from roofline.views.plots import empty_figure
from roofline.views.timeline import timeline_figure

NAME = "timeline"
PATH = "/timeline"
TITLE = "Timeline"
VENDORS: tuple[str, ...] = tuple(sorted({c.vendor for c in catalog_chips()}))
RUMOURS = {"show": "include rumoured models (GPT-4)", "hide": "published figures only"}
MEMORIES = {"hbm": "datacenter accelerators (HBM)", "all": "every chip (CPUs, consumer cards)"}
FIELDS: tuple[Field, ...] = (
    Field("vendors", "list", [], "chip vendors (none chosen: all)", choices=VENDORS,
          optional=True),
    Field("rumoured", "str", "show", "rumoured models", choices=tuple(RUMOURS)),
    Field("memory", "str", "hbm", "chips", choices=tuple(MEMORIES)),
    Field("since", "int", 2015, "released since (year)", lo=1990, hi=2100),
)
MODEL_COLUMNS = ("display_name", "release_date", "total_params", "active_params",
                 "training_tokens", "training_flops", "training_flops_source",
                 "tokens_per_param")
CHIP_COLUMNS = ("display_name", "vendor", "release_year", "dense_16bit_flops_per_s",
                "memory_capacity_bytes", "memory_bandwidth_bytes_per_s", "memory_kind")
GROWTH_COLUMNS = ("label", "records", "first_year", "last_year", "factor_per_year",
                  "doubling_time_years")
LABELS = {"display_name": "name", "release_date": "released", "release_year": "year",
          "training_tokens": "training tokens", "training_flops": "training compute",
          "training_flops_source": "compute from", "tokens_per_param": "tokens / parameter",
          "dense_16bit_flops_per_s": "16-bit dense", "memory_capacity_bytes": "memory",
          "memory_bandwidth_bytes_per_s": "bandwidth", "memory_kind": "memory kind",
          "label": "measure",
          "first_year": "from", "last_year": "to", "factor_per_year": "x per year",
          "doubling_time_years": "doubles every (years)"}
FALLBACK: tuple[Any, ...] = (empty_figure("fix the inputs on the left"), "",
                             empty_figure(), "")


def _growth_table(result: roofline.TimelineResult, table_id: str) -> html.Div:
    g = result.growth().assign(first_year=lambda f: f["first_year"].round(),
                               last_year=lambda f: f["last_year"].round(),
                               factor_per_year=lambda f: f["factor_per_year"].round(2),
                               doubling_time_years=lambda f: f["doubling_time_years"].round(2))
    return ui.table(g, GROWTH_COLUMNS, table_id, labels=LABELS)


def compute(values: Mapping[str, Any], store: Any) -> View:
    """The models' and the chips' timelines (chips of the chosen vendors), their growth
    fits and their rows."""
    clean, errors = check(values, FIELDS)
    if errors:
        return View(FALLBACK, errors)
    since = clean["since"]
    shown = [m for m in catalog_models() if clean["rumoured"] == "show" or not m.rumoured]
    models = roofline.timeline("models", shown, since=since)
    chosen = set(clean["vendors"] or VENDORS)
    chips = roofline.timeline("chips", [c for c in catalog_chips() if c.vendor in chosen],
                              since=since, hbm_only=clean["memory"] == "hbm")
    rows = models.frame.assign(release_date=models.frame["release_date"].dt.strftime("%Y-%m-%d"))
    model_box = html.Div([html.H3("growth of the catalog's models"),
                          _growth_table(models, "timeline-models-growth"),
                          html.Details([html.Summary(f"{len(rows)} models with a public "
                                                     "release date"),
                                        ui.table(rows, MODEL_COLUMNS, "timeline-models",
                                                 labels=LABELS)]),
                          ui.assumptions(models.assumptions)])
    chip_box = html.Div([html.H3("growth of the catalog's chips"),
                         _growth_table(chips, "timeline-chips-growth"),
                         html.Details([html.Summary(f"{len(chips.frame)} chips"),
                                       ui.table(chips.frame, CHIP_COLUMNS, "timeline-chips",
                                                labels=LABELS)]),
                         ui.assumptions(chips.assumptions)])
    return View((timeline_figure(models), model_box, timeline_figure(chips), chip_box))


def layout(values: Mapping[str, Any]) -> html.Div:
    """The page with its inputs set to ``values``."""
    v = values
    controls = ui.form(NAME, [
        ui.dropdown(NAME, FIELDS[0], v["vendors"], VENDORS, multi=True),
        ui.radio(NAME, FIELDS[1], v["rumoured"], RUMOURS),
        ui.radio(NAME, FIELDS[2], v["memory"], MEMORIES),
        ui.number(NAME, FIELDS[3], v["since"]),
    ])
    return ui.page(NAME, TITLE, "How fast models and chips have grown: the catalog's models "
                   "by release date and its chips by release year, each measure on a log "
                   "scale with its fitted growth per year. Release dates and training tokens "
                   "are the sourced fields of the model YAML; a model without them is left "
                   "out or left blank, never guessed.", controls,
                   [ui.graph("timeline-models-graph", 760), html.Div(id="timeline-models-box"),
                    ui.graph("timeline-chips-graph", 760), html.Div(id="timeline-chips-box")])


def register(app: dash.Dash) -> None:
    register_view(app, NAME, FIELDS, [Output("timeline-models-graph", "figure"),
                                      Output("timeline-models-box", "children"),
                                      Output("timeline-chips-graph", "figure"),
                                      Output("timeline-chips-box", "children")],
                  compute, FALLBACK)
    register_url(app, NAME, FIELDS)
