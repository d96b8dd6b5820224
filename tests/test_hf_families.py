"""Every supported Hugging Face family against real config.json files and published sizes.

Each fixture in tests/data/hf_configs carries ``_source`` (the checkpoint's config.json),
``_provenance`` (where the copy here was taken from) and ``_published`` (the size the
model's authors state, with its source); the mapper ignores keys starting with ``_``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import roofline
from roofline.engine.scenario.precision import get_precision
from roofline.errors import SpecError
from roofline.specs.hf import FAMILIES, import_hf_config
from roofline.specs.params import count_params
from roofline.specs.units import parse_quantity

DATA = Path(__file__).parent / "data" / "hf_configs"
FIXTURES = sorted(DATA.glob("*.json"))
PUBLISHED = [p for p in FIXTURES if "_published" in json.loads(p.read_text())]

#: Fixtures whose count is known to differ from the published figure by more than the
#: figure's rounding, with the measured error (total, active) and why.
KNOWN: dict[str, tuple[float, float | None, str]] = {
    "kimi-k2": (-0.0131, 0.0080, "the report's 1.04T; the card rounds to 1T (models/kimi-k2.yaml)"),
    "ernie-4.5-21b-a3b": (0.0393, 0.1174, "the headline 21B / 3B; the counted 21.8B / 3.35B "
                                          "follow the config.json"),
    "mimo-7b": (0.0889, None, "the headline 7B; the main model counts 7.62B (+0.42B MTP)"),
    "deepseek-v2-lite": (0.0004, 0.0214, "the paper's 2.4B activated (2.45B counted without "
                                         "the input embedding)"),
    "qwen3_moe": (0.0011, 0.0161, "Qwen's 3.3B activated (3.35B counted)"),
}


def _figure(text: Any) -> tuple[float, float]:
    """A published count and its rounding: half a unit in its last digit ("17B" +-0.5B)."""
    value = parse_quantity(text, "count")
    s = str(text).strip()
    digits = s.rstrip("KMBTkmbt ").split(".")
    if isinstance(text, int | float) or not s[-1:].isalpha():
        return value, 0.0
    scale = value / float(s.rstrip("KMBTkmbt "))
    decimals = len(digits[1]) if len(digits) == 2 else 0
    return value, 0.5 * scale * 10.0 ** -decimals


def _errors(path: Path) -> tuple[float, float, float | None, float]:
    """(total error, its rounding tolerance, active error or None, its tolerance)."""
    cfg = json.loads(path.read_text())
    pub = cfg["_published"]
    imp = import_hf_config(path)
    c = count_params(imp.spec)
    total = c.total + (sum(n for *_, n in imp.towers) if pub.get("includes_encoders") else 0)
    t, t_round = _figure(pub["total_params"])
    active_err = active_tol = None
    if "active_params" in pub:
        both = pub.get("active_excludes_embeddings", False)
        active = c.active - (c.embedding if both or pub.get("active_excludes_input_embedding")
                             else 0) - (c.lm_head if both else 0)
        a, a_round = _figure(pub["active_params"])
        active_err, active_tol = active / a - 1, a_round / a
    return total / t - 1, t_round / t, active_err, active_tol or 0.0


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_published_sizes(path: Path) -> None:
    """Total (and active for MoE) within 1% of the published figure, or within the
    figure's own rounding where it is a headline ("17B"), or at its recorded deviation."""
    total, t_tol, active, a_tol = _errors(path)
    if path.stem in KNOWN:
        want_t, want_a, _ = KNOWN[path.stem]
        assert total == pytest.approx(want_t, abs=1e-4)
        if want_a is not None:
            assert active == pytest.approx(want_a, abs=1e-4)
        return
    assert abs(total) <= max(0.01, t_tol), f"total off by {total:+.2%}"
    if active is not None:
        assert abs(active) <= max(0.01, a_tol), f"active off by {active:+.2%}"


