"""The package type-checks under `mypy --strict` (pyproject.toml [tool.mypy]) and the
documentation site, API reference included, builds with warnings as errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_mypy_strict_passes():
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert out.stdout.startswith("Success: no issues found")


def test_docs_build_strict_with_the_api_reference(tmp_path):
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                          str(site)], cwd=ROOT, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    api = (site / "api" / "index.html").read_text()
    for name in ("roofline.infer", "roofline.train", "roofline.fit", "roofline.Result",
                 "roofline.grid", "roofline.scale_out.top_k"):
        assert name in api, name
    assert "batch" in api and "SpecError" in api
