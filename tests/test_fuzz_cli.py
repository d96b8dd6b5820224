"""Fuzzing the CLI and the library with hostile input: every case ends in a result that
holds the output invariants, or in a clear error (exit 1/2, a SpecError), within a bounded
time; never a traceback, a bug exit (3), a raw exception or a hang.

CLI argument vectors are generated from the argparse parser itself: each verb's positionals
and flags with hostile values for their type (NaN, infinities, zero, negatives, 1e30,
non-numbers, typos of choices), unknown flags, and special files (FIFO, /dev/zero, a folder,
a missing path, binary bytes, a config.json with a duplicate key) wherever a path goes.
Library calls corrupt one to three arguments of a verb with values of the wrong type, shape
or range. ``ROOFLINE_FUZZ_EXAMPLES=N`` runs N CLI cases (the library cases scale with it);
the cases are the same every run unless ``ROOFLINE_FUZZ_RANDOM=1`` (for a deeper local run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from invariants import assert_invariants

import roofline
from roofline import SpecError
from roofline.cli import build_parser, main
from roofline.engine.timing.cost import EnergyAssumptions
from roofline.results import Result

ROOT = Path(__file__).resolve().parent.parent
#: Examples per target (CLI, library); ``ROOFLINE_FUZZ_EXAMPLES`` scales both.
SCALE = float(os.environ.get("ROOFLINE_FUZZ_EXAMPLES", "1000")) / 1000


def _fuzz(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, database=None,
                    derandomize=not os.environ.get("ROOFLINE_FUZZ_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
#: Wall-clock seconds one case may run before it counts as a hang.
HANG_S = 60.0
#: Verbs left out: ``serve`` starts a web server; ``validate-runs`` rewrites
#: docs/validation.md and runs the whole backtest (its bad input is tested in
#: test_cli_errors.py).
SKIP_VERBS = ("serve", "validate-runs")
#: Small and mid-size models and chips keep a computed case well under a second.
MODELS = ["llama-3-8b", "mixtral-8x7b", "qwen3-30b-a3b", "mamba-2.8b", "gemma-2-9b",
          "gpt2-xl", str(ROOT / "tests" / "data" / "hf_configs" / "qwen2.json")]
CHIPS = ["h100", "a100-80gb", "mi300x", "tpu-v5e", "l4", "rtx-4090"]


class Hang(BaseException):
    """Raised by the alarm; a BaseException so no ``except Exception`` swallows it."""


@contextlib.contextmanager
def bounded(seconds: float = HANG_S) -> Iterator[None]:
    def _alarm(signum: int, frame: Any) -> None:
        raise Hang(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def special(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Hostile files by label: FIFOs, devices, a folder, missing, binary, duplicate keys."""
    d = tmp_path_factory.mktemp("special")
    os.mkfifo(d / "fifo.json")
    os.mkfifo(d / "fifo.yaml")
    (d / "folder").mkdir()
    (d / "folder" / "config.json").write_bytes(
        (ROOT / "tests" / "data" / "hf_configs" / "llama.json").read_bytes())
    os.mkfifo(d / "folder" / "pipe.yaml")
    (d / "binary.yaml").write_bytes(bytes(range(256)) * 8)
    (d / "empty.json").write_bytes(b"")
    (d / "dup.json").write_text('{"model_type": "llama", "model_type": "mistral"}')
    return {"fifo.json": str(d / "fifo.json"), "fifo.yaml": str(d / "fifo.yaml"),
            "folder": str(d / "folder"), "missing": str(d / "missing.yaml"),
            "binary": str(d / "binary.yaml"), "empty": str(d / "empty.json"),
            "dup": str(d / "dup.json"), "/dev/zero": "/dev/zero", "/dev/null": "/dev/null",
            "/dev/urandom": "/dev/urandom", "out": str(d / "out" / "model.yaml")}


HOSTILE_INT = ["0", "-1", "1", "2", "3", "8", "1024", "2147483648", "10000000000000000000000",
               "1.5", "nan", "", "abc", "0x10", "-0"]
HOSTILE_FLOAT = ["nan", "inf", "-inf", "0", "-0", "-1", "1e30", "1e-30", "1e308", "0.5", "1",
                 "2", "abc", "", "1e400", "NaN", "100"]
FILE_LABELS = ["fifo.json", "fifo.yaml", "folder", "missing", "binary", "empty", "dup",
               "/dev/zero", "/dev/null", "/dev/urandom"]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def _verbs() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {k: v for k, v in sub.choices.items() if k not in SKIP_VERBS}


VERBS = _verbs()


def _path_or(names: list[str]) -> st.SearchStrategy[str]:
    """A catalog name or path, a special file (``@label``), or random text."""
    return st.one_of(st.sampled_from(names), st.sampled_from(FILE_LABELS).map(lambda f: "@" + f),
                     TEXT)


