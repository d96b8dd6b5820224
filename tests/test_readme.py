"""The README's worked examples show the commands' real, current output."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "scripts" / "readme_examples.py"


def test_readme_console_blocks_are_current():
    spec = importlib.util.spec_from_file_location("readme_examples", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.README.read_text()
    blocks = mod.BLOCK.findall(text)
    assert len(blocks) >= 4
    for command, shown in blocks:
        assert mod.run(command) == shown, (
            f"README output of `{command}` is stale: run python scripts/readme_examples.py")
