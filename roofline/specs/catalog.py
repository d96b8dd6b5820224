"""The shipped catalogs (``hardware_specs/``, ``models/``): discovery, lookup by name or
alias (case-insensitive), and listing as DataFrames."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roofline.errors import Problem, SpecError
from roofline.specs.chip import Chip
from roofline.specs.hf import from_hf_config
from roofline.specs.loading import load_yaml_spec, validate
from roofline.specs.model import ModelSpec

if TYPE_CHECKING:
    import pandas as pd

_PACKAGE = Path(__file__).resolve().parent.parent


def catalog_dir(kind: str) -> Path:
    """Folder of the shipped ``hardware_specs`` or ``models`` catalog.

    An installed wheel carries them in ``roofline/_catalog/``; a source checkout keeps them
    at the repository root.
    """
    for base in (_PACKAGE / "_catalog", _PACKAGE.parent):
        if (base / kind).is_dir():
            return base / kind
    raise SpecError(f"the shipped {kind}/ catalog is missing (looked in {_PACKAGE / '_catalog'} "
                    f"and {_PACKAGE.parent}); reinstall roofline")


def _index(specs: list[Any], kind: str) -> dict[str, Any]:
    """Map lower-case names and aliases to specs; a clash is a catalog error."""
    index: dict[str, Any] = {}
    owner: dict[str, str] = {}
    problems = []
    for spec, path in specs:
        for key in (spec.name, *spec.aliases):
            k = key.lower()
            if k in owner and owner[k] != spec.name:
                problems.append(Problem(f"name or alias {key!r} is also used by {owner[k]}",
                                        str(path), "aliases"))
            owner[k], index[k] = spec.name, spec
    if problems:
        raise SpecError(problems)
    return index


def _load_dir(kind: str, model: type) -> list[tuple[Any, Path]]:
    out, problems = [], []
    for path in sorted(catalog_dir(kind).glob("*.yaml")):
        try:
            spec = load_yaml_spec(model, path)
        except SpecError as e:
            problems.extend(e.problems)
            continue
        if path.stem != spec.name:
            problems.append(Problem(f"file name must be {spec.name}.yaml", str(path), "name"))
        out.append((spec, path))
    if problems:
        raise SpecError(problems)
    return out


@lru_cache(maxsize=1)
def _chip_index() -> dict[str, Chip]:
    return _index(_load_dir("hardware_specs", Chip), "chip")


@lru_cache(maxsize=1)
def _model_index() -> dict[str, ModelSpec]:
    return _index(_load_dir("models", ModelSpec), "model")


def chips() -> list[Chip]:
    """Every catalog chip, sorted by name."""
    return sorted({c.name: c for c in _chip_index().values()}.values(), key=lambda c: c.name)


def models() -> list[ModelSpec]:
    """Every catalog model, sorted by name."""
    return sorted({m.name: m for m in _model_index().values()}.values(), key=lambda m: m.name)


def _unknown(kind: str, name: str, index: Mapping[str, Any]) -> SpecError:
    hints = difflib.get_close_matches(name.lower(), list(index), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(hints)}?" if hints else ""
    cmd = "chips" if kind == "chip" else "models"
    return SpecError(f"unknown {kind} {name!r}{hint} (`roofline {cmd}` lists them; a path to a "
                     f"{'.yaml' if kind == 'chip' else '.yaml or config.json'} file works too)")


def _is_path(ref: str | Path) -> bool:
    return isinstance(ref, Path) or str(ref).endswith((".yaml", ".yml", ".json")) or "/" in str(
        ref)


def load_chip(ref: str | Path | Chip | Mapping[str, Any]) -> Chip:
    """A chip by catalog name or alias (case-insensitive), by YAML path, or from a dict."""
    if isinstance(ref, Chip):
        return ref
    if isinstance(ref, Mapping):
        return validate(Chip, ref, "<chip dict>")
    if _is_path(ref):
        return load_yaml_spec(Chip, ref)
    index = _chip_index()
    try:
        return index[str(ref).lower()]
    except KeyError:
        raise _unknown("chip", str(ref), index) from None


def load_model(ref: str | Path | ModelSpec | Mapping[str, Any]) -> ModelSpec:
    """A model by catalog name or alias, by model YAML path, or by HF ``config.json`` path;
    a dict is read as a model spec (or as a config.json when it has ``model_type`` but no
    ``sources``)."""
    if isinstance(ref, ModelSpec):
        return ref
    if isinstance(ref, Mapping):
        if "sources" not in ref and "model_type" in ref:
            return from_hf_config(ref)
        return validate(ModelSpec, ref, "<model dict>")
    if _is_path(ref):
        if str(ref).endswith(".json"):
            return from_hf_config(ref)
        return load_yaml_spec(ModelSpec, ref)
    index = _model_index()
    try:
        return index[str(ref).lower()]
    except KeyError:
        raise _unknown("model", str(ref), index) from None


def chip_row(c: Chip) -> dict[str, Any]:
    """One chip's catalog row (SI units)."""
    row: dict[str, Any] = {
        "name": c.name, "vendor": c.vendor, "display_name": c.display_name or c.name,
        "aliases": ", ".join(c.aliases), "release_year": c.release_year,
        "form_factor": c.form_factor,
    }
    for d in ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "fp4", "int8", "int4"):
        row[f"{d}_flops_per_s"] = c.peak_flops.get(d)  # type: ignore[call-overload]
    row.update({
        "memory_bytes": c.memory.capacity, "memory_bandwidth_bytes_per_s": c.memory.bandwidth,
        "ridge_point_bf16_flop_per_byte": c.ridge_point("bf16"),
        "on_chip_sram_bytes": c.on_chip_sram,
        "scale_up_bytes_per_s": c.scale_up.bandwidth_per_direction if c.scale_up else None,
        "scale_up_domain": c.scale_up.domain_size if c.scale_up else 1,
        "scale_out_bytes_per_s": c.scale_out.bandwidth_per_direction if c.scale_out else None,
        "tdp_w": c.tdp,
        "usd_per_chip_hour": c.price.usd_per_chip_hour if c.price else None,
        "sources": "; ".join(s.title for s in c.sources),
    })
    return row


