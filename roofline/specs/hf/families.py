"""The supported Hugging Face families, one declarative entry each (field aliases, defaults,
biases, norms, layer patterns), checked against the transformers modelling files.

To add a family: one :class:`Family` entry here (and a cited config.json fixture with its
published parameter count in tests/data/hf_configs); most decoder-only families need only
the flags that differ from Llama.
"""

from __future__ import annotations

from roofline.specs.hf.blocks import F, Family

_GPT = {"attention_bias": True}
_PLAIN_MLP = {"gated": False, "mlp_bias": True, "ff_mult": 4, "act": "gelu"}
_MIXTRAL_MOE = {"width": "intermediate_size"}
_QWEN_MOE = {"freq": "decoder_sparse_step", "offset": "freq-1"}
_DEEPSEEK_MOE = {"shared": F("n_shared_experts", 0)}
_QKV_BIAS = {"attention_bias": True, "attention_out_bias": False}

_ENTRIES: tuple[Family, ...] = (
    # --- Llama and close relatives (modeling_llama.py layout) ---------------------------
    Family("llama", aliases=("smollm3", "arcee"),
           hf_defaults={"hidden_size": 4096, "intermediate_size": 11008,  # LlamaConfig()
                        "num_hidden_layers": 32, "num_attention_heads": 32}),
    Family("mistral", aliases=("ministral", "ministral3")),
    Family("mixtral", moe=_MIXTRAL_MOE),
    Family("granite", tied=True, notes=("embedding/residual/logit multipliers are scalars",)),
    Family("granitemoe", tied=True, moe=_MIXTRAL_MOE),
    Family("minicpm", tied=True, moe=_MIXTRAL_MOE,
           notes=("scale_emb / scale_depth / dim_model_base are scalars",)),
    Family("internlm2", attn={"attention_bias": F("bias", False)},
           notes=("wqkv is one fused matrix: the same count as q, k, v",)),
    Family("internlm", attn={"attention_bias": F("bias", True)}),
    Family("baichuan", notes=("W_pack is fused q, k, v; Baichuan-13B's ALiBi has no "
                              "parameters",)),
    Family("orion", norm="layernorm"),
    Family("exaone", tied=False, fields={"hidden_act": ("activation_function",)}),
    Family("exaone4", norms_per_layer=2, attn={"qk_norm": True}, layers="every_nth_global",
           notes=("post-attention / post-FFN norms (2 a layer), per-head q/k norms",)),
    Family("mimo", attn={"attention_bias": F("attention_bias", True),
                         "attention_out_bias": False},
           notes=("MiMo's MTP layers (num_nextn_predict_layers) are counted apart, as "
                  "DeepSeek-V3's",)),
    Family("cohere", tied=True, norm="layernorm", norms_per_layer=1, parallel=True,
           attn={"qk_norm": F("use_qk_norm", False)},
           notes=("CohereLayerNorm has no bias: counted as LayerNorm (+h per norm)",)),
    Family("cohere2", tied=True, norm="layernorm", norms_per_layer=1, parallel=True,
           layers="every_nth_global"),
    Family("stablelm", norm="layernorm", parallel=F("use_parallel_residual", False),
           attn={"attention_bias": F("use_qkv_bias", False), "attention_out_bias": False}),
    # --- Qwen ------------------------------------------------------------------------
    Family("qwen2", attn=_QKV_BIAS, aliases=("qwen2_5", "seed_oss")),
    Family("qwen2_moe", attn=_QKV_BIAS, moe=_QWEN_MOE,
           notes=("the 1-wide shared_expert_gate (h per layer) is not counted",)),
    Family("qwen3", attn={"qk_norm": True}),
    Family("qwen3_moe", attn={"qk_norm": True}, moe=_QWEN_MOE),
    Family("qwen3_next", build="qwen3_next", moe=_QWEN_MOE,
           attn={"qk_norm": True, "output_gate": F("attn_output_gate", True)},
           layers="layer_types",
           notes=("Gated DeltaNet layers costed as Mamba-2 mixers of the same state "
                  "(heads x key dim x value dim) and projections (its b/a projections are "
                  "h x num_v_heads larger)",
                  "the shared_expert_gate (h per layer) is not counted")),
    Family("qwen", attn=_QKV_BIAS, mlp={"ff_divisor": 2},
           fields={"head_dim": ("kv_channels",)},
           notes=("Qwen (v1) stores twice the MLP width in intermediate_size",)),
    # --- Gemma -----------------------------------------------------------------------
    Family("gemma", tied=True, mlp={"act": "gelu"}),
    Family("gemma2", tied=True, norms_per_layer=4, mlp={"act": "gelu"}, layers="alternate"),
    Family("gemma3_text", tied=True, norms_per_layer=4, attn={"qk_norm": True},
           mlp={"act": "gelu"}, layers="every_nth_global"),
    # --- Phi -------------------------------------------------------------------------
    Family("phi", norm="layernorm", norms_per_layer=1, parallel=True, attn=_GPT,
           mlp=_PLAIN_MLP, aliases=("phi-msft",),
           fields={"num_key_value_heads": ("num_key_value_heads", "n_head_kv")},
           notes=("the LM head's bias (vocab) is not counted",)),
    Family("phi3", notes=("qkv_proj and gate_up_proj are fused: the same counts",)),
    Family("phimoe", norm="layernorm", attn={"attention_bias": F("attention_bias", True)},
           moe=_MIXTRAL_MOE, notes=("the LM head's bias (vocab) is not counted",)),
    # --- DeepSeek, Kimi, GLM ---------------------------------------------------------
    Family("deepseek", moe=_DEEPSEEK_MOE),
    Family("deepseek_v2", build="mla", moe=_DEEPSEEK_MOE),
    Family("deepseek_v3", build="mla", moe=_DEEPSEEK_MOE, aliases=("kimi_k2",)),
    Family("deepseek_v32", build="mla", moe=_DEEPSEEK_MOE,
           notes=("DeepSeek Sparse Attention: each query attends to index_topk tokens; "
                  "costed as full MLA attention (the KV cache is the full context either "
                  "way), so attention FLOPs at long context are an upper bound",
                  "the lightning indexer (~14M per layer, 0.13%) is not counted")),
    Family("glm_moe_dsa", build="mla", moe=_DEEPSEEK_MOE,
           notes=("GLM-5: DeepSeek-V3.2's MLA + sparse attention layout; costed as full MLA "
                  "attention (an upper bound on attention FLOPs at long context)",
                  "the lightning indexer is not counted")),
    Family("glm", attn=_QKV_BIAS),
    Family("glm4", norms_per_layer=4, attn=_QKV_BIAS,
           notes=("post-attention and post-MLP norms: 4 norms a layer",)),
    Family("glm4_moe", attn={**_QKV_BIAS, "qk_norm": F("use_qk_norm", False)},
           moe={**_DEEPSEEK_MOE, "router_bias": True},
           notes=("e_score_correction_bias on the router (noaux_tc, as DeepSeek-V3)",)),
    Family("chatglm", attn={"attention_bias": F("add_qkv_bias", False),
                            "attention_out_bias": F("add_bias_linear", False)},
           mlp={"mlp_bias": F("add_bias_linear", False)},
           fields={"vocab_size": ("padded_vocab_size", "vocab_size"),
                   "num_key_value_heads": ("multi_query_group_num",)}),
    # --- OLMo ------------------------------------------------------------------------
    Family("olmo", norm="layernorm",
           notes=("OLMo's LayerNorm has no parameters: counted as LayerNorm (+2h)",)),
    Family("olmo2", attn={"qk_norm": True},
           notes=("q/k norms span all heads (h + kv x d per layer) vs per-head in the "
                  "engine (2d): < 0.01% of parameters",)),
    Family("olmoe", attn={"qk_norm": True}, moe=_MIXTRAL_MOE),
    # --- GPT-2 lineage ---------------------------------------------------------------
    Family("gpt2", tied=True, position="learned", norm="layernorm", attn=_GPT,
           mlp={**_PLAIN_MLP, "act": "gelu_new"}),
    Family("gpt_bigcode", tied=True, position="learned", norm="layernorm",
           attn={**_GPT, "kv_heads": F("multi_query", True)}, mlp=_PLAIN_MLP),
    Family("gptj", norm="layernorm", norms_per_layer=1, parallel=True,
           attn={"attention_bias": False}, mlp=_PLAIN_MLP,
           notes=("the LM head's bias (vocab) is not counted",)),
    Family("gpt_neox", norm="layernorm", parallel=F("use_parallel_residual", True),
           attn={"attention_bias": F("attention_bias", True)}, mlp=_PLAIN_MLP),
    Family("falcon", build="falcon", tied=True, norm="layernorm",
           attn={"attention_bias": F("bias", False)},
           mlp={**_PLAIN_MLP, "mlp_bias": F("bias", False)}),
    Family("bloom", tied=True, position="alibi", norm="layernorm", attn=_GPT, mlp=_PLAIN_MLP,
           fields={"hidden_size": ("hidden_size", "n_embed")},
           notes=("the embedding LayerNorm (2h) is not counted",)),
    Family("opt", tied=True, position="learned", norm="layernorm", attn=_GPT,
           mlp={**_PLAIN_MLP, "act": "relu"}, position_offset=2),
    Family("starcoder2", tied=True, norm="layernorm",
           attn={"attention_bias": F("use_bias", True)},
           mlp={"gated": False, "mlp_bias": F("use_bias", True), "act": "gelu"}),
    # --- MoE families beyond DeepSeek ------------------------------------------------
    Family("dbrx", norm="layernorm", moe=_MIXTRAL_MOE, nested=("attn_config", "ffn_config"),
           fields={"num_key_value_heads": ("kv_n_heads",),
                   "intermediate_size": ("ffn_hidden_size",)},
           notes=("DBRX's LayerNorms have no bias: counted as LayerNorm (+h per norm)",)),
    Family("ernie4_5", tied=True, attn={"attention_bias": F("use_bias", False)}),
    Family("ernie4_5_moe", tied=True, attn={"attention_bias": F("use_bias", False)},
           moe={"freq": "moe_layer_interval", "first_dense": "moe_layer_start_index"}),
    Family("hunyuan_v1_moe", tied=True, aliases=("hunyuan",),
           attn={"qk_norm": F("use_qk_norm", False)},
           fields={"head_dim": ("head_dim", "attention_head_dim")},
           moe={"shared_width": "intermediate_size"},
           notes=("the shared MLP is intermediate_size wide (use_mixed_mlp_moe)",
                  "cross-layer attention (use_cla) is not modelled: with it on, the KV "
                  "cache is cla_share_factor times smaller than costed")),
    Family("minimax_m2", attn={"qk_norm": F("use_qk_norm", True)},
           moe={**_MIXTRAL_MOE, "router_bias": True},
           notes=("q/k norms span all heads (per-layer); counted per head",)),
    Family("minimax", build="minimax", moe=_MIXTRAL_MOE, aliases=("minimax_text_01",
                                                                   "minimax_m1"),
           notes=("Lightning Attention layers costed as Mamba-2 mixers of the same state "
                  "(heads x d x d) and q/k/v/gate/out projections",)),
    Family("gpt_oss", attn={"attention_bias": True, "sinks": True},
           moe={**_MIXTRAL_MOE, "router_bias": True, "expert_bias": True},
           layers="layer_types"),
    Family("llama4_text", attn={"qk_norm": False},
           moe={"width": "intermediate_size", "dense_width": "intermediate_size_mlp",
                "freq": "interleave_moe_layer_step", "offset": "freq-1", "shared": 1},
           layers="llama4",
           notes=("Llama 4's q/k L2 norms have no weights",
                  "chunked attention (attention_chunk_size) costed as a sliding window of "
                  "the chunk size on the RoPE layers")),
    # --- State-space models and hybrids ----------------------------------------------
    Family("mamba", build="mamba", tied=True, position="none", norms_per_layer=1),
    Family("mamba2", build="mamba2", position="none", norms_per_layer=1),
    Family("jamba", build="jamba", position="none",
           moe={"freq": "expert_layer_period", "offset": F("expert_layer_offset", 1),
                "width": "intermediate_size"}),
    Family("nemotron_h", build="nemotron_h", position="none",
           fields={"head_dim": ("head_dim", "attention_head_dim")},
           mlp={"gated": False},
           moe={"router_bias": True, "gated": False,
                "shared_width": "moe_shared_expert_intermediate_size"},
           notes=("one norm per block: counted as 2 per (mixer + FFN) layer",
                  "MoE experts are squared-ReLU up/down projections (not gated), as the "
                  "dense MLP")),
    Family("nemotron-nas", build="nemotron_nas", aliases=("deci", "nemotron_nas")),
)

#: model_type -> its family entry (aliases included).
FAMILIES: dict[str, Family] = {}
for _f in _ENTRIES:
    for _t in (_f.model_type, *_f.aliases):
        FAMILIES[_t] = _f

#: Multimodal wrappers: model_type -> the family of its text model when ``text_config``
#: does not name one (or when the text fields sit at the top level, as in Qwen2-VL).
MULTIMODAL: dict[str, str] = {
    "llava": "llama", "llava_next": "llama", "mistral3": "mistral", "gemma3": "gemma3_text",
    "llama4": "llama4_text", "qwen2_vl": "qwen2", "qwen2_5_vl": "qwen2", "phi3_v": "phi3",
    "idefics3": "llama", "qwen2_audio": "qwen2", "paligemma": "gemma",
    "qwen3_vl": "qwen3", "qwen3_vl_moe": "qwen3_moe", "qwen3_5": "qwen3_next",
    "qwen3_5_moe": "qwen3_next",
}
