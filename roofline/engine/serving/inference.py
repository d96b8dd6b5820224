"""Serving: time to first token, time per output token, throughput and memory per device
for a static batch, vectorised over any numeric input.

Layout of one serving replica: ``tp`` x ``dp`` x ``pp`` chips. Each of the ``pp`` stages
holds whole layers (the largest ceil(L/pp)) on ``dp`` attention groups of ``tp`` chips:
tensor parallelism shards attention heads and dense FFNs inside a group, and each group
serves its own ``batch / dp`` sequences and caches only their KV (data-parallel attention,
DeepSeek-V3 sec. 3.4, SGLang ``--enable-dp-attention``). Routed experts are spread over all
``tp x dp`` chips of a stage, ``ep`` ways by expert (``ep`` divides ``tp x dp``; it need not
divide tp) and tensor-split over the rest, with DeepEP-style dispatch and combine
(:mod:`~roofline.engine.network.moe_comm`) and the load of the busiest expert-parallel rank;
``tbo`` overlaps that exchange with compute over two micro-batches. The batch is split into
``pp`` micro-batches so every stage stays busy (a batch smaller than pp leaves stages idle).
``count`` chips hold ``count / (tp x dp x pp)`` independent replicas. Memory: a share
``memory_utilisation`` of the device (vLLM's gpu_memory_utilization, 0.9) holds weights, KV
cache and the transient activations of one scheduler step of at most ``token_budget``
tokens; ``max_batch`` is what the KV blocks then admit.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.memory import MEMORY_UTILISATION, TOKEN_BUDGET
from roofline.engine.operators.table import operator_table, sliding_window
from roofline.engine.scenario.cluster import MAX_CHIPS, Cluster, default_cluster
from roofline.engine.scenario.precision import Precision
from roofline.engine.scenario.rules import beyond_context
from roofline.engine.scenario.scenario import ServingScenario, serving_scenario
from roofline.engine.scenario.step import Step
from roofline.engine.serving.memory import memory_columns, memory_note
from roofline.engine.timing.efficiency import (
    Efficiency,
    Mode,
    band_columns,
    efficiency_for,
    uncertainty_band,
)
from roofline.engine.timing.fidelity import fidelity
from roofline.engine.timing.forward import ForwardTime, forward_time
from roofline.engine.timing.roofline import OpTime
from roofline.errors import SpecError
from roofline.results import Columns, Labels, Result, alias_columns, plotting, variant
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

if TYPE_CHECKING:
    import pandas as pd

Array = NDArray[np.float64]
Kernel = Literal["fused", "materialised"]


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def layout_reasons(m: ModelSpec, tp: ArrayLike, pp: ArrayLike, ep: ArrayLike,
                   batch: ArrayLike, dp: ArrayLike = 1) -> NDArray[np.object_]:
    """Why each serving layout is impossible ('' where it is valid), vectorised."""
    tp, pp, ep, batch, dp = np.broadcast_arrays(_a(tp), _a(pp), _a(ep), _a(batch), _a(dp))
    reasons = np.full(tp.shape, "", dtype=object)
    flagged = np.zeros(tp.shape, dtype=bool)

    def flag(bad: Array, text: str | Callable[[float], str]) -> None:
        take = np.asarray(bad, dtype=bool) & ~flagged
        if not take.any():
            return
        flagged[take] = True
        if isinstance(text, str):
            reasons[take] = text
            return
        for v in np.unique(tp[take]):  # messages that name the offending degree
            reasons[take & (tp == v)] = text(v)

    for name, v in (("tp", tp), ("pp", pp), ("ep", ep), ("dp", dp)):
        flag((v < 1) | (v != np.round(v)), f"{name} must be a whole number >= 1")
    flag(batch < 1, "batch must be >= 1")
    a = m.attention
    if a is not None:
        heads = a.num_attention_heads
        flag(heads % np.maximum(tp, 1) != 0,
             lambda v: f"tp={v:g} does not divide the {heads} attention heads")
        if m.mla is None:
            kv = a.kv_heads
            flag((kv % np.maximum(tp, 1) != 0) & (np.maximum(tp, 1) % kv != 0),
                 f"tp must divide, or be a multiple of, the {kv} KV heads")
    if m.ssm is not None:
        d = int(m.ssm.expand * m.hidden_size)
        flag(d % np.maximum(tp, 1) != 0, f"tp must divide the SSM inner width {d}")
    flag(pp > m.num_hidden_layers, f"pp exceeds the {m.num_hidden_layers} layers")
    flag(tp * dp * pp > MAX_CHIPS, f"tp x dp x pp exceeds {MAX_CHIPS:,} chips")
    if m.moe is None:
        flag(ep > 1, "ep > 1 needs a mixture-of-experts model")
        flag(dp > 1, "dp > 1 (data-parallel attention inside a replica) needs a "
                     "mixture-of-experts model; use more replicas")
    else:
        flag(np.maximum(tp * dp, 1) % np.maximum(ep, 1) != 0,
             "ep must divide tp x dp (experts are spread over the tp x dp chips of a stage)")
        flag(m.moe.num_experts % np.maximum(ep, 1) != 0,
             f"ep must divide the {m.moe.num_experts} experts")
    return reasons


@dataclass(frozen=True)
class Phase:
    """Forward-pass timing of one phase in ideal and expected mode."""

    ideal: ForwardTime
    expected: ForwardTime


def _phase(m: ModelSpec, p: Precision, cluster: Cluster, step: Step, effs: tuple[Efficiency, ...],
           tp: Array, ep: Array, pp: Array, kernel: Kernel, mla_absorb: bool | None,
           moe: Mapping[str, Any]) -> Phase:
    ops = operator_table(m, p, step, tp, ep, fused_attention=kernel == "fused",
                         mla_absorb=mla_absorb)
    ideal, expected = (forward_time(m, p, cluster, step, e, tp, ep, pp, ops=ops, **moe)
                       for e in effs)
    return Phase(ideal, expected)


def op_frame(timed: list[OpTime], index: int = 0, step_s: ArrayLike | None = None
             ) -> pd.DataFrame:
    """Per-operator table of one scenario: FLOPs, bytes, intensity, times and bound; with
    ``step_s`` (the whole forward pass, seconds, communication included), ``step_share``:
    the operator's share of it (0-1)."""
    rows = []

    def at(x: Any) -> float:
        arr = np.asarray(x, dtype=np.float64)
        flat = arr.reshape(-1)
        return float(flat[index] if flat.size > 1 else flat[0])

    step = at(step_s) if step_s is not None else float("nan")
    for t in timed:
        flops, byts = at(t.op.flops), at(t.op.bytes)
        compute, memory = at(t.compute_s), at(t.memory_s)
        rows.append({
            "operator": t.op.name, "layers": t.op.layers, "dtype": t.op.dtype.value,
            "flops": flops, "weight_bytes": at(t.op.weight_bytes),
            "activation_bytes": at(t.op.act_bytes), "kv_bytes": at(t.op.kv_bytes),
            "bytes": byts, "intensity_flop_per_byte": flops / byts if byts else float("inf"),
            "compute_s": compute, "memory_s": memory, "time_s": max(compute, memory),
            "bound": "compute" if compute >= memory else "memory",
            "step_share": max(compute, memory) / step if step > 0 else float("nan"),
        })
    import pandas as pd

    return pd.DataFrame(rows)


