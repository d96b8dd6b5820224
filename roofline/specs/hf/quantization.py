"""What a checkpoint's ``quantization_config`` (or ModelOpt's ``hf_quant_config.json``) says
about stored formats: weights, activations, KV cache, and which parts stay unquantised.

Formats are named as :data:`roofline.engine.scenario.precision.FORMATS` names them, or given as a
mapping (dtype, group_size, scale_bytes, zero_bytes, label) the engine validates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from roofline.errors import Problem, SpecError

FormatSpec = str | dict[str, Any]

#: Parts HF quantizers never convert: embeddings are lookups, MoE routers are tiny and
#: precision-critical, the LM head is skipped by default (transformers
#: ``get_keys_to_not_convert``; DeepSeek-V3 and gpt-oss keep all three in bf16).
KEEP: dict[str, FormatSpec] = {"embedding": "bf16", "lm_head": "bf16", "router": "bf16"}

METHODS = ("fp8", "fbgemm_fp8", "compressed-tensors", "awq", "gptq", "bitsandbytes", "mxfp4",
           "modelopt")


@dataclass(frozen=True)
class Scheme:
    """Stored formats read from a checkpoint's quantisation config."""

    weights: FormatSpec
    activations: str
    kv_cache: FormatSpec
    overrides: dict[str, FormatSpec]
    label: str
    notes: list[str] = field(default_factory=list)


def _err(message: str, key: str) -> SpecError:
    return SpecError([Problem(message, field=f"quantization.{key}")])


def _whole(q: Mapping[str, Any], key: str, default: int, low: int = 1) -> int:
    v = q.get(key, default)
    if isinstance(v, int) and not isinstance(v, bool) and low <= v <= 2**31:
        return v
    raise _err(f"expected a whole number >= {low}, got {v!r:.40}", key)


_PARTS = (("lm_head", r"lm_head|output_layer"), ("embedding", r"embed|wte|word_embeddings"),
          ("router", r"router|mlp\.gate$|\.gate$|gate\.weight$|block_sparse_moe\.gate$"),
          ("experts", r"experts"), ("ssm", r"mixer|mamba|linear_attn"),
          ("attention", r"attn|attention"), ("mlp", r"mlp|feed_forward|ffn"))
_TOWER = re.compile(r"vision|visual|multi_modal|mm_projector|audio|image")


def components(patterns: Any, notes: list[str]) -> set[str]:
    """The model parts a list of module names or patterns (``re:`` regexes, globs) covers;
    layer-specific entries (one layer's module) are noted and left quantised."""
    if not isinstance(patterns, list | tuple):
        return set()
    out: set[str] = set()
    partial = 0
    for p in patterns:
        if not isinstance(p, str):
            continue
        text = p.removeprefix("re:")
        if _TOWER.search(text):
            continue  # vision / audio towers are reported apart, not costed
        if re.search(r"layers?\.\d+\.", text) or re.search(r"\.h\.\d+\.", text):
            partial += 1
            continue
        for name, rx in _PARTS:
            if re.search(rx, text):
                out.add(name)
                break
    if partial:
        notes.append(f"{partial} layer-specific unquantised modules costed as quantised")
    return out


def _fp8(q: Mapping[str, Any]) -> Scheme:
    block = q.get("weight_block_size")
    if block and not (isinstance(block, list | tuple) and len(block) == 2):
        raise _err(f"expected [rows, columns], got {block!r:.40}", "weight_block_size")
    if block:
        rows, cols = (_whole({"b": b}, "b", 0) for b in block)
        w: FormatSpec = {"dtype": "fp8", "group_size": rows * cols, "scale_bytes": 4.0,
                         "label": f"fp8 ({rows}x{cols} blocks)"}
    else:
        w = "fp8"
    name = w["label"] if isinstance(w, dict) else "fp8 (per-tensor scale)"
    notes: list[str] = []
    keep = {c: "bf16" for c in components(q.get("modules_to_not_convert")
                                          or q.get("ignored_layers"), notes)}
    return Scheme(w, "fp8", "bf16", {**KEEP, **keep}, f"fp8 from quantization_config ({name})",
                  notes)


def _int_weights(method: str, bits: int, group: int, zero: bool) -> FormatSpec:
    dtype = {4: "int4", 8: "int8"}.get(bits)
    if dtype is None:
        raise _err(f"{method} with {bits} bits is not supported (4 or 8)", "bits")
    return {"dtype": dtype, "group_size": group if group > 0 else None, "scale_bytes": 2.0,
            "zero_bytes": 2.0 if zero else 0.0, "label": f"{method} {bits}-bit g{group}"}


def _gptq_awq(method: str, q: Mapping[str, Any]) -> Scheme:
    bits = _whole(q, "bits", 4)
    group = _whole(q, "group_size", 128, low=-1)  # -1: per channel
    zero = not (q.get("sym", False) and method == "gptq") and q.get("zero_point", True) is not False
    w = _int_weights(method, bits, group, zero)
    notes: list[str] = []
    keep = {c: "bf16" for c in components(q.get("modules_to_not_convert"), notes)}
    assert isinstance(w, dict)
    return Scheme(w, "bf16", "bf16", {**KEEP, **keep}, str(w["label"]), notes)


