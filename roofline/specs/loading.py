"""Reading spec files safely and turning every validation failure into a :class:`SpecError`
that names the file, the field path, the line and what was expected."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from roofline.errors import Problem, SpecError
from roofline.specs.files import read_bounded
from roofline.specs.units import UNITS_REQUIRED

MAX_SPEC_BYTES = 1_000_000
MAX_DEPTH = 32
#: YAML nodes (scalars, lists, mappings) one spec may hold. The shipped specs hold a few
#: hundred; the cap bounds parse time (composing runs in Python, ~10-30 us a node).
MAX_NODES = 20_000
T = TypeVar("T", bound=BaseModel)

Lines = dict[tuple[str | int, ...], int]


try:  # libyaml's C parser emits the events; composing stays in Python for the checks below
    from yaml._yaml import CParser as _Parser

    class _Events(_Parser, Composer, SafeConstructor, Resolver):
        """libyaml events (fast, linear in the input) under PyYAML's Python composer."""

        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        get_single_node = Composer.get_single_node
except ImportError:  # PyYAML built without libyaml
    _Events = yaml.SafeLoader  # type: ignore[assignment,misc]


class _SpecLoader(_Events):
    """PyYAML's safe loader without anchors/aliases (no "billion laughs") and with at most
    :data:`MAX_NODES` nodes."""

    nodes = 0
    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.MarkedYAMLError(None, None, "YAML aliases are not allowed in spec files",
                                       event.start_mark)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise yaml.MarkedYAMLError(None, None, f"more than {MAX_NODES:,} values; spec "
                                       "files are small", event.start_mark)
        # Refuse deep nesting while composing, before the parser has read the rest of the
        # text: "[" * 100_000 ends after MAX_DEPTH events, not after the whole file.
        self.depth += 1
        if self.depth > MAX_DEPTH + 1:
            raise yaml.MarkedYAMLError(None, None, f"nesting deeper than {MAX_DEPTH} levels",
                                       event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _lines(node: yaml.Node, path: tuple[str | int, ...], out: Lines, depth: int = 0) -> None:
    """Record the 1-based line of every key and item in the composed YAML tree."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nesting deeper than {MAX_DEPTH} levels")
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            if key in seen:  # PyYAML keeps the last silently; a spec must say things once
                raise yaml.MarkedYAMLError(None, None, f"duplicate key {key!r}", k.start_mark)
            seen.add(key)
            out[(*path, key)] = k.start_mark.line + 1
            _lines(v, (*path, key), out, depth + 1)
            out[(*path, key)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _lines(v, (*path, i), out, depth + 1)


def parse_yaml(text: str | bytes, source: str) -> tuple[Any, Lines]:
    """Parse YAML text into plain data plus a map from field path to line number."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"file is {len(text):,} bytes; spec files are limited to "
                        f"{MAX_SPEC_BYTES:,}", source=source)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SpecError(f"not UTF-8 text ({e.reason} at byte {e.start})", source=source) from e
    try:
        loader = _SpecLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        lines: Lines = {}
        if node is None:
            raise SpecError("the file is empty; expected a mapping of fields", source=source)
        _lines(node, (), lines)
        data = _SpecLoader(text).construct_document(node)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise SpecError([Problem(f"invalid YAML: {e.problem or e.context}", source, None, line)]
                        ) from e
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        raise SpecError(f"invalid YAML: {e}", source=source) from e
    return data, lines


def _expected_fields(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Field names valid at ``loc`` (for 'did you mean' hints on unknown keys)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(current, type) and
                                         issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ()) or (ann,)
        current = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def problems_from(err: ValidationError, model: type[BaseModel], source: str,
                  lines: Lines | None = None) -> list[Problem]:
    """One :class:`Problem` per pydantic error, with field path, line and a readable message."""
    out = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if p != "[key]")
        field = ".".join(str(p) for p in loc) or None
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            key = str(loc[-1])
            hint = difflib.get_close_matches(key, _expected_fields(model, loc), n=1)
            msg = f"unknown field {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else
                                               "; remove it or check docs/specs.md")
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("value_error",) and not isinstance(
                e["input"], Mapping | list):
            msg += f" (got {e['input']!r})"
        line = None
        if lines:
            for k in range(len(loc), -1, -1):
                if loc[:k] in lines:
                    line = lines[loc[:k]]
                    break
        out.append(Problem(msg, source, field, line))
    return out


def validate(model: type[T], data: Any, source: str, lines: Lines | None = None, *,
             units_required: bool = False) -> T:
    """Validate plain data as ``model``; raise :class:`SpecError` listing every problem.

    ``units_required`` (spec text: files, uploads) refuses a bare number for a dimensioned
    quantity (``capacity: 80``); data built in Python may hold SI numbers."""
    if not isinstance(data, Mapping):
        raise SpecError(f"expected a mapping of fields at the top level, got "
                        f"{type(data).__name__}", source=source)
    try:
        return model.model_validate(data, context=UNITS_REQUIRED if units_required else None)
    except ValidationError as e:
        raise SpecError(problems_from(e, model, source, lines)) from None


def read_text(path: str | Path) -> bytes:
    """Read a spec file (a regular file of bounded size) or raise :class:`SpecError`."""
    return read_bounded(path, MAX_SPEC_BYTES)


def load_yaml_spec(model: type[T], path: str | Path) -> T:
    """Load and validate one YAML spec file."""
    data, lines = parse_yaml(read_text(path), str(path))
    return validate(model, data, str(path), lines, units_required=True)


def _key_line(text: str, key: str, nth: int) -> int | None:
    """1-based line of the ``nth`` (0-based) occurrence of ``"key":`` in JSON ``text``."""
    hits = list(re.finditer(re.escape(json.dumps(key)) + r"\s*:", text))
    return text.count("\n", 0, hits[nth].start()) + 1 if len(hits) > nth else None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:  # json keeps the last silently; a config must say things once
            raise _DuplicateKey(k)
        out[k] = v
    return out


def parse_json(text: str | bytes, source: str) -> Any:
    """Parse JSON text (a HF config.json), refusing duplicate keys, or raise
    :class:`SpecError` naming the source and line."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"file is {len(text):,} bytes; spec files are limited to "
                        f"{MAX_SPEC_BYTES:,}", source=source)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as e:
        s = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        raise SpecError([Problem(f"duplicate key {e.key!r}; say each field once", source,
                                 e.key, _key_line(s, e.key, 1))]) from None
    except (ValueError, RecursionError) as e:  # bad UTF-8, bad JSON, a >4300-digit integer
        line = getattr(e, "lineno", None)
        raise SpecError([Problem(f"invalid JSON: {e}", source, None, line)]) from None


def load_json(path: str | Path) -> Any:
    """Load a JSON file (a HF config.json) or raise :class:`SpecError`."""
    return parse_json(read_text(path), str(path))


def load_shipped_data(path: Path) -> Any:
    """A data file shipped inside the package (calibration, backtest, cases), parsed with
    libyaml's C loader where installed. Only for the package's own files: user files go
    through :func:`parse_yaml`, which refuses aliases, duplicate keys and deep nesting."""
    safe: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = safe(path.read_text(encoding="utf-8"))
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
