"""Suite-wide checks: every engine :class:`~roofline.results.Result` built by any test is
checked against the output invariants (tests/invariants.py) as it is constructed."""

from __future__ import annotations

from typing import Any

import pandas as pd
from invariants import assert_invariants

from roofline import results

_init = results.Result.__init__


def _checked_init(self: results.Result, frame: pd.DataFrame, *args: Any, **kwargs: Any) -> None:
    assert_invariants(frame, type(self).__name__)
    _init(self, frame, *args, **kwargs)


results.Result.__init__ = _checked_init  # type: ignore[method-assign]
