"""A minimal Dash dashboard over the chip and model catalogs.

`create_app()` builds a fresh `dash.Dash` instance (no module-level app and no shared
mutable state, so tests and WSGI servers may each build their own); `main()` is the
command-line entry point used by `python app.py` and `./dev serve`.
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Sequence
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, dcc, html

import roofline

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050

_SI_PREFIXES = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))

# The columns shown when the catalog has them (all columns are shown otherwise).
CHIP_COLUMNS = (
    "name",
    "vendor",
    "display_name",
    "release_year",
    "bf16_flops_per_s",
    "fp8_flops_per_s",
    "memory_bytes",
    "memory_bandwidth_bytes_per_s",
    "ridge_point_bf16_flop_per_byte",
    "scale_up_domain",
    "tdp_w",
    "usd_per_chip_hour",
)
MODEL_COLUMNS = (
    "name",
    "display_name",
    "model_type",
    "total_params",
    "active_params",
    "layers",
    "hidden_size",
    "attention",
    "experts",
    "experts_per_token",
    "max_position_embeddings",
)

_CELL_STYLE = {"padding": "4px 10px", "borderBottom": "1px solid #ddd", "textAlign": "left"}
_NAME_STYLE = {**_CELL_STYLE, "whiteSpace": "nowrap"}
_NUMBER_STYLE = {**_NAME_STYLE, "textAlign": "right", "fontVariantNumeric": "tabular-nums"}


def _style(index: int, numeric: bool) -> dict[str, str]:
    """Names (the first column) and numbers never wrap; free text may."""
    return _NUMBER_STYLE if numeric else _NAME_STYLE if index == 0 else _CELL_STYLE


def _si(value: float) -> str:
    """989.4e12 -> '989.4T', 80e9 -> '80G'; small values as 4 significant digits."""
    for scale, prefix in _SI_PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.4g}{prefix}"
    return f"{value:.4g}"


def _text(value: Any, large: bool) -> str:
    """Display text for one cell; `large` columns (FLOP/s, bytes, params) get SI prefixes."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return _si(float(value)) if large else str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return ""
        if large:
            return _si(value)
        return str(int(value)) if value.is_integer() else f"{value:.4g}"
    return str(value)


def _name_column(frame: pd.DataFrame) -> str:
    if "name" in frame.columns or frame.columns.empty:
        return "name"
    return str(frame.columns[0])


def _is_large_numeric(series: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    largest = series.abs().max(skipna=True)
    return bool(pd.notna(largest) and largest >= 1e6)


def _prepare(
    frame: pd.DataFrame, preferred: Sequence[str]
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[bool, ...]]:
    """Column names (name column first), rows of display text, and per-column numeric flags."""
    frame = frame.rename(columns=str)
    name = _name_column(frame)
    if name not in frame.columns:  # an empty catalog: a DataFrame without columns
        frame = frame.assign(**{name: pd.Series(dtype=object)})
    shown = [c for c in preferred if c in frame.columns and c != name]
    if not shown:
        shown = [c for c in frame.columns if c != name]
    columns = (name, *shown)
    frame = frame[list(columns)]
    numeric = tuple(
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in columns
    )
    large = tuple(_is_large_numeric(frame[c]) for c in columns)
    rows = tuple(
        tuple(_text(v, big) for v, big in zip(record, large, strict=True))
        for record in frame.itertuples(index=False, name=None)
    )
    return columns, rows, numeric


def _body(columns: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]):
    return [
        html.Tr(
            [
                html.Td(text, style=_style(i, num), **{"data-column": col})
                for i, (col, text, num) in enumerate(zip(columns, row, numeric, strict=True))
            ]
        )
        for row in rows
    ]


def _table(table_id: str, columns: Sequence[str], numeric: Sequence[bool]) -> html.Table:
    head = html.Thead(
        html.Tr(
            [
                html.Th(col, style={**_style(i, num), "fontWeight": 600})
                for i, (col, num) in enumerate(zip(columns, numeric, strict=True))
            ]
        )
    )
    return html.Table(
        [head, html.Tbody(id=f"{table_id}-body")],
        id=table_id,
        style={"borderCollapse": "collapse", "fontSize": "14px", "marginBottom": "24px"},
    )


def _matching(rows: Sequence[Sequence[str]], text: str | None) -> list[Sequence[str]]:
    needle = (text or "").strip().lower()
    return [row for row in rows if needle in row[0].lower()]


def create_app(chips: pd.DataFrame | None = None, models: pd.DataFrame | None = None) -> dash.Dash:
    """Build the dashboard. `chips`/`models` default to the shipped catalogs."""
    chips = roofline.list_chips() if chips is None else chips
    models = roofline.list_models() if models is None else models
    chip_cols, chip_rows, chip_num = _prepare(chips, CHIP_COLUMNS)
    model_cols, model_rows, model_num = _prepare(models, MODEL_COLUMNS)

    app = dash.Dash(__name__, title="roofline", update_title=None)
    app.layout = html.Div(
        style={"margin": "0 auto", "padding": "16px", "fontFamily": "system-ui, sans-serif"},
        children=[
            html.H1("roofline"),
            html.P("Analytical roofline calculator for LLM serving and training cost."),
            html.Label(
                [
                    "Filter by name: ",
                    dcc.Input(
                        id="catalog-filter",
                        type="text",
                        value="",
                        placeholder="e.g. h100, llama",
                        debounce=False,
                        style={"width": "20em", "display": "inline-block"},
                    ),
                ],
                htmlFor="catalog-filter",
            ),
            html.H2(["Chips ", html.Small(id="chips-count")]),
            html.Div(_table("chips-table", chip_cols, chip_num), style={"overflowX": "auto"}),
            html.H2(["Models ", html.Small(id="models-count")]),
            html.Div(_table("models-table", model_cols, model_num), style={"overflowX": "auto"}),
        ],
    )

    @app.callback(
        Output("chips-table-body", "children"),
        Output("models-table-body", "children"),
        Output("chips-count", "children"),
        Output("models-count", "children"),
        Input("catalog-filter", "value"),
    )
    def _apply_filter(text: str | None):
        chips_shown = _matching(chip_rows, text)
        models_shown = _matching(model_rows, text)
        return (
            _body(chip_cols, chips_shown, chip_num),
            _body(model_cols, models_shown, model_num),
            f"({len(chips_shown)} of {len(chip_rows)})",
            f"({len(models_shown)} of {len(model_rows)})",
        )

    return app


def main(argv: Sequence[str] | None = None, *, app: dash.Dash | None = None) -> None:
    """Serve the dashboard; `app` reuses an already built one (as `app.py` does)."""
    parser = argparse.ArgumentParser(prog="roofline-dashboard", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument(
        "--production",
        action="store_true",
        help="serve with waitress (if installed) instead of Flask's development server",
    )
    args = parser.parse_args(argv)

    if app is None:
        app = create_app()
    if args.production:
        try:
            from waitress import serve
        except ImportError:
            print(
                "waitress is not installed (pip install waitress); "
                "falling back to Flask's development server"
            )
        else:
            print(f"roofline dashboard (waitress) on http://{args.host}:{args.port}/")
            serve(app.server, host=args.host, port=args.port)
            return
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
