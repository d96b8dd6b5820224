"""Serving MoE at scale: data-parallel attention beside tensor parallelism, experts over the
tp x dp chips, DeepEP-style exchange, the busiest expert rank, two-batch overlap; serving
memory (whole-layer stages, memory utilisation, KV-block admission, MTP weights); and
continuous-batching TTFT from the steps that carry the prompt."""

import numpy as np
import pytest

from roofline.engine.operators.memory import kv_bytes_per_sequence, weight_bytes_per_device
from roofline.engine.planning.serving_layouts import search_serving_layouts
from roofline.engine.scenario.precision import get_precision
from roofline.engine.serving.batching import continuous
from roofline.engine.serving.inference import infer
from roofline.errors import SpecError
from roofline.specs.catalog import load_chip, load_model

DS = dict(precision="fp8", prompt_len=4096, output_len=512)


def test_deepseek_v3_dp_attention_holds_several_times_tp8():
    # DeepSeek-V3 fp8 on 8 H200, 4,096 + 512 tokens: under TP8 every chip caches every
    # sequence's MLA latent; with DP attention (dp 8) each chip caches its own eighth.
    f = infer("deepseek-v3", "h200", batch=256, tp=[8, 1], dp=[1, 8], ep=[1, 8], **DS).frame
    tp8, dp8 = f.iloc[0], f.iloc[1]
    assert dp8["max_batch"] >= 4 * tp8["max_batch"]
    # the latent per sequence is the same; per chip, dp 8 holds 1/8 of the sequences
    assert dp8["kv_cache_bytes"] == pytest.approx(tp8["kv_cache_bytes"] / 8)
    # and at batch 256 the wide-EP layout decodes faster per chip
    assert dp8["decode_tokens_per_s"] > 1.15 * tp8["decode_tokens_per_s"]


def test_kv_admission_llama_8b_on_h100_by_hand():
    m, p = load_model("llama-3.1-8b"), get_precision("bf16")
    r = infer(m, "h100", batch=1, prompt_len=1024, output_len=256).frame.iloc[0]
    cap = 80e9
    weights = weight_bytes_per_device(m, p, m.params())
    kv = float(kv_bytes_per_sequence(m, p, 1280))  # 80 blocks of 16 tokens exactly
    assert kv == 1280 * 32 * 2 * 8 * 128 * 2
    free = 0.9 * cap - weights
    # the scheduler's step (8192 tokens, 256 sequences) bounds the transient activations
    assert free / kv > r["max_batch"] > (free - 1.5e9) / kv
    assert r["max_batch"] == 325
    # with the old 1 GiB reserve the KV blocks admit ~374 (not 199, one whole prompt's
    # activations per sequence)
    old = infer(m, "h100", batch=1, runtime_reserve_bytes=2**30).frame.iloc[0]
    assert 360 <= old["max_batch"] <= 374
    assert r["reserve_bytes"] == pytest.approx(0.1 * cap)


def test_pipeline_stages_hold_whole_layers():
    m, p = load_model("llama-3.1-8b"), get_precision("bf16")
    # 32 layers on 3 stages: the largest holds 11 (not 32/3)
    three = infer(m, "h100", pp=3, batch=6).frame.iloc[0]
    one = infer(m, "h100", batch=6).frame.iloc[0]
    assert three["kv_cache_bytes"] == pytest.approx(one["kv_cache_bytes"] * 11 / 32)
    w3 = float(weight_bytes_per_device(m, p, m.params(), pp=3))
    assert three["weights_bytes"] == pytest.approx(w3)
    assert w3 > float(weight_bytes_per_device(m, p, m.params())) / 3


def test_mtp_weights_counted_when_used():
    m = load_model("deepseek-v3")
    on = infer(m, "h200", tp=8, mtp=True, **DS).frame.iloc[0]
    off = infer(m, "h200", tp=8, **DS).frame.iloc[0]
    extra = on["weights_bytes"] - off["weights_bytes"]
    # one MTP module: 11.6B parameters, mostly fp8 experts, over 8 chips
    assert 1.2e9 < extra < 1.8e9


