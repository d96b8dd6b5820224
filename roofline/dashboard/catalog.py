"""What the dashboard lets people choose: the shipped catalogs and the specs they defined
themselves (kept in their browser), resolved by name only.

A name chosen in the page never reaches a file path: catalog names are looked up in the
loaded catalog (name or alias), user specs by the key they were stored under, and any other
string is an error. User specs travel as YAML text in the browser's storage and are parsed
and validated again, with the real loaders, every time they are used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

import yaml

from roofline.errors import SpecError
from roofline.specs import catalog
from roofline.specs.chip import Chip
from roofline.specs.hf import from_hf_config
from roofline.specs.loading import parse_json, parse_yaml, validate
from roofline.specs.model import ModelSpec
from roofline.specs.units import dump_with_units

SpecKind = Literal["chip", "model"]
#: Dropdown values of user-defined specs carry this prefix, so they never clash with
#: catalog names.
USER_PREFIX = "user:"
#: Largest spec accepted from a paste or an upload, bytes (real specs are a few kB).
MAX_SPEC_BYTES = 256 * 1024
#: Most user specs kept per browser (every callback that resolves a spec receives them).
MAX_USER_SPECS = 24
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
INPUT_KINDS = ("auto", "chip", "model", "hf")


@lru_cache(maxsize=1)
def _chip_index() -> dict[str, Chip]:
    return {k.lower(): c for c in catalog.chips() for k in (c.name, *c.aliases)}


@lru_cache(maxsize=1)
def _model_index() -> dict[str, ModelSpec]:
    return {k.lower(): m for m in catalog.models() for k in (m.name, *m.aliases)}


def chip_names() -> list[str]:
    """Catalog chip names (no aliases), sorted."""
    return [c.name for c in catalog.chips()]


def model_names() -> list[str]:
    """Catalog model names (no aliases), sorted."""
    return [m.name for m in catalog.models()]


def user_specs(store: Any) -> dict[SpecKind, dict[str, str]]:
    """The well-formed part of the browser's spec store: ``{"chip": {name: yaml}, "model":
    {...}}``. The store is client data: anything malformed is dropped, never trusted."""
    out: dict[SpecKind, dict[str, str]] = {"chip": {}, "model": {}}
    if not isinstance(store, Mapping):
        return out
    for kind in ("chip", "model"):
        specs = store.get(kind)
        if not isinstance(specs, Mapping):
            continue
        for name, text in list(specs.items())[:MAX_USER_SPECS]:
            if (isinstance(name, str) and _NAME.match(name) and isinstance(text, str)
                    and len(text.encode()) <= MAX_SPEC_BYTES):
                out[kind][name] = text  # type: ignore[index]
    return out


def options(kind: SpecKind, store: Any, keep: list[str] | None = None) -> list[dict[str, str]]:
    """Dropdown options: the user's specs first (marked "yours"), then the catalog.
    Values in ``keep`` missing from both (a shared link to someone else's spec) stay
    selectable, labelled as missing, so the page can say what is wrong."""
    mine = user_specs(store)[kind]
    opts = [{"label": f"{n} (yours)", "value": USER_PREFIX + n} for n in sorted(mine)]
    names = chip_names() if kind == "chip" else model_names()
    opts += [{"label": n, "value": n} for n in names]
    have = {o["value"] for o in opts}
    opts += [{"label": f"{v} (not defined here)", "value": v} for v in keep or [] if
             v and v not in have]
    return opts


@lru_cache(maxsize=128)
def _parse_yaml_spec(kind: SpecKind, text: str, source: str) -> Chip | ModelSpec:
    """Parse and validate one YAML spec (memoised on its text; specs are immutable)."""
    data, lines = parse_yaml(text, source)
    return validate(Chip if kind == "chip" else ModelSpec, data, source, lines)


def _resolve(kind: SpecKind, ref: Any, store: Any) -> Chip | ModelSpec:
    if not isinstance(ref, str) or not ref.strip():
        raise SpecError(f"choose a {kind}")
    ref = ref.strip()
    if ref.startswith(USER_PREFIX):
        name = ref.removeprefix(USER_PREFIX)
        text = user_specs(store)[kind].get(name)
        if text is None:
            raise SpecError(f"your {kind} {name!r} is not defined in this browser; add it on "
                            "the Specs page (links carry names, not specs)")
        spec = _parse_yaml_spec(kind, text, f"<your {kind} {name}>")
        if spec.name != name:
            raise SpecError(f"stored {kind} {name!r} is named {spec.name!r} inside")
        return spec
    index = _chip_index() if kind == "chip" else _model_index()
    found = index.get(ref.lower())
    if found is None:
        raise SpecError(f"unknown {kind} {ref[:80]!r}; choose one from the list")
    return found


def resolve_chip(ref: Any, store: Any = None) -> Chip:
    """A chip by catalog name/alias or ``user:<name>`` from the browser's store."""
    spec = _resolve("chip", ref, store)
    assert isinstance(spec, Chip)
    return spec


def resolve_model(ref: Any, store: Any = None) -> ModelSpec:
    """A model by catalog name/alias or ``user:<name>`` from the browser's store."""
    spec = _resolve("model", ref, store)
    assert isinstance(spec, ModelSpec)
    return spec


def spec_yaml(spec: Chip | ModelSpec) -> str:
    """A spec as YAML that the loaders read back to the same spec (SI units)."""
    return yaml.safe_dump(dump_with_units(spec), sort_keys=False, width=100,
                          allow_unicode=True)


def parse_user_spec(text: str, kind: str = "auto", source: str = "<pasted spec>"
                    ) -> tuple[SpecKind, Chip | ModelSpec, str]:
    """Validate pasted or uploaded text as a chip YAML, a model YAML or a HF config.json
    (``kind`` "auto" tells them apart). Returns (kind, spec, YAML to store); raises
    :class:`SpecError` with the loader's message (file, field, line) when invalid."""
    if kind not in INPUT_KINDS:
        raise SpecError(f"unknown input kind {kind!r}; use one of {', '.join(INPUT_KINDS)}")
    size = len(text.encode())
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"{size:,} bytes; specs here are limited to {MAX_SPEC_BYTES // 1024} kB",
                        source=source)
    if not text.strip():
        raise SpecError("nothing to read: paste a chip or model YAML, or a config.json",
                        source=source)
    if kind == "hf" or (kind == "auto" and text.lstrip().startswith("{")):
        cfg = parse_json(text, source)
        model = from_hf_config(cfg) if isinstance(cfg, Mapping) else None
        if model is None:
            raise SpecError("expected a JSON object (a config.json)", source=source)
        stored = spec_yaml(model)
        _parse_yaml_spec("model", stored, source)  # what is stored must load back
        return "model", model, stored
    data, lines = parse_yaml(text, source)
    if kind == "auto":
        kind = "chip" if isinstance(data, Mapping) and "peak_flops" in data else "model"
    spec = validate(Chip if kind == "chip" else ModelSpec, data, source, lines,
                    units_required=True)
    return kind, spec, text  # type: ignore[return-value]


def add_user_spec(store: Any, kind: SpecKind, name: str, text: str) -> dict[str, Any]:
    """A new store with ``text`` saved as the user's ``kind`` named ``name`` (replacing one
    of the same name); the input store is not modified."""
    specs = user_specs(store)
    if name not in specs[kind] and sum(map(len, specs.values())) >= MAX_USER_SPECS:
        raise SpecError(f"this browser already keeps {MAX_USER_SPECS} specs; remove one first")
    return {k: dict(v) | ({name: text} if k == kind else {}) for k, v in specs.items()}


def remove_user_spec(store: Any, kind: SpecKind, name: str) -> dict[str, Any]:
    """A new store without the user's ``kind`` named ``name``."""
    specs = user_specs(store)
    return {k: {n: t for n, t in v.items() if not (k == kind and n == name)}
            for k, v in specs.items()}
