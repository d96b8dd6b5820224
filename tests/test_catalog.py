"""The shipped catalogs: size, sources, lookup, ridge points, DataFrames."""

import pandas as pd
import pytest

import roofline
from roofline.specs import catalog
from roofline.specs.chip import FIGURE_GROUPS
from roofline.specs.dtypes import Dtype

CHIPS = catalog.chips()
MODELS = catalog.models()


def test_catalog_sizes():
    assert len(CHIPS) >= 25
    assert len(MODELS) >= 25


@pytest.mark.parametrize("chip", CHIPS, ids=lambda c: c.name)
def test_every_chip_figure_has_a_source(chip):
    covered = {g for s in chip.sources for g in (s.covers or ())}
    for group in FIGURE_GROUPS:
        if getattr(chip, group) is not None:
            assert group in covered, f"{chip.name}: {group} has no source"
    assert all(s.url or len(s.title) > 10 for s in chip.sources)


@pytest.mark.parametrize("chip", CHIPS, ids=lambda c: c.name)
def test_ridge_point_per_dtype(chip):
    for dtype, peak in chip.peak_flops.items():
        assert chip.ridge_point(dtype) == pytest.approx(peak / chip.memory.bandwidth)
    # A dtype the chip lacks falls back to the next wider one it has.
    if Dtype.fp8 not in chip.peak_flops and Dtype.bf16 in chip.peak_flops:
        assert chip.resolve_dtype("fp8") == Dtype.bf16


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_every_model_cites_sources(model):
    assert model.sources and model.published is not None
    assert len(model.published.source) > 10


def test_h100_known_figures():
    h100 = roofline.load_chip("H100")  # alias, case-insensitive
    assert h100.name == "nvidia-h100-sxm"
    assert h100.peak_flops[Dtype.bf16] == pytest.approx(989.4e12, rel=0.01)  # dense, not 1979
    assert h100.memory.capacity == 80e9
    assert h100.scale_up.bandwidth_per_direction == 450e9  # 900 GB/s is both directions
    assert h100.ridge_point("bf16") == pytest.approx(989.4e12 / 3.35e12, rel=0.01)


def test_lookup_by_alias_and_path_agree():
    by_name = roofline.load_model("DeepSeek-R1")
    assert by_name.name == "deepseek-v3"
    path = catalog.catalog_dir("models") / "deepseek-v3.yaml"
    assert roofline.load_model(path) == by_name


def test_list_frames():
    chips = roofline.list_chips()
    models = roofline.list_models()
    assert isinstance(chips, pd.DataFrame) and isinstance(models, pd.DataFrame)
    assert set(chips["name"]) == {c.name for c in CHIPS}
    assert {"nvidia-h100-sxm", "amd-mi300x", "google-tpu-v5e"} <= set(chips["name"])
    row = models.set_index("name").loc["mixtral-8x7b"]
    assert row["attention"] == "GQA" and row["experts"] == 8 and row["experts_per_token"] == 2
    assert not chips["bf16_flops_per_s"].isna().all()


def test_cluster_yaml_form(tmp_path):
    p = tmp_path / "cluster.yaml"
    p.write_text("chip: h100\ncount: 512\nscale_out_bandwidth_per_direction: 800 Gb/s\n")
    c = roofline.load_cluster(p)
    assert c.count == 512 and c.domain == 8
    assert c.up_bw == 450e9 and c.out_bw == 100e9  # the override, in bytes/s
    bad = tmp_path / "bad.yaml"
    bad.write_text("chip: h100\ncount: 0\n")
    with pytest.raises(roofline.SpecError, match="count"):
        roofline.load_cluster(bad)
