"""Roofline page (issue 15, item 5) at the callback level: every chosen chip on one plot,
overlapping operators grouped with all their names, click-for-details with the engine's
numbers, zoom and legend kept across updates, a warning when the scenario does not fit."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

import roofline
from roofline.dashboard.app import create_app
from roofline.dashboard.components import cell
from roofline.dashboard.pages import roofline as page
from roofline.dashboard.state import parse_query
from roofline.dashboard.wiring import figure_store_id, run_view
from roofline.formatting import si
from roofline.views.roofline_compare import (
    OVERLAP_DECADES,
    overlap_groups,
    roofline_comparison_figure,
)
from tests.dash_payloads import DEPENDENCIES
from tests.test_dashboard_callbacks import _column

CHIPS = ("nvidia-h100-sxm", "amd-mi300x", "nvidia-b200")


def view(**kw: Any) -> Any:
    return page.compute(parse_query("", page.FIELDS) | kw, None)


@pytest.fixture(scope="module")
def results() -> list[roofline.InferenceResult]:
    return [roofline.infer("llama-3.1-70b", c, batch=8, prompt_len=2048, output_len=256)
            for c in CHIPS]


def test_every_chip_is_drawn_in_its_colour_with_a_symbol_per_phase():
    fig = view(chips=list(CHIPS)).outputs[0]
    by_name = {t.name: t for t in fig.data}
    for chip in CHIPS:
        roof, pre, dec = (by_name[f"{chip} {k}"] for k in ("bf16", "prefill", "decode"))
        assert pre.marker.color == dec.marker.color == roof.line.color
        assert pre.marker.symbol == "circle" and dec.marker.symbol == "diamond"
    assert len({by_name[f"{c} decode"].marker.color for c in CHIPS}) == len(CHIPS)
    # Zoom and legend state is keyed by a fixed uirevision and by each trace's uid.
    assert fig.layout.uirevision == page.UIREVISION
    assert all(t.uid == t.name for t in fig.data)
    go.Figure(fig.to_dict())  # valid under plotly's schema (the builder skips validation)


def test_each_operator_is_listed_once_per_trace_with_the_engine_numbers(results):
    fig = roofline_comparison_figure(results)
    for res in results:
        for phase in ("prefill", "decode"):
            trace = next(t for t in fig.data if t.name == f"{res.chip.name} {phase}")
            mine = [o for c in trace.customdata for o in c["operators"]
                    if (o["chip"], o["phase"]) == (res.chip.name, phase)]
            ops = res.operators(phase)
            ops = ops[ops["flops"] > 0].set_index("operator")
            assert sorted(o["operator"] for o in mine) == sorted(ops.index)
            for o in mine:
                row = ops.loc[o["operator"]]
                for k in ("flops", "bytes", "time_s", "compute_s", "memory_s", "step_share"):
                    assert o[k] == pytest.approx(row[k], rel=1e-12), k
                assert o["bound"] == row["bound"]
            # Every operator of a marker lies within the overlap distance of it (greedy
            # groups: within the tolerance of the group's first member, so 2x of any other).
            for x, y, c in zip(trace.x, trace.y, trace.customdata, strict=True):
                for o in c["operators"]:
                    assert abs(math.log10(o["intensity_flop_per_byte"] / x)) <= 2 * OVERLAP_DECADES
                    assert abs(math.log10(o["flops"] / o["time_s"] / y)) <= 2 * OVERLAP_DECADES


def test_decode_gemms_on_one_dot_are_one_marker_naming_them_all(results):
    # Llama-3.1-70B decode at batch 8: every GEMM streams its weights at ~8 FLOP/byte, so on
    # one chip they sit on one dot; the marker lists all of them (and prefill's lm_head,
    # which computes one token per sequence too).
    fig = roofline_comparison_figure(results)
    trace = next(t for t in fig.data if t.name == "nvidia-b200 decode")
    biggest = max(range(len(trace.x)), key=lambda i: len(trace.customdata[i]["operators"]))
    names = {o["operator"] for o in trace.customdata[biggest]["operators"]}
    assert {"qkv_proj", "attention", "o_proj", "mlp", "lm_head"} <= names
    assert all(n in trace.text[biggest] for n in names)
    assert trace.marker.size[biggest] > min(trace.marker.size)


def test_overlap_groups_by_hand():
    # 1 and 1.05 are 0.021 decades apart (grouped); 2 is 0.3 decades away (its own).
    assert overlap_groups([1.0, 1.05, 2.0], [1.0, 1.0, 1.0]) == [[0, 1], [2]]
    assert overlap_groups([1.0, 1.0], [1.0, 1.2]) == [[0], [1]]  # 0.079 decades in y


def test_click_shows_the_operators_of_the_point(results):
    fig = roofline_comparison_figure(results)
    trace = next(t for t in fig.data if t.name == "nvidia-h100-sxm decode")
    data = trace.customdata[-1]
    box = page.details({"points": [{"customdata": data, "x": trace.x[-1]}]})
    table = box.children[1].children
    assert _column(table, "operator") == [o["operator"] for o in data["operators"]]
    assert _column(table, "flops") == [cell("flops", o["flops"]) for o in data["operators"]]
    assert _column(table, "step_share") == [cell("step_share", o["step_share"])
                                            for o in data["operators"]]
    assert all(s.endswith("%") for s in _column(table, "step_share"))
    # Nothing clicked, or a click without our data: no details, no error.
    assert page.details(None) == ""
    assert page.details({"points": [{"x": 1}]}) == ""
    assert page.details({"points": [{"customdata": {"operators": "x"}}]}) == ""


def test_a_new_answer_clears_the_clicked_point():
    assert view().outputs[-1] is None  # the graph's clickData


def test_warning_names_each_chip_the_scenario_does_not_fit(results):
    warning = view(chips=list(CHIPS)).outputs[1]
    text = " ".join(str(line.children) for line in warning)
    h100 = results[0]
    assert len(warning) == 1 and "nvidia-h100-sxm" in text
    assert si(h100["memory_bytes"], "B") in text and si(h100["capacity_bytes"], "B") in text
    assert not view(chips=["amd-mi300x", "nvidia-b200"]).outputs[1]


def test_a_chip_the_layout_is_impossible_on_is_named_and_the_others_drawn():
    # apple-m4-max has no scale-up link: tp=2 cannot run on it; H100 can.
    v = view(model="llama-3.1-8b", chips=["nvidia-h100-sxm", "apple-m4-max"], tp=2)
    assert not v.message
    text = " ".join(str(line.children) for line in v.outputs[1])
    assert "apple-m4-max" in text and "scale-up" in text
    names = {t.name for t in v.outputs[0].data}
    assert "nvidia-h100-sxm decode" in names and "apple-m4-max decode" not in names
    # On no chip at all: the page's message, said once.
    v = run_view(page.compute, parse_query("", page.FIELDS) | {"tp": 3}, None, ())
    assert "impossible layout" in str(v.message) and str(v.message).count("impossible") == 1


def test_operator_table_sets_every_chip_side_by_side(results):
    ops, labels = page.operator_table(results, "expected")
    decode = ops[ops["phase"] == "decode"].set_index("operator")
    for res in results:
        want = res.operators("decode").set_index("operator")
        np.testing.assert_allclose(decode[f"{res.chip.name}:time_s"], want["time_s"])
        assert labels[f"{res.chip.name}:step_share"] == f"{res.chip.name} share"


def test_graph_keeps_the_users_view_in_the_browser():
    # The view callback sends its figure to a store; a clientside function (assets/
    # keep_view.js) shows it, keeping zoom and hidden traces (the browser test drives it).
    deps = create_app().server.test_client().get(DEPENDENCIES).get_json()
    keep = next(d for d in deps if d["output"] == "roofline-graph.figure")
    assert keep["clientside_function"] == {"namespace": "roofline", "function_name": "keepView"}
    assert [i["id"] for i in keep["inputs"]] == [figure_store_id("roofline-graph")]
    assert [s["id"] + "." + s["property"] for s in keep["state"]] == ["roofline-graph.figure"]