class InferenceResult(Result):
    """Serving metrics per scenario, with per-operator tables for prefill and decode."""

    def __init__(self, frame: pd.DataFrame, assumptions: dict[str, Any], prefill: Phase,
                 decode: Phase, model: ModelSpec, chip: Chip) -> None:
        super().__init__(frame, assumptions)
        self._phases = {"prefill": prefill, "decode": decode}
        self.model, self.chip = model, chip
        self._operators: dict[tuple[str, str, int], pd.DataFrame] = {}

    def operators(self, phase: Literal["prefill", "decode"] = "decode",
                  mode: Mode = "expected", index: int = 0) -> pd.DataFrame:
        """Per-operator roofline table of scenario ``index`` in ``phase`` (one forward
        pass per device; ``step_share``: each operator's share of that pass's time,
        communication included)."""
        key = (phase, mode, index)
        if key not in self._operators:  # built once: a view asks for the same table often
            ph = self._phases[phase]
            forward = ph.expected if mode == "expected" else ph.ideal
            self._operators[key] = op_frame(forward.ops, index, forward.total_s)
        return self._operators[key].copy(deep=False)  # the caller's own (copy on write)

    def _figure(self, **kwargs: Any) -> Any:
        """Roofline figure of this scenario's operators (plotly)."""
        return plotting().roofline_figure(self, **kwargs)


