"""How the CLI prints: JSON, terminal-width tables, single-scenario results, errors."""

from __future__ import annotations

import json
import math
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from roofline.results import Result


def precision_arg(value_: str | None) -> str:
    """The ``--precision`` flag's value; unset means the model's native dtype."""
    return value_ or "native"


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)


def print_json(obj: Any, file: Any = None) -> None:
    """``obj`` as indented JSON (numpy scalars as numbers, NaN as null)."""
    print(json.dumps(obj, indent=2, default=_json_default, allow_nan=False),
          file=file or sys.stdout)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready rows."""
    out: list[dict[str, Any]] = json.loads(df.to_json(orient="records"))
    return out


def terminal_width() -> int | None:
    """Columns of the terminal stdout writes to; None when stdout is not a terminal (a pipe
    or file gets full-width lines, so scripts see every column on one line)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def print_table(view: pd.DataFrame) -> None:
    """An aligned text table; on a terminal, columns that do not fit its width continue
    in further blocks below (pandas ``to_string(line_width=...)``)."""
    print(view.to_string(index=False, line_width=terminal_width()))


def print_result(res: Result, columns: Sequence[str] | None = None) -> None:
    """A result as aligned ``name  value`` lines (one scenario) or a table, with units,
    then its assumptions."""
    import pandas as pd

    from roofline.formatting import value

    frame = res.frame
    cols = [c for c in (columns or frame.columns) if c in frame]
    if len(frame) == 1:
        row = frame.iloc[0]
        width = max(len(c) for c in cols)
        for c in cols:
            print(f"  {c:<{width}}  {value(c, row[c])}")
    else:
        print_table(pd.DataFrame({c: [value(c, v) for v in frame[c]] for c in cols}))
    if res.assumptions:
        print("assumptions:")
        for k, v in res.assumptions.items():
            print(f"  {k}: {v}")


def error_dict(kind: str, message: str, problems: Sequence[Any] = ()) -> dict[str, Any]:
    """The ``--json`` form of an error: ``{"error": {"type", "message", "problems"}}``, each
    problem with its ``source``, ``field``, ``line`` and ``message``."""
    return {"error": {
        "type": kind, "message": message,
        "problems": [{"source": p.source, "field": p.field, "line": p.line,
                      "message": p.message} for p in problems]}}


@contextmanager
def progress(desc: str | None, after_s: float = 1.0) -> Iterator[None]:
    """While the block runs longer than ``after_s``, show ``desc`` and the elapsed time on
    stderr (tqdm); nothing when stderr is not a terminal or ``desc`` is None. The layout
    searches are one vectorised call, so this shows time, not a share done."""
    if desc is None or not sys.stderr.isatty():
        yield
        return
    done = threading.Event()

    def show() -> None:
        if done.wait(after_s):
            return
        from tqdm import tqdm

        with tqdm(desc=desc, total=None, file=sys.stderr, leave=False,
                  bar_format="{desc}... {elapsed}") as bar:
            while not done.wait(0.1):
                bar.refresh()

    thread = threading.Thread(target=show, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
