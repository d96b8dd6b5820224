"""Dashboard v2 (issue 15) at the callback level: progress while computing, the fit
verdict and reason exactly as the CLI's ``fit`` gives them, the training headline, the
layout table's order and paging, and compressed responses."""

from __future__ import annotations

import gzip
import json
from typing import Any

import dash
import pytest

import roofline
from roofline import cli
from roofline.cli.parser import EXIT_DOES_NOT_FIT, EXIT_OK
from roofline.dashboard import app as dash_app
from roofline.dashboard import components as ui
from roofline.dashboard.pages import PAGES, fit
from roofline.dashboard.state import parse_query
from roofline.formatting import seconds, si, value
from tests.dash_payloads import DEPENDENCIES, callbacks, find_router, route
from tests.test_dashboard_callbacks import _column, find


def fit_values(**kw: Any) -> dict[str, Any]:
    return parse_query("", fit.FIELDS) | kw


@pytest.fixture(scope="module")
def app() -> Any:
    return dash_app.create_app()


@pytest.fixture(scope="module")
def client(app: Any) -> Any:
    return app.server.test_client()


# --- loading states ------------------------------------------------------------------------


def _running(dep: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``"id.property"`` -> (value while running, value after) of a callback's ``running``
    states, from the ``/_dash-dependencies`` entry the browser reads."""
    spec = dep.get("running") or {"running": {}, "runningOff": {}}
    return {k: (v, spec["runningOff"][k]) for k, v in spec["running"].items()}


def test_every_view_callback_greys_its_results_and_shows_progress(client):
    deps = {d["output"]: d for d in client.get(DEPENDENCIES).get_json()}
    for page in PAGES:
        if page.NAME == "specs":  # lists the catalog: no computation to wait for
            continue
        view = next(d for out, d in deps.items() if f"{page.NAME}-message.children" in out)
        assert _running(view) == {
            f"{ui.results_id(page.NAME)}.className": ("results stale", "results"),
            f"{ui.busy_id(page.NAME)}.hidden": (False, True)}
        tree = page.layout(parse_query("", page.FIELDS))
        box, busy = find(tree, ui.results_id(page.NAME)), find(tree, ui.busy_id(page.NAME))
        assert box is not None and box.className == "results"
        assert busy is not None and busy.hidden is True and busy.role == "status"
    curves = next(d for out, d in deps.items() if "cost-curve.figure" in out)
    assert _running(curves) == {"cost-curve.className": ("stale", ""),
                                "cost-by-batch.className": ("stale", "")}


def _ids(tree: Any) -> list[str]:
    """Every component id in a layout tree."""
    out: list[str] = []
    if isinstance(tree, list | tuple):
        for child in tree:
            out += _ids(child)
    elif isinstance(tree, dash.development.base_component.Component):
        if isinstance(getattr(tree, "id", None), str):
            out.append(tree.id)
        out += _ids(getattr(tree, "children", None))
    return out


def test_every_page_has_unique_component_ids():
    for page in PAGES:
        ids = _ids(page.layout(parse_query("", page.FIELDS)))
        assert len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1]


# --- verdict and reason, identical to the CLI -------------------------------------------


CASES = {
    # llama-3.1-70b fits 8 H100 in memory, but no layout reaches a 0.5 ms TPOT
    "target": (dict(model="llama-3.1-70b", chip="h100", count=8, tpot=0.5),
               ["llama-3.1-70b", "h100", "--count", "8", "--max-tpot-ms", "0.5"]),
    # gpt-4's weights (3.5 TB at bf16) exceed 8 x 80 GB
    "memory": (dict(model="gpt-4", chip="h100", count=8),
               ["gpt-4", "h100", "--count", "8"]),
    # fits: the reason names the layout and its memory
    None: (dict(model="llama-3.1-70b", chip="h100", count=8),
           ["llama-3.1-70b", "h100", "--count", "8"]),
}


@pytest.mark.parametrize("binding", list(CASES), ids=lambda b: str(b))
def test_fit_verdict_is_the_cli_verdict(binding, capsys):
    page_kw, argv = CASES[binding]
    values = fit_values(**page_kw)
    verdict = fit.compute(values, None).outputs[0]
    rc = cli.main(["fit", *argv, "--batch", str(values["batch"]), "--prompt-len",
                   str(values["prompt"]), "--output-len", str(values["output"]), "--json"])
    want = json.loads(capsys.readouterr().out)
    assert rc == (EXIT_OK if want["fits"] else EXIT_DOES_NOT_FIT)
    assert want["binding"] == binding
    assert find(verdict, "fit-reason").children == want["reason"]
    line = find(verdict, "fit-verdict-line")
    assert line.to_plotly_json()["props"]["data-binding"] == (binding or "fits")
    assert ("DOES NOT FIT" in line.children) == (not want["fits"])
    if binding:
        assert line.children.endswith(f"({fit.BINDINGS[binding]})")


def test_target_bound_reason_names_the_target_not_memory():
    res = roofline.fit("llama-3.1-70b", "h100", 8, max_tpot_s=0.5e-3)
    assert res.summary()["binding"] == "target"
    assert res.reason.startswith("no layout meets the targets: the fastest that fits in memory")
    assert "> target 0.5 ms" in res.reason and "per device >" not in res.reason
    # the layout it names is the fastest of those that fit in memory, with its TPOT
    fitting = res.layouts[res.layouts["valid"] & res.layouts["fits"]]
    best = fitting.sort_values("tpot_s", kind="stable").iloc[0]
    assert f"TPOT {best['tpot_s'] * 1e3:.1f} ms" in res.reason
    assert f"tp={int(best['tp'])}, pp={int(best['pp'])}" in res.reason


def test_memory_bound_when_kv_cache_overflows():
    # weights fit 8 x 80 GB, but batch 64 of 32k-token contexts overflow every layout
    res = roofline.fit("llama-3.1-70b", "h100", 8, batch=64, prompt_len=32768)
    s = res.summary()
    assert s["binding"] == "memory" and not s["fits"]
    assert res.reason.startswith("the leanest layout (") and "per device > 80 GB" in res.reason


# --- training headline ------------------------------------------------------------------


def test_training_headline_has_step_time_tokens_mfu_and_memory():
    values = fit_values(model="llama-3.1-8b", chip="h100", count=8, purpose="train",
                        seq=2048, gbatch=64)
    verdict = fit.compute(values, None).outputs[0]
    facts = find(verdict, "fit-facts").children
    pairs = dict(zip([d.children for d in facts[::2]], [d.children for d in facts[1::2]],
                     strict=True))
    res = roofline.fit("llama-3.1-8b", "h100", 8, "train", seq_len=2048, global_batch=64)
    exp = res.summary()["assumptions"]["expected"]
    assert pairs["step time"] == seconds(exp["step_time_s"])
    assert pairs["tokens/s"] == value("tokens_per_s", exp["tokens_per_s"])
    assert pairs["MFU"] == value("mfu", exp["mfu"]) and 0 < exp["mfu"] < 1
    mem = res.summary()["memory_per_device_bytes"]
    assert pairs["memory per device"].startswith(f"{si(sum(mem.values()), 'B')} of 80 GB: ")
    assert "TTFT" not in json.dumps(verdict.to_plotly_json(), default=str)


# --- layout table ------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["", "memory_bytes:desc", "memory_bytes:asc", "tp:desc",
                                  "tpot_s:asc"])
def test_rejected_layouts_always_last(sort):
    # batch 80 x 2,048 tokens: fewer ok layouts than a page (data-parallel attention
    # layouts, issue 17b, make most of batch 1's fit)
    values = fit_values(model="gpt-4", chip="h100", count=64, batch=80, prompt=2048, sort=sort)
    res = roofline.fit("gpt-4", "h100", 64, batch=values["batch"],
                       prompt_len=values["prompt"], output_len=values["output"])
    n_ok, n = int(res.layouts["ok"].sum()), len(res.layouts)
    assert 0 < n_ok < fit.ROWS_PER_PAGE < n - n_ok
    table, _ = fit.layout_table(res.layouts, sort, 1)
    ok = _column(table, "ok")
    assert ok == ["yes"] * n_ok + ["no"] * (fit.ROWS_PER_PAGE - n_ok)


def test_table_page_resets_when_inputs_change(client):
    assert fit.first_page("gpt-4", "h100", 64, 3) == 1
    assert fit.first_page("gpt-4", "h100", 64, 1) is dash.no_update  # already the first
    deps = callbacks(client)
    reset = next(cb for cb in deps if cb.output == "fit-page.value")
    assert reset.prevent_initial_call  # a shared link's ?page= is kept on load
    assert set(reset.inputs) == {(ui.cid("fit", f.key), f.prop) for f in fit.FIELDS
                                 if f.key != "page"}


# --- compression -------------------------------------------------------------------------


#: The plotly.js bundle dcc.Graph loads (the largest asset, ~4.8 MB uncompressed).
PLOTLY_JS = "/_dash-component-suites/plotly/package_data/plotly.min.js"


def test_assets_and_callbacks_are_gzipped(client):
    plain = client.get(PLOTLY_JS)
    packed = client.get(PLOTLY_JS, headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers  # only for clients that accept it
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(plain.data) > 4e6 and len(packed.data) < 2e6  # the 2 MB first visit
    home = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert home.headers["Content-Encoding"] == "gzip"
    assert home.headers["Content-Security-Policy"].startswith("default-src 'self'")
    router = find_router(callbacks(client))
    reply = client.post("/_dash-update-component", json=route(router, "/fit"),
                        headers={"Accept-Encoding": "gzip"})
    assert reply.status_code == 200 and reply.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(reply.data))
    assert "fit-verdict" in json.dumps(body["response"])


# --- history: Back and Forward restore the view in the address bar ---------------------


def test_the_page_follows_the_address_bar_and_inputs_edit_it_in_place(client):
    deps = client.get(DEPENDENCIES).get_json()
    router = next(d for d in deps if d["output"].startswith("..page.children"))
    assert [(i["id"], i["property"]) for i in router["inputs"]] == [("url", "pathname"),
                                                                     ("url", "search")]
    # No callback writes the address bar's search: inputs go to a store, and the browser
    # writes it in place (history.replaceState), so a keystroke adds no history entry.
    assert not [d for d in deps if "url.search" in d["output"]]
    writers = [d for d in deps if d["output"].startswith("url-query.data")]
    assert len(writers) == len(PAGES)
    write = next(d for d in deps if d["output"] == "url-query-written.data")
    assert write["clientside_function"] == {"namespace": "roofline", "function_name": "writeQuery"}
    # Back to a view: the router rebuilds the page with the inputs the query names.
    body, _ = dash_app.render("/roofline", "?batch=16&tp=2")
    assert find(body, "roofline-batch").value == 16 and find(body, "roofline-tp").value == 2
