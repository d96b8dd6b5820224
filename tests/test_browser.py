"""End-to-end checks of the dashboard in headless Chromium (Selenium 4).

One server and one browser for the whole module. Skipped when Chromium/ChromeDriver are
missing, unless CI is set (then they fail).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from browser import (
    chromium_driver,
    column_texts,
    graph_traces,
    input_value,
    open_page,
    require_browser,
    serve_wsgi,
    set_number,
    severe_console_errors,
    text_of,
    wait_for,
)

pytestmark = pytest.mark.browser

TIMEOUT = 30
BAD_YAML = "name: my-chip\nvendor: [unclosed\n"


def _has_trace(graph_id: str, name: str) -> Callable[[object], bool]:
    return lambda d: any(t["name"] == name for t in graph_traces(d, graph_id))


#: Each page, and what shows it has finished drawing.
READY: dict[str, Callable[[object], object]] = {
    "/roofline": lambda d: _has_trace("roofline-graph", "nvidia-h100-sxm decode")(d)
    and column_texts(d, "roofline-ops", "operator"),
    "/memory": lambda d: _has_trace("memory-graph", "weights")(d)
    and column_texts(d, "memory-table", "chip"),
    "/fit": lambda d: "FIT" in text_of(d, "fit-verdict-line")
    and column_texts(d, "fit-layouts", "reason"),
    "/cost": lambda d: graph_traces(d, "cost-graph") and graph_traces(d, "cost-curve"),
    "/frontier": lambda d: _has_trace("frontier-graph", "aggregated front")(d)
    and column_texts(d, "frontier-front", "mode"),
    "/timeline": lambda d: _has_trace("timeline-models-graph", "total parameters")(d)
    and _has_trace("timeline-chips-graph", "memory bandwidth")(d),
    "/specs": lambda d: column_texts(d, "chips-table") and column_texts(d, "models-table"),
}


@pytest.fixture(scope="module")
def dashboard_url():
    require_browser()
    from roofline.dashboard.app import create_app

    with serve_wsgi(create_app().server) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def driver(dashboard_url):
    with chromium_driver(Path(tempfile.mkdtemp(prefix="roofline-chromium-"))) as drv:
        yield drv


def visit(driver, base: str, path: str, query: str = ""):
    """Open a page (with a query string), wait until it has drawn, drop the console log."""
    driver.get_log("browser")
    page = path.split("?")[0]
    return open_page(driver, base + path + query, READY[page], f"{page} to draw")


def query_of(driver) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query)


@pytest.mark.parametrize("path", list(READY))
def test_every_page_loads_without_console_errors(driver, dashboard_url, path):
    driver.get_log("browser")
    open_page(driver, dashboard_url + path, READY[path], f"{path} to draw")
    assert driver.title == "roofline"
    assert "Traceback" not in text_of(driver, "page")
    errors = severe_console_errors(driver)
    assert not errors, "\n".join(e.get("message", str(e)) for e in errors)


def test_changing_batch_moves_the_roofline_points(driver, dashboard_url):
    visit(driver, dashboard_url, "/roofline", "?batch=1")

    def decode_x(d) -> list[float]:
        return next((t["x"] for t in graph_traces(d, "roofline-graph")
                     if t["name"] == "nvidia-h100-sxm decode"), [])

    before = decode_x(driver)
    table_before = column_texts(driver, "roofline-ops", "intensity_flop_per_byte")
    set_number(driver, "roofline-batch", 64)
    after = wait_for(driver, lambda d: (x := decode_x(d)) and x != before and x,
                     "the decode points to move", TIMEOUT)
    assert max(after) > max(before)  # a larger batch reuses each weight byte more
    wait_for(driver, lambda d: column_texts(d, "roofline-ops", "intensity_flop_per_byte")
             != table_before, "the operator table to change", TIMEOUT)
    wait_for(driver, lambda d: query_of(d).get("batch") == ["64"], "the URL to record batch",
             TIMEOUT)
    assert not severe_console_errors(driver)


def test_changing_chip_count_updates_the_fit_verdict_and_table(driver, dashboard_url):
    visit(driver, dashboard_url, "/fit", "?model=gpt-4&chip=nvidia-h100-sxm&count=64")
    assert "FITS" in text_of(driver, "fit-verdict-line")
    note = text_of(driver, "fit-table-note")
    set_number(driver, "fit-count", 8)
    wait_for(driver, lambda d: "DOES NOT FIT" in text_of(d, "fit-verdict-line"),
             "the verdict to turn", TIMEOUT)
    wait_for(driver, lambda d: text_of(d, "fit-table-note") != note, "the table to change",
             TIMEOUT)
    assert set(column_texts(driver, "fit-layouts", "ok")) == {"no"}


def test_sorting_the_layouts_table(driver, dashboard_url):
    from selenium.webdriver.common.by import By

    visit(driver, dashboard_url, "/fit", "?model=llama-3.1-70b&chip=nvidia-h100-sxm&count=16")
    driver.find_element(By.CSS_SELECTOR, "#fit-layouts th:nth-child(3) button").click()

    def sorted_by_tp(d) -> bool:
        # rejected layouts stay last whatever the sort: each group is sorted by tp
        tps = [int(v) for v in column_texts(d, "fit-layouts", "tp")]
        ok = column_texts(d, "fit-layouts", "ok")
        good = [t for t, o in zip(tps, ok, strict=True) if o == "yes"]
        bad = [t for t, o in zip(tps, ok, strict=True) if o == "no"]
        return bool(tps) and ok == sorted(ok, reverse=True) and good == sorted(good) \
            and bad == sorted(bad)

    wait_for(driver, lambda d: sorted_by_tp(d) and query_of(d).get("sort"),
             "the table to sort by tp", TIMEOUT)
    assert query_of(driver)["sort"] == ["tp:asc"]


def test_switching_to_training_greys_the_stale_verdict_then_heads_with_mfu(driver,
                                                                           dashboard_url):
    from selenium.webdriver.common.by import By

    visit(driver, dashboard_url, "/fit",
          "?model=llama-3.1-8b&chip=nvidia-h100-sxm&count=8&purpose=serve&gbatch=64")
    assert "for serving" in text_of(driver, "fit-verdict-line")
    # Record every class the results box takes (a MutationObserver misses none, however
    # quick the training search is).
    driver.execute_script(
        "window.__classes = []; new MutationObserver(() => window.__classes.push("
        "document.getElementById('fit-results').className)).observe("
        "document.getElementById('fit-results'), {attributes: true,"
        " attributeFilter: ['class']});")
    driver.find_element(By.CSS_SELECTOR, "#fit-purpose input[value='train']").click()
    wait_for(driver, lambda d: "for training" in text_of(d, "fit-verdict-line")
             and driver.execute_script("return document.getElementById('fit-results')"
                                       ".className") == "results",
             "the training verdict", TIMEOUT)
    classes = driver.execute_script("return window.__classes")
    assert "results stale" in classes and classes[-1] == "results"
    assert driver.execute_script("return document.getElementById('fit-busy').hidden")
    facts = text_of(driver, "fit-facts")
    assert all(k in facts for k in ("step time", "tokens/s", "MFU", "memory per device"))
    assert "TTFT" not in facts


def test_bad_yaml_shows_its_error_beside_the_input(driver, dashboard_url):
    from selenium.webdriver.common.by import By

    visit(driver, dashboard_url, "/specs")
    driver.find_element(By.ID, "specs-text").send_keys(BAD_YAML)
    driver.find_element(By.ID, "specs-add").click()
    message = wait_for(driver, lambda d: text_of(d, "specs-text-error"),
                       "the YAML error to show", TIMEOUT)
    assert "invalid YAML" in message and "<pasted spec>" in message
    assert "Traceback" not in text_of(driver, "page")


def test_a_user_chip_survives_reload_and_is_usable(driver, dashboard_url):
    from selenium.webdriver.common.by import By

    import roofline
    from roofline.dashboard.catalog import spec_yaml

    chip = roofline.load_chip("h100").model_copy(update={"name": "my-test-chip",
                                                         "aliases": []})
    visit(driver, dashboard_url, "/specs")
    # Set the text in one go (typing 2 kB key by key is slow), then let React see it.
    driver.execute_script(
        "const t = document.getElementById('specs-text');"
        "const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;"
        "set.call(t, arguments[0]); t.dispatchEvent(new Event('input', {bubbles: true}));",
        spec_yaml(chip))
    driver.find_element(By.ID, "specs-add").click()
    wait_for(driver, lambda d: "my-test-chip" in text_of(d, "specs-mine"),
             "the new chip to be listed", TIMEOUT)
    driver.refresh()
    wait_for(driver, lambda d: "my-test-chip" in text_of(d, "specs-mine"),
             "the chip to survive a reload", TIMEOUT)
    visit(driver, dashboard_url, "/roofline", "?chips=user:my-test-chip,nvidia-h100-sxm")
    names = [t["name"] for t in graph_traces(driver, "roofline-graph")]
    assert "my-test-chip bf16" in names
    assert text_of(driver, "roofline-chips-error") == ""


def test_a_shared_url_reopens_the_same_state(driver, dashboard_url):
    query = ("?model=llama-3.1-8b&chips=nvidia-h100-sxm,amd-mi300x&purpose=serve"
             "&batch=32&prompt=4096&tp=2")
    visit(driver, dashboard_url, "/memory", query)
    assert input_value(driver, "memory-batch") == "32"
    assert input_value(driver, "memory-prompt") == "4096"
    assert input_value(driver, "memory-tp") == "2"
    assert "llama-3.1-8b" in text_of(driver, "memory-model")
    assert column_texts(driver, "memory-table", "chip") == ["nvidia-h100-sxm", "amd-mi300x"]
    title = driver.execute_script(
        "return document.querySelector('#memory-graph .gtitle').textContent;")
    assert "llama-3.1-8b" in title and "tp=2" in title and "batch 32" in title


def test_engine_errors_show_as_a_message_not_a_traceback(driver, dashboard_url):
    driver.get(dashboard_url + "/roofline?tp=3")  # tp=3 does not divide the heads
    message = wait_for(driver, lambda d: text_of(d, "roofline-message"),
                       "the layout error to show", TIMEOUT)
    assert "impossible layout" in message
    assert "Traceback" not in text_of(driver, "page")


# --- roofline page: every chip on one plot, click for details, zoom kept ----------------

_TRACE_INDEX = ("const gd = document.querySelector('#roofline-graph .js-plotly-plot');"
                "const i = gd._fullData.findIndex(t => t.name === arguments[0]);")


def _largest_marker(driver, trace: str):
    """The DOM element of a trace's marker grouping the most operators."""
    return driver.execute_script(
        _TRACE_INDEX + "const sizes = gd.data[i].customdata.map(c => c.operators.length);"
        "const k = sizes.indexOf(Math.max(...sizes));"
        "return gd.querySelectorAll('.scatterlayer .trace')[i]"
        ".querySelectorAll('path.point')[k];", trace)


