"""Queueing (issue 12): M/G/1 waits and tails, Little's law, and the highest rate meeting
percentile targets, on the engine's own step times."""

import math

import numpy as np
import pytest

from roofline.engine.serving.queueing import max_rate, mg1_wait_s, serve_at_rate, wait_quantile_s
from roofline.errors import SpecError


def test_mg1_is_exact_for_mm1():
    lam, mu = 3.0, 5.0  # exponential service: E[S] = 1/mu, E[S^2] = 2/mu^2
    rho = lam / mu
    assert mg1_wait_s(lam, 1 / mu, 2 / mu**2) == pytest.approx(rho / (mu - lam))
    for q in (0.9, 0.99):  # M/M/1: P(W > t) = rho exp(-(mu - lam) t)
        assert wait_quantile_s(q, lam, 1 / mu, 2 / mu**2) == pytest.approx(
            math.log(rho / (1 - q)) / (mu - lam))
    assert wait_quantile_s(0.9, 0.05, 1.0, 1.0) == 0.0  # rho < 1 - q: most never wait
    # M/D/1 waits half as long as M/M/1 at the same load (Pollaczek-Khinchine)
    assert mg1_wait_s(lam, 1 / mu, 1 / mu**2) == pytest.approx(rho / (mu - lam) / 2)
    assert mg1_wait_s(6.0, 1 / mu, 1 / mu**2) == np.inf


KW = dict(prompt_len=1024, output_len=256, precision="fp8")


def test_latency_grows_with_rate_and_littles_law_holds():
    f = serve_at_rate("llama-3.1-8b", "h100", rate=[1, 10, 30, 1000], **KW).frame
    ok = f[f["stable"]]
    assert len(ok) == 3 and not f["stable"].iloc[-1]
    for col in ("ttft_p90_s", "tpot_s", "decode_batch"):
        assert np.all(np.diff(ok[col]) > 0)
    assert np.allclose(ok["concurrency"], ok["rate_per_s"] * ok["e2e_mean_s"])
    assert (ok["ttft_p90_s"] >= ok["ttft_mean_s"] * 0.9).all()
    assert f["ttft_p90_s"].iloc[-1] == np.inf


def test_prompts_interfere_with_decode_only_when_aggregated():
    kw = dict(rate=25, **KW)
    agg = serve_at_rate("llama-3.1-8b", "h100", **kw).frame.iloc[0]
    dis = serve_at_rate("llama-3.1-8b", "h100", disaggregated=True, **kw).frame.iloc[0]
    assert dis["itl_p90_s"] == dis["tpot_s"]
    assert agg["itl_p90_s"] > 2 * agg["tpot_s"] > 2 * dis["tpot_s"]


def test_max_rate_meets_targets_and_the_next_rate_does_not():
    best = max_rate("llama-3.1-8b", "h100", max_ttft_s=0.5, max_tpot_s=0.02, **KW).frame
    lam = best["rate_per_s"].iloc[0]
    assert best["ttft_p90_s"].iloc[0] <= 0.5 and best["tpot_s"].iloc[0] <= 0.02
    nxt = serve_at_rate("llama-3.1-8b", "h100", rate=lam * 1.1, **KW).frame.iloc[0]
    assert not nxt["stable"] or nxt["tpot_s"] > 0.02 or nxt["ttft_p90_s"] > 0.5
    with pytest.raises(SpecError, match="no arrival rate"):
        max_rate("llama-3.1-8b", "h100", max_tpot_s=1e-6, **KW)
    with pytest.raises(SpecError, match="rate"):
        serve_at_rate("llama-3.1-8b", "h100", rate=0, **KW)
