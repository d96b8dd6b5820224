"""Training FLOPs against the papers' formulas, tables and worked examples."""

import numpy as np
import pytest

from roofline.engine.training import flops as tf
from roofline.specs import load_model

S, V = 2048, 51200  # Narayanan et al. 2021 and Korthikanti et al. 2022: every GPT row

# Narayanan et al. 2021 Table 1: billions of parameters, heads, hidden, layers, t, p, GPUs,
# batch, achieved TFLOP/s per GPU, aggregate PFLOP/s.
MEGATRON_TABLE_1 = [
    (1.7, 24, 2304, 24, 1, 1, 32, 512, 137, 4.4),
    (3.6, 32, 3072, 30, 2, 1, 64, 512, 138, 8.8),
    (7.5, 32, 4096, 36, 4, 1, 128, 512, 142, 18.2),
    (18.4, 48, 6144, 40, 8, 1, 256, 1024, 135, 34.6),
    (39.1, 64, 8192, 48, 8, 2, 512, 1536, 138, 70.8),
    (76.1, 80, 10240, 60, 8, 4, 1024, 1792, 140, 143.8),
    (145.6, 96, 12288, 80, 8, 8, 1536, 2304, 148, 227.1),
    (310.1, 128, 16384, 96, 8, 16, 1920, 2160, 155, 297.4),
    (529.6, 128, 20480, 105, 8, 35, 2520, 2520, 163, 410.2),
    (1008.0, 160, 25600, 128, 8, 64, 3072, 3072, 163, 502.0),
]


@pytest.mark.parametrize("row", MEGATRON_TABLE_1, ids=lambda r: f"{r[0]}B")
def test_megatron_eq3_equals_per_operator_count(row):
    billions, heads, h, layers, _, _, gpus, batch, tflops, agg = row
    m = tf.megatron_gpt(layers, h, heads)
    # eq. 3 (full recomputation) = 4 x layers' forward + 3 x logit layer, operator by operator
    direct = tf.hardware_flops_per_token(m, S, "full") * batch * S
    assert direct == pytest.approx(tf.megatron_flops_per_iteration(batch, S, layers, h, V),
                                   rel=1e-12)
    # without recomputation: 72 B s l h^2 (1 + s/6h + V/12lh) (Korthikanti et al. model FLOPs)
    model = tf.model_flops_per_token(m, S) * batch * S
    assert model == pytest.approx(
        tf.megatron_flops_per_iteration(batch, S, layers, h, V, "none"), rel=1e-12)
    # the table's parameter column, by our counter and by their formula
    assert round(m.params().total / 1e9, 1) == billions
    assert round(float(tf.megatron_params(layers, h, V, S)) / 1e9, 1) == billions
    # the table's aggregate throughput is its per-GPU figure x GPUs (to its rounding)
    assert gpus * tflops / 1e3 == pytest.approx(agg, rel=0.01)


def test_megatron_eq3_closed_form_by_hand():
    # GPT-3 175B, batch 1536 (Narayanan et al. sec. 5.1): 96 B s l h^2 (1 + s/6h + V/16lh)
    B, L, h = 1536, 96, 12288
    by_hand = 96 * B * S * L * h**2 * (1 + S / (6 * h) + V / (16 * L * h))
    assert float(tf.megatron_flops_per_iteration(B, S, L, h, V)) == by_hand
    assert by_hand == pytest.approx(4.5110e18, rel=1e-4)


def test_megatron_eq4_training_time_and_table_row():
    # sec. 5.1: GPT-3 175B, 300B tokens, 1024 A100s at 140 TFLOP/s per GPU: about 34 days;
    # 1T parameters (1008B), 450B tokens, 3072 GPUs at 163 TFLOP/s: about 84 days.
    day = 86400.0
    assert float(tf.megatron_training_time_s(300e9, 175e9, 1024, 140e12)) / day == (
        pytest.approx(34, abs=0.5))
    assert float(tf.megatron_training_time_s(450e9, 1008e9, 3072, 163e12)) / day == (
        pytest.approx(84, abs=0.5))
    # The same run by eq. 3 per iteration (batch 1536): s/6h and V/16lh add 3%.
    per_iter = tf.megatron_flops_per_iteration(1536, S, 96, 12288, V) / (1024 * 140e12)
    days = float(per_iter) * 300e9 / (1536 * S) / day
    assert days == pytest.approx(34.7, abs=0.1)


