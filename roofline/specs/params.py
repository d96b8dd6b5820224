"""Parameter counts from a :class:`ModelSpec`: total, active per token, and by component.

Each function counts one layer's block exactly as the reference implementations lay out
their weights (HF transformers modelling files); the sums give the model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the spec types only annotate here; ModelSpec.params() calls in
    from roofline.specs.model import MLA, SSM, Attention, ModelSpec, MoE


def norm_params(m: ModelSpec) -> int:
    """One norm over the hidden width: RMSNorm has a weight, LayerNorm a weight and a bias."""
    return m.hidden_size * (2 if m.norm == "layernorm" else 1)


def attention_params(h: int, a: Attention, head_dim: int) -> int:
    """q, k, v, o projections (MHA/GQA/MQA), their biases, q/k norms, sinks and the
    output gate (q_proj twice as wide)."""
    q = a.num_attention_heads * head_dim
    kv = a.kv_heads * head_dim
    n = h * q * (2 if a.output_gate else 1) + 2 * h * kv + q * h
    n += (q + 2 * kv) if a.attention_bias else 0
    n += h if a.out_bias else 0
    n += 2 * head_dim if a.qk_norm else 0
    n += a.num_attention_heads if a.sinks else 0
    return n


def mla_params(h: int, heads: int, mla: MLA) -> int:
    """Multi-head latent attention, DeepSeek-V2 (arXiv 2405.04434) eqs. 9-14, 37-47."""
    qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
    if mla.q_lora_rank:  # W^DQ, its RMSNorm, W^UQ and W^QR together
        q = h * mla.q_lora_rank + mla.q_lora_rank + mla.q_lora_rank * heads * qk
    else:
        q = h * heads * qk
    kv_down = h * (mla.kv_lora_rank + mla.qk_rope_head_dim) + mla.kv_lora_rank  # W^DKV, W^KR, norm
    kv_up = mla.kv_lora_rank * heads * (mla.qk_nope_head_dim + mla.v_head_dim)  # W^UK, W^UV
    o = heads * mla.v_head_dim * h
    return q + kv_down + kv_up + o


def ffn_params(h: int, ff: int, *, gated: bool, bias: bool) -> int:
    """A feed-forward block: gated (SwiGLU/GeGLU: gate, up, down) or plain (up, down)."""
    n_in = 2 if gated else 1
    return (n_in + 1) * h * ff + ((n_in * ff + h) if bias else 0)


def router_params(h: int, moe: MoE) -> int:
    """The MoE gate: one logit per routed expert (plus a bias where the model has one)."""
    return h * moe.num_experts + (moe.num_experts if moe.router_bias else 0)


def expert_params(h: int, moe: MoE) -> int:
    """One routed expert."""
    return ffn_params(h, moe.moe_intermediate_size, gated=moe.gated, bias=moe.expert_bias)


def shared_expert_params(h: int, moe: MoE) -> int:
    """All shared experts of one layer (always active)."""
    ff = moe.shared_intermediate
    return ffn_params(h, ff, gated=moe.gated, bias=moe.expert_bias) if ff else 0


def ssm_inner(h: int, ssm: SSM) -> int:
    """Mamba's inner width d_inner = expand x hidden."""
    return int(ssm.expand * h)


def ssm_dt_rank(h: int, ssm: SSM) -> int:
    """Mamba-1 time-step rank (default ceil(h / 16), Gu & Dao 2023)."""
    return ssm.time_step_rank or math.ceil(h / 16)


def ssm_params(h: int, ssm: SSM) -> int:
    """One Mamba (or Mamba-2) mixer, laid out as HF ``MambaMixer`` / ``Mamba2Mixer``."""
    d, n, k = ssm_inner(h, ssm), ssm.state_size, ssm.conv_kernel
    if ssm.version == 1:
        r = ssm_dt_rank(h, ssm)
        total = h * 2 * d + (2 * d if ssm.use_bias else 0)            # in_proj (x and z)
        total += d * k + (d if ssm.use_conv_bias else 0)              # depthwise conv1d
        total += d * (r + 2 * n)                                      # x_proj -> dt, B, C
        total += r * d + d                                            # dt_proj with bias
        total += d * n + d                                            # A_log, D
        total += d * h + (h if ssm.use_bias else 0)                   # out_proj
        total += (r + 2 * n) if ssm.inner_layernorms else 0           # Jamba dt/B/C norms
        return total
    heads = d // ssm.head_dim
    conv_dim = d + 2 * ssm.n_groups * n
    total = h * (2 * d + 2 * ssm.n_groups * n + heads) + (
        (2 * d + 2 * ssm.n_groups * n + heads) if ssm.use_bias else 0)  # in_proj
    total += conv_dim * k + (conv_dim if ssm.use_conv_bias else 0)    # conv1d
    total += 3 * heads                                                # dt_bias, A_log, D
    total += d                                                        # gated RMSNorm
    total += d * h + (h if ssm.use_bias else 0)                       # out_proj
    return total


