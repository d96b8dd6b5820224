"""How a training result describes itself: the layout string of each configuration and
the assumptions behind every number (:func:`~roofline.engine.training.run.train`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from roofline.engine.scenario.cluster import Cluster
from roofline.engine.scenario.precision import Precision
from roofline.engine.timing.efficiency import Efficiency
from roofline.engine.training.flops import RECOMPUTE
from roofline.engine.training.memory import get_optimizer
from roofline.engine.training.recipe import MoeOverlap, train_bytes
from roofline.engine.training.schedules import COMM_SM_SHARE, SCHEDULE_CODES, SCHEDULES
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec


def _a(x: Any) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def layout_strings(out: Mapping[str, Any], shape: tuple[int, ...],
                   recompute: NDArray[np.int64], schedule: NDArray[np.int64]
                   ) -> NDArray[np.object_]:
    """``"tp8 pp4 dp64 cp1 ep8 mb1 zero1 selective"`` per configuration, plus the pipeline
    schedule when it is not plain 1F1B (`` v2`` interleaved, `` dualpipe``, ...): each
    component's distinct values are formatted once, then joined row by row."""
    parts = []
    for key, tag in (("tp", "tp"), ("pp", "pp"), ("dp", "dp"), ("cp", "cp"), ("ep", "ep"),
                     ("micro_batch", "mb"), ("zero", "zero")):
        vals = np.broadcast_to(_a(out[key]), shape).reshape(-1)
        uniq, inv = np.unique(vals, return_inverse=True)
        parts.append(np.array([f"{tag}{v:g} " for v in uniq], dtype=object)[inv.reshape(-1)])
    parts.append(np.array(RECOMPUTE, dtype=object)[recompute])
    v = np.broadcast_to(_a(out["interleave"]), shape).reshape(-1)
    code = np.where(v > 1, -v, schedule.astype(np.float64))
    uniq, inv = np.unique(code, return_inverse=True)
    tags = [f" v{-k:g}" if k < 0 else ("" if k == SCHEDULE_CODES["1f1b"] else
                                       f" {SCHEDULES[int(k)]}") for k in uniq]
    parts.append(np.array(tags, dtype=object)[inv.reshape(-1)])
    return np.array(["".join(t) for t in zip(*parts, strict=True)], dtype=object).reshape(shape)


def assumptions(m: ModelSpec, c: Chip, cluster: Cluster, p: Precision, eff: Efficiency,
                ov: MoeOverlap, optimizer: str, master_weights: str, cp_mode: str,
                kernel: str, dropout: bool, reserve: float) -> dict[str, Any]:
    """The assumptions of a :func:`~roofline.engine.training.run.train` result, in words."""
    opt = get_optimizer(optimizer)
    wb, gb, master = train_bytes(p, master_weights, ov.grad_dtype)
    peak_dtype = c.resolve_dtype(p.compute_dtype("mlp"))
    return {
        "efficiency": eff.describe(),
        "precision": f"{p.label}: matmuls in {peak_dtype.value}; weights {wb:g} B, "
                     f"gradients accumulated and reduced in {gb:g} B ({ov.grad_dtype}"
                     + (", Megatron-LM's default" if ov.grad_dtype == "fp32" else "")
                     + "), master weights "
                     f"{master:g} B ({master_weights}), activations "
                     f"{p.activation_bytes:g} B per element"
                     + ("; matmul inputs cached in fp8 for the backward pass"
                        if ov.dispatch_bytes(p) is not None else ""),
        "optimizer": f"{opt.label}: {opt.state_bytes_per_param:g} B of state per parameter",
        "layout": "rank = t + tp(c + cp(d + dp p)): tp innermost (stride 1), then cp, dp "
                  "(ep = consecutive dp ranks), pp outermost; chips fill scale-up domains "
                  f"of {cluster.domain} in rank order",
        "network": f"scale-up {cluster.up_bw:.4g} B/s, scale-out {cluster.out_bw:.4g} B/s per "
                   "chip per direction; alpha-beta ring collectives, hierarchical across "
                   "domains (collectives.py)",
        "pipeline": "1F1B: bubble (pp - 1)/interleave micro-batch times (Narayanan et al. "
                    "2021), the last stage (its layers, the LM head and any MTP modules) "
                    "sets the pace; DualPipe: bubble (pp/2 - 1)(F&B + B - 3W), stages i and "
                    "pp-1-i on one device, 2x parameters, pp + 1 micro-batches in flight "
                    "(DeepSeek-V3 sec. 3.2.1)",
        "overlap": "TP collectives on the critical path; expert all-to-all and pipeline "
                   "sends too under 1f1b, hidden up to comm_overlap behind the paired "
                   "micro-batch's compute under 1f1b-overlap (steady state) and dualpipe, "
                   f"which then runs on {1 - COMM_SM_SHARE:.0%} of the SMs; ring-attention "
                   "KV passing hidden behind attention; data-parallel reduction and ZeRO "
                   "gathers hidden up to dp_overlap behind backward / forward compute",
        "expert dispatch": "DeepEP-style: one copy per destination node over the scale-out "
                           "network, forwarded over the scale-up links; "
                           + ("fp8 dispatch, " if ov.dispatch_bytes(p) is not None else "")
                           + f"{p.activation_bytes:g}-byte combine"
                           + (f"; at most {ov.node_limit} nodes per token"
                              if ov.node_limit else ""),
        "recompute": "full: every layer's forward again; selective: the attention core "
                     "again (Korthikanti et al. 2022), or with FlashAttention (whose "
                     "backward recomputes QK^T itself) the norms, MLA up-projections and "
                     "activation functions (Megatron-Core --recompute-modules; DeepSeek-V3 "
                     "sec. 3.2.3)",
        "attention": f"{kernel} kernel; context parallelism {cp_mode}; dropout "
                     f"{'on' if dropout else 'off'}",
        "mfu": "model FLOPs per token = 3 x forward matmul + attention FLOPs over the full "
               "T x T rectangle (PaLM's 6N + 12LHQT, N without the embedding lookup); HFU "
               f"adds recomputation; peak = {c.name} dense {peak_dtype.value}",
        "memory": "the larger of the first stage (embedding, in-flight micro-batches) and "
                  f"the last (LM head, logits); runtime reserve {reserve / 2**30:.2g} GiB",
    }
