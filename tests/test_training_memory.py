"""Training memory against ZeRO's worked example and Korthikanti et al.'s formulas."""

import itertools

import numpy as np
import pytest

from roofline.engine.training import activations as ta
from roofline.engine.training import memory as tm
from roofline.engine.training.flops import megatron_gpt
from roofline.specs import load_model

GB = 1e9


def test_zero_paper_figure_1():
    # Rajbhandari et al. 2020 fig. 1: Psi = 7.5B, N_d = 64, K = 12 (mixed-precision Adam).
    w, g, o = tm.zero_state_bytes(7.5e9, 64, np.arange(4))
    total = (w + g + o) / GB
    assert total[0] == pytest.approx(120.0)
    assert total[1] == pytest.approx(31.4, abs=0.05)     # 2Psi + 2Psi + K Psi / N_d
    assert total[2] == pytest.approx(16.6, abs=0.05)     # 2Psi + (2 + K) Psi / N_d
    assert total[3] == pytest.approx(1.9, abs=0.05)      # (2 + 2 + K) Psi / N_d
    assert total[3] * GB == 16 * 7.5e9 / 64


def test_optimizer_state_bytes():
    assert tm.get_optimizer("adam").state_bytes_per_param + tm.MASTER_BYTES["fp32"] == 12
    assert tm.get_optimizer("sgd").state_bytes_per_param == 4
    # 8-bit Adam: two 1-byte moments plus one fp32 absmax per 2048-element block each
    assert tm.get_optimizer("adam-8bit").state_bytes_per_param == pytest.approx(2 + 8 / 2048)
    with pytest.raises(ValueError, match="unknown optimizer"):
        tm.get_optimizer("lion")


def test_korthikanti_table_2_by_hand():
    # GPT-3 175B: s = 2048, b = 1, h = 12288, a = 96; 5as/h = 80 (sec. 4.1).
    s, b, h, a = 2048, 1, 12288, 96
    sbh = s * b * h
    assert 5 * a * s / h == 80
    assert float(ta.korthikanti_layer_bytes(s, b, h, a)) == sbh * 114
    assert float(ta.korthikanti_layer_bytes(s, b, h, a, 8)) == sbh * (10 + 24 / 8 + 80 / 8)
    assert float(ta.korthikanti_layer_bytes(s, b, h, a, 8, sequence_parallel=True)) == (
        sbh * (34 / 8 + 80 / 8))
    assert float(ta.korthikanti_layer_bytes(s, b, h, a, 8, recompute="selective")) == (
        sbh * (10 + 24 / 8))
    assert float(ta.korthikanti_layer_bytes(s, b, h, a, 8, sequence_parallel=True,
                                            recompute="selective")) == sbh * 34 / 8
    assert float(ta.korthikanti_layer_bytes(s, b, h, a, 8, recompute="full")) == 2 * sbh
    # "selective activation recomputation reduces memory by 70% for GPT-3 and 65% for
    # MT-NLG" (sec. 5): 80/114 and 64/98.
    for h_, a_, saving in ((12288, 96, 0.70), (20480, 128, 0.65)):
        none = ta.korthikanti_layer_bytes(s, b, h_, a_)
        sel = ta.korthikanti_layer_bytes(s, b, h_, a_, recompute="selective")
        assert float(1 - sel / none) == pytest.approx(saving, abs=0.005)


def test_korthikanti_first_stage():
    # eq. 5: the first stage holds p micro-batches of L/p layers: sbhL/t (34 + 5as/h)
    s, b, h, a, L, t, p = 2048, 1, 12288, 96, 96, 8, 8
    first = ta.korthikanti_first_stage_bytes(s, b, h, a, L, t, p)
    assert float(first) == pytest.approx(s * b * h * L / t * (34 + 80))
    inter = ta.korthikanti_first_stage_bytes(s, b, h, a, L, t, p, 4)
    assert float(inter / first) == pytest.approx(1 + (p - 1) / (p * 4))


@pytest.mark.parametrize("t,sp,rc", list(itertools.product((1, 2, 8), (False, True),
                                                      ("none", "selective", "full"))))
def test_generalised_activations_reduce_to_korthikanti(t, sp, rc):
    m = megatron_gpt(96, 12288, 96)
    ours = ta.layer_activation_bytes(m, 2048, 2, t, 1, sp, tm.RECOMPUTE_CODES[rc],
                                     flash=False, dropout=True) / 96
    paper = ta.korthikanti_layer_bytes(2048, 2, 12288, 96, t, sequence_parallel=sp,
                                       recompute=rc)
    # Full recomputation with sequence parallelism keeps the sequence shard of each layer's
    # input (2sbh/t, as Megatron stores it); Table 2 writes 2sbh for any t.
    expect = paper / t if (rc == "full" and sp) else paper
    assert float(ours) == pytest.approx(float(expect), rel=1e-12)


