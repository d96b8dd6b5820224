"""Builders for families whose layers are not all alike: state-space models, hybrids of
attention with Mamba or linear attention, and per-layer searched (NAS) blocks.

Linear attention (Qwen3-Next's Gated DeltaNet, MiniMax's Lightning Attention) is mapped onto
the Mamba-2 mixer the engine models: both keep a per-head (key dim x value dim) state,
read and written once per token, with in/out projections of the same shapes; the few
differing small tensors are listed in each family's notes.
"""

from __future__ import annotations

from typing import Any

from roofline.specs.hf.blocks import Family, attention, common, decoder, mla, mlp, moe
from roofline.specs.hf.reader import Reader, pattern


def mamba(r: Reader, fam: Family) -> dict[str, Any]:
    """Mamba-1 (Gu & Dao 2023), HF ``MambaForCausalLM``."""
    data = common(r, fam)
    rank = r.get("time_step_rank", "auto")  # "auto": ceil(h / 16), computed by the engine
    data.update(layer_types=["mamba"], ssm={
        "version": 1, "state_size": r.req("state_size"), "conv_kernel": r.get("conv_kernel", 4),
        "expand": r.get("expand", 2), "time_step_rank": None if rank == "auto" else rank,
        "use_bias": r.flag("use_bias", False), "use_conv_bias": r.flag("use_conv_bias", True)})
    return data


def _mamba2_block(r: Reader, prefix: str = "") -> dict[str, Any]:
    """Mamba-2 (Dao & Gu 2024) mixer fields; Nemotron-H prefixes some with ``mamba_``."""
    heads, head_dim = r.get(prefix + "num_heads"), r.get(prefix + "head_dim", 64)
    h = r.whole("hidden_size")
    expand = r.get("expand", 2)
    if isinstance(heads, int) and isinstance(head_dim, int) and heads * head_dim != expand * h:
        expand = heads * head_dim / h
    return {"version": 2, "state_size": r.req("ssm_state_size" if r.has("ssm_state_size")
                                              else "state_size"),
            "conv_kernel": r.get("conv_kernel", 4), "expand": expand,
            "n_groups": r.get("n_groups", 1), "head_dim": head_dim,
            "use_bias": r.flag("use_bias", False), "use_conv_bias": r.flag("use_conv_bias", True)}


def mamba2(r: Reader, fam: Family) -> dict[str, Any]:
    """Mamba-2, HF ``Mamba2ForCausalLM`` (Mamba-Codestral)."""
    data = common(r, fam)
    data.update(layer_types=["mamba"], ssm=_mamba2_block(r))
    return data


def jamba(r: Reader, fam: Family) -> dict[str, Any]:
    """Jamba (arXiv 2403.19887): attention every ``attn_layer_period`` layers (at the
    offset), MoE every ``expert_layer_period``; Mamba-1 mixers with dt/B/C norms."""
    data = common(r, fam)
    L = data["num_hidden_layers"]
    ap, ao = r.whole("attn_layer_period", 8), r.whole("attn_layer_offset", 4)
    if ap < 1:
        raise r.error("expected a whole number >= 1", "attn_layer_period")
    data["layer_types"] = pattern(["full_attention" if i % ap == ao else "mamba"
                                   for i in range(L)])
    data["attention"] = attention(r, fam)
    data["mlp"] = mlp(r, fam)
    data["moe"] = moe(r, fam)
    data["ssm"] = {"version": 1, "state_size": r.get("mamba_d_state", 16),
                   "conv_kernel": r.get("mamba_d_conv", 4), "expand": r.get("mamba_expand", 2),
                   "time_step_rank": r.get("mamba_dt_rank"),
                   "use_bias": r.flag("mamba_proj_bias", False),
                   "use_conv_bias": r.flag("mamba_conv_bias", True), "inner_layernorms": True}
    return data


_BLOCKS = {"mamba": "M", "attention": "*", "mlp": "-", "moe": "E"}


def _nemotron_blocks(r: Reader) -> str:
    """The block string: ``hybrid_override_pattern``, or Nemotron 3.5's
    ``layers_block_type`` list (mamba / attention / mlp / moe) spelt the same way."""
    listed = r.cfg.get("layers_block_type")
    if r.cfg.get("hybrid_override_pattern") is None and isinstance(listed, list):
        bad = [b for b in listed if b not in _BLOCKS]
        if bad or not listed:
            raise r.error(f"unknown block type {bad[0] if bad else None!r}; known: "
                          f"{', '.join(_BLOCKS)}", "layers_block_type")
        return "".join(_BLOCKS[b] for b in listed)
    text = r.req("hybrid_override_pattern")
    if not isinstance(text, str) or not text or set(text) - set("M*-E"):
        raise r.error("expected a string of M, *, - and E", "hybrid_override_pattern")
    return text


