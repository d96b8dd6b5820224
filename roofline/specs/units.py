"""Quantities written with units in YAML (``"3.35 TB/s"``), converted once to SI base units.

Decimal prefixes are decimal (1 GB = 1e9 B), binary ones binary (1 GiB = 2**30 B);
``B`` is a byte and ``b`` a bit. An unknown unit is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationInfo, WithJsonSchema

Kind = Literal["flops_per_s", "bytes", "bytes_per_s", "watts", "count"]

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}


def _table() -> dict[Kind, dict[str, float]]:
    flops: dict[str, float] = {}
    size: dict[str, float] = {}
    rate: dict[str, float] = {}
    for p, f in _DECIMAL.items():
        for op in ("FLOP/s", "FLOPS", "OP/s", "OPS"):
            flops[p + op] = f
        size[p + "B"] = f
        rate[p + "B/s"] = f
        rate[p + "b/s"] = f / 8
        rate[p + "bit/s"] = f / 8
        rate[p + "bps"] = f / 8
    for p, f in _BINARY.items():
        size[p + "B"] = f
        rate[p + "B/s"] = f
    watts = {"W": 1.0, "kW": 1e3, "MW": 1e6}
    count = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    return {"flops_per_s": flops, "bytes": size, "bytes_per_s": rate, "watts": watts,
            "count": count}


UNITS: dict[Kind, dict[str, float]] = _table()
_NUMBER = re.compile(r"^([+-]?(?:\d+(?:,\d{3})*|\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(\S*)$")
#: Longest quantity string read ("1,234,567.89 TFLOP/s" is 20); longer input is refused
#: before the regular expression sees it, so its backtracking stays bounded.
MAX_QUANTITY_CHARS = 64


def parse_quantity(value: object, kind: Kind) -> float:
    """Convert ``value`` (a number in SI base units, or a string with a unit) to a float.

    >>> parse_quantity("3.35 TB/s", "bytes_per_s")
    3350000000000.0
    >>> parse_quantity("96 GiB", "bytes")
    103079215104.0
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number or a string with a unit, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a number or a string with a unit, got {type(value).__name__}")
    if len(value) > MAX_QUANTITY_CHARS:
        raise ValueError(f"cannot read {value[:20]!r}... ({len(value):,} characters) as a "
                         "number with a unit")
    m = _NUMBER.match(value.strip())
    if not m or m.group(1) in ("", "+", "-"):
        raise ValueError(f"cannot read {value!r} as a number with a unit")
    number = float(m.group(1).replace(",", ""))
    unit = m.group(2)
    table = UNITS[kind]
    if unit not in table:
        known = ", ".join(sorted(u for u in table if u)[:12])
        raise ValueError(f"unknown unit {unit!r} in {value!r} for a {kind} quantity "
                         f"(use e.g. {known})")
    return number * table[unit]


#: Plausible range of each kind of quantity, in SI units: orders of magnitude past any real
#: chip either way (a 1 kFLOP/s accelerator or a 1e300-byte memory is a typo), and narrow
#: enough that the engine's products and quotients stay finite float64 numbers.
RANGES: dict[Kind, tuple[float, float]] = {
    "flops_per_s": (1e3, 1e24), "bytes": (1.0, 1e18), "bytes_per_s": (1.0, 1e20),
    "watts": (1e-3, 1e9), "count": (1.0, 1e18),
}


def _in_range(kind: Kind) -> Callable[[float], float]:
    low, high = RANGES[kind]

    def check(x: float) -> float:
        if not x > 0 or x == float("inf"):
            raise ValueError(f"must be a finite number greater than 0, got {x!r}")
        if not low <= x <= high:
            raise ValueError(f"{x:g} is outside the plausible range {low:g} to {high:g} "
                             f"({kind.replace('_', ' ')}, SI units); check the unit")
        return x

    return check


#: The unit a bare number in a spec file most likely meant, for the error's suggestion.
LIKELY_UNIT: dict[Kind, str] = {"flops_per_s": "TFLOP/s", "bytes": "GB",
                                "bytes_per_s": "GB/s", "watts": "W", "count": ""}
#: Validation context under which dimensioned quantities must carry a unit (spec files;
#: dicts and objects built in Python hold SI numbers).
UNITS_REQUIRED = {"units_required": True}


