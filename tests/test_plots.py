"""Figure builders (roofline.views.plots): what is drawn matches the engine's numbers, and no
figure carries NaN or infinity."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import roofline
from roofline.engine.timing.roofline import attainable_flops_per_s
from roofline.views import plots


@pytest.fixture(scope="module")
def result() -> roofline.InferenceResult:
    return roofline.infer("llama-3.1-8b", "h100", batch=8, prompt_len=1024, output_len=128)


def _numbers(fig: go.Figure) -> list[float]:
    """Every number in the figure's JSON (NaN and inf would break JSON or show as text)."""
    found: list[float] = []

    def walk(x: object) -> None:
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, int | float) and not isinstance(x, bool):
            found.append(float(x))

    walk(json.loads(fig.to_json()))
    return found


def _finite_json(fig: go.Figure) -> None:
    text = fig.to_json()
    assert "NaN" not in text and "Infinity" not in text
    assert all(math.isfinite(v) for v in _numbers(fig))


def test_roofline_roofs_and_ridge_points(result):
    h100, mi300x = roofline.load_chip("h100"), roofline.load_chip("mi300x")
    fig = plots.roofline_figure(result, chips=[h100, mi300x], dtypes=["bf16", "fp8"])
    names = [t.name for t in fig.data]
    for chip in (h100, mi300x):
        for d in ("bf16", "fp8"):
            roof = next(t for t in fig.data if t.name == f"{chip.name} {d}")
            ridge = next(t for t in fig.data if t.name == f"{chip.name} {d} ridge point")
            # The ridge point is peak / bandwidth at the peak (engine's Chip.ridge_point).
            assert ridge.x[0] == pytest.approx(chip.ridge_point(d))
            assert ridge.y[0] == pytest.approx(chip.peak(d))
            # The roof is the engine's attainable FLOP/s at every drawn intensity.
            want = attainable_flops_per_s(np.asarray(roof.x), chip.peak(d),
                                          chip.memory.bandwidth)
            np.testing.assert_allclose(roof.y, want)
    assert "prefill operators" in names and "decode operators" in names
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    _finite_json(fig)


def test_roofline_points_are_the_engine_operators(result):
    fig = result.plot()  # InferenceResult.plot() -> roofline_figure
    for phase in ("prefill", "decode"):
        ops = plots.operator_points(result.operators(phase))
        trace = next(t for t in fig.data if t.name == f"{phase} operators")
        assert list(trace.customdata) == list(ops["operator"])
        np.testing.assert_allclose(trace.x, ops["intensity_flop_per_byte"])
        np.testing.assert_allclose(trace.y, ops["flops"] / ops["time_s"])
        assert all("FLOPs" in h and "bytes" in h and "time" in h and "-bound" in h
                   for h in trace.text)
    # Prefill and decode are told apart by marker symbol.
    symbols = {t.name: t.marker.symbol for t in fig.data if t.name.endswith("operators")}
    assert symbols["prefill operators"] != symbols["decode operators"]


def test_roofline_ideal_points_sit_on_the_roof():
    res = roofline.infer("llama-3.1-8b", "h100", batch=1)
    chip = res.chip
    fig = plots.roofline_figure(res, mode="ideal", phases=("decode",))
    trace = next(t for t in fig.data if t.name == "decode operators")
    ops = plots.operator_points(res.operators("decode", "ideal"))
    for x, y, d in zip(trace.x, trace.y, ops["dtype"], strict=True):
        assert y == pytest.approx(min(chip.peak(d), x * chip.memory.bandwidth), rel=1e-9)


def test_roofline_without_a_result_draws_roofs_only():
    fig = plots.roofline_figure(chips=["h100"], dtypes=["fp4"])
    # H100 has no fp4: the roof drawn is the dtype it computes fp4 in.
    chip = roofline.load_chip("h100")
    assert [t.name for t in fig.data] == [f"{chip.name} {chip.resolve_dtype('fp4').value}",
                                          f"{chip.name} {chip.resolve_dtype('fp4').value} "
                                          "ridge point"]
    with pytest.raises(ValueError):
        plots.roofline_figure()


def test_memory_figure_stacks_parts_against_capacity(result):
    bars = plots.memory_bars(result.frame)
    fig = plots.memory_figure(bars)
    row = result.frame.iloc[0]
    stacked = {t.name: t.y[0] for t in fig.data if isinstance(t, go.Bar)}
    assert stacked["weights"] == pytest.approx(row["weights_bytes"])
    assert stacked["KV cache"] == pytest.approx(row["kv_cache_bytes"])
    assert sum(stacked.values()) == pytest.approx(row["memory_bytes"])
    cap = next(t for t in fig.data if t.name == "capacity")
    assert cap.y[0] == pytest.approx(row["capacity_bytes"])
    assert fig.layout.barmode == "stack"
    _finite_json(fig)


def test_memory_figure_training_parts_and_missing_values():
    bar = plots.MemoryBar("x", {"weights": 10e9, "gradients_bytes": 10e9, "optimizer": 40e9,
                                "activation": float("nan")}, 80e9)
    fig = plots.memory_figure([bar])
    names = [t.name for t in fig.data]
    assert {"weights", "gradients", "optimizer states"} <= set(names)
    assert "activations" not in names  # NaN counts as absent, never drawn
    assert bar.total_bytes == pytest.approx(60e9)
    _finite_json(fig)


def test_latency_throughput_figure_marks_batches_that_do_not_fit():
    batches = np.array([1, 8, 64, 512, 4096], dtype=float)
    frame = roofline.infer("llama-3.1-8b", "h100", batch=batches).frame
    fig = plots.latency_throughput_figure({"h100": frame})
    fitting = next(t for t in fig.data if t.name == "h100")
    assert list(fitting.customdata) == list(batches[frame["fits"].to_numpy()])
    np.testing.assert_allclose(fitting.y, frame.loc[frame["fits"], "tpot_s"] * 1e3)  # ms
    if not frame["fits"].all():
        assert any(t.name == "h100 (does not fit)" for t in fig.data)
    _finite_json(fig)


def test_cost_figure_leaves_out_missing_values():
    frame = pd.DataFrame({"chip": ["a", "b", "c"],
                          "usd_per_m_output_tokens": [2.0, float("nan"), 3.0],
                          "usd_per_m_input_tokens": [0.1, None, 0.2]})
    fig = plots.cost_figure(frame, {"usd_per_m_input_tokens": "in",
                                    "usd_per_m_output_tokens": "out"})
    assert [list(t.x) for t in fig.data] == [["a", "c"], ["a", "c"]]
    assert "b" in fig.layout.annotations[0].text
    assert all("$" in h for t in fig.data for h in t.text)
    _finite_json(fig)


def test_empty_figure_has_its_message():
    fig = plots.empty_figure("nothing here")
    assert fig.layout.annotations[0].text == "nothing here"


def test_table_figure_plots_columns_by_group():
    frame = pd.DataFrame({"batch": [1, 8, 1, 8], "tpot_s": [0.01, 0.02, 0.03, float("nan")],
                          "chip": ["a", "a", "b", "b"]})
    fig = plots.table_figure(frame, x="batch", y="tpot_s", color="chip")
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[1].x) == [1]  # the NaN row is left out
    assert fig.layout.xaxis.title.text == "batch" and "10 ms" in fig.data[0].text[0]
    _finite_json(fig)
    with pytest.raises(ValueError, match="x= and y="):
        plots.table_figure(frame, x="nope", y="tpot_s")
    with pytest.raises(ValueError, match="x= and y="):
        plots.table_figure(frame)
