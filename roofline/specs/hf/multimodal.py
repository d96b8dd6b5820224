"""Multimodal checkpoints: the text model's config, and the vision / audio towers counted
apart (reported with the model, not costed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roofline.specs.hf.reader import Config

#: Tower config keys of multimodal checkpoints, and their modality.
TOWERS = {"vision_config": "vision", "audio_config": "audio", "vision_tower_config": "vision"}

#: Fields a multimodal wrapper keeps at its top level that are not the text model's.
_WRAPPER = {"vision_config", "audio_config", "vision_tower_config", "text_config",
            "architectures", "model_type", "quantization_config"}


def _num(c: Mapping[str, Any], *keys: str) -> int | None:
    for k in keys:
        v = c.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
    return None


def tower_params(c: Mapping[str, Any], text_hidden: int) -> int | None:
    """A ViT / Whisper-style encoder's parameters (Dosovitskiy et al. 2021; Radford et al.
    2022): per layer q, k, v, o with biases, a two-matrix MLP with biases (three matrices
    when the tower is gated, as Qwen2.5-VL's), two LayerNorms; the patch embedding, learned
    positions and a projector from the tower's output width to the text width."""
    d = _num(c, "hidden_size", "embed_dim", "d_model", "width")
    L = _num(c, "num_hidden_layers", "depth", "encoder_layers", "num_layers")
    if not d or not L:
        return None
    ff = _num(c, "intermediate_size", "encoder_ffn_dim") or int(4 * d)
    gated = str(c.get("hidden_act", "")).lower() in ("silu", "swiglu")
    layer = 4 * d * d + 4 * d + (3 if gated else 2) * d * ff + ff + d + 4 * d
    patch, ch = _num(c, "patch_size") or 14, _num(c, "num_channels", "in_channels") or 3
    image = _num(c, "image_size")
    positions = (image // patch) ** 2 * d if image else 0
    out = _num(c, "out_hidden_size", "projector_output_dim", "vision_output_dim") or d
    projector = out * text_hidden + d * out if out != d else d * text_hidden
    return L * layer + ch * patch * patch * d + positions + 2 * d + projector


def split(cfg: Config) -> tuple[Config, list[tuple[str, str, Mapping[str, Any]]]]:
    """The text model's config (``text_config``, else the top level without the towers)
    and each tower (name, modality, config)."""
    towers = [(k.removesuffix("_config"), m, cfg[k]) for k, m in TOWERS.items()
              if isinstance(cfg.get(k), Mapping)]
    text = cfg.get("text_config")
    if isinstance(text, Mapping):
        merged = dict(text)
        for k in ("quantization_config", "tie_word_embeddings"):
            if k in cfg and k not in merged:
                merged[k] = cfg[k]
        return merged, towers
    return {k: v for k, v in cfg.items() if k not in _WRAPPER or k in (
        "model_type", "quantization_config")}, towers