# Korthikanti et al. 2022 Table 5 (with their Table 3 configs): model, heads, h, layers,
# GPUs, global batch, iteration time (s), MFU %, HFU %.
KORTHIKANTI_TABLE_5 = [
    ("22B", 64, 6144, 48, 8, 4, 1.10, 41.5, 43.7),
    ("175B", 96, 12288, 96, 64, 64, 13.75, 51.4, 52.8),
    ("530B", 128, 20480, 105, 280, 280, 37.83, 56.0, 57.0),
    ("1T", 160, 25600, 128, 512, 512, 71.49, 56.3, 57.0),
]


@pytest.mark.parametrize("row", KORTHIKANTI_TABLE_5, ids=lambda r: r[0])
def test_korthikanti_mfu_hfu(row):
    _, _, h, layers, gpus, batch, secs, mfu, hfu = row
    a100 = 312e12
    model = tf.megatron_flops_per_iteration(batch, S, layers, h, V, "none")
    hardware = tf.megatron_flops_per_iteration(batch, S, layers, h, V, "selective")
    assert 100 * float(tf.utilisation(model, secs, gpus, a100)) == pytest.approx(mfu, abs=0.2)
    assert 100 * float(tf.utilisation(hardware, secs, gpus, a100)) == pytest.approx(hfu,
                                                                                  abs=0.2)


def test_palm_mfu_appendix_b():
    # PaLM 540B (Chowdhery et al. 2022, Table 1 and app. B): N = 540.35B, L = 118, H = 48,
    # Q = 256, T = 2048; 238.3K tokens/s on 6144 TPU v4 (275 TFLOP/s bf16): 46.2% MFU,
    # 45.7% without the attention term.
    per_token = tf.palm_flops_per_token(540.35e9, 118, 48, 256, 2048)
    mfu = tf.utilisation(per_token * 238.3e3, 1.0, 6144, 275e12)
    assert 100 * float(mfu) == pytest.approx(46.2, abs=0.05)
    no_attn = tf.utilisation(6 * 540.35e9 * 238.3e3, 1.0, 6144, 275e12)
    assert 100 * float(no_attn) == pytest.approx(45.7, abs=0.05)


