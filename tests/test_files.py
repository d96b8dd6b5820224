"""Input files: only regular files are read, never past the size limit, never blocking;
``validate DIR`` walks a folder and says what it checked; JSON duplicate keys are refused;
dimensioned chip fields need units."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import roofline
from roofline import SpecError
from roofline.cli import main
from roofline.specs.files import read_bounded, spec_files
from roofline.specs.loading import load_json, load_yaml_spec
from roofline.specs.units import dump_with_units, format_quantity, parse_quantity

ROOT = Path(__file__).resolve().parent.parent
HF = Path(__file__).parent / "data" / "hf_configs"
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")


class Hang(BaseException):
    """Raised by the alarm; a BaseException so no ``except Exception`` swallows it."""


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail when the block blocks longer than ``seconds`` (SIGALRM interrupts ``open``)."""
    def _alarm(signum: int, frame: Any) -> None:
        raise Hang(f"blocked for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "x.json"
    os.mkfifo(path)
    return path


@needs_fifo
def test_fifo_is_refused_by_name_without_blocking(fifo: Path) -> None:
    with within(5), pytest.raises(SpecError, match=r"x\.json: is a FIFO \(named pipe\)"):
        roofline.load_model(fifo)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_by_name(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} absent")
    with within(5), pytest.raises(SpecError, match="is a character device"):
        read_bounded(device)


def test_link_to_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "chip.yaml"
    link.symlink_to("/dev/zero")
    with within(5), pytest.raises(SpecError, match=r"chip\.yaml: is a character device"):
        roofline.load_chip(link)


def test_nul_byte_in_a_path_is_named(capsys: Any) -> None:
    with pytest.raises(SpecError, match="the path holds a NUL byte"):
        roofline.load_model("config\x00.json")
    assert main(["validate", "\x00"]) == 1
    assert "NUL byte" in capsys.readouterr().err


def test_folder_and_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is a folder, not a regular file"):
        read_bounded(tmp_path)
    with pytest.raises(SpecError, match=r"gone\.json: cannot read file: No such file"):
        load_json(tmp_path / "gone.json")


def test_reader_stops_at_the_limit_whatever_st_size_says(tmp_path: Path) -> None:
    # /proc files are regular with st_size 0 but hold text: the limit counts bytes read.
    status = Path("/proc/self/status")
    if status.exists():
        assert os.stat(status).st_size == 0
        assert b"Name:" in read_bounded(status)
        with pytest.raises(SpecError, match="larger than 16 bytes"):
            read_bounded(status, limit=16)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * 1001)
    assert read_bounded(big, limit=1001) == b"a" * 1001
    with pytest.raises(SpecError, match="larger than 1,000 bytes"):
        read_bounded(big, limit=1000)


