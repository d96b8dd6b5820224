"""Training at frontier scale: fp32 gradients, sequence-parallel norms, expert dispatch,
overlapped schedules and DualPipe, the published layouts of Llama 3.1 405B and DeepSeek-V3,
and the layout search's near-ties and robustness."""

import numpy as np
import pytest

from roofline.engine.network import moe_comm
from roofline.engine.scenario.cluster import Cluster
from roofline.engine.training import schedules
from roofline.engine.training.run import train
from roofline.engine.training.search import search_training_layouts
from roofline.specs.catalog import load_chip

DS = dict(count=2048, tp=1, pp=16, ep=64, zero=1, micro_batch=1, seq_len=4096,
          global_batch=15360, precision="fp8", optimizer="adam-bf16", recompute="selective",
          node_limit=4, tokens=14.8e12)


def _row(res):
    return res.frame.iloc[0]


def test_h800_is_an_h100_with_half_the_nvlink():
    h800, h100 = load_chip("h800"), load_chip("h100")
    assert h800.peak("bf16") == h100.peak("bf16") == 989.4e12
    assert h800.peak("fp8") == 1978.9e12
    assert h800.scale_up.bandwidth_per_direction == 200e9  # 400 GB/s bidirectional
    assert h800.scale_out.bandwidth_per_direction == 50e9  # 400 Gb/s NIC per GPU


def test_gradients_accumulate_in_fp32_by_default():
    kw = dict(count=8, tp=8, seq_len=4096, global_batch=8, zero=1)
    fp32 = _row(train("llama-3-8b", "h100", **kw))
    bf16 = _row(train("llama-3-8b", "h100", grad_dtype="bf16", **kw))
    assert fp32["gradients_bytes"] == pytest.approx(2 * bf16["gradients_bytes"])
    assert fp32["weights_bytes"] == bf16["weights_bytes"]
    # Megatron's distributed-optimizer table: bf16 params + fp32 grads = 6 + 12/d bytes
    psi = fp32["weights_bytes"] / 2
    assert (fp32["weights_bytes"] + fp32["gradients_bytes"]) / psi == pytest.approx(6.0)


def test_sequence_parallel_splits_norm_work():
    kw = dict(count=8, tp=8, seq_len=8192, global_batch=8, recompute="none")
    on = _row(train("llama-3-70b", "h100", sequence_parallel=True, **kw))
    off = _row(train("llama-3-70b", "h100", sequence_parallel=False, **kw))
    assert on["compute_s"] < off["compute_s"]  # norms and residuals / 8 under SP
    assert on["activation_bytes"] < off["activation_bytes"]


def test_fp8_dispatch_and_node_limit_cut_expert_traffic():
    c = Cluster(chip=load_chip("h800"), count=2048)
    # 64 ranks over 8 nodes: each token reaches 8 (1 - (7/8)^8) = 5.25 nodes, 7/8 remote
    assert float(moe_comm.remote_domains(8, 8)) == pytest.approx(8 * (1 - (7 / 8) ** 8) * 7 / 8)
    assert float(moe_comm.remote_domains(8, 8, node_limit=4)) == pytest.approx(3.5)
    bf16 = moe_comm.exchange_time(c, 4096, 7168, 8, 64, 1, 2.0)
    fp8 = moe_comm.exchange_time(c, 4096, 7168, 8, 64, 1, moe_comm.FP8_DISPATCH_BYTES)
    limited = moe_comm.exchange_time(c, 4096, 7168, 8, 64, 1, 2.0, node_limit=4)
    # scale-out bound: 4096 x 7168 x 2 B x 3.5 remote nodes over 50 GB/s
    assert float(limited) == pytest.approx(4096 * 7168 * 2 * 3.5 / 50e9 + 2 * 5e-6)
    assert float(fp8) == pytest.approx((float(bf16) - 1e-5) * 1.03125 / 2 + 1e-5)
    assert float(limited) < float(bf16)


def test_dualpipe_bubble_is_the_reports_formula():
    # DeepSeek-V3 Table 2: (PP/2 - 1)(F&B + B - 3W), F&B = F + B, W = B/2
    F, B = 1.0, 2.0
    assert float(schedules.bubble(2, 16, 1, 3.0, F, B)) == pytest.approx(7 * (3 + 2 - 3))
    assert float(schedules.bubble(0, 16, 1, 3.0, F, B)) == pytest.approx(15 * 3.0)  # 1F1B
    assert float(schedules.bubble(0, 16, 2, 3.0, F, B)) == pytest.approx(7.5 * 3.0)


def test_overlapped_schedules_hide_expert_all_to_all():
    res = train("deepseek-v3", "h800", schedule=["1f1b", "1f1b-overlap", "dualpipe"], **DS)
    f = res.frame
    plain, overlap, dual = (f.iloc[i] for i in range(3))
    assert plain["ep_comm_s"] > 0.2 * plain["step_time_s"]  # on the critical path
    # overlapped 1F1B hides the steady state: m - p of the 120 micro-batches
    assert overlap["ep_comm_s"] < 0.2 * plain["ep_comm_s"]
    assert dual["ep_comm_s"] == 0 and dual["pp_comm_s"] == 0
    # overlapped kernels give 20 of 132 SMs to communication
    assert overlap["compute_s"] > plain["compute_s"]
    assert dual["bubble_s"] < overlap["bubble_s"]
    assert f["schedule"].tolist() == ["1f1b", "1f1b-overlap", "dualpipe"]


