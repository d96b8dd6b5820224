"""Helpers for the browser tests: serve the dashboard and drive Debian's headless Chromium.

Chromium and ChromeDriver come from Debian (`apt-get install chromium chromium-driver`,
which `./dev test` does); Selenium Manager is never used, so nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ROOFLINE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ROOFLINE_CHROMEDRIVER", "/usr/bin/chromedriver")

# Where a failed wait leaves a screenshot and the page source (git-ignored).
ARTIFACTS = Path(
    os.environ.get(
        "ROOFLINE_BROWSER_ARTIFACTS", Path(__file__).resolve().parents[1] / ".browser-artifacts"
    )
)

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def require_browser() -> None:
    """Skip when Chromium or ChromeDriver is missing, but fail under CI (CI must run them)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    reason = (
        f"browser tests need {' and '.join(missing)} "
        "(apt-get install chromium chromium-driver, or run ./dev test)"
    )
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def wait_until_answers(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError as exc:  # connection refused, timeout, HTTP error
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s: {last}")


@contextlib.contextmanager
def serve_wsgi(wsgi_app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve a WSGI app on a free port in a background thread; yield its base URL."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:  # no line per request
            pass

    # Port 0: the OS picks a free port, with no window for another process to take it.
    server = make_server(host, 0, wsgi_app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="dashboard", daemon=True)
    thread.start()
    url = f"http://{host}:{server.server_port}/"
    try:
        wait_until_answers(url)
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextlib.contextmanager
def chromium_driver(user_data_dir: Path) -> Iterator[object]:
    """A headless Debian Chromium driven by Debian's ChromeDriver, browser console logged."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(user_data_dir, ignore_errors=True)


def column_texts(driver, table_id: str, column: str = "name") -> list[str]:
    """The rendered text of one column of a dashboard table, read in one atomic script."""
    selector = f'#{table_id} td[data-column="{column}"]'
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim());",
        selector,
    )


def severe_console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def wait_for(driver, condition, what: str, timeout: float = 30.0):
    """WebDriverWait(...).until(condition); on timeout, save a screenshot and the page source
    under ARTIFACTS and fail with what the page showed."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = ARTIFACTS / "".join(c if c.isalnum() else "-" for c in what)[:80]
        driver.save_screenshot(str(stem.with_suffix(".png")))
        stem.with_suffix(".html").write_text(driver.page_source, encoding="utf-8")
        body = driver.execute_script("return document.body ? document.body.innerText : '';")
        pytest.fail(
            f"timed out after {timeout:.0f}s waiting for {what}; "
            f"screenshot and source in {stem}.*\npage text:\n{body[:2000]}",
            pytrace=False,
        )


# --- dashboard pages -----------------------------------------------------------------------

_GRAPH = "document.querySelector('#' + arguments[0] + ' .js-plotly-plot')"


def graph_traces(driver, graph_id: str) -> list[dict]:
    """The traces a dcc.Graph is showing (plotly's own ``data``: name, x, y), read in one
    script; [] until the graph has drawn."""
    return driver.execute_script(
        f"const gd = {_GRAPH};"  # _fullData: plotly.js's decoded copy (typed arrays)
        "return gd && gd._fullData ? gd._fullData.map(t => ({name: t.name || '',"
        " x: Array.from(t.x || []), y: Array.from(t.y || [])})) : [];",
        graph_id,
    )


def text_of(driver, element_id: str) -> str:
    """The visible text of an element ('' when it is absent)."""
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';",
        element_id,
    )


def input_value(driver, element_id: str) -> str:
    """The current value of an <input> or <textarea> ('' when absent)."""
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.value : '';",
        element_id,
    )


def set_number(driver, element_id: str, value: float) -> None:
    """Replace a number input's value as a person would: select all, type, press Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, element_id)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.ENTER)


def open_page(driver, url: str, ready, what: str, timeout: float = 30.0):
    """Load ``url``, wait for ``ready(driver)`` and return its value."""
    driver.get(url)
    return wait_for(driver, ready, what, timeout)