def _value(action: argparse.Action) -> st.SearchStrategy[str]:
    """Hostile and ordinary values for one argparse action, from its type and choices."""
    dest = action.dest
    if action.choices:
        return st.sampled_from([*map(str, action.choices), "typo", ""])
    if action.type is int:
        return st.sampled_from(HOSTILE_INT) | st.integers(-2, 5000).map(str)
    if action.type is float:
        return st.sampled_from(HOSTILE_FLOAT) | st.floats(allow_nan=True).map(repr)
    if dest == "output":  # import-hf -o: only under the special folder, never the tree
        return st.sampled_from(["@fifo.yaml", "@folder", "@/dev/null", "@out"])
    if dest == "config":
        return _path_or([str(ROOT / "tests" / "data" / "hf_configs" / "llama.json")])
    if dest in ("model", "name"):
        return _path_or(MODELS + CHIPS[:2])
    if dest == "chip":
        return _path_or(CHIPS)
    if dest == "paths":
        return _path_or([str(ROOT / "hardware_specs" / "nvidia-h100-sxm.yaml"),
                         str(ROOT / "tests" / "data" / "hf_configs")])
    if dest == "chips":
        return st.lists(st.sampled_from([*CHIPS, "typo", ""]), min_size=1,
                        max_size=3).map(",".join)
    if dest == "precision":
        return st.sampled_from(["bf16", "fp8", "int4", "native", "fp4", "typo", ""])
    if dest == "sort":
        return st.sampled_from(["tpot_s", "usd_per_m_output_tokens", "chip", "typo", ""])
    return TEXT


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    """One argument vector: a verb, its positionals, a few flags with hostile values, and
    sometimes an unknown flag or a flag without its value."""
    verb = draw(st.sampled_from(sorted(VERBS)))
    p = VERBS[verb]
    out = [verb]
    for a in p._actions:
        if a.option_strings or isinstance(a, argparse._HelpAction):
            continue
        if a.nargs == "?" and draw(st.booleans()):
            continue
        count = draw(st.integers(1, 2)) if a.nargs == "+" else 1
        out += [draw(_value(a)) for _ in range(count)]
    flags = [a for a in p._actions if a.option_strings
             and not isinstance(a, argparse._HelpAction)]
    for a in draw(st.lists(st.sampled_from(flags), max_size=4, unique_by=lambda a: a.dest)
                  if flags else st.just([])):
        out.append(a.option_strings[-1])
        if a.nargs != 0:
            out.append(draw(_value(a)))
    if draw(st.integers(0, 9)) == 0:
        out.insert(draw(st.integers(1, len(out))),
                   draw(st.sampled_from(["--no-such-flag", "--batch", "-x", "--json=1"])))
    if verb in ("compare",) and "--chips" not in out:  # the whole catalog: slow, not hostile
        out += ["--chips", draw(st.sampled_from(CHIPS))]
    return out


