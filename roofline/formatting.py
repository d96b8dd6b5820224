"""Human-readable numbers for messages and views (the engine works in SI base units only)."""

from __future__ import annotations

import math

_DEC = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]


def si(value: float | None, unit: str, digits: int = 3) -> str:
    """``si(3.35e12, "B/s") == "3.35 TB/s"``; None or NaN prints as ``-``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1e21:
        return f"{value:.{digits}g} {unit}"
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


def seconds(v: float | None) -> str:
    """``seconds(0.0123) == "12.3 ms"``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "unbounded"
    if v == 0:
        return "0 s"
    if abs(v) < 1e-3:
        return f"{v * 1e6:.3g} us"
    if abs(v) < 1:
        return f"{v * 1e3:.3g} ms"
    if abs(v) < 3600 * 48:
        return f"{v:.3g} s" if abs(v) < 600 else f"{v / 3600:.3g} h"
    return f"{v / 86400:.3g} days"


def value(column: str, v: object) -> str:
    """Format one result cell by its column's unit suffix (SI names, CONVENTIONS.md)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if hasattr(v, "item") and not isinstance(v, bool | str):  # numpy scalars
        v = v.item()
    if isinstance(v, bool | str):
        return str(v)
    if not isinstance(v, int | float):
        return str(v)
    x = float(v)
    if math.isinf(x):
        return "unbounded" if x > 0 else "-unbounded"
    if column.endswith("_bytes_per_s"):
        return si(x, "B/s")
    if column == "bytes" or column.endswith("_bytes") or "_bytes_" in column:
        return si(x, "B")
    if "usd" in column:
        return f"${x:,.0f}" if abs(x) >= 1e4 else f"${x:,.4g}"
    if column.endswith("tokens_per_s") or "tokens_per_s_" in column:
        return f"{x:,.0f} tok/s" if abs(x) >= 1e4 else f"{x:,.4g} tok/s"
    if column.endswith("flops") or column.endswith("flops_per_s"):  # before "_s": a rate
        return si(x, "FLOP/s" if column.endswith("per_s") else "FLOP")
    if column.endswith("_params") or column == "training_tokens":
        return count(x)
    if column.endswith("_s") or "_s_" in column:
        return seconds(x)
    if column.endswith(("fraction", "_share")) or column in ("mfu", "hfu"):
        return f"{x:.1%}"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:,.0f}" if 1e4 <= abs(x) < 1e15 else f"{x:.4g}"
