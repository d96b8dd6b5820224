"""One roofline for several chips: each chip's roofs and its operators (from one
``infer`` result per chip), colour per chip and marker symbol per phase.

Operators that would be drawn on top of each other (decode GEMMs of one model share an
arithmetic intensity, so they sit on one dot; a chip's prefill ``lm_head`` sits on its
decode GEMMs) are grouped: a larger marker whose hover lists every operator in the group,
whatever its chip or phase. Each marker's ``customdata`` carries its operators' engine
figures (FLOPs, bytes, times, bound, share of the step), so a click can show them without
another computation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from roofline.formatting import seconds, si
from roofline.views.plots import intensity_range, plottable, roof_traces
from roofline.views.style import PALETTE, TITLE, grid, layout

if TYPE_CHECKING:
    from roofline.engine.serving.inference import InferenceResult

#: Marker symbol per phase (the colour is the chip's).
PHASE_SYMBOLS = {"prefill": "circle", "decode": "diamond"}
#: Points closer than this on both log axes (decades) share one marker: at a typical
#: 500-pixel plot over six decades, 0.04 decades is about a marker's radius.
OVERLAP_DECADES = 0.04
#: Operator figures carried by each marker (engine column names).
DETAIL_COLUMNS = ("operator", "layers", "dtype", "flops", "bytes", "intensity_flop_per_byte",
                  "compute_s", "memory_s", "time_s", "bound", "step_share")


def overlap_groups(x: Sequence[float], y: Sequence[float],
                   tol_decades: float = OVERLAP_DECADES) -> list[list[int]]:
    """Indices of points grouped so that each group's members lie within ``tol_decades``
    of its first member on both log axes (greedy, in input order); x and y > 0."""
    lx, ly = np.log10(np.asarray(x, float)), np.log10(np.asarray(y, float))
    groups: list[list[int]] = []
    for i in range(lx.size):
        home = next((g for g in groups if abs(lx[g[0]] - lx[i]) <= tol_decades
                     and abs(ly[g[0]] - ly[i]) <= tol_decades), None)
        if home is None:
            groups.append([i])
        else:
            home.append(i)
    return groups


def _clean(v: Any) -> Any:
    """A JSON-safe cell: numpy scalars as Python ones, NaN and infinity as None."""
    if hasattr(v, "item"):
        v = v.item()
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _hover(members: list[dict[str, Any]]) -> str:
    if len(members) == 1:
        r = members[0]
        return (f"<b>{r['operator']}</b> - {r['chip']}, {r['phase']} ({r['layers']} layers, "
                f"{r['dtype']})<br>FLOPs {si(r['flops'], 'FLOP')}<br>bytes "
                f"{si(r['bytes'], 'B')}<br>intensity {r['intensity_flop_per_byte']:.3g} "
                f"FLOP/B<br>time {seconds(r['time_s'])} ({r['bound']}-bound, "
                f"{_share(r)} of the step)<br>click for details")
    lines = [f"{r['operator']} ({r['chip']}, {r['phase']}): {seconds(r['time_s'])}, "
             f"{r['bound']}-bound, {_share(r)} of the step" for r in members]
    return (f"<b>{len(members)} operators here</b><br>" + "<br>".join(lines)
            + "<br>click for details")


def _share(r: dict[str, Any]) -> str:
    return "-" if r["step_share"] is None else f"{r['step_share']:.0%}"


def operator_records(result: InferenceResult, phase: str, mode: str = "expected",
                     index: int = 0) -> list[dict[str, Any]]:
    """The operators of one chip and phase that sit on a log-log roofline, as JSON-safe
    dicts of :data:`DETAIL_COLUMNS` plus ``chip``, ``phase`` and the FLOP/s attained."""
    ops = result.operators(phase, mode, index)  # type: ignore[arg-type]
    keep = np.flatnonzero(plottable(ops))
    # Column-wise (numpy, then lists): several times quicker than pandas row by row.
    columns = [ops[k].to_numpy()[keep].tolist() for k in DETAIL_COLUMNS]
    records = [{"chip": result.chip.name, "phase": phase,
                **{k: _clean(v) for k, v in zip(DETAIL_COLUMNS, row, strict=True)}}
               for row in zip(*columns, strict=True)]
    for r in records:
        r["attained_flops_per_s"] = r["flops"] / r["time_s"]
    return records


def operator_traces(results: Sequence[InferenceResult], phases: Sequence[str],
                    mode: str = "expected", index: int = 0) -> list[dict[str, Any]]:
    """One trace dict per chip and phase. Points closer than :data:`OVERLAP_DECADES` —
    within a trace, across phases or across chips — form a group: a trace draws one marker
    per group it has a member in, whose hover and ``customdata`` list the whole group."""
    keys = [(i, ph) for i in range(len(results)) for ph in phases]
    points = [(k, r) for k in keys
              for r in operator_records(results[k[0]], k[1], mode, index)]
    groups = overlap_groups([r["intensity_flop_per_byte"] for _, r in points],
                            [r["attained_flops_per_s"] for _, r in points])
    traces = []
    for i, ph in keys:
        chip = results[i].chip.name
        mine = [g for g in groups if any(points[j][0] == (i, ph) for j in g)]
        members = [[points[j][1] for j in g] for g in mine]
        firsts = [next(points[j][1] for j in g if points[j][0] == (i, ph)) for g in mine]
        name = f"{chip} {ph}"
        traces.append({
            "type": "scatter", "mode": "markers", "name": name, "uid": name,
            "legendgroup": name,
            "x": [r["intensity_flop_per_byte"] for r in firsts],
            "y": [r["attained_flops_per_s"] for r in firsts],
            "text": [_hover(m) for m in members], "hovertemplate": "%{text}<extra></extra>",
            "customdata": [{"operators": [{k: r[k] for k in ("chip", "phase", *DETAIL_COLUMNS)}
                                          for r in m]} for m in members],
            "marker": {"symbol": PHASE_SYMBOLS.get(ph, "square"),
                       "color": PALETTE[i % len(PALETTE)],
                       "size": [min(11 + 2 * (len(m) - 1), 21) for m in members],
                       "line": {"width": 1, "color": "white"}}})
    return traces


def roofline_comparison_figure(results: Sequence[InferenceResult], *,
                               dtypes: Sequence[str] | None = None,
                               phases: Sequence[str] = ("prefill", "decode"),
                               mode: str = "expected", index: int = 0,
                               title: str | None = None) -> go.Figure:
    """Log-log roofline of several chips on one plot: every result's chip gets its roofs
    (``dtypes``; default: the dtypes the operators compute in) and its operators of
    scenario ``index`` per device, in the chip's colour, one marker symbol per phase."""
    if not results:
        raise ValueError("roofline_comparison_figure needs at least one result")
    chips = [r.chip for r in results]
    frames = [r.operators(ph, mode, index) for r in results for ph in phases]  # type: ignore[arg-type]
    if dtypes is None:
        used = [d for f in frames for d in f.loc[f["flops"] > 0, "dtype"]]
        dtypes = list(dict.fromkeys(used)) or ["bf16"]
    x_range = intensity_range(chips, dtypes, frames)
    traces = roof_traces(chips, dtypes, x_range) + operator_traces(results, phases, mode, index)
    if title is None:
        first = results[0]
        row = first if len(first) == 1 else first.frame.iloc[index]  # one scenario: no frame
        title = (f"{row['model']} - batch {int(row['batch'])}, prompt {int(row['prompt_len'])}"
                 f", tp {int(row['tp'])}, {row['precision']}, {mode} (per device; circles "
                 "prefill, diamonds decode)")
    fig_layout = dict(
        **layout(), title={"text": title, **TITLE},
        # No fixed range: the roofs span x_range, and an autoranged axis lets a user's zoom
        # survive updates (plotly keeps it under an unchanged ``uirevision``).
        xaxis={**grid(), "type": "log", "title": "arithmetic intensity (FLOP/byte)",
               "exponentformat": "power"},
        yaxis={**grid(), "type": "log", "title": "attainable FLOP/s", "tickformat": "~s"},
        hovermode="closest")
    # Built from dicts this module writes (checked against plotly's schema in the tests):
    # skipping plotly's per-property validation saves most of the figure's build time.
    return go.Figure(data=traces, layout=fig_layout, _validate=False)