def test_generalised_activations_llama_by_hand():
    # Llama 3 8B, per token per layer, bf16, FlashAttention, no dropout:
    # replicated: 2 RMSNorm inputs + attention input + MLP input = 4 x 2h bytes;
    # sharded: q (32 x 128) + k, v (8 x 128 each) + attention output, 2 bytes each,
    # fp32 log-sum-exp per head, SwiGLU gate + up + product (3 x 14336 x 2 bytes).
    m = load_model("llama-3-8b")
    la = ta.layer_activations(m, 2.0, flash=True, dropout=False)
    assert la.replicated / 32 == 4 * 2 * 4096
    assert la.sharded / 32 == 2 * (4096 + 2 * 1024) + 2 * 4096 + 4 * 32 + 3 * 14336 * 2
    assert la.scores_per_key == 0
    # context parallelism divides activations by cp; tensor + sequence parallel by t
    one = ta.layer_activation_bytes(m, 8192, 1)
    assert float(ta.layer_activation_bytes(m, 8192, 1, 1, 4)) == pytest.approx(float(one) / 4)
    assert float(ta.layer_activation_bytes(m, 8192, 1, 4, 1, True)) == pytest.approx(
        float(one) / 4)


def test_pipeline_stage_holds_in_flight_microbatches():
    first, last = tm.stage_layers_held(96, 8, 64)
    assert (float(first), float(last)) == (96, 12)       # p x L/p = L; the last stage L/p
    first, _ = tm.stage_layers_held(96, 8, 3)
    assert float(first) == 36                             # only 3 micro-batches exist
    first, _ = tm.stage_layers_held(96, 8, 64, 2)
    assert float(first) == pytest.approx(96 * (1 + 7 / 16))


def test_stage_params_cover_the_model():
    for name in ("llama-3-8b", "mixtral-8x7b", "gpt-3-175b", "deepseek-v3"):
        m = load_model(name)
        p = m.params()
        st = tm.stage_params(p, m, 1, 1, 1)
        assert float(st.dense_first + st.experts) == pytest.approx(p.total, rel=1e-12)
        # untied embedding: first + last stage layers' share is the model less one copy
        st2 = tm.stage_params(p, m, 1, 2, 1)
        head = p.lm_head or m.vocab_size * m.hidden_size
        both = float(st2.dense_first + st2.dense_last + 2 * st2.experts)
        if m.num_hidden_layers % 2 == 0:
            assert both == pytest.approx(p.total - p.lm_head + head, rel=1e-12)
        else:  # uneven stages (61 layers: 31 + 30): both are counted at the larger stage
            assert both > p.total - p.lm_head + head
            assert float(tm.stage_share(m.num_hidden_layers, 2)) == 31 / 61


def test_training_memory_zero_example_end_to_end():
    # A 7.47B GPT (Narayanan et al. Table 1's 7.5B row) on 64-way data parallelism: the model
    # states are ZeRO's (2 + 2 + 12) Psi partitioned per stage.
    m = megatron_gpt(36, 4096, 32)
    psi = m.params().total
    for z, per_device in enumerate((16 * psi, 4 * psi + 12 * psi / 64,
                                    2 * psi + 14 * psi / 64, 16 * psi / 64)):
        mem = tm.training_memory(m, m.params(), seq_len=2048, micro_batch=1, microbatches=8,
                                 dp=64, zero=z)
        states = mem.weights + mem.gradients + mem.optimizer
        layer = 12 * 4096**2 + 13 * 4096  # ZeRO-3 also holds two gathered layers (bf16)
        gather = 2 * layer * 2 * (z == 3)
        assert float(states) == pytest.approx(per_device + gather, rel=1e-9)


def test_memory_never_grows_with_tp():
    for name in ("llama-3-70b", "mixtral-8x7b", "gpt-3-175b", "qwen3-235b-a22b"):
        m = load_model(name)
        tp = np.array([1, 2, 4, 8, 16])
        for zero, sp, rc in itertools.product((0, 1, 3), (False, True), (0, 1, 2)):
            mem = tm.training_memory(m, m.params(), seq_len=4096, micro_batch=1,
                                     microbatches=16, tp=tp, pp=2, dp=8, zero=zero,
                                     recompute=rc, sequence_parallel=sp)
            assert np.all(np.diff(mem.total) <= 0), (name, zero, sp, rc)


def test_experts_sharded_by_ep():
    m = load_model("mixtral-8x7b")
    p = m.params()
    st = tm.stage_params(p, m, 1, 1, np.array([1, 2, 4, 8]))
    assert np.allclose(st.experts, p.experts_routed / np.array([1, 2, 4, 8]))
