"""Re-run every ```console block of README.md that starts with `$ roofline ...` and write
the real output back (`python scripts/readme_examples.py`); `--check` only compares."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

from roofline.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```console\n\$ (roofline [^\n]*)\n(.*?)```", re.S)


def run(command: str) -> str:
    """Output of one CLI command, as the README shows it."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(shlex.split(command)[1:])
    return buf.getvalue()


def render(text: str) -> str:
    return BLOCK.sub(lambda m: f"```console\n$ {m.group(1)}\n{run(m.group(1))}```", text)


if __name__ == "__main__":
    text = README.read_text()
    new = render(text)
    if "--check" in sys.argv:
        sys.exit(0 if new == text else 1)
    README.write_text(new)
