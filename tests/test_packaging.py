"""A non-editable install, used from another directory, finds the shipped catalogs."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(ROOT)], check=True, timeout=600)
    (whl,) = out.glob("roofline-*.whl")
    return whl


def test_wheel_carries_the_catalogs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    chips = {Path(n).name for n in names if n.startswith("roofline/_catalog/hardware_specs/")}
    models = {Path(n).name for n in names if n.startswith("roofline/_catalog/models/")}
    assert {p.name for p in (ROOT / "hardware_specs").glob("*.yaml")} == chips
    assert {p.name for p in (ROOT / "models").glob("*.yaml")} == models


def test_installed_package_works_from_elsewhere(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, timeout=600)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    code = ("import roofline, sys; "
            "assert roofline.__file__.startswith(sys.argv[1]), roofline.__file__; "
            "print(len(roofline.list_chips()), len(roofline.list_models()), "
            "roofline.load_model('deepseek-v3').params().total)")
    out = subprocess.run([sys.executable, "-c", code, str(target)], cwd=elsewhere,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120, check=True).stdout
    n_chips, n_models, total = out.split()
    assert int(n_chips) >= 25 and int(n_models) >= 25 and int(total) == 671_026_419_200
