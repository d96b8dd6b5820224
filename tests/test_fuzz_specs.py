"""Fuzzing the spec loaders: whatever bytes, YAML or config.json arrive, loading ends in a
:class:`SpecError` or a valid spec, within a bounded time, and never in another exception.

Inputs: random bytes and non-UTF-8 text, random edits of the shipped spec files, random
values (wrong types, huge and tiny numbers, NaN, infinities) put at random places of real
chip, model and Hugging Face ``config.json`` data (every supported ``model_type``), deep
nesting and YAML alias bombs. A spec that loads must also be usable: the engine answers it
with numbers or a SpecError.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

import roofline
from roofline import SpecError
from roofline.specs.catalog import catalog_dir
from roofline.specs.chip import Chip
from roofline.specs.hf import FAMILIES, from_hf_config
from roofline.specs.loading import MAX_SPEC_BYTES, load_json, parse_yaml, validate
from roofline.specs.model import ModelSpec

#: Wall-clock seconds one fuzzed input may take to load (and, when valid, to evaluate).
GUARD_S = 10.0
HF_CONFIGS = Path(__file__).parent / "data" / "hf_configs"
#: Families fuzzed through their config.json: those with a fixture named for the model_type.
MAPPERS = [*sorted(t for t in FAMILIES if (HF_CONFIGS / f"{t}.json").exists()), "kimi_k2"]

#: Examples per fuzz target; raise it for a deeper local run.
EXAMPLES = int(os.environ.get("ROOFLINE_HYPOTHESIS_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


class Hang(BaseException):
    """Raised by the guard's alarm; a BaseException so no ``except Exception`` swallows it."""