def list_chips() -> pd.DataFrame:
    """The chip catalog as a DataFrame, one row per chip, SI units in the column names."""
    import pandas as pd

    return pd.DataFrame([chip_row(c) for c in chips()])


def model_row(m: ModelSpec) -> dict[str, Any]:
    """One model's catalog row."""
    from roofline.specs.params import count_params

    p = count_params(m)
    mixers = m.mixers()
    attn = ("MLA" if m.mla else
            "none" if m.attention is None else
            "MHA" if m.attention.kv_heads == m.attention.num_attention_heads else
            "MQA" if m.attention.kv_heads == 1 else "GQA")
    return {
        "name": m.name, "display_name": m.display_name or m.name, "model_type": m.model_type,
        "aliases": ", ".join(m.aliases), "total_params": p.total, "active_params": p.active,
        "embedding_params": p.embedding, "layers": m.num_hidden_layers,
        "hidden_size": m.hidden_size, "attention": attn, "moe": m.is_moe,
        "experts": m.moe.num_experts if m.moe else None,
        "experts_per_token": m.moe.num_experts_per_tok if m.moe else None,
        "mamba_layers": mixers.count("mamba"),
        "max_position_embeddings": m.max_position_embeddings, "rumoured": m.rumoured,
        "sources": "; ".join(s.title for s in m.sources),
    }


def list_models() -> pd.DataFrame:
    """The model catalog as a DataFrame, one row per model, with parameter counts."""
    import pandas as pd

    return pd.DataFrame([model_row(m) for m in models()])