def test_dualpipe_rules():
    kw = {**DS, "pp": 1, "ep": 64, "count": 128}
    with pytest.raises(Exception, match="DualPipe needs an even pp"):
        train("deepseek-v3", "h800", schedule="dualpipe", **kw)
    with pytest.raises(Exception, match="DualPipe does not interleave"):
        train("deepseek-v3", "h800", schedule="dualpipe", interleave=2,
              **{**DS, "global_batch": 128 * 32})
    with pytest.raises(Exception, match="even number of micro-batches"):
        train("deepseek-v3", "h800", schedule="dualpipe", **{**DS, "global_batch": 128 * 15})
    with pytest.raises(Exception, match="schedule"):
        train("deepseek-v3", "h800", schedule="gpipe", **DS)


def test_llama3_405b_published_layouts_fit_in_80gb():
    # Llama 3 paper (Dubey et al. 2024) Table 4: TP8 CP1 PP16 DP64 / TP8 CP1 PP16 DP128 at
    # 8K, TP8 CP16 PP16 DP8 at 131K; 16M tokens per batch; bf16, FSDP sharding optimizer
    # states and gradients (ZeRO-2), fp32 gradient reduction, no activation checkpointing.
    rows = [(8192, 1, 8192, 2048), (16384, 1, 8192, 2048), (16384, 16, 131072, 128)]
    for count, cp, seq, gb in rows:
        r = _row(train("llama-3.1-405b", "h100", count=count, tp=8, pp=16, cp=cp, zero=2,
                       micro_batch=1, seq_len=seq, global_batch=gb, recompute="none"))
        assert r["fits"] and 70e9 < r["memory_bytes"] < 80e9, (count, cp, r["memory_bytes"])


def test_deepseek_v3_pretraining_layout_fits_and_costs():
    # DeepSeek-V3 report: PP16 DualPipe, EP64 over 8 nodes, ZeRO-1, FP8, 2,048 H800, 4K
    # sequences, batch 15,360, node-limited routing (4 nodes), bf16 Adam moments, RMSNorm
    # and MLA up-projection recomputed; 2.664M H800-hours for 14.8T tokens.
    r = _row(train("deepseek-v3", "h800", schedule="dualpipe", **DS))
    assert r["fits"] and r["memory_bytes"] < 80e9
    assert r["ep_comm_s"] == 0
    ratio = r["chip_hours"] / 2.664e6
    # 1.97M predicted: 26% optimistic, short of the 20% (docs/training.md lists the
    # terms modelled - DualPipe bubble and SM share, fp8 dispatch under node-limited
    # routing, MTP, selective recompute, fp8 input casts, token permutation, the busiest
    # expert rank - and what is not)
    assert 0.70 < ratio < 0.80
    # the same layout under plain 1F1B does not fit the bubble-free budget: slower
    plain = _row(train("deepseek-v3", "h800", schedule="1f1b", **DS))
    assert plain["step_time_s"] > 2 * r["step_time_s"]


def test_busiest_expert_rank_at_batch_one():
    # 8 experts of 256 on 8 ranks of 32: the busiest reads 2.54 experts, not 1
    _, touched = moe_comm.busiest_rank(1, 8, 256, 8)
    assert float(touched) == pytest.approx(2.544, abs=0.01)
    assert float(moe_comm.expected_max_binomial(32, 1 / 32, 8)) == pytest.approx(2.544, abs=1e-3)
    # large batches even out
    p_big, t_big = moe_comm.busiest_rank(4096, 8, 256, 8)
    assert 1.0 <= float(p_big) < 1.05 and float(t_big) == pytest.approx(1.0)
    # redundant experts (EPLB) shrink the excess
    _, half = moe_comm.busiest_rank(1, 8, 256, 8, redundant=128)
    assert float(half) == pytest.approx(1 + (2.544 - 1) / 2, abs=0.01)
    assert np.all(moe_comm.expected_max_binomial([0, 4, 4], [0.5, 0.0, 1.0], 8) == [0, 0, 4])


@pytest.mark.parametrize("count", [512, 4096])
def test_search_gpt4_top_layouts_with_near_ties_and_robustness(count):
    df = search_training_layouts("gpt-4", "h100", count, seq_len=8192, global_batch=2048)
    ok = df[df["ok"]]
    top = ok.iloc[0]
    assert top["tp"] <= 8 and top["near_tie"]
    assert set(df["schedule"]) == {"1f1b", "1f1b-overlap", "dualpipe"}
    assert {1, 2, 4} <= set(df["interleave"])
    assert set(df["recompute"]) == {"none", "selective", "full"}
    ties = ok[ok["near_tie"]]
    assert (ties["step_time_s"] <= top["step_time_s"] * 1.05).all() and len(ties) > 1
    assert df.attrs["robustness"].startswith(("robust", "sensitive"))
    assert ok["step_time_pessimistic_s"].iloc[:20].notna().all()
    assert (ok["step_time_pessimistic_s"].iloc[:20] >= ok["step_time_s"].iloc[:20]).all()
    if count == 4096:  # room enough: ZeRO-1, TP within the node, EP across nodes, DualPipe
        assert top["zero"] == 1 and top["schedule"] == "dualpipe" and top["pp"] > 1
        assert top["ep"] * top["tp"] * top["cp"] > 8
