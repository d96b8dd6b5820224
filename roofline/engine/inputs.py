"""The allowed range of every numeric scenario input, as data, and the one check every verb
runs on its inputs at the edge: a name not in range is a :class:`SpecError` naming the
argument, its allowed range and what was given; never a silently replaced default, a NaN
carried into a result, or a raw ``TypeError`` from deep inside numpy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from roofline.engine.cluster import MAX_CHIPS
from roofline.errors import Problem, SpecError


@dataclass(frozen=True)
class Range:
    """Allowed values of one numeric input: ``low`` to ``high`` (``low`` excluded when
    ``above``), whole numbers only when ``whole``; ``unit`` names the unit in messages;
    ``optional`` inputs may be None (not given), others may not."""

    low: float
    high: float
    above: bool = False
    whole: bool = False
    unit: str = ""
    optional: bool = False

    def describe(self) -> str:
        def n(x: float) -> str:
            return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"
        kind = "a whole number" if self.whole else "a number"
        unit = f" {self.unit}" if self.unit else ""
        if self.above:
            return f"{kind} > {n(self.low)} and <= {n(self.high)}{unit}"
        return f"{kind} from {n(self.low)} to {n(self.high)}{unit}"

    def admits(self, x: np.ndarray) -> np.ndarray:
        ok = np.isfinite(x) & (x <= self.high) & ((x > self.low) if self.above
                                                   else (x >= self.low))
        if self.whole:
            ok &= x == np.round(x)
        return np.asarray(ok, dtype=bool)


#: Every numeric scenario input, by argument name. The bounds are far past any real use
#: (so no real scenario is refused) and tight enough that the engine's products stay finite.
RANGES: dict[str, Range] = {
    # workload
    "batch": Range(1, 1e7, whole=True, unit="sequences"),
    "max_batch": Range(1, 1e7, whole=True, unit="sequences"),
    "prompt_len": Range(1, 1e8, whole=True, unit="tokens"),
    "output_len": Range(1, 1e8, whole=True, unit="tokens"),
    "seq_len": Range(1, 1e8, whole=True, unit="tokens"),
    "global_batch": Range(1, 1e9, whole=True, unit="sequences"),
    "micro_batch": Range(1, 1e7, whole=True, unit="sequences"),
    "token_budget": Range(1, 1e9, whole=True, unit="tokens per step"),
    "rate": Range(0, 1e9, above=True, unit="requests/s"),
    "tokens": Range(0, 1e18, above=True, unit="tokens", optional=True),
    "pages": Range(0, 1e12, above=True, unit="pages", optional=True),
    "words_per_token": Range(0, 100, above=True),
    "words_per_page": Range(0, 1e6, above=True),
    # layout
    "count": Range(1, MAX_CHIPS, whole=True, unit="chips", optional=True),
    "tp": Range(1, MAX_CHIPS, whole=True), "pp": Range(1, MAX_CHIPS, whole=True),
    "ep": Range(1, MAX_CHIPS, whole=True), "cp": Range(1, MAX_CHIPS, whole=True),
    "dp": Range(1, MAX_CHIPS, whole=True, optional=True), "interleave": Range(1, 1024, whole=True),
    "zero": Range(0, 3, whole=True),
    "dp_overlap": Range(0, 1, unit="(share of DP communication hidden)"),
    # targets
    "max_tpot_s": Range(0, 3600, above=True, unit="s", optional=True),
    "max_ttft_s": Range(0, 86400, above=True, unit="s", optional=True),
    "min_tokens_per_s": Range(0, 1e12, above=True, unit="tokens/s", optional=True),
    # money and energy
    "usd_per_chip_hour": Range(0, 1e4, above=True, unit="$", optional=True),
    "utilisation": Range(0, 1, above=True, unit="(busy share of paid hours)"),
    "power_utilisation": Range(0, 1, above=True, unit="(share of TDP drawn)"),
    "utilisation_power": Range(0, 1, above=True, unit="(share of TDP drawn)"),
    "pue": Range(1, 5, unit="(power usage effectiveness)"),
    "grid_kg_co2_per_kwh": Range(0, 2, unit="kg CO2e/kWh", optional=True),
    # runtime
    "runtime_reserve_bytes": Range(0, 1e15, unit="bytes"),
    "step_overhead_s": Range(0, 60, unit="s"),
    "acceptance": Range(0, 1), "draft_len": Range(1, 64, whole=True, unit="tokens"),
    "context": Range(1, 1e8, whole=True, unit="tokens"),
}

#: Enumerated options, by argument name.
CHOICES: dict[str, tuple[str, ...]] = {
    "purpose": ("serve", "train"),
    "mode": ("expected", "ideal"),
}


def _shown(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numbers(name: str, value: Any) -> np.ndarray | Problem:
    """``value`` as a float array, or the problem that it is not numeric."""
    if isinstance(value, str | bytes | Mapping | bool | np.bool_) or value is None:
        return Problem(f"must be {RANGES[name].describe()}, got {_shown(value)}",
                       field=name)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return Problem(f"must be {RANGES[name].describe()} (or an array of them), got "
                       f"{_shown(value)}", field=name)
    if arr.size == 0:
        return Problem("is empty; give at least one value", field=name)
    if isinstance(value, Sequence | np.ndarray) and np.asarray(value).dtype.kind == "b":
        return Problem(f"must be numbers, got booleans {_shown(value)}", field=name)
    return arr


def check_numbers(**values: Any) -> None:
    """Check each named input against :data:`RANGES` (``None``: not given, allowed for the
    optional ones); raise one :class:`SpecError` listing every input out of range."""
    problems = []
    for name, value in values.items():
        if value is None and RANGES[name].optional:
            continue
        arr = _numbers(name, value)
        if isinstance(arr, Problem):
            problems.append(arr)
            continue
        rule = RANGES[name]
        bad = ~rule.admits(arr)
        if bad.any():
            first = arr.reshape(-1)[np.argmax(bad.reshape(-1))]
            got = _shown(value) if arr.ndim == 0 else f"{first:g} among {arr.size} values"
            problems.append(Problem(f"must be {rule.describe()}, got {got}", field=name))
    if problems:
        raise SpecError(problems)


def check_scalars(**values: Any) -> None:
    """:func:`check_numbers` for inputs that take one number, not an array."""
    arrays = [k for k, v in values.items() if v is not None and np.ndim(v) != 0
              and not isinstance(v, str | bytes | Mapping)]
    if arrays:
        raise SpecError([Problem(f"must be a single number, got {_shown(values[k])}",
                                 field=k) for k in arrays])
    check_numbers(**values)


def check_choice(name: str, value: Any, options: Sequence[str] | None = None) -> str:
    """``value`` if it is one of ``options`` (default :data:`CHOICES` [name]), else a
    :class:`SpecError` naming the argument and its options."""
    allowed = tuple(options if options is not None else CHOICES[name])
    if not isinstance(value, str) or value not in allowed:
        import difflib

        hint = difflib.get_close_matches(str(value), allowed, n=1)
        raise SpecError([Problem(f"must be one of {', '.join(allowed)}, got {_shown(value)}"
                                 + (f"; did you mean {hint[0]!r}?" if hint else ""),
                                 field=name)])
    return value


def check_flags(**values: Any) -> None:
    """Each named input is True or False (None allowed where the verb reads it as "auto")."""
    bad = [k for k, v in values.items() if v is not None and not isinstance(v, bool | np.bool_)]
    if bad:
        raise SpecError([Problem(f"must be True or False, got {_shown(values[k])}", field=k)
                         for k in bad])


def check_mapping(name: str, value: Any) -> dict[str, Any]:
    """``value`` (a mapping with string keys, or None for empty) as a dict, or a
    :class:`SpecError` naming the argument."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise SpecError([Problem(f"must be a mapping of names to values (a dict), got "
                                 f"{_shown(value)}", field=name)])
    return dict(value)


