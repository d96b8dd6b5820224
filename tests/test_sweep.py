"""Sweeps: cartesian products as one tidy table (a Result), chunked, and on a Dask cluster."""

import numpy as np
import pandas as pd
import pytest

import roofline
from roofline.engine.planning.sweep import sweep


def test_cartesian_product_rows_and_values():
    df = sweep(["llama-3-8b", "mistral-7b"], ["h100", "mi300x"], precision=["bf16", "fp8"],
               batch=[1, 16, 64], prompt_len=[512, 2048], tp=[1, 2])
    assert len(df) == 2 * 2 * 2 * 3 * 2 * 2
    assert df.groupby(["model", "chip", "precision"], observed=True).size().eq(12).all()
    # Each row equals a single engine call with the same inputs.
    row = df[(df["model"] == "mistral-7b") & (df["chip"] == "amd-mi300x") &
             (df["precision"] == "fp8") & (df["batch"] == 16) & (df["prompt_len"] == 2048) &
             (df["tp"] == 2)].iloc[0]
    one = roofline.infer("mistral-7b", "mi300x", precision="fp8", batch=16, prompt_len=2048,
                         tp=2).frame.iloc[0]
    for col in ("ttft_s", "tpot_s", "memory_bytes", "decode_tokens_per_s"):
        assert row[col] == pytest.approx(one[col], rel=1e-12)


def test_chunking_gives_the_same_table():
    kw = dict(batch=list(range(1, 101)), prompt_len=[256, 1024, 4096], tp=[1, 2, 4])
    whole = sweep("llama-3-8b", "h100", **kw)
    chunked = sweep("llama-3-8b", "h100", chunk_rows=37, **kw)
    pd.testing.assert_frame_equal(whole.frame, chunked.frame)


def test_invalid_layouts_are_rows_with_reasons():
    df = sweep("llama-3-8b", "h100", tp=[1, 3])
    assert list(df["valid"]) == [True, False]
    assert "does not divide" in df["reason"].iloc[1]
    numbers = df.select_dtypes("number")
    assert np.isfinite(numbers.iloc[0].to_numpy()).all()  # the valid layout: real values
    assert np.isnan(df["tpot_s"].iloc[1]) and not df["fits"].iloc[1]  # no made-up numbers


def test_dask_local_cluster_matches_local_run():
    distributed = pytest.importorskip("distributed")
    kw = dict(batch=[1, 8, 32, 128], prompt_len=[512, 4096], chunk_rows=3)
    local = sweep(["llama-3-8b", "qwen3-30b-a3b"], "h200", **kw)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = sweep(["llama-3-8b", "qwen3-30b-a3b"], "h200", client=client, **kw)
    pd.testing.assert_frame_equal(local.frame, remote.frame)