def test_load_rate_within_two_percent() -> None:
    """The issue's bar: >= 90% of a varied set of real config.json files load, each within
    2% of its published size (strict 2%, no allowance for rounded figures)."""
    ok = 0
    for p in PUBLISHED:
        total, _, active, _ = _errors(p)
        ok += abs(total) <= 0.02 and (active is None or abs(active) <= 0.02)
    assert len(PUBLISHED) >= 70
    assert ok / len(PUBLISHED) >= 0.90


def test_every_family_has_a_fixture() -> None:
    families = {f.model_type for f in FAMILIES.values()}
    seen = {import_hf_config(p).family for p in FIXTURES}
    assert families == seen
    assert len(families) >= 35


#: Catalog models and the config.json fixture they were written from. Mixtral-8x22B-v0.1's
#: base config.json reads vocab_size 32000; the catalog follows the Instruct config's 32768
#: (models/mixtral-8x22b.yaml), so it has no round trip here.
ROUND_TRIP = {
    "llama.json": "llama-3-8b", "llama-3.1-8b.json": "llama-3.1-8b",
    "llama-2-7b.json": "llama-2-7b", "llama-2-70b.json": "llama-2-70b",
    "llama-3-70b.json": "llama-3-70b", "llama-3.1-70b.json": "llama-3.1-70b",
    "llama-3.1-405b.json": "llama-3.1-405b", "mistral.json": "mistral-7b",
    "mixtral.json": "mixtral-8x7b",
    "gpt2.json": "gpt2-xl", "qwen2.json": "qwen2.5-72b", "qwen3.json": "qwen3-8b",
    "qwen3_moe.json": "qwen3-30b-a3b", "qwen3-235b-a22b.json": "qwen3-235b-a22b",
    "deepseek_v3.json": "deepseek-v3", "kimi-k2.json": "kimi-k2",
    "gemma2.json": "gemma-2-27b", "gemma-2-9b.json": "gemma-2-9b",
    "gpt_oss.json": "gpt-oss-20b", "gpt-oss-120b.json": "gpt-oss-120b",
    "mamba.json": "mamba-2.8b", "internlm2.5-7b.json": "internlm2.5-7b",
    "jamba-1.5-mini.json": "jamba-1.5-mini", "jamba-1.5-large.json": "jamba-1.5-large",
    "falcon-180b.json": "falcon-180b", "bloom-176b.json": "bloom-176b",
}


@pytest.mark.parametrize(("fixture", "name"), ROUND_TRIP.items())
def test_catalog_round_trip(fixture: str, name: str) -> None:
    """A catalog model's own config.json gives the same counts, layer pattern and stored
    precision as its YAML."""
    hf = import_hf_config(DATA / fixture).spec
    ref = roofline.load_model(name)
    assert count_params(hf).breakdown() == count_params(ref).breakdown()
    assert hf.mixers() == ref.mixers() and hf.ffns() == ref.ffns()
    assert get_precision("native", hf.quantization) == get_precision("native", ref.quantization)


def test_deepseek_v3_config_costs_in_fp8_like_the_catalog() -> None:
    """DeepSeek-V3's config.json ships fp8 weights: it fits where the catalog entry fits."""
    p = get_precision("native", roofline.load_model(DATA / "deepseek_v3.json").quantization)
    assert p.weights.dtype == "fp8" and p.weights.group_size == 128 * 128
    assert p.weight_format("lm_head").dtype == "bf16"
    hf = roofline.fit(DATA / "deepseek_v3.json", "h200", 8).frame.iloc[0]
    ref = roofline.fit("deepseek-v3", "h200", 8).frame.iloc[0]
    assert hf["fits"] and ref["fits"]
    # 6 H200 at vLLM's 90% memory utilisation (5 with a 1 GiB reserve; 10 in bf16)
    assert hf["min_chips"] == ref["min_chips"] == 6
    assert hf["weights_total_bytes"] == pytest.approx(ref["weights_total_bytes"])


