"""Sweeps on a Dask cluster that distribute (docs/scale-out.md).

The grid travels as its axes (a few short arrays) and a row range per task; each worker
builds its slice of the cartesian product, runs one vectorised engine call on it, and —
for a reduction — keeps only what the reduction needs, so the client holds the answer and
never the table. :func:`scenarios` gives the whole table as a lazy dask DataFrame (write
it with ``.to_parquet(path)``); :func:`top_k`, :func:`pareto` and :func:`aggregate` reduce
on the workers. Small sweeps are faster locally: :func:`roofline.sweep` without a client.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from roofline.engine.planning.chunks import (
    DEFAULT_CHUNK_ROWS,
    Purpose,
    as_list,
    axis_names,
    run_chunk,
)
from roofline.engine.planning.pareto import pareto_indices
from roofline.errors import Problem, SpecError

if TYPE_CHECKING:
    import dask.dataframe as dd


@dataclass(frozen=True)
class Chunk:
    """One task: rows ``lo:hi`` (C order) of the product of ``axes`` for one model, chip,
    precision and purpose; ``fixed`` keywords pass to the engine unchanged."""

    purpose: Purpose
    model: Any
    chip: Any
    precision: Any
    axes: Mapping[str, np.ndarray]
    lo: int
    hi: int
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def grid(self) -> dict[str, np.ndarray]:
        """This chunk's rows of the cartesian product, built where the chunk runs."""
        shape = tuple(len(v) for v in self.axes.values())
        index = np.unravel_index(np.arange(self.lo, self.hi), shape)
        return {k: np.asarray(v)[i] for (k, v), i in zip(self.axes.items(), index, strict=True)}


def plan(models: Any, chips: Any, *, purpose: Purpose = "serve", precision: Any = "native",
         chunk_rows: int = DEFAULT_CHUNK_ROWS, **axes: Any) -> list[Chunk]:
    """The tasks of a sweep: one per ``chunk_rows`` rows of each model x chip x precision."""
    if chunk_rows < 1:
        raise SpecError([Problem(f"chunk_rows must be >= 1, got {chunk_rows}",
                                 field="chunk_rows")])
    names = axis_names(purpose)
    numeric = {k: np.asarray(as_list(v), dtype=np.float64) for k, v in axes.items()
               if k in names}
    fixed = {k: v for k, v in axes.items() if k not in names}
    n = int(np.prod([len(v) for v in numeric.values()])) if numeric else 1
    return [Chunk(purpose, m, c, p, numeric, lo, min(lo + chunk_rows, n), fixed)
            for m, c, p in itertools.product(as_list(models), as_list(chips),
                                             as_list(precision))
            for lo in range(0, n, chunk_rows)]


def run(chunk: Chunk) -> pd.DataFrame:
    """Evaluate one chunk (on a worker): the engine's table. Text columns stay categorical
    (each partition with its own categories; dask unions them when concatenating)."""
    frame = run_chunk(chunk.purpose, chunk.model, chunk.chip, chunk.precision, chunk.grid(),
                       chunk.fixed)
    frame.attrs.clear()
    return frame


def gather(client: Any, chunks: Sequence[Chunk]) -> pd.DataFrame:
    """Run ``chunks`` as tasks on ``client``'s workers (each builds its own slice of the
    grid) and concatenate their tables here, in order: the whole table on the client."""
    frames: list[pd.DataFrame] = client.gather(client.map(run, list(chunks), pure=False))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def scenarios(models: Any, chips: Any, *, purpose: Purpose = "serve",
              precision: Any = "native", chunk_rows: int = DEFAULT_CHUNK_ROWS,
              **axes: Any) -> dd.DataFrame:
    """Every combination of the inputs as a lazy dask DataFrame, one partition per chunk,
    computed on the workers of the active ``dask.distributed`` client (or dask's local
    scheduler). Arguments as :func:`roofline.sweep`. ``.to_parquet(path)`` writes it from
    the workers; ``.compute()`` brings it all to the client."""
    import dask.dataframe as dd

    chunks = plan(models, chips, purpose=purpose, precision=precision,
                  chunk_rows=chunk_rows, **axes)
    first = chunks[0]
    from dask.dataframe.utils import clear_known_categories

    meta = clear_known_categories(run(Chunk(first.purpose, first.model, first.chip,
                                            first.precision, first.axes, 0, 1,
                                            first.fixed)).iloc[:0])
    table: dd.DataFrame = dd.from_map(run, chunks, meta=meta, enforce_metadata=False)
    return table


