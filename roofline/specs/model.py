"""Model architecture spec (``models/*.yaml``); field names follow HF ``config.json``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from roofline.specs.common import Name, Source, Strict
from roofline.specs.memo import per_spec
from roofline.specs.units import Count

if TYPE_CHECKING:
    from roofline.specs.params import ParamCount

Mixer = Literal["full_attention", "sliding_attention", "mamba"]
Ffn = Literal["dense", "moe", "none"]

# Upper bounds on shape fields, far past any real model, so every count and FLOP figure
# stays a finite float64 (a 10**300 width is a typo, not a model).
MAX_WIDTH = 10_000_000      # FFN and expert widths, MLA ranks
MAX_TOKENS = 1_000_000_000  # context lengths and attention windows


class Attention(Strict):
    """Multi-head attention (MHA: kv = heads; GQA: 1 < kv < heads; MQA: kv = 1)."""

    num_attention_heads: int = Field(ge=1, le=4096)
    num_key_value_heads: int | None = Field(default=None, ge=1, le=4096)
    head_dim: int | None = Field(default=None, ge=1, le=4096)
    attention_bias: bool = False
    attention_out_bias: bool | None = None
    qk_norm: bool = False
    sliding_window: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    sinks: bool = False
    #: Gated attention (Qiu et al. 2025, arXiv 2505.06708; Qwen3-Next, Qwen3.5): q_proj
    #: also emits a per-head sigmoid gate on the attention output, one more h x q matrix.
    output_gate: bool = False

    @property
    def kv_heads(self) -> int:
        return self.num_key_value_heads or self.num_attention_heads

    @property
    def out_bias(self) -> bool:
        return self.attention_bias if self.attention_out_bias is None else self.attention_out_bias


class MLA(Strict):
    """DeepSeek-V2 multi-head latent attention (arXiv 2405.04434, section 2.1)."""

    q_lora_rank: int | None = Field(default=None, ge=1, le=MAX_WIDTH)
    kv_lora_rank: int = Field(ge=1, le=MAX_WIDTH)
    qk_nope_head_dim: int = Field(ge=1, le=4096)
    qk_rope_head_dim: int = Field(ge=0, le=4096)
    v_head_dim: int = Field(ge=1, le=4096)


class MLP(Strict):
    """Dense feed-forward block: gated (SwiGLU/GeGLU, 3 matrices) or plain (2)."""

    intermediate_size: int = Field(ge=1, le=MAX_WIDTH)
    hidden_act: str = "silu"
    gated: bool = True
    mlp_bias: bool = False


class MoE(Strict):
    """Mixture of experts replacing the MLP on some layers."""

    num_experts: int = Field(ge=1, le=100_000)
    num_experts_per_tok: int = Field(ge=1)
    moe_intermediate_size: int = Field(ge=1, le=MAX_WIDTH)
    n_shared_experts: int = Field(default=0, ge=0, le=1024)
    shared_expert_intermediate_size: int | None = Field(default=None, ge=1, le=MAX_WIDTH)
    gated: bool = True
    first_k_dense_replace: int = Field(default=0, ge=0, le=10_000)
    moe_layer_freq: int = Field(default=1, ge=1, le=10_000)
    moe_layer_offset: int = Field(default=0, ge=0, le=10_000)
    router_bias: bool = False
    expert_bias: bool = False

    @property
    def shared_intermediate(self) -> int:
        if self.shared_expert_intermediate_size is not None:
            return self.shared_expert_intermediate_size
        return self.n_shared_experts * self.moe_intermediate_size

    @model_validator(mode="after")
    def _k_le_e(self) -> MoE:
        if self.num_experts_per_tok > self.num_experts:
            raise ValueError(f"num_experts_per_tok ({self.num_experts_per_tok}) exceeds "
                             f"num_experts ({self.num_experts})")
        return self


class SSM(Strict):
    """Mamba (Gu & Dao 2023) or Mamba-2 (Dao & Gu 2024) selective state-space mixer."""

    version: Literal[1, 2] = 1
    state_size: int = Field(ge=1, le=4096)
    conv_kernel: int = Field(default=4, ge=1, le=1024)
    expand: float = Field(default=2, gt=0, le=64)
    time_step_rank: int | None = Field(default=None, ge=1, le=MAX_WIDTH)
    n_groups: int = Field(default=1, ge=1, le=4096)
    head_dim: int = Field(default=64, ge=1, le=4096)
    use_bias: bool = False
    use_conv_bias: bool = True
    inner_layernorms: bool = False


class Encoder(Strict):
    """A vision or audio tower of a multimodal checkpoint: counted and reported beside the
    text model, not costed (its FLOPs, memory and latency are not modelled)."""

    name: str = Field(min_length=1, max_length=80)
    modality: Literal["vision", "audio"]
    params: Count
    notes: str | None = None


class Published(Strict):
    """Official figures the engine's counts are checked against."""

    total_params: Count
    active_params: Count | None = None
    active_excludes_input_embedding: bool = Field(
        default=False, description="the source's active count leaves out the token embedding "
        "(DeepSeek's README_WEIGHTS does; Mistral's and Qwen's counts include it)")
    source: str = Field(min_length=3)