def test_roofline_compares_every_chip_and_clicks_for_details(driver, dashboard_url):
    from selenium.webdriver.common.action_chains import ActionChains

    chips = ("nvidia-h100-sxm", "amd-mi300x", "nvidia-b200")
    visit(driver, dashboard_url, "/roofline", "?model=llama-3.1-70b&chips=" + ",".join(chips)
          + "&batch=8&tp=1")
    names = {t["name"] for t in graph_traces(driver, "roofline-graph")}
    assert {f"{c} {ph}" for c in chips for ph in ("prefill", "decode")} <= names
    # The default-sized scenario needs 153 GB per device: H100 (80 GB) is warned about.
    warning = text_of(driver, "roofline-warning")
    assert "Does not fit on nvidia-h100-sxm" in warning and "amd-mi300x" not in warning
    # Llama's decode GEMMs share one intensity: one marker, every name in its hover.
    point = _largest_marker(driver, "nvidia-b200 decode")
    ActionChains(driver).move_to_element(point).perform()
    hover = wait_for(driver, lambda d: d.execute_script(
        "const h = document.querySelector('.hoverlayer .hovertext');"
        " return h ? h.textContent : '';"), "the hover label", TIMEOUT)
    assert "operators here" in hover and "mlp" in hover and "qkv_proj" in hover
    ActionChains(driver).move_to_element(point).click().perform()
    wait_for(driver, lambda d: column_texts(d, "roofline-details-table", "operator"),
             "the clicked point's details", TIMEOUT)
    assert "operators at this point" in text_of(driver, "roofline-details")
    ops = column_texts(driver, "roofline-details-table", "operator")
    assert {"qkv_proj", "o_proj", "mlp"} <= set(ops)
    assert set(column_texts(driver, "roofline-details-table", "chip")) == {"nvidia-b200"}
    assert "decode" in column_texts(driver, "roofline-details-table", "phase")
    shares = column_texts(driver, "roofline-details-table", "step_share")
    assert all(s.endswith("%") for s in shares)
    assert column_texts(driver, "roofline-details-table", "bound") == ["memory"] * len(ops)
    assert not severe_console_errors(driver)