@needs_fifo
def test_cli_on_fifo_and_dev_zero_exits_2_at_once(fifo: Path) -> None:
    for path in (str(fifo), "/dev/zero"):
        r = subprocess.run([sys.executable, "-m", "roofline", "params", path],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, r.stderr
        assert "not a regular file" in r.stderr and "Traceback" not in r.stderr


def _config_folders(tmp_path: Path) -> Path:
    root = tmp_path / "hf"
    for name in ("llama", "qwen2"):
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_bytes((HF / f"{name}.json").read_bytes())
        for side in ("tokenizer.json", "generation_config.json",
                     "model.safetensors.index.json"):
            (root / name / side).write_text("{}")
    return root


def test_validate_walks_a_folder_of_config_json(tmp_path: Path, capsys: Any) -> None:
    root = _config_folders(tmp_path)
    assert [p.relative_to(root).as_posix() for p in spec_files(root)] == [
        "llama/config.json", "qwen2/config.json"]
    assert main(["validate", str(root)]) == 0
    out = capsys.readouterr().out
    assert "llama/config.json  (config.json llama)" in out
    assert "2 file(s) checked (config.json: 2): 2 valid, 0 with problems" in out


@needs_fifo
def test_validate_folder_with_a_fifo_names_it_and_goes_on(tmp_path: Path, capsys: Any) -> None:
    root = _config_folders(tmp_path)
    os.mkfifo(root / "pipe.yaml")
    with within(10):
        assert main(["validate", str(root)]) == 1
    cap = capsys.readouterr()
    assert "pipe.yaml: is a FIFO (named pipe), not a regular file" in cap.err
    assert "3 file(s) checked" in cap.out and "2 valid, 1 with problems" in cap.out


def test_validate_empty_folder_is_an_error(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "notes.txt").write_text("no specs here")
    assert main(["validate", str(tmp_path)]) == 2
    assert "no spec files (*.yaml, *.yml, *.json)" in capsys.readouterr().err
    assert main(["validate", ""]) == 2  # not the current folder
    assert "an empty path" in capsys.readouterr().err


def test_validate_shipped_catalog_checks_every_file(capsys: Any) -> None:
    assert main(["validate", str(ROOT / "hardware_specs"), str(ROOT / "models")]) == 0
    chips = len(list((ROOT / "hardware_specs").glob("*.yaml")))
    models = len(list((ROOT / "models").glob("*.yaml")))
    assert (f"{chips + models} file(s) checked (chip: {chips}, model: {models}): "
            f"{chips + models} valid") in capsys.readouterr().out


def test_json_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (HF / "llama.json").read_text().rstrip().removesuffix("}")
    path = tmp_path / "config.json"
    path.write_text(text + ',\n  "hidden_size": 16384\n}\n')
    line = path.read_text().count("\n")  # the duplicate sits on the last line but one
    with pytest.raises(SpecError) as e:
        roofline.load_model(path)
    assert str(e.value) == (f"{path}:{line - 1}: hidden_size: duplicate key 'hidden_size'; "
                            "say each field once")
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"model_type": "llama"})[:-1] + ', "a": {"b": 1, "b": 2}}')
    with pytest.raises(SpecError, match="duplicate key 'b'"):
        load_json(nested)


def _h100_text() -> str:
    return (ROOT / "hardware_specs" / "nvidia-h100-sxm.yaml").read_text()


@pytest.mark.parametrize(("old", "new", "field", "hint"), [
    ("capacity: 80 GB", "capacity: 80", "memory.capacity", "'80 GB'"),
    ("bandwidth: 3.35 TB/s", "bandwidth: 3350000000000", "memory.bandwidth", "'3.35 TB/s'"),
    ("tdp: 700 W", "tdp: 700", "tdp", "'700 W'"),
])
def test_bare_number_in_chip_file_needs_a_unit(tmp_path: Path, old: str, new: str, field: str,
                                               hint: str) -> None:
    assert old in _h100_text()
    path = tmp_path / "chip.yaml"
    path.write_text(_h100_text().replace(old, new))
    with pytest.raises(SpecError) as e:
        load_yaml_spec(roofline.Chip, path)
    [p] = e.value.problems
    assert p.field == field and "has no unit" in p.message and hint in p.message


def test_python_dicts_keep_si_numbers() -> None:
    d = roofline.load_chip("h100").model_dump()
    assert roofline.load_chip(d).memory.capacity == 80e9


def test_show_yaml_writes_units_and_loads_back(tmp_path: Path, capsys: Any) -> None:
    assert main(["show", "h100"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["memory"] == {"capacity": "80 GB", "bandwidth": "3.35 TB/s", "kind": "HBM3"}
    path = tmp_path / "h100.yaml"
    data.pop("ridge_point_flop_per_byte")
    path.write_text(yaml.safe_dump(data))
    assert load_yaml_spec(roofline.Chip, path) == roofline.load_chip("h100")


def test_every_catalog_spec_round_trips_through_units() -> None:
    for spec in [*roofline.specs.catalog.chips(), *roofline.specs.catalog.models()]:
        again = type(spec).model_validate(dump_with_units(spec),
                                          context={"units_required": True})
        assert again == spec, spec.name


@pytest.mark.parametrize(("value", "kind", "text"), [
    (80e9, "bytes", "80 GB"), (3.35e12, "bytes_per_s", "3.35 TB/s"),
    (989.4e12, "flops_per_s", "989.4 TFLOP/s"), (700.0, "watts", "700 W"), (0.5, "bytes",
                                                                            "0.5 B"),
])
def test_format_quantity_reads_back_exactly(value: float, kind: Any, text: str) -> None:
    assert format_quantity(value, kind) == text
    assert parse_quantity(text, kind) == value
