"""Steady-state continuous batching with chunked prefill, and the decode batch at which
serving turns compute-bound.

Each engine step runs every in-flight decode (one token each) and fills the rest of a
token budget with prompt chunks (vLLM / Sarathi-Serve chunked prefill; Agrawal et al. 2024,
arXiv 2403.02310). At request rate lambda with prompt S_in and output S_out, a steady state
of step time t has n_d = lambda x S_out x t decoding requests and n_p = lambda x S_in x t
prompt tokens per step; t = f(n_d, n_p) is solved by bisection, vectorised over rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from roofline.broadcasting import check_lengths
from roofline.engine.operators.memory import (
    MEMORY_UTILISATION,
    activation_bytes,
    kv_bytes_per_sequence,
    weight_bytes_per_device,
)
from roofline.engine.operators.table import sliding_window
from roofline.engine.scenario.cluster import Cluster, default_cluster
from roofline.engine.scenario.precision import Precision, get_precision
from roofline.engine.scenario.rules import check, check_context
from roofline.engine.scenario.step import AttnWork, Step
from roofline.engine.serving.inference import layout_reasons
from roofline.engine.timing.efficiency import Efficiency, efficiency_for
from roofline.engine.timing.forward import forward_time
from roofline.errors import SpecError
from roofline.results import Result
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

Array = NDArray[np.float64]
BISECTION_STEPS = 60


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def mixed_step_time(m: ModelSpec, p: Precision, cluster: Cluster, eff: Efficiency,
                    n_decode: ArrayLike, n_prefill: ArrayLike, prompt: ArrayLike,
                    output: ArrayLike, tp: ArrayLike = 1, ep: ArrayLike = 1) -> Array:
    """Seconds for one engine step with ``n_decode`` decodes (mean context prompt +
    output/2) and ``n_prefill`` prompt tokens (chunks attending, on average, to half their
    prompt)."""
    w = sliding_window(m)
    s = _a(prompt)
    chunk = AttnWork.prefill(_a(n_prefill) / s, s, 0, w)  # n_p tokens' worth of prompts
    dec = AttnWork.decode(n_decode, s + _a(output) / 2, w)
    step = Step(prefill=chunk, decode=dec)
    return forward_time(m, p, cluster, step, eff, tp, ep, 1).total_s


def prompt_service_s(m: ModelSpec, p: Precision, cluster: Cluster, eff: Efficiency,
                     n_decode: Array, n_prefill: Array, prompt: Array, output: Array,
                     free_budget: Array, tp: Array, ep: Array, overhead_s: float = 0.0
                     ) -> Array:
    """Seconds from a prompt's first chunk to its first token: the ceil(S_in / free budget)
    steps that carry its chunks. Each such step runs the ``n_decode`` decodes, the chunk
    (attending to the chunks before it) and, if the steady state brings more prompt tokens
    per step than the chunk, the others' chunks beside it."""
    w = sliding_window(m)
    chunks = np.ceil(prompt / free_budget)
    c = prompt / chunks
    others = np.maximum(n_prefill - c, 0.0)
    total = np.zeros_like(prompt)
    for j in range(int(np.max(chunks))):
        mine = AttnWork.prefill(1.0, c, j * c, w)
        rest = AttnWork.prefill(others / prompt, prompt, 0, w)
        pre = AttnWork(*(np.asarray(getattr(mine, f.name)) + np.asarray(getattr(rest, f.name))
                         for f in fields(AttnWork)))
        step = Step(prefill=pre, decode=AttnWork.decode(n_decode, prompt + output / 2, w))
        t = overhead_s + forward_time(m, p, cluster, step, eff, tp, ep, 1).total_s
        total = total + np.where(j < chunks, t, 0.0)
    return total


