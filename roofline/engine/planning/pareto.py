"""Pareto fronts: the points no other point beats on both axes, in O(n log n) numpy (sort
by one axis, keep each point that improves the best of the other so far), used by the
serving frontier and by the reductions of a distributed sweep."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def pareto_indices(x: ArrayLike, y: ArrayLike, *, minimize_x: bool = True,
                   minimize_y: bool = True) -> NDArray[np.intp]:
    """Indices of the points no other point beats on both ``x`` and ``y`` (each minimised
    or maximised as asked), in order of increasing ``x``. Points with a non-finite value
    are never on the front; of exact duplicates one is kept."""
    sx = np.asarray(x, dtype=np.float64) * (1.0 if minimize_x else -1.0)
    sy = np.asarray(y, dtype=np.float64) * (1.0 if minimize_y else -1.0)
    finite = np.flatnonzero(np.isfinite(sx) & np.isfinite(sy))
    order = finite[np.lexsort((sy[finite], sx[finite]))]  # best x first, then best y
    if not len(order):
        return order.astype(np.intp)
    best = np.minimum.accumulate(sy[order])
    keep = order[np.r_[True, best[1:] < best[:-1]]]
    return (keep if minimize_x else keep[::-1]).astype(np.intp)
