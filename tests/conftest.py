"""Suite-wide checks: every engine :class:`~roofline.results.Result` built by any test is
checked against the output invariants (tests/invariants.py) as it is constructed (a lazy
result's table is built aside for the check, so the result itself stays lazy)."""

from __future__ import annotations

from typing import Any

from invariants import assert_invariants

from roofline import results

_init = results.Result.__init__


def _checked_init(self: results.Result, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    cols = self._columns
    frame = self._frame if cols is None else results.frame_from_columns(cols.data, cols.shape)
    if frame is not None:
        assert_invariants(frame, type(self).__name__)


results.Result.__init__ = _checked_init  # type: ignore[method-assign]
