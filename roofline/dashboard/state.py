"""A page's state as typed fields, read from and written to the URL query string.

Each page declares its inputs once as :class:`Field` s; the same declaration parses a
shared link (``?model=llama-3.1-70b&batch=8``), writes the link back as inputs change,
and checks the values a callback receives (ranges, whole numbers, allowed choices),
returning a message per field instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

Kind = Literal["int", "float", "str", "list"]

#: Longest query value accepted (longer ones are ignored, falling back to the default).
MAX_VALUE_CHARS = 400
#: Most items accepted in a list field.
MAX_LIST_ITEMS = 12


@dataclass(frozen=True)
class Field:
    """One input of a page.

    ``key`` names it in the query string and in component ids; ``kind`` is its type;
    ``lo``/``hi`` bound numbers (inclusive); ``choices`` restricts strings and list items;
    ``optional`` numbers may be left empty (None); ``label`` names it in messages;
    ``prop`` is the component property holding the value.
    """

    key: str
    kind: Kind
    default: Any
    label: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False
    prop: str = "value"

    @property
    def title(self) -> str:
        return self.label or self.key


def _parse(f: Field, raw: str) -> Any:
    """A query-string value as the field's type; raises ValueError when it is not one."""
    if len(raw) > MAX_VALUE_CHARS:
        raise ValueError("too long")
    if f.kind == "list":
        return [item for item in raw.split(",") if item][:MAX_LIST_ITEMS]
    if f.kind == "str":
        return raw
    if raw == "" and f.optional:
        return None
    x = float(raw)
    if not math.isfinite(x):
        raise ValueError("not finite")
    return int(x) if f.kind == "int" and x == int(x) else x


def parse_query(search: str | None, fields: Sequence[Field]) -> dict[str, Any]:
    """Field values from a query string (``?a=1&b=x,y``); a missing or unreadable value
    gives the field's default, so a hand-edited link still opens."""
    raw = dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=True))
    out: dict[str, Any] = {}
    for f in fields:
        try:
            out[f.key] = _parse(f, raw[f.key]) if f.key in raw else f.default
        except (ValueError, OverflowError):
            out[f.key] = f.default
    return out


def _text(v: Any) -> str:
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v)


def to_query(values: Mapping[str, Any], fields: Sequence[Field]) -> str:
    """The query string (with ``?``) that :func:`parse_query` reads back as ``values``;
    empty values are left out."""
    pairs = []
    for f in fields:
        v = values.get(f.key)
        if v is None or v == "" or v == []:
            continue
        pairs.append((f.key, ",".join(map(str, v)) if isinstance(v, list | tuple) else _text(v)))
    return "?" + urlencode(pairs, safe=",:") if pairs else ""


def check(values: Mapping[str, Any], fields: Sequence[Field]) -> tuple[dict[str, Any],
                                                                       dict[str, str]]:
    """Values coerced to their field types, and a message per invalid field.

    Numbers must lie in [lo, hi] (whole for ``int`` fields); strings and list items must be
    among ``choices`` when given. An invalid field keeps its raw value in the first dict.
    """
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        v = values.get(f.key)
        clean[f.key] = v
        if f.kind in ("int", "float"):
            if v is None or v == "":
                if not f.optional:
                    errors[f.key] = f"enter a number for {f.title}"
                clean[f.key] = None
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                errors[f.key] = f"{f.title} must be a number"
                continue
            if not math.isfinite(x):
                errors[f.key] = f"{f.title} must be a finite number"
            elif f.kind == "int" and x != int(x):
                errors[f.key] = f"{f.title} must be a whole number"
            elif (f.lo is not None and x < f.lo) or (f.hi is not None and x > f.hi):
                errors[f.key] = f"{f.title} must be between {_text(f.lo)} and {_text(f.hi)}"
            else:
                clean[f.key] = int(x) if f.kind == "int" else x
        elif f.kind == "list":
            items = [str(i) for i in (v or [])] if isinstance(v, list | tuple) else (
                [str(v)] if v else [])
            clean[f.key] = items
            if not items and not f.optional:
                errors[f.key] = f"choose at least one {f.title}"
            elif len(items) > MAX_LIST_ITEMS:
                errors[f.key] = f"choose at most {MAX_LIST_ITEMS}"
            elif f.choices is not None and (bad := [i for i in items if i not in f.choices]):
                errors[f.key] = f"unknown {f.title}: {', '.join(bad)}"
        else:
            clean[f.key] = "" if v is None else str(v)
            if f.choices is not None and clean[f.key] not in f.choices:
                errors[f.key] = f"{f.title} must be one of {', '.join(f.choices)}"
            elif not clean[f.key] and not f.optional:
                errors[f.key] = f"choose a {f.title}"
    return clean, errors
