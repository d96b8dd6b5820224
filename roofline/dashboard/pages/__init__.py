"""The dashboard's pages, in navigation order.

Each page module holds its layout and callbacks side by side: ``NAME`` (id prefix),
``PATH``, ``TITLE``, ``FIELDS`` (its inputs, which are also its URL state),
``layout(values)``, a pure ``compute(values, store)`` and ``register(app)``.
"""

from __future__ import annotations

from types import ModuleType

from roofline.dashboard.pages import cost, fit, frontier, memory, roofline, specs, timeline

PAGES: tuple[ModuleType, ...] = (roofline, memory, fit, frontier, cost, timeline, specs)

__all__ = ["PAGES"]
