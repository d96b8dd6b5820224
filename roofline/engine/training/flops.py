"""Training FLOPs: per operator (forward, backward, recomputation), the papers' closed forms,
model vs hardware FLOPs (MFU vs HFU), and the compute-optimal scaling-law planner.

Conventions (each written once here and reused by the engine):

- Matmul FLOPs are 2mnk; the backward pass of a matmul costs twice its forward (one matmul
  for the input gradient, one for the weight gradient), so a training step is 3x forward
  (Kaplan et al. 2020; Narayanan et al. 2021, sec. 5.1).
- *Model FLOPs* (PaLM, Chowdhery et al. 2022, appendix B) count the work the model needs,
  with attention over the full ``T`` x ``T`` rectangle as in ``6N + 12 L H Q T``; they do not
  depend on the implementation. *Hardware FLOPs* add what recomputation executes again
  (Korthikanti et al. 2022, sec. 6; PaLM appendix B). MFU and HFU divide each by the peak.
- ``N`` is the matmul parameters one token uses: active parameters less the input-embedding
  lookup (no FLOPs), with a tied embedding counted once as the LM head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.operators.table import Op, operator_table, sliding_window
from roofline.engine.scenario.precision import RECIPES
from roofline.engine.scenario.step import AttnWork, Step, window_pairs
from roofline.errors import Problem, SpecError
from roofline.specs.model import ModelSpec

if TYPE_CHECKING:
    import pandas as pd

Array = NDArray[np.float64]
Recompute = Literal["none", "selective", "full"]
RECOMPUTE: tuple[Recompute, ...] = ("none", "selective", "full")

#: Operators of a layer that are not matmuls or attention: they do no model FLOPs (norm and
#: residual arithmetic is ~1e-4 of a layer and is left out, as in every paper cited here).
_NO_MODEL_FLOPS = ("norms_elementwise", "embedding", "kv_cache_write", "moe_permute",
                   "activation_quant")
#: Operators outside the transformer layers (not recomputed; on the first / last stage).
NON_LAYER_OPS = ("embedding", "lm_head")
#: Operators selective recomputation re-runs alongside FlashAttention (norms, MLA
#: up-projections; activation functions are part of the MLP operators' elementwise work).
SELECTIVE_MODULES = ("norms_elementwise", "mla_q_up", "mla_kv_up")


def _a(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------------------
# The papers' closed forms (GPT: MHA, 4h plain MLP, tied embedding, vocabulary V)
# --------------------------------------------------------------------------------------

def megatron_flops_per_iteration(batch: ArrayLike, seq_len: ArrayLike, layers: ArrayLike,
                                 hidden: ArrayLike, vocab: ArrayLike,
                                 recompute: Recompute = "full") -> Array:
    """FLOPs of one training iteration of a GPT model, Narayanan et al. 2021 eq. 3.

    A layer's forward is 24Bsh^2 + 4Bs^2h, the logit layer's 2BshV. With full activation
    recomputation every layer runs forward twice (4x forward), the logit layer 3x:
    ``F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h))``. Without recomputation (3x forward):
    ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))`` (Korthikanti et al. 2022, appendix: model
    FLOPs). ``recompute="selective"`` gives Korthikanti et al.'s hardware FLOPs for their
    selective recomputation, ``72 B s l h^2 (1 + s/(3h) + V/(12 l h))`` (their Table 5 HFU).
    """
    B, s, L, h, V = (_a(x) for x in (batch, seq_len, layers, hidden, vocab))  # L: paper's l
    if recompute == "full":
        return 96 * B * s * L * h**2 * (1 + s / (6 * h) + V / (16 * L * h))
    if recompute == "none":
        return 72 * B * s * L * h**2 * (1 + s / (6 * h) + V / (12 * L * h))
    if recompute == "selective":
        return 72 * B * s * L * h**2 * (1 + s / (3 * h) + V / (12 * L * h))
    raise SpecError(f"recompute must be one of {RECOMPUTE}, got {recompute!r}")


def megatron_params(layers: ArrayLike, hidden: ArrayLike, vocab: ArrayLike,
                    seq_len: ArrayLike) -> Array:
    """GPT parameter count, Narayanan et al. 2021 sec. 5.1:
    ``P = 12 l h^2 (1 + 13/(12h) + (V + s)/(12 l h))`` (learned positions, tied head)."""
    L, h, V, s = (_a(x) for x in (layers, hidden, vocab, seq_len))  # L: the paper's l
    return 12 * L * h**2 * (1 + 13 / (12 * h) + (V + s) / (12 * L * h))


def megatron_gpt(layers: int, hidden: int, heads: int, vocab: int = 51200,
                 seq_len: int = 2048, *, name: str = "megatron-gpt") -> ModelSpec:
    """The GPT model of Narayanan et al. 2021 and Korthikanti et al. 2022 as a
    :class:`ModelSpec`: MHA, 4h GeLU MLP, biases, two LayerNorms per layer, learned
    positions, LM head tied to the embedding; vocabulary 51,200 and 2,048 tokens as there."""
    return ModelSpec.model_validate({
        "name": name, "display_name": f"GPT {layers}L h{hidden} a{heads} (Megatron-LM)",
        "model_type": "gpt2", "hidden_size": hidden, "num_hidden_layers": layers,
        "vocab_size": vocab, "max_position_embeddings": seq_len, "tie_word_embeddings": True,
        "position_embedding": "learned", "norm": "layernorm", "norms_per_layer": 2,
        "attention": {"num_attention_heads": heads, "attention_bias": True},
        "mlp": {"intermediate_size": 4 * hidden, "hidden_act": "gelu", "gated": False,
                "mlp_bias": True},
        "sources": [{"title": "Narayanan et al. 2021, Megatron-LM (arXiv 2104.04473), "
                              "sec. 5.1", "url": "https://arxiv.org/abs/2104.04473"}]})


def megatron_training_time_s(tokens: ArrayLike, params: ArrayLike, count: ArrayLike,
                             flops_per_s_per_chip: ArrayLike) -> Array:
    """End-to-end training time, Narayanan et al. 2021 eq. 4: ``8 T P / (n X)`` seconds
    (full recomputation, 4 x 2 FLOPs per parameter per token; s << 6h, V << 16lh)."""
    T, P, n, X = (_a(x) for x in (tokens, params, count, flops_per_s_per_chip))
    return 8 * T * P / (n * X)


def palm_flops_per_token(n_params: ArrayLike, layers: ArrayLike, heads: ArrayLike,
                         head_dim: ArrayLike, seq_len: ArrayLike) -> Array:
    """Model FLOPs per token, PaLM (Chowdhery et al. 2022) appendix B: ``6N + 12 L H Q T``."""
    N, L, H, Q, T = (_a(x) for x in (n_params, layers, heads, head_dim, seq_len))
    return 6 * N + 12 * L * H * Q * T


def training_compute(n_params: ArrayLike, tokens: ArrayLike) -> Array:
    """``C = 6 N D`` FLOPs (Kaplan et al. 2020; Hoffmann et al. 2022 sec. 3)."""
    return 6 * _a(n_params) * _a(tokens)


def utilisation(flops_per_step: ArrayLike, step_time_s: ArrayLike, count: ArrayLike,
                peak_flops_per_s: ArrayLike) -> Array:
    """MFU (model FLOPs) or HFU (hardware FLOPs): achieved / (chips x peak), PaLM app. B."""
    return _a(flops_per_step) / (_a(step_time_s) * _a(count) * _a(peak_flops_per_s))


# --------------------------------------------------------------------------------------
# Per-operator counts for any ModelSpec
# --------------------------------------------------------------------------------------

def training_step(micro_batch: ArrayLike, seq_len: ArrayLike, cp: ArrayLike = 1,
                  window: float = np.inf) -> Step:
    """The forward work one device does for ``micro_batch`` sequences of ``seq_len``
    tokens when context parallelism splits each sequence over ``cp`` devices.

    Each device holds ``s/cp`` query tokens and (ring or all-to-all) attends over all ``s``
    keys: a 1/cp share of the causal pairs (load-balanced, as Megatron's ring attention
    assigns chunk i and 2cp-1-i to rank i). With ``cp=1`` this is
    :meth:`Step.for_training`.
    """
    b, s, cp = _a(micro_batch), _a(seq_len), _a(cp)
    w = float(window)
    tokens = b * s / cp
    work = AttnWork(tokens=tokens, seqs=b + 0 * tokens,
                    pairs_full=b * window_pairs(s, np.inf) / cp,
                    pairs_window=b * window_pairs(s, w) / cp,
                    rect_full=tokens * s, rect_window=tokens * np.minimum(s, w),
                    kv_full=b * s + 0 * tokens, kv_window=b * np.minimum(s, w) + 0 * tokens)
    return Step(prefill=work, training=True)


def _replica_ops(m: ModelSpec, seq_len: ArrayLike) -> list[Op]:
    """Forward operators of one sequence on one unsharded replica, attention over the full
    rectangle (the model-FLOPs convention)."""
    step = training_step(1, seq_len, 1, sliding_window(m))
    return operator_table(m, RECIPES["bf16"], step, 1, 1, fused_attention=False)


def recompute_factor(op: Op, recompute: Recompute, flash: bool = False) -> float:
    """How many extra forward passes of ``op`` a training step executes.

    Full recomputation (Narayanan et al. 2021 eq. 3) re-runs every operator of every layer
    once, not the embedding or the LM head (the logit layer counts 3x). Selective
    recomputation (Korthikanti et al. 2022 sec. 5) re-runs the attention core (QK^T,
    softmax, attention over V). A FlashAttention backward recomputes QK^T and the softmax
    from the saved log-sum-exp (Dao et al. 2022, alg. 4): 5 matmuls against the forward's
    2, i.e. half a forward of the attention core more than 2x; it replaces selective
    recomputation of the core, which then adds nothing. Selective recomputation under
    FlashAttention re-runs the modules Megatron-Core's ``--recompute-modules`` names and
    DeepSeek-V3 recomputes (arXiv 2412.19437 sec. 3.2.3): the norms, the MLA
    up-projections and the activation functions (elementwise, no model FLOPs).
    """
    if op.name in NON_LAYER_OPS:
        return 0.0
    if op.kind == "attention":
        inherent = 0.5 if flash else 0.0
        explicit = recompute == "full" or (recompute == "selective" and not flash)
        return inherent + (1.0 if explicit else 0.0)
    if recompute == "selective" and flash and op.name in SELECTIVE_MODULES:
        return 1.0
    return 1.0 if recompute == "full" else 0.0


def flops_by_operator(m: ModelSpec, seq_len: float, recompute: Recompute = "selective",
                      *, flash: bool = False) -> pd.DataFrame:
    """FLOPs per token of each operator: forward, backward (2x forward) and recomputed.

    One row per operator, summed over the layers it runs in; attention counted over the
    full rectangle (model-FLOPs convention). ``seq_len`` is a scalar here.
    """
    if recompute not in RECOMPUTE:
        raise SpecError([Problem(f"recompute must be one of {RECOMPUTE}", field="recompute")])
    s = float(np.asarray(seq_len))
    rows = []
    for op in _replica_ops(m, s):
        fwd = float(np.asarray(op.flops)) / s
        rows.append({"operator": op.name, "kind": op.kind, "layers": op.layers,
                     "forward_flops_per_token": fwd, "backward_flops_per_token": 2 * fwd,
                     "recompute_flops_per_token": fwd * recompute_factor(op, recompute, flash)})
    import pandas as pd

    df = pd.DataFrame(rows)
    df["model_flops_per_token"] = np.where(df["operator"].isin(_NO_MODEL_FLOPS), 0.0,
                                           3 * df["forward_flops_per_token"])
    df["hardware_flops_per_token"] = np.where(
        df["operator"].isin(_NO_MODEL_FLOPS), 0.0,
        3 * df["forward_flops_per_token"] + df["recompute_flops_per_token"])
    return df


def model_flops_per_token(m: ModelSpec, seq_len: ArrayLike) -> Array:
    """Model FLOPs per trained token (forward + backward), PaLM's definition generalised.

    3 x the forward FLOPs of every matmul and attention operator (MoE: the routed experts
    a token uses; MLA and sliding windows as the model has them). For a GPT model this is
    exactly ``6N + 12 L H Q T`` with ``N = 12 l h^2 + V h``, and x B s it is Korthikanti
    et al.'s ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))``.
    """
    s = _a(seq_len)
    total = np.zeros_like(s)
    for op in _replica_ops(m, s):
        if op.name not in _NO_MODEL_FLOPS:
            total = total + op.flops
    return 3 * total / s


def recompute_flops_per_token(m: ModelSpec, seq_len: ArrayLike, recompute: Recompute,
                              *, flash: bool = False) -> Array:
    """FLOPs per token executed again by recomputation (see :func:`recompute_factor`)."""
    s = _a(seq_len)
    total = np.zeros_like(s)
    for op in _replica_ops(m, s):
        if op.name not in _NO_MODEL_FLOPS:
            total = total + op.flops * recompute_factor(op, recompute, flash)
    return total / s


def hardware_flops_per_token(m: ModelSpec, seq_len: ArrayLike,
                             recompute: Recompute = "selective", *,
                             flash: bool = False) -> Array:
    """Hardware FLOPs per trained token: model FLOPs plus recomputation (for HFU).

    For a GPT model with ``recompute="full"`` this is Narayanan et al. 2021 eq. 3 / (B s).
    (Korthikanti et al. 2022's Table 5 HFU charges selective recomputation ``s/(6h)`` of
    ``72 B s l h^2``, i.e. 12 B s^2 h per layer, three times the 4 B s^2 h a forward of the
    attention core executes; this function counts the one forward.)
    """
    return model_flops_per_token(m, seq_len) + recompute_flops_per_token(
        m, seq_len, recompute, flash=flash)


def matmul_params(m: ModelSpec) -> float:
    """``N`` of ``6N``: active parameters less the input-embedding lookup, the LM head
    counted once even when tied (the parameters a token multiplies)."""
    p = m.params()
    head = m.vocab_size * m.hidden_size if m.tie_word_embeddings else 0
    return float(p.active - p.embedding + head)


# --------------------------------------------------------------------------------------
# Compute-optimal scaling (Chinchilla)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScalingFit:
    """A parametric loss ``L(N, D) = E + A / N^alpha + B / D^beta`` (nats per token)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, n_params: ArrayLike, tokens: ArrayLike) -> Array:
        """Predicted final training loss (nats/token) of ``n_params`` trained on ``tokens``."""
        return self.E + self.A / _a(n_params) ** self.alpha + self.B / _a(tokens) ** self.beta

    def optimal(self, compute: ArrayLike) -> tuple[Array, Array]:
        """(N, D) minimising the loss under ``6 N D = C``, Hoffmann et al. 2022 eq. 4:
        ``N = G (C/6)^a``, ``D = G^-1 (C/6)^b``, ``G = (alpha A / (beta B))^(1/(alpha+beta))``,
        ``a = beta/(alpha+beta)``, ``b = alpha/(alpha+beta)``."""
        c6 = _a(compute) / 6
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
        n = g * c6 ** (self.beta / (self.alpha + self.beta))
        return n, c6 / n


