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
from roofline.engine.training.describe import assumptions as describe
from roofline.engine.training.describe import layout_strings
from roofline.engine.training.flops import (
    RECOMPUTE,
    TOKENS_PER_PARAM,
    model_flops_per_token,
    recompute_flops_per_token,
    utilisation,
)
from roofline.engine.training.layout import training_layout_reasons
from roofline.engine.training.memory import (
    RECOMPUTE_CODES,
    get_optimizer,
    training_memory,
)
from roofline.engine.training.recipe import MoeOverlap, train_bytes
from roofline.engine.training.schedules import SCHEDULE_CODES, SCHEDULES
from roofline.engine.training.step import step_time
from roofline.errors import Problem, SpecError
from roofline.results import Columns, Labels, Result, alias_columns
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
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
        if arr.size == 0 or not np.isin(arr, list(table.values())).all():  # NaN, 1.5 too
            raise SpecError([Problem(f"{name} codes must be in {sorted(table.values())}",
                                     field=name)])
        return arr.astype(np.int64)
    flat = [str(x).lower() for x in arr.reshape(-1)]
    bad = sorted({x for x in flat if x not in table})
    if bad:
        raise SpecError([Problem(f"unknown {name} {bad[0]!r}; use one of {', '.join(table)}",
                                 field=name)])
    return np.array([table[x] for x in flat], dtype=np.int64).reshape(arr.shape)