def mixer_params(m: ModelSpec, mixer: str) -> int:
    """Parameters of one layer's token mixer (attention, MLA or Mamba)."""
    if mixer == "mamba":
        assert m.ssm is not None
        return ssm_params(m.hidden_size, m.ssm)
    assert m.attention is not None
    if m.mla is not None:
        return mla_params(m.hidden_size, m.attention.num_attention_heads, m.mla)
    return attention_params(m.hidden_size, m.attention, m.head_dim)


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts of one model, by component (all in parameters, not bytes)."""

    embedding: int          # token (and learned position) embeddings
    lm_head: int            # 0 when tied to the embedding
    attention: int          # attention / MLA projections (incl. biases, q/k norms, sinks)
    ssm: int                # Mamba mixers
    mlp: int                # dense FFN layers
    router: int             # MoE gates
    experts_routed: int     # every routed expert of every MoE layer
    experts_shared: int     # shared (always-on) experts
    norms: int              # per-layer norms and the final norm
    active_routed: int      # routed-expert parameters one token uses
    mtp: int                # multi-token-prediction modules (not in total)

    @property
    def total(self) -> int:
        """All parameters of the main model (MTP modules counted apart)."""
        return (self.embedding + self.lm_head + self.attention + self.ssm + self.mlp +
                self.router + self.experts_routed + self.experts_shared + self.norms)

    @property
    def active(self) -> int:
        """Parameters one token touches: total less the routed experts it does not use."""
        return self.total - self.experts_routed + self.active_routed

    @property
    def non_embedding(self) -> int:
        """Total less embeddings and LM head (Kaplan et al. 2020's N)."""
        return self.total - self.embedding - self.lm_head

    def breakdown(self) -> dict[str, int]:
        """Component counts plus total, active and non-embedding, as a plain dict."""
        d = asdict(self)
        d.update(total=self.total, active=self.active, non_embedding=self.non_embedding)
        return d


def count_params(m: ModelSpec) -> ParamCount:
    """Count the parameters of ``m`` by component."""
    h = m.hidden_size
    embedding = m.vocab_size * h
    if m.position_embedding == "learned":
        embedding += (m.max_position_embeddings or 0) * h
    lm_head = 0 if m.tie_word_embeddings else m.vocab_size * h
    attention = ssm = mlp = router = routed = shared = active_routed = 0
    for (mixer, ffn), n in m.layer_counts().items():
        if mixer == "mamba":
            ssm += n * mixer_params(m, mixer)
        else:
            attention += n * mixer_params(m, mixer)
        if ffn == "dense":
            assert m.mlp is not None
            mlp += n * ffn_params(h, m.mlp.intermediate_size, gated=m.mlp.gated,
                                  bias=m.mlp.mlp_bias)
        elif ffn == "moe":
            assert m.moe is not None
            router += n * router_params(h, m.moe)
            routed += n * m.moe.num_experts * expert_params(h, m.moe)
            active_routed += n * m.moe.num_experts_per_tok * expert_params(h, m.moe)
            shared += n * shared_expert_params(h, m.moe)
    norms = (m.num_hidden_layers * m.norms_per_layer + 1) * norm_params(m)
    return ParamCount(embedding=embedding, lm_head=lm_head, attention=attention, ssm=ssm,
                      mlp=mlp, router=router, experts_routed=routed, experts_shared=shared,
                      norms=norms, active_routed=active_routed, mtp=mtp_params(m))


def mtp_params(m: ModelSpec) -> int:
    """DeepSeek-V3 multi-token-prediction modules (arXiv 2412.19437, section 2.2).

    Each module: RMSNorms on the hidden state and the embedding, a 2h -> h projection, one
    transformer block (attention + the model's last-layer FFN) and a final norm; the
    embedding and output head are shared with the main model.
    """
    if not m.num_nextn_predict_layers:
        return 0
    h = m.hidden_size
    block = mixer_params(m, "full_attention") + m.norms_per_layer * norm_params(m)
    last_ffn = m.ffns()[-1]
    if last_ffn == "moe" and m.moe is not None:
        block += (router_params(h, m.moe) + m.moe.num_experts * expert_params(h, m.moe) +
                  shared_expert_params(h, m.moe))
    elif m.mlp is not None:
        block += ffn_params(h, m.mlp.intermediate_size, gated=m.mlp.gated, bias=m.mlp.mlp_bias)
    per_module = 3 * norm_params(m) + 2 * h * h + block
    return m.num_nextn_predict_layers * per_module