#: Hoffmann et al. 2022 (arXiv 2203.15556) eq. 10, approach 3, as printed (rounded).
HOFFMANN_2022 = ScalingFit(1.69, 406.4, 410.7, 0.34, 0.28,
                           "Hoffmann et al. 2022 approach 3, eq. 10 (rounded as printed)")
#: Besiroglu et al. 2024 (arXiv 2404.10102) re-fit of approach 3 on Hoffmann's data
#: (their corrected estimates; consistent with approaches 1 and 2, ~20 tokens/parameter).
BESIROGLU_2024 = ScalingFit(1.8172, 482.01, 2085.43, 0.3478, 0.3658,
                            "Besiroglu et al. 2024 (Epoch AI) re-fit of approach 3")
FITS: dict[str, ScalingFit | None] = {"besiroglu": BESIROGLU_2024, "hoffmann": HOFFMANN_2022,
                                      "20-tokens": None}
#: The Chinchilla rule of thumb: about 20 training tokens per parameter (Hoffmann et al.
#: 2022, Table 3: 70B parameters, 1.4T tokens).
TOKENS_PER_PARAM = 20.0


def compute_optimal(compute: ArrayLike, fit: str = "besiroglu") -> pd.DataFrame:
    """Compute-optimal parameters and tokens for a budget of ``compute`` FLOPs (``C = 6ND``).

    ``fit``: ``"besiroglu"`` (default: Besiroglu et al. 2024's corrected constants),
    ``"hoffmann"`` (Hoffmann et al. 2022 approach 3 as printed), or ``"20-tokens"``
    (``D = 20 N``). The loss column uses the Besiroglu fit for the 20-tokens rule.
    """
    if fit not in FITS:
        raise SpecError([Problem(f"unknown fit {fit!r}; use one of {', '.join(FITS)}",
                                 field="fit")])
    c = np.atleast_1d(_a(compute))
    if np.any(~(c > 0)):
        raise SpecError([Problem("compute must be positive FLOPs", field="compute")])
    law = FITS[fit]
    if law is None:
        n = np.sqrt(c / (6 * TOKENS_PER_PARAM))
        d, law = TOKENS_PER_PARAM * n, BESIROGLU_2024
    else:
        n, d = law.optimal(c)
    import pandas as pd

    return pd.DataFrame({"compute_flops": c, "params": n, "tokens": d,
                         "tokens_per_param": d / n, "loss": law.loss(n, d), "fit": fit})


def compute_budget(peak_flops_per_s: ArrayLike, chip_hours: ArrayLike,
                   mfu: ArrayLike = 0.4) -> Array:
    """FLOPs a budget of ``chip_hours`` delivers at model FLOPs utilisation ``mfu``."""
    return _a(chip_hours) * 3600.0 * _a(peak_flops_per_s) * _a(mfu)