def test_palm_formula_equals_per_operator_model_flops_for_gpt():
    L, h, a = 48, 6144, 64
    m = tf.megatron_gpt(L, h, a)
    n_matmul = 12 * L * h**2 + V * h  # the weights a token multiplies (no biases, norms)
    palm = tf.palm_flops_per_token(n_matmul, L, a, h // a, S)
    assert float(tf.model_flops_per_token(m, S)) == pytest.approx(float(palm), rel=1e-12)


def test_flops_by_operator_backward_is_twice_forward():
    m = load_model("llama-3-8b")
    df = tf.flops_by_operator(m, 4096, "full")
    assert np.allclose(df["backward_flops_per_token"], 2 * df["forward_flops_per_token"])
    mm = df[df["kind"] == "matmul"]
    # a forward matmul is 2 FLOPs per weight per token: qkv = 2 h (h + 2 kv d)
    qkv = float(mm.loc[mm["operator"] == "qkv_proj", "forward_flops_per_token"].iloc[0])
    assert qkv == 32 * 2 * 4096 * (4096 + 2 * 8 * 128)
    # the lm head is not recomputed under full recomputation, every layer op is
    head = df[df["operator"] == "lm_head"].iloc[0]
    assert head["recompute_flops_per_token"] == 0
    assert df["model_flops_per_token"].sum() == pytest.approx(
        float(tf.model_flops_per_token(m, 4096)), rel=1e-12)


def test_six_n_matches_the_model_for_dense_and_moe():
    # 6N (N = matmul parameters) plus the attention term is the per-operator count.
    for name in ("llama-3-8b", "mixtral-8x7b"):
        m = load_model(name)
        a = m.attention
        attn = 12 * m.num_hidden_layers * a.num_attention_heads * m.head_dim * 4096
        expect = 6 * tf.matmul_params(m) + attn
        # norms (~1e-5 of the parameters) and biases are the only difference
        assert float(tf.model_flops_per_token(m, 4096)) == pytest.approx(expect, rel=1e-4)


def test_selective_and_flash_recompute():
    m = tf.megatron_gpt(96, 12288, 96)
    attn_fwd = 4 * S * 12288 * 96  # 4 s h per token per layer: QK^T and attention over V
    assert float(tf.recompute_flops_per_token(m, S, "selective")) == attn_fwd
    # FlashAttention's backward recomputes QK^T: half a forward of the core, always
    assert float(tf.recompute_flops_per_token(m, S, "none", flash=True)) == attn_fwd / 2
    assert float(tf.recompute_flops_per_token(m, S, "selective", flash=True)) == attn_fwd / 2


def test_training_compute_published_runs():
    # GPT-3: 3.14e23 FLOPs (Brown et al. 2020, Table D.1): 175B parameters x 300B tokens.
    gpt3 = load_model("gpt-3-175b").params().total
    assert float(tf.training_compute(gpt3, 300e9)) == pytest.approx(3.14e23, rel=0.005)
    # Llama 3.1 405B: 3.8e25 FLOPs on 15.6T tokens (Llama 3 paper, sec. 3.4 / model card).
    llama = load_model("llama-3.1-405b").params().total
    assert float(tf.training_compute(llama, 15.6e12)) == pytest.approx(3.8e25, rel=0.005)
    # Chinchilla 70B on 1.4T tokens ~ Gopher's budget 5.76e23 (Hoffmann et al. 2022 sec. 4)
    assert float(tf.training_compute(70e9, 1.4e12)) == pytest.approx(5.76e23, rel=0.025)


def test_scaling_law_planner():
    budget = 5.76e23  # Gopher's compute, the budget Chinchilla (70B, 1.4T tokens) used
    plan = tf.compute_optimal(budget, "besiroglu").iloc[0]
    assert plan["params"] == pytest.approx(70e9, rel=0.05)
    assert plan["tokens"] == pytest.approx(1.4e12, rel=0.06)
    assert 6 * plan["params"] * plan["tokens"] == pytest.approx(budget, rel=1e-12)
    # Besiroglu et al.: N_opt ~ C^0.5126 (a = beta/(alpha + beta) = 0.3658/0.7136)
    two = tf.compute_optimal([budget, 10 * budget], "besiroglu")
    exponent = np.log10(two["params"].iloc[1] / two["params"].iloc[0])
    assert exponent == pytest.approx(0.5126, abs=1e-4)
    # Hoffmann's printed approach-3 constants: a = 0.28 / 0.62 = 0.4516, and a much
    # smaller model (Besiroglu et al.'s point: the rounded constants are biased).
    h = tf.compute_optimal([budget, 10 * budget], "hoffmann")
    assert np.log10(h["params"].iloc[1] / h["params"].iloc[0]) == pytest.approx(0.4516,
                                                                                abs=1e-4)
    assert h["params"].iloc[0] < 0.5 * plan["params"]
    rule = tf.compute_optimal(budget, "20-tokens").iloc[0]
    assert rule["tokens_per_param"] == pytest.approx(20.0)
    assert rule["params"] == pytest.approx(np.sqrt(budget / 120), rel=1e-12)
    # loss by hand: E + A/N^alpha + B/D^beta
    f = tf.BESIROGLU_2024
    assert plan["loss"] == pytest.approx(
        f.E + f.A / plan["params"] ** f.alpha + f.B / plan["tokens"] ** f.beta)


def test_planner_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown fit"):
        tf.compute_optimal(1e23, "kaplan")
    with pytest.raises(ValueError, match="positive"):
        tf.compute_optimal(-1.0)


def test_compute_budget_from_chip_hours():
    # 1M H100-hours at 40% MFU of 989.4 TFLOP/s
    assert float(tf.compute_budget(989.4e12, 1e6, 0.4)) == pytest.approx(
        1e6 * 3600 * 989.4e12 * 0.4)
