"""Capacity answers: fit verdicts and chip counts against hand arithmetic, costs, the chip
comparison, context arithmetic and speculative decoding."""

import math

import numpy as np
import pytest

import roofline
from roofline.cli import main
from roofline.engine.planning.context import pages_to_tokens, tokens_to_pages
from roofline.engine.timing.cost import usd_per_million_tokens
from roofline.specs import catalog


def test_weights_only_minimum_by_hand():
    # 1.76e12 params x 2 bytes over 80 GB chips: at least 44 chips before any KV cache,
    # activations or runtime reserve; with those, the first layout that fits needs more.
    m = roofline.load_model("gpt-4")
    weights = m.params().total * 2
    floor = math.ceil(weights / 80e9)
    assert floor == 44
    r = roofline.fit("gpt-4", "h100")
    assert r.fits and r.frame["min_chips"].iloc[0] >= floor
    per_device = r.assumptions["memory_per_device_bytes"]
    assert sum(per_device.values()) <= 80e9
    # fp8 halves the weights: the floor halves too.
    r8 = roofline.fit("gpt-4", "h100", precision="fp8")
    assert math.ceil(floor / 2) <= r8.frame["min_chips"].iloc[0] < r.frame["min_chips"].iloc[0]


def test_does_not_fit_gives_reason_in_numbers():
    r = roofline.fit("gpt-4", "h100", 32)
    assert not r.fits
    assert r.reason.startswith("weights need 3.52 TB at bf16; 32 x 80 GB leaves -")
    s = r.summary()
    assert s["fits"] is False and s["layout"] is None and s["min_chips"] >= 44


def test_fits_on_512_h100s_with_layout():
    r = roofline.fit("gpt-4", "h100", 512)
    s = r.summary()
    lay = s["layout"]
    assert s["fits"] and 512 % (lay["tp"] * lay["pp"]) == 0
    assert lay["replicas"] == 512 // (lay["tp"] * lay["pp"])
    assert sum(s["memory_per_device_bytes"].values()) <= 80e9
    rejected = r.layouts[~r.layouts["ok"]]
    assert rejected["reason"].str.contains("does not fit").any()
    assert rejected["reason"].str.contains("does not divide the 96 attention heads").any()


def test_latency_target_needs_more_chips():
    loose = roofline.fit("llama-3-70b", "h100").frame["min_chips"].iloc[0]
    tight = roofline.fit("llama-3-70b", "h100", max_tpot_s=0.015).frame["min_chips"].iloc[0]
    assert tight > loose
    assert not roofline.fit("llama-3-70b", "h100", 1, max_tpot_s=0.015).fits


def test_cheaper_price_never_costs_more_per_token():
    prices = np.array([1.0, 2.0, 4.0])
    cost = usd_per_million_tokens(8, prices[:, None], [100.0, 1000.0])
    assert np.all(np.diff(cost, axis=0) > 0)
    # $/h / (tok/s x 3600) x 1e6: 8 chips x $2/h at 1000 tok/s = $4.44 per million.
    assert cost[1, 1] == pytest.approx(8 * 2 / 3.6)


def test_compare_has_a_row_for_every_chip():
    res = roofline.compare("llama-3-8b", batch=4).frame
    assert set(res["chip"]) == {c.name for c in catalog.chips()}
    fitted = res[res["fits"]]
    priced = fitted["usd_per_m_output_tokens"].dropna()
    assert len(priced) >= 15 and (priced > 0).all()
    assert priced.is_monotonic_increasing  # sorted by $ per output token


def test_context_arithmetic():
    assert tokens_to_pages(1000) == pytest.approx(1.5)   # 750 words / 500 per page
    assert pages_to_tokens(tokens_to_pages(12345)) == pytest.approx(12345)
    r = roofline.context("llama-3-8b", "h100", tokens=8192).frame.iloc[0]
    assert r["kv_cache_bytes_per_token"] == 131072
    assert r["kv_cache_bytes_per_sequence"] == 8192 * 131072
    assert r["max_context_tokens"] == 8192  # capped by the model's positions


def test_speculative_decoding_formula_and_speedup():
    t = roofline.expected_tokens_per_step([0.0, 0.5, 0.8, 1.0], 4)
    assert t == pytest.approx([1.0, 1.9375, (1 - 0.8**5) / 0.2, 5.0])
    r = roofline.speculative("llama-3.1-70b", "llama-3.1-8b", "h100", tp=8,
                             acceptance=[0.2, 0.8], draft_len=4).frame
    # High acceptance wins; at 20% the draft's cost outweighs the 1.25 tokens per pass.
    assert r["speedup"].iloc[1] > 1.5 and r["speedup"].iloc[0] < 1.0
    cycle = 4 * r["draft_step_s"] + r["verify_step_s"]
    assert np.allclose(r["tpot_s"], cycle / r["tokens_per_target_step"])


def test_cli_fit_json(capsys):
    import json

    # exit 1: does not fit (docs: 0 fits, 1 does not fit, 2 bad input)
    assert main(["fit", "gpt-4", "h100", "--count", "32", "--purpose", "serve", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["fits"] is False and out["min_chips"] >= 44 and out["layout"] is None
    assert "memory_per_device_bytes" in out and out["reason"].startswith("weights need")


def test_cli_params_json(capsys):
    import json

    assert main(["params", "deepseek-v3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out["total"], int) and isinstance(out["active"], int)
    assert out["total"] == pytest.approx(671e9, rel=0.01)
    assert out["active"] == pytest.approx(37.5e9, rel=0.01)
    assert isinstance(out["embedding"], int)
