"""Dask scale-out: the grid is built on the workers from its axes, and reductions (top-k,
Pareto front, group aggregates) equal the same reductions of the local table."""

import numpy as np
import pandas as pd
import pytest

import roofline
from roofline import scale_out

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")

# 7936 + the default 256 output tokens = llama-3-8b's 8,192-token window (beyond it a row is
# flagged invalid)
AXES = dict(batch=[1, 4, 16, 64, 256], prompt_len=[512, 2048, 7936], tp=[1, 2, 4, 8])


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def local() -> pd.DataFrame:
    return roofline.sweep(["llama-3-8b", "qwen3-30b-a3b"], "h100", progress=False,
                          **AXES).frame


def test_chunks_rebuild_the_grid_in_c_order():
    chunks = scale_out.plan("llama-3-8b", "h100", chunk_rows=7, **AXES)
    assert len(chunks) == -(-60 // 7) and chunks[-1].hi == 60
    rows = pd.DataFrame({k: np.concatenate([c.grid()[k] for c in chunks]) for k in AXES})
    want = roofline.grid(**AXES)
    for k in AXES:
        assert rows[k].tolist() == want[k].tolist()


def test_dask_frame_equals_the_local_table(client, local):
    table = scale_out.scenarios(["llama-3-8b", "qwen3-30b-a3b"], "h100", chunk_rows=13,
                                **AXES)
    assert table.npartitions == 2 * -(-60 // 13)
    got = table.compute().reset_index(drop=True)
    assert len(got) == len(local) == 120
    for col in ("tpot_s", "ttft_s", "memory_bytes", "batch", "tp"):
        np.testing.assert_array_equal(got[col].to_numpy(), local[col].to_numpy())
    assert got["model"].tolist() == local["model"].astype(str).tolist()


def test_top_k_is_reduced_on_the_workers(client, local):
    table = scale_out.scenarios(["llama-3-8b", "qwen3-30b-a3b"], "h100", chunk_rows=13,
                                **AXES)
    best = scale_out.top_k(table, 5, by="tpot_s")
    ok = local[local["valid"] & local["fits"]]
    assert best["tpot_s"].tolist() == ok.nsmallest(5, "tpot_s")["tpot_s"].tolist()
    most = scale_out.top_k(table, 3, by="decode_tokens_per_s", ascending=False)
    assert most["decode_tokens_per_s"].tolist() == ok.nlargest(3, "decode_tokens_per_s")[
        "decode_tokens_per_s"].tolist()


def test_pareto_front_of_fronts_is_the_front(client, local):
    table = scale_out.scenarios(["llama-3-8b", "qwen3-30b-a3b"], "h100", chunk_rows=13,
                                **AXES)
    front = scale_out.pareto(table, "tpot_s", "decode_tokens_per_s", minimize_y=False)
    ok = local[local["valid"] & local["fits"]]
    want = scale_out.pareto_front(ok, "tpot_s", "decode_tokens_per_s", minimize_y=False)
    assert front["tpot_s"].tolist() == want["tpot_s"].tolist()
    # no row of the whole table beats a front row on both objectives
    for _, r in front.iterrows():
        beats = (ok["tpot_s"] <= r["tpot_s"]) & (ok["decode_tokens_per_s"] >= r[
            "decode_tokens_per_s"]) & ((ok["tpot_s"] < r["tpot_s"]) | (
                ok["decode_tokens_per_s"] > r["decode_tokens_per_s"]))
        assert not beats.any()


def test_group_aggregates(client, local):
    table = scale_out.scenarios(["llama-3-8b", "qwen3-30b-a3b"], "h100", chunk_rows=13,
                                **AXES)
    agg = scale_out.aggregate(table, "model", only_fit=True, best_tpot_s=("tpot_s", "min"),
                              scenarios=("tpot_s", "count"))
    ok = local[local["valid"] & local["fits"]]
    want = ok.groupby("model", observed=True)["tpot_s"].agg(["min", "count"])
    for model in ("llama-3-8b", "qwen3-30b-a3b"):
        assert agg.loc[model, "best_tpot_s"] == want.loc[model, "min"]
        assert agg.loc[model, "scenarios"] == want.loc[model, "count"]


def test_parquet_written_from_the_workers(client, tmp_path, local):
    table = scale_out.scenarios("llama-3-8b", "h100", chunk_rows=25, **AXES)
    table.to_parquet(tmp_path / "sweep")
    back = pd.read_parquet(tmp_path / "sweep")
    assert len(back) == 60 and sorted(back["tpot_s"]) == sorted(
        local[local["model"] == "llama-3-8b"]["tpot_s"])
