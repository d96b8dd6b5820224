"""What every verb's inputs may be, as one table: field -> allowed range or choices.

Each verb checks its inputs here once, at its edge (:func:`check`), before any formula
runs; a bad value is a :class:`~roofline.errors.SpecError` that names the field, the value,
what is allowed and how to fix it, with every bad field listed at once. Never a silently
replaced default, a NaN carried into a result, or a raw ``TypeError`` from inside numpy.
Checks that depend on the model or the layout together (``tp`` must divide the heads,
``tp x pp`` chips per replica) are per-scenario reasons in the verbs (``valid`` /
``reason`` columns), since in a sweep they flag a row instead of failing the call; so are
degrees and batches below 1 in the vectorised verbs (``infer``, ``train``), and there a
request beyond the model's context window (:func:`beyond_context`). List lengths
are checked by :func:`roofline.broadcasting.check_lengths`.

To add a rule, add a row to :data:`RULES`; a name ``verb.field`` applies to that verb only
and takes precedence over ``field``.
"""

from __future__ import annotations

import contextlib
import difflib
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from roofline.engine.scenario.cluster import MAX_CHIPS
from roofline.errors import Problem, SpecError

#: Longest sequence any input may name (tokens): far beyond any model's context.
MAX_TOKENS = 1e9
#: Largest batch any input may name (sequences).
MAX_BATCH = 1e7


@dataclass(frozen=True)
class Rule:
    """Allowed values of one input: a finite number in [low, high] (``low_open`` makes the
    low end exclusive, ``high_open`` the high end), optionally whole; or one of
    ``choices``; or (``kind``) True/False, or a mapping of names. ``optional`` inputs
    may be None ("not given": the verb's default or its "auto" applies); others may not."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None
    kind: Literal["number", "flag", "mapping"] = "number"
    optional: bool = False
    unit: str = ""
    fix: str = ""

    def allowed(self) -> str:
        """The allowed values in words, e.g. ``a whole number in [1, 10,000,000] chips``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "flag":
            return "True or False"
        if self.kind == "mapping":
            return "a dict of names to values"
        kind = "a whole number" if self.integer else "a finite number"
        lo, hi = math.isfinite(self.low), math.isfinite(self.high)
        bound = (f" in {'(' if self.low_open else '['}{self.low:,.10g}, {self.high:,.10g}"
                 f"{')' if self.high_open else ']'}"
                 if lo and hi else f" {'>' if self.low_open else '>='} {self.low:,.10g}" if lo
                 else f" {'<' if self.high_open else '<='} {self.high:,.10g}" if hi else "")
        return f"{kind}{bound}" + (f" ({self.unit})" if self.unit else "")

    def violation(self, value: Any) -> str | None:
        """Why ``value`` (not None; a scalar or array) breaks this rule, or None."""
        if self.choices is not None:
            return self._choice(value)
        if self.kind == "flag":
            ok = isinstance(value, bool | np.bool_) or (  # a list of flags in a sweep
                isinstance(value, list | tuple | np.ndarray) and np.asarray(value).size > 0
                and np.asarray(value).dtype.kind == "b")
            return None if ok else f"got {_shown(value)}"
        if self.kind == "mapping":
            ok = isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
            return None if ok else f"got {_shown(value)}"
        if type(value) in (int, float):  # the common single answer, without numpy
            v = float(value)
            ok = (math.isfinite(v) and (v < self.high if self.high_open else v <= self.high)
                  and (v > self.low if self.low_open else v >= self.low)
                  and (not self.integer or v == round(v)))
            return None if ok else f"got {v:.10g}"
        flat = _numbers(value)
        if isinstance(flat, str):
            return flat
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(flat) | ((flat >= self.high) if self.high_open
                                        else (flat > self.high)) | (
                (flat <= self.low) if self.low_open else (flat < self.low))
            if self.integer:
                bad |= flat != np.round(flat)
        return f"got {flat[np.argmax(bad)]:.10g}" if bad.any() else None

    def _choice(self, value: Any) -> str | None:
        assert self.choices is not None
        if all(isinstance(c, str) for c in self.choices):  # a name: one string
            if isinstance(value, str) and value in self.choices:
                return None
            hint = (difflib.get_close_matches(value, [str(c) for c in self.choices], n=1)
                    if isinstance(value, str) else [])
            return f"got {_shown(value)}" + (f"; did you mean {hint[0]!r}?" if hint else "")
        given = np.asarray(value, dtype=object).reshape(-1).tolist()  # codes: arrays allowed
        if not given:
            return "got an empty list"
        # a layout search repeats a few codes many times: check each once (by type too, so
        # True is not taken for 1; unhashable values are checked one by one)
        with contextlib.suppress(TypeError):
            given = [v for _, v in dict.fromkeys((type(v), v) for v in given)]
        wrong = [v for v in given if not any(
            v == c and not isinstance(v, bool | np.bool_) for c in self.choices)]
        return None if not wrong else f"got {_shown(wrong[0])}"


