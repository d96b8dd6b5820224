"""Parameter counts against official figures and hand arithmetic."""

import re
from pathlib import Path

import pytest
import yaml

import roofline
from roofline.specs import catalog
from roofline.specs.params import attention_params, count_params, mla_params

DATA = Path(__file__).parent / "data"
MODELS = catalog.models()


def _tolerance(raw: object, value: float) -> float:
    """1% of the official figure plus one unit in its last printed digit.

    A figure printed as "37B" cannot be checked more closely than the digit it was rounded
    (or truncated) to; exact figures (integers) get the plain 1%.
    """
    text = str(raw)
    m = re.fullmatch(r"\s*(\d+)(?:\.(\d+))?\s*([KMBT])\s*", text)
    if not m:
        return 0.01 * value
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[m.group(3)]
    return 0.01 * value + scale * 10.0 ** -len(m.group(2) or "")


def _raw_published(model) -> dict:
    path = catalog.catalog_dir("models") / f"{model.name}.yaml"
    return yaml.safe_load(path.read_text())["published"]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_total_and_active_match_published(model):
    p = model.params()
    raw = _raw_published(model)
    pub = model.published
    assert abs(p.total - pub.total_params) <= _tolerance(raw["total_params"], pub.total_params)
    if pub.active_params:
        active = p.active - (p.embedding if pub.active_excludes_input_embedding else 0)
        tol = _tolerance(raw["active_params"], pub.active_params)
        assert abs(active - pub.active_params) <= tol
    assert p.active <= p.total
    assert p.total == sum(v for k, v in p.breakdown().items()
                          if k not in ("total", "active", "non_embedding", "active_routed",
                                       "mtp"))


# Exact counts of the released checkpoints (HF safetensors metadata: "Model size").
EXACT = {
    "llama-3-8b": 8_030_261_248,     # meta-llama/Meta-Llama-3-8B
    "llama-2-7b": 6_738_415_616,     # meta-llama/Llama-2-7b-hf
    "mistral-7b": 7_241_732_096,     # mistralai/Mistral-7B-v0.1
    "mixtral-8x7b": 46_702_792_704,  # mistralai/Mixtral-8x7B-v0.1
    "gpt2-xl": 1_557_611_200,        # openai-community/gpt2-xl
    "llama-3.1-405b": 405_853_388_800,
}


@pytest.mark.parametrize(("name", "total"), EXACT.items())
def test_exact_checkpoint_counts(name, total):
    assert roofline.load_model(name).params().total == total


def test_gpt2_xl_by_hand():
    # h=1600, L=48, V=50257, 1024 learned positions, LayerNorm, all biases, tied.
    h, L, V, P = 1600, 48, 50257, 1024
    per_layer = (4 * h * h + 4 * h) + (8 * h * h + 5 * h) + 2 * 2 * h
    assert roofline.load_model("gpt2-xl").params().total == (V + P) * h + L * per_layer + 2 * h


def test_deepseek_v3_components_by_hand():
    m = roofline.load_model("deepseek-v3")
    p = m.params()
    h, a = 7168, 128
    mla = (h * 1536 + 1536 + 1536 * a * 192) + (h * (512 + 64) + 512 + 512 * a * 256) + a * 128 * h
    assert mla_params(h, a, m.mla) == mla
    assert p.attention == 61 * mla
    expert = 3 * h * 2048
    assert p.experts_routed == 58 * 256 * expert and p.active_routed == 58 * 8 * expert
    assert p.experts_shared == 58 * expert
    assert p.mlp == 3 * 3 * h * 18432
    assert p.mtp > 11e9  # one MTP module: a full MoE block, counted apart from the 671B


def test_gqa_attention_by_hand():
    m = roofline.load_model("llama-3-70b")
    h, a, kv, d = 8192, 64, 8, 128
    assert attention_params(h, m.attention, m.head_dim) == 2 * h * a * d + 2 * h * kv * d


@pytest.mark.parametrize(("fixture", "catalog_name"), [
    ("llama.json", "llama-3-8b"), ("mistral.json", "mistral-7b"),
    ("mixtral.json", "mixtral-8x7b"), ("gpt2.json", "gpt2-xl"),
    ("qwen2.json", "qwen2.5-72b"), ("qwen3.json", "qwen3-8b"),
    ("qwen3_moe.json", "qwen3-30b-a3b"), ("deepseek_v3.json", "deepseek-v3"),
    ("gemma2.json", "gemma-2-27b"), ("gpt_oss.json", "gpt-oss-20b"),
    ("mamba.json", "mamba-2.8b"),
])
def test_hf_config_matches_catalog(fixture, catalog_name):
    hf = roofline.from_hf_config(DATA / "hf_configs" / fixture)
    ref = roofline.load_model(catalog_name)
    assert count_params(hf).breakdown() == count_params(ref).breakdown()
    assert hf.mixers() == ref.mixers() and hf.ffns() == ref.ffns()


def test_hf_config_from_dict_and_layer_patterns():
    cfg = {"model_type": "gemma2", "hidden_size": 64, "num_hidden_layers": 4, "vocab_size": 100,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
           "intermediate_size": 128, "sliding_window": 32}
    m = roofline.from_hf_config(cfg, name="tiny-gemma")
    assert m.mixers() == ["sliding_attention", "full_attention"] * 2
    assert m.tie_word_embeddings and m.norms_per_layer == 4
    assert m.params().lm_head == 0


def test_moe_layer_pattern_jamba_style():
    m = roofline.load_model("jamba-1.5-mini")
    assert m.mixers()[:8] == ["mamba"] * 4 + ["full_attention"] + ["mamba"] * 3
    assert m.ffns()[:4] == ["dense", "moe", "dense", "moe"]