def _bitsandbytes(q: Mapping[str, Any]) -> Scheme:
    """bitsandbytes: NF4/FP4 in blocks of 64 with an fp32 absmax (double quantisation: an
    8-bit absmax plus one fp32 per 256 blocks; Dettmers et al. 2023, QLoRA section 3), or
    LLM.int8() with a per-row scale (Dettmers et al. 2022)."""
    notes: list[str] = []
    keep = {c: "bf16" for c in components(q.get("llm_int8_skip_modules"), notes)}
    if q.get("load_in_4bit"):
        kind = str(q.get("bnb_4bit_quant_type", "nf4")).lower()
        double = bool(q.get("bnb_4bit_use_double_quant", False))
        scale = 1.0 + 4.0 / 256 if double else 4.0
        w = {"dtype": "int4", "group_size": 64, "scale_bytes": scale,
             "label": f"bitsandbytes {kind.upper()} (block 64{', double quant' if double else ''})"}
        return Scheme(w, "bf16", "bf16", {**KEEP, **keep}, str(w["label"]), notes)
    if q.get("load_in_8bit"):
        return Scheme("int8", "int8", "bf16", {**KEEP, **keep}, "bitsandbytes LLM.int8()", notes)
    raise _err("expected load_in_4bit or load_in_8bit to be true", "load_in_4bit")


def _ct_format(w: Mapping[str, Any], key: str) -> FormatSpec:
    """One compressed-tensors quantisation args block -> a format."""
    bits, kind = w.get("num_bits"), str(w.get("type", "int")).lower()
    strategy = str(w.get("strategy", "tensor")).lower()
    group = w.get("group_size")
    if kind == "float" and bits == 4:  # NVFP4: 16-element groups, fp8 scales
        return "nvfp4"
    if kind == "float" and bits == 8:
        block = w.get("block_structure")
        if strategy == "block" and isinstance(block, list) and len(block) == 2 and all(
                isinstance(b, int) and b > 0 for b in block):
            return {"dtype": "fp8", "group_size": block[0] * block[1], "scale_bytes": 4.0,
                    "label": f"fp8 ({block[0]}x{block[1]} blocks)"}
        return "fp8-per-channel" if strategy == "channel" else "fp8"
    if kind == "int" and bits in (4, 8):
        g = group if strategy == "group" and isinstance(group, int) and group > 0 else -1
        return _int_weights("compressed-tensors", bits, g, not w.get("symmetric", True))
    raise _err(f"{bits}-bit {kind} weights are not supported (fp8, fp4, int8, int4)", key)


def _act(a: Any) -> str:
    if not isinstance(a, Mapping):
        return "bf16"  # weight-only
    bits, kind = a.get("num_bits"), str(a.get("type", "int")).lower()
    return {(8, "float"): "fp8", (4, "float"): "fp4", (8, "int"): "int8"}.get((bits, kind),
                                                                              "bf16")


def _compressed_tensors(q: Mapping[str, Any]) -> Scheme:
    groups = q.get("config_groups")
    if not isinstance(groups, Mapping) or not groups:
        raise _err("expected a mapping of quantisation groups", "config_groups")
    notes: list[str] = []
    weights: FormatSpec = "bf16"
    acts = "bf16"
    overrides: dict[str, FormatSpec] = {}
    for name, g in groups.items():
        if not isinstance(g, Mapping) or not isinstance(g.get("weights"), Mapping):
            raise _err("expected a group with `weights`", f"config_groups.{name}")
        fmt = _ct_format(g["weights"], f"config_groups.{name}.weights")
        targets = g.get("targets") or ["Linear"]
        if "Linear" in targets:
            weights, acts = fmt, _act(g.get("input_activations"))
        else:
            overrides.update({c: fmt for c in components(targets, notes)})
    kv = q.get("kv_cache_scheme")
    kv_fmt: FormatSpec = "fp8" if isinstance(kv, Mapping) and kv.get("num_bits") == 8 else "bf16"
    ignored = components(q.get("ignore"), notes)
    keep = {"embedding": "bf16", "router": "bf16"}
    keep.update({c: "bf16" for c in ignored})
    label = weights if isinstance(weights, str) else str(weights.get("label"))
    return Scheme(weights, acts, kv_fmt, {**overrides, **keep},
                  f"compressed-tensors {label}, activations {acts}", notes)


#: ModelOpt ``quant_algo`` -> (weight format, activation dtype).
_MODELOPT: dict[str, tuple[FormatSpec, str]] = {
    "NVFP4": ("nvfp4", "fp4"), "FP8": ("fp8", "fp8"), "FP8_PER_CHANNEL_PER_TOKEN":
    ("fp8-per-channel", "fp8"), "W4A16_AWQ": ("int4-g128", "bf16"),
    "W4A8_AWQ": ("int4-g128", "fp8"), "NVFP4_AWQ": ("nvfp4", "fp4"),
    "W4A16_NVFP4": ("nvfp4", "bf16"), "MXFP4": ("mxfp4", "fp4"),
    "W8A8_SQ_PER_CHANNEL": ("int8", "int8")}