def _latent_moe(r: Reader, data: dict[str, Any]) -> None:
    """LatentMoE (Nemotron 3 Super / Ultra): routed experts work in ``moe_latent_size``
    (h -> latent down-projection, experts latent -> width -> latent, latent -> h up), all
    of it squared-ReLU, not gated. Folded into the engine's MoE exactly for parameters and
    FLOPs: expert width x latent / h, and the two h x latent projections every token
    passes through as that much more shared-expert width."""
    latent = r.get("moe_latent_size")
    if latent is None:
        return
    h, m = data["hidden_size"], data["moe"]
    if not isinstance(latent, int) or isinstance(latent, bool) or not 0 < latent <= h:
        raise r.error(f"expected a whole number in 1..hidden_size ({h}), got {latent!r:.40}",
                      "moe_latent_size")
    width = m["moe_intermediate_size"] * latent / h
    if width != int(width):
        raise r.error(f"moe_intermediate_size x moe_latent_size / hidden_size is "
                      f"{width:g}, not whole: not expressible", "moe_latent_size")
    m["moe_intermediate_size"] = int(width)
    shared = m["shared_expert_intermediate_size"] or m["n_shared_experts"] * width
    m["shared_expert_intermediate_size"] = int(shared) + latent
    m["n_shared_experts"] = max(m["n_shared_experts"], 1)
    r.notes.append(f"LatentMoE: experts at latent {latent} folded into expert width "
                   f"{int(width)} and {latent} more shared width (exact parameters and "
                   "FLOPs; expert-parallel all-to-all is costed at hidden_size, not latent)")


def nemotron_h(r: Reader, fam: Family) -> dict[str, Any]:
    """Nemotron-H (arXiv 2504.03624): ``hybrid_override_pattern`` lists one block per
    character: M Mamba-2, * attention, - MLP, E MoE. Each mixer block and the FFN block
    that follows it are one roofline layer (a mixer followed by another mixer has no FFN)."""
    text = _nemotron_blocks(r)
    if r.cfg.get("num_hidden_layers") is None:  # Nemotron 3 Ultra names only its blocks
        r.cfg = {**r.cfg, "num_hidden_layers": len(text)}
    mixers: list[str] = []
    ffns: list[str] = []
    for c in text:
        if c in "M*":
            mixers.append("mamba" if c == "M" else "full_attention")
            ffns.append("none")
        elif not mixers or ffns[-1] != "none":
            raise r.error("an MLP block that does not follow a mixer block is not "
                          "expressible", "hybrid_override_pattern")
        else:
            ffns[-1] = "dense" if c == "-" else "moe"
    data = common(r, fam)
    data.update(num_hidden_layers=len(mixers), layer_types=pattern(mixers))
    data["ffn_types"] = pattern(ffns)
    data["attention"] = attention(r, fam)
    data["mlp"] = mlp(r, fam)
    data["mlp"]["hidden_act"] = r.get("mlp_hidden_act", "relu2")
    if "moe" in ffns:
        data["moe"] = moe(r, fam)
        _latent_moe(r, data)
    data["ssm"] = _mamba2_block(r, "mamba_")
    return data


def qwen3_next(r: Reader, fam: Family) -> dict[str, Any]:
    """Qwen3-Next: 3 Gated DeltaNet (linear attention) layers then one gated full-attention
    layer (``full_attention_interval``); high-sparsity MoE with a shared expert."""
    data = decoder(r, fam)
    L = data["num_hidden_layers"]
    if "layer_types" not in data:
        n = r.whole("full_attention_interval", 4)
        data["layer_types"] = pattern(["full_attention" if (i + 1) % max(n, 1) == 0
                                       else "mamba" for i in range(L)])
    data["attention"]["sliding_window"] = None
    h = data["hidden_size"]
    kh, vh = r.whole("linear_num_key_heads"), r.whole("linear_num_value_heads")
    kd, vd = r.whole("linear_key_head_dim"), r.whole("linear_value_head_dim")
    data["ssm"] = {"version": 2, "state_size": kd, "n_groups": kh, "head_dim": vd,
                   "expand": vh * vd / h, "conv_kernel": r.get("linear_conv_kernel_dim", 4),
                   "use_bias": False, "use_conv_bias": False}
    return data


