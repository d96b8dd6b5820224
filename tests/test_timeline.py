"""roofline.timeline (issue 15, item 11): the catalog's models by release date and chips
by release year, with growth read from the records; the sourced release and training
fields of the model YAML; the timeline page."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import plotly.graph_objects as go
import pytest

import roofline
from roofline.dashboard.pages import timeline as page
from roofline.dashboard.state import parse_query
from roofline.engine.planning.timeline import TimelineResult
from roofline.specs.catalog import models as catalog_models


@pytest.fixture(scope="module")
def models() -> roofline.TimelineResult:
    return roofline.timeline("models")


@pytest.fixture(scope="module")
def chips() -> roofline.TimelineResult:
    return roofline.timeline("chips")


def row(result: roofline.TimelineResult, name: str) -> pd.Series:
    return result.frame.set_index("name").loc[name]


def test_gpt3_is_dated_with_its_300b_tokens_and_published_compute(models):
    gpt3 = row(models, "gpt-3-175b")
    assert gpt3["release_date"] == pd.Timestamp("2020-05-28")
    assert gpt3["training_tokens"] == 300e9  # Brown et al. 2020, section 2.2
    assert gpt3["training_flops"] == 3.14e23  # Table D.1: 3.64e3 PF-days
    assert gpt3["training_flops_source"] == "published"
    assert gpt3["total_params"] == roofline.load_model("gpt-3-175b").params().total
    # GPT-2 (2019) comes first; GPT-4 (2023) is the rumoured 1.76T MoE.
    assert models.frame["name"].iloc[0] == "gpt2-xl"
    gpt4 = row(models, "gpt-4")
    assert gpt4["release_date"].year == 2023 and bool(gpt4["rumoured"])
    assert gpt4["total_params"] == pytest.approx(1.76e12, rel=1e-3)
    assert gpt4["active_params"] < gpt4["total_params"] / 6  # 2 of 16 experts
    assert models.frame["release_year"].is_monotonic_increasing


def test_training_compute_without_a_published_figure_is_6nd(models):
    # Kaplan et al. 2020: C = 6 N D; Llama 2 70B: 6 x 68.98B x 2T = 8.28e23 FLOPs.
    llama = row(models, "llama-2-70b")
    n = roofline.load_model("llama-2-70b").params().active
    assert llama["training_flops"] == pytest.approx(6 * n * 2e12)
    assert llama["training_flops"] == pytest.approx(8.28e23, rel=1e-3)
    assert llama["training_flops_source"] == "6 x active params x tokens"
    # An MoE is charged for its active parameters only (DeepSeek-V3: 37.6B of 671B).
    ds = row(models, "deepseek-v3")
    assert ds["training_flops"] == pytest.approx(6 * ds["active_params"] * 14.8e12)
    # No tokens published: no compute either, never a guess.
    assert math.isnan(row(models, "mistral-7b")["training_tokens"])
    assert math.isnan(row(models, "mistral-7b")["training_flops"])


def test_models_without_a_release_date_are_left_out(models):
    undated = {m.name for m in catalog_models() if m.release is None}
    assert "megatron-gpt-1t" in undated  # a benchmarked configuration, never released
    assert not undated & set(models.frame["name"])


def test_every_dated_or_trained_model_cites_it():
    for m in catalog_models():
        for block in (m.release, m.training):
            if block is not None:
                assert len(block.source) > 20, m.name
        if m.training is not None:
            assert m.training.tokens is not None or m.training.compute_flops is not None


def test_chips_carry_the_three_things_llms_want(chips):
    h100 = row(chips, "nvidia-h100-sxm")
    assert h100["release_year"] == 2022
    assert h100["dense_16bit_flops_per_s"] == 989.4e12  # bf16 dense, datasheet halved
    assert h100["memory_capacity_bytes"] == 80e9 and h100["memory_bandwidth_bytes_per_s"] == 3.35e12
    assert bool(h100["hbm"])
    v100 = row(chips, "nvidia-v100-sxm2")  # no bf16: its fp16 tensor-core peak
    assert v100["dense_16bit_flops_per_s"] == roofline.load_chip("v100").peak_flops["fp16"]
    assert not bool(row(chips, "intel-xeon-6980p")["hbm"])


def _synthetic(years: list[float], values: list[float]) -> TimelineResult:
    frame = pd.DataFrame({"name": [f"m{i}" for i in range(len(years))], "release_year": years,
                          "dense_16bit_flops_per_s": values,
                          "memory_capacity_bytes": values,
                          "memory_bandwidth_bytes_per_s": [math.nan] * len(years)})
    return TimelineResult(frame, {}, "chips")


def test_growth_is_fitted_over_the_records_by_hand():
    # 1, 2, 4 in 2020-2022 are records (x2 per year, doubling every year); a smaller chip in
    # 2023 is not a record and does not slow the trend; a tie within a year counts once.
    t = _synthetic([2020, 2021, 2021, 2022, 2023], [1.0, 2.0, 1.5, 4.0, 0.5])
    assert list(t.records("dense_16bit_flops_per_s")) == [True, True, False, True, False]
    g = t.growth().set_index("measure")
    assert g.loc["dense_16bit_flops_per_s", "factor_per_year"] == pytest.approx(2.0)
    assert g.loc["dense_16bit_flops_per_s", "doubling_time_years"] == pytest.approx(1.0)
    assert g.loc["dense_16bit_flops_per_s", "records"] == 3
    assert math.isnan(g.loc["memory_bandwidth_bytes_per_s", "factor_per_year"])  # no data


def test_catalog_growth_rates_are_the_records_fits(models, chips):
    g = models.growth().set_index("measure")
    rec = models.records("total_params")
    assert {"gpt-3-175b", "gpt-4"} <= set(models.frame.loc[rec, "name"])
    assert "llama-3-8b" not in set(models.frame.loc[rec, "name"])
    assert g.loc["total_params", "factor_per_year"] > 2  # 1.5B (2019) -> 1.76T (2023)
    c = chips.growth().set_index("measure")
    for measure in ("dense_16bit_flops_per_s", "memory_capacity_bytes",
                    "memory_bandwidth_bytes_per_s"):
        assert 1.1 < c.loc[measure, "factor_per_year"] < 3, measure


def test_timeline_is_a_result_that_converts_and_plots(models):
    assert isinstance(models, roofline.Result)
    json.dumps(models.to_dict(), allow_nan=False, default=str)
    fig = models.plot()
    assert isinstance(fig, go.Figure)
    names = {t.name for t in fig.data}
    assert {"total parameters", "active parameters", "training tokens",
            "training compute"} <= names
    assert any(n.startswith("total parameters: x") for n in names)  # the trend's legend
    go.Figure(fig.to_dict())  # valid under plotly's schema (the builder skips validation)
    with pytest.raises(roofline.SpecError, match="models' or 'chips'"):
        roofline.timeline("gpus")  # type: ignore[arg-type]
    some = roofline.timeline("models", ["gpt-3-175b", "llama-2-70b"])
    assert list(some.frame["name"]) == ["gpt-3-175b", "llama-2-70b"]
    assert list(roofline.timeline("models", ["gpt-3-175b", "llama-2-70b"], since=2021)
                .frame["name"]) == ["llama-2-70b"]
    hbm = roofline.timeline("chips", hbm_only=True).frame
    assert hbm["hbm"].all() and "nvidia-rtx-4090" not in set(hbm["name"])


def test_release_date_is_validated():
    spec = roofline.load_model("gpt-3-175b").model_dump(mode="json")
    spec["release"] = {"date": "2020-13-45", "source": "a paper"}
    with pytest.raises(roofline.SpecError, match=r"release\.date"):
        roofline.load_model(spec)
    spec["release"] = {"date": dt.date(2020, 5, 28).isoformat(), "source": "a paper"}
    assert roofline.load_model(spec).release.date == dt.date(2020, 5, 28)


# --- the page -----------------------------------------------------------------------------


def view(**kw):
    return page.compute(parse_query("", page.FIELDS) | kw, None)


def test_page_draws_both_timelines_and_their_growth():
    v = view()
    assert not v.errors and not v.message
    models_fig, model_box, chips_fig, _ = v.outputs
    assert {"total parameters", "training compute"} <= {t.name for t in models_fig.data}
    assert {"memory bandwidth"} <= {t.name for t in chips_fig.data}
    text = json.dumps(model_box.to_plotly_json(), default=str)
    assert "GPT-3 175B" in text and "doubles every" in text
    # Datacenter accelerators only by default; every chip on request.
    chip_names = set(next(t for t in chips_fig.data if t.name == "memory capacity").customdata)
    assert "nvidia-h100-sxm" in chip_names and "intel-xeon-6980p" not in chip_names
    every = view(memory="all").outputs[2]
    assert "intel-xeon-6980p" in set(next(t for t in every.data
                                          if t.name == "memory capacity").customdata)


def test_page_can_hide_rumours_and_pick_vendors():
    fig = view(rumoured="hide").outputs[0]
    names = set(next(t for t in fig.data if t.name == "total parameters").customdata)
    assert "gpt-4" not in names and "gpt-3-175b" in names
    amd = view(vendors=["amd"]).outputs[2]
    assert {n for t in amd.data if t.customdata is not None for n in t.customdata} <= {
        c.name for c in roofline.specs.catalog.chips() if c.vendor == "amd"}
    assert view(vendors=["nobody"]).errors["vendors"].startswith("unknown")
    recent = view(since=2024).outputs[0]
    assert "gpt-3-175b" not in set(next(t for t in recent.data
                                        if t.name == "total parameters").customdata)