def _shown(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numbers(value: Any) -> NDArray[np.float64] | str:
    """``value`` as a flat float array, or why it is not numbers."""
    if isinstance(value, str | bytes | Mapping | bool | np.bool_ | complex):
        return f"got {_shown(value)}, not a number"
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "iuf":
            raise TypeError
        flat = raw.astype(np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        return f"got {_shown(value)}, not a number or a list of numbers"
    return flat if flat.size else "got an empty list; give at least one value"


def _whole(low: float, high: float, unit: str, **kw: Any) -> Rule:
    return Rule(low=low, high=high, integer=True, unit=unit, **kw)


def _above_zero(high: float, unit: str = "", **kw: Any) -> Rule:
    return Rule(low=0, high=high, low_open=True, unit=unit, **kw)


#: Every input of every verb, by argument name. The bounds are far past any real use (so no
#: real scenario is refused) and tight enough that the engine's products stay finite.
RULES: dict[str, Rule] = {
    # workload (serving)
    "batch": _whole(1, MAX_BATCH, "sequences"),
    "max_batch": _whole(1, 1e6, "sequences"),
    "prompt_len": Rule(low=1, high=MAX_TOKENS, unit="tokens"),
    "output_len": Rule(low=1, high=MAX_TOKENS, unit="tokens"),
    "context": _whole(1, MAX_TOKENS, "tokens"),
    "token_budget": _whole(1, MAX_TOKENS, "tokens per scheduler step"),
    "rate": _above_zero(1e9, "requests/s"),
    "allow_beyond_context": Rule(kind="flag", fix="True evaluates a prompt + output longer "
                                 "than the model's max_position_embeddings"),
    # workload (training)
    "seq_len": _whole(1, MAX_TOKENS, "tokens"),
    "global_batch": _whole(1, 1e9, "sequences"),
    "fit.global_batch": _whole(1, 1e9, "sequences", optional=True, fix="omit it for 1024"),
    "micro_batch": _whole(1, MAX_BATCH, "sequences"),
    "tokens": _above_zero(1e18, "tokens", optional=True),
    "pages": _above_zero(1e12, "pages", optional=True),
    "words_per_token": _above_zero(100, fix="~0.75 for English prose"),
    "words_per_page": _above_zero(1e6, fix="~500 for a single-spaced page"),
    # layout: divisibility and chips per replica are per-scenario reasons, not errors
    "tp": _whole(1, MAX_CHIPS, "ranks"), "pp": _whole(1, MAX_CHIPS, "stages"),
    "ep": _whole(1, MAX_CHIPS, "ranks"), "cp": _whole(1, MAX_CHIPS, "ranks"),
    "dp": _whole(1, MAX_CHIPS, "replicas", optional=True),
    "interleave": _whole(1, 1024, "virtual stages"),
    "count": _whole(1, MAX_CHIPS, "chips", optional=True),
    "zero": Rule(choices=(0, 1, 2, 3), fix="a ZeRO stage: 0 none, 1 optimizer, 2 +gradients, "
                 "3 +weights (FSDP)"),
    "dp_overlap": Rule(low=0, high=1, unit="share of DP traffic hidden"),
    # serving at a rate (queueing) and the frontier
    "percentile": Rule(low=0.5, high=1, high_open=True, unit="quantile of latency"),
    "prompt_cv": Rule(low=0, high=100, unit="coefficient of variation of prefill time"),
    "serve_at_rate.dp": _whole(1, MAX_CHIPS, "replicas"),
    "prefill_instances": _whole(1, MAX_CHIPS, "instances"),
    "decode_instances": _whole(1, MAX_CHIPS, "instances"),
    "prefill_tp": _whole(1, MAX_CHIPS, "ranks", optional=True),
    "prefill_dp": _whole(1, MAX_CHIPS, "replicas", optional=True),
    "prefill_ep": _whole(1, MAX_CHIPS, "ranks", optional=True),
    "cache_hit": Rule(low=0, high=1, high_open=True, unit="share of prompt tokens cached"),
    "cache_tier": Rule(choices=("hbm", "host", "disk")),
    "speculation": Rule(choices=("auto", "off", "mtp", "eagle")),
    "disaggregated": Rule(kind="flag"),
    "frontier.disaggregated": Rule(kind="flag", optional=True, fix="None tries both"),
    "overlap": Rule(kind="flag"),
    "frontier.count": _whole(1, 1e6, "chips"),
    "frontier.prompt_len": Rule(low=1, high=1e7, unit="tokens", optional=True,
                                fix="omit it for the workload preset's"),
    "frontier.output_len": Rule(low=1, high=1e7, unit="tokens", optional=True,
                                fix="omit it for the workload preset's"),
    # targets
    "max_tpot_s": _above_zero(3600, "s", optional=True),
    "max_ttft_s": _above_zero(86400, "s", optional=True),
    "min_tokens_per_s": _above_zero(1e12, "tokens/s", optional=True),
    # mixture-of-experts layouts and overlap
    "infer.dp": Rule(high=MAX_CHIPS, unit="attention groups"),
    "comm_overlap": Rule(low=0, high=1, unit="share of expert / pipeline traffic hidden"),
    "node_limit": _whole(1, MAX_CHIPS, "scale-up domains per token", optional=True,
                         fix="DeepSeek-V3 routes each token to at most 4 nodes"),
    "redundant_experts": _whole(0, 1e6, "experts per stage"),
    "grad_dtype": Rule(choices=("fp32", "bf16")),
    "dispatch": Rule(choices=("auto", "fp8", "bf16")),
    "tbo": Rule(kind="flag"),
    "mtp": Rule(kind="flag"),
    # modes, kernels and options
    "purpose": Rule(choices=("serve", "train")),
    "mode": Rule(choices=("ideal", "expected")),
    "cp_mode": Rule(choices=("ring", "ulysses")),
    "attention_kernel": Rule(choices=("fused", "materialised")),
    "train.attention_kernel": Rule(choices=("flash", "materialised")),
    "master_weights": Rule(choices=("fp32", "bf16", "none")),
    "sequence_parallel": Rule(kind="flag"),
    "mla_absorb": Rule(kind="flag", optional=True, fix="None picks the faster form"),
    "dropout": Rule(kind="flag"),
    "efficiency": Rule(kind="mapping", optional=True, fix="e.g. {'matmul': 0.7}"),
    "compare.sort_by": Rule(choices=(
        "chip", "vendor", "capacity_bytes", "fits", "chips_needed", "min_chips", "tp", "pp",
        "ep", "ttft_s", "tpot_s", "decode_tokens_per_s", "usd_per_m_input_tokens",
        "usd_per_m_output_tokens", "joules_per_output_token", "usd_per_chip_hour")),
    # money, energy, memory
    "usd_per_chip_hour": _above_zero(1e4, "$", optional=True,
                                     fix="omit it to use the catalog price"),
    "utilisation": _above_zero(1, "busy share of paid hours"),
    "utilisation_power": _above_zero(1, "share of TDP drawn"),
    "power_utilisation": _above_zero(1, "share of TDP drawn"),
    "pue": Rule(low=1, high=5, fix="power usage effectiveness: 1.1-1.6 for data centres"),
    "grid_kg_co2_per_kwh": Rule(low=0, high=2, unit="kg CO2e/kWh", optional=True),
    "runtime_reserve_bytes": Rule(low=0, high=1e15, unit="bytes", optional=True,
                                  fix="omit it to reserve by memory_utilisation"),
    "memory_utilisation": _above_zero(1, "of device memory",
                                      fix="vLLM's gpu_memory_utilization, 0.9 by default"),
    "step_overhead_s": Rule(low=0, high=60, unit="s"),
    "acceptance": Rule(low=0, high=1, unit="share of draft tokens accepted"),
    "draft_len": _whole(1, 64, "tokens"),
}
# The vectorised verbs flag a degree or batch below 1 (or fractional) as a row's reason
# (valid=False), so a sweep keeps its other rows; the upper bounds still apply.
for _verb, _names in (("infer", ("batch", "tp", "pp", "ep")),
                      ("train", ("seq_len", "global_batch", "micro_batch", "tp", "pp", "dp",
                                 "cp", "ep", "interleave"))):
    for _name in _names:
        RULES[f"{_verb}.{_name}"] = replace(RULES[_name], low=-math.inf, integer=False)


def rule_for(verb: str, field: str) -> Rule | None:
    """The rule for ``field`` of ``verb`` (``verb.field`` first, then ``field``)."""
    return RULES.get(f"{verb}.{field}", RULES.get(field))


def check(verb: str, inputs: Mapping[str, Any], *,
          single: Collection[str] = ()) -> dict[str, NDArray[np.float64] | Any]:
    """Check every named input of ``verb`` against :data:`RULES`; ``single`` names the
    inputs that take one number, not an array. Numbers come back as float64 arrays (shape
    kept), other kinds and None (an optional input not given) as given. Raises one
    :class:`SpecError` naming every bad field, its value and what is allowed."""
    out: dict[str, Any] = {}
    problems = []
    for name, value in inputs.items():
        rule = rule_for(verb, name)
        if rule is None:
            raise KeyError(f"no input rule for {verb}.{name}; add it to RULES")
        if value is None and rule.optional:
            out[name] = None
            continue
        why = ("got None" if value is None
               else "got a list; give one number" if name in single and np.ndim(value) != 0
               and not isinstance(value, str | bytes | Mapping) else rule.violation(value))
        if why is not None:
            fix = f"; {rule.fix}" if rule.fix else ""
            problems.append(Problem(f"{name} must be {rule.allowed()}, {why}{fix}",
                                    field=name))
            continue
        out[name] = (np.asarray(value, dtype=np.float64)
                     if rule.kind == "number" and rule.choices is None else value)
    if problems:
        raise SpecError(problems)
    return out


def beyond_context(model: Any, prompt_len: Any, output_len: Any) -> NDArray[np.bool_]:
    """Where prompt plus output exceeds the model's ``max_position_embeddings`` (a model
    without one, e.g. an SSM, has no limit)."""
    limit = getattr(model, "max_position_embeddings", None)
    total = np.asarray(prompt_len, dtype=np.float64) + np.asarray(output_len, dtype=np.float64)
    return np.asarray(total > limit if limit else np.zeros_like(total, dtype=bool))


def check_context(model: Any, prompt_len: Any, output_len: Any, allow: bool) -> None:
    """Prompt plus output within the model's ``max_position_embeddings``, unless ``allow``
    (the engine then extrapolates the KV cache and attention cost linearly)."""
    if allow or not beyond_context(model, prompt_len, output_len).any():
        return
    limit = model.max_position_embeddings
    longest = float(np.max(np.asarray(prompt_len, dtype=np.float64)
                           + np.asarray(output_len, dtype=np.float64)))
    raise SpecError([Problem(
        f"prompt_len + output_len = {longest:,.0f} tokens exceeds the model's "
        f"max_position_embeddings of {limit:,}; shorten the request, or pass "
        "allow_beyond_context=True (CLI: --allow-beyond-context) to evaluate it anyway",
        source=getattr(model, "name", None), field="max_position_embeddings")])