def check_shapes(**arrays: Any) -> tuple[int, ...]:
    """The broadcast shape of the named inputs, or a :class:`SpecError` naming the two
    whose shapes do not broadcast."""
    shapes = {k: np.shape(v) for k, v in arrays.items()}
    acc: tuple[int, ...] = ()
    seen: list[str] = []
    for name, shape in shapes.items():
        try:
            acc = np.broadcast_shapes(acc, shape)
        except ValueError:
            other = next(k for k in seen if not _broadcasts(shapes[k], shape))
            raise SpecError([Problem(
                f"shape {shape} does not broadcast with {other}'s shape {shapes[other]}; "
                "give arrays of equal length, or one of them as a scalar", field=name)]
            ) from None
        seen.append(name)
    return acc


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def check_context(m: Any, prompt_len: Any, output_len: Any, allow: bool) -> None:
    """Prompt plus output within the model's ``max_position_embeddings`` (unless ``allow``:
    the engine then extrapolates the KV cache and attention cost linearly)."""
    check_flags(allow_beyond_context=allow)
    limit = getattr(m, "max_position_embeddings", None)
    if allow or not limit:
        return
    total = np.asarray(prompt_len, dtype=np.float64) + np.asarray(output_len, dtype=np.float64)
    longest = float(np.max(total))
    if longest > limit:
        raise SpecError([Problem(
            f"prompt_len + output_len = {longest:,.0f} tokens exceeds the model's "
            f"max_position_embeddings of {limit:,}; shorten the request, or pass "
            "allow_beyond_context=True (CLI: --allow-beyond-context) to evaluate it anyway",
            source=getattr(m, "name", None), field="max_position_embeddings")])


__all__ = ["CHOICES", "RANGES", "Range", "check_choice", "check_context", "check_flags",
           "check_mapping", "check_numbers", "check_scalars", "check_shapes"]
