"""The callbacks every page has, built from its field declarations.

- a *view* callback: the page's inputs (and the user's specs) -> its figures and tables,
  a message beside each invalid input, and a page-level message for engine errors. It
  calls a pure ``compute(values, store) -> View`` and turns any exception into a message
  (logged on the server), so a page never shows a traceback;
- a *URL* callback: inputs -> ``?query`` of the page's address, so a link reopens it
  (written in place: Back and Forward step through navigations, not keystrokes);
- *options* callbacks: the user's specs -> the chip and model dropdowns.

While a view callback runs, the page's results are greyed and a "computing" line is shown
(:func:`running_states`), so a stale verdict never passes for the current one.

Nothing here keeps state between requests: everything a callback needs arrives with it.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, html

from roofline.dashboard.catalog import SpecKind, options, resolve_chip, resolve_model
from roofline.dashboard.components import busy_id, cid, error_id, mounted_id, results_id
from roofline.dashboard.state import Field, check, to_query
from roofline.errors import SpecError
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

log = logging.getLogger("roofline.dashboard")

STORE_ID = "user-specs"
URL_ID = "url"
#: The shell's store of the query string a page's inputs make, and of the last one written.
QUERY_ID = "url-query"
QUERY_WRITTEN_ID = "url-query-written"


@dataclass(frozen=True)
class View:
    """What a page's view callback shows: one value per declared output, a message per
    invalid input (by field key), and a page-level message."""

    outputs: tuple[Any, ...]
    errors: Mapping[str, str] = field(default_factory=dict)
    message: Any = ""


Compute = Callable[[Mapping[str, Any], Any], View]


def training_available() -> bool:
    """Whether the training engine (``roofline.engine.training.run``) is part of this build."""
    return importlib.util.find_spec("roofline.engine.training.run") is not None


def training_missing() -> str:
    """What a training view says while the training engine is not part of this build."""
    return ("Training estimates need roofline.engine.training.run, which this build does not "
            "have yet; serving views work.")


def message_lines(text: str) -> list[html.Div]:
    """A (possibly multi-line) error message as page elements."""
    return [html.Div(line) for line in str(text).splitlines() if line.strip()]


def run_view(compute: Compute, values: Mapping[str, Any], store: Any,
             fallback: tuple[Any, ...]) -> View:
    """``compute(values, store)``, with every error shown as a message instead of raised.

    :class:`SpecError` and ``ValueError`` (bad input the engine rejected) are shown as they
    are; anything else is logged with its traceback on the server and shown in one line.
    """
    try:
        return compute(values, store)
    except SpecError as e:
        return View(fallback, {}, message_lines(str(e)))
    except ValueError as e:
        return View(fallback, {}, message_lines(f"invalid input: {e}"))
    except Exception as e:  # never a traceback in the page
        log.exception("dashboard callback failed for %s", dict(values))
        return View(fallback, {}, f"internal error ({type(e).__name__}); it is logged on the "
                                  "server")


def figure_or_message(build: Callable[..., Any], *args: Any) -> Any:
    """``build(*args)`` (a figure), or an empty figure saying what went wrong: the input
    error, or that an unexpected one was logged on the server."""
    from roofline.views.plots import empty_figure

    try:
        return build(*args)
    except (SpecError, ValueError) as e:
        return empty_figure(str(e).splitlines()[0][:200])
    except Exception as e:  # never a traceback in the page
        log.exception("dashboard figure failed: %s", build.__name__)
        return empty_figure(f"internal error ({type(e).__name__}); it is logged on the server")


def resolve(values: Mapping[str, Any], store: Any, kinds: Mapping[str, SpecKind]
            ) -> tuple[dict[str, Any], dict[str, str]]:
    """Resolve the chip/model fields named in ``kinds`` (a field holding a list resolves
    item by item) to specs; returns (specs by field, message by field)."""
    specs: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, kind in kinds.items():
        ref = values.get(key)
        get: Callable[[Any, Any], Chip | ModelSpec] = (resolve_chip if kind == "chip"
                                                       else resolve_model)
        try:
            specs[key] = ([get(r, store) for r in ref] if isinstance(ref, list)
                          else get(ref, store))
        except SpecError as e:
            errors[key] = str(e)
    return specs, errors


def purpose_inputs(values: Mapping[str, Any], store: Any, fields: Sequence[Field],
                   serve_keys: Sequence[str], train_keys: Sequence[str]
                   ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Check the inputs of a page with a serving/training switch (only those of the chosen
    purpose) and resolve its ``model`` and ``chips``: (clean values, specs, errors)."""
    skip = train_keys if values.get("purpose") == "serve" else serve_keys
    clean, errors = check(values, tuple(f for f in fields if f.key not in skip))
    specs, spec_errors = resolve(clean, store, {"model": "model", "chips": "chip"})
    return clean, specs, errors | spec_errors


