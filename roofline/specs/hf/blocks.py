"""Shared builders: one config.json -> the plain dict of a :class:`ModelSpec`, block by block
(attention, MLA, MLP, MoE, SSM, layer patterns), driven by a family's :class:`Family` data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from roofline.specs.hf.reader import Reader, pattern


class F(NamedTuple):
    """A value read from config field ``key``, with the family's ``default`` when absent."""

    key: str
    default: Any


@dataclass(frozen=True)
class Family:
    """What one HF family's config.json means, as data (torchtitan-style flavours).

    ``attn`` / ``mlp`` / ``moe`` hold field values for those blocks: a literal, or an
    :class:`F` read from the config. ``fields`` adds family-specific aliases; ``layers``
    names a rule in :data:`LAYER_RULES`; ``build`` names a builder (default: a decoder);
    ``hf_defaults`` are the transformers config class defaults a multimodal wrapper's
    ``text_config`` may leave out;
    ``nested`` names sub-mappings read as top-level fields (DBRX's attn_config, ffn_config);
    ``position_offset`` adds rows to a learned position table (OPT keeps 2 spare rows).
    """

    model_type: str
    build: str = "decoder"
    tied: bool = False
    norm: str = "rmsnorm"
    norms_per_layer: int = 2
    position: str = "rope"
    parallel: bool | F = False
    attn: Mapping[str, Any] = field(default_factory=dict)
    mlp: Mapping[str, Any] = field(default_factory=dict)
    moe: Mapping[str, Any] = field(default_factory=dict)
    layers: str | None = None
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    hf_defaults: Mapping[str, Any] = field(default_factory=dict)
    nested: tuple[str, ...] = ()
    position_offset: int = 0


def value(r: Reader, v: Any) -> Any:
    """Resolve a family value: an :class:`F` reads the config, a literal is itself."""
    if isinstance(v, F):
        if isinstance(v.default, bool):
            return r.flag(v.key, v.default)
        return r.get(v.key, v.default)
    return v


def common(r: Reader, fam: Family) -> dict[str, Any]:
    return {
        "model_type": fam.model_type,
        "hidden_size": r.whole("hidden_size"),
        "num_hidden_layers": r.whole("num_hidden_layers"),
        "vocab_size": r.req("vocab_size"),
        "max_position_embeddings": _positions(r, fam),
        "tie_word_embeddings": r.flag("tie_word_embeddings", fam.tied),
        "position_embedding": fam.position, "norm": fam.norm,
        "norms_per_layer": fam.norms_per_layer,
        "parallel_attention_mlp": value(r, fam.parallel),
        "num_nextn_predict_layers": r.get("num_nextn_predict_layers"),
    }


def _positions(r: Reader, fam: Family) -> Any:
    n = r.get("max_position_embeddings")
    return n + fam.position_offset if isinstance(n, int) and fam.position_offset else n


def sliding_window(r: Reader) -> int | None:
    """The window when the config enables one (Qwen ships a window with use_sliding_window
    off); Gemma 3 and Cohere 2 give it as ``sliding_window`` too."""
    if not r.flag("use_sliding_window", True):
        return None
    w = r.get("sliding_window")
    return w if isinstance(w, int) and not isinstance(w, bool) and w > 0 else w or None


def attention(r: Reader, fam: Family) -> dict[str, Any]:
    a = fam.attn
    heads = r.req("num_attention_heads")
    kv = value(r, a["kv_heads"]) if "kv_heads" in a else r.get("num_key_value_heads")
    if isinstance(kv, bool):  # a multi_query flag: one K/V head (MQA) when set
        kv = 1 if kv else None
    return {
        "num_attention_heads": heads, "num_key_value_heads": kv,
        "head_dim": r.get("head_dim"),
        "attention_bias": value(r, a.get("attention_bias", F("attention_bias", False))),
        "attention_out_bias": value(r, a.get("attention_out_bias")),
        "qk_norm": value(r, a.get("qk_norm", False)),
        "sinks": a.get("sinks", False),
        "output_gate": value(r, a.get("output_gate", False)),
        "sliding_window": sliding_window(r),
    }


