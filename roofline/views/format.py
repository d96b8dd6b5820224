"""Human-readable numbers for views (the engine works in SI base units only)."""

from __future__ import annotations

import math

_DEC = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]


def si(value: float | None, unit: str, digits: int = 3) -> str:
    """``si(3.35e12, "B/s") == "3.35 TB/s"``; None or NaN prints as ``-``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    for scale, prefix in _DEC:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


def count(n: float | None) -> str:
    """Parameter or token counts: ``count(6.71e11) == "671B"``."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.4g}{suffix}"
    return f"{n:.4g}"
