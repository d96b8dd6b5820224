"""Serving engine against hand arithmetic: weights streamed per decode step, KV sizes,
compute-bound prefill, MoE expert traffic, MLA, sliding windows, layouts."""

import numpy as np
import pytest

import roofline
from roofline import SpecError
from roofline.engine.operators.memory import kv_bytes_per_sequence
from roofline.engine.operators.table import operator_table
from roofline.engine.scenario.precision import RECIPES, get_precision
from roofline.engine.scenario.step import Step
from roofline.engine.serving.batching import continuous, decode_crossover_batch
from roofline.engine.serving.inference import infer

H100_BW = 3.35e12
H100_BF16 = 989.4e12


def test_llama3_8b_decode_is_weight_streaming_by_hand():
    m = roofline.load_model("llama-3-8b")
    p = m.params()
    r = infer("llama-3-8b", "h100", batch=1, prompt_len=1024, output_len=256)
    # One decode step reads every weight except the embedding table (only one row of it)
    # plus the KV cache at the mean context 1024 + 257/2 tokens: 32 layers x 2 x 8 x 128 x 2 B.
    weights = (p.total - p.embedding) * 2
    kv = 32 * 2 * 8 * 128 * 2 * (1024 + 257 / 2)
    assert r["tpot_ideal_s"] == pytest.approx((weights + kv) / H100_BW, rel=0.01)
    assert r["decode_bound"] == "memory"
    # Expected mode is slower by the memory efficiency (NVIDIA's default, calibrated on the
    # published runs in validation/: roofline/engine/timing/efficiency.yaml).
    mem = roofline.efficiency_for(roofline.load_chip("h100")).memory
    assert r["tpot_s"] == pytest.approx(r["tpot_ideal_s"] / mem, rel=0.02)


def test_prefill_is_compute_bound_by_hand():
    r = infer("llama-3-8b", "h100", batch=8, prompt_len=2048, output_len=1)
    T = 8 * 2048
    linear = 2 * T * (8.030261248e9 - 2 * 525_336_576)  # non-embedding matmuls
    head = 2 * 8 * 525_336_576                           # LM head for last positions only
    attn = 2 * 32 * 32 * (128 + 128) * 8 * 2048 * 2049 / 2
    # Memory-bound elementwise work beside the matmuls: per layer two norms and two residual
    # adds (10 passes over T x h bf16 values), the final norm (8), the new K/V written.
    elementwise = T * 4096 * 2 * (32 * 10 + 8) + T * 32 * 2 * 8 * 128 * 2
    expected = (linear + head + attn) / H100_BF16 + elementwise / H100_BW
    assert r["ttft_ideal_s"] == pytest.approx(expected, rel=0.01)
    assert r["prefill_bound"] == "compute"


def test_kv_cache_sizes_gqa_mla_window():
    bf16 = RECIPES["bf16"]
    # Llama-3-70B: 80 layers x 2 x 8 KV heads x 128 x 2 bytes = 327,680 B per token.
    assert kv_bytes_per_sequence(roofline.load_model("llama-3-70b"), bf16, 1000) == 327_680_000
    # DeepSeek-V3 MLA: 61 layers x (512 + 64) x 2 bytes, and replicated across tp ranks.
    ds = roofline.load_model("deepseek-v3")
    assert kv_bytes_per_sequence(ds, bf16, 1) == 61 * 576 * 2
    assert kv_bytes_per_sequence(ds, bf16, 1, tp=8) == 61 * 576 * 2
    # Gemma 2 27B: 23 global layers grow with context, 23 sliding layers stop at 4096.
    g = roofline.load_model("gemma-2-27b")
    per = 2 * 16 * 128 * 2
    assert kv_bytes_per_sequence(g, bf16, 8192) == per * (23 * 8192 + 23 * 4096)


