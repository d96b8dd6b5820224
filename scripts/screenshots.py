"""Screenshots of every dashboard page for docs/dashboard.md, taken in headless Chromium.

    python scripts/screenshots.py [--out docs/screenshots]

Uses the browser-test helpers (tests/browser.py): Debian's chromium and chromedriver,
the app served on a free local port. Each page is opened from a link (its query string is
its state, as a reader would share it) and captured once it has drawn.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import (  # noqa: E402 - the helpers live beside the tests
    CHROMEDRIVER,
    CHROMIUM,
    chromium_driver,
    serve_wsgi,
    text_of,
    wait_for,
)
from test_browser import READY  # noqa: E402

import roofline  # noqa: E402
from roofline.dashboard.app import create_app  # noqa: E402
from roofline.dashboard.catalog import spec_yaml  # noqa: E402

#: (file name, path with query, what the shot shows)
SHOTS = (
    ("roofline.png", "/roofline?model=llama-3.1-70b&chips=nvidia-h100-sxm,amd-mi300x,"
     "nvidia-b200&dtypes=bf16,fp8&batch=16&prompt=4096&tp=4", "roofline"),
    ("memory.png", "/memory?model=llama-3.1-70b&chips=nvidia-h100-sxm,nvidia-h200-sxm,"
     "amd-mi300x,nvidia-b200,nvidia-l40s&purpose=serve&batch=8&prompt=4096&output=512&tp=2",
     "serving memory"),
    ("memory-training.png", "/memory?model=llama-3.1-70b&chips=nvidia-h100-sxm,"
     "nvidia-h200-sxm,amd-mi300x&purpose=train&count=64&seq=4096&gbatch=512",
     "training memory"),
    ("fit.png", "/fit?model=gpt-4&chip=nvidia-h100-sxm&count=64&purpose=serve&batch=8",
     "fit & layout"),
    ("cost.png", "/cost?model=llama-3.1-70b&chips=nvidia-h100-sxm,nvidia-h200-sxm,"
     "amd-mi300x,nvidia-b200&purpose=serve&batch=32&prompt=2048&output=512", "cost"),
    ("frontier.png", "/frontier?model=llama-3.1-70b&chip=nvidia-h100-sxm&count=8"
     "&workload=chat&tpot=50", "serving frontier"),
    ("timeline.png", "/timeline", "timeline"),
)
WIDTH, MAX_HEIGHT = 1400, 2200
BAD_YAML = "name: my-chip\nvendor: nvidia\nmemory: {capacity: 80 GB\n"


def _capture(driver, path: Path) -> None:
    """Resize the window to the page's height (capped) and save a PNG."""
    time.sleep(0.5)  # let plotly finish its transitions
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight;")
    driver.set_window_size(WIDTH, min(max(height, 900) + chrome, MAX_HEIGHT))
    time.sleep(0.3)
    driver.save_screenshot(str(path))
    driver.set_window_size(WIDTH, 1000)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def _set_text(driver, element_id: str, text: str) -> None:
    driver.execute_script(
        "const t = document.getElementById(arguments[0]);"
        "const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;"
        "set.call(t, arguments[1]); t.dispatchEvent(new Event('input', {bubbles: true}));",
        element_id, text)


def specs_page(driver, base: str, out: Path) -> None:
    """The specs page with one user chip kept and a bad YAML's error beside the input."""
    from selenium.webdriver.common.by import By

    driver.get(base + "/specs")
    wait_for(driver, READY["/specs"], "the specs page")
    chip = roofline.load_chip("h100").model_copy(update={
        "name": "h100-at-1.6ghz", "aliases": [], "display_name": "H100 SXM, clocks capped"})
    _set_text(driver, "specs-text", spec_yaml(chip))
    driver.find_element(By.ID, "specs-add").click()
    wait_for(driver, lambda d: "h100-at-1.6ghz" in text_of(d, "specs-mine"), "the chip added")
    _set_text(driver, "specs-text", BAD_YAML)
    driver.find_element(By.ID, "specs-add").click()
    wait_for(driver, lambda d: text_of(d, "specs-text-error"), "the YAML error")
    _capture(driver, out / "specs.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        sys.exit(f"screenshots need {' and '.join(missing)} "
                 "(apt-get install chromium chromium-driver)")
    args.out.mkdir(parents=True, exist_ok=True)
    with serve_wsgi(create_app().server) as url, chromium_driver(
            Path(tempfile.mkdtemp(prefix="roofline-shots-"))) as driver:
        base = url.rstrip("/")
        for name, path, what in SHOTS:
            driver.get(base + path)
            wait_for(driver, READY[path.split("?")[0]], f"the {what} page")
            _capture(driver, args.out / name)
        specs_page(driver, base, args.out)


if __name__ == "__main__":
    main()
