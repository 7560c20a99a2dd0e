"""A real ``spine dashboard`` process over a real ``spine paper`` session on the gateway simulator, for a module.

``LiveDesk`` holds the simulator (``GatewayThread`` in the test process, so its own book
can be read), the session (``python -m spine.cli paper``, a process that can be killed
with SIGKILL and started again) and the dashboard (``python -m spine.cli dashboard``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from spine.gateway import GatewaySettings, GatewayThread

REPO = Path(__file__).resolve().parents[3]
SAMPLE_PRICES = REPO / "data" / "sample" / "prices"
DAY_BEFORE, LAST_DAY = "2023-11-16", "2023-11-17"  # the sample's last two bars
HEADER = "datetime,ticker,weight,direction,source_type,source_ticker\n"
PAPER = {
    "broker.mode": "paper", "broker.execution_enabled": True, "compliance.research_only_override": True,
    "risk.max_notional": 50_000, "risk.max_daily_loss": 10_000, "risk.max_sector_exposure": 0.6,
    "risk.max_positions": 10, "risk.max_price_deviation_pct": 0.1, "risk.max_orders_per_minute": 60,
}  # fmt: skip


def paper_config(folder: Path) -> Path:
    """The shipped config with paper allowed and the top-level risk limits set."""
    shutil.copytree(REPO / "config", folder)
    path = folder / "config.yaml"
    body = yaml.safe_load(path.read_text()) or {}
    for dotted, value in PAPER.items():
        node = body
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return folder


def wait_until(check: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(every)


def spine(*args: str, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "spine.cli", *args], stdout=out.open("w"),
                            stderr=subprocess.STDOUT, cwd=REPO, env=env)  # fmt: skip


@dataclass
class LiveDesk:
    root: Path
    gateway: GatewayThread
    config: Path
    state: Path
    spare_state: Path
    runs: Path
    url: str = ""
    dashboard: subprocess.Popen | None = None
    session: subprocess.Popen | None = None
    sessions_started: int = 0
    signal_rows: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def token(self) -> str:
        return self.url.rsplit("token=", 1)[1]

    def start_dashboard(self) -> None:
        log = self.root / "dashboard.log"
        self.dashboard = spine("dashboard", "--state", str(self.state), "--state", str(self.spare_state),
                               "--runs", str(self.runs), "--port", "0", "--config", str(self.config), out=log)  # fmt: skip
        found = wait_until(lambda: re.search(r"http://\S+token=\S+", log.read_text()), 30, "the dashboard's URL")
        self.url = found.group(0)  # type: ignore[union-attr]

    def start_session(self, rows: list[str]) -> None:
        self.signal_rows = rows
        signals = self.root / "signals.csv"
        signals.write_text(HEADER + "".join(r + "\n" for r in rows))
        self.sessions_started += 1
        log = self.root / f"session-{self.sessions_started}.log"
        self.session = spine("paper", "--config", str(self.config), "--state", str(self.state), "--signals",
                             str(signals), "--port", str(self.gateway.port), "--out", str(self.runs),
                             "--duration", "600", out=log)  # fmt: skip

    def kill_session_hard(self) -> None:
        assert self.session is not None
        self.session.send_signal(signal.SIGKILL)
        self.session.wait(10)
        self.session = None

    def stop_session(self) -> None:
        if self.session is not None:
            self.session.send_signal(signal.SIGTERM)
            try:
                self.session.wait(20)
            except subprocess.TimeoutExpired:
                self.session.kill()
                self.session.wait(5)
            self.session = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        return request(self.base + path, headers=headers)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        return request(self.base + path, data=body, headers=headers)

    # --- the gateway's own book -------------------------------------------------------------------

    def working_at_gateway(self) -> list:
        engine = self.gateway.simulator.engine
        return self.gateway.call(lambda: [o.request for o in engine.orders.values() if not o.done])

    def held_at_gateway(self, ticker: str) -> float:
        account = self.gateway.simulator.account
        return self.gateway.call(lambda: float(account.holding(ticker).quantity))

    def cancel_at_gateway(self, client_id: int, order_id: int) -> None:
        engine = self.gateway.simulator.engine
        self.gateway.call(lambda: engine.cancel(client_id, order_id))


def request(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Iterator[LiveDesk]:
    root = tmp_path_factory.mktemp("desk")
    gateway = GatewayThread(GatewaySettings(data=(SAMPLE_PRICES,), port=0, cash=100_000.0, start=DAY_BEFORE))
    gateway.start()
    (root / "state").mkdir()
    (root / "spare-state").mkdir()
    past = root / "runs" / "past-backtest"  # a run folder from before: its report opens from the page
    past.mkdir(parents=True)
    (past / "summary.json").write_text('{"route": "backtest"}')
    (past / "report.html").write_text("<!doctype html><html><head><title>past run</title></head><body></body></html>")
    live = LiveDesk(root, gateway, paper_config(root / "config"), root / "state", root / "spare-state", root / "runs")
    try:
        live.start_dashboard()
        yield live
    finally:
        live.stop_session()
        if live.dashboard is not None:
            live.dashboard.terminate()
            live.dashboard.wait(10)
        gateway.stop()
