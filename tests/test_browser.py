"""End-to-end checks of the dashboard in headless Chromium (Selenium 4).

Skipped when Chromium/ChromeDriver are missing, unless CI is set (then they fail).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from browser import (
    chromium_driver,
    column_texts,
    require_browser,
    serve_wsgi,
    severe_console_errors,
    wait_for,
)

pytestmark = pytest.mark.browser

TIMEOUT = 30


@pytest.fixture(scope="session")
def dashboard_url():
    require_browser()
    from roofline.dashboard.app import create_app

    with serve_wsgi(create_app().server) as url:
        yield url


@pytest.fixture(scope="session")
def driver(dashboard_url):
    with chromium_driver(Path(tempfile.mkdtemp(prefix="roofline-chromium-"))) as drv:
        yield drv


@pytest.fixture
def page(driver, dashboard_url):
    """The dashboard freshly loaded, with both tables rendered and the console drained."""
    driver.get_log("browser")  # drop what earlier tests left
    driver.get(dashboard_url)
    wait_for(
        driver,
        lambda d: column_texts(d, "chips-table") and column_texts(d, "models-table"),
        "both catalog tables to render",
        TIMEOUT,
    )
    return driver


def test_page_shows_both_catalogs(page):
    assert page.title == "roofline"
    assert page.find_element("tag name", "h1").text == "roofline"
    chips = column_texts(page, "chips-table")
    models = column_texts(page, "models-table")
    assert "nvidia-h100-sxm" in chips
    assert "llama-3.1-405b" in models
    assert len(chips) > 1 and len(models) > 1


def test_filter_narrows_tables(page):
    from selenium.webdriver.common.by import By

    all_chips = column_texts(page, "chips-table")
    page.find_element(By.ID, "catalog-filter").send_keys("h100")

    def filtered(d):
        chips = column_texts(d, "chips-table")
        models = column_texts(d, "models-table")
        if (
            0 < len(chips) < len(all_chips)
            and all("h100" in c for c in chips)
            and all("h100" in m for m in models)
        ):
            return chips
        return False

    chips = wait_for(page, filtered, "the h100 filter to narrow the tables", TIMEOUT)
    assert "nvidia-h100-sxm" in chips
    assert "llama-3.1-405b" not in column_texts(page, "models-table")


def test_no_severe_console_errors(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "catalog-filter").send_keys("llama")
    wait_for(
        page,
        lambda d: (names := column_texts(d, "models-table")) and all("llama" in n for n in names),
        "the llama filter to apply",
        TIMEOUT,
    )
    errors = severe_console_errors(page)
    assert not errors, "\n".join(e.get("message", str(e)) for e in errors)