def _modelopt_algo(algo: str) -> tuple[FormatSpec, str]:
    if algo not in _MODELOPT:
        raise _err(f"ModelOpt quant_algo {algo!r} is not supported; known: "
                   f"{', '.join(_MODELOPT)}, MIXED_PRECISION", "quant_algo")
    return _MODELOPT[algo]


def _mixed(layers: Any, notes: list[str]) -> tuple[str, dict[str, FormatSpec]]:
    """ModelOpt MIXED_PRECISION: ``quantized_layers`` names each module's algorithm; each
    model part takes its most common one (the rest stays bf16). Returns the dominant
    algorithm (by module count) and the per-part weight formats."""
    if not isinstance(layers, Mapping) or not layers:
        raise _err("MIXED_PRECISION needs a quantized_layers mapping", "quantized_layers")
    votes: dict[str, dict[str, int]] = {}
    for name, spec in layers.items():
        algo = str(spec.get("quant_algo", "") if isinstance(spec, Mapping) else "").upper()
        _modelopt_algo(algo)
        part = next((n for n, rx in _PARTS if re.search(rx, str(name))), "mlp")
        votes.setdefault(part, {}).setdefault(algo, 0)
        votes[part][algo] += 1
    picked = {part: max(v, key=v.__getitem__) for part, v in votes.items()}
    mixed = [p for p, v in votes.items() if len(v) > 1]
    if mixed:
        notes.append(f"MIXED_PRECISION: {', '.join(sorted(mixed))} mix algorithms; each "
                     "costed at its most common one")
    total: dict[str, int] = {}
    for v in votes.values():
        for a, n in v.items():
            total[a] = total.get(a, 0) + n
    return max(total, key=total.__getitem__), {p: _modelopt_algo(a)[0]
                                               for p, a in picked.items()}


def _modelopt(q: Mapping[str, Any]) -> Scheme:
    """NVIDIA ModelOpt (``hf_quant_config.json`` or ``quant_method: modelopt``)."""
    algo = str(q.get("quant_algo", "")).upper()
    notes: list[str] = []
    keep: dict[str, FormatSpec] = {"embedding": "bf16", "router": "bf16"}
    if algo == "MIXED_PRECISION":  # modules not listed stay bf16
        main, parts = _mixed(q.get("quantized_layers"), notes)
        w, acts = "bf16", _modelopt_algo(main)[1]
        keep.update(parts)
        label = f"ModelOpt mixed ({', '.join(f'{p} {a}' for p, a in sorted(parts.items()))})"
    else:
        w, acts = _modelopt_algo(algo)
        label = f"ModelOpt {algo}"
    excluded = q.get("exclude_modules") or q.get("ignore")
    keep.update({c: "bf16" for c in components(excluded, notes if w != "bf16" else [])})
    kv = q.get("kv_cache_quant_algo") or q.get("kv_cache_scheme")  # the latter: exports
    kv = str(kv if isinstance(kv, str) else "").upper()              # in quantization_config
    return Scheme(w, acts, "fp8" if kv == "FP8" else "bf16", keep,
                  label + (" + fp8 KV" if kv == "FP8" else ""), notes)


def read_quantization(q: Mapping[str, Any]) -> Scheme:
    """The stored formats a ``quantization_config`` describes; SpecError if not modelled."""
    method = str(q.get("quant_method", "")).lower()
    producer = q.get("producer")
    if not method and isinstance(producer, Mapping) and producer.get("name") == "modelopt":
        method = "modelopt"  # ModelOpt exports that name only their producer and quant_algo
    if method == "mxfp4":  # gpt-oss: MoE experts in MXFP4, all else bf16
        notes: list[str] = []
        components(q.get("modules_to_not_convert"), notes)
        return Scheme("bf16", "bf16", "bf16", {"experts": "mxfp4"},
                      "MXFP4 experts, bf16 rest", notes)
    if method == "fp8":
        return _fp8(q)
    if method == "fbgemm_fp8":
        notes = []
        keep = {c: "bf16" for c in components(q.get("modules_to_not_convert"), notes)}
        return Scheme("fp8-per-channel", "fp8", "bf16", {**KEEP, **keep},
                      "fbgemm fp8 (per-channel)", notes)
    if method in ("gptq", "awq"):
        return _gptq_awq(method, q)
    if method == "bitsandbytes":
        return _bitsandbytes(q)
    if method == "compressed-tensors":
        return _compressed_tensors(q)
    if method == "modelopt":
        return _modelopt(q)
    raise _err(f"quantization method {method!r} is not supported ({', '.join(METHODS)}); "
               "pass precision= a named recipe instead", "quant_method")


def from_modelopt_file(data: Any, source: str) -> dict[str, Any]:
    """The ``quantization`` section of ModelOpt's ``hf_quant_config.json`` as a
    ``quantization_config`` (``quant_method: modelopt``)."""
    section = data.get("quantization") if isinstance(data, Mapping) else None
    if not isinstance(section, Mapping):
        raise SpecError([Problem("expected a `quantization` mapping", source, "quantization")])
    return {"quant_method": "modelopt", **section}
