"""Shared fixtures for the whole test tree (keep each one small; add yours below)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shared_data() -> Path:
    """The real daily prices (NVDA, ORCL, YHOO up to 2014) and VIX, kept outside the repo."""
    folder = REPO_ROOT.parent / "shared" / "data"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent")
    return folder


SHIPPED_CONFIG = REPO_ROOT / "config"


def _set_path(body: dict, dotted: str, value: object) -> None:
    keys = dotted.split(".")
    node = body
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value


@pytest.fixture
def make_config_dir(tmp_path: Path):
    """Copy the shipped config folder and apply ``{"config.yaml": {"risk.max_notional": 5}}`` edits.

    A value of None deletes the key. Returns the new folder.
    """
    import shutil

    import yaml

    counter = {"n": 0}

    def make(edits: dict[str, dict[str, object]] | None = None) -> Path:
        counter["n"] += 1
        folder = tmp_path / f"config-{counter['n']}"
        shutil.copytree(SHIPPED_CONFIG, folder)
        for filename, changes in (edits or {}).items():
            path = folder / filename
            body = yaml.safe_load(path.read_text()) or {}
            for dotted, value in changes.items():
                _set_path(body, dotted, value)
            path.write_text(yaml.safe_dump(body, sort_keys=False))
        return folder

    return make


@pytest.fixture
def kill_market(tmp_path: Path):
    """Three synthetic tickers (120 business days from 2021-01-04) and a VIX that closes at 55 on bar 80.

    ALPH and DLTA rise 0.2% a day and fall 2% a day from bar 86, so a long's stop is hit
    after the kill; ECHO is flat. Returns a dict with the price folder, the VIX file,
    the dates and a ``signals(rows)`` writer taking ``(bar, ticker, weight, direction)``.
    """
    import numpy as np
    import pandas as pd

    folder = tmp_path / "kill-market"
    prices = folder / "prices"
    prices.mkdir(parents=True)
    dates = pd.bdate_range("2021-01-04", periods=120)
    steps = np.where(np.arange(len(dates)) < 86, 1.002, 0.98)
    for ticker, base, moves in (("ALPH", 50.0, steps), ("DLTA", 80.0, steps), ("ECHO", 30.0, np.ones(len(dates)))):
        close = base * np.cumprod(moves)
        open_ = np.r_[close[0], close[:-1]]
        pd.DataFrame(
            {
                "datetime": dates.strftime("%Y-%m-%d"),
                "open": open_,
                "high": np.maximum(open_, close) * 1.003,
                "low": np.minimum(open_, close) * 0.997,
                "close": close,
                "volume": 1e6,
            }
        ).to_csv(prices / f"{ticker}.csv", index=False)
    vix = np.full(len(dates), 15.0)
    vix[80] = 55.0
    vix_file = folder / "vix.csv"
    pd.DataFrame({"DATE": dates.strftime("%Y-%m-%d"), "OPEN": vix, "HIGH": vix, "LOW": vix, "CLOSE": vix}).to_csv(
        vix_file, index=False
    )

    def signals(rows: list[tuple[int, str, float, str]], name: str = "signals.csv") -> Path:
        path = folder / name
        body = "datetime,ticker,weight,direction,source_type,source_ticker\n"
        body += "".join(
            f"{dates[bar].date()},{ticker},{weight},{direction},direct,\n" for bar, ticker, weight, direction in rows
        )
        path.write_text(body)
        return path

    return {
        "prices": prices,
        "vix": vix_file,
        "dates": dates,
        "signals": signals,
        "kill_day": dates[80].date().isoformat(),
    }


@pytest.fixture
def wide_stops():
    """Config edits: stops 10 ATR away and a far take-profit, so nothing exits before the kill."""
    return {
        "trading_config.yaml": {"position_sizing.atr_multiplier": 10.0},
        "strategy_params.yaml": {"strategy.take_profit_atr": 50.0},
    }


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


class ChromiumLog:
    """What the browser said: console errors and every network request, read from Chromium's own logs."""

    def __init__(self, driver) -> None:
        self._driver = driver
        self._requests: dict[str, str] = {}
        self._failed: list[str] = []
        self._console: list[dict] = []

    def _drain(self) -> None:
        import json

        for entry in self._driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message.get("method") == "Network.requestWillBeSent":
                self._requests[params["requestId"]] = params["request"]["url"]
            elif message.get("method") == "Network.loadingFailed":
                url = self._requests.get(params["requestId"], "?")
                self._failed.append(f"{url}: {params.get('errorText', '')}")
        self._console.extend(self._driver.get_log("browser"))

    def console_errors(self) -> list[str]:
        """Console messages at level SEVERE (JavaScript errors, failed resources) since the browser started."""
        self._drain()
        return [entry["message"] for entry in self._console if entry["level"] == "SEVERE"]

    def requested_urls(self) -> list[str]:
        """Every URL the pages asked for, in order (data: URLs included)."""
        self._drain()
        return list(self._requests.values())

    def failed_requests(self) -> list[str]:
        """Each request that failed, as ``url: reason``."""
        self._drain()
        return list(self._failed)


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian Chromium driven by Selenium, with every address but loopback unreachable.

    Requests to anything other than 127.0.0.1/localhost go to a dead proxy and fail, so a page that loads a
    resource from the network shows it in ``chromium_log.failed_requests()``. One browser per test module.
    """
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are required (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1400,1000",
        "--proxy-server=http://127.0.0.1:9",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def chromium_log(chromium) -> ChromiumLog:
    """The console and network log of the module's ``chromium`` browser."""
    return ChromiumLog(chromium)
