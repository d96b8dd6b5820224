"""config.json -> :class:`ModelSpec`: find the family (or say which are nearest), build the
spec from its data, read the checkpoint's quantisation, count multimodal towers apart."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roofline.errors import Problem, SpecError
from roofline.specs.hf.families import FAMILIES, MULTIMODAL
from roofline.specs.hf.hybrids import BUILDERS
from roofline.specs.hf.multimodal import split, tower_params
from roofline.specs.hf.quantization import from_modelopt_file, read_quantization
from roofline.specs.hf.reader import ALIASES, Config, Reader
from roofline.specs.loading import load_json, validate
from roofline.specs.model import ModelSpec

#: Fields the shared decoder reads; an unknown family needs these to map as a named one.
NEEDED = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
          "intermediate_size")

#: Config keys that identify a family's structure, for "nearest family" hints.
_SIGNS = (("kv_lora_rank", "deepseek_v3"), ("hybrid_override_pattern", "nemotron_h"),
          ("block_configs", "nemotron-nas"), ("attn_layer_period", "jamba"),
          ("ssm_state_size", "mamba2"), ("state_size", "mamba"),
          ("num_local_experts", "mixtral"), ("n_routed_experts", "deepseek"),
          ("num_experts", "qwen3_moe"), ("n_embd", "gpt2"), ("sliding_window", "mistral"))


@dataclass(frozen=True)
class HFImport:
    """One imported config.json: the spec, the family it was read as, every assumption,
    and the multimodal towers counted apart (name, modality, parameters)."""

    spec: ModelSpec
    family: str
    assumptions: list[str] = field(default_factory=list)
    towers: list[tuple[str, str, int]] = field(default_factory=list)


def nearest_families(cfg: Config) -> list[str]:
    """Up to three supported families closest to an unknown config (by name, by
    architecture class, by the fields it carries)."""
    names = sorted(FAMILIES)
    mt = str(cfg.get("model_type", ""))
    out = difflib.get_close_matches(mt, names, n=2, cutoff=0.6)
    arch = cfg.get("architectures")
    if isinstance(arch, list) and arch and isinstance(arch[0], str):
        stem = re.sub(r"(for(causallm|conditionalgeneration)|model|lmheadmodel)$", "",
                      arch[0].lower())
        out += difflib.get_close_matches(stem, names, n=2, cutoff=0.6)
    out += [fam for key, fam in _SIGNS if key in cfg]
    out.append("llama")
    return list(dict.fromkeys(out))[:3]


def _unknown(cfg: Config, source: str) -> SpecError:
    mt = cfg.get("model_type")
    near = nearest_families(cfg)
    missing = [k for k in NEEDED if not any(cfg.get(n) is not None for n in ALIASES[k])]
    need = ", ".join(NEEDED) + (f" (missing here: {', '.join(missing)})" if missing else "")
    return SpecError([Problem(
        f"unsupported model_type {mt!r}; nearest supported: {', '.join(near)}. Map it as one "
        f"of them with as_family={near[0]!r} (CLI: --as {near[0]}), which reads {need} and "
        f"lists every assumption; or write a model YAML (docs/specs.md). Supported: "
        f"{', '.join(sorted(FAMILIES))}", source, "model_type")])


def _text_family(top: Config, text: Config) -> str | None:
    mt = text.get("model_type")
    if isinstance(mt, str) and mt in FAMILIES:
        return mt
    top_type = top.get("model_type")
    if isinstance(top_type, str):
        return MULTIMODAL.get(top_type) or (top_type if top_type in FAMILIES else None)
    return None


def _quantization(cfg: Config, path: Path | None, notes: list[str]) -> dict[str, Any] | None:
    q = cfg.get("quantization_config")
    side = path.parent / "hf_quant_config.json" if path is not None else None
    if q is None and side is not None and side.is_file():
        q = from_modelopt_file(load_json(side), str(side))
        notes.append(f"quantisation read from {side.name} (NVIDIA ModelOpt)")
    if q is None:
        return None
    if not isinstance(q, Mapping):
        raise SpecError([Problem("expected a mapping", field="quantization_config")])
    try:
        scheme = read_quantization(q)
        notes.append(f"stored precision: {scheme.label}")
        notes.extend(scheme.notes)
    except SpecError as e:
        notes.append(f"quantisation not modelled ({e}); pass precision= to cost it")
    return dict(q)


def _name_for(cfg: Config, fallback: str) -> str:
    raw = str(cfg.get("_name_or_path") or fallback).rstrip("/").split("/")[-1]
    name = re.sub(r"[^a-z0-9._-]+", "-", raw.lower()).strip("-._")
    return name[:80] or "hf-model"


def _load(config: str | Path | Config) -> tuple[Config, str, str, Path | None]:
    if isinstance(config, str | Path):
        p = Path(config)
        cfg = load_json(p)
        fallback = p.parent.name if p.name == "config.json" else p.stem
        return cfg, str(config), fallback, p
    return config, "<config.json dict>", "hf-model", None


def import_hf_config(config: str | Path | Config, *, name: str | None = None,
                     as_family: str | None = None) -> HFImport:
    """Read a Hugging Face ``config.json`` (a path or a dict) as a :class:`ModelSpec`.

    ``as_family`` maps an unsupported ``model_type`` with a named family's rules and lists
    every default it applied. Keys starting with ``_`` are ignored; local files only.
    """
    cfg, source, fallback, path = _load(config)
    if not isinstance(cfg, Mapping):
        raise SpecError("expected a JSON object", source=source)
    text, towers = split(cfg)
    family = _text_family(cfg, text)
    notes: list[str] = []
    if as_family is not None:
        if as_family not in FAMILIES:
            raise SpecError([Problem(f"unknown family {as_family!r}; use one of "
                                     f"{', '.join(sorted(FAMILIES))}", field="as_family")])
        if family != as_family:
            notes.append(f"model_type {cfg.get('model_type')!r} read as {as_family}: its "
                         f"biases, norms, layer pattern and field names assumed")
        family = as_family
    if family is None:
        raise _unknown(cfg, source)
    fam = FAMILIES[family]
    for key in fam.nested:
        if isinstance(text.get(key), Mapping):
            text = {**text, **text[key]}
    r = Reader(text, source, fam.model_type, fam.fields)
    absent = {k: v for k, v in fam.hf_defaults.items() if not r.has(k)}
    if absent and isinstance(cfg.get("text_config"), Mapping):
        # what transformers' config class fills in: LLaVA's text_config leaves them out
        r = Reader({**text, **absent}, source, fam.model_type, fam.fields)
        notes.append(f"absent fields from the {fam.model_type} config class defaults: "
                     + ", ".join(f"{k}={v}" for k, v in absent.items()))
    try:
        data = BUILDERS[fam.build](r, fam)
    except SpecError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError) as e:
        raise SpecError(f"a config.json field has an unexpected type or value ({e})",
                        source=source) from None
    mt = text.get("model_type") or cfg.get("model_type")
    data["model_type"] = mt if isinstance(mt, str) and mt else fam.model_type
    data["quantization"] = _quantization(cfg, path, notes)
    counted = []
    for tname, modality, tcfg in towers:
        n = tower_params(tcfg, data["hidden_size"])
        if n:
            counted.append((tname, modality, n))
    if towers:
        notes.append("multimodal: the text model is costed; "
                     + (", ".join(f"{t} tower {n / 1e9:.2f}B" for t, _, n in counted)
                        or "towers") + " counted apart, not costed")
    assumptions = list(notes) + r.notes + list(fam.notes)
    if as_family is not None:
        assumptions += r.defaults
    data = {k: ({kk: vv for kk, vv in v.items() if vv is not None} if isinstance(v, dict)
                and k != "quantization" else v) for k, v in data.items() if v is not None}
    data["encoders"] = [{"name": t, "modality": m, "params": n} for t, m, n in counted]
    data["name"] = name or _name_for(cfg, fallback)
    src = cfg.get("_source")
    data["sources"] = [{"title": f"Hugging Face config.json ({source})",
                        **({"url": src} if isinstance(src, str) and src.startswith("http")
                           else {})}]
    if assumptions:
        data["notes"] = "; ".join(assumptions)
    spec = validate(ModelSpec, data, source)
    return HFImport(spec, fam.model_type, assumptions, counted)


def from_hf_config(config: str | Path | Config, *, name: str | None = None,
                   as_family: str | None = None) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face ``config.json`` (a path or a dict);
    see :func:`import_hf_config`. Supported ``model_type`` values: :data:`FAMILIES`."""
    return import_hf_config(config, name=name, as_family=as_family).spec
