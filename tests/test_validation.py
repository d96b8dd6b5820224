"""Fidelity guard (issues 8 and 18): the backtest against published measurements covers the
categories it must, stays within its out-of-sample error guards, never breaks the ideal
(roofline) bound, and docs/validation.md, its plot and the calibration files are current."""

import math

import numpy as np
import pytest

import roofline
from roofline import validation as v
from roofline.engine.timing.efficiency import (
    CALIBRATION_FILE,
    IDEAL,
    band_columns,
    calibration,
    efficiency_class,
    efficiency_for,
    uncertainty_band,
)
from roofline.engine.timing.fidelity import BACKTEST_FILE, backtest, case_distance, fidelity
from roofline.validation.calibrate import surface
from roofline.validation.crossval import error_stats
from roofline.validation.plot import PLOT_NAME
from roofline.validation.run import backtest_yaml


@pytest.fixture(scope="module")
def report() -> v.Report:
    return v.build_report()


def _ok(report: v.Report):
    return report.table[report.table["status"] == "ok"]


def test_cases_are_sourced_and_reproducible():
    cases = v.load_cases()
    assert {c.kind for c in cases} == {"training", "serving", "matmul", "memory"}
    for c in cases:
        assert c.source.citation and c.source.url.startswith("http") and c.source.retrieved
        roofline.load_chip(c.chip)  # every chip and model is in the catalog
        if "model" in c.scenario:
            roofline.load_model(c.scenario["model"])


def test_case_set_covers_the_categories():
    """Issue 18: >= 60 cases, >= 15 MoE, >= 10 non-NVIDIA, >= 8 Blackwell, >= 10 batch-1
    latency, >= 10 throughput-max serving, >= 15 training."""
    cases = v.load_cases()
    assert len(cases) >= 60
    assert sum("moe" in c.tags for c in cases) >= 15
    assert sum("non-nvidia" in c.tags for c in cases) >= 10
    assert sum("blackwell" in c.tags for c in cases) >= 8
    assert sum(c.category == "serving: batch 1" for c in cases) >= 10
    assert sum(c.category == "serving: throughput" for c in cases) >= 10
    assert sum(c.kind == "training" for c in cases) >= 15
    assert len({c.group for c in cases}) >= 15  # enough sources for grouped k-fold


@pytest.mark.parametrize("kind", ["training", "serving"])
def test_out_of_sample_median_error_within_guard(report, kind):
    t = _ok(report)
    s = error_stats(t[t["kind"] == kind]["oos_error"].dropna().to_numpy())
    assert s["cases"] >= 15
    assert s["median"] <= v.GUARD[kind]


def test_ideal_never_slower_than_measured(report):
    t = _ok(report)
    bad = t[~t["ideal_ok"]]
    assert bad.empty, f"ideal below the measurement: {list(bad['id'])}"
    assert (t["expected"] <= t["ideal"] * (1 + 1e-9)).all()


def test_every_far_case_is_explained(report):
    t = _ok(report)
    far = t[t["oos_error"].abs() > 0.5]
    by_id = {c.id: c for c in report.cases}
    assert all(by_id[i].discrepancy for i in far["id"]), list(far["id"])


def test_band_holds_most_held_out_cases(report):
    """The 80% band, scored out of sample, holds 70-90% of held-out measurements."""
    for kind in ("training", "serving"):
        assert 0.70 <= report.cv.coverage[kind] <= 0.90, (kind, report.cv.coverage)
        lo, hi, n = report.cv.bands[kind]
        assert lo < 1.0 < hi and n >= 15


def test_pending_cases_are_listed_not_scored(report):
    pending = [c for c in report.cases if c.pending]
    assert pending, "the two long-context MLPerf 405B runs wait for in-flight batching"
    rows = report.table.set_index("id").loc[[c.id for c in pending]]
    assert rows["status"].str.startswith("not evaluated").all()
    assert all(c.id in report.markdown for c in pending)


def test_report_is_current(report):
    assert v.DOC_PATH.read_text(encoding="utf-8") == report.markdown, (
        "docs/validation.md is out of date: run `roofline validate-runs` and review the diff")
    assert v.DOC_PATH.with_name(PLOT_NAME).read_text(encoding="utf-8") == report.plot


def test_calibration_is_current(report):
    """efficiency.yaml and backtest.yaml are what `validate-runs --calibrate` writes."""
    assert CALIBRATION_FILE.read_text(encoding="utf-8") == v.calibration_yaml(
        report.fit, report.cv), "run `roofline validate-runs --calibrate`"
    # With the calibration current, the defaults are the fit: the table is the refit's.
    assert BACKTEST_FILE.read_text(encoding="utf-8") == backtest_yaml(report)