def test_roofline_zoom_and_legend_survive_an_update(driver, dashboard_url):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    visit(driver, dashboard_url, "/roofline", "?batch=8")
    graph = driver.find_element(By.CSS_SELECTOR, "#roofline-graph .nsewdrag")
    ActionChains(driver).move_to_element_with_offset(graph, -120, -60).click_and_hold() \
        .move_by_offset(160, 90).release().perform()
    layout_js = ("const gd = document.querySelector('#roofline-graph .js-plotly-plot');"
                 "return gd._fullLayout.xaxis.range.slice();")
    zoomed = wait_for(driver, lambda d: (r := d.execute_script(layout_js))
                      and not d.execute_script(
                          "const gd = document.querySelector('#roofline-graph .js-plotly-plot');"
                          "return gd._fullLayout.xaxis.autorange;") and r, "the zoom", TIMEOUT)
    # Hide one trace from the legend.
    item = next(e for e in driver.find_elements(By.CSS_SELECTOR,
                                                "#roofline-graph .legend .traces")
                if e.text == "amd-mi300x prefill")
    item.find_element(By.CSS_SELECTOR, ".legendtoggle").click()
    visible_js = (_TRACE_INDEX + "return gd._fullData[i].visible;")
    wait_for(driver, lambda d: d.execute_script(visible_js, "amd-mi300x prefill")
             == "legendonly", "the legend click", TIMEOUT)
    before = graph_traces(driver, "roofline-graph")
    set_number(driver, "roofline-batch", 64)
    wait_for(driver, lambda d: graph_traces(d, "roofline-graph") != before,
             "the figure to update", TIMEOUT)
    after = driver.execute_script(layout_js)
    assert after == pytest.approx(zoomed)
    assert driver.execute_script(visible_js, "amd-mi300x prefill") == "legendonly"
    assert driver.execute_script(visible_js, "amd-mi300x decode") is True


