"""The scenario edge: inputs checked once against one rule table, broadcast once; and one
scenario answered alone agrees with the same scenario inside a vectorised call."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import roofline
from roofline import SpecError
from roofline.engine.scenario.rules import RULES, Rule, check, rule_for
from roofline.engine.scenario.scenario import serving_scenario

SMALL = "llama-3-8b"


def fields(err: pytest.ExceptionInfo[SpecError]) -> set[str | None]:
    return {p.field for p in err.value.problems}


def test_every_bad_input_is_named_at_once() -> None:
    with pytest.raises(SpecError) as err:
        roofline.infer(SMALL, "h100", prompt_len=0, output_len=-1, batch=float("nan"),
                       count=0, attention_kernel="naive")
    assert fields(err) == {"prompt_len", "output_len", "batch", "count", "attention_kernel"}
    text = str(err.value)
    assert "prompt_len must be a finite number in [1, 1,000,000,000] (tokens), got 0" in text
    assert "attention_kernel must be one of 'fused', 'materialised', got 'naive'" in text


@pytest.mark.parametrize(("kw", "field"), [
    ({"pue": 0.5}, "pue"), ({"dp_overlap": 1.5}, "dp_overlap"), ({"zero": 4}, "zero"),
    ({"seq_len": float("inf")}, "seq_len"), ({"tokens": 0}, "tokens"),
    ({"usd_per_chip_hour": -2}, "usd_per_chip_hour"), ({"mode": "fast"}, "mode"),
    ({"attention_kernel": "fused"}, "attention_kernel"),  # train's kernels: flash, materialised
    ({"count": 2.5}, "count"),
])
def test_train_inputs_checked_by_the_table(kw: dict, field: str) -> None:
    args = {"seq_len": 1024, "global_batch": 64, "count": 8, **kw}
    with pytest.raises(SpecError) as err:
        roofline.train(SMALL, "h100", **args)
    assert fields(err) == {field}


def test_rule_words_and_verb_specific_rules() -> None:
    assert Rule(low=1, high=8, integer=True, unit="chips").allowed() == \
        "a whole number in [1, 8] (chips)"
    assert Rule(low=0, low_open=True).allowed() == "a finite number > 0"
    assert rule_for("train", "attention_kernel").choices == ("flash", "materialised")
    assert rule_for("infer", "attention_kernel").choices == ("fused", "materialised")
    assert Rule(low=0, high=1).violation(np.array([0.2, 1.5, -1])) == "got 1.5"
    assert Rule(choices=(0, 1)).violation(True) == "got True"  # a flag is not a stage
    with pytest.raises(KeyError, match="add it to RULES"):
        check("infer", {"no_such_input": 1})
    assert all(isinstance(r, Rule) for r in RULES.values())


def test_serving_scenario_is_typed_and_broadcast_once() -> None:
    sc = serving_scenario(SMALL, "h100", batch=[1, 8], tp=[[1], [2], [4]], count=8)
    assert sc.shape == (3, 2) and not sc.single
    assert sc.workload.batch.dtype == np.float64 and sc.layout.tp.shape == (3, 1)
    assert sc.layout.count == 8.0 and sc.model.name == "llama-3-8b"
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.shape = (1,)  # type: ignore[misc]
    one = serving_scenario(SMALL, "h100")
    assert one.single and one.shape == (1,) and one.layout.tp.ndim == 0


INFER_GRID = {"batch": [1, 16, 64], "prompt_len": [128, 4096], "tp": [1, 2, 8]}


def _numeric(frame):
    return frame.select_dtypes("number")


@pytest.mark.parametrize("model", [SMALL, "mixtral-8x7b", "deepseek-v3"])
def test_scalar_and_vectorised_infer_agree(model: str) -> None:
    b, s, t = np.meshgrid(*INFER_GRID.values(), indexing="ij")
    ep = 2 if model != SMALL else 1
    many = roofline.infer(model, "h100", batch=b.ravel(), prompt_len=s.ravel(),
                          tp=np.maximum(t.ravel(), ep) * (8 if model == "deepseek-v3" else 1),
                          ep=ep).frame
    assert many["valid"].all()
    for i, row in many.iterrows():
        one = roofline.infer(model, "h100", batch=int(row["batch"]),
                             prompt_len=int(row["prompt_len"]), tp=int(row["tp"]), ep=ep)
        a, v = _numeric(one.frame).iloc[0], _numeric(many).iloc[i]
        np.testing.assert_allclose(a.to_numpy(), v[a.index].to_numpy(), rtol=1e-12, atol=0)
        assert one["decode_bound"] == row["decode_bound"]
        assert one["tpot_s"] == pytest.approx(row["tpot_s"], rel=1e-12)


def test_scalar_and_vectorised_train_agree() -> None:
    tps, pps = np.array([1, 2, 4, 1]), np.array([1, 2, 1, 4])
    many = roofline.train(SMALL, "h100", count=16, seq_len=2048, global_batch=256, tp=tps,
                          pp=pps).frame
    assert many["valid"].all()
    for i in range(len(tps)):
        one = roofline.train(SMALL, "h100", count=16, seq_len=2048, global_batch=256,
                             tp=int(tps[i]), pp=int(pps[i])).frame
        a, v = _numeric(one).iloc[0], _numeric(many).iloc[i]
        np.testing.assert_allclose(a.to_numpy(), v[a.index].to_numpy(), rtol=1e-12, atol=0)


def test_single_answer_reads_without_pandas_and_matches_the_frame() -> None:
    r = roofline.infer(SMALL, "h100", batch=4)
    plain = {k: r[k] for k in ("tpot_s", "fits", "model", "decode_bound")}
    d = r.to_dict()
    assert r._frame is None  # nothing above built the DataFrame
    row = r.frame.iloc[0]
    assert plain["tpot_s"] == row["tpot_s"] and plain["fits"] == row["fits"]
    assert plain["model"] == "llama-3-8b" == row["model"]
    assert plain["decode_bound"] == row["decode_bound"] == "memory"
    assert d["tpot_s"] == pytest.approx(float(row["tpot_s"]), rel=0) and len(r) == 1


def test_scalar_gemm_and_collective_fast_paths_match_the_array_paths() -> None:
    """The plain-float paths a single answer takes (GEMM tile efficiency, link division)
    give the array paths' numbers to 1e-12, shape by shape."""
    from roofline.engine.network.collectives import _div
    from roofline.engine.operators.gemm import COMPUTE_UNITS, Gemm, shape_efficiency

    rng = np.random.default_rng(7)
    m, n, k = (np.round(10 ** rng.uniform(0, 4.5, 400)) for _ in range(3))
    groups = rng.integers(1, 9, 400).astype(float)
    for units in (None, COMPUTE_UNITS["nvidia-h100-sxm"]):
        vector = shape_efficiency(Gemm(m, n, k, groups), units)
        single = [float(shape_efficiency(Gemm(*map(float, x)), units))
                  for x in zip(m, n, k, groups, strict=True)]
        np.testing.assert_allclose(single, vector, rtol=1e-12, atol=0)
    num, den = np.array([0.0, 5.0, 5.0, 3.0]), np.array([0.0, 0.0, 2.0, 4.0])
    np.testing.assert_array_equal([float(_div(a, b)) for a, b in zip(num, den, strict=True)],
                                  _div(num, den))
    assert _div(5.0, 0.0) == np.inf and _div(0.0, 0.0) == 0.0 and _div(3.0, 4.0) == 0.75


def test_large_gemm_inputs_evaluated_per_distinct_shape_match_the_direct_path() -> None:
    """A sweep's GEMMs repeat few shapes: evaluating each distinct (M, N, groups) once and
    scattering back gives exactly the element-by-element numbers."""
    from roofline.engine.operators.gemm import TILES, Gemm, _tile_share, shape_efficiency

    rng = np.random.default_rng(11)
    m = rng.choice([1.0, 7.0, 64.0, 300.0, 4096.0, np.nan], 30_000)
    n = rng.choice([1024.0, 8192.0], (30_000,))
    k, groups = 8192.0, np.float64(2.0)
    direct = np.max([_tile_share(m, n, groups, tm, tn, 132) for tm, tn in TILES], axis=0)
    direct = direct * (k / (k + 256.0))
    np.testing.assert_array_equal(shape_efficiency(Gemm(m, n, k, groups), 132), direct)