class Release(Strict):
    """When the model was first made public: its weights, API, announcement or paper,
    whichever came first as far as the source says (the source names which)."""

    date: dt.date = Field(description="first public release, YYYY-MM-DD")
    source: str = Field(min_length=3, description="where the date comes from")


class Training(Strict):
    """The pre-training run as its developers published it (for a rumoured model, as the
    rumour has it, saying so in ``source``)."""

    tokens: Count | None = Field(default=None, description="pre-training tokens")
    compute_flops: float | None = Field(
        default=None, gt=0, lt=1e32, description="published training compute, FLOPs "
        "(leave empty when not published: the engine estimates 6 x active params x tokens)")
    source: str = Field(min_length=3, description="where the figures come from")


class ModelSpec(Strict):
    """A decoder-only language model: dense, MoE, MLA, SSM or hybrid."""

    name: Name
    display_name: str | None = None
    aliases: list[Name] = Field(default_factory=list)
    model_type: str
    hidden_size: int = Field(ge=1, le=1_000_000)
    num_hidden_layers: int = Field(ge=1, le=10_000)
    vocab_size: int = Field(ge=1, le=100_000_000)
    max_position_embeddings: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    tie_word_embeddings: bool = False
    position_embedding: Literal["rope", "learned", "alibi", "none"] = "rope"
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    norms_per_layer: int = Field(default=2, ge=0, le=8)
    parallel_attention_mlp: bool = False
    layer_types: list[Mixer] | None = Field(
        default=None, description="pattern of mixers, repeated to num_hidden_layers")
    ffn_types: list[Ffn] | None = Field(
        default=None, description="pattern of feed-forward kinds, repeated to "
        "num_hidden_layers; overrides the moe layer rules (hybrids with FFN-less layers)")
    attention: Attention | None = None
    mla: MLA | None = None
    mlp: MLP | None = None
    moe: MoE | None = None
    ssm: SSM | None = None
    num_nextn_predict_layers: int = Field(default=0, ge=0, le=100)
    quantization: dict[str, Any] | None = None
    encoders: list[Encoder] = Field(default_factory=list)
    rumoured: bool = False
    published: Published | None = None
    release: Release | None = Field(default=None, description="first public release, sourced")
    training: Training | None = Field(default=None, description="pre-training tokens and "
                                      "compute, sourced")
    sources: list[Source] = Field(min_length=1)
    notes: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        L = self.num_hidden_layers
        if self.layer_types is not None:
            n = len(self.layer_types)
            if n == 0 or L % n:
                raise ValueError(f"layer_types has {n} entries; it must be a pattern whose "
                                 f"length divides num_hidden_layers ({L})")
        if self.ffn_types is not None and (not self.ffn_types or L % len(self.ffn_types)):
            raise ValueError(f"ffn_types has {len(self.ffn_types)} entries; it must be a "
                             f"pattern whose length divides num_hidden_layers ({L})")
        if self.ffn_types is not None and "moe" in self.ffn_types and self.moe is None:
            raise ValueError("ffn_types has moe layers but there is no `moe:` block")
        mixers = set(self.mixers())
        if mixers & {"full_attention", "sliding_attention"} and self.attention is None:
            raise ValueError("attention layers need an `attention:` block")
        if "sliding_attention" in mixers and self.attention and not self.attention.sliding_window:
            raise ValueError("sliding_attention layers need attention.sliding_window")
        if "mamba" in mixers and self.ssm is None:
            raise ValueError("mamba layers need an `ssm:` block")
        if self.attention is not None and self.mla is None:
            a = self.attention
            if a.num_attention_heads % a.kv_heads:
                raise ValueError(f"attention.num_attention_heads ({a.num_attention_heads}) must be "
                                 f"a multiple of num_key_value_heads ({a.kv_heads})")
            if a.head_dim is None and self.hidden_size % a.num_attention_heads:
                raise ValueError(f"hidden_size ({self.hidden_size}) is not divisible by "
                                 f"num_attention_heads ({a.num_attention_heads}); give head_dim")
        if self.mla is not None and self.attention is None:
            raise ValueError("mla needs an `attention:` block for num_attention_heads")
        if "dense" in self.ffns() and self.mlp is None:
            raise ValueError("some layers have a dense FFN (first_k_dense_replace or "
                             "moe_layer_freq) but there is no `mlp:` block")
        if (self.ssm is not None and self.ssm.version == 2
                and (self.ssm.expand * self.hidden_size) % self.ssm.head_dim):
            raise ValueError("ssm: expand x hidden_size must be a multiple of ssm.head_dim")
        return self

    @property
    def head_dim(self) -> int:
        """Per-head width of q and k (non-MLA attention)."""
        a = self.attention
        if a is None:
            raise ValueError(f"{self.name} has no attention")
        return a.head_dim or self.hidden_size // a.num_attention_heads

    def mixers(self) -> list[Mixer]:
        """The token mixer of every layer, in order."""
        if self.layer_types is not None:
            pattern = self.layer_types
        elif self.attention is None and self.ssm is not None:
            pattern = ["mamba"]
        elif self.attention is not None and self.attention.sliding_window:
            pattern = ["sliding_attention"]
        else:
            pattern = ["full_attention"]
        reps = self.num_hidden_layers // len(pattern)
        return list(pattern) * reps

    def ffns(self) -> list[Ffn]:
        """The feed-forward kind of every layer: dense MLP, MoE, or none (pure Mamba)."""
        if self.ffn_types is not None:
            return list(self.ffn_types) * (self.num_hidden_layers // len(self.ffn_types))
        out: list[Ffn] = []
        for i in range(self.num_hidden_layers):
            m = self.moe
            if m is not None and i >= max(m.first_k_dense_replace, m.moe_layer_offset) and (
                    (i - m.moe_layer_offset) % m.moe_layer_freq == 0):
                out.append("moe")
            else:
                out.append("dense" if self.mlp is not None or m is not None else "none")
        return out

    @per_spec
    def layer_counts(self) -> Mapping[tuple[Mixer, Ffn], int]:
        """How many layers have each (mixer, ffn) combination (computed once per spec)."""
        counts: dict[tuple[Mixer, Ffn], int] = {}
        for key in zip(self.mixers(), self.ffns(), strict=True):
            counts[key] = counts.get(key, 0) + 1
        return counts

    @property
    def is_moe(self) -> bool:
        return self.moe is not None

    @per_spec
    def params(self) -> ParamCount:
        """Parameter counts: total, active per token, embedding, and by component (computed
        once per spec)."""
        from roofline.specs.params import count_params

        return count_params(self)