def mlp(r: Reader, fam: Family, key: str = "intermediate_size") -> dict[str, Any]:
    m = fam.mlp
    h = r.whole("hidden_size")
    ff = r.get(key) if key != "intermediate_size" or "ff_mult" not in m else r.get(
        key, m["ff_mult"] * h, why=f"{m['ff_mult']} x hidden_size")
    if ff is None:
        ff = r.req(key)
    if m.get("ff_divisor") and isinstance(ff, int):  # Qwen (v1) stores 2x the MLP width
        ff //= m["ff_divisor"]
    return {"intermediate_size": ff,
            "hidden_act": r.get("hidden_act", m.get("act", "silu")),
            "gated": value(r, m.get("gated", True)),
            "mlp_bias": value(r, m.get("mlp_bias", F("mlp_bias", False)))}


def moe(r: Reader, fam: Family) -> dict[str, Any]:
    """MoE block from the shared aliases plus the family's ``moe`` data (which key gives the
    expert width, the layer rule, router and expert biases)."""
    e = fam.moe
    width = r.get(e.get("width", "moe_intermediate_size"))
    if width is None:
        width = r.req("intermediate_size")
    step = r.get(e["freq"]) if "freq" in e else r.get("moe_layer_freq")
    offset = value(r, e.get("offset", 0))
    if e.get("offset") == "freq-1":  # Qwen2-MoE, Llama 4: MoE where (i + 1) % step == 0
        offset = (step or 1) - 1
    first = r.get(e.get("first_dense", "first_k_dense_replace"))
    return {
        "num_experts": r.req("num_experts"),
        "num_experts_per_tok": r.req("num_experts_per_tok"),
        "moe_intermediate_size": width,
        "n_shared_experts": value(r, e.get("shared", r.get("n_shared_experts", 0))),
        # Qwen3-Coder writes shared_expert_intermediate_size: 0 for "no shared expert"
        "shared_expert_intermediate_size": r.get(e.get("shared_width",
                                                       "shared_expert_intermediate_size"))
        or None,
        "first_k_dense_replace": first, "moe_layer_freq": step, "moe_layer_offset": offset,
        "router_bias": value(r, e.get("router_bias", False)),
        "expert_bias": value(r, e.get("expert_bias", False)),
        "gated": value(r, e.get("gated", True)),
    }


def is_moe(r: Reader, fam: Family) -> bool:
    n = r.get("num_experts")
    return bool(fam.moe) and isinstance(n, int) and n > 1


def decoder(r: Reader, fam: Family) -> dict[str, Any]:
    """Dense or MoE decoder-only transformer (llama and its many relatives)."""
    data = common(r, fam)
    data["attention"] = attention(r, fam)
    if is_moe(r, fam):
        data["moe"] = moe(r, fam)
        dense = fam.moe.get("dense_width", "intermediate_size")
        if data["moe"]["first_k_dense_replace"] or (data["moe"]["moe_layer_freq"] or 1) > 1 \
                or r.get("mlp_only_layers") or r.get("moe_layers"):
            data["mlp"] = mlp(r, fam, dense)
        ffn_list(r, data)
    else:
        data["mlp"] = mlp(r, fam)
    if fam.layers:
        LAYER_RULES[fam.layers](r, data)
    return data


def ffn_list(r: Reader, data: dict[str, Any]) -> None:
    """Explicit MoE layer lists: Qwen's ``mlp_only_layers`` (dense there) and Llama 4's
    ``moe_layers`` (MoE only there)."""
    L = data["num_hidden_layers"]
    dense_only, moe_only = r.int_list("mlp_only_layers"), r.int_list("moe_layers")
    if moe_only is not None:
        kinds = ["moe" if i in set(moe_only) else "dense" for i in range(L)]
    elif dense_only:
        kinds = ["dense" if i in set(dense_only) else "moe" for i in range(L)]
    else:
        return
    data["ffn_types"] = pattern(kinds)


