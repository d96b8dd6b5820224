"""Dashboard callbacks as pure functions, without a browser: URL state, name resolution
(never a file path), user specs, every page's compute, error handling and the server's
safe defaults."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import dash
import plotly
import pytest
from dash.development.base_component import Component

import roofline
from roofline.dashboard import app as dash_app
from roofline.dashboard import catalog as cat
from roofline.dashboard.components import cell
from roofline.dashboard.pages import PAGES, cost, fit, memory, specs
from roofline.dashboard.pages import roofline as roofline_page
from roofline.dashboard.state import Field, check, parse_query, to_query
from roofline.dashboard.wiring import View, run_view, training_available
from roofline.errors import SpecError

DATA = Path(__file__).parent / "data"
BAD_YAML = "name: my-chip\nvendor: [unclosed\n"


def find(tree: Any, component_id: str) -> Component | None:
    """The component with ``component_id`` in a Dash layout tree."""
    if isinstance(tree, Component):
        if getattr(tree, "id", None) == component_id:
            return tree
        tree = getattr(tree, "children", None)
    if isinstance(tree, list | tuple):
        for child in tree:
            hit = find(child, component_id)
            if hit is not None:
                return hit
    elif isinstance(tree, Component):
        return find(tree, component_id)
    return None


def as_json(outputs: Any) -> str:
    return json.dumps(outputs, cls=plotly.utils.PlotlyJSONEncoder)


def defaults(page: Any) -> dict[str, Any]:
    return parse_query("", page.FIELDS)


# --- URL state --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.NAME)
def test_query_round_trip(page):
    values = defaults(page)
    for f in page.FIELDS:
        if f.kind == "int":
            values[f.key] = int(f.lo or 1) + 1
        elif f.kind == "list":
            values[f.key] = list(f.default)[:1] or ["x"]
        elif f.key == "sort":
            values[f.key] = "tpot_s:desc"
    assert parse_query(to_query(values, page.FIELDS), page.FIELDS) == values


def test_query_ignores_garbage_and_keeps_defaults():
    fields = roofline_page.FIELDS
    got = parse_query("?batch=abc&tp=1e999&chips=&model=" + "x" * 5000 + "&evil=1", fields)
    want = defaults(roofline_page)
    assert got["batch"] == want["batch"] and got["tp"] == want["tp"]
    assert got["model"] == want["model"]  # over-long values are ignored
    assert got["chips"] == []  # an explicit empty list stays empty (and shows an error)


def test_check_reports_each_bad_field():
    fields = (Field("n", "int", 1, "batch", lo=1, hi=10), Field("x", "float", None, "x",
                                                               optional=True),
              Field("c", "str", "a", "mode", choices=("a", "b")), Field("l", "list", ["a"]))
    clean, errors = check({"n": 2.5, "x": None, "c": "z", "l": []}, fields)
    assert set(errors) == {"n", "c", "l"}
    assert "whole number" in errors["n"]
    assert clean["x"] is None
    _, errors = check({"n": 11, "c": "a", "l": ["a"]}, fields)
    assert "between 1 and 10" in errors["n"]


# --- names, never paths -----------------------------------------------------------------


def test_resolution_by_catalog_name_or_alias():
    assert cat.resolve_chip("h100").name == "nvidia-h100-sxm"
    assert cat.resolve_chip("NVIDIA-H100-SXM").name == "nvidia-h100-sxm"
    assert cat.resolve_model("llama-3.1-8b").name == "llama-3.1-8b"


@pytest.mark.parametrize("ref", ["hardware_specs/nvidia-h100-sxm.yaml", "../../etc/passwd",
                                 "/etc/hostname", "x.yaml", "tests/data/hf_configs/llama.json",
                                 "user:../../etc/passwd", "", None, 42])
def test_a_name_from_the_page_never_reaches_a_file(ref, monkeypatch):
    def no_files(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a page input reached the file system: {args}")

    monkeypatch.setattr("roofline.specs.loading.read_text", no_files)
    monkeypatch.setattr("roofline.specs.catalog.load_yaml_spec", no_files)
    monkeypatch.setattr("roofline.specs.hf.importer.load_json", no_files)
    with pytest.raises(SpecError):
        cat.resolve_chip(ref)
    with pytest.raises(SpecError):
        cat.resolve_model(ref)


def test_pages_report_unknown_names_beside_the_input():
    values = defaults(roofline_page) | {"model": "../models/gpt-4.yaml", "chips": ["nope"]}
    view = roofline_page.compute(values, None)
    assert "unknown model" in view.errors["model"]
    assert "unknown chip" in view.errors["chips"]


# --- user specs -------------------------------------------------------------------------


def _chip_yaml(name: str = "my-chip") -> str:
    base = roofline.load_chip("h100").model_copy(update={"name": name, "aliases": [],
                                                          "price": None})
    return cat.spec_yaml(base)


def test_user_chip_added_used_and_removed():
    store, done = specs.add_spec(None, _chip_yaml(), "auto", "<test>")
    assert "my-chip" in done and store["chip"] == {"my-chip": _chip_yaml()}
    chip = cat.resolve_chip("user:my-chip", store)
    assert chip.name == "my-chip" and chip.memory.capacity == 80e9
    assert {"label": "my-chip (yours)", "value": "user:my-chip"} in cat.options("chip", store)
    values = defaults(roofline_page) | {"chips": ["user:my-chip", "h100"]}
    view = roofline_page.compute(values, store)
    assert not view.errors and not view.message
    saved = specs.download(store, "chip", "my-chip")
    assert saved == {"content": _chip_yaml(), "filename": "my-chip.yaml", "type": "text/yaml"}
    assert specs.download(store, "chip", "../../etc/passwd") is None
    assert cat.remove_user_spec(store, "chip", "my-chip")["chip"] == {}
    with pytest.raises(SpecError, match="not defined in this browser"):
        cat.resolve_chip("user:my-chip", {"chip": {}})


def test_user_model_from_hf_config():
    text = (DATA / "hf_configs" / "llama.json").read_text()
    store, done = specs.add_spec(None, text, "auto", "<config.json>")
    (name,) = store["model"]
    model = cat.resolve_model(f"user:{name}", store)
    assert model.model_type == "llama" and "model" in done


@pytest.mark.parametrize("spec", [*roofline.specs.chips(), *roofline.specs.models()],
                         ids=lambda s: s.name)
def test_catalog_specs_round_trip_as_yaml(spec):
    kind, parsed, _ = cat.parse_user_spec(cat.spec_yaml(spec))
    assert parsed == spec and kind == ("chip" if isinstance(spec, roofline.Chip) else "model")


def test_bad_yaml_error_is_shown_beside_the_input():
    store, error, done, _ = specs.on_add(1, None, BAD_YAML, "auto", None, None, "specs-add")
    assert store is not None and error and done == ""
    text = as_json(error)
    assert "invalid YAML" in text and "<pasted spec>:" in text
    # A schema error names the field and line.
    _, error, _, _ = specs.on_add(1, None, _chip_yaml().replace("vendor:", "vendr:"), "chip",
                                  None, None, "specs-add")
    assert "vendr" in as_json(error) and "did you mean 'vendor'" in as_json(error)


def test_upload_is_size_limited_and_decoded():
    text = _chip_yaml("up-chip")
    url = "data:text/yaml;base64," + base64.b64encode(text.encode()).decode()
    store, error, _, shown = specs.on_add(None, url, "", "auto", "c.yaml", None,
                                          "specs-upload")
    assert error == "" and "up-chip" in store["chip"] and shown == text
    big = "data:text/yaml;base64," + base64.b64encode(b"#" * (cat.MAX_SPEC_BYTES + 1)).decode()
    with pytest.raises(SpecError, match="over 256 kB"):
        specs.read_upload(big, "big.yaml")
    with pytest.raises(SpecError):
        specs.read_upload("data:x;base64,@@@", "bad.yaml")
    with pytest.raises(SpecError, match="256 kB"):
        cat.parse_user_spec("#" * (cat.MAX_SPEC_BYTES + 1))


def test_tampered_store_is_revalidated():
    store = {"chip": {"evil": "name: evil\npeak_flops: {bf16: -1}\n", "../x": "name: x",
                      "ok": 5}, "model": "not a mapping"}
    assert cat.user_specs(store) == {"chip": {"evil": store["chip"]["evil"]}, "model": {}}
    with pytest.raises(SpecError):
        cat.resolve_chip("user:evil", store)
    assert cat.user_specs(["junk"]) == {"chip": {}, "model": {}}


def test_template_is_a_catalog_spec_by_name_only():
    assert "nvidia-h100-sxm" in specs.template("chip:nvidia-h100-sxm")
    assert specs.template("chip:../../etc/passwd") == ""
    assert specs.template(None) == "" and specs.template(["x"]) == ""  # type: ignore[arg-type]
    keep = dash.no_update
    assert specs.on_add(1, None, ["not text"], 7, {}, None, "specs-add")[0] is keep


# --- pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.NAME)
def test_every_page_computes_its_defaults_without_nan(page):
    view = page.compute(defaults(page), None)
    assert not view.errors and not view.message, (view.errors, view.message)
    text = as_json(view.outputs)
    assert "NaN" not in text and "nan " not in text and "Infinity" not in text


def test_roofline_points_move_with_batch():
    small = roofline_page.compute(defaults(roofline_page) | {"batch": 1}, None)
    large = roofline_page.compute(defaults(roofline_page) | {"batch": 256}, None)

    def decode_x(view: View) -> list[float]:
        fig = view.outputs[0]
        return list(next(t for t in fig.data if t.name == "nvidia-h100-sxm decode").x)

    assert decode_x(small) != decode_x(large)
    assert max(decode_x(large)) > max(decode_x(small))  # bigger batches: more FLOP per byte


def test_memory_serve_bars_follow_tp():
    one = memory.compute(defaults(memory) | {"tp": 1}, None).outputs[0]
    two = memory.compute(defaults(memory) | {"tp": 2}, None).outputs[0]
    weights = [next(t for t in f.data if t.name == "weights").y[0] for f in (one, two)]
    assert weights[1] == pytest.approx(weights[0] / 2, rel=0.01)


def _column(table: Any, column: str) -> list[str]:
    body = table.children[1].children
    return [td.children for tr in body for td in tr.children
            if td.to_plotly_json()["props"].get("data-column") == column]


def test_fit_verdict_and_sorted_layouts():
    values = defaults(fit) | {"model": "llama-3.1-70b", "count": 8, "sort": "tpot_s:asc"}
    verdict, _, table, note = fit.compute(values, None).outputs
    assert "FITS" in as_json(verdict) and "candidate layouts" in note
    res = roofline.fit("llama-3.1-70b", "h100", 8, batch=values["batch"],
                       prompt_len=values["prompt"], output_len=values["output"])
    want = res.layouts.sort_values("tpot_s", kind="stable").sort_values(
        "ok", ascending=False, kind="stable")["tpot_s"]  # rejected layouts last
    assert _column(table, "tpot_s") == [cell("tpot_s", v) for v in want][:fit.ROWS_PER_PAGE]
    assert fit.next_sort("tpot_s:asc", "tpot_s") == "tpot_s:desc"
    assert fit.next_sort("tpot_s:desc", "tpot_s") == "tpot_s:asc"
    assert fit.next_sort("tpot_s:desc", "tp") == "tp:asc"
    assert fit.parse_sort("__class__:asc") is None and fit.parse_sort(5) is None  # type: ignore[arg-type]


def test_fit_table_pages():
    values = defaults(fit) | {"model": "gpt-4", "count": 64, "sort": "memory_bytes:desc"}
    res = roofline.fit("gpt-4", "h100", 64, batch=values["batch"],
                       prompt_len=values["prompt"], output_len=values["output"])
    want = [cell("memory_bytes", v) for v in
            res.layouts.sort_values("memory_bytes", ascending=False, kind="stable",
                                    na_position="last")
            .sort_values("ok", ascending=False, kind="stable")["memory_bytes"]]  # rejected last
    n = fit.ROWS_PER_PAGE
    assert len(want) > 2 * n
    pages = -(-len(want) // n)
    for page, rows in ((2, want[n:2 * n]), (10**6, want[(pages - 1) * n:])):  # clamped
        _, _, table, note = fit.compute(values | {"page": page}, None).outputs
        assert _column(table, "memory_bytes") == rows
        assert f"of {pages})" in note


def test_fit_rejected_layouts_carry_their_reason():
    verdict, _, table, _ = fit.compute(defaults(fit) | {"model": "gpt-4", "count": 8},
                                       None).outputs
    assert "DOES NOT FIT" in as_json(verdict)
    reasons = _column(table, "reason")
    assert reasons and set(_column(table, "ok")) == {"no"}
    assert all(r not in ("", "-") for r in reasons)


def test_cost_serving_has_costs_and_latency_curves():
    costs, _, request = cost.compute(defaults(cost), None).outputs
    assert {t.name for t in costs.data} == set(cost.SERVE_COSTS.values())
    json.dumps(request)  # handed to the curve callback through the page
    curve = cost.curves(request, None)[2]  # (cost across batch, cheapest batch, latency)
    fitting = [t for t in curve.data if "does not fit" not in t.name]
    assert len(fitting) == len(request["chips"]) >= 1
    c = request["chips"][0]
    frame = roofline.infer(request["model"], c["ref"], batch=cost.CURVE_BATCHES,
                           prompt_len=request["prompt"], output_len=request["output"],
                           tp=c["tp"], pp=c["pp"], ep=c["ep"]).frame
    fits = frame["fits"].to_numpy()
    assert list(fitting[0].y) == pytest.approx(list(frame["tpot_s"][fits] * 1e3))  # ms
    assert "the batch curves are for serving" in as_json(cost.curves(None, None))


def test_figure_callbacks_never_raise(caplog):
    from roofline.dashboard.wiring import figure_or_message

    bad = {"model": "nope", "chips": [], "precision": "native", "prompt": 1, "output": 1}
    assert "no chosen chip" in as_json(figure_or_message(cost.curves, bad, None))
    bad["chips"] = [{"ref": "nope", "name": "x", "tp": 1, "pp": 1, "ep": 1}]
    assert "unknown model" in as_json(figure_or_message(cost.curves, bad, None))
    with caplog.at_level(logging.ERROR, logger="roofline.dashboard"):
        fig = figure_or_message(cost.curves, {"chips": 5}, None)
    assert "internal error" in as_json(fig) and caplog.records


@pytest.mark.skipif(not training_available(), reason="roofline.engine.training.run not present")
def test_training_views_show_gradients_and_optimizer_states():
    values = defaults(memory) | {"purpose": "train", "chips": ["h100"], "model": "llama-3.1-8b"}
    fig, _ = memory.compute(values, None).outputs
    names = {t.name for t in fig.data}
    assert {"gradients", "optimizer states", "weights"} <= names
    values = defaults(cost) | {"purpose": "train", "chips": ["h100"], "model": "llama-3.1-8b",
                               "count": 64}
    costs, _, request = cost.compute(values, None).outputs
    assert costs.data and costs.data[0].y[0] > 0 and request is None


def test_training_views_degrade_without_the_training_engine(monkeypatch):
    monkeypatch.setattr("roofline.dashboard.pages.memory.training_available", lambda: False)
    view = memory.compute(defaults(memory) | {"purpose": "train"}, None)
    assert "roofline.engine.training.run" in view.message


def test_invalid_input_goes_beside_the_field():
    view = roofline_page.compute(defaults(roofline_page) | {"batch": 0, "tp": None}, None)
    assert set(view.errors) == {"batch", "tp"}
    assert view.outputs == roofline_page.FALLBACK


def test_engine_errors_become_messages_and_crashes_are_logged(caplog):
    # tp=3 does not divide Llama's heads: the engine's SpecError is shown, not raised.
    view = run_view(roofline_page.compute, defaults(roofline_page) | {"tp": 3}, None,
                    roofline_page.FALLBACK)
    assert "impossible layout" in as_json(view.message)

    def boom(values: Any, store: Any) -> View:
        raise RuntimeError("secret detail")

    with caplog.at_level(logging.ERROR, logger="roofline.dashboard"):
        view = run_view(boom, {}, None, ("fallback",))
    assert view.outputs == ("fallback",)
    assert "internal error" in view.message and "secret" not in view.message
    assert "secret detail" in caplog.text


# --- routing and server -----------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.NAME)
def test_routing_restores_inputs_from_the_query(page):
    values = defaults(page)
    field = next(f for f in page.FIELDS if f.kind in ("int", "str") and not f.choices)
    values[field.key] = int(field.lo or 1) + 2 if field.kind == "int" else "llama-3.1-8b"
    body, nav = dash_app.render(page.PATH, to_query(values, page.FIELDS))
    control = find(body, f"{page.NAME}-{field.key}")
    assert control is not None and control.value == values[field.key]
    assert any(link.className == "active" and link.href == page.PATH for link in nav)


def test_unknown_path_is_a_page_not_a_crash():
    body, _ = dash_app.render("/../../etc/passwd", "")
    assert "Page not found" in as_json(body)
    assert dash_app.page_for("/") is PAGES[0]


@pytest.fixture(scope="module")
def client():
    return dash_app.create_app().server.test_client()


def test_security_headers_and_local_default(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "'sha256-" in csp and "unsafe-eval" not in csp
    assert dash_app.DEFAULT_HOST == "127.0.0.1"


def test_oversized_requests_are_refused(client):
    r = client.post("/_dash-update-component", data=b"x" * (dash_app.MAX_REQUEST_BYTES + 1),
                    content_type="application/json")
    assert r.status_code == 413


def test_main_serves_locally_with_debug_off(monkeypatch):
    calls: dict[str, Any] = {}

    class FakeApp:
        server = object()

        def run(self, **kwargs: Any) -> None:
            calls["run"] = kwargs

    dash_app.main([], app=FakeApp())  # type: ignore[arg-type]
    assert calls["run"] == {"host": "127.0.0.1", "port": 8050, "debug": False}
    monkeypatch.setattr("waitress.serve", lambda app, **kw: calls.setdefault("waitress", kw))
    dash_app.main(["--production", "--port", "9001"], app=FakeApp())  # type: ignore[arg-type]
    assert calls["waitress"]["host"] == "127.0.0.1" and calls["waitress"]["port"] == 9001


def test_cli_has_a_serve_command(monkeypatch):
    from roofline import cli

    seen: list[list[str]] = []
    monkeypatch.setattr("roofline.dashboard.app.main", lambda argv: seen.append(list(argv)))
    assert cli.main(["serve", "--port", "9002"]) == 0
    assert seen == [["--host", "127.0.0.1", "--port", "9002"]]
