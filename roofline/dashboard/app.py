"""The roofline dashboard: a Dash app over the shipped catalogs and the engine.

``create_app()`` builds a fresh ``dash.Dash`` (no module-level app, no shared mutable
state: tests, benchmarks and WSGI workers each build their own); ``main()`` serves it.

Layout: a shell (address bar state, the user's specs in browser storage, navigation) and
one module per page under :mod:`roofline.dashboard.pages`. The address bar's path picks
the page and its query string sets the page's inputs, so a link reopens a view exactly.

Safe defaults: listens on 127.0.0.1, Flask debug off, ``--production`` serves through
waitress; every response carries security headers (see :func:`security_headers`).
Responses (assets, layout, callbacks) are compressed (flask-compress, through Dash's
``compress=True``) for clients that accept it: plotly.min.js drops from ~4.8 MB to ~1.5 MB.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
from dash import Input, Output, dcc, html
from dash.exceptions import DependencyException
from flask import Response

from roofline.dashboard.pages import PAGES
from roofline.dashboard.state import parse_query
from roofline.dashboard.wiring import (
    QUERY_ID,
    QUERY_WRITTEN_ID,
    STORE_ID,
    URL_ID,
    register_history,
    run_view,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
#: Largest request body accepted, bytes: a callback carries the user's specs (at most
#: 24 x 256 kB, in practice a few kB) plus the page's inputs.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
ASSETS = Path(__file__).resolve().parent / "assets"
log = logging.getLogger("roofline.dashboard")


def page_for(pathname: str | None) -> ModuleType | None:
    """The page module serving ``pathname`` ("/" is the roofline page), or None."""
    path = (pathname or "/").rstrip("/") or "/"
    if path == "/":
        return PAGES[0]
    return next((p for p in PAGES if path == p.PATH), None)


def nav(current: ModuleType | None) -> list[Any]:
    """Navigation links, the current page marked."""
    return [dcc.Link(p.TITLE, href=p.PATH, id=f"nav-{p.NAME}",
                     className="active" if p is current else "") for p in PAGES]


def render(pathname: str | None, search: str | None) -> tuple[Any, list[Any]]:
    """The page for ``pathname`` with its inputs read from ``search``, and the navigation."""
    # Both come from the client: anything but text (a tampered request) is no path.
    pathname = pathname if isinstance(pathname, str) else "?"
    search = search if isinstance(search, str) else None
    page = page_for(pathname)
    if page is None:
        body = html.Div([html.H1("Page not found"),
                         html.P(f"There is no page at {str(pathname)[:200]!r}; pick one above.")])
        return body, nav(None)
    return page.layout(parse_query(search, page.FIELDS)), nav(page)


def shell() -> html.Div:
    """What every page shares: URL, the user's specs (browser storage), header, content."""
    return html.Div([
        dcc.Location(id=URL_ID, refresh=False),
        dcc.Store(id=QUERY_ID), dcc.Store(id=QUERY_WRITTEN_ID),
        dcc.Store(id=STORE_ID, storage_type="local"),
        html.Header([dcc.Link("roofline", href="/", className="brand"),
                     html.Nav(nav(None), id="nav")], className="top"),
        html.Main(id="page"),
    ])


def security_headers(script_hashes: Sequence[str]) -> Mapping[str, str]:
    """Headers added to every response.

    The CSP allows scripts from the app's own origin plus Dash's one inline bootstrap
    script (by hash); inline styles are allowed because React and plotly.js set them.
    """
    csp = "; ".join([
        "default-src 'self'",
        "script-src 'self' " + " ".join(script_hashes),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin"}


def create_app() -> dash.Dash:
    """Build the dashboard: shell, page routing, every page's callbacks, headers."""
    app = dash.Dash(__name__, title="roofline", update_title=None, use_pages=False,
                    suppress_callback_exceptions=True, assets_folder=str(ASSETS),
                    serve_locally=True, compress=True,
                    # phones lay the page out at their own width, not a 980 px desktop
                    meta_tags=[{"name": "viewport",
                                "content": "width=device-width, initial-scale=1"}])
    app.layout = shell()
    # The page follows the address bar: a link, Back or Forward changes the path or the
    # query and the page is rebuilt from them (inputs write the query in place, without
    # changing ``search``: see wiring.register_url).
    app.callback(Output("page", "children"), Output("nav", "children"),
                 Input(URL_ID, "pathname"), Input(URL_ID, "search"))(render)
    register_history(app)
    for page in PAGES:
        page.register(app)
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    headers = security_headers(app.csp_hashes())

    @app.server.after_request
    def _secure(response: Response) -> Response:
        for k, v in headers.items():
            response.headers.setdefault(k, v)
        return response

    @app.server.errorhandler(DependencyException)
    def _unknown_asset(_: Exception) -> tuple[str, int]:
        # Dash raises this for a component-suite path it does not serve: a missing file,
        # not a server fault (no traceback, no detail in the response).
        return "not found", 404

    return app


def warm_up() -> None:
    """Build every page once with its default inputs, before the first visitor: the first
    call of each code path (plotly's validators, the engine's imports) is several times
    slower than the next ones. Pure: nothing is kept but Python's own import caches."""
    for page in PAGES:
        values = parse_query("", page.FIELDS)
        page.layout(values)
        run_view(page.compute, values, None, ())


def main(argv: Sequence[str] | None = None, *, app: dash.Dash | None = None) -> None:
    """Serve the dashboard; ``app`` reuses an already built one (as ``app.py`` does)."""
    parser = argparse.ArgumentParser(prog="roofline serve", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="bind address (default %(default)s; 0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument("--production", action="store_true",
                        help="serve with waitress (a production WSGI server) instead of "
                             "Flask's development server")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s "
                        "%(message)s")
    app = app or create_app()
    warm_up()
    if args.production:
        from waitress import serve

        log.info("roofline dashboard (waitress) on http://%s:%s/", args.host, args.port)
        serve(app.server, host=args.host, port=args.port, threads=8)
        return
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