def _reader(kind: Kind) -> Callable[[object, ValidationInfo], float]:
    def read(value: object, info: ValidationInfo) -> float:
        # a bare 0, negative or NaN is refused by the range check, with its own message
        if (isinstance(value, int | float) and not isinstance(value, bool)
                and 0 < value < float("inf") and kind != "count"
                and (info.context or {}).get("units_required")):
            hint = (f"{value:g} {LIKELY_UNIT[kind]}" if abs(value) < 1e4
                    else format_quantity(float(value), kind))
            raise ValueError(f"{value!r} has no unit; write the unit, e.g. '{hint}'")
        return parse_quantity(value, kind)

    read.kind = kind  # type: ignore[attr-defined]  # read back by :func:`dump_with_units`
    return read


def _schema(kind: Kind, example: str) -> WithJsonSchema:
    """The JSON Schema of a quantity: a positive number in SI units or a unit string."""
    return WithJsonSchema({
        "anyOf": [{"type": "number", "exclusiveMinimum": 0},
                  {"type": "string", "examples": [example]}],
        "description": f"{kind.replace('_', ' ')}: a number in SI base units or a string "
                       f"with a unit, e.g. {example!r}"})


# pydantic types: a positive float in SI units, read from a number or a unit string (in spec
# files, validated with :data:`UNITS_REQUIRED`, only from a unit string)
FlopsPerS = Annotated[float, BeforeValidator(_reader("flops_per_s")),
                      AfterValidator(_in_range("flops_per_s")),
                      _schema("flops_per_s", "989.4 TFLOP/s")]
Bytes = Annotated[float, BeforeValidator(_reader("bytes")), AfterValidator(_in_range("bytes")),
                  _schema("bytes", "80 GB")]
BytesPerS = Annotated[float, BeforeValidator(_reader("bytes_per_s")),
                      AfterValidator(_in_range("bytes_per_s")), _schema("bytes_per_s", "3.35 TB/s")]
Watts = Annotated[float, BeforeValidator(_reader("watts")), AfterValidator(_in_range("watts")),
                  _schema("watts", "700 W")]
Count = Annotated[float, BeforeValidator(_reader("count")), AfterValidator(_in_range("count")),
                  _schema("count", "671B")]


#: Units :func:`format_quantity` writes, largest first.
_WRITE: dict[Kind, tuple[str, ...]] = {
    "flops_per_s": ("PFLOP/s", "TFLOP/s", "GFLOP/s", "MFLOP/s", "kFLOP/s", "FLOP/s"),
    "bytes": ("PB", "TB", "GB", "MB", "kB", "B"), "bytes_per_s": ("TB/s", "GB/s", "MB/s",
                                                                   "kB/s", "B/s"),
    "watts": ("MW", "kW", "W"), "count": ("",)}


def format_quantity(value: float, kind: Kind) -> str:
    """``value`` (SI) as a unit string that :func:`parse_quantity` reads back exactly,
    in the largest unit that keeps it readable: ``format_quantity(8e10, "bytes") == "80 GB"``.
    """
    for unit in _WRITE[kind]:
        text = f"{value / UNITS[kind][unit]:.15g}"
        if abs(float(text)) >= 1 and parse_quantity(f"{text} {unit}".strip(), kind) == value:
            return f"{text} {unit}".strip()
    return f"{value!r} {_WRITE[kind][-1]}".strip()


def _kind_in(annotation: Any) -> Kind | None:
    """The quantity kind an annotation carries (``Bytes``, ``Bytes | None``), if any."""
    for meta in getattr(annotation, "__metadata__", ()):
        kind = getattr(getattr(meta, "func", None), "kind", None)
        if kind is not None:
            return kind  # type: ignore[no-any-return]
    return next((k for a in getattr(annotation, "__args__", ()) if (k := _kind_in(a))), None)


def _kind_of(field: Any) -> Kind | None:
    for meta in field.metadata:
        kind = getattr(getattr(meta, "func", None), "kind", None)
        if kind is not None:
            return kind  # type: ignore[no-any-return]
    return _kind_in(field.annotation)


def dump_with_units(spec: BaseModel) -> dict[str, Any]:
    """``spec.model_dump(mode="json", exclude_none=True)`` with every dimensioned quantity
    written with its unit, so the YAML of it loads back as a spec file."""
    out = spec.model_dump(mode="json", exclude_none=True)
    for name, field in type(spec).model_fields.items():
        value = getattr(spec, name)
        if name not in out:
            continue
        kind = _kind_of(field)
        if isinstance(value, BaseModel):
            out[name] = dump_with_units(value)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            out[name] = [dump_with_units(v) for v in value]
        elif isinstance(value, dict):  # dict[Dtype, FlopsPerS]: the values' kind
            if kind is not None and kind != "count":
                out[name] = {k: format_quantity(v, kind) for k, v in out[name].items()}
        elif kind is not None and kind != "count" and isinstance(value, float):
            out[name] = format_quantity(value, kind)
    return out
