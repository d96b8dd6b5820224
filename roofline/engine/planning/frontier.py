"""The throughput-interactivity frontier: every serving configuration of a model on a chip
(aggregated and disaggregated, layouts, batch, speculation on/off) evaluated in one
vectorised pass and reduced to its Pareto front of output tokens/s per chip against output
tokens/s per user, with $ per 1M output tokens beside it (SemiAnalysis InferenceX plots the
same axes from measurements; NVIDIA aiconfigurator answers it from kernel tables).

Grid: tensor degree ``tp`` (a power of two dividing the heads, inside one scale-up
domain), attention data-parallel groups ``dp`` and expert degree ``ep`` (1, or every chip
of the instance) for MoE models, decode batch per attention group (1..4096), draft tokens
(0, and the model's MTP / an EAGLE head when asked), and for disaggregation every prefill
layout x prefill batch paired with every decode configuration, the best-paired prefill
kept. A configuration is feasible when its instance fits in ``count`` chips (both pools
together for disaggregation), its memory fits and it meets the TTFT / TPOT targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from roofline.engine.planning.pareto import pareto_indices
from roofline.engine.scenario.cluster import Cluster
from roofline.engine.scenario.precision import Precision, get_precision
from roofline.engine.scenario.rules import check
from roofline.engine.serving.disaggregation import (
    Workload,
    aggregated,
    decode_phase,
    matched,
    prefill_phase,
)
from roofline.engine.serving.pool import Layout, Pool, memory_per_chip
from roofline.engine.serving.speculative_heads import (
    MTP_ACCEPTANCE,
    Method,
    accepted_per_cycle,
    draft_weight_bytes,
)
from roofline.engine.timing.cost import price_note, price_per_chip_hour
from roofline.engine.timing.efficiency import efficiency_for
from roofline.errors import SpecError
from roofline.results import Result
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec
from roofline.specs.params import count_params

Array = NDArray[np.float64]
Speculation = Literal["auto", "off", "mtp", "eagle"]

#: Workload presets: (prompt, output) tokens. Chat and long-prompt are InferenceX's 1k/1k
#: and 8k/1k; reasoning uses MLPerf Inference DeepSeek-R1's 3,498-token mean output (with
#: a 1k prompt, our choice); RAG a 32k retrieved context with a short answer (our choice).
PRESETS: dict[str, tuple[int, int]] = {"chat": (1024, 1024), "long": (8192, 1024),
                                       "reasoning": (1024, 3498), "rag": (32768, 512)}
DECODE_BATCHES = tuple(sorted({2**i for i in range(13)} | {3 * 2**i for i in range(11)}))
PREFILL_BATCHES = (1, 2, 4, 8, 16)
POWERS = tuple(2**i for i in range(13))


def layouts(m: ModelSpec, chip: Chip, count: int) -> pd.DataFrame:
    """Every (tp, dp, ep) instance of at most ``count`` chips the model admits."""
    heads = m.attention.num_attention_heads if m.attention else 1
    domain = chip.scale_up.domain_size if chip.scale_up else 1
    rows = []
    for tp, dp in product(POWERS, POWERS):
        if heads % tp or tp > domain or tp * dp > count:
            continue
        if m.moe is None:
            if dp == 1:
                rows.append((tp, 1, 1))
            continue
        if dp == 1:
            rows.append((tp, 1, 1))
        if tp * dp > 1 and m.moe.num_experts % (tp * dp) == 0:
            rows.append((tp, dp, tp * dp))
    return pd.DataFrame(rows, columns=["tp", "dp", "ep"]).drop_duplicates(ignore_index=True)


def _grid(table: pd.DataFrame, **axes: Sequence[float]) -> dict[str, Array]:
    """Outer product of layout rows with extra axes, flattened to 1-d arrays."""
    idx = np.arange(len(table))
    grids = np.meshgrid(idx, *[np.asarray(v, dtype=np.float64) for v in axes.values()],
                        indexing="ij")
    flat = [g.reshape(-1) for g in grids]
    out = {str(c): table[c].to_numpy(dtype=np.float64)[flat[0].astype(int)] for c in table}
    out.update(zip(axes, flat[1:], strict=True))
    return out


class FrontierResult(Result):
    """The Pareto front (``frame``), every feasible configuration (``configurations``)."""

    def __init__(self, frame: pd.DataFrame, assumptions: dict[str, Any],
                 configurations: pd.DataFrame) -> None:
        super().__init__(frame, assumptions)
        self.configurations = configurations

    def best(self) -> pd.Series:
        """The feasible configuration with the most output tokens/s per chip (under the
        targets given): for ``disaggregated=True``, the best prefill/decode split."""
        col = self.configurations["output_tokens_per_s_per_chip"].to_numpy(dtype=np.float64)
        best: pd.Series = self.configurations.iloc[int(np.nanargmax(col))]
        return best

    def front(self, mode: str | None = None) -> pd.DataFrame:
        """The Pareto front (output tokens/s per chip against per user) of the feasible
        configurations of one serving mode (``"aggregated"``, ``"disaggregated"``; None:
        all, which is ``frame``), in increasing tokens/s per user; empty for a mode not
        evaluated."""
        conf = self.configurations
        if mode is not None:
            conf = conf[conf["mode"] == mode]
        if conf.empty:
            return conf.reset_index(drop=True)
        keep = pareto_indices(conf["output_tokens_per_s_per_user"].to_numpy(dtype=np.float64),
                              conf["output_tokens_per_s_per_chip"].to_numpy(dtype=np.float64),
                              minimize_x=False, minimize_y=False)
        return conf.iloc[keep].reset_index(drop=True)

    def _figure(self, **kwargs: Any) -> Any:
        """Tokens/s per chip against tokens/s per user, one line per serving mode."""
        return super().plot(x="output_tokens_per_s_per_user",
                            y="output_tokens_per_s_per_chip", color="mode", **kwargs)


def _speculation(m: ModelSpec, speculation: Speculation, acceptance: Any,
                 draft_tokens: Sequence[int]) -> tuple[Method, list[float], Array]:
    """(head, draft-token counts to try, mean accepted per cycle at each)."""
    if speculation == "off" or (speculation == "auto" and not m.num_nextn_predict_layers):
        return "mtp", [0.0], np.ones(1)
    method: Method = "eagle" if speculation == "eagle" else "mtp"
    if acceptance is None:
        if method == "eagle":
            raise SpecError("speculation='eagle' needs acceptance= (a rate, or mean accepted "
                            "lengths per draft count such as [1.79, 2.27, 2.49, 2.54])")
        acceptance = MTP_ACCEPTANCE
    ks = [0.0, *[float(k) for k in draft_tokens]]
    return method, ks, accepted_per_cycle(acceptance, ks)


def _decode_grid(pool: Pool, table: pd.DataFrame, w: Workload, ks: list[float],
                 acc: Array, method: Method) -> dict[str, Array]:
    g = _grid(table, batch=DECODE_BATCHES, draft_tokens=ks)
    g["accepted"] = acc[np.searchsorted(ks, g["draft_tokens"])]
    g["layout"] = Layout.of(g["tp"], g["dp"], g["ep"])  # type: ignore[assignment]
    return g


def _fits(pool: Pool, layout: Layout, g: Mapping[str, Array], w: Workload, method: Method,
          step_tokens: Array) -> NDArray[np.bool_]:
    params = count_params(pool.model)
    extra = np.where(g["draft_tokens"] > 0, draft_weight_bytes(pool, layout, method), 0.0) if (
        np.any(g["draft_tokens"] > 0)) else 0.0
    mem = memory_per_chip(pool, layout, params, g["batch"], w.prompt + w.output, step_tokens,
                          extra)
    return np.asarray(mem <= pool.chip.memory.capacity, dtype=bool)


def _aggregated_points(pool: Pool, table: pd.DataFrame, w: Workload, ks: list[float],
                       acc: Array, method: Method) -> pd.DataFrame:
    g = _decode_grid(pool, table, w, ks, acc, method)
    lay: Layout = g.pop("layout")  # type: ignore[assignment]
    r = aggregated(pool, lay, g["batch"], w, g["draft_tokens"], g["accepted"], method)
    chunk = g["batch"] * g["accepted"] * w.new / w.output
    ok = _fits(pool, lay, g, w, method, g["batch"] * (g["draft_tokens"] + 1) + chunk)
    frame = pd.DataFrame({**g, "mode": "aggregated", "chips": lay.chips,
                          "output_tokens_per_s_per_chip": r["output_tokens_per_s_per_chip"],
                          "tpot_s": r["tpot_s"], "ttft_s": r["ttft_s"]})
    return frame[ok]


def _prefill_candidates(chips: Array, ttft: Array, rate: Array, ok: NDArray[np.bool_]
                        ) -> NDArray[np.intp]:
    """Indices of the feasible prefill configurations no other of the same size beats on
    both TTFT and requests/s."""
    keep: list[int] = []
    for n in np.unique(chips[ok]):
        idx = np.nonzero(ok & (chips == n))[0]
        keep.extend(idx[pareto_indices(ttft[idx], rate[idx], minimize_y=False)])
    return np.asarray(sorted(keep), dtype=np.intp)


def _disaggregated_points(pool: Pool, table: pd.DataFrame, w: Workload, ks: list[float],
                          acc: Array, method: Method, count: int,
                          max_ttft_s: float | None) -> pd.DataFrame:
    d = _decode_grid(pool, table, w, ks, acc, method)
    lay_d: Layout = d.pop("layout")  # type: ignore[assignment]
    dec = decode_phase(pool, lay_d, d["batch"], w, d["draft_tokens"], d["accepted"], method)
    ok_d = _fits(pool, lay_d, d, w, method, d["batch"] * (d["draft_tokens"] + 1))
    p = _grid(table, prefill_batch=PREFILL_BATCHES)
    lay_p = Layout.of(p["tp"], p["dp"], p["ep"])
    params = count_params(pool.model)
    ok_p = memory_per_chip(pool, lay_p, params, p["prefill_batch"], w.prompt,
                           p["prefill_batch"] * w.new) <= pool.chip.memory.capacity
    # One prefill evaluation; the KV transfer over scale-out (row 0) or NVLink (row 1).
    pre = prefill_phase(pool, lay_p, p["prefill_batch"], w, np.array([[False], [True]]))
    ttft_out, ttft_in, rate_p = pre["ttft_s"][0], pre["ttft_s"][1], pre["requests_per_s"]
    # Only prefill configurations on the (TTFT, requests/s) front of their size can be the
    # best partner of any decode configuration.
    keep_p = _prefill_candidates(lay_p.chips, ttft_out, rate_p, ok_p)
    if keep_p.size == 0:
        return pd.DataFrame()
    p = {k: v[keep_p] for k, v in p.items()}
    lay_p = Layout.of(p["tp"], p["dp"], p["ep"])
    ok_p = ok_p[keep_p]
    ttft_out, ttft_in, rate_p = (x[keep_p] for x in (ttft_out, ttft_in, rate_p))
    # Pairs: rows = prefill configurations, columns = decode configurations.
    chips_p, chips_d = lay_p.chips[:, None], lay_d.chips[None, :]
    same = (chips_p + chips_d) <= pool.cluster.domain
    ttft = np.where(same, ttft_in[:, None], ttft_out[:, None])
    rp = rate_p[:, None]
    rd = dec["requests_per_s"][None, :]
    match = matched(rp, rd, chips_p, chips_d, w.output, count)
    ok = ok_p[:, None] & ok_d[None, :] & np.isfinite(match["output_tokens_per_s_per_chip"])
    if max_ttft_s is not None:
        ok &= ttft <= max_ttft_s
    score = np.where(ok, match["output_tokens_per_s_per_chip"], -np.inf)
    best = np.argmax(score, axis=0)
    cols = np.arange(score.shape[1])
    keep = np.isfinite(score[best, cols])
    x, y = match["prefill_instances"][best, cols], match["decode_instances"][best, cols]
    frame = pd.DataFrame({**d, "mode": "disaggregated", "chips": lay_d.chips,
                          "output_tokens_per_s_per_chip": score[best, cols],
                          "tpot_s": dec["tpot_s"], "ttft_s": ttft[best, cols],
                          "prefill_tp": p["tp"][best], "prefill_dp": p["dp"][best],
                          "prefill_ep": p["ep"][best], "prefill_batch": p["prefill_batch"][best],
                          "prefill_chips": lay_p.chips[best],
                          "xpyd": [f"{a:g}P{b:g}D" for a, b in zip(x, y, strict=True)],
                          "deployment_chips": x * lay_p.chips[best] + y * lay_d.chips})
    kept: pd.DataFrame = frame[keep]
    return kept


def frontier(model: str | Path | ModelSpec | Mapping[str, Any],
             chip: str | Path | Chip | Mapping[str, Any], *, count: int,
             prompt_len: float | None = None, output_len: float | None = None,
             workload: str | None = None,
             precision: str | Precision | Mapping[str, Any] | None = "native",
             disaggregated: bool | None = None, max_ttft_s: float | None = None,
             max_tpot_s: float | None = None, cache_hit: float = 0.0,
             cache_tier: Literal["hbm", "host", "disk"] = "hbm",
             speculation: Speculation = "auto", acceptance: Any = None,
             draft_tokens: Sequence[int] = (1,), usd_per_chip_hour: float | None = None,
             mode: Literal["expected", "ideal"] = "expected",
             overlap: bool = False) -> FrontierResult:
    """Pareto front of output tokens/s per chip vs per user for ``model`` on ``count``
    ``chip``s: ``disaggregated`` True (only), False (aggregated only) or None (both).

    Each point holds ``output_tokens_per_s_per_chip``, ``output_tokens_per_s_per_user``,
    ``ttft_s``, ``tpot_s``, ``usd_per_m_output_tokens`` (all chip time charged to output
    tokens) and its configuration (mode, tp, dp, ep, batch per attention group,
    draft_tokens; for disaggregation the prefill layout, batch and xPyD split).
    """
    numbers = {"count": count, "prompt_len": prompt_len, "output_len": output_len,
               "max_ttft_s": max_ttft_s, "max_tpot_s": max_tpot_s, "cache_hit": cache_hit,
               "usd_per_chip_hour": usd_per_chip_hour}
    check("frontier", {**numbers, "cache_tier": cache_tier, "speculation": speculation,
                       "disaggregated": disaggregated, "mode": mode, "overlap": overlap},
          single=numbers)
    count = int(count)
    m, c = load_model(model), load_chip(chip)
    p = get_precision(precision, m.quantization)
    w = _workload(workload, prompt_len, output_len, cache_hit, cache_tier)
    pool = Pool(m, p, Cluster(chip=c, count=count),
                efficiency_for(c, "ideal" if mode == "ideal" else "expected"), overlap)
    table = layouts(m, c, count)
    if table.empty:
        raise SpecError(f"no layout of {m.name} fits in count={count} chips")
    method, ks, acc = _speculation(m, speculation, acceptance, draft_tokens)
    parts, evaluated = [], 0
    n_decode = len(table) * len(DECODE_BATCHES) * len(ks)
    if disaggregated is not True:
        parts.append(_aggregated_points(pool, table, w, ks, acc, method))
        evaluated += n_decode
    if disaggregated is not False:
        parts.append(_disaggregated_points(pool, table, w, ks, acc, method, count, max_ttft_s))
        evaluated += n_decode * len(table) * len(PREFILL_BATCHES)
    parts = [part for part in parts if len(part)]
    if not parts:
        raise SpecError(f"no configuration of {m.name} fits in {count} x {c.name} memory "
                        "(weights, KV cache and activations): allow more chips (count) or a "
                        "smaller precision")
    allp = pd.concat(parts, ignore_index=True)
    allp["output_tokens_per_s_per_user"] = 1.0 / allp["tpot_s"]
    allp["concurrency"] = allp["batch"] * allp["dp"]
    ok = np.ones(len(allp), dtype=bool)
    if max_ttft_s is not None:
        ok &= allp["ttft_s"].to_numpy() <= max_ttft_s
    if max_tpot_s is not None:
        ok &= allp["tpot_s"].to_numpy() <= max_tpot_s
    allp = allp[ok].reset_index(drop=True)
    notes = _assumptions(pool, w, method, ks, acc)
    notes["configurations evaluated"] = evaluated
    if c.price is not None or usd_per_chip_hour is not None:
        price = price_per_chip_hour(c, usd_per_chip_hour)
        allp["usd_per_m_output_tokens"] = price / (allp["output_tokens_per_s_per_chip"] *
                                                   3600.0) * 1e6
        notes["price"] = price_note(c, usd_per_chip_hour) + "; all chip time charged to output"
    else:
        notes["price"] = (f"{c.name} has no indicative price in its YAML: pass "
                          "usd_per_chip_hour= for usd_per_m_output_tokens")
    if allp.empty:
        hint = (" (disaggregation needs a prefill and a decode instance within count)"
                if disaggregated and count < 2 * int(table["tp"].min() * table["dp"].min())
                else "")
        raise SpecError("no configuration meets the targets: relax max_ttft_s / max_tpot_s "
                        f"or allow more chips (count){hint}")
    front = pareto_indices(allp["output_tokens_per_s_per_user"].to_numpy(),
                           allp["output_tokens_per_s_per_chip"].to_numpy(), minimize_x=False,
                           minimize_y=False)
    allp.insert(0, "model", m.name)
    allp.insert(1, "chip", c.name)
    return FrontierResult(allp.iloc[front].reset_index(drop=True), notes, allp)


def _workload(preset: str | None, prompt: float | None, output: float | None,
              cache_hit: float, tier: Literal["hbm", "host", "disk"]) -> Workload:
    if preset is not None and preset not in PRESETS:
        raise SpecError(f"workload must be one of {', '.join(PRESETS)}, got {preset!r}")
    base = PRESETS[preset or "chat"]
    s = float(prompt if prompt is not None else base[0])
    o = float(output if output is not None else base[1])
    return Workload(s, o, cache_hit, tier)


def _assumptions(pool: Pool, w: Workload, method: Method, ks: list[float],
                 acc: Array) -> dict[str, Any]:
    spec = ("off" if ks == [0.0] else f"{method}: k = {', '.join(f'{k:g}' for k in ks[1:])}, "
            f"mean accepted {', '.join(f'{a:.2f}' for a in acc[1:])} tokens per cycle")
    return {
        "workload": f"prompt {w.prompt:g}, output {w.output:g} tokens; prefix-cache hit "
                    f"{w.cache_hit:.1%} from {w.cache_tier}",
        "efficiency": f"{pool.eff.source}: matmul {pool.eff.matmul:.0%}, memory "
                      f"{pool.eff.memory:.0%}, network {pool.eff.network:.0%}",
        "aggregated": "chunked prefill in steady state: each cycle carries B x accepted x "
                      "prompt / output prompt tokens beside the decodes",
        "disaggregated": "x prefill + y decode instances (whole numbers) within count chips, "
                         "serving min(x R_p, y R_d); KV sent layer by layer over scale-out "
                         "(NVLink when both instances fit one scale-up domain); the best "
                         "prefill pairing kept per decode point",
        "speculation": spec,
        "communication": "overlapped with compute (two micro-batches)" if pool.overlap
                         else "not overlapped with compute",
        "queueing": "none: steady state at full load (see roofline.engine.serving.queueing)",
    }