def test_defaults_come_from_the_calibration():
    cal = calibration()
    assert efficiency_for(roofline.load_chip("h100")) == cal.by_class["nvidia-hopper"]
    assert efficiency_for(roofline.load_chip("mi300x")) == cal.by_class["amd-cdna3"]
    # A class without cases takes its vendor's fit scaled by the prior ratio; overrides
    # still win, and ideal is the roofline.
    assert "nvidia-volta" in cal.by_class
    e = efficiency_for(roofline.load_chip("h100"), memory=0.5)
    assert e.memory == 0.5
    assert efficiency_for(roofline.load_chip("h100"), "ideal") == IDEAL


def test_surface_interpolation_matches_the_engine(report):
    """The fit's interpolated predictions agree with exact engine runs."""
    ok = _ok(report).set_index("id")
    for c in report.cases:
        if c.id not in ("megatron-readme-175b-64", "mlperf-4.1-h100x8-llama2-70b-offline",
                        "gpt-fast-llama2-70b-a100-tp8"):
            continue
        s = surface(c)
        eff = efficiency_for(roofline.load_chip(c.chip))
        exact = v.predict(c, eff).expected / c.measured.value
        assert s.at(eff) == pytest.approx(exact, rel=0.03)
        assert exact - 1 == pytest.approx(ok.loc[c.id, "error"], rel=1e-6, abs=1e-9)


def test_holding_out_a_source_changes_only_what_it_informed(report):
    """A source's out-of-sample error differs from its in-sample one only through the fit:
    every held-out case is predicted, and the CV table has one row per fitted case."""
    t = report.cv.table
    fitted = _ok(report)[lambda d: d["kind"].isin(("training", "serving"))]
    assert sorted(t["id"]) == sorted(fitted["id"])
    assert report.cv.folds == t["group"].nunique()
    assert np.isfinite(t["oos_error"]).all()


def test_band_brackets_expected_and_respects_the_roofline():
    band = uncertainty_band("serving")
    assert band.low <= 1.0 <= band.high
    r = roofline.infer("llama-3-8b", "h100", batch=[1, 64], prompt_len=512, output_len=128)
    f = r.frame
    assert (f["tpot_low_s"] <= f["tpot_s"]).all() and (f["tpot_s"] <= f["tpot_high_s"]).all()
    assert (f["tpot_low_s"] >= f["tpot_ideal_s"]).all()
    lo, hi = f["decode_low_tokens_per_s"], f["decode_high_tokens_per_s"]
    assert (lo <= f["decode_tokens_per_s"]).all() and (f["decode_tokens_per_s"] <= hi).all()
    assert (hi <= f["decode_ideal_tokens_per_s"]).all()


def test_band_columns_zero_width_in_ideal_mode():
    cols = band_columns({"step_s": np.array([2.0]), "rate": np.array([5.0])}, "training",
                        mode="ideal", times=("step_s",), rates=("rate",))
    assert cols["step_low_s"][0] == cols["step_high_s"][0] == 2.0
    assert cols["rate_low"][0] == cols["rate_high"][0] == 5.0


def test_results_carry_their_fidelity():
    r = roofline.infer("llama-2-70b", "h100", count=8, tp=2, batch=512, prompt_len=300,
                       output_len=290, precision="fp8")
    text = r.assumptions["fidelity"]
    assert text.startswith("calibrated") and "mlperf-4.1-h100x8-llama2-70b-offline" in text
    t = roofline.train("llama-3-8b", "h100", count=8, seq_len=8192, global_batch=128,
                       mode="ideal")
    assert t.assumptions["fidelity"].startswith("ideal")
    far = fidelity("serving", roofline.load_chip("apple-m4-max"), roofline.load_model(
        "kimi-k2"), count=1, batch=1)
    assert far.case is None and "no backtest case is close" in far.text


def test_a_backtest_scenario_is_its_own_nearest_case():
    row = next(r for r in backtest() if r["id"] == "torchtitan-a100x64-llama3-8b")
    chip, model = roofline.load_chip(row["chip"]), roofline.load_model(row["model"])
    assert case_distance(row, "training", efficiency_class(chip), chip.name,
                         model.params().total, False, 64, None) == 0
    f = fidelity("training", chip, model, count=64)
    assert f.case == "torchtitan-a100x64-llama3-8b"
    assert f.case_oos_error == pytest.approx(row["oos_error"])


def test_training_units_use_the_sources_flop_count():
    case = next(c for c in v.load_cases() if c.id == "megatron-2021-gpt-1t")
    m = roofline.load_model("megatron-gpt-1t")
    # Narayanan et al. 2021 eq. 3 per token: 96 l h^2 (1 + s/6h + V/16lh) for l=128, h=25600.
    layers, h, s, V = 128, 25600, 2048, 51200
    per_token = 96 * layers * h**2 * (1 + s / (6 * h) + V / (16 * layers * h))
    assert v.training_unit_factor(case) == pytest.approx(per_token / 3072, rel=1e-9)
    assert m.params().total == pytest.approx(1008.0e9, rel=0.001)
    assert math.isclose(case.measured.value, 502.0e15 / 3072, rel_tol=1e-3)