def continuous(model: str | Path | ModelSpec | Mapping[str, Any],
               chip: str | Path | Chip | Mapping[str, Any], *,
               rate: ArrayLike, prompt_len: ArrayLike = 1024, output_len: ArrayLike = 256,
               token_budget: ArrayLike = 8192, precision: str | Precision | None = "native",
               tp: ArrayLike = 1, ep: ArrayLike = 1, mode: str = "expected",
               efficiency: Mapping[str, float] | None = None,
               step_overhead_s: float = 0.0, allow_beyond_context: bool = False) -> Result:
    """Sustained serving of ``rate`` requests/s per replica (arrays broadcast).

    Returns per scenario: ``step_s``, concurrent decodes, prompt tokens per step,
    ``output_tokens_per_s``, ``ttft_s`` (the steps that carry the prompt's
    ceil(S_in / free budget) chunks, :func:`prompt_service_s`, plus M/D/1 queueing for the
    budget), ``tpot_s`` (= step time), ``e2e_s``, KV memory of the
    in-flight requests, whether it is ``sustainable`` (within the token budget and device
    memory) and ``max_rate`` (requests/s at which the budget saturates).
    """
    numbers = {"rate": rate, "prompt_len": prompt_len, "output_len": output_len,
               "token_budget": token_budget, "tp": tp, "ep": ep}
    check_lengths(**numbers)
    m, c = load_model(model), load_chip(chip)
    p = get_precision(precision, m.quantization)
    v = check("continuous", {**numbers, "mode": mode, "step_overhead_s": step_overhead_s,
                             "efficiency": efficiency,
                             "allow_beyond_context": allow_beyond_context},
              single=("step_overhead_s",))
    check_context(m, v["prompt_len"], v["output_len"], allow_beyond_context)
    lam, s, o, budget, tp_, ep_ = (x.reshape(-1) for x in np.broadcast_arrays(
        *(v[k] for k in numbers)))
    reasons = layout_reasons(m, tp_, np.ones_like(tp_), ep_, np.ones_like(tp_))
    if np.any(reasons != ""):
        raise SpecError(f"impossible layout for {m.name}: {reasons[reasons != ''][0]}")
    cluster = default_cluster(c, int(np.max(tp_)))
    eff = efficiency_for(c, "ideal" if mode == "ideal" else "expected", **dict(efficiency or {}))

    def f(t: Array) -> Array:
        return step_overhead_s + mixed_step_time(m, p, cluster, eff, lam * o * t, lam * s * t,
                                                 s, o, tp_, ep_)

    # Saturation: the step that fills the whole budget in steady-state proportions.
    share = o / (s + o)
    t_full = step_overhead_s + mixed_step_time(m, p, cluster, eff, budget * share,
                                               budget * (1 - share), s, o, tp_, ep_)
    max_rate = budget / ((s + o) * t_full)
    # Bisection for t = f(t) on [0, t_full]; f(t) - t is decreasing past the fixed point.
    lo, hi = np.zeros_like(lam), t_full.copy()
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        above = f(mid) > mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    t = hi
    n_d, n_p = lam * o * t, lam * s * t
    free_budget = np.maximum(budget - n_d, 1.0)
    service = prompt_service_s(m, p, cluster, eff, n_d, n_p, s, o, free_budget, tp_, ep_,
                               step_overhead_s)
    # M/D/1 mean wait (Pollaczek-Khinchine) for the prefill capacity: the prompt tokens
    # arriving per step use a share rho of the free budget
    rho = np.clip(n_p / free_budget, 0, 0.999)
    ttft = service + rho / (2 * (1 - rho)) * service
    params = m.params()
    weights = weight_bytes_per_device(m, p, params, tp_)
    kv = (n_d + lam * ttft) * kv_bytes_per_sequence(m, p, s + o, tp_)
    act = activation_bytes(m, p, budget, n_d + 1, tp_)
    mem = weights + kv + act + (1 - MEMORY_UTILISATION) * c.memory.capacity
    sustainable = (lam < max_rate) & (mem <= c.memory.capacity)
    frame = pd.DataFrame({
        "model": m.name, "chip": c.name, "precision": p.label, "rate_per_s": lam,
        "prompt_len": s, "output_len": o, "token_budget": budget, "tp": tp_, "ep": ep_,
        "step_s": t, "concurrent_decodes": n_d, "prefill_tokens_per_step": n_p,
        "output_tokens_per_s": lam * o, "total_tokens_per_s": lam * (s + o),
        "ttft_s": ttft, "tpot_s": t, "e2e_s": ttft + (o - 1) * t,
        "memory_bytes": mem, "capacity_bytes": c.memory.capacity,
        "max_rate_per_s": max_rate, "sustainable": sustainable,
    })
    assumptions = {
        "efficiency": eff.describe(("matmul", "memory")),
        "scheduler": "continuous batching, chunked prefill; decodes first, prompt chunks fill "
                     "the rest of the token budget (vLLM / Sarathi-Serve)",
        "ttft": "the steps that carry the prompt's chunks (each with the steady-state decodes "
                "and the other prompts' tokens, the chunk attending to the ones before it), "
                "plus the M/D/1 wait for the prefill budget (Poisson arrivals)",
        "memory": f"{MEMORY_UTILISATION:.0%} of each device (vLLM gpu_memory_utilization)",
        "step overhead": f"{step_overhead_s * 1e3:g} ms per step (scheduler, launches)",
    }
    return Result(frame, assumptions)


def decode_crossover_batch(model: str | ModelSpec, chip: str | Chip, *, context: float = 2048,
                           precision: str | Precision | None = "native", tp: int = 1,
                           ep: int = 1, max_batch: int = 65536) -> int | None:
    """Smallest decode batch at which the linear layers turn compute-bound (their matmul
    time >= their weight and activation traffic time, ideal roofline), evaluated for every
    batch 1..max_batch in one vectorised call; None if they stay memory-bound.

    Attention over the KV cache is left out: its intensity is set by the query heads per KV
    head, not by the batch, so it stays memory-bound at any batch.
    """
    check("crossover", {"context": context, "tp": tp, "ep": ep, "max_batch": max_batch},
          single=("context", "tp", "ep", "max_batch"))
    m, c = load_model(model), load_chip(chip)
    p = get_precision(precision, m.quantization)
    b = np.arange(1, max_batch + 1, dtype=np.float64)
    step = Step.for_decode(b, context, sliding_window(m))
    ft = forward_time(m, p, default_cluster(c, tp), step, efficiency_for(c, "ideal"), tp, ep)
    linear = [t for t in ft.ops if t.op.kind == "matmul"]
    compute = np.sum(np.broadcast_arrays(*[t.compute_s for t in linear]), axis=0)
    memory = np.sum(np.broadcast_arrays(*[t.memory_s for t in linear]), axis=0)
    hit = np.nonzero(compute >= memory)[0]
    return int(b[hit[0]]) if hit.size else None
