"""The JSON Schemas editors use are generated from the pydantic specs and kept in sync."""

import json
from pathlib import Path

import pytest

from roofline.cli import main

DOCS = Path(__file__).parent.parent / "docs" / "schema"


@pytest.mark.parametrize("kind", ["chip", "model"])
def test_committed_schema_matches_code(kind, capsys):
    assert main(["schema", kind]) == 0
    generated = json.loads(capsys.readouterr().out)
    committed = json.loads((DOCS / f"{kind}.schema.json").read_text())
    assert generated == committed, f"run: roofline schema {kind} > docs/schema/{kind}.schema.json"


def test_schema_accepts_unit_strings_and_forbids_unknown_keys():
    schema = json.loads((DOCS / "chip.schema.json").read_text())
    assert schema["additionalProperties"] is False
    mem = schema["$defs"]["Memory"]["properties"]["bandwidth"]
    kinds = {alt["type"] for alt in mem["anyOf"]}
    assert kinds == {"number", "string"}