@contextlib.contextmanager
def bounded(seconds: float = GUARD_S) -> Iterator[None]:
    """Fail the example when the block runs longer than ``seconds`` (SIGALRM, main thread)."""
    def _alarm(signum: int, frame: Any) -> None:
        raise Hang(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def outcome(load: Callable[[], Any], seconds: float = GUARD_S) -> Any:
    """Run ``load``: its value, or the SpecError it raised; anything else fails the test."""
    try:
        with bounded(seconds):
            value = load()
    except SpecError as e:
        assert e.problems and all(str(p) for p in e.problems), "a SpecError must say what"
        _event("SpecError")
        return e
    except Hang as e:
        raise AssertionError(f"loading did not end: {e}") from None
    _event(f"loaded: {type(value).__name__}")
    return value


def _event(name: str) -> None:
    """Count outcomes in hypothesis' statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(name)


def load_text(model: type[Chip] | type[ModelSpec], text: str | bytes) -> Any:
    """Parse YAML text and validate it as ``model``, as the file loaders do."""
    data, lines = parse_yaml(text, "<fuzz>")
    return validate(model, data, "<fuzz>", lines)


def use(spec: Any) -> None:
    """A spec that loaded must be usable: parameter counts and one serving scenario."""
    if isinstance(spec, ModelSpec):
        p = spec.params()
        assert 0 < p.active <= p.total
        outcome(lambda: roofline.infer(spec, "h100", batch=1, prompt_len=128, output_len=16))
    elif isinstance(spec, Chip):
        outcome(lambda: roofline.infer("llama-3-8b", spec, batch=1, prompt_len=128,
                                       output_len=16))


# ---------------------------------------------------------------------------------------
# Strategies: tricky values, and random edits of real spec data
# ---------------------------------------------------------------------------------------

TRICKY_STRINGS = ["", " ", "1e400", "-0", ".nan", ".inf", "NaN", "80 GB", "80 GX", "3.35 TB/s",
                  "1,000 GB/s", "0 GB", "-1 GB", "1e-300 B", "999999999999 TFLOP/s", "auto",
                  "~", "null", "yes", "0x10", "1_000", "../../etc/passwd", "\u202e\u0000",
                  " " * 40 + "1" + " " * 20 + "x y", "1" * 70 + " a b"]

scalars = (st.none() | st.booleans()
           | st.integers(min_value=-(2**70), max_value=2**70)
           | st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30, 10**300])
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([1e-300, 5e-324, 1e300, -1e-300, 0.5, 1.5, -0.0])
           | st.text(max_size=12) | st.sampled_from(TRICKY_STRINGS))
#: Numbers at the edges: what a typo, a missing unit or an overflow produces.
extremes = (st.sampled_from([0, -1, 1, 2, 3, 7, 2**31, 2**53 + 1, 2**63, 10**9, 10**12, 10**30,
                             10**300, 1e-300, 5e-324, 1e300, 1.7e308, float("inf"),
                             float("-inf"), float("nan"), 0.5, -0.0, True, "1e-300 TB/s",
                             "1e300 GB", "0.000001 W", "1e30 FLOP/s"])
            | st.integers(min_value=-(2**80), max_value=2**80)
            | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into nested dicts and lists (the root included)."""
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _numbers(data: Any) -> list[tuple[Any, ...]]:
    """Key paths of the numeric leaves (and quantity strings such as "80 GB")."""
    out = []
    for path in _paths(data)[1:]:
        leaf = data
        for part in path:
            leaf = leaf[part]
        if (isinstance(leaf, int | float) and not isinstance(leaf, bool)) or (
                isinstance(leaf, str) and leaf[:1].isdigit()):
            out.append(path)
    return out


@st.composite
def edited(draw: st.DrawFn, base: dict[str, Any], edits: int = 3) -> dict[str, Any]:
    """``base`` with up to ``edits`` random edits: a value replaced (often a number by an
    extreme one), a key removed, a key added, a value wrapped in a list or a dict."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, edits))):
        numbers = _numbers(data)
        if numbers and draw(st.booleans()):
            path = draw(st.sampled_from(numbers))
            parent = data
            for part in path[:-1]:
                parent = parent[part]
            old = parent[path[-1]]
            if draw(st.booleans()):  # the same kind of value at an odd size
                factor = draw(st.sampled_from([1e-9, 1e-3, 0.5, 2, 3, 1e3, 1e6, 1e9]))
                if isinstance(old, str):  # "989.4 TFLOP/s" -> "494.7 TFLOP/s"
                    number, _, unit = old.partition(" ")
                    with contextlib.suppress(ValueError):
                        parent[path[-1]] = f"{float(number.replace(',', '')) * factor:g} {unit}"
                else:
                    new = old * factor
                    whole = isinstance(old, int) and 1 <= new < 2**63
                    parent[path[-1]] = int(new) if whole else new
                continue
        else:
            path = draw(st.sampled_from(_paths(data)[1:]))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "extreme", "extreme", "delete",
                                       "add", "wrap"]))
        if action == "extreme" or (action == "replace" and isinstance(parent[key], int | float)
                                   and draw(st.booleans())):
            parent[key] = draw(extremes)
        elif action == "replace":
            parent[key] = draw(values)
        elif action == "delete":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        elif action == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        if not isinstance(data, dict) or not data:
            break
    return data


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


CHIP_DATA = _yaml(catalog_dir("hardware_specs") / "nvidia-h100-sxm.yaml")
MODEL_DATA = {name: _yaml(catalog_dir("models") / f"{name}.yaml") for name in
              ("llama-3-8b", "deepseek-v3", "mixtral-8x7b", "jamba-1.5-mini", "gemma-2-9b",
               "gpt-oss-20b", "gpt2-xl", "mamba-2.8b")}
SPEC_TEXTS = [catalog_dir("hardware_specs") / "nvidia-h100-sxm.yaml",
              catalog_dir("models") / "deepseek-v3.yaml",
              catalog_dir("models") / "jamba-1.5-mini.yaml"]


def _hf_config(model_type: str) -> dict[str, Any]:
    fixture = {"kimi_k2": "deepseek_v3"}.get(model_type, model_type)
    cfg = json.loads((HF_CONFIGS / f"{fixture}.json").read_text())
    return {**cfg, "model_type": model_type}


# ---------------------------------------------------------------------------------------
# Raw bytes and text
# ---------------------------------------------------------------------------------------

@FUZZ
@given(raw=st.binary(max_size=2000))
def test_random_bytes(raw: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    for model in (Chip, ModelSpec):
        outcome(lambda m=model: load_text(m, raw))
    path = tmp_path_factory.mktemp("fuzz") / "config.json"
    path.write_bytes(raw)
    outcome(lambda: from_hf_config(path))
    outcome(lambda: load_json(path))


@FUZZ
@given(text=st.text(max_size=500), encoding=st.sampled_from(["utf-16", "latin-1", "utf-8"]))
def test_text_in_any_encoding(text: str, encoding: str) -> None:
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    outcome(lambda: load_text(ModelSpec, raw))


@FUZZ
@given(data=st.data())
def test_random_edits_of_shipped_yaml(data: st.DataObject) -> None:
    """Characters inserted, deleted or replaced anywhere in a real spec file."""
    text = data.draw(st.sampled_from(SPEC_TEXTS)).read_text()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 40)))
        text = text[:i] + data.draw(st.text(max_size=10) | st.sampled_from(
            [": ", "\n", "  ", "- ", "&a ", "*a", "!!python/object:os.system ", "{", "[", "'",
             "\t", "? ", "<<: ", "!!binary ", "%TAG ! x\n", "---\n"])) + text[j:]
    model = Chip if "peak_flops" in text else ModelSpec
    spec = outcome(lambda: load_text(model, text))
    use(spec)


# ---------------------------------------------------------------------------------------
# Structured data: wrong types, huge and tiny numbers, NaN, at random places
# ---------------------------------------------------------------------------------------

@FUZZ
@given(data=edited(CHIP_DATA))
def test_chip_data_edits(data: dict[str, Any]) -> None:
    spec = outcome(lambda: roofline.load_chip(data))
    use(spec)
    text = yaml.safe_dump(data, allow_unicode=True)
    same = outcome(lambda: load_text(Chip, text))
    assert type(same) is type(spec) or isinstance(same, SpecError)


@FUZZ
@given(data=st.sampled_from(sorted(MODEL_DATA)).flatmap(lambda n: edited(MODEL_DATA[n])))
def test_model_data_edits(data: dict[str, Any]) -> None:
    spec = outcome(lambda: roofline.load_model(data))
    use(spec)
    text = yaml.safe_dump(data, allow_unicode=True)
    outcome(lambda: load_text(ModelSpec, text))


@pytest.mark.parametrize("model_type", sorted(MAPPERS))
def test_hf_config_edits(model_type: str, tmp_path: Path) -> None:
    """Every supported ``model_type``: the config.json as a dict and as a file."""
    path = tmp_path / "config.json"

    @FUZZ
    @given(cfg=edited(_hf_config(model_type), edits=4))
    def check(cfg: dict[str, Any]) -> None:
        spec = outcome(lambda: from_hf_config(cfg))
        use(spec)
        path.write_text(json.dumps(cfg))  # NaN and Infinity as JSON writes them
        outcome(lambda: roofline.load_model(path))

    check()


@FUZZ
@given(cfg=st.dictionaries(st.sampled_from(sorted({k for t in MAPPERS for k in _hf_config(t)}
                                                  | {"model_type", "text_config"})),
                           values, max_size=12),
       model_type=st.sampled_from(sorted(MAPPERS)) | values)
def test_hf_config_random_dicts(cfg: dict[str, Any], model_type: Any) -> None:
    cfg["model_type"] = model_type
    use(outcome(lambda: from_hf_config(cfg)))


@FUZZ
@given(precision=values | edited({"weights": {"dtype": "int4", "group_size": 128,
                                              "scale_bytes": 2}, "activations": "bf16",
                                  "kv_cache": "fp8", "overrides": {"experts": "mxfp4"}}),
       quant=edited({"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True,
                     "weight_block_size": [128, 128]}))
def test_precision_and_quantization_config(precision: Any, quant: dict[str, Any]) -> None:
    from roofline.engine.scenario.precision import from_quantization_config, get_precision

    outcome(lambda: get_precision(precision))
    for method in ("gptq", "awq", "fp8", "mxfp4"):
        outcome(lambda m=method: from_quantization_config({**quant, "quant_method": m}))


# ---------------------------------------------------------------------------------------
# Nesting, size and alias bombs: refused quickly, in little memory
# ---------------------------------------------------------------------------------------

def _alias_bomb(levels: int, width: int) -> str:
    text = "a0: &a0 [" + ", ".join(["lol"] * width) + "]\n"
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * width)
        text += f"a{i}: &a{i} [{refs}]\n"
    return text


@pytest.mark.parametrize(("levels", "width"), [(9, 9), (30, 10), (2, 1)])
def test_alias_bomb_refused_fast_and_small(levels: int, width: int) -> None:
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        err = outcome(lambda: parse_yaml(_alias_bomb(levels, width), "<bomb>"), 2.0)
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(err, SpecError) and "aliases are not allowed" in str(err)
    assert elapsed < 1.0 and peak < 20 * 2**20


@pytest.mark.parametrize("text", [
    "[" * 100_000, "{a: " * 50_000, "".join(" " * i + "- \n" for i in range(2000)),
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 500)),
    "a: [" + "1, " * 300_000 + "]",            # ~1 MB of scalars: a node budget, not a stall
    "a: " + "9" * 200_000,                     # integer of 200,000 digits
    "a: " + "x" * (MAX_SPEC_BYTES + 1),        # over the size limit
])
def test_deep_or_huge_yaml_is_refused_quickly(text: str) -> None:
    # CPU seconds, not wall-clock: on a loaded 2-core CI machine wall time measures the load;
    # the wall-clock alarm of ``outcome`` stays the hang guard.
    t0 = time.process_time()
    err = outcome(lambda: load_text(ModelSpec, text))
    assert isinstance(err, SpecError)
    assert time.process_time() - t0 < 3.0


@pytest.mark.parametrize("raw", [
    b"[" * 200_000, b'{"a": ' + b"1" * 5000 + b"}", b'{"model_type": "llama", "hidden_size": '
    + b"9" * 4400 + b"}", "{}".encode("utf-16"), b"\xff\xfe\xfd", b'{"a": NaN, "b": -Infinity}',
    b"1e999", b'"just a string"', b"[1, 2]", b"null",
])
def test_malformed_json_files(raw: bytes, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(raw)
    assert isinstance(outcome(lambda: from_hf_config(path), 5.0), SpecError)


def test_duplicate_keys_are_refused() -> None:
    """PyYAML keeps the last of two equal keys; a spec that says a thing twice is an error."""
    text = (catalog_dir("hardware_specs") / "nvidia-h100-sxm.yaml").read_text()
    err = outcome(lambda: parse_yaml(text.replace("  kind: HBM3", "  kind: HBM3\n  capacity: 1 "
                                                  "GB"), "<dup>"))
    assert isinstance(err, SpecError) and "duplicate key 'capacity'" in str(err)
    assert err.problems[0].line is not None


def test_long_unit_strings_do_not_backtrack() -> None:
    """A quantity string is read in linear time (it once took minutes: nested \\s*)."""
    from roofline.specs.units import parse_quantity

    for text in (" " * 5000 + "1" + " " * 5000 + "x y", "1" * 100_000 + " a b"):
        t0 = time.perf_counter()
        with pytest.raises(ValueError):
            parse_quantity(text, "bytes")
        assert time.perf_counter() - t0 < 0.1


def test_guard_catches_a_hang() -> None:
    """The per-example guard itself works: a stalled loader fails the test, quickly."""
    t0 = time.perf_counter()
    with pytest.raises(AssertionError, match="did not end"):
        outcome(lambda: time.sleep(5), 0.2)
    assert time.perf_counter() - t0 < 2
