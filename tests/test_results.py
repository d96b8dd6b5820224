"""The one Result type: integer counts, aliases beside canonical names, assumptions in
attrs, one naming scheme, the notebook view in the CLI's units, one plot signature that
respects the plotly template, zip / grid broadcasting, fit over several counts."""

import re

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

import roofline
from roofline.results import Result, variant

INFER = roofline.infer("llama-3-8b", "h100", batch=[1, 8, 64], prompt_len=[512, 1024, 4096])
TRAIN = roofline.train("llama-3-8b", "h100", count=8, seq_len=4096, global_batch=64,
                       tp=[1, 2, 8], pp=1)


@pytest.mark.parametrize("res", [INFER, TRAIN], ids=["infer", "train"])
def test_counts_are_integers(res):
    for col in ("batch", "tp", "pp", "ep", "chips", "replicas", "count", "dp", "micro_batch"):
        if col in res.frame:
            assert res.frame[col].dtype == np.int64, col
    assert res.to_dict()["rows"][0]["tp"] == 1 and isinstance(res.to_dict()["rows"][0]["tp"],
                                                              int)


def test_impossible_layouts_keep_nullable_integers():
    res = roofline.sweep("llama-3-8b", "h100", tp=[1, 3], progress=False)
    assert res.frame["tp"].tolist() == [1, 3] and res.frame["tp"].dtype == np.int64
    assert str(res.frame["max_batch"].dtype) == "Int64"  # NaN for tp=3 stays missing
    assert res.frame["max_batch"].isna().tolist() == [False, True]


def test_aliases_beside_canonical_names():
    assert set(INFER.frame["chip"]) == {"nvidia-h100-sxm"}
    assert len(INFER.frame[INFER.frame.chip_alias == "h100"]) == 3
    cols = list(INFER.frame.columns)
    assert cols.index("chip_alias") == cols.index("chip") + 1
    spec = roofline.load_chip("h200")
    assert roofline.infer("llama-3-8b", spec).frame["chip_alias"][0] == "nvidia-h200-sxm"
    fit = roofline.fit("llama-3-8b", "H100", 1)
    assert fit.frame["chip_alias"][0] == "H100" and fit.frame["chip"][0] == "nvidia-h100-sxm"
    cmp = roofline.compare("llama-3-8b", ["h100", "mi300x"], batch=1)
    assert sorted(cmp.frame["chip_alias"]) == ["h100", "mi300x"]
    assert "capacity_bytes" in cmp.frame and "memory_bytes" not in cmp.frame


def test_assumptions_travel_in_attrs():
    assert INFER.frame.attrs["assumptions"] is INFER.assumptions
    assert "efficiency (expected)" in INFER.to_frame().attrs["assumptions"]
    assert INFER.frame[["tpot_s"]].attrs["assumptions"] == INFER.assumptions


@pytest.mark.parametrize("res", [INFER, TRAIN], ids=["infer", "train"])
def test_one_naming_scheme(res):
    """Every _ideal/_low/_high column is the variant (just before the unit) of a column
    that exists; every time has both band ends."""
    cols = set(res.frame.columns)
    variants = {variant(c, v) for c in cols for v in ("ideal", "low", "high")} & cols
    flagged = {c for c in cols if re.search(r"(^|_)(ideal|low|high)(_|$)", c)}
    assert flagged == variants, flagged ^ variants
    for c in cols:
        if variant(c, "low") in cols:
            assert variant(c, "high") in cols
    assert variant("tpot_s", "low") == "tpot_low_s"
    assert variant("decode_tokens_per_s", "high") == "decode_high_tokens_per_s"
    assert variant("mfu", "low") == "mfu_low"


def test_html_repr_uses_the_cli_units():
    one = roofline.infer("llama-3-8b", "h100", batch=8)
    html = one._repr_html_()
    assert "e+" not in html.split("<details>")[0]
    assert re.search(r"\d+(\.\d+)? GB", html) and re.search(r"\d+(\.\d+)? ms", html)
    assert "8,192" in html  # max_context with a thousands separator
    assert "<summary>assumptions</summary>" in html
    many = roofline.sweep("llama-3-8b", "h100", batch=list(range(1, 101)), progress=False)
    assert "40 more rows" in many._repr_html_()


def test_one_plot_signature():
    one = roofline.infer("llama-3-8b", "h100", batch=8)
    assert any("decode" in (t.name or "") for t in one.plot().data)  # its roofline
    fig = INFER.plot(x="batch", y="tpot_s")
    assert fig.layout.xaxis.title.text == "batch" and len(fig.data) == 1
    assert list(fig.data[0].y) == list(INFER.frame["tpot_s"])
    assert TRAIN.plot(x="tp", y="step_time_s").layout.yaxis.title.text == "step_time_s"
    fit = roofline.fit("llama-3-70b", "h100", 8)
    assert len(fit.plot(top=3).data) >= 1


def test_figures_follow_the_active_template():
    assert INFER.plot(x="batch", y="tpot_s").layout.paper_bgcolor == "white"  # house style
    old = pio.templates.default
    try:
        pio.templates.default = "plotly_dark"
        fig = INFER.plot(x="batch", y="tpot_s")
        dark = pio.templates["plotly_dark"].layout.paper_bgcolor
        assert fig.layout.paper_bgcolor is None
        assert fig.layout.template.layout.paper_bgcolor == dark
    finally:
        pio.templates.default = old


def test_zip_grid_and_a_clear_mismatch_error():
    assert INFER.frame["batch"].tolist() == [1, 8, 64]
    assert INFER.frame["prompt_len"].tolist() == [512, 1024, 4096]
    g = roofline.infer("llama-3-8b", "h100", **roofline.grid(batch=[1, 8], tp=[1, 2, 4]))
    assert list(zip(g.frame["batch"], g.frame["tp"], strict=True)) == [
        (1, 1), (1, 2), (1, 4), (8, 1), (8, 2), (8, 4)]
    with pytest.raises(roofline.SpecError, match=r"batch has 3 values and prompt_len has 2"):
        roofline.infer("llama-3-8b", "h100", batch=[1, 8, 64], prompt_len=[512, 1024])
    with pytest.raises(roofline.SpecError, match=r"tp has 2 values and pp has 3.*grid\("):
        roofline.train("llama-3-8b", "h100", count=8, seq_len=2048, global_batch=8,
                       tp=[1, 2], pp=[1, 2, 4])


def test_fit_over_several_counts():
    res = roofline.fit("llama-3-70b", "h100", count=[1, 2, 4, 8])
    assert res.frame["count"].tolist() == [1, 2, 4, 8]
    assert res.frame["fits"].tolist() == [False, True, True, True]  # 141 GB of weights
    assert pd.isna(res.frame["layout"][0]) and res.frame["layout"][1].startswith("tp=2")
    assert sorted(set(res.layouts["count"])) == [1, 2, 4, 8]
    with pytest.raises(ValueError, match="4 chip counts"):
        _ = res.fits
    assert len(res.to_dict()["rows"]) == 4


def test_result_wraps_a_result():
    assert Result(INFER).frame is INFER.frame
    assert Result(INFER).assumptions == INFER.assumptions
