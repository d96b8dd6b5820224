"""Hugging Face ``config.json`` -> :class:`ModelSpec`, one small mapper per model family.

Family knowledge (which biases, norms and layer patterns a family has) lives here as data
and per-family functions, never as special cases in the engine. Local files only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from roofline.errors import Problem, SpecError
from roofline.specs.loading import load_json, validate
from roofline.specs.model import ModelSpec

Config = Mapping[str, Any]


class _Reader:
    """Reads fields of one config.json, reporting missing or mistyped ones as SpecError."""

    def __init__(self, cfg: Config, source: str) -> None:
        self.cfg, self.source = cfg, source

    def req(self, *names: str) -> Any:
        for n in names:
            if self.cfg.get(n) is not None:
                return self.cfg[n]
        raise SpecError([Problem(f"required for model_type {self.cfg.get('model_type')!r} but "
                                 "missing", self.source, " or ".join(names))])

    def opt(self, name: str, default: Any = None) -> Any:
        v = self.cfg.get(name)
        return default if v is None else v

    def whole(self, value: Any, *names: str) -> int:
        """``value`` (read from ``names``) when it is a whole number: for fields the mapper
        does arithmetic on before validation."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SpecError([Problem(f"expected a whole number, got {value!r:.40}", self.source,
                                 " or ".join(names))])


def _common(r: _Reader, *, tied: bool) -> dict[str, Any]:
    return {
        "model_type": r.req("model_type"),
        "hidden_size": r.req("hidden_size"),
        "num_hidden_layers": r.req("num_hidden_layers"),
        "vocab_size": r.req("vocab_size"),
        "max_position_embeddings": r.opt("max_position_embeddings"),
        "tie_word_embeddings": r.opt("tie_word_embeddings", tied),
    }


def _attention(r: _Reader, **extra: Any) -> dict[str, Any]:
    a = {
        "num_attention_heads": r.req("num_attention_heads"),
        "num_key_value_heads": r.opt("num_key_value_heads"),
        "head_dim": r.opt("head_dim"),
        "attention_bias": r.opt("attention_bias", False),
    }
    a.update(extra)
    return a


def _mlp(r: _Reader, **extra: Any) -> dict[str, Any]:
    m = {"intermediate_size": r.req("intermediate_size"), "hidden_act": r.opt("hidden_act", "silu"),
         "gated": True, "mlp_bias": r.opt("mlp_bias", False)}
    m.update(extra)
    return m


def _sliding(r: _Reader) -> int | None:
    """The window when the config enables one (Qwen ships a window with use_sliding_window off)."""
    if not r.opt("use_sliding_window", True):
        return None
    return r.opt("sliding_window")


def _llama(r: _Reader) -> dict[str, Any]:
    return {**_common(r, tied=False), "attention": _attention(r), "mlp": _mlp(r)}


def _mistral(r: _Reader) -> dict[str, Any]:
    return {**_common(r, tied=False), "attention": _attention(r, sliding_window=_sliding(r)),
            "mlp": _mlp(r)}


def _mixtral(r: _Reader) -> dict[str, Any]:
    return {**_common(r, tied=False), "attention": _attention(r, sliding_window=_sliding(r)),
            "moe": {"num_experts": r.req("num_local_experts"),
                    "num_experts_per_tok": r.req("num_experts_per_tok"),
                    "moe_intermediate_size": r.req("intermediate_size")}}


def _qwen2(r: _Reader) -> dict[str, Any]:
    # Qwen2 puts biases on q, k, v but not on o (modeling_qwen2.py).
    return {**_common(r, tied=False),
            "attention": _attention(r, attention_bias=True, attention_out_bias=False,
                                    sliding_window=_sliding(r)),
            "mlp": _mlp(r)}


def _qwen3(r: _Reader) -> dict[str, Any]:
    return {**_common(r, tied=False),
            "attention": _attention(r, qk_norm=True, sliding_window=_sliding(r)), "mlp": _mlp(r)}


def _qwen3_moe(r: _Reader) -> dict[str, Any]:
    if r.opt("mlp_only_layers"):
        raise SpecError([Problem("mlp_only_layers is not supported; use a model YAML with "
                                 "moe.first_k_dense_replace", r.source, "mlp_only_layers")])
    step = r.whole(r.opt("decoder_sparse_step", 1), "decoder_sparse_step")
    return {**_qwen3(r),
            "moe": {"num_experts": r.req("num_experts"),
                    "num_experts_per_tok": r.req("num_experts_per_tok"),
                    "moe_intermediate_size": r.req("moe_intermediate_size"),
                    "moe_layer_freq": step, "moe_layer_offset": step - 1}}


def _deepseek_v3(r: _Reader) -> dict[str, Any]:
    q_lora = r.opt("q_lora_rank")
    return {
        **_common(r, tied=False),
        "attention": {"num_attention_heads": r.req("num_attention_heads"),
                      "attention_bias": r.opt("attention_bias", False)},
        "mla": {"q_lora_rank": q_lora, "kv_lora_rank": r.req("kv_lora_rank"),
                "qk_nope_head_dim": r.req("qk_nope_head_dim"),
                "qk_rope_head_dim": r.req("qk_rope_head_dim"),
                "v_head_dim": r.req("v_head_dim")},
        "mlp": _mlp(r),
        "moe": {"num_experts": r.req("n_routed_experts"),
                "num_experts_per_tok": r.req("num_experts_per_tok"),
                "moe_intermediate_size": r.req("moe_intermediate_size"),
                "n_shared_experts": r.opt("n_shared_experts", 0),
                "first_k_dense_replace": r.opt("first_k_dense_replace", 0),
                "moe_layer_freq": r.opt("moe_layer_freq", 1),
                # noaux_tc routing adds e_score_correction_bias (DeepSeek-V3 section 2.1.2)
                "router_bias": r.opt("topk_method") == "noaux_tc"},
        "num_nextn_predict_layers": r.opt("num_nextn_predict_layers", 0),
    }


