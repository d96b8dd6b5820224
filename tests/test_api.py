"""The notebook-facing API: results convert, render and plot the same way for every verb."""

import inspect
import json

import pandas as pd
import plotly.graph_objects as go
import pytest

import roofline


def test_public_api_is_type_hinted_and_documented():
    for name in roofline.__all__:
        obj = getattr(roofline, name)
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            assert sig.return_annotation is not inspect.Signature.empty, name
            assert obj.__doc__ and len(obj.__doc__) > 20, name


@pytest.mark.parametrize("make", [
    lambda: roofline.infer("llama-3-8b", "h100", batch=[1, 8]),
    lambda: roofline.train("llama-3-8b", "h100", count=8, seq_len=2048, global_batch=64),
    lambda: roofline.fit("llama-3-70b", "h100", 8),
    lambda: roofline.compare("llama-3-8b", ["h100", "l4"]),
], ids=["infer", "train", "fit", "compare"])
def test_results_convert_render_and_plot(make):
    res = make()
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) >= 1
    col = frame.select_dtypes("number").columns[0]
    frame.loc[frame.index[0], col] = -1.0  # a copy: the result is not mutated
    assert res.frame[col].iloc[0] != -1.0
    json.dumps(res.to_dict(), allow_nan=False)  # JSON-ready, no NaN
    html = res._repr_html_()
    assert "<table" in html and "assumptions" in html
    assert isinstance(res.plot(), go.Figure)


def test_context_result_converts():
    res = roofline.context("llama-3-8b", "h100")
    d = res.to_dict()
    assert d["kv_cache_bytes_per_token"] == 131072 and "words per token" in d["assumptions"]
    with pytest.raises(ValueError, match="x= and y="):
        res.plot()


def test_sweep_table_plots_any_columns():
    df = roofline.sweep("llama-3-8b", ["h100", "h200"], batch=[1, 4, 16, 64])
    fig = roofline.Result(df).plot(x="batch", y="tpot_s", color="chip")
    assert len(fig.data) == 2 and fig.layout.xaxis.title.text == "batch"
    with pytest.raises(ValueError, match="x= and y="):
        roofline.Result(df).plot(x="nope", y="tpot_s")


def test_inference_roofline_plot_has_roofs_and_operators():
    fig = roofline.infer("llama-3-8b", "h100", batch=8).plot()
    names = " ".join(t.name or "" for t in fig.data)
    assert "prefill" in names and "decode" in names and "h100" in names.lower()