def _only_fit(frame: pd.DataFrame, only_fit: bool) -> pd.DataFrame:
    return frame[frame["valid"] & frame["fits"]] if only_fit else frame


def _top(frame: pd.DataFrame, k: int, by: str, ascending: bool, only_fit: bool) -> pd.DataFrame:
    part = _only_fit(frame, only_fit)
    return part.nsmallest(k, by) if ascending else part.nlargest(k, by)


def top_k(table: dd.DataFrame, k: int, by: str, *, ascending: bool = True,
          only_fit: bool = True) -> pd.DataFrame:
    """The ``k`` rows with the smallest (``ascending``) or largest ``by``, reduced on the
    workers: each partition keeps its own top ``k``, the client merges ``k`` x partitions
    rows. ``only_fit`` skips impossible layouts and those that do not fit."""
    if by not in table.columns:
        raise SpecError([Problem(f"unknown column {by!r}; columns: "
                                 f"{', '.join(map(str, table.columns))}", field="by")])
    parts = table.map_partitions(_top, k, by, ascending, only_fit, meta=table._meta)
    merged = parts.compute()
    return _top(merged, k, by, ascending, False).reset_index(drop=True)


def pareto_front(frame: pd.DataFrame, x: str, y: str, *, minimize_x: bool = True,
                 minimize_y: bool = True) -> pd.DataFrame:
    """Rows no other row beats on both ``x`` and ``y`` (sorted by ``x``): sort by ``x``,
    keep each row that improves on the best ``y`` so far. O(n log n)."""
    return frame.iloc[pareto_indices(frame[x].to_numpy(float), frame[y].to_numpy(float),
                                     minimize_x=minimize_x, minimize_y=minimize_y)]


def _front(frame: pd.DataFrame, x: str, y: str, mx: bool, my: bool,
           only_fit: bool) -> pd.DataFrame:
    return pareto_front(_only_fit(frame, only_fit), x, y, minimize_x=mx, minimize_y=my)


def pareto(table: dd.DataFrame, x: str, y: str, *, minimize_x: bool = True,
           minimize_y: bool = True, only_fit: bool = True) -> pd.DataFrame:
    """The Pareto front of ``x`` against ``y`` (e.g. ``tpot_s`` against
    ``usd_per_m_output_tokens``, both minimised), reduced on the workers: each partition
    sends only its own front, and the front of the fronts is the front of the whole."""
    for col in (x, y):
        if col not in table.columns:
            raise SpecError([Problem(f"unknown column {col!r}", field="x" if col == x else "y")])
    parts = table.map_partitions(_front, x, y, minimize_x, minimize_y, only_fit,
                                 meta=table._meta).compute()
    return pareto_front(parts, x, y, minimize_x=minimize_x,
                        minimize_y=minimize_y).reset_index(drop=True)


def aggregate(table: dd.DataFrame, by: str | Sequence[str], only_fit: bool = False,
              **aggregations: tuple[str, str]) -> pd.DataFrame:
    """Group aggregates reduced on the workers (a dask tree reduction), e.g.
    ``aggregate(t, "chip", best_tpot_s=("tpot_s", "min"), scenarios=("tpot_s", "count"))``."""
    if only_fit:
        table = table[table["valid"] & table["fits"]]
    keys = [by] if isinstance(by, str) else list(by)
    out: pd.DataFrame = table.groupby(keys).agg(**aggregations).compute()
    return out.sort_index()
