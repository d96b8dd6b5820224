"""The pieces of a sweep shared by the local loop (:mod:`.sweep`) and the Dask workers
(:mod:`roofline.scale_out`): the axes each purpose crosses, the flat grid of a chunk, and
one vectorised engine call over it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from roofline.errors import SpecError
from roofline.results import constant_category

Purpose = Literal["serve", "train"]
#: Rows per engine call: ~1 GB of working memory on the serving engine.
DEFAULT_CHUNK_ROWS = 500_000

SERVE_AXES = ("batch", "prompt_len", "output_len", "tp", "pp", "ep")
TRAIN_AXES = ("seq_len", "global_batch", "micro_batch", "tp", "pp", "dp", "cp", "ep",
               "zero", "interleave")


def as_list(x: Any) -> list[Any]:
    """``x`` as a list of values (a scalar or one spec: a one-element list)."""
    # a spec object (ModelSpec, Chip, Precision) is one value, though pydantic makes it
    # iterable over its fields
    if isinstance(x, str | Mapping | BaseModel) or not isinstance(x, Iterable):
        return [x]
    return list(x)


def axis_names(purpose: Purpose) -> tuple[str, ...]:
    """The numeric inputs of ``purpose`` that a sweep crosses."""
    return SERVE_AXES if purpose == "serve" else TRAIN_AXES


def grid_of(axes: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Flattened cartesian product of numeric axes (C order: the last axis varies fastest)."""
    values = [np.asarray(as_list(v), dtype=np.float64) for v in axes.values()]
    if not values:
        return {}
    mesh = np.meshgrid(*values, indexing="ij")
    return {k: m.reshape(-1) for k, m in zip(axes, mesh, strict=True)}


def engine(purpose: Purpose) -> Callable[..., Any]:
    """The vectorised engine verb of ``purpose`` (``infer`` or ``train``)."""
    if purpose == "serve":
        from roofline.engine.serving.inference import infer

        return infer
    if purpose == "train":
        from roofline.engine.training.run import train

        return train
    raise SpecError(f"purpose must be 'serve' or 'train', got {purpose!r}")


def run_chunk(purpose: Purpose, model: Any, chip: Any, precision: Any,
               grid: Mapping[str, np.ndarray], fixed: Mapping[str, Any]) -> pd.DataFrame:
    """One vectorised engine call over a slice of the grid."""
    res = engine(purpose)(model, chip, precision=precision, **grid, **fixed)
    frame: pd.DataFrame = res.frame
    frame.insert(0, "purpose", pd.Series(constant_category(purpose, len(frame)),
                                         index=frame.index))
    return frame
