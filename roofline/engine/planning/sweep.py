"""Sweeps: the cartesian product of any inputs as one tidy table, at engine speed.

Categorical axes (models, chips, precision recipes, purpose) are few and looped over;
numeric axes (batch, context, layout degrees, ...) are expanded into one flat grid and
evaluated by a single vectorised engine call per chunk. Chunks bound memory (~2 kB per
row while computing); with a ``dask.distributed`` client each worker builds its own chunk
of the grid from the axes (:mod:`roofline.scale_out`, which also reduces on the workers).
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from roofline.engine.planning.chunks import (
    DEFAULT_CHUNK_ROWS,
    SERVE_AXES,
    TRAIN_AXES,
    Purpose,
    as_list,
    engine,
    grid_of,
    run_chunk,
)
from roofline.engine.scenario.rules import check
from roofline.errors import Problem, SpecError
from roofline.results import Result

#: Show a progress bar when a sweep is expected to take longer than this (seconds).
PROGRESS_AFTER_S = 1.0

def _check_keywords(purpose: Purpose, given: set[str]) -> None:
    """Every keyword the engine of ``purpose`` needs is given, and none it does not take."""
    import inspect

    params = inspect.signature(engine(purpose)).parameters
    unknown = sorted(given - set(params))
    missing = sorted(k for k, p in params.items() if p.kind is p.KEYWORD_ONLY
                     and p.default is p.empty and k not in given)
    if unknown or missing:
        raise SpecError([Problem(
            (f"unknown keyword(s) {', '.join(unknown)}" if unknown else "")
            + ("; " if unknown and missing else "")
            + (f"{purpose} sweeps need {', '.join(missing)}" if missing else ""),
            field="sweep")])


class _Progress:
    """A tqdm bar once the sweep has run for PROGRESS_AFTER_S (tqdm when installed)."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self.start = time.perf_counter()
        self.bar: Any = None  # a tqdm bar once shown

    def update(self, rows: int) -> None:
        self.done += rows
        elapsed = time.perf_counter() - self.start
        projected = elapsed * self.total / max(self.done, 1)
        if self.bar is None and self.enabled is not False and (
                self.enabled or (projected > PROGRESS_AFTER_S and self.done < self.total)):
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=self.total, initial=self.done, unit="row", file=sys.stderr,
                            desc="roofline sweep")
            return
        if self.bar is not None:
            self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def sweep(models: Any, chips: Any, *, purpose: Purpose | Sequence[Purpose] = "serve",
          precision: Any = "native", chunk_rows: int = DEFAULT_CHUNK_ROWS,
          client: Any = None, progress: bool | None = None,
          **axes: Any) -> Result:
    """Evaluate every combination of the inputs; one row per combination.

    ``models``, ``chips``, ``precision`` and ``purpose`` may be single values or lists;
    every numeric keyword (serving: batch, prompt_len, output_len, tp, pp, ep; training:
    seq_len, global_batch, micro_batch, tp, pp, dp, cp, ep, zero, interleave) may be a
    scalar or a list and is crossed with the others. Other keywords pass to the engine
    unchanged (e.g. ``attention_kernel``, ``efficiency``, ``count``). Invalid layouts stay in
    the table with ``valid=False`` and a ``reason``.

    ``client``: a ``dask.distributed.Client``; each task then builds its chunk of the grid
    from the axes on a worker, and the rows are gathered here (for reductions that keep
    the rows on the workers, see :mod:`roofline.scale_out`). ``progress``: None shows a bar
    only for sweeps longer than a second. Returns a :class:`~roofline.results.Result`.
    """
    purposes = as_list(purpose)
    for name, given in (("models", models), ("chips", chips), ("precision", precision),
                        ("purpose", purposes)):
        if not as_list(given):
            raise SpecError([Problem(f"{name} is empty; give at least one value",
                                     field=name)])
    for purp in purposes:  # each axis as its engine verb takes it (rows flag bad layouts)
        check("sweep", {"purpose": purp})
        _check_keywords(purp, set(axes) | {"precision"})
        check("infer" if purp == "serve" else "train",
              {k: as_list(v) for k, v in axes.items() if k in (SERVE_AXES if purp == "serve"
                                                               else TRAIN_AXES)})
    if client is not None:
        from roofline import scale_out

        return Result(_categorical(scale_out.gather(
            client, [c for p in as_list(purpose) for c in scale_out.plan(
                models, chips, purpose=p, precision=precision, chunk_rows=chunk_rows,
                **axes)])))
    jobs: list[tuple[Purpose, Any, Any, Any, dict[str, np.ndarray], dict[str, Any]]] = []
    total = 0
    for purp, model, chip, prec in itertools.product(purposes, as_list(models),
                                                     as_list(chips), as_list(precision)):
        names = SERVE_AXES if purp == "serve" else TRAIN_AXES
        numeric = {k: v for k, v in axes.items() if k in names}
        fixed = {k: v for k, v in axes.items() if k not in names}
        grid = grid_of(numeric)
        n = len(next(iter(grid.values()))) if grid else 1
        for lo in range(0, n, chunk_rows):
            part = {k: v[lo:lo + chunk_rows] for k, v in grid.items()}
            jobs.append((purp, model, chip, prec, part, fixed))
            total += min(chunk_rows, n - lo)
    bar = _Progress(total, progress)
    frames = []
    for job in jobs:
        frames.append(run_chunk(*job))
        bar.update(len(frames[-1]))
    bar.close()
    return Result(_categorical(pd.concat(frames, ignore_index=True) if len(frames) > 1
                               else frames[0]))


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    """Name columns as categories, however the chunks' categories differed."""
    for col in ("purpose", "model", "model_alias", "chip", "chip_alias", "precision"):
        if col in frame and not isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("category")
    return frame
