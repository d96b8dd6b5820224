"""What every verb's inputs may be, as one table: field -> allowed range or choices.

Each verb checks its inputs here once, at its edge (:func:`check`), before any formula
runs; a bad value is a :class:`~roofline.errors.SpecError` that names the field, the value,
what is allowed and how to fix it, with every bad field listed at once. Checks that depend
on the model or the layout together (``tp`` must divide the heads, ``tp x pp`` chips per
replica) are per-scenario reasons in the verbs (``valid`` / ``reason`` columns), since in
a sweep they flag a row instead of failing the call.

To add a rule, add a row to :data:`RULES`; a name ``verb.field`` applies to that verb only
and takes precedence over ``field``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from roofline.engine.scenario.cluster import MAX_CHIPS
from roofline.errors import Problem, SpecError

#: Longest sequence any input may name (tokens): far beyond any model's context.
MAX_TOKENS = 1e9


@dataclass(frozen=True)
class Rule:
    """Allowed values of one input: a finite number in [low, high] (``low_open`` makes the
    low end exclusive), optionally whole, or one of ``choices``."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None
    unit: str = ""
    fix: str = ""

    def allowed(self) -> str:
        """The allowed values in words, e.g. ``a whole number in [1, 10,000,000] chips``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kind = "a whole number" if self.integer else "a finite number"
        lo, hi = math.isfinite(self.low), math.isfinite(self.high)
        bound = (f" in {'(' if self.low_open else '['}{self.low:,.10g}, {self.high:,.10g}]"
                 if lo and hi else f" {'>' if self.low_open else '>='} {self.low:,.10g}" if lo
                 else f" <= {self.high:,.10g}" if hi else "")
        return f"{kind}{bound}" + (f" ({self.unit})" if self.unit else "")

    def violation(self, value: Any) -> str | None:
        """Why ``value`` (a scalar or array) breaks this rule, or None."""
        if self.choices is not None:
            given = np.asarray(value, dtype=object).reshape(-1).tolist()
            # a layout search repeats a few choices many times: check each once (unhashable
            # values are checked one by one)
            with contextlib.suppress(TypeError):
                given = list(dict.fromkeys(given))
            wrong = [v for v in given
                     if not any(v == c and type(v) is not bool for c in self.choices)]
            return None if not wrong else f"got {wrong[0]!r}"
        if type(value) in (int, float):  # the common single answer, without numpy
            v = float(value)
            ok = (math.isfinite(v) and v <= self.high and (v > self.low if self.low_open
                                                          else v >= self.low)
                  and (not self.integer or v == round(v)))
            return None if ok else f"got {v:.10g}"
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return f"got {value!r}, not a number"
        flat = arr.reshape(-1)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(flat) | (flat > self.high) | (
                (flat <= self.low) if self.low_open else (flat < self.low))
            if self.integer:
                bad |= flat != np.round(flat)
        return f"got {flat[np.argmax(bad)]:.10g}" if bad.any() else None


RULES: dict[str, Rule] = {
    # workload (serving): per-row layout checks flag batch < 1 in a sweep
    "batch": Rule(unit="sequences"),
    "prompt_len": Rule(low=1, high=MAX_TOKENS, unit="tokens"),
    "output_len": Rule(low=1, high=MAX_TOKENS, unit="tokens"),
    # workload (training)
    "seq_len": Rule(unit="tokens"),
    "global_batch": Rule(unit="sequences"),
    "micro_batch": Rule(unit="sequences"),
    "tokens": Rule(low=0, low_open=True, unit="tokens", fix="the training run's tokens"),
    # layout: divisibility and chip counts are per-scenario reasons, not errors
    "tp": Rule(unit="ranks"), "pp": Rule(unit="stages"), "ep": Rule(unit="ranks"),
    "cp": Rule(unit="ranks"), "dp": Rule(unit="replicas"), "interleave": Rule(unit="stages"),
    "count": Rule(low=1, high=MAX_CHIPS, integer=True, unit="chips"),
    "infer.count": Rule(low=1, high=MAX_CHIPS, integer=True, unit="chips"),
    "zero": Rule(choices=(0, 1, 2, 3), fix="a ZeRO stage: 0 none, 1 optimizer, 2 +gradients, "
                 "3 +weights (FSDP)"),
    "dp_overlap": Rule(low=0, high=1, unit="share of DP traffic hidden"),
    "infer.dp": Rule(unit="attention groups"),
    "comm_overlap": Rule(low=0, high=1, unit="share of expert / pipeline traffic hidden"),
    "node_limit": Rule(low=1, integer=True, unit="scale-up domains per token",
                       fix="DeepSeek-V3 routes each token to at most 4 nodes"),
    "redundant_experts": Rule(low=0, integer=True, unit="experts per stage"),
    "grad_dtype": Rule(choices=("fp32", "bf16")),
    "dispatch": Rule(choices=("auto", "fp8", "bf16")),
    # modes and kernels
    "mode": Rule(choices=("ideal", "expected")),
    "cp_mode": Rule(choices=("ring", "ulysses")),
    "attention_kernel": Rule(choices=("fused", "materialised")),
    "train.attention_kernel": Rule(choices=("flash", "materialised")),
    # money, energy, memory
    "usd_per_chip_hour": Rule(low=0, low_open=True, unit="$", fix="omit it to use the "
                              "catalog price"),
    "pue": Rule(low=1, high=5, fix="power usage effectiveness: 1.1-1.6 for data centres"),
    "utilisation_power": Rule(low=0, high=1, low_open=True, unit="of TDP"),
    "runtime_reserve_bytes": Rule(low=0, unit="bytes"),
    "memory_utilisation": Rule(low=0, high=1, low_open=True, unit="of device memory",
                               fix="vLLM's gpu_memory_utilization, 0.9 by default"),
    "token_budget": Rule(low=1, integer=True, unit="tokens per scheduler step"),
}


def rule_for(verb: str, field: str) -> Rule | None:
    """The rule for ``field`` of ``verb`` (``verb.field`` first, then ``field``)."""
    return RULES.get(f"{verb}.{field}", RULES.get(field))


def check(verb: str, inputs: Mapping[str, Any]) -> dict[str, NDArray[np.float64] | Any]:
    """Check every named input of ``verb`` against :data:`RULES` (None means "not given"
    and is skipped); numbers come back as float64 arrays (shape kept), choices as given.
    Raises one :class:`SpecError` naming every bad field, its value and what is allowed."""
    out: dict[str, Any] = {}
    problems = []
    for name, value in inputs.items():
        rule = rule_for(verb, name)
        if rule is None:
            raise KeyError(f"no input rule for {verb}.{name}; add it to RULES")
        if value is None:
            out[name] = None
            continue
        why = rule.violation(value)
        if why is not None:
            fix = f"; {rule.fix}" if rule.fix else ""
            problems.append(Problem(f"{name} must be {rule.allowed()}, {why}{fix}",
                                    field=name))
            continue
        out[name] = (value if rule.choices is not None
                     else np.asarray(value, dtype=np.float64))
    if problems:
        raise SpecError(problems)
    return out
