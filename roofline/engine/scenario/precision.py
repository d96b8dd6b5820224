"""Precision recipes: how weights, activations and the KV cache are stored and computed.

A recipe is more than a bit width: group-wise integer formats carry a scale (and zero)
per group, block formats a shared scale per block, and mixed recipes give experts,
attention, etc. their own format. Bytes per element = element bytes + (scale + zero
bytes) / group size (CONVENTIONS.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from roofline.errors import Problem, SpecError
from roofline.specs.common import Strict
from roofline.specs.dtypes import BYTES_PER_ELEMENT, Dtype
from roofline.specs.hf.quantization import read_quantization
from roofline.specs.loading import validate

#: Parts of a model a mixed recipe can set apart.
Component = Literal["attention", "mlp", "experts", "router", "embedding", "lm_head", "ssm"]


class Format(Strict):
    """A stored number format: element dtype plus optional group-wise scales and zeros."""

    dtype: Dtype
    group_size: int | None = Field(default=None, ge=1)
    scale_bytes: float = Field(default=0.0, ge=0)
    zero_bytes: float = Field(default=0.0, ge=0)
    label: str | None = None

    @property
    def bytes_per_element(self) -> float:
        """Storage bytes per element, scales and zeros included."""
        extra = (self.scale_bytes + self.zero_bytes) / self.group_size if self.group_size else 0.0
        return BYTES_PER_ELEMENT[self.dtype] + extra

    @property
    def name(self) -> str:
        return self.label or self.dtype.value


def _f(dtype: str, group: int | None = None, scale: float = 0.0, zero: float = 0.0,
       label: str | None = None) -> Format:
    return Format(dtype=Dtype(dtype), group_size=group, scale_bytes=scale, zero_bytes=zero,
                  label=label)


#: Named formats. Per-tensor / per-channel scales are negligible per element (one scale per
#: row of thousands); group-wise formats are not.
FORMATS: dict[str, Format] = {
    "fp32": _f("fp32"), "bf16": _f("bf16"), "fp16": _f("fp16"),
    "fp8": _f("fp8", label="fp8 (per-tensor scale)"),
    "fp8-per-channel": _f("fp8", label="fp8 (per-channel scale)"),
    # DeepSeek-V3 fp8: one fp32 scale per 128x128 weight block (arXiv 2412.19437, 3.3).
    "fp8-block128": _f("fp8", 128 * 128, 4.0, label="fp8 (128x128 blocks, fp32 scale)"),
    "int8": _f("int8", label="int8 (per-channel scale)"),
    # GPTQ / AWQ style: 4-bit ints, an fp16 scale and a zero per group of 128.
    "int4-g128": _f("int4", 128, 2.0, 2.0, label="int4 (group 128, fp16 scale + zero)"),
    "int4-g64": _f("int4", 64, 2.0, 2.0, label="int4 (group 64, fp16 scale + zero)"),
    # OCP MX v1.0: 32-element blocks with one E8M0 (1-byte) scale.
    "mxfp4": _f("fp4", 32, 1.0, label="MXFP4 (block 32, E8M0 scale)"),
    "mxfp6": _f("fp6", 32, 1.0, label="MXFP6 (block 32, E8M0 scale)"),
    "mxfp8": _f("fp8", 32, 1.0, label="MXFP8 (block 32, E8M0 scale)"),
    # NVIDIA NVFP4: 16-element blocks with an FP8 (E4M3) scale (plus a per-tensor fp32).
    "nvfp4": _f("fp4", 16, 1.0, label="NVFP4 (block 16, E4M3 scale)"),
}


def get_format(spec: str | Format | Mapping[str, Any]) -> Format:
    """A :class:`Format` from a name in :data:`FORMATS`, a dict, or a Format."""
    if isinstance(spec, Format):
        return spec
    if isinstance(spec, Mapping):
        return validate(Format, spec, "<precision format>")
    key = str(spec).lower()
    if key not in FORMATS:
        raise SpecError([Problem(f"unknown format {spec!r}; use one of {', '.join(FORMATS)}",
                                 field="precision")])
    return FORMATS[key]


class Precision(Strict):
    """Storage and compute formats of one run.

    ``weights`` applies to every weight unless ``overrides`` names the component;
    ``activations`` is the matmul input format and so picks the tensor-core peak (a weight-only
    int4 recipe computes in bf16); ``kv_cache`` is how K and V are stored; ``attention`` is
    the format the attention core (QK^T, softmax, PV) computes in, by default the wider of
    bf16 and ``activations``: Transformer Engine and vLLM quantise the projections to fp8
    but keep the attention kernel in bf16 unless asked otherwise.
    """

    weights: Format
    activations: Dtype = Dtype.bf16
    kv_cache: Format
    attention: Dtype | None = None
    overrides: dict[Component, Format] = Field(default_factory=dict)
    label: str = "custom"

    @property
    def attention_dtype(self) -> Dtype:
        """The attention core's compute format."""
        if self.attention is not None:
            return self.attention
        a = self.activations
        return a if BYTES_PER_ELEMENT[a] >= 2 else Dtype.bf16

    def weight_format(self, component: Component) -> Format:
        return self.overrides.get(component, self.weights)

    def weight_bytes(self, component: Component) -> float:
        """Stored bytes per weight of ``component``."""
        return self.weight_format(component).bytes_per_element

    @property
    def activation_bytes(self) -> float:
        """Bytes per stored activation element. Activations live in memory and cross links
        in at least 16 bits; narrower activation formats (fp8, fp4, int8) are quantised on
        the fly at the matmul inputs (Transformer Engine, vLLM)."""
        return max(BYTES_PER_ELEMENT[self.activations], 2.0)

    def compute_dtype(self, component: Component) -> Dtype:
        """The matmul input format: both operands must be in it, so the wider of activation
        and weight element types (fp8 weights with bf16 activations compute in bf16)."""
        w = self.weight_format(component).dtype
        a = self.activations
        return a if BYTES_PER_ELEMENT[a] >= BYTES_PER_ELEMENT[w] else w