def minimax(r: Reader, fam: Family) -> dict[str, Any]:
    """MiniMax-01 (arXiv 2501.08313): 7 Lightning (linear) attention layers per softmax
    layer (``attn_type_list``: 0 linear, 1 softmax), MoE FFN on every layer."""
    data = decoder(r, fam)
    kinds = r.int_list("attn_type_list")
    if kinds and len(kinds) == data["num_hidden_layers"]:
        data["layer_types"] = pattern(["full_attention" if k else "mamba" for k in kinds])
    elif "layer_types" not in data:
        raise r.error("hybrid layers need attn_type_list or layer_types", "attn_type_list")
    heads, d = r.whole("num_attention_heads"), r.whole("head_dim")
    data["ssm"] = {"version": 2, "state_size": d, "n_groups": heads, "head_dim": d,
                   "expand": heads * d / data["hidden_size"], "conv_kernel": 1,
                   "use_bias": False, "use_conv_bias": False}
    return data


def _nas_width(mult: float, h: int) -> int:
    """DeciLM's FFN width from ``ffn_mult``: 2/3 x mult x h rounded up to 256
    (transformers ``_ffn_mult_to_intermediate_size``)."""
    n = int(2 * mult * h / 3)
    return n + (-n % 256)


def nemotron_nas(r: Reader, fam: Family) -> dict[str, Any]:
    """Llama-Nemotron (DeciLM NAS, arXiv 2505.00949): ``block_configs`` give each layer its
    own attention (kv-head group, or none) and FFN width (or none). The engine's layers are
    alike, so this maps to the attention layers only, each with the mean FFN width: total
    and active parameters, FLOPs per token and the KV cache stay exact; per-layer memory
    and pipeline balance are averaged."""
    blocks = r.req("block_configs")
    h, heads = r.whole("hidden_size"), r.whole("num_attention_heads")
    if not isinstance(blocks, list) or not blocks or not all(isinstance(b, dict) for b in blocks):
        raise r.error("expected a list of per-layer blocks", "block_configs")
    kv: list[int] = []
    ff: list[int] = []
    for i, b in enumerate(blocks):
        a, f = b.get("attention") or {}, b.get("ffn") or {}
        if not isinstance(a, dict) or not isinstance(f, dict):
            raise r.error("expected attention and ffn mappings", f"block_configs.{i}")
        if not a.get("no_op") and not a.get("replace_with_linear"):
            group = a.get("n_heads_in_group")
            if not isinstance(group, int) or group < 1 or heads % group:
                raise r.error(f"expected a divisor of {heads}", f"block_configs.{i}.attention"
                              ".n_heads_in_group")
            kv.append(heads // group)
        if not f.get("no_op") and not f.get("replace_with_linear"):
            mult = f.get("ffn_mult")
            if not isinstance(mult, int | float) or isinstance(mult, bool) or not 0 < mult < 1e4:
                raise r.error("expected a positive number", f"block_configs.{i}.ffn.ffn_mult")
            ff.append(_nas_width(mult, h))
    if not kv or not ff:
        raise r.error("no attention or no FFN layer", "block_configs")
    data = common(r, fam)
    data["num_hidden_layers"] = len(kv)
    data["attention"] = attention(r, fam)
    mean_kv = sum(kv) / len(kv)  # the nearest divisor of the head count
    data["attention"]["num_key_value_heads"] = min(
        (k for k in range(1, heads + 1) if heads % k == 0), key=lambda k: abs(k - mean_kv))
    data["mlp"] = {"intermediate_size": round(sum(ff) / len(kv)), "gated": True,
                   "hidden_act": r.get("hidden_act", "silu"), "mlp_bias": r.flag("mlp_bias", False)}
    r.notes.append(f"block_configs: {len(blocks)} blocks -> {len(kv)} attention layers, "
                      f"{len(ff)} FFNs folded in at a mean width of "
                      f"{data['mlp']['intermediate_size']}; kv heads per layer "
                      f"{sorted(set(kv))} -> {data['attention']['num_key_value_heads']}")
    return data


def falcon(r: Reader, fam: Family) -> dict[str, Any]:
    """Falcon: 7B has one K/V head and one LayerNorm before parallel attention and MLP;
    the new decoder architecture (40B, 180B) has ``num_kv_heads`` groups and two norms."""
    data = decoder(r, fam)
    new = r.flag("new_decoder_architecture", False)
    parallel = r.flag("parallel_attn", True)
    heads = data["attention"]["num_attention_heads"]
    if new:
        data["attention"]["num_key_value_heads"] = r.get("num_kv_heads", heads)
    else:
        data["attention"]["num_key_value_heads"] = 1 if r.flag("multi_query", True) else heads
    data.update(parallel_attention_mlp=parallel, norms_per_layer=2 if new or not parallel else 1,
                position_embedding="alibi" if r.flag("alibi", False) else "rope")
    return data


BUILDERS = {"decoder": decoder, "mla": mla, "mamba": mamba, "mamba2": mamba2, "jamba": jamba,
            "nemotron_h": nemotron_h, "qwen3_next": qwen3_next, "minimax": minimax,
            "nemotron_nas": nemotron_nas, "falcon": falcon}
