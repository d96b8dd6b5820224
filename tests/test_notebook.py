"""The capacity-planning notebook executes top to bottom and shows real values."""

import re
from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).parent.parent / "examples" / "capacity_planning.ipynb"


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return nb


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        out.append(data.get("text/plain", "") or o.get("text", ""))
    return "\n".join(out)


def test_every_cell_ran_without_error(executed):
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_answers_carry_real_values(executed):
    cells = [_text(c) for c in executed.cells if c.cell_type == "code"]
    assert "True" in cells[1] and "tp" in cells[1]                      # 1.76T serves on 512
    assert cells[2].startswith("'weights need 3.52 TB at bf16")          # not on 32
    assert "cost_usd" in cells[3] and "$" not in cells[3]                # training run priced
    assert "params" in cells[4] and "tokens" in cells[4]                 # compute-optimal
    assert "usd_per_m_output_tokens" in cells[5] and "nvidia" in cells[5]
    assert "nvidia-h200-sxm" in cells[6] and "amd-mi325x" in cells[6]
    assert "experts" in cells[7] and "memory" in cells[7]
    figure = executed.cells[-1]["outputs"][0]["data"]
    assert "application/vnd.plotly.v1+json" in figure


def _html(cell) -> str:
    return "\n".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))


def test_results_section_shows_the_result_type(executed):
    code = [c for c in executed.cells if c.cell_type == "code"]
    dtypes = _text(code[9])
    assert re.search(r"batch\s+int64", dtypes) and re.search(r"tp\s+int64", dtypes)
    assert re.search(r"chip_alias\s+category", dtypes)
    assert "tpot_low_s" in dtypes and "tpot_high_s" in dtypes
    assert len(re.findall(r"^\s*\d+\s+\d+\s+8\s", _text(code[10]), re.M)) == 3  # 3 batches
    assert "efficiency (expected)" in _text(code[11])
    view = _html(code[12])
    assert " GB" in view and " ms" in view and "assumptions" in view and "e+" not in view
    counts = _text(code[13])
    assert "False" in counts and "True" in counts and "tp=" in counts
    assert "application/vnd.plotly.v1+json" in code[14]["outputs"][0]["data"]


def test_exports_to_html_with_its_figures(executed, tmp_path):
    nbconvert = pytest.importorskip("nbconvert")
    body, _ = nbconvert.HTMLExporter().from_notebook_node(executed)
    (tmp_path / "capacity_planning.html").write_text(body)
    # plotly.js is embedded (no CDN at view time) and each figure is drawn by it
    assert "Plotly.newPlot" in body and body.count('class="plotly-graph-div"') >= 2
    assert not re.search(r"<script[^>]*src=[\"'][^\"']*plotly", body)
    assert "Working with results" in body and "tpot_low_s" in body