def test_nemotron_nas_blocks_hand_count() -> None:
    """Super-49B's first two blocks: one attention (kv = 64 / 8), two FFNs of widths
    14336 (mult 2.625) and 5632 (mult 1.0, 5461 rounded up to 256), folded into one layer.
    2 x 8192^2 + 2 x 8192 x 1024 + 3 x 8192 x 19968 + 2 x 128256 x 8192 + 3 x 8192."""
    imp = import_hf_config(DATA / "nemotron-super-49b-excerpt.json")
    assert imp.spec.num_hidden_layers == 1 and imp.spec.attention.kv_heads == 8
    assert imp.spec.mlp.intermediate_size == 14336 + 5632
    expected = (2 * 8192**2 + 2 * 8192 * 1024 + 3 * 8192 * 19968 + 2 * 128256 * 8192
                + 3 * 8192)
    assert count_params(imp.spec).total == expected
    assert any("block_configs: 2 blocks -> 1 attention layers" in a for a in imp.assumptions)


def test_layer_patterns_from_config() -> None:
    scout = import_hf_config(DATA / "llama-4-scout.json").spec
    assert scout.mixers()[:4] == ["sliding_attention"] * 3 + ["full_attention"]
    assert scout.attention.sliding_window == 8192 and set(scout.ffns()) == {"moe"}
    maverick = import_hf_config(DATA / "llama-4-maverick.json").spec
    assert maverick.ffns()[:4] == ["dense", "moe", "dense", "moe"]
    nxt = import_hf_config(DATA / "qwen3-next-80b-a3b.json").spec
    assert nxt.mixers()[:4] == ["mamba"] * 3 + ["full_attention"]
    nh = import_hf_config(DATA / "nemotron-h-56b.json").spec  # the paper: 54 M, 10 *, 54 -
    assert nh.mixers().count("mamba") == 54 and nh.mixers().count("full_attention") == 10
    assert nh.ffns().count("dense") == 54
    g3 = import_hf_config(DATA / "gemma-3-1b.json").spec  # 26 layers, pattern of 6
    assert g3.mixers().count("full_attention") == 4 and g3.mixers()[5] == "full_attention"
    ex = import_hf_config(DATA / "exaone-4.0-32b.json").spec
    assert ex.mixers()[:4] == ["sliding_attention"] * 3 + ["full_attention"]


def test_multimodal_towers_counted_apart() -> None:
    imp = import_hf_config(DATA / "llava-1.5-7b.json")
    assert imp.spec.model_type == "llama" and imp.family == "llama"
    (name, modality, n), = imp.towers
    assert (name, modality) == ("vision", "vision") and 0.28e9 < n < 0.33e9  # CLIP ViT-L/14
    assert imp.spec.encoders[0].params == n
    assert count_params(imp.spec).total == pytest.approx(6.74e9, rel=0.01)  # the text model
    assert any("not costed" in a for a in imp.assumptions)
    assert any("config class defaults" in a for a in imp.assumptions)


def test_kv_cache_follows_the_layer_pattern() -> None:
    """Hybrid configs keep KV only on their attention layers (Jamba 1 in 8)."""
    m = import_hf_config(DATA / "jamba-1.5-mini.json").spec
    assert m.mixers().count("full_attention") == 4
    assert math.isclose(sum(x == "mamba" for x in m.mixers()) / 32, 28 / 32)


def test_docs_list_every_family() -> None:
    """docs/specs.md's family table names every supported model_type."""
    text = (Path(__file__).parent.parent / "docs" / "specs.md").read_text()
    missing = [t for t in {f.model_type for f in FAMILIES.values()} if f"| `{t}` |" not in text]
    assert not missing


def test_every_fixture_costs_through_the_engine() -> None:
    """Each imported config runs one serving scenario to finite, positive figures."""
    for p in FIXTURES:
        f = roofline.infer(p, "h200", batch=1, prompt_len=256, output_len=16).frame.iloc[0]
        for col in ("ttft_s", "tpot_s", "memory_bytes"):
            assert math.isfinite(f[col]) and f[col] > 0, (p.stem, col)


