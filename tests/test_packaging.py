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


def _requires(requires: list[str], extras: frozenset[str]) -> set[tuple[str, frozenset[str]]]:
    """(name, extras) of the distributions a Requires-Dist list pulls in for these extras."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out = set()
    for line in requires:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
            out.add((str(canonicalize_name(req.name)), frozenset(req.extras)))
    return out


def core_closure(wheel: Path) -> set[str]:
    """Every distribution `pip install roofline` installs (no extras), resolved from the
    wheel's own metadata and the installed dependencies' metadata, with no network."""
    from email.parser import Parser
    from importlib.metadata import distribution

    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        root = Parser().parsestr(z.read(meta).decode())
    done: set[tuple[str, frozenset[str]]] = set()
    todo = _requires(root.get_all("Requires-Dist") or [], frozenset())
    while todo:
        item = todo.pop()
        done.add(item)
        todo |= _requires(distribution(item[0]).requires or [], item[1]) - done
    return {"roofline"} | {name for name, _ in done}


def test_core_install_is_lean(wheel):
    """The library and CLI install without the dashboard: at most 20 distributions."""
    dists = core_closure(wheel)
    assert not dists & {"dash", "flask", "waitress", "werkzeug"}, dists
    assert {"numpy", "pandas", "pydantic", "pyyaml", "plotly"} <= dists
    assert len(dists) <= 20, sorted(dists)


def test_wheel_is_typed_and_versioned(wheel):
    import roofline

    names = zipfile.ZipFile(wheel).namelist()
    assert "roofline/py.typed" in names
    assert wheel.name.startswith(f"roofline-{roofline.__version__}-")
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Provides-Extra: dashboard" in text and "Classifier: Typing :: Typed" in text


# sys.modules[name] = None: `import name` raises ImportError, find_spec(name) is None
BLOCK_DASH = "import sys\nsys.modules.update(dict.fromkeys(('dash', 'flask', 'waitress')))\n"


def test_library_and_cli_work_without_the_dashboard(tmp_path):
    """With dash, flask and waitress unimportable, the library and CLI still work and
    `roofline serve` names the extra to install (exit 2)."""
    (tmp_path / "sitecustomize.py").write_text(BLOCK_DASH)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    code = ("import roofline, sys; from roofline.cli import main; "
            "print(roofline.fit('llama-3-8b', 'h100', 1).fits); "
            "rc = main(['serve']); print('serve-rc', rc); "
            "print(sorted(m for m, v in sys.modules.items() if v and m.split('.')[0] == 'dash'))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    assert proc.stdout.split("\n")[:3] == ["True", "serve-rc 2", "[]"], proc.stdout
    assert "pip install 'roofline[dashboard]'" in proc.stderr