def infer(model: str | Path | ModelSpec | Mapping[str, Any],
          chip: str | Path | Chip | Mapping[str, Any], *,
          batch: ArrayLike = 1, prompt_len: ArrayLike = 1024, output_len: ArrayLike = 256,
          precision: str | Precision | Mapping[str, Any] | None = "native",
          tp: ArrayLike = 1, pp: ArrayLike = 1, ep: ArrayLike = 1, count: int | None = None,
          attention_kernel: Kernel = "fused", mla_absorb: bool | None = None,
          efficiency: Mapping[str, float] | None = None,
          cluster: Cluster | None = None,
          runtime_reserve_bytes: float | None = None, dp: ArrayLike = 1,
          tbo: bool = False, redundant_experts: int = 0,
          memory_utilisation: float = MEMORY_UTILISATION,
          token_budget: int = TOKEN_BUDGET, mtp: bool = False,
          allow_beyond_context: bool = False) -> InferenceResult:
    """Serve ``model`` on ``chip`` with a static batch; every numeric input may be an array.

    Returns per scenario (SI units): ``ttft_s`` (prefill of the whole batch),
    ``tpot_s`` (decode step at the mean context), ``e2e_s``, ``request_tokens_per_s`` (one
    request's decode rate), ``decode_tokens_per_s`` (all requests of all replicas),
    ``output_tokens_per_s`` (generated tokens over the whole request), ``weights_bytes``,
    ``kv_cache_bytes``, ``activation_bytes``, ``reserve_bytes``, ``memory_bytes`` and
    ``memory_fraction`` per device, ``fits``, ``max_batch`` and ``max_context`` that fit,
    ``*_ideal_*`` columns at datasheet peak, and an uncertainty band beside each expected
    time and rate
    (``tpot_low_s`` / ``tpot_high_s``, ``decode_low_tokens_per_s``, ...: the
    10th-90th percentile of published serving runs around the expected value,
    :func:`~roofline.engine.timing.efficiency.band_columns`). Assumptions (efficiencies, reserve,
    kernel) are in ``assumptions``. ``valid`` and ``reason`` flag impossible layouts, whose
    metrics are NaN; a single scenario (all inputs scalars) raises :class:`SpecError`
    instead, as :func:`~roofline.engine.training.run.train` does. A prompt plus output
    beyond the model's ``max_position_embeddings`` is an error unless
    ``allow_beyond_context``.

    MoE layouts (module docstring): ``dp`` attention groups per stage, ``ep`` dividing
    ``tp x dp``, ``tbo`` two-batch overlap, ``redundant_experts`` replicas per stage
    (EPLB). Memory: ``memory_utilisation`` of each device (``runtime_reserve_bytes``, if
    given, reserves that many bytes instead), transient activations of at most
    ``token_budget`` tokens per step, ``mtp`` counts the multi-token-prediction weights.
    """
    sc = serving_scenario(model, chip, batch=batch, prompt_len=prompt_len,
                          output_len=output_len, precision=precision, tp=tp, pp=pp, ep=ep,
                          dp=dp, count=count, allow_beyond_context=allow_beyond_context,
                          other={
                              "attention_kernel": attention_kernel,
                              "runtime_reserve_bytes": runtime_reserve_bytes,
                              "redundant_experts": redundant_experts,
                              "memory_utilisation": memory_utilisation,
                              "token_budget": token_budget, "mla_absorb": mla_absorb,
                              "efficiency": efficiency, "tbo": tbo, "mtp": mtp})
    m, c, p, shape = sc.model, sc.chip, sc.precision, sc.shape
    b, s, o = sc.workload.batch, sc.workload.prompt_len, sc.workload.output_len
    tp_, pp_, ep_, dp_ = sc.layout.tp, sc.layout.pp, sc.layout.ep, sc.layout.dp
    reasons, cluster = _reasons(sc, count, cluster)
    per_replica = tp_ * dp_ * pp_
    n_chips = per_replica if count is None else np.asarray(float(count))
    valid = reasons == ""
    shown = {"batch": b, "tp": tp_, "pp": pp_, "ep": ep_, "dp": dp_, "chips": n_chips}
    if not valid.all():  # impossible inputs that would divide by zero or cross a missing
        # link are evaluated as one sequence on one chip (each input keeping its own shape),
        # then every metric of an impossible layout is reported as NaN
        b = np.where(b >= 1, b, 1.0)
        bad = ((layout_reasons(m, tp_, pp_, ep_, 1.0, dp_) != "") |  # the layout axes only
               ((per_replica > 1) & (cluster.up_bw <= 0)) |
               ((per_replica > cluster.domain) & (cluster.out_bw <= 0)))
        if np.any(bad):
            tp_, pp_, ep_, dp_ = (np.where(bad, 1.0, x) for x in (tp_, pp_, ep_, dp_))
        per_replica = tp_ * dp_ * pp_
        n_chips = per_replica if count is None else n_chips
    effs = (efficiency_for(c, "ideal"), efficiency_for(c, "expected", **dict(efficiency or {})))
    w = sliding_window(m)
    group = np.ceil(b / dp_)  # sequences on the busiest attention group
    n_micro = np.minimum(group, pp_)  # micro-batches in flight
    micro = group / n_micro
    # every group's tokens reach the experts; a batch smaller than dp leaves groups idle
    moe = {"dp": dp_, "redundant": redundant_experts, "tbo": tbo, "busy": b / group}
    prefill = _phase(m, p, cluster, Step.for_prefill(micro, s, w), effs, tp_, ep_, pp_,
                     attention_kernel, mla_absorb, moe)
    mean_ctx = s + (o + 1) / 2  # decode cost is linear in context: the mean is exact
    decode = _phase(m, p, cluster, Step.for_decode(micro, mean_ctx, w), effs, tp_, ep_, pp_,
                    attention_kernel, mla_absorb, moe)
    fill = (n_micro + pp_ - 1) / pp_  # m micro-batches through p stages: (m + p - 1) stages
    replicas = np.floor(n_chips / per_replica)

    out: dict[str, Any] = {"model": m.name, "chip": c.name, "precision": p.label,
                           "batch": b, "prompt_len": s, "output_len": o, "tp": tp_, "pp": pp_,
                           "ep": ep_, "dp": dp_, "chips": n_chips, "replicas": replicas}
    metrics_from = list(out).index("replicas")  # the columns after the scenario's inputs
    out.update(_latency_columns(prefill, decode, fill, b, o, replicas))
    # Uncertainty band (x_low_s / x_high_s, r_low / r_high) from the calibration residuals
    # of the published serving cases (efficiency.band_columns, docs/validation.md).
    out.update(band_columns(out, "serving"))
    out["decode_comm_s"] = decode.expected.comm_s
    out["decode_bound"] = _bound(decode.expected, shape)
    out["prefill_bound"] = _bound(prefill.expected, shape)

    out.update(memory_columns(m, c, p, s, o, group, micro, tp_, pp_, dp_, attention_kernel,
                              runtime_reserve_bytes, memory_utilisation, token_budget,
                              redundant_experts, mtp))
    if not valid.all():
        for k in list(out)[metrics_from:]:
            v = np.asarray(out[k])
            if v.dtype.kind == "f":
                out[k] = np.where(valid, v, np.nan)
        out["fits"] = out["fits"] & valid
        out.update(shown)
    out["valid"] = valid
    out["reason"] = reasons
    frame = Columns(alias_columns(out, model=model, chip=chip), shape)
    assumptions = _assumptions(m, c, p, effs, attention_kernel, n_chips, b, tbo)
    assumptions["memory"] = memory_note(runtime_reserve_bytes, memory_utilisation, token_budget,
                                        mtp)
    return InferenceResult(frame, assumptions, prefill, decode, m, c)