def test_per_layer_moe_lists() -> None:
    """HunYuan gives top-k, expert width and shared experts per layer: 32 equal entries
    read as one value; lists that differ are refused, naming the field."""
    imp = import_hf_config(DATA / "hunyuan-a13b.json")
    moe = imp.spec.moe
    assert (moe.num_experts, moe.num_experts_per_tok, moe.moe_intermediate_size) == (64, 8, 3072)
    assert moe.n_shared_experts == 1 and moe.shared_intermediate == 3072
    cfg = json.loads((DATA / "hunyuan-a13b.json").read_text())
    cfg["moe_topk"] = [8] * 31 + [4]
    with pytest.raises(SpecError, match="moe_topk"):
        import_hf_config(cfg)


def test_latent_moe_with_modelopt_sidecar() -> None:
    """Nemotron 3 Super: LatentMoE folded exactly (120B / 12B as published) and FP8 read
    from the hf_quant_config.json beside its config.json (weights and KV cache)."""
    path = DATA / "nemotron-3-super-120b-a12b-fp8" / "config.json"
    total, t_tol, active, a_tol = _errors(path)
    assert abs(total) <= max(0.01, t_tol) and active is not None
    assert abs(active) <= max(0.01, a_tol)
    imp = import_hf_config(path)
    assert imp.spec.moe.moe_intermediate_size == 2688 * 1024 // 4096  # width x latent / h
    assert imp.spec.moe.shared_intermediate == 5376 + 1024
    assert any("LatentMoE" in a for a in imp.assumptions)
    p = get_precision("native", imp.spec.quantization)
    assert p.weights.dtype == "fp8" and p.kv_cache.dtype == "fp8"


def test_modelopt_export_without_quant_method() -> None:
    """A ModelOpt FP8 export names only its producer and quant_algo in quantization_config:
    read as ModelOpt, lm_head (its ``ignore``) kept in bf16, the FP8 KV scheme honoured."""
    p = get_precision("native", roofline.load_model(DATA / "qwen3-32b-fp8-static.json")
                      .quantization)
    assert p.weights.dtype == "fp8" and p.weight_format("lm_head").dtype == "bf16"
    assert p.kv_cache.dtype == "fp8"


def test_nemotron_blocks_listed_by_name() -> None:
    """Nemotron 3 Ultra lists ``layers_block_type`` and no num_hidden_layers: read as the
    same block string (mamba / attention / moe)."""
    spec = import_hf_config(DATA / "nemotron-3-ultra-550b-a55b.json").spec
    cfg = json.loads((DATA / "nemotron-3-ultra-550b-a55b.json").read_text())
    blocks = cfg["layers_block_type"]
    assert spec.mixers().count("mamba") == blocks.count("mamba")
    assert spec.mixers().count("full_attention") == blocks.count("attention")
    assert spec.ffns().count("moe") == blocks.count("moe")


def test_nvfp4_checkpoint_costed_at_its_stored_precision() -> None:
    """nvidia/Qwen3-235B-A22B-NVFP4 (ModelOpt, hf_quant_config.json beside config.json):
    4-bit weights with an E4M3 scale per 16, routers and lm_head kept bf16 as the file
    says, fp8 KV; one B200 holds the weights where the bf16 checkpoint needs three."""
    path = DATA / "qwen3-235b-a22b-nvfp4" / "config.json"
    p = get_precision("native", roofline.load_model(path).quantization)
    assert (p.weights.dtype, p.weights.group_size, p.weights.scale_bytes) == ("fp4", 16, 1.0)
    assert p.weight_format("lm_head").dtype == "bf16" and p.kv_cache.dtype == "fp8"
    fp4 = roofline.fit(path, "b200", 8).frame.iloc[0]
    bf16 = roofline.fit(DATA / "qwen3-235b-a22b.json", "b200", 8).frame.iloc[0]
    n = count_params(import_hf_config(path).spec).total
    assert fp4["weights_total_bytes"] == pytest.approx(n * (0.5 + 1 / 16), rel=0.03)
    assert fp4["min_chips"] == 1 and bf16["min_chips"] >= 3
