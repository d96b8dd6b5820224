"""The ``roofline`` command line: a thin view over the specs and the engine.

``parser`` declares every command (no engine import, so ``--help``, ``--version`` and
argument errors are instant); each command runs from its module (``catalog``, ``serving``,
``training``, ``tools``), imported only when it is called. Exit status: 0 ok (and, for
``fit`` and ``train``, it fits), 1 does not fit (``validate``: problems found), 2 bad input,
3 a bug in roofline (one line; ``--debug`` prints the traceback), 130 interrupted.
Under ``--json`` an error prints as ``{"error": {...}}`` on stdout.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Sequence

from roofline.cli.output import progress
from roofline.cli.parser import EXIT_BAD_INPUT, EXIT_BUG, EXIT_OK, UsageError, build_parser
from roofline.errors import SpecError

__all__ = ["build_parser", "main"]


def _fail(kind: str, message: str, as_json: bool, problems: Sequence[object] = ()) -> int:
    from roofline.cli.output import error_dict, print_json

    if as_json:
        print_json(error_dict(kind, message, problems))
    else:
        print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status; errors print as one clear message (JSON
    under ``--json``), never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        if "--json" in argv:
            return _fail("UsageError", f"{e.parser.prog}: {e}", True)
        e.parser.print_usage(sys.stderr)
        print(f"{e.parser.prog}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    module, func = args.func.split(":")
    command = getattr(importlib.import_module(f"roofline.cli.{module}"), func)
    try:
        with progress(getattr(args, "progress", None)):
            return int(command(args))
    except SpecError as e:
        return _fail("SpecError", str(e), args.json, e.problems)
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line and where to report it, never a traceback
        message = (f"internal error: {type(e).__name__}: {str(e)[:200]} -- this is a bug in "
                   "roofline; please report it to the project's issue tracker with this "
                   "command line (add --debug for the traceback)")
        if args.debug:
            traceback.print_exc()
        elif args.json:
            from roofline.cli.output import error_dict, print_json

            print_json(error_dict("InternalError", message))
        else:
            print(message, file=sys.stderr)
        return EXIT_BUG
