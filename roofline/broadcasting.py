"""How list inputs combine: equal-length lists are zipped (one scenario per position), a
scalar applies to every scenario, and :func:`grid` builds the cartesian product.

>>> import roofline
>>> len(roofline.infer("llama-3-8b", "h100", batch=[1, 8], prompt_len=[512, 4096]))
2
>>> len(roofline.infer("llama-3-8b", "h100", **roofline.grid(batch=[1, 8],
...                                                           prompt_len=[512, 4096])))
4
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from roofline.errors import Problem, SpecError


def _values(x: Any) -> NDArray[Any]:
    return np.asarray(x if not isinstance(x, str | bytes) else [x])


def check_lengths(**inputs: Any) -> None:
    """Raise :class:`SpecError` naming both arguments when two list inputs differ in
    length (lists are zipped, not crossed) or two arrays do not broadcast together;
    scalars and one-element lists always fit."""
    sized = {k: np.shape(v) for k, v in inputs.items()
             if v is not None and not isinstance(v, str | bytes) and np.ndim(v) > 0}
    first: tuple[str, tuple[int, ...]] | None = None
    for name, shape in sized.items():
        if int(np.prod(shape)) == 1:
            continue
        if first is None:
            first = (name, shape)
            continue
        a, sa = first
        if len(shape) == 1 and len(sa) == 1:
            ok = shape == sa
        else:  # arrays of several dimensions broadcast as numpy does
            try:
                np.broadcast_shapes(sa, shape)
                ok = True
            except ValueError:
                ok = False
        if not ok:
            raise SpecError([Problem(
                f"{a} has {_n(sa)} and {name} has {_n(shape)}: list inputs are zipped (one "
                "scenario per position) and must have equal lengths; for every combination "
                f"pass **roofline.grid({a}=..., {name}=...)", field=name)])


def _n(shape: tuple[int, ...]) -> str:
    return f"{shape[0]} values" if len(shape) == 1 else f"shape {shape}"


def grid(**axes: Any) -> dict[str, NDArray[Any]]:
    """The cartesian product of the axes as equal-length flat arrays, to pass as keyword
    arguments: ``roofline.infer(m, c, **roofline.grid(batch=[1, 8], tp=[1, 2, 4]))`` gives
    6 scenarios. The last axis varies fastest (C order), as in :func:`roofline.sweep`.

    Parameters
    ----------
    **axes
        Each axis a scalar or a list of values (numbers or strings such as ``recompute``).

    Returns
    -------
    dict[str, numpy.ndarray]
        One flat array per axis, all of length ``prod(len(axis))``.
    """
    if not axes:
        raise SpecError([Problem("grid() needs at least one axis, e.g. grid(batch=[1, 8])",
                                 field="axes")])
    values = [np.atleast_1d(_values(v)) for v in axes.values()]
    for name, v in zip(axes, values, strict=True):
        if v.ndim != 1 or v.size == 0:
            raise SpecError([Problem(f"grid axis {name} must be a non-empty flat list",
                                     field=name)])
    mesh = np.meshgrid(*values, indexing="ij")
    return {k: m.reshape(-1) for k, m in zip(axes, mesh, strict=True)}
