"""Bad input gets one error type whose message names the file, the field, the line and the fix."""

import json
from pathlib import Path

import pytest

import roofline
from roofline import SpecError
from roofline.cli import main

DATA = Path(__file__).parent / "data"

GOOD_CHIP = """\
name: test-chip
vendor: test
release_year: 2024
form_factor: PCIe
peak_flops:
  bf16: 100 TFLOP/s
memory:
  capacity: 10 GB
  bandwidth: 1 TB/s
sources:
  - title: made up for a test
    covers: [peak_flops, memory]
"""


def _write(tmp_path: Path, text: str, name: str = "chip.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        roofline.load_chip(path)
    return info.value


def test_good_chip_loads_in_si_units(tmp_path):
    chip = roofline.load_chip(_write(tmp_path, GOOD_CHIP))
    assert chip.memory.bandwidth == 1e12
    assert chip.ridge_point("bf16") == pytest.approx(100.0)


def test_misspelt_key_names_file_field_line_and_suggests_fix():
    err = _error(DATA / "bad" / "misspelt.yaml")
    by_field = {p.field: p for p in err.problems}
    p = by_field["memory.bandwith"]
    assert p.source.endswith("misspelt.yaml") and p.line == 9
    assert "unknown field 'bandwith'; did you mean 'bandwidth'?" in str(err)
    assert by_field["memory.bandwidth"].message == "required field is missing"


def test_missing_field_and_misspelt_are_both_reported(tmp_path):
    text = GOOD_CHIP.replace("release_year: 2024\n", "").replace("vendor:", "vendr:")
    err = _error(_write(tmp_path, text))
    fields = {p.field for p in err.problems}
    assert {"release_year", "vendr", "vendor"} <= fields
    assert "required field is missing" in str(err)


def test_invalid_yaml_syntax_gives_line(tmp_path):
    err = _error(_write(tmp_path, GOOD_CHIP.replace("  bf16: 100 TFLOP/s", "  bf16: [100")))
    assert "invalid YAML" in str(err) and err.problems[0].line is not None


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("bandwidth: 1 TB/s", "bandwidth: -1 TB/s", "memory.bandwidth", "greater than 0"),
    ("bandwidth: 1 TB/s", "bandwidth: 0", "memory.bandwidth", "greater than 0"),
    ("capacity: 10 GB", "capacity: 10 GX", "memory.capacity", "unknown unit 'GX'"),
    ("  bf16: 100 TFLOP/s", "  bf17: 100 TFLOP/s", "peak_flops.bf17", "fp8"),
    ("covers: [peak_flops, memory]", "covers: [peak_flops]", None, "no source covers ['memory']"),
])
def test_bad_values(tmp_path, old, new, field, words):
    err = _error(_write(tmp_path, GOOD_CHIP.replace(old, new)))
    assert words in str(err)
    if field:
        assert field in {p.field for p in err.problems}
    assert all(p.line for p in err.problems)


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i, c in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb += f"{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
    err = _error(_write(tmp_path, bomb))
    assert "aliases are not allowed" in str(err)


def test_unsupported_hf_family(tmp_path):
    p = _write(tmp_path, json.dumps({"model_type": "bert", "hidden_size": 768}), "config.json")
    with pytest.raises(SpecError, match="unsupported model_type 'bert'") as info:
        roofline.load_model(p)
    assert info.value.problems[0].field == "model_type"


def test_hf_config_missing_field(tmp_path):
    p = _write(tmp_path, json.dumps({"model_type": "llama", "hidden_size": 64}), "config.json")
    with pytest.raises(SpecError, match="num_hidden_layers"):
        roofline.load_model(p)


def test_model_consistency_errors():
    base = {"name": "m", "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
            "vocab_size": 10, "sources": [{"title": "test"}],
            "attention": {"num_attention_heads": 8, "num_key_value_heads": 3},
            "mlp": {"intermediate_size": 128}}
    with pytest.raises(SpecError, match="multiple of num_key_value_heads"):
        roofline.load_model(base)
    moe = {**base, "attention": {"num_attention_heads": 8},
           "moe": {"num_experts": 4, "num_experts_per_tok": 5, "moe_intermediate_size": 8}}
    with pytest.raises(SpecError, match="exceeds num_experts"):
        roofline.load_model(moe)


def test_unknown_catalog_name_suggests():
    with pytest.raises(SpecError, match="did you mean"):
        roofline.load_chip("h10")


def test_validate_command_reports_every_problem(tmp_path, capsys):
    good = _write(tmp_path, GOOD_CHIP, "good.yaml")
    bad1 = _write(tmp_path, GOOD_CHIP.replace("1 TB/s", "1 TB"), "bad1.yaml")
    bad2 = _write(tmp_path, GOOD_CHIP.replace("vendor:", "vendorr:"), "bad2.yaml")
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(good), str(bad1), str(bad2)]) == 1
    err = capsys.readouterr().err
    assert "bad1.yaml:9: memory.bandwidth" in err
    assert "bad2.yaml:2: vendorr" in err and "bad2.yaml" in err