def mla(r: Reader, fam: Family) -> dict[str, Any]:
    """DeepSeek-V2/V3 multi-head latent attention with DeepSeekMoE (arXiv 2405.04434)."""
    data = common(r, fam)
    data["attention"] = {"num_attention_heads": r.req("num_attention_heads"),
                         "attention_bias": r.flag("attention_bias", False)}
    data["mla"] = {"q_lora_rank": r.get("q_lora_rank"), "kv_lora_rank": r.req("kv_lora_rank"),
                   "qk_nope_head_dim": r.req("qk_nope_head_dim"),
                   "qk_rope_head_dim": r.req("qk_rope_head_dim"),
                   "v_head_dim": r.req("v_head_dim")}
    data["mlp"] = mlp(r, fam)
    if is_moe(r, fam):
        data["moe"] = moe(r, fam)
        # noaux_tc routing adds e_score_correction_bias (DeepSeek-V3 section 2.1.2)
        data["moe"]["router_bias"] = r.get("topk_method") == "noaux_tc"
    return data


# ---------------------------------------------------------------------------------------
# Layer patterns (which layers slide, chunk or are linear)
# ---------------------------------------------------------------------------------------

_TYPES = {"full_attention": "full_attention", "sliding_attention": "sliding_attention",
          "chunked_attention": "sliding_attention", "linear_attention": "mamba",
          "mamba": "mamba", "attention": "full_attention"}


def _layer_types(r: Reader, data: dict[str, Any]) -> bool:
    raw = r.cfg.get("layer_types")
    if not isinstance(raw, list) or len(raw) != data["num_hidden_layers"]:
        return False
    bad = [t for t in raw if t not in _TYPES]
    if bad:
        raise r.error(f"unknown layer type {bad[0]!r}; known: {', '.join(_TYPES)}",
                      "layer_types")
    data["layer_types"] = pattern([_TYPES[t] for t in raw])
    return True


def rule_layer_types(r: Reader, data: dict[str, Any]) -> None:
    """``layer_types`` as the config lists them (gpt-oss, Gemma 3, Qwen3-Next)."""
    _layer_types(r, data)


def rule_alternate(r: Reader, data: dict[str, Any]) -> None:
    """Gemma 2: even layers slide, odd layers are global (modeling_gemma2.py)."""
    if not _layer_types(r, data):
        data["layer_types"] = ["sliding_attention", "full_attention"]
    data["attention"]["sliding_window"] = r.req("sliding_window")


def rule_every_nth_global(r: Reader, data: dict[str, Any]) -> None:
    """Gemma 3 / Cohere 2 / EXAONE 4: N-1 sliding layers then one global
    (``sliding_window_pattern``), unless ``layer_types`` lists them."""
    data["attention"]["sliding_window"] = r.req("sliding_window")
    if _layer_types(r, data):
        return
    n = r.get("sliding_window_pattern", 6)
    if isinstance(n, str) and n and not set(n) - {"L", "G"}:  # EXAONE 4: "LLLG"
        full = [c == "G" for c in n]
    elif isinstance(n, int) and not isinstance(n, bool) and n >= 1:
        full = [i == n - 1 for i in range(n)]
    else:
        raise r.error(f"expected a whole number or a string of L and G, got {n!r:.40}",
                      "sliding_window_pattern")
    L = data["num_hidden_layers"]  # the pattern restarts every len(full) layers
    data["layer_types"] = pattern(["full_attention" if full[i % len(full)] else
                                   "sliding_attention" for i in range(L)])


def rule_llama4(r: Reader, data: dict[str, Any]) -> None:
    """Llama 4: RoPE layers attend within chunks of ``attention_chunk_size``; every 4th
    (NoPE) layer is global (``no_rope_layers``: 1 = RoPE/chunked, 0 = NoPE/global).
    Chunked attention is costed as a sliding window of the chunk size (the KV a chunk
    needs is at most one chunk; mean attended span chunk/2 vs window W)."""
    chunk = r.get("attention_chunk_size")
    if not chunk:
        return
    L = data["num_hidden_layers"]
    rope = r.int_list("no_rope_layers")
    if not rope or len(rope) != L:
        every = r.whole("no_rope_layer_interval", 4)
        rope = [int((i + 1) % every != 0) for i in range(L)]
    data["layer_types"] = pattern(["sliding_attention" if x else "full_attention"
                                   for x in rope])
    data["attention"]["sliding_window"] = chunk


LAYER_RULES = {"layer_types": rule_layer_types, "alternate": rule_alternate,
               "every_nth_global": rule_every_nth_global, "llama4": rule_llama4}