def _numbers_nonnegative(obj: Any, key: str = "") -> list[str]:
    """Negative numbers under keys naming a time, size, cost, energy or rate (JSON output)."""
    if isinstance(obj, dict):
        return [b for k, v in obj.items() for b in _numbers_nonnegative(v, str(k))]
    if isinstance(obj, list):
        return [b for v in obj for b in _numbers_nonnegative(v, key)]
    suffixes = ("_s", "_bytes", "usd", "_kwh", "_kg", "_per_s", "joules_per_output_token",
                "tokens", "chips", "mfu")
    if isinstance(obj, int | float) and not isinstance(obj, bool) and key.endswith(suffixes):
        return [f"{key}={obj}"] if obj < 0 or not math.isfinite(obj) else []
    return []


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), bounded():
        try:
            rc = main(args)
        except SystemExit as e:  # argparse: usage errors (2), --help (0)
            rc = e.code if isinstance(e.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


@_fuzz(1000)
@given(args=argv())
def test_cli_never_tracebacks_hangs_or_lies(special: dict[str, str], args: list[str]) -> None:
    args = [special[a[1:]] if a.startswith("@") and a[1:] in special else a for a in args]
    try:
        rc, out, err = run_cli(args)
    except Hang as e:
        raise AssertionError(f"roofline {' '.join(args)}: {e}") from None
    event(f"{args[0]}: exit {rc}")
    assert rc in (0, 1, 2), f"roofline {' '.join(args)} exited {rc}:\n{err}"
    assert "Traceback" not in err and "Traceback" not in out, err
    if rc == 2 and "--json" in args and out.strip():  # under --json the error is JSON
        assert json.loads(out)["error"]["message"], "a refusal must say why"
    elif rc == 2:
        assert err.strip(), "a refusal must say why"
    if rc == 0 and "--json" in args:
        bad = _numbers_nonnegative(json.loads(out))
        assert not bad, f"roofline {' '.join(args)}: {bad}"


# --------------------------------------------------------------------------------------
# Library calls with invalid values
# --------------------------------------------------------------------------------------

def _train(**kw: Any) -> Result:
    kw = {"count": 8, "seq_len": 2048, "global_batch": 64, **kw}
    return roofline.train("llama-3-8b", "h100", **kw)


#: verb -> (call with keyword arguments, the keyword arguments to corrupt)
CALLS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    "infer": (lambda **kw: roofline.infer("llama-3-8b", "h100", **kw),
              ("batch", "prompt_len", "output_len", "tp", "pp", "ep", "count",
               "attention_kernel", "precision", "runtime_reserve_bytes", "efficiency",
               "mla_absorb", "allow_beyond_context")),
    "fit": (lambda **kw: roofline.fit("llama-3-8b", "h100", **kw),
            ("count", "purpose", "batch", "prompt_len", "output_len", "seq_len",
             "global_batch", "max_tpot_s", "max_ttft_s", "min_tokens_per_s", "precision")),
    "train": (_train, ("count", "seq_len", "global_batch", "micro_batch", "tp", "pp", "dp",
                       "cp", "ep", "zero", "interleave", "dp_overlap", "recompute",
                       "sequence_parallel", "cp_mode", "attention_kernel", "optimizer",
                       "master_weights", "tokens", "usd_per_chip_hour", "pue",
                       "utilisation_power", "runtime_reserve_bytes", "mode", "efficiency")),
    "context": (lambda **kw: roofline.context("llama-3-8b", "h100", **kw),
                ("tokens", "pages", "batch", "tp", "pp", "words_per_token", "words_per_page",
                 "precision")),
    "continuous": (lambda **kw: roofline.continuous("llama-3-8b", "h100", **{
        "rate": 1.0, **kw}), ("rate", "prompt_len", "output_len", "token_budget", "tp", "ep",
                             "mode", "step_overhead_s", "efficiency")),
    "compare": (lambda **kw: roofline.compare("llama-3-8b", **{
        "chips": ["h100"], **kw} if kw.get("chips", 0) is not None else {
        **kw, "chips": ["h100", "l4"]}),  # None (the whole catalog) is valid and slow
                ("chips", "batch", "prompt_len", "output_len", "max_tpot_s", "utilisation",
                 "sort_by", "precision")),
    "sweep": (lambda **kw: roofline.sweep(**{"models": "llama-3-8b", "chips": "h100", **kw}),
              ("models", "chips", "purpose", "batch", "prompt_len", "tp", "precision")),
    "speculative": (lambda **kw: roofline.speculative("llama-3-8b", "llama-3-8b", "h100",
                                                      **kw),
                    ("acceptance", "draft_len", "batch", "context", "tp", "mode")),
    "serve_at_rate": (lambda **kw: roofline.serve_at_rate("llama-3-8b", "h100", **{
        "rate": [1.0, 5.0], **kw}), ("rate", "prompt_len", "output_len", "tp", "dp", "ep",
                                     "disaggregated", "prefill_tp", "prefill_instances",
                                     "decode_instances", "percentile", "prompt_cv",
                                     "cache_hit", "precision")),
    "frontier": (lambda **kw: roofline.frontier("llama-3-8b", "h100", **{"count": 2, **kw}),
                 ("count", "prompt_len", "output_len", "max_ttft_s", "max_tpot_s",
                  "cache_hit", "cache_tier", "speculation", "disaggregated",
                  "usd_per_chip_hour", "mode", "overlap")),
    "energy": (lambda **kw: EnergyAssumptions(**kw),
               ("pue", "power_utilisation", "grid_kg_co2_per_kwh")),
}

HOSTILE = st.sampled_from([
    None, math.nan, math.inf, -math.inf, -1, 0, -0.0, 0.5, 1, 2, 3, 8, 1e30, 2**70, "8", "abc",
    "", "h100", {}, {"a": 1}, {"matmul": 0.5}, {"matmul": "x"}, [], [1, 2, 3], [1, 2],
    [[1, 2], [3, 4]], np.array([np.nan]), np.array([1, 2, 3, 4, 5]), True, False, 1 + 2j,
    b"8", (8,), ["h100", "typo"], ["h100"], "serve", "train", "fused", "flash", "full",
    "expected", "fp8", "ring", np.float64(4.0), np.int64(2), object(),
])


@_fuzz(1500)
@given(verb=st.sampled_from(sorted(CALLS)), data=st.data())
def test_library_bad_values_are_spec_errors(verb: str, data: st.DataObject) -> None:
    call, names = CALLS[verb]
    picked = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    kwargs = {k: data.draw(HOSTILE, label=k) for k in picked}
    try:
        with bounded():
            value = call(**kwargs)
    except SpecError as e:
        assert e.problems and all(p.message for p in e.problems)
        event(f"{verb}: SpecError")
        return
    except Hang as e:
        raise AssertionError(f"{verb}({kwargs!r}): {e}") from None
    except Exception as e:  # a raw exception is the finding
        raise AssertionError(f"{verb}({kwargs!r}) raised {type(e).__name__}: {e}") from e
    event(f"{verb}: result")
    if isinstance(value, Result):
        assert_invariants(value.frame, f"{verb}({kwargs!r})")