def test_moe_decode_reads_distinct_experts():
    m = roofline.load_model("mixtral-8x7b")
    p = RECIPES["bf16"]
    for b in (1, 2, 4, 64):
        ops = {o.name: o for o in operator_table(m, p, Step.for_decode(b, 512))}
        distinct = 8 * (1 - (1 - 2 / 8) ** b)
        expert = 3 * 4096 * 14336
        assert float(ops["experts"].weight_bytes) == pytest.approx(32 * distinct * expert * 2)
        assert float(ops["experts"].flops) == pytest.approx(32 * 2 * b * 2 * expert)


def test_mla_absorption_changes_decode_work():
    ds = roofline.load_model("deepseek-v3")
    p = RECIPES["bf16"]
    step = Step.for_decode(16, 4096)
    absorbed = sum(float(o.flops) for o in operator_table(ds, p, step, 8, mla_absorb=True))
    naive = sum(float(o.flops) for o in operator_table(ds, p, step, 8, mla_absorb=False))
    # Without absorption every cached latent is re-expanded each step: 2 x 16 x 4096 x 512 x
    # 16 heads/rank x 256 FLOPs per layer more, minus the absorbed projections.
    assert naive > absorbed
    up = 61 * 2 * 16 * 4096 * 512 * (128 / 8) * (128 + 128)
    assert naive - absorbed == pytest.approx(up, rel=0.25)


def test_vectorised_equals_single_calls():
    batches, prompts, tps = [1, 8, 64], [512, 4096, 2048], [1, 2, 4]
    many = infer("llama-3-70b", "h200", batch=batches, prompt_len=prompts, tp=tps).frame
    for i, (b, s, t) in enumerate(zip(batches, prompts, tps, strict=True)):
        one = infer("llama-3-70b", "h200", batch=b, prompt_len=s, tp=t).frame.iloc[0]
        for col in ("ttft_s", "tpot_s", "memory_bytes", "max_batch", "max_context"):
            assert many[col].iloc[i] == pytest.approx(one[col], rel=1e-12)


def test_tensor_parallel_shrinks_memory_and_adds_comm():
    r = infer("llama-3-70b", "h100", batch=16, tp=[1, 2, 4, 8]).frame
    assert np.all(np.diff(r["weights_bytes"]) < 0) and np.all(np.diff(r["kv_cache_bytes"]) < 0)
    assert r["decode_comm_s"].iloc[0] == 0 and np.all(r["decode_comm_s"].iloc[1:] > 0)
    assert not r["fits"].iloc[0] and r["fits"].iloc[-1]  # 141 GB of bf16 weights


def test_max_batch_is_the_edge_of_fitting():
    r = infer("llama-3-8b", "l4", batch=1, prompt_len=2048, output_len=512)
    mb = int(r["max_batch"])
    assert mb > 1
    assert bool(infer("llama-3-8b", "l4", batch=mb, prompt_len=2048, output_len=512)["fits"])
    assert not bool(infer("llama-3-8b", "l4", batch=mb + 1, prompt_len=2048,
                          output_len=512)["fits"])


def test_precision_recipes_scale_weights():
    w = {name: float(infer("llama-3-8b", "h100", precision=name)["weights_bytes"])
         for name in ("bf16", "fp8", "int4")}
    emb = 2 * 525_336_576 * 2  # embedding and LM head stay in bf16
    assert w["fp8"] - emb == pytest.approx((w["bf16"] - emb) / 2, rel=1e-3)
    assert w["int4"] - emb == pytest.approx((w["bf16"] - emb) * 0.53125 / 2, rel=1e-3)


def test_native_precision_reads_quantization_config():
    gpt_oss = roofline.load_model("gpt-oss-120b")
    p = get_precision("native", gpt_oss.quantization)
    assert p.weight_bytes("experts") == pytest.approx(0.5 + 1 / 32)
    assert p.weight_bytes("attention") == 2.0


