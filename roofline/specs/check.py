"""Checking spec files and folders of them (the ``roofline validate`` verb): every chip or
model YAML and every Hugging Face ``config.json`` found, each read once through the bounded
reader, each ending in a spec or in the problems that name file, field and line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roofline.errors import Problem, SpecError
from roofline.specs.chip import Chip
from roofline.specs.files import spec_files
from roofline.specs.hf import from_hf_config
from roofline.specs.loading import parse_yaml, read_text, validate
from roofline.specs.model import ModelSpec


@dataclass(frozen=True)
class Checked:
    """One file checked: its kind ("chip", "model", "config.json"), the spec name when it
    loaded, and its problems (empty when valid)."""

    path: Path
    kind: str
    name: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _kind(path: Path, data: Any) -> type[Chip] | type[ModelSpec]:
    if "hardware_specs" in path.parts:
        return Chip
    if "models" in path.parts:
        return ModelSpec
    return Chip if isinstance(data, dict) and "peak_flops" in data else ModelSpec


def check_file(path: Path) -> Checked:
    """Load one spec file (YAML chip/model or HF config.json) and say what it holds."""
    is_json = path.suffix.lower() == ".json"
    kind = "config.json" if is_json else "YAML"
    try:
        if is_json:
            spec: Chip | ModelSpec = from_hf_config(path)
        else:
            data, lines = parse_yaml(read_text(path), str(path))
            model = _kind(path, data)
            kind = "chip" if model is Chip else "model"
            spec = validate(model, data, str(path), lines, units_required=True)
    except SpecError as e:
        return Checked(path, kind, None, e.problems)
    return Checked(path, kind, spec.name)


def check_paths(paths: Iterable[str | Path]) -> list[Checked]:
    """Check every path: a file directly, a folder by every spec file under it (sorted;
    see :func:`~roofline.specs.files.spec_files`). Raises :class:`SpecError` when a
    folder holds no spec file or a path does not exist."""
    out: list[Checked] = []
    for given in paths:
        if not str(given).strip():  # Path("") is the current folder: never walk it unasked
            raise SpecError("an empty path; give a spec file or a folder of them")
        p = Path(given)
        if "\x00" not in str(given) and p.is_dir():  # a NUL byte: read_bounded names it
            found = spec_files(p)
            if not found:
                raise SpecError("no spec files (*.yaml, *.yml, *.json) in this folder or "
                                "below it", source=str(p))
            out.extend(check_file(f) for f in found)
        else:
            out.append(check_file(p))
    return out