def _gemma2(r: _Reader) -> dict[str, Any]:
    # Gemma 2: even layers use the sliding window, odd layers are global; four norms per
    # layer (pre/post attention, pre/post FFN); embeddings tied (modeling_gemma2.py).
    return {**_common(r, tied=True), "norms_per_layer": 4,
            "layer_types": ["sliding_attention", "full_attention"],
            "attention": _attention(r, sliding_window=r.req("sliding_window")),
            "mlp": _mlp(r, hidden_act=r.opt("hidden_activation", r.opt("hidden_act", "gelu")))}


def _gpt_oss(r: _Reader) -> dict[str, Any]:
    types = r.opt("layer_types") or ["sliding_attention", "full_attention"]
    return {**_common(r, tied=False), "layer_types": types,
            "attention": _attention(r, attention_bias=True, sinks=True,
                                    sliding_window=r.req("sliding_window")),
            "moe": {"num_experts": r.req("num_local_experts"),
                    "num_experts_per_tok": r.req("num_experts_per_tok", "experts_per_token"),
                    "moe_intermediate_size": r.req("intermediate_size"),
                    "router_bias": True, "expert_bias": True},
            "quantization": r.opt("quantization_config")}


def _gpt2(r: _Reader) -> dict[str, Any]:
    h = r.whole(r.req("n_embd", "hidden_size"), "n_embd", "hidden_size")
    return {"model_type": "gpt2", "hidden_size": h,
            "num_hidden_layers": r.req("n_layer", "num_hidden_layers"),
            "vocab_size": r.req("vocab_size"),
            "max_position_embeddings": r.req("n_positions", "max_position_embeddings"),
            "tie_word_embeddings": True, "position_embedding": "learned", "norm": "layernorm",
            "attention": {"num_attention_heads": r.req("n_head", "num_attention_heads"),
                          "attention_bias": True},
            "mlp": {"intermediate_size": r.opt("n_inner") or 4 * h, "gated": False,
                    "hidden_act": r.opt("activation_function", "gelu_new"), "mlp_bias": True}}


def _mamba(r: _Reader) -> dict[str, Any]:
    rank = r.opt("time_step_rank", "auto")  # "auto": ceil(h / 16), computed by the engine
    return {**_common(r, tied=True), "position_embedding": "none", "norms_per_layer": 1,
            "layer_types": ["mamba"],
            "ssm": {"version": 1, "state_size": r.req("state_size"),
                    "conv_kernel": r.opt("conv_kernel", 4), "expand": r.opt("expand", 2),
                    "time_step_rank": None if rank == "auto" else rank,
                    "use_bias": r.opt("use_bias", False),
                    "use_conv_bias": r.opt("use_conv_bias", True)}}


#: model_type -> mapper. One entry per supported family.
MAPPERS: dict[str, Callable[[_Reader], dict[str, Any]]] = {
    "llama": _llama, "mistral": _mistral, "mixtral": _mixtral, "qwen2": _qwen2,
    "qwen3": _qwen3, "qwen3_moe": _qwen3_moe, "deepseek_v3": _deepseek_v3,
    "kimi_k2": _deepseek_v3, "gemma2": _gemma2, "gpt_oss": _gpt_oss, "gpt2": _gpt2,
    "mamba": _mamba,
}


def _name_for(cfg: Config, fallback: str) -> str:
    raw = str(cfg.get("_name_or_path") or fallback).rstrip("/").split("/")[-1]
    name = re.sub(r"[^a-z0-9._-]+", "-", raw.lower()).strip("-._")
    return name or "hf-model"


def from_hf_config(config: str | Path | Config, *, name: str | None = None) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face ``config.json`` (a path or a dict).

    Supported ``model_type`` values are the keys of :data:`MAPPERS`. Keys starting with
    ``_`` are ignored. Reads local files only.
    """
    if isinstance(config, str | Path):
        source = str(config)
        cfg = load_json(config)
        fallback = Path(config).parent.name if Path(config).name == "config.json" else Path(
            config).stem
    else:
        source, cfg, fallback = "<config.json dict>", config, "hf-model"
    if not isinstance(cfg, Mapping):
        raise SpecError("expected a JSON object", source=source)
    text = cfg.get("text_config")
    if "text_config" in cfg and not (isinstance(text, Mapping) and "model_type" in text):
        raise SpecError("multimodal configs are not supported; pass the text model's config",
                        source=source)
    family = cfg.get("model_type")
    if not isinstance(family, str) or family not in MAPPERS:
        raise SpecError([Problem(f"unsupported model_type {family!r}; supported: "
                                 f"{', '.join(sorted(MAPPERS))}. Write a model YAML instead "
                                 "(docs/specs.md).", source, "model_type")])
    data = MAPPERS[family](_Reader(cfg, source))
    data = {k: v for k, v in data.items() if v is not None}
    data["name"] = name or _name_for(cfg, fallback)
    data["sources"] = [{"title": f"Hugging Face config.json ({source})"}]
    return validate(ModelSpec, data, source)