def test_fp8_falls_back_on_a100_and_says_so():
    r = infer("llama-3-8b", "a100", precision="fp8")
    assert "no fp8 peak, computed in bf16" in r.assumptions["compute dtype fallback"]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"tp": 3}, "does not divide the 32 attention heads"),
    ({"ep": 2}, "needs a mixture-of-experts"),
    ({"pp": 64}, "exceeds the 32 layers"),
    ({"tp": 2, "count": 3}, "not a multiple of tp x pp"),
])
def test_impossible_layouts_are_clear_errors(kwargs, words):
    with pytest.raises(SpecError, match=words):
        infer("llama-3-8b", "h100", **kwargs)


def test_vectorised_layouts_flag_instead_of_raising():
    r = infer("llama-3-8b", "h100", tp=[1, 3, 8]).frame
    assert list(r["valid"]) == [True, False, True]
    assert "attention heads" in r["reason"].iloc[1]


def test_decode_crossover_near_ridge_point():
    b = decode_crossover_batch("llama-3-8b", "h100", context=2048)
    ridge = roofline.load_chip("h100").ridge_point("bf16")  # ~295 FLOP/B
    assert ridge < b < 1.5 * ridge


def test_continuous_batching_steady_state():
    r = continuous("llama-3-8b", "h100", rate=[1.0, 10.0, 1000.0], prompt_len=1024,
                   output_len=256).frame
    # Little's law: concurrent decodes = rate x output tokens x step time.
    assert np.allclose(r["concurrent_decodes"], r["rate_per_s"] * 256 * r["step_s"])
    assert r["step_s"].is_monotonic_increasing and r["ttft_s"].is_monotonic_increasing
    assert list(r["sustainable"]) == [True, True, False]
    assert 1000.0 > r["max_rate_per_s"].iloc[0] > 10.0


def test_fp8_recipe_keeps_the_attention_core_in_bf16():
    m = roofline.load_model("llama-3-8b")
    step = Step.for_prefill(4, 4096)
    ops = {o.name: o for o in operator_table(m, RECIPES["fp8"], step)}
    assert ops["qkv_proj"].dtype.value == "fp8" and ops["attention"].dtype.value == "bf16"
    fp8_attention = get_precision({"weights": "fp8", "activations": "fp8", "kv_cache": "fp8",
                                   "attention": "fp8"})
    ops = {o.name: o for o in operator_table(m, fp8_attention, step)}
    assert ops["attention"].dtype.value == "fp8"
    # On H100 the fp8 attention core runs at twice the bf16 peak: half the compute time.
    slow = infer("llama-3-8b", "h100", batch=4, prompt_len=4096, precision="fp8")
    fast = infer("llama-3-8b", "h100", batch=4, prompt_len=4096, precision=fp8_attention)
    assert float(fast["ttft_ideal_s"]) < float(slow["ttft_ideal_s"])


@pytest.mark.parametrize("tp", [1, 4])
def test_operator_step_share_is_time_over_the_forward_pass(tp):
    # share = operator time / (all operators + communication) of one forward pass: on one
    # chip the shares add up to 1; with tp=4 the all-reduces take the rest.
    res = infer("llama-3.1-70b", "h100", batch=8, prompt_len=2048, output_len=256, tp=tp)
    for phase in ("prefill", "decode"):
        ops = res.operators(phase)
        comm = res["decode_comm_s"]
        if tp == 1:
            np.testing.assert_allclose(ops["step_share"], ops["time_s"] / ops["time_s"].sum())
            assert ops["step_share"].sum() == pytest.approx(1.0)
        else:
            assert 0.5 < ops["step_share"].sum() < 1.0
        if phase == "decode":  # decode's forward pass is its TPOT: ops + communication
            assert ops["time_s"].sum() + comm == pytest.approx(res["tpot_s"], rel=1e-9)
            np.testing.assert_allclose(ops["step_share"], ops["time_s"] / res["tpot_s"])
    # The table is built once and each caller gets its own copy.
    mine = res.operators("decode")
    mine["time_s"] = 0.0
    assert (res.operators("decode")["time_s"] > 0).all()