def running_states(page: str) -> list[tuple[Output, Any, Any]]:
    """Dash ``running=`` states of a page's view callback: while it computes, the page's
    results are greyed (class ``stale``, which also blocks clicks on stale rows) and its
    "computing" line is shown; both revert when the new answer arrives."""
    return [(Output(results_id(page), "className"), "results stale", "results"),
            (Output(busy_id(page), "hidden"), False, True)]


def register_view(app: dash.Dash, page: str, fields: Sequence[Field], outputs: Sequence[Output],
                  compute: Compute, fallback: tuple[Any, ...], *, busy: bool = True) -> None:
    """Register the page's view callback (see the module docstring); with ``busy`` (pages
    built by :func:`roofline.dashboard.components.page`) it shows progress while running."""
    keys = [f.key for f in fields]

    @app.callback(
        [*outputs, *[Output(error_id(page, k), "children") for k in keys],
         Output(f"{page}-message", "children")],
        [*[Input(cid(page, f.key), f.prop) for f in fields], Input(STORE_ID, "data")],
        running=running_states(page) if busy else None,
    )
    def _view(*args: Any) -> tuple[Any, ...]:
        values, store = dict(zip(keys, args[:-1], strict=True)), args[-1]
        view = run_view(compute, values, store, fallback)
        return (*view.outputs, *[view.errors.get(k, "") for k in keys], view.message)


def register_url(app: dash.Dash, page: str, fields: Sequence[Field]) -> None:
    """Register the callback writing the page's inputs to the address bar.

    The query string goes to the shell's :data:`QUERY_ID` store, and a clientside function
    (``assets/history.js``) puts it in the address bar with ``history.replaceState``: a
    changed input edits the current history entry instead of adding one, and the address
    bar's ``search`` (an input of the router) only changes on a navigation (a link, Back
    or Forward), which re-renders the page from it."""
    keys = [f.key for f in fields]

    @app.callback(Output(QUERY_ID, "data", allow_duplicate=True),
                  [Input(cid(page, f.key), f.prop) for f in fields], prevent_initial_call=True)
    def _url(*args: Any) -> dict[str, str]:
        return {"page": page, "query": to_query(dict(zip(keys, args, strict=True)), fields)}


def register_history(app: dash.Dash) -> None:
    """Register the clientside function writing :data:`QUERY_ID` to the address bar."""
    app.clientside_callback(ClientsideFunction("roofline", "writeQuery"),
                            Output(QUERY_WRITTEN_ID, "data"), Input(QUERY_ID, "data"))


def register_options(app: dash.Dash, page: str, dropdowns: Mapping[str, SpecKind]) -> None:
    """Register callbacks keeping the page's chip/model dropdowns in step with the user's
    specs (catalog first-class, the user's own marked "yours")."""
    for key, kind in dropdowns.items():
        def _options(store: Any, _mounted: Any, current: Any, kind: SpecKind = kind
                     ) -> list[dict[str, str]]:
            keep = current if isinstance(current, list) else [current]
            return options(kind, store, [str(v) for v in keep if v])

        app.callback(Output(cid(page, key), "options"), Input(STORE_ID, "data"),
                     Input(mounted_id(page), "data"), State(cid(page, key), "value"))(_options)


def figure_store_id(graph_id: str) -> str:
    """Id of the store a view callback sends ``graph_id``'s figure to (see
    :func:`register_kept_view`)."""
    return f"{graph_id}-figure"


def register_kept_view(app: dash.Dash, graph_id: str) -> None:
    """Show the figures sent to :func:`figure_store_id` in ``graph_id``, keeping the user's
    zoom and the traces hidden from the legend (``assets/keep_view.js``, in the browser)."""
    app.clientside_callback(ClientsideFunction("roofline", "keepView"),
                            Output(graph_id, "figure"), Input(figure_store_id(graph_id), "data"),
                            State(graph_id, "figure"))
