"""Training: ``train()`` - step time with its parts, MFU and HFU, memory per device, and
the time, cost and energy of a run, vectorised over layouts (the step model is in
:mod:`roofline.engine.training.step`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.broadcasting import check_lengths
from roofline.engine.operators.memory import RUNTIME_RESERVE_BYTES
from roofline.engine.scenario.cluster import Cluster, default_cluster
from roofline.engine.scenario.precision import Precision, get_precision
from roofline.engine.scenario.rules import check
from roofline.engine.timing.cost import (
    DEFAULT_POWER_UTILISATION,
    DEFAULT_PUE,
    EnergyAssumptions,
    energy_kwh,
    power_note,
)
from roofline.engine.timing.efficiency import (
    Efficiency,
    Mode,
    band_columns,
    efficiency_for,
    uncertainty_band,
)
from roofline.engine.timing.fidelity import fidelity
from roofline.engine.training.flops import (
    RECOMPUTE,
    TOKENS_PER_PARAM,
    model_flops_per_token,
    recompute_flops_per_token,
    utilisation,
)
from roofline.engine.training.layout import training_layout_reasons
from roofline.engine.training.memory import (
    MASTER_BYTES,
    RECOMPUTE_CODES,
    get_optimizer,
    training_memory,
)
from roofline.engine.training.step import step_time
from roofline.errors import Problem, SpecError
from roofline.results import Columns, Result, alias_columns
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.dtypes import Dtype
from roofline.specs.model import ModelSpec

if TYPE_CHECKING:
    import pandas as pd

Array = NDArray[np.float64]
CpMode = Literal["ring", "ulysses"]
AttentionKernel = Literal["flash", "materialised"]


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------------------
# The verb
# --------------------------------------------------------------------------------------

class TrainingResult(Result):
    """Training metrics per configuration (one row each); see :func:`train`."""

    def breakdown(self, index: int = 0) -> pd.Series:
        """Step time of configuration ``index`` by part, seconds."""
        cols = ["compute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s", "pp_comm_s", "bubble_s",
                "dp_comm_s", "optimizer_s"]
        return self.frame.iloc[index][cols].astype(float)

    def memory(self, index: int = 0) -> pd.Series:
        """Memory per device of configuration ``index`` by part, bytes."""
        cols = ["weights_bytes", "gradients_bytes", "optimizer_bytes", "activation_bytes",
                "reserve_bytes"]
        return self.frame.iloc[index][cols].astype(float)


def _codes(values: ArrayLike, table: Mapping[str, int], name: str) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        codes = arr.astype(np.int64)
        if not np.isin(codes, list(table.values())).all():
            raise SpecError([Problem(f"{name} codes must be in {sorted(table.values())}",
                                     field=name)])
        return codes
    flat = [str(x).lower() for x in arr.reshape(-1)]
    bad = sorted({x for x in flat if x not in table})
    if bad:
        raise SpecError([Problem(f"unknown {name} {bad[0]!r}; use one of {', '.join(table)}",
                                 field=name)])
    return np.array([table[x] for x in flat], dtype=np.int64).reshape(arr.shape)


def _train_bytes(p: Precision, master_weights: str) -> tuple[float, float, float]:
    """(weight, gradient, master) bytes per parameter: 16-bit weights and gradients unless
    the recipe computes in fp32 (fp8/fp4 recipes keep 16-bit weights and cast per matmul, as
    Transformer Engine and DeepSeek-V3 do); no master copy when weights are fp32."""
    if master_weights not in MASTER_BYTES:
        raise SpecError([Problem(f"master_weights must be one of {', '.join(MASTER_BYTES)}",
                                 field="master_weights")])
    wb = 4.0 if p.activations in (Dtype.fp32, Dtype.tf32) else 2.0
    master = 0.0 if wb == 4.0 else MASTER_BYTES[master_weights]
    return wb, wb, master


def _evaluate(m: ModelSpec, c: Chip, cluster: Cluster, p: Precision, eff: Efficiency, *,
              count: Array, seq_len: Array, global_batch: Array, micro_batch: Array,
              tp: Array, pp: Array, dp: Array | None, cp: Array, ep: Array, zero: Array,
              recompute: Array, sequence_parallel: Array, interleave: Array,
              dp_overlap: Array, optimizer: str, master_weights: str, cp_mode: CpMode,
              flash: bool, dropout: bool, runtime_reserve_bytes: float
              ) -> tuple[dict[str, Any], tuple[int, ...], NDArray[np.object_]]:
    """Every metric of every configuration (arrays broadcast together)."""
    if dp is None:
        dp = count / (tp * pp * cp)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (
        count, seq_len, global_batch, micro_batch, tp, pp, dp, cp, ep, zero, recompute,
        sequence_parallel, interleave, dp_overlap)), (1,))
    reasons = np.broadcast_to(training_layout_reasons(
        m, count=count, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=micro_batch,
        global_batch=global_batch, seq_len=seq_len, interleave=interleave, cp_mode=cp_mode),
        shape).copy()
    # Chips beyond one scale-up domain talk over the scale-out network: it must exist.
    apart = np.broadcast_to((count > cluster.domain) & (cluster.out_bw <= 0), shape)
    reasons[apart & (reasons == "")] = (f"{c.name} has no scale-out network: at most "
                                        f"{cluster.domain} chip(s) can work together")
    valid = reasons == ""
    opt = get_optimizer(optimizer)
    wb, gb, master = _train_bytes(p, master_weights)
    k_bytes = opt.state_bytes_per_param + master
    microbatches = global_batch / (dp * micro_batch)
    with np.errstate(all="ignore"):
        t = step_time(m, p, cluster, eff, seq_len=seq_len, micro_batch=micro_batch,
                      microbatches=microbatches, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, zero=zero,
                      recompute=recompute, sequence_parallel=sequence_parallel,
                      interleave=interleave, dp_overlap=dp_overlap, count=count,
                      cp_mode=cp_mode, flash=flash, weight_bytes=wb, grad_bytes=gb,
                      optimizer_update_bytes=2 * k_bytes + gb + wb)
        mem = training_memory(m, m.params(), seq_len=seq_len, micro_batch=micro_batch,
                              microbatches=microbatches, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep,
                              zero=zero, recompute=recompute,
                              sequence_parallel=sequence_parallel, interleave=interleave,
                              weight_bytes=wb, grad_bytes=gb, optimizer_bytes=k_bytes,
                              act_bytes=p.activation_bytes, flash=flash, dropout=dropout,
                              reserve_bytes=runtime_reserve_bytes)
        tokens_step = global_batch * seq_len
        step_s = t.total
        mf_tok = model_flops_per_token(m, seq_len)
        rc = np.asarray(recompute)
        rec_tok = np.select([rc == RECOMPUTE_CODES[r] for r in RECOMPUTE],
                            [recompute_flops_per_token(m, seq_len, r, flash=flash)
                             for r in RECOMPUTE])
        model_flops = mf_tok * tokens_step
        hw_flops = (mf_tok + rec_tok) * tokens_step
        peak = c.peak(p.compute_dtype("mlp"))
        ideal_mb = t.compute / np.maximum(microbatches, 1e-300)
        bubble_fraction = t.bubble / (microbatches * t.microbatch)
    cap = c.memory.capacity
    total_mem = mem.total
    out: dict[str, Any] = {
        "model": m.name, "chip": c.name, "precision": p.label, "count": count,
        "seq_len": seq_len, "global_batch": global_batch, "micro_batch": micro_batch,
        "num_microbatches": microbatches, "tp": tp, "pp": pp, "dp": dp, "cp": cp, "ep": ep,
        "zero": zero, "recompute": recompute, "sequence_parallel": sequence_parallel,
        "interleave": interleave,
        "step_time_s": step_s, "compute_s": t.compute, "tp_comm_s": t.tp_comm,
        "cp_comm_s": t.cp_comm, "ep_comm_s": t.ep_comm, "pp_comm_s": t.pp_comm,
        "bubble_s": t.bubble, "dp_comm_s": t.dp_comm, "optimizer_s": t.optimizer,
        "dp_comm_total_s": t.dp_comm_total, "microbatch_compute_s": ideal_mb,
        "bubble_fraction": bubble_fraction,
        "tokens_per_step": tokens_step, "tokens_per_s": tokens_step / step_s,
        "tokens_per_s_per_chip": tokens_step / step_s / count,
        "model_flops_per_token": mf_tok, "flops_per_step": model_flops,
        "hardware_flops_per_step": hw_flops,
        "mfu": utilisation(model_flops, step_s, count, peak),
        "hfu": utilisation(hw_flops, step_s, count, peak),
        "weights_bytes": mem.weights, "gradients_bytes": mem.gradients,
        "optimizer_bytes": mem.optimizer, "activation_bytes": mem.activations,
        "reserve_bytes": mem.reserve, "memory_bytes": total_mem, "capacity_bytes": cap,
        "memory_fraction": total_mem / cap, "fits": valid & (total_mem <= cap),
        "peak_memory_stage": np.where(mem.stage > 0, "last", "first"),
    }
    return out, shape, reasons


_NUMERIC_OUT = ("step_time_s", "compute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s", "pp_comm_s",
                "bubble_s", "dp_comm_s", "optimizer_s", "dp_comm_total_s",
                "microbatch_compute_s", "bubble_fraction", "tokens_per_s",
                "tokens_per_s_per_chip", "mfu", "hfu", "weights_bytes", "gradients_bytes",
                "optimizer_bytes", "activation_bytes", "memory_bytes", "memory_fraction",
                "flops_per_step", "hardware_flops_per_step")


def _mask_invalid(out: dict[str, Any], shape: tuple[int, ...], valid: NDArray[np.bool_]
                  ) -> None:
    """Invalid layouts get NaN metrics (their ``reason`` says why)."""
    if valid.all():
        return
    for k in _NUMERIC_OUT:
        out[k] = np.where(valid, np.broadcast_to(_a(out[k]), shape), np.nan)


def train(model: str | Path | ModelSpec | Mapping[str, Any],
          chip: str | Path | Chip | Mapping[str, Any] | Cluster, *,
          seq_len: ArrayLike, global_batch: ArrayLike, count: ArrayLike | None = None,
          micro_batch: ArrayLike = 1, tp: ArrayLike = 1,
          pp: ArrayLike = 1, dp: ArrayLike | None = None, cp: ArrayLike = 1,
          ep: ArrayLike = 1, zero: ArrayLike = 1, optimizer: str = "adam",
          master_weights: str = "fp32", recompute: ArrayLike = "selective",
          sequence_parallel: ArrayLike = True, interleave: ArrayLike = 1,
          cp_mode: CpMode = "ring", attention_kernel: AttentionKernel = "flash",
          dropout: bool = False, dp_overlap: ArrayLike = 0.9,
          precision: str | Precision | Mapping[str, Any] | None = "bf16",
          mode: Mode = "expected", efficiency: Mapping[str, float] | None = None,
          tokens: float | None = None, usd_per_chip_hour: float | None = None,
          pue: float = DEFAULT_PUE, utilisation_power: float = DEFAULT_POWER_UTILISATION,
          energy: EnergyAssumptions | None = None, cluster: Cluster | None = None,
          runtime_reserve_bytes: float = RUNTIME_RESERVE_BYTES) -> TrainingResult:
    """Train ``model`` on ``count`` chips; every layout input may be an array or list.

    Layout: ``tp`` x ``cp`` x ``dp`` x ``pp`` = ``count`` (``dp`` derived when not given),
    ``ep`` inside ``dp``, ``micro_batch`` sequences per micro-batch, ``global_batch``
    sequences of ``seq_len`` tokens per step, ZeRO stage ``zero`` (0-3; 3 = FSDP),
    ``recompute`` none / selective / full, ``interleave`` virtual stages per device.

    Returns one row per configuration (SI units): ``step_time_s`` and its parts
    (``compute_s``, ``tp_comm_s``, ``cp_comm_s``, ``ep_comm_s``, ``pp_comm_s``,
    ``bubble_s``, ``dp_comm_s``, ``optimizer_s``), ``tokens_per_s``, ``mfu`` and ``hfu``
    (PaLM app. B), ``flops_per_step`` (model FLOPs), memory per device by part
    (``weights_bytes``, ``gradients_bytes``, ``optimizer_bytes``, ``activation_bytes``,
    ``reserve_bytes``, ``memory_bytes``) and ``fits``; for a run of ``tokens`` tokens
    ``total_time_s``, ``chip_hours``, ``cost_usd`` (when a price is known) and
    ``energy_kwh``. ``valid`` and ``reason`` flag impossible layouts (a single configuration
    raises :class:`SpecError` instead: all inputs scalars). Assumptions are listed in
    ``assumptions``.
    """
    check_lengths(seq_len=seq_len, global_batch=global_batch, count=count,
                  micro_batch=micro_batch, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, zero=zero,
                  recompute=recompute, sequence_parallel=sequence_parallel,
                  interleave=interleave, dp_overlap=dp_overlap)
    m = load_model(model)
    if isinstance(chip, Cluster):
        cluster = chip
    c = cluster.chip if cluster is not None else load_chip(chip)  # type: ignore[arg-type]
    if count is None:
        if cluster is None:
            raise SpecError([Problem("count (number of chips) is required", field="count")])
        count = cluster.count
    p = get_precision(precision, m.quantization)
    check("train", {  # every input's range, once (scenario/rules.py)
        "mode": mode, "cp_mode": cp_mode, "attention_kernel": attention_kernel,
        "dp_overlap": dp_overlap, "zero": zero, "count": count, "seq_len": seq_len,
        "global_batch": global_batch, "micro_batch": micro_batch, "tp": tp, "pp": pp,
        "dp": dp, "cp": cp, "ep": ep, "interleave": interleave, "tokens": tokens,
        "usd_per_chip_hour": usd_per_chip_hour, "pue": pue,
        "utilisation_power": utilisation_power, "runtime_reserve_bytes": runtime_reserve_bytes})
    ov, zero_ = _a(dp_overlap), _a(zero)
    rc = _codes(recompute, RECOMPUTE_CODES, "recompute")
    sp = np.asarray(sequence_parallel, dtype=bool)
    n = _a(count)
    if cluster is None:
        cluster = default_cluster(c, int(max(1, np.max(n))))
    eff = efficiency_for(c, mode, **dict(efficiency or {}))
    e = energy or EnergyAssumptions(pue=pue, power_utilisation=utilisation_power)
    flash = attention_kernel == "flash"
    out, shape, reasons = _evaluate(
        m, c, cluster, p, eff, count=n, seq_len=_a(seq_len), global_batch=_a(global_batch),
        micro_batch=_a(micro_batch), tp=_a(tp), pp=_a(pp),
        dp=None if dp is None else _a(dp), cp=_a(cp), ep=_a(ep), zero=zero_, recompute=rc,
        sequence_parallel=sp, interleave=_a(interleave), dp_overlap=ov,
        optimizer=optimizer, master_weights=master_weights, cp_mode=cp_mode, flash=flash,
        dropout=dropout, runtime_reserve_bytes=runtime_reserve_bytes)
    scalar = all(np.ndim(x) == 0 for x in (
        n, seq_len, global_batch, micro_batch, tp, pp, cp, ep, zero_, rc, sp, interleave, ov,
        0 if dp is None else dp))
    if scalar and reasons.reshape(-1)[0]:
        raise SpecError(f"impossible training layout for {m.name} on {c.name}: "
                        f"{reasons.reshape(-1)[0]}")
    valid = reasons == ""
    _mask_invalid(out, shape, valid)
    out["recompute"] = np.array(RECOMPUTE)[np.broadcast_to(rc, shape)]
    out["layout"] = _layout_strings(out, shape)
    assumptions = _assumptions(m, c, cluster, p, eff, optimizer, master_weights, cp_mode,
                               attention_kernel, dropout, runtime_reserve_bytes)
    _run_totals(out, m, c, e, tokens, usd_per_chip_hour, assumptions)
    # Uncertainty band (step_time_low_s / _high_s, low_tokens_per_s / high_..., mfu_low / _high)
    # from the calibration residuals of published training runs (docs/validation.md).
    out.update(band_columns(out, "training", mode=mode, times=("step_time_s",),
                            rates=("tokens_per_s", "tokens_per_s_per_chip", "mfu")))
    assumptions["uncertainty band"] = uncertainty_band("training").source
    assumptions["fidelity"] = fidelity("training", c, m, mode=mode, count=float(np.max(n))).text
    out["valid"] = valid
    out["reason"] = reasons
    typed_chip = chip.chip.name if isinstance(chip, Cluster) else chip
    return TrainingResult(Columns(alias_columns(out, model=model, chip=typed_chip), shape),
                          assumptions)


def _layout_strings(out: Mapping[str, Any], shape: tuple[int, ...]) -> NDArray[np.str_]:
    """``"tp8 pp4 dp64 cp1 ep8 mb1 zero1 selective"`` per configuration (vectorised: each
    component's distinct values are formatted once, then joined by numpy string ufuncs)."""
    parts = []
    for key, tag in (("tp", "tp"), ("pp", "pp"), ("dp", "dp"), ("cp", "cp"), ("ep", "ep"),
                     ("micro_batch", "mb"), ("zero", "zero")):
        vals = np.broadcast_to(_a(out[key]), shape).reshape(-1)
        uniq, inv = np.unique(vals, return_inverse=True)
        parts.append(np.array([f"{tag}{v:g} " for v in uniq])[inv.reshape(-1)])
    parts.append(np.broadcast_to(np.asarray(out["recompute"]), shape).reshape(-1).astype(str))
    text = parts[0]
    for part in parts[1:]:
        text = np.char.add(text, part)
    return text.reshape(shape)


def _run_totals(out: dict[str, Any], m: ModelSpec, c: Chip, e: EnergyAssumptions,
                tokens: float | None, usd_per_chip_hour: float | None,
                assumptions: dict[str, Any]) -> None:
    """Time, chip-hours, cost and energy of training on ``tokens`` tokens."""
    if tokens is None:
        tokens = TOKENS_PER_PARAM * m.params().total
        assumptions["tokens"] = (f"not given: {TOKENS_PER_PARAM:g} tokens per parameter x "
                                 f"{m.params().total:.4g} parameters = {tokens:.4g} tokens "
                                 "(Hoffmann et al. 2022's compute-optimal ratio); pass "
                                 "tokens= for your run")
    else:
        if not tokens > 0:
            raise SpecError([Problem("tokens must be > 0", field="tokens")])
        assumptions["tokens"] = f"{tokens:.4g} training tokens (given)"
    steps = tokens / _a(out["tokens_per_step"])
    total = steps * _a(out["step_time_s"])
    chip_hours = total * _a(out["count"]) / 3600.0
    out.update({"tokens": tokens, "steps": steps, "total_time_s": total,
                "chip_hours": chip_hours, "training_flops": tokens * _a(
                    out["model_flops_per_token"])})
    price = usd_per_chip_hour if usd_per_chip_hour is not None else (
        c.price.usd_per_chip_hour if c.price else None)
    if usd_per_chip_hour is not None and not usd_per_chip_hour > 0:
        raise SpecError([Problem("usd_per_chip_hour must be > 0", field="usd_per_chip_hour")])
    if price is None:
        assumptions["cost"] = (f"omitted: {c.name} has no price in hardware_specs/ and "
                               "usd_per_chip_hour was not given")
    else:
        out["usd_per_chip_hour"] = price
        out["cost_usd"] = chip_hours * price
        assumptions["cost"] = (f"${price:g} per chip-hour ("
                               + ("given" if usd_per_chip_hour is not None else
                                  f"{c.price.provider}, {c.price.date}")  # type: ignore[union-attr]
                               + "), chips x total time")
    if c.power_per_chip() is None:
        assumptions["energy"] = f"omitted: {c.name} has no TDP in hardware_specs/"
    else:
        out["energy_kwh"] = energy_kwh(c, out["count"], total / 3600.0, e)
        out["energy_j"] = out["energy_kwh"] * 3.6e6
        assumptions["energy"] = (f"chips x {power_note(c)} x {e.power_utilisation:.0%} "
                                 f"utilisation x PUE {e.pue:g} x total time")
        if e.grid_kg_co2_per_kwh is not None:
            out["co2_kg"] = out["energy_kwh"] * e.grid_kg_co2_per_kwh
            assumptions["energy"] += f"; grid {e.grid_kg_co2_per_kwh:g} kg CO2e/kWh"


def _assumptions(m: ModelSpec, c: Chip, cluster: Cluster, p: Precision, eff: Efficiency,
                 optimizer: str, master_weights: str, cp_mode: str, kernel: str,
                 dropout: bool, reserve: float) -> dict[str, Any]:
    opt = get_optimizer(optimizer)
    wb, _, master = _train_bytes(p, master_weights)
    peak_dtype = c.resolve_dtype(p.compute_dtype("mlp"))
    return {
        "efficiency": eff.describe(),
        "precision": f"{p.label}: matmuls in {peak_dtype.value}; weights and gradients "
                     f"{wb:g} B, master weights {master:g} B ({master_weights}), "
                     f"activations {p.activation_bytes:g} B per element",
        "optimizer": f"{opt.label}: {opt.state_bytes_per_param:g} B of state per parameter",
        "layout": "rank = t + tp(c + cp(d + dp p)): tp innermost (stride 1), then cp, dp "
                  "(ep = consecutive dp ranks), pp outermost; chips fill scale-up domains "
                  f"of {cluster.domain} in rank order",
        "network": f"scale-up {cluster.up_bw:.4g} B/s, scale-out {cluster.out_bw:.4g} B/s per "
                   "chip per direction; alpha-beta ring collectives, hierarchical across "
                   "domains (collectives.py)",
        "pipeline": "1F1B; bubble (pp - 1)/interleave micro-batch times (Narayanan et al. "
                    "2021); the last stage (its layers and the LM head) sets the pace",
        "overlap": "TP, EP and pipeline sends on the critical path; ring-attention KV "
                   "passing hidden behind attention; data-parallel reduction and ZeRO "
                   "gathers hidden up to dp_overlap behind backward / forward compute",
        "recompute": "full: every layer's forward again; selective: the attention core "
                     "again (Korthikanti et al. 2022); FlashAttention's backward recomputes "
                     "QK^T itself",
        "attention": f"{kernel} kernel; context parallelism {cp_mode}; dropout "
                     f"{'on' if dropout else 'off'}",
        "mfu": "model FLOPs per token = 3 x forward matmul + attention FLOPs over the full "
               "T x T rectangle (PaLM's 6N + 12LHQT, N without the embedding lookup); HFU "
               f"adds recomputation; peak = {c.name} dense {peak_dtype.value}",
        "memory": "the larger of the first stage (embedding, in-flight micro-batches) and "
                  f"the last (LM head, logits); runtime reserve {reserve / 2**30:.2g} GiB",
    }