def _reasons(sc: ServingScenario, count: int | None,
             cluster: Cluster | None) -> tuple[NDArray[np.object_], Cluster]:
    """Why each scenario's layout is impossible ('' where valid), and the cluster (the
    chip's own links, sized by the largest valid layout, unless one is given)."""
    m, c, shape, scalar = sc.model, sc.chip, sc.shape, sc.single
    tp_, pp_, ep_, b = sc.layout.tp, sc.layout.pp, sc.layout.ep, sc.workload.batch
    dp_ = sc.layout.dp
    # One scenario (all inputs scalars) with an impossible layout is an error; in arrays
    # (a sweep, a layout search) it is a row with valid=False and its reason, as in train.
    reasons = np.broadcast_to(layout_reasons(m, tp_, pp_, ep_, b, dp_), shape).copy()
    if scalar and reasons[0]:
        raise SpecError(f"impossible layout for {m.name}: {reasons[0]}")
    long = np.broadcast_to(beyond_context(m, sc.workload.prompt_len, sc.workload.output_len),
                           shape) & (reasons == "")
    if not sc.allow_beyond_context and long.any():  # a single one was refused at the edge
        reasons[long] = (f"prompt_len + output_len exceeds max_position_embeddings "
                         f"({m.max_position_embeddings:,}); allow_beyond_context=True "
                         "evaluates it")
    per_replica = tp_ * dp_ * pp_
    n_chips = per_replica if count is None else np.asarray(float(count))
    if count is not None:
        bad = np.broadcast_to((n_chips % per_replica != 0), shape) & (reasons == "")
        reasons[bad] = f"count={count} is not a multiple of tp x pp x dp"
        if scalar and reasons[0]:
            raise SpecError(f"impossible layout for {m.name}: {reasons[0]}")
    if cluster is None:  # links of the chip; sized by the largest valid layout
        used = np.broadcast_to(n_chips, shape)[reasons == ""]
        cluster = default_cluster(c, int(np.max(used, initial=1)))
    no_link = np.broadcast_to((per_replica > 1) & (cluster.up_bw <= 0), shape) & (reasons == "")
    reasons[no_link] = f"{c.name} has no scale-up link: a replica must be one chip"
    no_net = np.broadcast_to((per_replica > cluster.domain) & (cluster.out_bw <= 0),
                             shape) & (reasons == "")
    reasons[no_net] = (f"{c.name} has no scale-out network: a replica must fit in one "
                       f"{cluster.domain}-chip scale-up domain")
    if scalar and reasons[0]:
        raise SpecError(f"impossible layout for {m.name}: {reasons[0]}")
    return reasons, cluster


