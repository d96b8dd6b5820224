"""The serving frontier page (issue 15, item 8): tokens/s per chip against tokens/s per
user for aggregated and disaggregated serving, each mode's front from the engine
(``FrontierResult.front``), targets drawn, click-for-configuration."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import roofline
from roofline.dashboard.pages import frontier as page
from roofline.dashboard.state import parse_query
from tests.test_dashboard_callbacks import _column


@pytest.fixture(scope="module")
def result() -> roofline.FrontierResult:
    return roofline.frontier("llama-3.1-70b", "h100", count=8, workload="chat")


def view(**kw: Any) -> Any:
    return page.compute(parse_query("", page.FIELDS) | kw, None)


def _dominated(a: Any, b: Any) -> bool:
    """Whether configuration b beats a on both axes (per user and per chip)."""
    return (b["output_tokens_per_s_per_user"] >= a["output_tokens_per_s_per_user"]
            and b["output_tokens_per_s_per_chip"] >= a["output_tokens_per_s_per_chip"]
            and (b["output_tokens_per_s_per_user"] > a["output_tokens_per_s_per_user"]
                 or b["output_tokens_per_s_per_chip"] > a["output_tokens_per_s_per_chip"]))


@pytest.mark.parametrize("mode", ["aggregated", "disaggregated"])
def test_each_mode_front_is_the_pareto_front_of_its_configurations(result, mode):
    front = result.front(mode)
    mine = result.configurations[result.configurations["mode"] == mode]
    assert len(front) > 3 and set(front["mode"]) == {mode}
    for _, f in front.iterrows():  # nothing of the same mode beats a front point
        assert not any(_dominated(f, c) for _, c in mine.iterrows())
    for _, c in mine.iterrows():  # every other configuration is beaten by a front point
        on_front = any(np.isclose(c["output_tokens_per_s_per_chip"],
                                  front["output_tokens_per_s_per_chip"]).tolist())
        assert on_front or any(_dominated(c, f) for _, f in front.iterrows())
    assert front["output_tokens_per_s_per_user"].is_monotonic_increasing
    # Together: the overall front is the result's frame.
    both = result.front()
    np.testing.assert_allclose(both["output_tokens_per_s_per_chip"],
                               result.frame["output_tokens_per_s_per_chip"])
    assert result.front("no such mode").empty


def test_page_draws_every_configuration_and_each_front(result):
    v = view()
    assert not v.errors and not v.message
    fig = v.outputs[0]
    by_name = {t.name: t for t in fig.data}
    for mode in ("aggregated", "disaggregated"):
        front, every = by_name[f"{mode} front"], by_name[f"{mode}: every configuration"]
        want = result.front(mode)
        np.testing.assert_allclose(front.x, want["output_tokens_per_s_per_user"])
        np.testing.assert_allclose(front.y, want["output_tokens_per_s_per_chip"])
        assert len(every.x) == int((result.configurations["mode"] == mode).sum())
        assert front.line.color == every.marker.color  # one colour per mode, everywhere
        assert all(c["mode"] == mode for c in front.customdata)
    assert fig.layout.xaxis.type == "log" and fig.layout.uirevision == page.NAME
    assert v.outputs[-1] is None  # a new answer clears the clicked point
    assert _column(v.outputs[1].children[3].children, "mode")  # the front as a table


def test_targets_are_applied_and_drawn():
    v = view(tpot=40, ttft=300)
    fig = v.outputs[0]
    # 1 / 40 ms = 25 tok/s per user (the label, an annotation, in log10 units)
    assert fig.layout.shapes[0].x0 == pytest.approx(1 / 0.040)
    assert fig.layout.annotations[0].x == pytest.approx(math.log10(25))
    assert "TTFT target 300 ms" in fig.layout.title.text
    for t in fig.data:
        for c in t.customdata:
            assert c["tpot_s"] <= 0.040 + 1e-12 and c["ttft_s"] <= 0.300 + 1e-12
            assert c["output_tokens_per_s_per_user"] >= 25 - 1e-9
    only = view(modes="aggregated").outputs[0]
    assert {t.name for t in only.data} == {"aggregated front", "aggregated: every configuration"}


def test_click_shows_the_launch_settings(result):
    fig = view().outputs[0]
    dis = next(t for t in fig.data if t.name == "disaggregated front").customdata[0]
    box = page.details({"points": [{"customdata": dis}]})
    table = box.children[1].children
    assert _column(table, "mode") == ["disaggregated"]
    assert _column(table, "xpyd") == [dis["xpyd"]] and _column(table, "prefill_tp")
    agg = next(t for t in fig.data if t.name == "aggregated front").customdata[-1]
    table = page.details({"points": [{"customdata": agg}]}).children[1].children
    assert _column(table, "tp") == [f"{agg['tp']:g}"] and not _column(table, "xpyd")
    assert page.details(None) == "" and page.details({"points": [{"customdata": 3}]}) == ""


def test_inputs_are_checked_beside_their_fields():
    assert "count" in view(count=None).errors
    assert "workload" in view(workload="poetry").errors
    assert "tpot" in view(tpot=-1).errors