# --- timeline page ---------------------------------------------------------------------


def test_timeline_shows_growth_and_hides_rumours_on_request(driver, dashboard_url):
    from selenium.webdriver.common.by import By

    def listed(d) -> list[str]:  # the models table is folded away: read textContent
        return d.execute_script(
            "return Array.from(document.querySelectorAll("
            "'#timeline-models td[data-column=display_name]'), e => e.textContent);")

    visit(driver, dashboard_url, "/timeline")
    growth = column_texts(driver, "timeline-models-growth", "label")
    assert growth == ["total parameters", "active parameters", "training tokens",
                      "training compute"]
    assert all(column_texts(driver, "timeline-chips-growth", "factor_per_year"))
    names = driver.execute_script(
        "const gd = document.querySelector('#timeline-models-graph .js-plotly-plot');"
        "return gd._fullData.find(t => t.name === 'total parameters').customdata.slice();")
    assert "gpt-4" in names and "gpt-3-175b" in names and "gpt2-xl" in names
    assert "GPT-4 (rumoured 1.76T MoE)" in listed(driver)
    driver.find_element(By.CSS_SELECTOR, "#timeline-rumoured input[value='hide']").click()
    wait_for(driver, lambda d: (rows := listed(d)) and "GPT-4 (rumoured 1.76T MoE)" not in rows
             and query_of(d).get("rumoured") == ["hide"], "the rumoured model to go", TIMEOUT)
    assert "GPT-3 175B (davinci)" in listed(driver)
    assert not severe_console_errors(driver)


# --- serving frontier page ---------------------------------------------------------------