def _evaluate(m: ModelSpec, c: Chip, cluster: Cluster, p: Precision, eff: Efficiency, *,
              count: Array, seq_len: Array, global_batch: Array, micro_batch: Array,
              tp: Array, pp: Array, dp: Array | None, cp: Array, ep: Array, zero: Array,
              recompute: Array, sequence_parallel: Array, interleave: Array,
              dp_overlap: Array, optimizer: str, master_weights: str, cp_mode: CpMode,
              flash: bool, dropout: bool, runtime_reserve_bytes: float, ov: MoeOverlap
              ) -> tuple[dict[str, Any], tuple[int, ...], NDArray[np.object_]]:
    """Every metric of every configuration (arrays broadcast together)."""
    if dp is None:
        dp = count / (tp * pp * cp)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (
        count, seq_len, global_batch, micro_batch, tp, pp, dp, cp, ep, zero, recompute,
        sequence_parallel, interleave, dp_overlap, ov.schedule, ov.comm_overlap)), (1,))
    reasons = np.broadcast_to(training_layout_reasons(
        m, count=count, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=micro_batch,
        global_batch=global_batch, seq_len=seq_len, interleave=interleave, cp_mode=cp_mode,
        schedule=ov.schedule), shape).copy()
    # Chips beyond one scale-up domain talk over the scale-out network: it must exist.
    apart = np.broadcast_to((count > cluster.domain) & (cluster.out_bw <= 0), shape)
    reasons[apart & (reasons == "")] = (f"{c.name} has no scale-out network: at most "
                                        f"{cluster.domain} chip(s) can work together")
    valid = reasons == ""
    opt = get_optimizer(optimizer)
    wb, gb, master = train_bytes(p, master_weights, ov.grad_dtype)
    k_bytes = opt.state_bytes_per_param + master
    microbatches = global_batch / (dp * micro_batch)
    disp = ov.dispatch_bytes(p)
    with np.errstate(all="ignore"):
        t = step_time(m, p, cluster, eff, seq_len=seq_len, micro_batch=micro_batch,
                      microbatches=microbatches, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, zero=zero,
                      recompute=recompute, sequence_parallel=sequence_parallel,
                      interleave=interleave, dp_overlap=dp_overlap, count=count,
                      cp_mode=cp_mode, flash=flash, weight_bytes=wb, grad_bytes=gb,
                      optimizer_update_bytes=2 * k_bytes + gb + wb, schedule=ov.schedule,
                      comm_overlap=ov.comm_overlap, dispatch_bytes=disp,
                      node_limit=ov.node_limit,
                      mtp_layers=m.num_nextn_predict_layers if ov.mtp else 0)
        mem = training_memory(m, m.params(), seq_len=seq_len, micro_batch=micro_batch,
                              microbatches=microbatches, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep,
                              zero=zero, recompute=recompute,
                              sequence_parallel=sequence_parallel, interleave=interleave,
                              weight_bytes=wb, grad_bytes=gb, optimizer_bytes=k_bytes,
                              act_bytes=p.activation_bytes, flash=flash, dropout=dropout,
                              reserve_bytes=runtime_reserve_bytes,
                              dualpipe=ov.schedule == SCHEDULE_CODES["dualpipe"],
                              fp8_cache=disp is not None, mtp=ov.mtp)
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
        "interleave": interleave, "schedule": ov.schedule, "comm_overlap": ov.comm_overlap,
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
        "peak_memory_stage": Labels(
            np.broadcast_to(mem.stage > 0, shape).reshape(-1).astype(np.int8),
            ("first", "last")),
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
          runtime_reserve_bytes: float = RUNTIME_RESERVE_BYTES,
          schedule: ArrayLike = "1f1b", comm_overlap: ArrayLike = 1.0,
          grad_dtype: str = "fp32", dispatch: str = "auto",
          node_limit: int | None = None, mtp: bool = True) -> TrainingResult:
    """Train ``model`` on ``count`` chips; every layout input may be an array or list.

    Layout: ``tp`` x ``cp`` x ``dp`` x ``pp`` = ``count`` (``dp`` derived when not given),
    ``ep`` inside ``dp``, ``micro_batch`` sequences per micro-batch, ``global_batch``
    sequences of ``seq_len`` tokens per step, ZeRO stage ``zero`` (0-3; 3 = FSDP),
    ``recompute`` none / selective / full, ``interleave`` virtual stages per device.
    ``schedule``: ``1f1b``, ``1f1b-overlap`` or ``dualpipe``
    (:mod:`~roofline.engine.training.schedules`), hiding a share ``comm_overlap`` (0-1) of
    the expert and pipeline communication they can overlap. ``grad_dtype``: gradients
    accumulated and reduced in ``fp32`` (Megatron-LM's default for bf16) or ``bf16``.
    ``dispatch``: expert dispatch in ``fp8``, ``bf16`` or ``auto`` (fp8 when the experts
    compute in fp8); ``node_limit``: scale-up domains a token's experts may span
    (DeepSeek-V3: 4). ``mtp``: train the model's multi-token-prediction modules
    (``num_nextn_predict_layers``), as DeepSeek-V3's pre-training does; their FLOPs are
    not in the model FLOPs of MFU.

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
                  interleave=interleave, dp_overlap=dp_overlap, schedule=schedule,
                  comm_overlap=comm_overlap)
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
        "utilisation_power": utilisation_power, "runtime_reserve_bytes": runtime_reserve_bytes,
        "dropout": dropout, "master_weights": master_weights, "efficiency": efficiency,
        "sequence_parallel": sequence_parallel, "comm_overlap": comm_overlap,
        "grad_dtype": grad_dtype, "dispatch": dispatch, "node_limit": node_limit},
        single=("tokens", "usd_per_chip_hour", "pue", "utilisation_power",
                "runtime_reserve_bytes", "node_limit"))
    ov, zero_ = _a(dp_overlap), _a(zero)
    rc = _codes(recompute, RECOMPUTE_CODES, "recompute")
    sc = _codes(schedule, SCHEDULE_CODES, "schedule")
    co = _a(comm_overlap)
    moe_ov = MoeOverlap(sc, co, grad_dtype, dispatch, node_limit, bool(mtp))
    sp = np.asarray(sequence_parallel, dtype=bool)
    n = _a(count)
    if cluster is None:
        cluster = default_cluster(c, int(max(1, np.max(n))))
    eff = efficiency_for(c, mode, **dict(efficiency or {}))
    e = energy or EnergyAssumptions(pue=pue, power_utilisation=utilisation_power)
    flash = attention_kernel == "flash"
    # rows with a degree below 1 (tp=0 in a sweep) divide by zero here; their reason
    # flags them and their metrics are masked to NaN below
    with np.errstate(divide="ignore", invalid="ignore"):
        out, shape, reasons = _evaluate(
            m, c, cluster, p, eff, count=n, seq_len=_a(seq_len),
            global_batch=_a(global_batch), micro_batch=_a(micro_batch), tp=_a(tp), pp=_a(pp),
            dp=None if dp is None else _a(dp), cp=_a(cp), ep=_a(ep), zero=zero_,
            recompute=rc, sequence_parallel=sp, interleave=_a(interleave), dp_overlap=ov,
            optimizer=optimizer, master_weights=master_weights, cp_mode=cp_mode,
            flash=flash, dropout=dropout, runtime_reserve_bytes=runtime_reserve_bytes,
            ov=moe_ov)
    scalar = all(np.ndim(x) == 0 for x in (
        n, seq_len, global_batch, micro_batch, tp, pp, cp, ep, zero_, rc, sp, interleave, ov,
        sc, co, 0 if dp is None else dp))
    if scalar and reasons.reshape(-1)[0]:
        raise SpecError(f"impossible training layout for {m.name} on {c.name}: "
                        f"{reasons.reshape(-1)[0]}")
    valid = reasons == ""
    _mask_invalid(out, shape, valid)
    rc_flat = np.broadcast_to(rc, shape).reshape(-1)
    sc_flat = np.broadcast_to(sc, shape).reshape(-1)
    out["layout"] = layout_strings(out, shape, rc_flat, sc_flat)
    out["recompute"] = Labels(rc_flat.astype(np.int8), tuple(RECOMPUTE))
    out["schedule"] = Labels(sc_flat.astype(np.int8), tuple(SCHEDULES))
    assumptions = describe(m, c, cluster, p, eff, moe_ov, optimizer, master_weights, cp_mode,
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
