"""Fidelity guard (issue 8): the backtest against published measurements stays within its
error guards, never breaks the ideal (roofline) bound, and docs/validation.md is current."""

import math

import numpy as np
import pytest

import roofline
from roofline import validation as v
from roofline.engine.timing.efficiency import (
    IDEAL,
    PRIOR_BY_VENDOR,
    band_columns,
    calibration,
    efficiency_for,
    uncertainty_band,
)


@pytest.fixture(scope="module")
def report() -> v.Report:
    return v.build_report()


def test_cases_are_sourced_and_reproducible():
    cases = v.load_cases()
    assert len(cases) >= 15
    kinds = {c.kind for c in cases}
    assert kinds == {"training", "serving", "matmul", "memory"}
    for c in cases:
        assert c.source.citation and c.source.url.startswith("http") and c.source.retrieved
        roofline.load_chip(c.chip)  # every chip and model is in the catalog
        if "model" in c.scenario:
            roofline.load_model(c.scenario["model"])


def test_training_median_error_within_guard(report):
    s = v.summary(report.after).set_index("kind")
    assert s.loc["training", "cases"] >= 5
    assert s.loc["training", "median_abs_error"] <= v.GUARD["training"]


def test_serving_median_error_within_guard(report):
    s = v.summary(report.after).set_index("kind")
    assert s.loc["serving", "cases"] >= 5
    assert s.loc["serving", "median_abs_error"] <= v.GUARD["serving"]


def test_ideal_never_slower_than_measured(report):
    t = report.after[report.after["status"] == "ok"]
    bad = t[~t["ideal_ok"]]
    assert bad.empty, f"ideal below the measurement: {list(bad['id'])}"
    assert (t["expected"] <= t["ideal"] * (1 + 1e-9)).all()


def test_every_case_beyond_the_guard_is_explained(report):
    t = report.after[report.after["status"] == "ok"]
    beyond = t[t["error"].abs() > t["kind"].map(v.EXPLAIN_BEYOND)]
    by_id = {c.id: c for c in report.cases}
    assert all(by_id[i].discrepancy for i in beyond["id"]), list(beyond["id"])


def test_report_is_current(report):
    assert v.DOC_PATH.read_text(encoding="utf-8") == report.markdown, (
        "docs/validation.md is out of date: run `roofline validate-runs` and review the diff")


def test_defaults_come_from_the_calibration():
    cal = calibration()
    for vendor, chip in (("nvidia", "h100"), ("amd", "mi300x")):
        assert efficiency_for(roofline.load_chip(chip)) == cal.by_vendor[vendor]
    # Overrides still win, and ideal is the roofline.
    e = efficiency_for(roofline.load_chip("h100"), memory=0.5)
    assert e.memory == 0.5
    assert efficiency_for(roofline.load_chip("h100"), "ideal").matmul == 1.0


def test_calibration_on_microbenchmarks_lands_between_them():
    cases = [c for c in v.load_cases() if c.kind in ("matmul", "memory")]
    fit = v.calibrate(cases)
    nvidia = fit.by_vendor["nvidia"]
    ratios = [c.measured.value / v.predict(c, IDEAL).ideal
              for c in cases if c.kind == "matmul" and roofline.load_chip(c.chip).vendor
              == "nvidia"]
    assert min(ratios) - 0.02 <= nvidia.matmul <= max(ratios) + 0.02
    # AMD has no memory microbenchmark: its memory factor stays at the prior.
    assert fit.by_vendor["amd"].memory == pytest.approx(PRIOR_BY_VENDOR["amd"].memory, abs=0.01)
    assert fit.bands == {}  # no serving or training cases, no band


def test_band_brackets_expected_and_respects_the_roofline():
    band = uncertainty_band("serving")
    assert band.low <= 1.0 <= band.high
    r = roofline.infer("llama-3-8b", "h100", batch=[1, 64], prompt_len=512, output_len=128)
    f = r.frame
    assert (f["tpot_low_s"] <= f["tpot_s"]).all() and (f["tpot_s"] <= f["tpot_high_s"]).all()
    assert (f["tpot_low_s"] >= f["tpot_ideal_s"]).all()
    lo, hi = f["decode_tokens_per_s_low"], f["decode_tokens_per_s_high"]
    assert (lo <= f["decode_tokens_per_s"]).all() and (f["decode_tokens_per_s"] <= hi).all()
    assert (hi <= f["decode_tokens_per_s_ideal"]).all()


def test_band_columns_zero_width_in_ideal_mode():
    cols = band_columns({"step_s": np.array([2.0]), "rate": np.array([5.0])}, "training",
                        mode="ideal", times=("step_s",), rates=("rate",))
    assert cols["step_low_s"][0] == cols["step_high_s"][0] == 2.0
    assert cols["rate_low"][0] == cols["rate_high"][0] == 5.0


def test_training_units_use_the_sources_flop_count():
    case = next(c for c in v.load_cases() if c.id == "megatron-2021-gpt-1t")
    m = roofline.load_model("megatron-gpt-1t")
    # Narayanan et al. 2021 eq. 3 per token: 96 l h^2 (1 + s/6h + V/16lh) for l=128, h=25600.
    layers, h, s, V = 128, 25600, 2048, 51200
    per_token = 96 * layers * h**2 * (1 + s / (6 * h) + V / (16 * layers * h))
    assert v._training_unit_factor(case) == pytest.approx(per_token / 3072, rel=1e-9)
    assert m.params().total == pytest.approx(1008.0e9, rel=0.001)
    assert math.isclose(case.measured.value, 502.0e15 / 3072, rel_tol=1e-3)
