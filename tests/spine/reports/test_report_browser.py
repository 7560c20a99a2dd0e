"""``report.html`` in headless Chromium with the network cut: it loads nothing, draws every chart, and answers the mouse."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from spine.data.prices import load_prices
from spine.reports.build import write_reports

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "tests" / "golden" / "sample"


@pytest.fixture(scope="module")
def report(tmp_path_factory, chromium) -> Path:
    """The report of the bundled sample's run, rebuilt from the golden copy of its run folder and the sample's bars."""
    run_dir = tmp_path_factory.mktemp("browser")
    for name in ("orders.csv", "fills.csv", "equity.csv", "events.csv", "benchmark.csv"):
        shutil.copyfile(GOLDEN / name, run_dir / name)
    shutil.copyfile(GOLDEN / "summary_figures.json", run_dir / "summary.json")
    write_reports(run_dir, prices=load_prices([REPO / "data" / "sample" / "prices"]))
    page = run_dir / "report.html"
    chromium.get(page.as_uri())
    WebDriverWait(chromium, 15).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts-drawn"))
    return page


def test_the_page_requests_nothing_but_itself_and_logs_no_error(report, chromium, chromium_log):
    assert chromium_log.failed_requests() == []
    assert chromium_log.console_errors() == []
    assert all(url.startswith(("file://", "data:")) for url in chromium_log.requested_urls())


def test_every_chart_is_drawn_with_plotted_points(report, chromium):
    blocks = chromium.find_elements(By.CSS_SELECTOR, "script[data-chart]")
    assert chromium.find_element(By.TAG_NAME, "body").get_attribute("data-charts-drawn") == str(len(blocks))
    drawn = chromium.execute_script(
        """return Array.from(document.querySelectorAll('script[data-chart]')).map(function(block){
             var div = document.getElementById(block.dataset.chart);
             var marks = div.querySelectorAll('.overplot .point');
             var filled = Array.from(div.querySelectorAll('.overplot path')).filter(function(p){
               return (p.getAttribute('d') || '').length > 20; });
             return [block.dataset.chart, marks.length, filled.length, !!div.querySelector('svg.main-svg')]; });"""
    )
    # equity, underwater, 5 price panels, yearly, distribution, rolling, provenance
    assert len(drawn) == 11 and sum(name.startswith("price-") for name, *_ in drawn) == 5
    empty = [name for name, marks, filled, svg in drawn if not svg or (marks == 0 and filled == 0)]
    assert empty == []


def test_hovering_a_trade_marker_shows_the_trade_and_its_pnl(report, chromium):
    where = chromium.execute_script(
        """var gd = document.getElementById('price-0');
           gd.scrollIntoView({block: 'center'});
           var i = gd._fullData.findIndex(function(t){ return t.name.indexOf('entry') >= 0; });
           var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
           var x = xa._offset + xa.l2p(xa.d2l(gd.data[i].x[0])), y = ya._offset + ya.l2p(ya.d2l(gd.data[i].y[0]));
           return [x - box.width / 2, y - box.height / 2, gd.data[i].text[0]];"""
    )
    dx, dy, expected = where
    chart = chromium.find_element(By.ID, "price-0")
    ActionChains(chromium).move_to_element_with_offset(chart, int(dx), int(dy)).perform()
    WebDriverWait(chromium, 5).until(lambda d: chart.find_elements(By.CSS_SELECTOR, ".hoverlayer .hovertext"))
    shown = chart.find_element(By.CSS_SELECTOR, ".hoverlayer .hovertext").text
    assert "P&L" in shown and "net" in shown and expected.split("<br>")[0] in shown


def test_the_log_toggle_makes_the_value_axis_logarithmic(report, chromium):
    ticks = "return Array.from(document.querySelectorAll('#equity-chart .ytick text')).map(t => t.textContent);"
    before = chromium.execute_script(ticks)
    chromium.find_element(By.ID, "logscale").click()
    WebDriverWait(chromium, 5).until(
        lambda d: d.execute_script("return document.getElementById('equity-chart')._fullLayout.yaxis.type") == "log"
    )
    assert chromium.execute_script(ticks) != before
    chromium.find_element(By.ID, "logscale").click()


def test_strategy_only_hides_the_benchmark_and_fits_the_axis_to_the_strategy(report, chromium):
    top = "return document.getElementById('equity-chart')._fullLayout.yaxis.range[1];"
    before = chromium.execute_script(top)
    chromium.find_element(By.ID, "strategy-only").click()
    WebDriverWait(chromium, 5).until(lambda d: d.execute_script(top) < before)
    strategy_peak = chromium.execute_script("return Math.max(...document.getElementById('equity-chart').data[0].y);")
    assert chromium.execute_script(top) < strategy_peak * 1.1
    chromium.find_element(By.ID, "strategy-only").click()


def test_the_trade_table_filters_by_ticker_and_sorts_by_a_column(report, chromium):
    rows = (
        "return Array.from(document.querySelectorAll('#trade-table tbody tr')).filter(r => r.style.display !== 'none')"
    )
    total = len(chromium.execute_script(rows + ";"))
    Select(chromium.find_element(By.CSS_SELECTOR, "select[data-filter='ticker']")).select_by_visible_text("ALPH")
    tickers = chromium.execute_script(rows + ".map(r => r.cells[1].textContent);")
    assert 0 < len(tickers) < total and set(tickers) == {"ALPH"}
    header = chromium.find_element(By.XPATH, "//table[@id='trade-table']//th[text()='pnl_net']")
    header.click()
    column = [h.text for h in chromium.find_elements(By.CSS_SELECTOR, "#trade-table thead th")].index("pnl_net")
    values = chromium.execute_script(rows + f".map(r => parseFloat(r.cells[{column}].dataset.v));")
    assert values == sorted(values)


def test_a_screenshot_of_the_page_is_not_blank(report, chromium):
    from PIL import Image

    chromium.execute_script("document.getElementById('equity-chart').scrollIntoView();")
    image = Image.open(io.BytesIO(chromium.get_screenshot_as_png())).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50


def test_a_sweep_report_draws_its_heat_map_with_values_and_logs_no_error(tmp_path, chromium, chromium_log):
    import itertools

    import pandas as pd

    from spine.reports.sweep_report import write_sweep_report

    rows = [
        {"trial": n, "phase": "full", "status": "ok", "tp": tp, "atr": atr, "objective": tp * 0.2 + atr * 0.01}
        for n, (tp, atr) in enumerate(itertools.product([1.0, 2.0, 3.0], [1.5, 2.0]))
    ]
    summary = {"objective": "sharpe", "direction": "maximize", "search": "grid", "parameters": ["tp", "atr"]}
    table = pd.DataFrame({1.5: [0.215, 0.415, 0.615], 2.0: [0.22, 0.42, 0.62]}, index=[1.0, 2.0, 3.0])
    page = write_sweep_report(tmp_path, rows, summary, {("tp", "atr"): table})
    chromium.get(page.as_uri())
    WebDriverWait(chromium, 15).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts-drawn"))
    cells = chromium.execute_script(
        "return Array.from(document.querySelectorAll('#heatmap-0 text')).map(t => t.textContent);"
    )
    assert "0.620" in cells and "0.215" in cells  # d3 ".3g" keeps three significant digits
    assert chromium_log.failed_requests() == [] and chromium_log.console_errors() == []
