"""The house style every figure shares: palette, line dashes, layout, title and grid.

Under plotly's stock default template figures use this style; under any other active
template (``plotly.io.templates.default = "plotly_dark"``, a company template) they keep
only its placement (margins, legend) and take that template's colours and fonts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Qualitative palette (plotly's default, colour-blind-safe enough for a handful of chips).
PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692",
           "#b6e880", "#ff97ff", "#fecb52")
#: Line style per dtype drawn for one chip, in the order the dtypes are given.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
#: Shared layout. Template "none" plus a few settings: plotly's named templates cost ~13 ms
#: per figure to validate and copy, most of an interactive callback's budget.
LAYOUT = {"template": "none", "colorway": PALETTE, "paper_bgcolor": "white",
          "plot_bgcolor": "white", "font": {"family": "system-ui, sans-serif", "size": 12},
          "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
          "legend": {"orientation": "h", "y": -0.18, "x": 0}}
TITLE = {"font": {"size": 14}, "x": 0.01, "xanchor": "left"}
#: What a figure keeps under a template the user chose: placement, not colours.
PLACEMENT = ("margin", "legend")


def house_style() -> bool:
    """True under plotly's stock default template (``plotly``): figures then use the house
    style above. Under any other active template (``plotly.io.templates.default =
    "plotly_dark"``, a company template) they use that template's colours and fonts."""
    import plotly.io as pio

    return pio.templates.default in ("plotly", None)


def layout() -> dict[str, Any]:
    if house_style():
        return LAYOUT
    import plotly.io as pio

    return {"template": pio.templates.default} | {k: LAYOUT[k] for k in PLACEMENT}


def grid() -> dict[str, Any]:
    return GRID if house_style() else {"zeroline": False, "showline": True}
GRID = {"gridcolor": "#e5e7eb", "zeroline": False, "linecolor": "#9ca3af", "showline": True}


def log_ticks(values: Sequence[float]) -> dict[str, Any]:
    """Ticks at 1, 2 and 5 times each power of ten spanning ``values`` (a log axis whose
    minor labels would otherwise read as bare digits)."""
    if not values:
        return {}
    lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    ticks = [m * 10.0**e for e in range(lo, hi + 1) for m in (1, 2, 5)]
    return {"tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}
