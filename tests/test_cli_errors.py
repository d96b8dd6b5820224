"""The CLI's error contract: bad input is one message and exit 2; a bug in roofline is one
line with a hint to report it and exit 3 (``--debug`` prints the traceback); never a
traceback otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from roofline import cli
from roofline.cli import catalog


def _boom(args: Any) -> int:
    raise ZeroDivisionError("float division by zero")


@pytest.fixture
def buggy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "cmd_params", _boom)


def test_a_bug_is_one_line_and_exit_3(buggy: None, capsys: Any) -> None:
    assert cli.main(["params", "llama-3-8b"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("internal error: ZeroDivisionError: float division by zero")
    assert "this is a bug in roofline; please report it" in err and "--debug" in err


@pytest.mark.parametrize("argv", [["--debug", "params", "llama-3-8b"],
                                  ["params", "llama-3-8b", "--debug"]])
def test_debug_shows_the_traceback(buggy: None, capsys: Any, argv: list[str]) -> None:
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "in _boom" in err


def test_bad_input_is_exit_2_without_traceback(capsys: Any) -> None:
    assert cli.main(["params", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: <input>: unknown model 'no-such-model'")
    assert "Traceback" not in err


def test_missing_case_file_is_bad_input(capsys: Any) -> None:
    assert cli.main(["validate-runs", "--cases", "/no/such/cases.yaml"]) == 2
    assert "cases.yaml: cannot read file: No such file" in capsys.readouterr().err
