"""Queueing: TTFT and TPOT percentiles at a Poisson arrival rate, concurrency from the rate
by Little's law, and the highest rate that meets percentile targets.

Prefill is an M/G/1 queue per attention group (requests spread evenly over groups): mean
wait W = lambda E[S^2] / (2 (1 - rho)) (Pollaczek-Khinchine), rho = lambda E[S], and its
tail taken as exponential beyond an atom at zero, P(W > t) = rho exp(-t rho / W), exact for
M/M/1 (Kleinrock 1975, vol. 1, sec. 5.7 and 8.5); the q-quantile is
(W / rho) ln(rho / (1 - q)) when rho > 1 - q, else 0. TTFT_q = service + wait_q.

Decode: n sequences per group in steady state satisfy Little's law, n = lambda x S_out x
TPOT(n) (Little 1961), solved by bisection. In an aggregated pool a step that carries an
arriving prompt takes t_mix instead of t_dec; the share of such steps is
f = lambda t_dec / (1 - lambda (t_mix - t_dec)), a request's TPOT is the mean step
f t_mix + (1 - f) t_dec, and the per-token q-quantile (inter-token latency) is t_mix when
f > 1 - q. A disaggregated decode pool never sees a prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from roofline.engine.scenario.cluster import Cluster
from roofline.engine.scenario.precision import Precision, get_precision
from roofline.engine.scenario.rules import check
from roofline.engine.serving.disaggregation import Workload, kv_transfer_s
from roofline.engine.serving.pool import Layout, Pool, decode_s, max_seqs, mixed_s, prefill_s
from roofline.engine.serving.prefix_cache import exposed_load_s
from roofline.engine.timing.efficiency import efficiency_for
from roofline.errors import SpecError
from roofline.results import Result
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec
from roofline.specs.params import count_params

Array = NDArray[np.float64]
BISECTION_STEPS = 32


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def mg1_wait_s(rate: ArrayLike, mean_s: ArrayLike, second_moment_s2: ArrayLike) -> Array:
    """Mean M/G/1 wait (s), Pollaczek-Khinchine; inf at or past saturation."""
    lam, s, s2 = _a(rate), _a(mean_s), _a(second_moment_s2)
    rho = lam * s
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rho < 1, lam * s2 / (2 * (1 - rho)), np.inf)


def wait_quantile_s(q: float, rate: ArrayLike, mean_s: ArrayLike,
                    second_moment_s2: ArrayLike) -> Array:
    """q-quantile of the M/G/1 wait (s) with an exponential tail beyond the atom at 0."""
    rho = _a(rate) * _a(mean_s)
    w = mg1_wait_s(rate, mean_s, second_moment_s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = w / rho * np.log(rho / (1 - q))
    return np.where(rho >= 1, np.inf, np.where(rho > 1 - q, t, 0.0))


def decode_population(rate: ArrayLike, output: float, step_of: Any, n_max: ArrayLike
                      ) -> tuple[Array, Array]:
    """(sequences per group, mean step s) with n = rate x output x step(n) (Little's law);
    NaN where even ``n_max`` sequences cannot keep up (unstable)."""
    lam, hi = _a(rate), _a(n_max) + 0 * _a(rate)
    lo = np.zeros_like(hi)
    stable = lam * output * step_of(hi) < hi
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        above = lam * output * step_of(mid) > mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    n = np.where(stable, hi, np.nan)
    return n, step_of(np.where(stable, hi, 0.0))


def aggregated_at_rate(pool: Pool, layout: Layout, rate: ArrayLike, w: Workload, q: float,
                       prompt_cv: float) -> dict[str, Array]:
    """Latencies of one aggregated instance at ``rate`` requests/s (Poisson), each prompt
    prefilled in one step beside the running decodes."""
    r = _a(rate) / layout.dp
    ctx = w.decode_context

    def parts(n: Array) -> tuple[Array, Array, Array]:
        t_dec = decode_s(pool, layout, n, ctx)
        t_mix = mixed_s(pool, layout, n, ctx, w.new, w.new)
        f = np.clip(r * t_dec / np.maximum(1 - r * (t_mix - t_dec), 1e-12), 0, 1)
        return t_dec, t_mix, f

    def step_of(n: Array) -> Array:
        t_dec, t_mix, f = parts(n)
        return f * t_mix + (1 - f) * t_dec

    n_max = max_seqs(pool, layout, count_params(pool.model), w.prompt + w.output)
    n, tpot = decode_population(r, w.output, step_of, n_max)
    t_dec, t_mix, f = parts(np.nan_to_num(n))
    s2 = t_mix**2 * (1 + prompt_cv**2)
    ttft_mean = t_mix + mg1_wait_s(r, t_mix, s2)
    ttft_q = t_mix + wait_quantile_s(q, r, t_mix, s2)
    return {"decode_batch": n, "ttft_mean_s": ttft_mean, "ttft_q_s": ttft_q, "tpot_s": tpot,
            "itl_q_s": np.where(f > 1 - q, t_mix, t_dec), "prefill_utilisation": r * t_mix}


def disaggregated_at_rate(pool: Pool, layout_p: Layout, layout_d: Layout, rate: ArrayLike,
                          w: Workload, q: float, prompt_cv: float, prefill_instances: int,
                          decode_instances: int) -> dict[str, Array]:
    """Latencies of x prefill + y decode instances sharing ``rate`` requests/s."""
    lam = _a(rate)
    r_p = lam / (prefill_instances * layout_p.dp)
    s_p = prefill_s(pool, layout_p, 1.0, w.new, w.cached) + 0 * lam
    send = exposed_load_s(kv_transfer_s(pool, layout_p, 1.0, w, False), s_p,
                          pool.model.num_hidden_layers)
    s2 = s_p**2 * (1 + prompt_cv**2)
    r_d = lam / (decode_instances * layout_d.dp)
    n_max = max_seqs(pool, layout_d, count_params(pool.model), w.prompt + w.output)
    n, tpot = decode_population(r_d, w.output,
                                lambda n: decode_s(pool, layout_d, n, w.decode_context), n_max)
    return {"decode_batch": n, "ttft_mean_s": s_p + send + mg1_wait_s(r_p, s_p, s2),
            "ttft_q_s": s_p + send + wait_quantile_s(q, r_p, s_p, s2), "tpot_s": tpot,
            "itl_q_s": tpot, "prefill_utilisation": r_p * s_p}


def serve_at_rate(model: str | Path | ModelSpec | Mapping[str, Any],
                  chip: str | Path | Chip | Mapping[str, Any], *, rate: ArrayLike,
                  prompt_len: float = 1024, output_len: float = 256,
                  precision: str | Precision | Mapping[str, Any] | None = "native",
                  tp: int = 1, dp: int = 1, ep: int = 1, disaggregated: bool = False,
                  prefill_tp: int | None = None, prefill_dp: int | None = None,
                  prefill_ep: int | None = None, prefill_instances: int = 1,
                  decode_instances: int = 1, percentile: float = 0.9,
                  prompt_cv: float = 0.0, cache_hit: float = 0.0) -> Result:
    """TTFT / TPOT (mean and ``percentile``) and concurrency at Poisson ``rate`` requests/s
    (an array) for one aggregated instance (tp x dp chips), or for ``prefill_instances``
    prefill + ``decode_instances`` decode instances when ``disaggregated``.

    ``prompt_cv``: coefficient of variation of the prefill service time (0: equal prompts).
    Rows past saturation (prefill utilisation >= 1 or decode unable to keep up) have
    ``stable`` False and infinite latencies.
    """
    single = {"prompt_len": prompt_len, "output_len": output_len, "tp": tp, "dp": dp,
              "ep": ep, "prefill_tp": prefill_tp, "prefill_dp": prefill_dp,
              "prefill_ep": prefill_ep, "prefill_instances": prefill_instances,
              "decode_instances": decode_instances, "percentile": percentile,
              "prompt_cv": prompt_cv, "cache_hit": cache_hit}
    v = check("serve_at_rate", {"rate": rate, "disaggregated": disaggregated, **single},
              single=single)
    m, c = load_model(model), load_chip(chip)
    p = get_precision(precision, m.quantization)
    lam = v["rate"].reshape(-1)
    w = Workload(float(prompt_len), float(output_len), cache_hit)
    lay = Layout.of(tp, dp, ep)
    lay_p = Layout.of(prefill_tp or tp, prefill_dp or dp, prefill_ep or ep)
    for name, ly in (("decode", lay), ("prefill", lay_p)):
        why = ly.reasons(m).reshape(-1)[0]
        if why:
            raise SpecError(f"impossible {name} layout for {m.name}: {why}")
    chips = lay.chips * decode_instances + (lay_p.chips * prefill_instances if disaggregated
                                            else 0)
    pool = Pool(m, p, Cluster(chip=c, count=int(max(chips, lay_p.chips))), efficiency_for(c))
    out = (disaggregated_at_rate(pool, lay_p, lay, lam, w, percentile, prompt_cv,
                                 prefill_instances, decode_instances) if disaggregated
           else aggregated_at_rate(pool, lay, lam, w, percentile, prompt_cv))
    e2e = out["ttft_mean_s"] + (w.output - 1) * out["tpot_s"]
    stable = np.isfinite(out["decode_batch"]) & (out["prefill_utilisation"] < 1)
    pct = f"p{percentile * 100:g}"
    frame = pd.DataFrame({
        "model": m.name, "chip": c.name, "rate_per_s": lam, "mode": (
            "disaggregated" if disaggregated else "aggregated"), "chips": chips,
        "decode_batch": out["decode_batch"], "ttft_mean_s": out["ttft_mean_s"],
        f"ttft_{pct}_s": out["ttft_q_s"], "tpot_s": out["tpot_s"],
        f"itl_{pct}_s": out["itl_q_s"], "e2e_mean_s": e2e,
        "concurrency": lam * e2e,  # Little's law: requests in the system
        "prefill_utilisation": out["prefill_utilisation"],
        "output_tokens_per_s_per_chip": lam * w.output / chips, "stable": stable})
    unbounded = ["decode_batch", "ttft_mean_s", f"ttft_{pct}_s", "tpot_s", f"itl_{pct}_s",
                 "e2e_mean_s", "concurrency"]
    frame.loc[~stable, unbounded] = np.inf  # the queue grows without bound
    return Result(frame, {
        "arrivals": "Poisson; requests spread evenly over attention groups and instances",
        "prefill queue": "M/G/1 per attention group, Pollaczek-Khinchine mean, exponential "
                         f"tail; prompt service cv {prompt_cv:g}",
        "decode": "Little's law n = rate x output x TPOT(n); aggregated steps that carry a "
                  "prompt take the mixed-step time",
        "percentile": pct})


def max_rate(model: str | Path | ModelSpec | Mapping[str, Any],
             chip: str | Path | Chip | Mapping[str, Any], *,
             max_ttft_s: float | None = None, max_tpot_s: float | None = None,
             percentile: float = 0.9, **kwargs: Any) -> Result:
    """The highest Poisson rate (requests/s) whose ``percentile`` TTFT and mean TPOT meet
    the targets, found on a 3%-step geometric grid of rates (1e-3 to 1e5 requests/s) in one
    vectorised call; the row at that rate (``serve_at_rate``'s columns)."""
    rates = np.geomspace(1e-3, 1e5, 625)
    res = serve_at_rate(model, chip, rate=rates, percentile=percentile, **kwargs)
    f = res.frame
    ok = f["stable"].to_numpy().copy()
    pct = f"p{percentile * 100:g}"
    if max_ttft_s is not None:
        ok &= f[f"ttft_{pct}_s"].to_numpy() <= max_ttft_s
    if max_tpot_s is not None:
        ok &= f["tpot_s"].to_numpy() <= max_tpot_s
    if not ok.any():
        raise SpecError("no arrival rate meets the targets on this layout: relax max_ttft_s "
                        "/ max_tpot_s or add chips")
    # the feasible rates form a prefix of the grid: latencies only grow with the rate
    last = int(np.nonzero(ok)[0].max())
    return Result(f.iloc[[last]].reset_index(drop=True), {
        **res.assumptions, "targets": f"{pct} TTFT <= {max_ttft_s} s, mean TPOT <= "
                                      f"{max_tpot_s} s"})
