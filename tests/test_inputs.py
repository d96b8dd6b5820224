"""Every input validated once, at the edge: each case the hardening review found (CLI and
library) ends in a :class:`SpecError` naming the argument and its allowed range, never a
raw exception, a silently replaced default or a number computed from nonsense."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import roofline
from roofline import SpecError
from roofline.cli import main
from roofline.engine.scenario.rules import RULES, Rule, check
from roofline.engine.timing.cost import EnergyAssumptions, serving_costs

M, C = "llama-3-8b", "h100"


@pytest.mark.parametrize(("argv", "words"), [
    (["fit", M, C, "--min-tokens-per-s", "nan"],
     "min_tokens_per_s must be a finite number in (0, 1e+12] (tokens/s), got nan"),
    (["fit", M, C, "--min-tokens-per-s", "inf"], "min_tokens_per_s must be a finite number"),
    (["fit", M, C, "--min-tokens-per-s", "1e30"], "(0, 1e+12] (tokens/s), got 1e+30"),
    (["context", M, C, "--words-per-page", "0", "--pages", "3"],
     "words_per_page must be a finite number in (0, 1,000,000], got 0"),
    (["context", M, C, "--words-per-token", "0"], "words_per_token must be a finite number"),
    (["context", M, C, "--tokens", "-5"], "tokens must be a finite number in (0, 1e+18]"),
    (["fit", M, C, "--purpose", "train", "--count", "8", "--global-batch", "0"],
     "global_batch must be a whole number in [1, 1,000,000,000] (sequences), got 0"),
    (["fit", M, C, "--max-tpot-ms", "0"], "max_tpot_s must be a finite number in (0, 3,600]"),
    (["fit", M, C, "--max-tpot-ms", "nan"], "max_tpot_s must be a finite number"),
    (["compare", M, "--chips", C, "--max-tpot-ms", "-1"], "max_tpot_s must be"),
    (["cost", M, C, "--utilisation", "-1"],
     "utilisation must be a finite number in (0, 1] (busy share of paid hours), got -1"),
    (["cost", M, C, "--usd-per-chip-hour", "nan"], "usd_per_chip_hour must be"),
    (["cost", M, C, "--purpose", "train", "--count", "8", "--tokens", "1e9",
      "--grid-kg-co2-per-kwh", "-1"], "grid_kg_co2_per_kwh must be a finite number in [0, 2]"),
    (["cost", M, C, "--purpose", "train", "--count", "8", "--tokens", "1e9", "--pue", "0"],
     "pue must be a finite number in [1, 5], got 0"),
    (["cost", M, C, "--purpose", "train", "--count", "8", "--tokens", "-1"],
     "tokens must be a finite number in (0, 1e+18] (tokens), got -1"),
    (["compare", M, "--sort", "typo"], "sort_by must be one of 'chip', 'vendor'"),
    (["infer", M, C, "--prompt-len", "100000"],
     "prompt_len + output_len = 100,256 tokens exceeds the model's max_position_embeddings "
     "of 8,192"),
    (["fit", M, C, "--prompt-len", "100000"], "max_position_embeddings of 8,192"),
    (["infer", M, C, "--batch", "0"], "batch must be >= 1"),
])
def test_cli_bad_value_is_a_named_error(argv: list[str], words: str, capsys: Any) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err, err
    assert "Traceback" not in err and err.startswith("error: ")


def test_beyond_context_is_allowed_when_asked(capsys: Any) -> None:
    assert main(["infer", M, C, "--prompt-len", "9000", "--allow-beyond-context",
                 "--json"]) == 0
    assert '"prompt_len": 9000' in capsys.readouterr().out
    r = roofline.infer(M, C, prompt_len=9000, output_len=1, allow_beyond_context=True)
    assert r.frame["prompt_len"].iloc[0] == 9000 and bool(r.frame["valid"].iloc[0])


def test_min_tokens_per_s_beyond_any_cluster_does_not_fit() -> None:
    r = roofline.fit(M, C, min_tokens_per_s=1e12)
    assert not r.fits and r.frame["min_chips"].isna().all()
    assert "no layout reaches min_tokens_per_s=1e+12 tokens/s on 10,000,000 chips" in r.reason


def _raises(call: Any, *words: str) -> SpecError:
    with pytest.raises(SpecError) as e:
        call()
    for w in words:
        assert w in str(e.value), str(e.value)
    return e.value


@pytest.mark.parametrize(("call", "words"), [
    (lambda: roofline.infer(M, C, attention_kernel="foo"),
     ("attention_kernel must be one of 'fused', 'materialised', got 'foo'",)),
    (lambda: roofline.infer(M, C, attention_kernel="fusd"), ("did you mean 'fused'?",)),
    (lambda: roofline.infer(M, C, runtime_reserve_bytes=-1e12),
     ("runtime_reserve_bytes must be a finite number in [0, 1e+15] (bytes), got -1e+12",)),
    (lambda: roofline.infer(M, C, batch="8"), ("batch must be", "got '8', not a number")),
    (lambda: roofline.infer(M, C, batch={"a": 1}), ("batch must be", "not a number")),
    (lambda: roofline.infer(M, C, batch=[]), ("batch must be", "got an empty list")),
    (lambda: roofline.infer(M, C, batch=True), ("batch must be", "got True, not a number")),
    (lambda: roofline.infer(M, C, batch=[1, 2, 3], prompt_len=[128, 256]),
     ("prompt_len: batch has 3 values and prompt_len has 2 values",)),
    (lambda: roofline.infer(M, C, tp=1.5), ("tp must be a whole number >= 1",)),
    (lambda: roofline.infer(M, C, mla_absorb="yes"), ("mla_absorb must be True or False",)),
    (lambda: roofline.infer(M, C, efficiency={"matmull": 0.5}),
     ("efficiency: unknown key(s) 'matmull'; use matmul, memory, network",)),
    (lambda: roofline.infer(M, C, efficiency={"matmul": float("nan")}),
     ("efficiency.matmul: must be a number in (0, 1]",)),
    (lambda: roofline.infer(M, C, efficiency=[0.5]), ("efficiency must be a dict",)),
    (lambda: roofline.train(M, C, count=8, seq_len=2048, global_batch=64,
                            dp_overlap=float("nan")),
     ("dp_overlap must be a finite number in [0, 1]",)),
    (lambda: roofline.train(M, C, count=8, seq_len=2048, global_batch=[64, 128],
                            micro_batch=[1, 2, 4]),
     ("micro_batch: global_batch has 2 values and micro_batch has 3 values",)),
    (lambda: roofline.train(M, C, count=8, seq_len=2048, global_batch=64,
                            sequence_parallel="no"), ("sequence_parallel must be True or False",)),
    (lambda: roofline.train(M, C, count=8, seq_len=2048, global_batch=64, master_weights="fp8"),
     ("master_weights must be one of 'fp32', 'bf16', 'none', got 'fp8'",)),
    (lambda: roofline.continuous(M, C, rate=1.0, token_budget=0),
     ("token_budget must be a whole number in [1, 1,000,000,000] (tokens per scheduler "
      "step), got 0",)),
    (lambda: roofline.continuous(M, C, rate=float("nan")),
     ("rate must be a finite number in (0, 1,000,000,000] (requests/s), got nan",)),
    (lambda: roofline.compare(M, "h100"),
     ("chips must be a list of chips", "got str 'h100'", "['h100']")),
    (lambda: roofline.compare(M, []), ("chips is empty",)),
    (lambda: roofline.compare(M, ["h100"], sort_by="cost"), ("sort_by must be one of",)),
    (lambda: roofline.fit(M, C, max_ttft_s=float("nan")), ("max_ttft_s must be",)),
    (lambda: roofline.fit(M, C, purpose="inference"),
     ("purpose must be one of 'serve', 'train', got 'inference'",)),
    (lambda: roofline.fit(M, C, purpose="serv"), ("did you mean 'serve'?",)),
    (lambda: roofline.fit(M, C, count=0), ("count must be a whole number in [1, 10,000,000]",)),
    (lambda: roofline.fit(M, C, count="8"), ("count must be", "got '8', not a number")),
    (lambda: roofline.fit(M, C, count=[]), ("count must be", "got an empty list")),
    (lambda: roofline.context(M, tokens=float("inf")), ("tokens must be a finite number",)),
    (lambda: roofline.context(M, tokens=10, pages=1), ("give tokens or pages, not both",)),
    (lambda: EnergyAssumptions(pue=0.5), ("pue must be a finite number in [1, 5], got 0.5",)),
    (lambda: EnergyAssumptions(grid_kg_co2_per_kwh=-1), ("grid_kg_co2_per_kwh must be",)),
    (lambda: roofline.decode_crossover_batch(M, C, max_batch=0), ("max_batch must be",)),
    (lambda: roofline.sweep(M, C, batch=[], progress=False), ("batch must be", "empty list")),
    (lambda: roofline.sweep([], C), ("models is empty",)),
    (lambda: roofline.sweep(M, C, purpose="train"),
     ("sweep: train sweeps need global_batch, seq_len",)),
    (lambda: roofline.sweep(M, C, batchsize=[1, 2]), ("unknown keyword(s) batchsize",)),
    (lambda: roofline.sweep(M, C, purpose="trian"), ("did you mean 'train'?",)),
    (lambda: roofline.infer(M, C, precision=[1, 2]), ("precision: must be a recipe name",)),
    (lambda: roofline.train(M, C, count=8, seq_len=2048, global_batch=64, recompute=float(
        "nan")), ("recompute codes must be in",)),
    (lambda: roofline.train(M, C, count=8, seq_len=2048, global_batch=64, efficiency=0.5),
     ("efficiency must be a dict of names to values, got 0.5",)),
    (lambda: roofline.context(M, batch=[1, 2]), ("batch must be", "got a list; give one")),
    (lambda: roofline.infer(M, C, batch=None), ("batch must be", "got None")),
    (lambda: roofline.frontier(M, C, count=2, cache_hit=1.0),
     ("cache_hit must be a finite number in [0, 1) (share of prompt tokens cached), got 1",)),
    (lambda: roofline.frontier(M, C, count=2, overlap="yes"), ("overlap must be True or False",)),
    (lambda: roofline.frontier(M, C, count=2.5),
     ("count must be a whole number in [1, 1,000,000]",)),
    (lambda: roofline.serve_at_rate(M, C, rate=1.0, prompt_len=math.inf),
     ("prompt_len must be a finite number in [1, 1,000,000,000] (tokens), got inf",)),
    (lambda: roofline.serve_at_rate(M, C, rate=1.0, tp="2"), ("tp must be", "not a number")),
    (lambda: roofline.serve_at_rate(M, C, rate=1.0, percentile=1),
     ("percentile must be a finite number in [0.5, 1) (quantile of latency), got 1",)),
    (lambda: roofline.search_training_layouts(M, C, 0, seq_len=2048, global_batch=64),
     ("count must be a whole number in [1, 10,000,000] (chips), got 0",)),
    (lambda: roofline.speculative(M, M, C, acceptance=[0.5, 1.5]),
     ("acceptance must be a finite number in [0, 1]", "got 1.5")),
])
def test_library_bad_value_is_a_named_error(call: Any, words: tuple[str, ...]) -> None:
    _raises(call, *words)


def test_a_sweep_flags_rows_where_the_single_answer_refuses() -> None:
    """infer and train flag a degree or batch below 1 per row (a sweep keeps its other
    rows); a single scenario with it is an error naming the field."""
    r = roofline.infer(M, C, batch=[0, 8])
    assert list(r.frame["valid"]) == [False, True]
    assert r.frame["reason"].iloc[0] == "batch must be >= 1"
    _raises(lambda: roofline.infer(M, C, batch=0), "batch must be >= 1")
    _raises(lambda: roofline.infer(M, C, batch=[1, 1e8]), "batch must be a finite number "
            "<= 10,000,000 (sequences), got 100000000")


def test_serving_costs_refuse_negative_utilisation() -> None:
    frame = roofline.infer(M, C).frame
    _raises(lambda: serving_costs(frame, roofline.load_chip(C), utilisation=-1.0),
            "utilisation must be a finite number in (0, 1] (busy share of paid hours), "
            "got -1")
    costs = serving_costs(frame, roofline.load_chip(C), utilisation=0.5)
    full = serving_costs(frame, roofline.load_chip(C), utilisation=1.0)
    assert costs["usd_per_m_output_tokens"][0] == pytest.approx(
        2 * full["usd_per_m_output_tokens"][0])


def test_rule_table_describes_itself() -> None:
    assert RULES["utilisation"].allowed() == ("a finite number in (0, 1] (busy share of paid "
                                              "hours)")
    assert RULES["mla_absorb"].allowed() == "True or False"
    assert Rule(low=0, high=1, low_open=True).violation(np.array([0.5, 1, math.nan])) == \
        "got nan"
    assert Rule(choices=("serve", "train")).violation("serv") == \
        "got 'serv'; did you mean 'serve'?"
    assert Rule(choices=("serve", "train")).violation(["serve"]) == "got ['serve']"
    assert Rule(choices=(0, 1, 2, 3)).violation([]) == "got an empty list"
    assert Rule(kind="flag").violation(np.array([True, False])) is None


def test_checks_pass_good_values_and_collect_every_problem() -> None:
    v = check("compare", {"batch": 8, "max_tpot_s": None, "utilisation": 0.5,
                          "sort_by": "tpot_s"})
    assert v["batch"].dtype == np.float64 and v["max_tpot_s"] is None
    assert v["sort_by"] == "tpot_s"
    err = _raises(lambda: check("fit", {"batch": 0, "count": -1, "max_tpot_s": math.nan}))
    assert [p.field for p in err.problems] == ["batch", "count", "max_tpot_s"]
    err = _raises(lambda: check("fit", {"batch": [1, 2, -3]}), "got -3")
    _raises(lambda: check("fit", {"batch": 1 + 2j}), "not a number")
    _raises(lambda: check("fit", {"batch": np.array([1 + 2j])}), "not a number")