def _latency_columns(prefill: Phase, decode: Phase, fill: Array, b: Array, o: Array,
                     replicas: Array) -> dict[str, Array]:
    """TTFT, TPOT, end-to-end latency (s) and rates (tokens/s), expected and ideal."""
    out: dict[str, Array] = {}
    for mode in ("expected", "ideal"):
        pre = getattr(prefill, mode)
        dec = getattr(decode, mode)
        ttft = fill * pre.total_s
        tpot = dec.total_s
        e2e = ttft + (o - 1) * tpot

        def name(column: str, mode: str = mode) -> str:
            return column if mode == "expected" else variant(column, "ideal")

        out[name("ttft_s")] = ttft
        out[name("tpot_s")] = tpot
        out[name("e2e_s")] = e2e
        out[name("request_tokens_per_s")] = 1.0 / tpot
        out[name("decode_tokens_per_s")] = b / tpot * replicas
        out[name("output_tokens_per_s")] = b * o / e2e * replicas
    return out


def _assumptions(m: ModelSpec, c: Chip, p: Precision, effs: tuple[Efficiency, Efficiency],
                 attention_kernel: Kernel, n_chips: Array, b: Array,
                 tbo: bool) -> dict[str, str]:
    """What an inference result rests on, in words."""
    return {
        "efficiency (expected)": effs[1].describe(),
        "efficiency (ideal)": "100% of datasheet dense peak, memory and link bandwidth",
        "uncertainty band": uncertainty_band("serving").source,
        "fidelity": fidelity("serving", c, m, count=float(np.max(n_chips)),
                             batch=float(np.max(b))).text,
        "precision": f"{p.label}: weights {p.weights.name} "
                     f"({p.weights.bytes_per_element:g} B), activations {p.activations.value}, "
                     f"attention core {p.attention_dtype.value}, "
                     f"KV cache {p.kv_cache.name}"
                     + "".join(f"; {k} {v.name}" for k, v in p.overrides.items()),
        "attention kernel": attention_kernel,
        "static batch": "all prompts prefilled together, then decoded in lock-step; TPOT at "
                        "the mean context prompt + (output+1)/2",
        "pipeline": "batch split into min(batch, pp) micro-batches m; TTFT = (m + pp - 1) "
                    "stage times; each token crosses every stage",
        "communication": ("expert dispatch / combine overlapped with compute by two-batch "
                          "overlap; the rest not" if tbo else "not overlapped with compute")
                         + "; alpha-beta ring collectives; DeepEP-style dispatch (fp8 when "
                         "the experts compute in fp8) and combine, busiest expert rank's load",
        "compute dtype fallback": _fallback_note(c, p),
    }


def _bound(ft: ForwardTime, shape: tuple[int, ...]) -> Labels:
    """Which resource dominates a forward pass: compute, memory or network."""
    comp = sum((np.where(t.compute_bound, t.time_s, 0.0) for t in ft.ops), np.zeros(()))
    mem = ft.compute_s - comp
    stack = np.stack(np.broadcast_arrays(comp, mem, ft.comm_s, np.zeros(shape))[:3])
    codes = np.argmax(stack, axis=0).astype(np.int8)
    return Labels(codes, ("compute", "memory", "network"))


def _fallback_note(c: Chip, p: Precision) -> str:
    notes = []
    for comp in ("attention", "mlp", "experts"):
        want = p.compute_dtype(comp)  # type: ignore[arg-type]
        got = c.resolve_dtype(want)
        if got != want:
            notes.append(f"{comp}: {c.name} has no {want.value} peak, computed in {got.value}")
    return "; ".join(notes) or "none"
