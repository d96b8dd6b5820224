"""roofline.cost_curve and the cost page (issue 15, item 7): $ per 1M output tokens across
batch on one layout, the cheapest batch under a TPOT target, the curve with that point
marked and one colour per chip on every batch chart."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import roofline
from roofline.dashboard.pages import cost
from roofline.dashboard.state import parse_query
from tests.test_dashboard_callbacks import _column


@pytest.fixture(scope="module")
def curve() -> roofline.Result:
    # DeepSeek-V3 on 8 H200 (tp=8): the issue's $8-15 at batch 8 vs $4-6 at batch 64.
    return roofline.cost_curve("deepseek-v3", "h200", tp=8, max_tpot_s=0.050)


def test_costs_are_chip_time_over_tokens_by_hand(curve):
    f = curve.frame
    price = roofline.load_chip("h200").price.usd_per_chip_hour
    # 8 chips x $/chip-hour / (batch / TPOT tokens/s x 3600 s) x 1e6
    want = 8 * price / (f["batch"] / f["tpot_s"] * 3600) * 1e6
    np.testing.assert_allclose(f["usd_per_m_output_tokens"], want)
    assert f["usd_per_m_output_tokens"].is_monotonic_decreasing  # bigger batches: cheaper
    b8, b64 = (f.set_index("batch").loc[b, "usd_per_m_output_tokens"] for b in (8, 64))
    assert b64 < b8 / 2


def test_the_chosen_batch_is_the_cheapest_that_fits_and_meets_the_target(curve):
    f = curve.frame
    ok = f[f["fits"] & f["meets_target"]]
    chosen = f[f["chosen"]]
    assert len(chosen) == 1
    assert chosen["usd_per_m_output_tokens"].iloc[0] == ok["usd_per_m_output_tokens"].min()
    assert (f["meets_target"] == (f["tpot_s"] <= 0.050)).all()
    assert not f.loc[f["batch"] > chosen["batch"].iloc[0], "fits"].all() or \
        not f.loc[f["batch"] > chosen["batch"].iloc[0], "meets_target"].all()
    # No acceptable batch: nothing chosen, and the assumptions say why.
    none = roofline.cost_curve("deepseek-v3", "h200", tp=8, max_tpot_s=1e-4)
    assert not none.frame["chosen"].any() and "no batch" in none.assumptions["chosen"]
    # A chip without a price: latency still, no $ figure, nothing chosen.
    chip = roofline.load_chip("h200").model_dump(mode="json") | {"name": "my-h200",
                                                                  "aliases": [], "price": None}
    unpriced = roofline.cost_curve("llama-3.1-8b", chip)
    assert unpriced.frame["usd_per_m_output_tokens"].isna().all()
    assert not unpriced.frame["chosen"].any() and "price" in unpriced.assumptions["chosen"]
    with pytest.raises(roofline.SpecError, match="max_tpot_s"):
        roofline.cost_curve("llama-3.1-8b", "h100", max_tpot_s=-1)


def _curves(**kw: Any) -> tuple[Any, Any, Any]:
    values = parse_query("", cost.FIELDS) | kw
    request = cost.compute(values, None).outputs[2]
    return cost.safe_curves(request, None)


def test_page_marks_the_cheapest_batch_with_one_colour_per_chip():
    fig, note, latency = _curves(tpot=30)
    stars = [t for t in fig.data if t.marker.symbol == "star"]
    assert stars and all("cheapest batch" in t.name for t in stars)
    colour = {t.legendgroup: t.line.color for t in fig.data if t.mode == "lines+markers"}
    for t in latency.data:  # the latency curve gives each chip the same colour
        if t.legendgroup in colour:
            assert t.line.color == colour[t.legendgroup]
    table = note.children[1].children
    assert _column(table, "batch") and all(c.endswith("ms") for c in _column(table, "tpot_s"))
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.tickvals)[:3] == [1, 2, 4]
    assert fig.layout.yaxis.tickvals  # labelled ticks near the points (1-2-5 per decade)
    assert "TPOT <= 30 ms" in fig.layout.title.text
    bars = cost.compute(parse_query("", cost.FIELDS), None).outputs[0]
    assert {t.marker.color for t in bars.data} == set(cost.TOKEN_GREYS)  # not chip colours


def test_an_impossible_target_says_so_and_bad_requests_are_messages():
    _, note, _ = _curves(tpot=0.001)
    assert "No batch fits" in str(note.children)
    fig, _, other = cost.safe_curves({"model": "nope", "chips": [
        {"ref": "x", "name": "x", "tp": 1, "pp": 1, "ep": 1}], "prompt": 1, "output": 1,
        "precision": "native"}, None)
    assert "unknown model" in fig.layout.annotations[0].text and other is fig
    assert "tpot" in cost.compute(parse_query("", cost.FIELDS) | {"tpot": -3}, None).errors