def test_ep_need_not_divide_tp():
    f = infer("deepseek-v3", "h200", tp=2, dp=4, ep=8, batch=64, **DS).frame.iloc[0]
    assert f["valid"] and f["chips"] == 8 and f["dp"] == 4
    with pytest.raises(SpecError, match="ep must divide tp x dp"):
        infer("deepseek-v3", "h200", tp=2, dp=2, ep=8, **DS)
    with pytest.raises(SpecError, match="needs a mixture-of-experts"):
        infer("llama-3.1-8b", "h100", dp=2)


def test_wide_ep_path_is_dispatch_combine_not_allreduce_plus_all_to_all():
    # TP8 with experts by EP8: the mixer's all-reduce becomes a reduce-scatter, then
    # dispatch + combine and an all-gather; cheaper than the old AR + 2 a2a + AR + AG path.
    f = infer("deepseek-v3", "h200", tp=8, ep=[1, 8], batch=1, **DS).frame
    assert f["decode_comm_s"].iloc[1] < 3 * f["decode_comm_s"].iloc[0]
    assert f["tpot_s"].iloc[1] > 0 and f["valid"].all()


def test_two_batch_overlap_hides_communication_when_compute_bound():
    kw = dict(tp=1, dp=8, ep=8, **DS)
    off, on = (infer("deepseek-v3", "h200", batch=64, tbo=t, **kw).frame.iloc[0]
               for t in (False, True))
    # prefill is compute-bound: hiding the all-to-all wins
    assert on["ttft_s"] < off["ttft_s"]
    # decode at small batch is memory-bound: reading every weight twice loses
    assert on["tpot_s"] > off["tpot_s"]


def test_busiest_rank_slows_small_batches():
    # DP8 EP8 at batch 1: the busiest of 8 ranks reads ~2.5 experts where the mean reads 1
    r = infer("deepseek-v3", "h200", tp=1, dp=8, ep=8, batch=1, **DS)
    ops = r.operators("decode")
    experts = ops[ops["operator"] == "experts"].iloc[0]
    per_expert = 3 * 7168 * 2048 * (1 + 4 / 128**2)
    assert experts["weight_bytes"] / (58 * per_expert) == pytest.approx(2.54, abs=0.05)


def test_serving_search_picks_expert_parallelism_for_deepseek():
    m, c = load_model("deepseek-v3"), load_chip("h200")
    # 1,024 sequences on 8 H200: DP8 attention with EP8 beats every tensor-split MoE layout
    df = search_serving_layouts(m, c, 8, batch=1024, **DS)
    ok = df[df["ok"]]
    best = ok.iloc[0]
    assert best["ep"] == 8 and best["dp"] == 8 and best["chips_per_replica"] == 8
    tp_moe = ok[ok["ep"] == 1].iloc[0]
    assert best["tokens_per_s_per_chip"] > 1.01 * tp_moe["tokens_per_s_per_chip"]
    # at 256 sequences EP8 and the experts split over all 8 chips are within 1%: the
    # busiest expert rank's extra load cancels the cheaper exchange
    small = search_serving_layouts(m, c, 8, batch=256, **DS)
    ok = small[small["ok"]]
    ep_best = ok[ok["ep"] > 1].iloc[0]
    assert ep_best["tokens_per_s_per_chip"] > 0.99 * ok.iloc[0]["tokens_per_s_per_chip"]
    assert (ok["dp"].iloc[:4] > 1).all()  # DP attention either way


def test_continuous_ttft_carries_the_prompt():
    # at a low rate the first token needs the whole prompt's prefill, not a mean step
    cb = continuous("llama-3.1-8b", "h100", rate=0.5, prompt_len=4096, output_len=256,
                    token_budget=2048).frame.iloc[0]
    static = infer("llama-3.1-8b", "h100", batch=1, prompt_len=4096, output_len=256
                   ).frame.iloc[0]
    assert cb["ttft_s"] == pytest.approx(static["ttft_s"], rel=0.15)
    assert cb["ttft_s"] > 2 * 2 * cb["step_s"]  # two chunks, each heavier than a mean step
    # queueing grows it with the rate
    fast = continuous("llama-3.1-8b", "h100", rate=[1, 8], prompt_len=4096, output_len=256,
                      token_budget=2048).frame
    assert np.all(np.diff(fast["ttft_s"]) > 0)