def test_frontier_draws_both_modes_marks_the_target_and_clicks_for_settings(driver,
                                                                             dashboard_url):
    from selenium.webdriver.common.action_chains import ActionChains

    visit(driver, dashboard_url, "/frontier", "?model=llama-3.1-70b&chip=nvidia-h100-sxm"
          "&count=8&tpot=50")
    names = {t["name"] for t in graph_traces(driver, "frontier-graph")}
    assert {"aggregated front", "disaggregated front"} <= names
    # The TPOT target is drawn where it puts users: 1 / 50 ms = 20 tokens/s, on screen
    # between the 10 and 50 tokens/s ticks.
    line, ticks = driver.execute_script(
        "const gd = document.querySelector('#frontier-graph .js-plotly-plot');"
        "const ax = gd._fullLayout.xaxis;"
        "return [ax.d2p(gd._fullLayout.shapes[0].x0), [ax.d2p(10), ax.d2p(50)]];")
    assert ticks[0] < line < ticks[1]
    point = driver.execute_script(
        "const gd = document.querySelector('#frontier-graph .js-plotly-plot');"
        "const i = gd._fullData.findIndex(t => t.name === 'disaggregated front');"
        "return gd.querySelectorAll('.scatterlayer .trace')[i].querySelectorAll("
        "'path.point')[0];")
    ActionChains(driver).move_to_element(point).click().perform()
    wait_for(driver, lambda d: column_texts(d, "frontier-config", "mode") == ["disaggregated"],
             "the clicked configuration", TIMEOUT)
    assert column_texts(driver, "frontier-config", "xpyd")[0].endswith("D")
    assert not severe_console_errors(driver)


# --- history ---------------------------------------------------------------------------


def test_back_and_forward_restore_the_view_one_entry_per_navigation(driver, dashboard_url):
    from selenium.webdriver.common.by import By

    def length(d) -> int:
        return d.execute_script("return window.history.length;")

    visit(driver, dashboard_url, "/roofline", "?batch=4")
    start = length(driver)
    set_number(driver, "roofline-batch", 16)  # an input edits the entry, adds none
    wait_for(driver, lambda d: query_of(d).get("batch") == ["16"], "the URL to record batch",
             TIMEOUT)
    assert length(driver) == start
    driver.find_element(By.ID, "nav-fit").click()  # a navigation: one entry
    wait_for(driver, READY["/fit"], "the fit page", TIMEOUT)
    assert length(driver) == start + 1 and urlparse(driver.current_url).path == "/fit"
    driver.back()
    wait_for(driver, lambda d: urlparse(d.current_url).path == "/roofline"
             and input_value(d, "roofline-batch") == "16" and READY["/roofline"](d),
             "Back to restore the roofline page at batch 16", TIMEOUT)
    assert query_of(driver)["batch"] == ["16"]
    driver.forward()
    wait_for(driver, lambda d: urlparse(d.current_url).path == "/fit" and READY["/fit"](d),
             "Forward to restore the fit page", TIMEOUT)
    assert length(driver) == start + 1
    assert not severe_console_errors(driver)


# --- cost page: the cheapest batch under a latency target --------------------------------


def test_cost_page_marks_the_cheapest_batch_under_the_target(driver, dashboard_url):
    visit(driver, dashboard_url, "/cost", "?model=llama-3.1-70b&chips=nvidia-h100-sxm,"
          "nvidia-b200&purpose=serve&batch=8&tpot=30")
    wait_for(driver, lambda d: any("cheapest batch" in t["name"]
                                   for t in graph_traces(d, "cost-by-batch")),
             "the cheapest batch to be marked", TIMEOUT)
    chosen = column_texts(driver, "cost-chosen", "chip")
    assert "nvidia-b200" in chosen
    assert all(float(t.rstrip(" ms")) <= 30 for t in column_texts(driver, "cost-chosen",
                                                                     "tpot_s"))
    set_number(driver, "cost-tpot", 10)  # a tighter target: a smaller (dearer) batch
    before = column_texts(driver, "cost-chosen", "batch")
    wait_for(driver, lambda d: column_texts(d, "cost-chosen", "batch") != before
             or "No batch" in text_of(d, "cost-by-batch-note"), "the choice to move", TIMEOUT)
    assert not severe_console_errors(driver)


# --- phones ----------------------------------------------------------------------------


def test_every_page_fits_a_390px_phone(driver, dashboard_url):
    driver.set_window_size(390, 844)
    try:
        for path in READY:
            visit(driver, dashboard_url, path)
            wide = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth];")
            assert wide[0] <= wide[1], f"{path} is {wide[0]} px wide in a {wide[1]} px window"
            assert driver.execute_script(
                "return document.querySelector('meta[name=viewport]').content;"
            ) == "width=device-width, initial-scale=1"
    finally:
        driver.set_window_size(1400, 1000)