def _recipe(label: str, weights: str, activations: str, kv: str,
            **overrides: str) -> Precision:
    return Precision(weights=get_format(weights), activations=Dtype(activations),
                     kv_cache=get_format(kv), label=label,
                     overrides={k: get_format(v) for k, v in overrides.items()})


#: Named recipes: ``precision="fp8"`` etc. Embeddings, router and LM head stay in bf16 in
#: quantised recipes, as in vLLM / TensorRT-LLM defaults.
_KEEP = {"embedding": "bf16", "lm_head": "bf16", "router": "bf16"}
RECIPES: dict[str, Precision] = {
    "fp32": _recipe("fp32", "fp32", "fp32", "fp32"),
    "bf16": _recipe("bf16", "bf16", "bf16", "bf16"),
    "fp16": _recipe("fp16", "fp16", "fp16", "fp16"),
    "fp8": _recipe("fp8", "fp8", "fp8", "fp8", **_KEEP),
    "fp8-per-channel": _recipe("fp8-per-channel", "fp8-per-channel", "fp8", "fp8", **_KEEP),
    "fp8-weights": _recipe("fp8-weights (W8A16)", "fp8", "bf16", "bf16", **_KEEP),
    "int8": _recipe("int8 (W8A8)", "int8", "int8", "bf16", **_KEEP),
    "int4": _recipe("int4 (W4A16, group 128)", "int4-g128", "bf16", "bf16", **_KEEP),
    "int4-kv8": _recipe("int4 (W4A16) + fp8 KV", "int4-g128", "bf16", "fp8", **_KEEP),
    "mxfp4": _recipe("MXFP4 (W4A4)", "mxfp4", "fp4", "fp8", **_KEEP),
    "nvfp4": _recipe("NVFP4 (W4A4)", "nvfp4", "fp4", "fp8", **_KEEP),
    # gpt-oss ships MoE weights in MXFP4 and the rest in bf16 (its quantization_config).
    "mxfp4-experts": _recipe("MXFP4 experts, bf16 rest", "bf16", "bf16", "bf16",
                             experts="mxfp4"),
    "fp4-experts-fp8-attention": _recipe("fp4 experts, fp8 attention", "fp8", "fp8", "fp8",
                                         experts="nvfp4", **_KEEP),
}


def from_quantization_config(q: Mapping[str, Any]) -> Precision:
    """A recipe from a checkpoint's quantisation config: fp8 (block-wise or per-tensor),
    compressed-tensors, AWQ, GPTQ, bitsandbytes, MXFP4, ModelOpt (what each stores is read
    in :mod:`roofline.specs.hf.quantization`)."""
    s = read_quantization(q)
    return Precision(weights=get_format(s.weights), activations=Dtype(s.activations),
                     kv_cache=get_format(s.kv_cache), label=s.label,
                     overrides={k: get_format(v) for k, v in s.overrides.items()})


def get_precision(spec: str | Precision | Mapping[str, Any] | None,
                  model_quantization: Mapping[str, Any] | None = None) -> Precision:
    """A recipe by name (:data:`RECIPES`), dict or object; ``"native"`` (or None) reads the
    model's own ``quantization_config`` and falls back to bf16."""
    if isinstance(spec, Precision):
        return spec
    if isinstance(spec, Mapping):
        data = dict(spec)
        data["weights"] = get_format(data.get("weights", "bf16"))
        data["kv_cache"] = get_format(data.get("kv_cache", "bf16"))
        overrides = data.get("overrides", {})
        if not isinstance(overrides, Mapping):
            raise SpecError([Problem("expected a mapping of component to format",
                                     field="precision.overrides")])
        data["overrides"] = {k: get_format(v) for k, v in overrides.items()}
        return validate(Precision, data, "<precision>")
    if spec is not None and not isinstance(spec, str):
        raise SpecError([Problem(f"must be a recipe name ({', '.join(RECIPES)}, 'native'), a "
                                 f"dict or a Precision, got {type(spec).__name__}",
                                 field="precision")])
    if spec is None or spec == "native":
        return from_quantization_config(model_quantization) if model_quantization else RECIPES[
            "bf16"]
    key = str(spec).lower()
    if key not in RECIPES:
        raise SpecError([Problem(f"unknown precision {spec!r}; use one of "
                                 f"{', '.join(RECIPES)}, 'native', or a dict", field="precision")])
    return RECIPES[key]
