"""Tool commands: ``serve`` (the dashboard), ``validate-runs`` (the backtest) and
``completion`` (a shell completion script)."""

from __future__ import annotations

import argparse
import importlib.util

from roofline.errors import SpecError

DASHBOARD_DEPENDENCIES = ("dash", "flask", "waitress")


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the dashboard (``roofline.dashboard.app.main``); imported here, on demand, and
    only when the ``dashboard`` extra is installed."""
    missing = [m for m in DASHBOARD_DEPENDENCIES if importlib.util.find_spec(m) is None]
    if missing:
        raise SpecError(f"`roofline serve` needs the dashboard extra ({', '.join(missing)} "
                        "not installed): pip install 'roofline[dashboard]'")
    from roofline.dashboard.app import main as serve

    serve(["--host", args.host, "--port", str(args.port)]
          + (["--production"] if args.production else []))
    return 0


def cmd_validate_runs(args: argparse.Namespace) -> int:
    """Backtest against published measurements (``roofline.validation``), on demand."""
    from roofline.validation import validate_runs

    return validate_runs(calibrate_=args.calibrate, check=args.check, cases=args.cases,
                         out=args.out, calibration_file=args.calibration_file)


def cmd_completion(args: argparse.Namespace) -> int:
    """Print a completion script for ``args.shell`` generated from the parser (shtab):
    ``eval "$(roofline completion bash)"`` in ~/.bashrc, or save it where the shell loads
    completions (zsh: a ``_roofline`` file on ``$fpath``)."""
    import shtab

    from roofline.cli.parser import build_parser

    print(shtab.complete(build_parser(), shell=args.shell))
    return 0
