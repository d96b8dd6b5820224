"""Importing config.json: the quantisation a checkpoint ships, unknown model types, the
explicit ``as_family`` mapping and ``roofline import-hf``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import roofline
from roofline.cli import main
from roofline.engine.scenario.precision import get_precision
from roofline.errors import SpecError
from roofline.specs.hf import import_hf_config
from roofline.specs.loading import load_yaml_spec
from roofline.specs.model import ModelSpec
from roofline.specs.params import count_params

DATA = Path(__file__).parent / "data" / "hf_configs"


def _llama(**extra: Any) -> dict[str, Any]:
    cfg = json.loads((DATA / "llama-3.1-8b.json").read_text())
    return {**cfg, **extra}


def _stored(q: dict[str, Any]) -> roofline.Precision:
    return get_precision("native", import_hf_config(_llama(quantization_config=q)).spec
                         .quantization)


def test_fp8_block_and_per_tensor() -> None:
    block = _stored({"quant_method": "fp8", "weight_block_size": [128, 128],
                     "activation_scheme": "dynamic"})
    assert block.weights.bytes_per_element == pytest.approx(1 + 4 / 128**2)  # fp32 scale/block
    assert block.activations == "fp8" and block.weight_format("lm_head").dtype == "bf16"
    tensor = _stored({"quant_method": "fp8", "activation_scheme": "static"})
    assert tensor.weights.bytes_per_element == 1.0


def test_compressed_tensors_fp8_nvfp4_and_ignore_list() -> None:
    fp8 = _stored({"quant_method": "compressed-tensors", "format": "float-quantized",
                   "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
                       "num_bits": 8, "type": "float", "strategy": "channel"},
                       "input_activations": {"num_bits": 8, "type": "float",
                                             "strategy": "token", "dynamic": True}}},
                   "ignore": ["lm_head"], "kv_cache_scheme": {"num_bits": 8, "type": "float"}})
    assert fp8.weights.dtype == "fp8" and fp8.activations == "fp8"
    assert fp8.kv_cache.dtype == "fp8" and fp8.weight_format("lm_head").dtype == "bf16"
    nv = _stored({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
                  "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
                      "num_bits": 4, "type": "float", "strategy": "tensor_group",
                      "group_size": 16}, "input_activations": {"num_bits": 4,
                                                               "type": "float"}}},
                  "ignore": ["lm_head", "re:.*self_attn.*"]})
    assert nv.weights.bytes_per_element == pytest.approx(0.5 + 1 / 16)  # fp8 scale per 16
    assert nv.weight_format("attention").dtype == "bf16" and nv.activations == "fp4"
    assert nv.weight_format("mlp").dtype == "fp4"


def test_awq_gptq_bitsandbytes() -> None:
    awq = _stored({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True,
                   "version": "gemm"})
    assert awq.weights.bytes_per_element == pytest.approx(0.5 + 4 / 128)  # scale + zero
    gptq = _stored({"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True,
                    "desc_act": False})
    assert gptq.weights.bytes_per_element == pytest.approx(0.5 + 2 / 128)  # no zero
    nf4 = _stored({"quant_method": "bitsandbytes", "load_in_4bit": True,
                   "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True})
    assert nf4.weights.bytes_per_element == pytest.approx(0.5 + (1 + 4 / 256) / 64)
    int8 = _stored({"quant_method": "bitsandbytes", "load_in_8bit": True,
                    "llm_int8_skip_modules": ["lm_head"]})
    assert int8.weights.dtype == "int8" and int8.weight_format("lm_head").dtype == "bf16"


def test_mxfp4_experts_only() -> None:
    spec = import_hf_config(DATA / "gpt-oss-120b.json").spec
    p = get_precision("native", spec.quantization)
    assert p.weight_format("experts").bytes_per_element == pytest.approx(0.5 + 1 / 32)
    assert p.weight_format("attention").dtype == "bf16"


def test_modelopt_sidecar_nvfp4(tmp_path: Path) -> None:
    """An NVFP4 checkpoint costs at its stored 4.5 bits, as the nvfp4 recipe does."""
    (tmp_path / "config.json").write_text(json.dumps(_llama()))
    (tmp_path / "hf_quant_config.json").write_text(json.dumps({
        "producer": {"name": "modelopt", "version": "0.29.0"},
        "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8",
                         "group_size": 16, "exclude_modules": ["lm_head"]}}))
    imp = import_hf_config(tmp_path / "config.json")
    p = get_precision("native", imp.spec.quantization)
    assert p.weights.name.startswith("NVFP4") and p.kv_cache.dtype == "fp8"
    assert any("hf_quant_config.json" in a for a in imp.assumptions)
    stored = roofline.fit(tmp_path / "config.json", "b200", 1).frame.iloc[0]
    recipe = roofline.fit("llama-3.1-8b", "b200", 1, precision="nvfp4").frame.iloc[0]
    assert stored["weights_total_bytes"] == pytest.approx(recipe["weights_total_bytes"])


def test_unmodelled_quantisation_is_noted_then_refused_at_cost_time() -> None:
    imp = import_hf_config(_llama(quantization_config={"quant_method": "hqq", "nbits": 4}))
    assert any("quantisation not modelled" in a for a in imp.assumptions)
    with pytest.raises(SpecError, match="'hqq' is not supported"):
        get_precision("native", imp.spec.quantization)


def test_unknown_model_type_names_nearest_and_needed_fields() -> None:
    cfg = {"model_type": "llamaish", "architectures": ["LlamaishForCausalLM"],
           "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
           "vocab_size": 1000}
    with pytest.raises(SpecError) as e:
        import_hf_config(cfg)
    text = str(e.value)
    assert "unsupported model_type 'llamaish'; nearest supported: llama" in text
    assert "as_family='llama'" in text and "--as llama" in text
    assert "missing here: intermediate_size" in text


def test_as_family_maps_and_lists_every_assumption() -> None:
    cfg = {"model_type": "acme", "hidden_size": 256, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 1000, "intermediate_size": 512}
    imp = import_hf_config(cfg, as_family="llama")
    assert imp.spec.model_type == "acme" and imp.family == "llama"
    assert any("read as llama" in a for a in imp.assumptions)
    assert any(a.startswith("hidden_act absent: 'silu'") for a in imp.assumptions)
    assert any(a.startswith("tie_word_embeddings") or "attention_bias" in a
               for a in imp.assumptions) or imp.spec.attention.attention_bias is False
    # 2 layers x (4 h^2 attention + 3 h x 512 MLP + 2 norms) + embeddings, head, final norm
    h = 256
    assert count_params(imp.spec).total == 2 * (4 * h * h + 3 * h * 512 + 2 * h) + 2 * 1000 * h + h
    with pytest.raises(SpecError, match="unknown family 'nope'"):
        import_hf_config(cfg, as_family="nope")


def test_cli_import_hf_writes_a_yaml_that_loads_back(tmp_path: Path, capsys) -> None:
    out = tmp_path / "models" / "llama-4-scout-mine.yaml"
    assert main(["import-hf", str(DATA / "llama-4-scout.json"), "-o", str(out)]) == 0
    text = out.read_text()
    assert "# assumption: multimodal" in text and "# vision tower (vision)" in text
    back = load_yaml_spec(ModelSpec, out)
    assert back.name == "llama-4-scout-mine"
    assert count_params(back).breakdown() == count_params(
        import_hf_config(DATA / "llama-4-scout.json").spec).breakdown()
    assert main(["import-hf", str(DATA / "llama-4-scout.json"), "-o", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


def test_cli_import_hf_as_family(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "acme", "hidden_size": 256,
                               "num_hidden_layers": 2, "num_attention_heads": 4,
                               "vocab_size": 1000, "intermediate_size": 512}))
    assert main(["import-hf", str(cfg)]) == 2
    assert "nearest supported" in capsys.readouterr().err
    assert main(["import-hf", str(cfg), "--as", "llama", "--name", "acme-1"]) == 0
    printed = capsys.readouterr().out
    assert "read as llama" in printed and "name: acme-1" in printed
