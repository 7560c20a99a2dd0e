"""``spine paper`` between bars: the VIX index quote and NetLiquidation reach the kill switch as they arrive.

A running session (``run_paper`` on its own thread, stopped with its ``StopFlag``) against the
gateway simulator over loopback, with the real ib_async client; nothing of ib_async is
mocked. The simulator serves the VIX as an index (IND on CBOE) and pushes a new index tick
and new account values when its clock steps, so a test moves the market without a new bar
ever reaching Backtrader.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from spine.config import load_config
from spine.gateway import GatewaySettings, GatewayThread
from spine.gateway.testing import withdraw_cash
from spine.routes.paper import PaperRequest, run_paper
from spine.routes.session import SessionResult, StopFlag
from spine.safety.state_store import StateStore
from tests.spine.cli.test_paper import HEADER, PAPER, SAMPLE_PRICES

REPO = Path(__file__).resolve().parents[3]
SAMPLE_VIX = REPO / "data" / "sample" / "vix.csv"
VIX_CALM_DAY = "2023-11-15"  # the sample VIX closed at 20.04
VIX_HIGH_DAY = "2023-11-16"  # and at 20.99 the next day
LATER = "2023-11-20"  # a signal dated after the replay: the file needs a row, nothing trades
WAIT_SECS = 30.0


@pytest.fixture
def config_with(make_config_dir):
    def make(extra: dict) -> Path:
        return make_config_dir({"config.yaml": {**PAPER, **extra}})

    return make


class RunningSession:
    """``run_paper`` on a thread; ``stop()`` ends it the way Ctrl-C does and returns its result."""

    def __init__(self, request: PaperRequest) -> None:
        self.flag = StopFlag()
        self.result: SessionResult | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(request,), daemon=True)
        self.thread.start()

    def _run(self, request: PaperRequest) -> None:
        try:
            self.result = run_paper(request, stop=self.flag)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            self.error = exc

    def wait_for(self, done, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + WAIT_SECS
        while not done():
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def stop(self) -> SessionResult:
        self.flag.set("test")
        self.thread.join(WAIT_SECS)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def request_for(config: Path, gateway: GatewayThread, tmp_path: Path, **options) -> PaperRequest:  # type: ignore[no-untyped-def]
    signals = tmp_path / "signals.csv"
    signals.write_text(HEADER + f"{LATER},ALPH,0.05,BUY,direct,\n")
    return PaperRequest(config=load_config(config), state_dir=tmp_path / "state", signals=signals, port=gateway.port,
                        out_dir=tmp_path / "runs", **options)  # fmt: skip


def kill_state(state: Path):  # type: ignore[no-untyped-def]
    with StateStore.in_folder(state) as store:
        return store.kill_switch()


def session_is_trading(running: RunningSession, state: Path) -> bool:
    """Backtrader runs: the intraday breaker has recorded a NetLiquidation (the kill switch watches from then on)."""
    if not (state / "spine_state.marker.json").is_file():
        return False  # the session is still creating its state database
    with StateStore.in_folder(state) as store:
        return store.nav_count() > 0


def test_a_vix_index_tick_above_the_threshold_fires_the_kill_switch_between_bars(config_with, tmp_path):
    config = config_with({"kill_switch.vix_threshold": 20.5})
    with GatewayThread(
        GatewaySettings(data=(SAMPLE_PRICES, SAMPLE_VIX), port=0, cash=100_000.0, start=VIX_CALM_DAY)
    ) as gateway:
        running = RunningSession(request_for(config, gateway, tmp_path))
        state = tmp_path / "state"
        running.wait_for(lambda: session_is_trading(running, state), "the session to start")
        time.sleep(0.5)  # the calm VIX (20.04) is quoted and checked: nothing fires
        assert not kill_state(state).active
        gateway.step(1)  # the simulator's clock moves on: a new VIX tick (20.99), no bar for Backtrader yet
        running.wait_for(lambda: kill_state(state).active, "the kill switch")
        result = running.stop()
    kill = kill_state(state)
    assert kill.cause == "vix" and "VIX index quote at 20.99" in kill.reason and "(intraday)" in kill.reason
    fired = [e for e in result.events if e["event"] == "kill_switch"]
    assert len(fired) == 1 and fired[0]["detail"].startswith("vix: VIX index quote at 20.99")
    assert result.summary["kill_switch"]["vix_trigger"].startswith("on: VIX index quote (IND CBOE)")


def test_a_netliquidation_drop_between_bars_fires_the_drawdown_trigger(config_with, tmp_path):
    config = config_with({"kill_switch.max_drawdown_pct": 0.05})
    with GatewayThread(
        GatewaySettings(data=(SAMPLE_PRICES, SAMPLE_VIX), port=0, cash=100_000.0, start=VIX_HIGH_DAY)
    ) as gateway:
        running = RunningSession(request_for(config, gateway, tmp_path, account_refresh_secs=0.2))
        state = tmp_path / "state"
        running.wait_for(lambda: session_is_trading(running, state), "the session to start")
        # NetLiquidation 100,000 at the start is the kill switch's peak
        gateway.call(lambda: withdraw_cash(gateway.simulator, 6_000.0))  # NAV 94,000: a 6% drawdown, no new bar
        running.wait_for(lambda: kill_state(state).active, "the kill switch")
        result = running.stop()
    kill = kill_state(state)
    assert (
        kill.cause == "drawdown"
        and "drawdown 6.00% from peak NAV 100,000.00" in kill.reason
        and "(intraday)" in kill.reason
    )
    assert [e["detail"].split(":")[0] for e in result.events if e["event"] == "kill_switch"] == ["drawdown"]


def test_no_vix_quote_is_a_warning_an_event_and_an_off_trigger_in_the_summary(config_with, tmp_path, capfd):
    config = config_with({})
    with GatewayThread(GatewaySettings(data=(SAMPLE_PRICES,), port=0, cash=100_000.0, start=VIX_HIGH_DAY)) as gateway:
        signals = tmp_path / "signals.csv"
        signals.write_text(HEADER + f"{VIX_HIGH_DAY},ALPH,0.05,BUY,direct,\n")
        result = run_paper(PaperRequest(config=load_config(config), state_dir=tmp_path / "state", signals=signals,
                                        port=gateway.port, once=True, out_dir=tmp_path / "runs"))  # fmt: skip
    status = result.summary["kill_switch"]["vix_trigger"]
    assert status == "off: no VIX index quote (IND CBOE) from IB within 5 s of the session becoming ACTIVE"
    assert f"warning: VIX kill-switch trigger is {status}" in capfd.readouterr().err
    assert any(e["event"] == "vix_trigger_off" for e in result.events)
    assert result.summary["kill_switch"]["vix_quote"] == "VIX waiting"


def test_a_vix_quote_that_stops_coming_is_a_stale_event(config_with, tmp_path):
    config = config_with({})
    with GatewayThread(
        GatewaySettings(data=(SAMPLE_PRICES, SAMPLE_VIX), port=0, cash=100_000.0, start=VIX_HIGH_DAY)
    ) as gateway:
        running = RunningSession(request_for(config, gateway, tmp_path, vix_max_age_secs=0.5))
        state = tmp_path / "state"
        running.wait_for(lambda: session_is_trading(running, state), "the session to start")
        time.sleep(2.0)  # the simulator's clock is frozen: its one VIX tick ages past 0.5 s
        result = running.stop()
    stale = [e for e in result.events if e["event"] == "vix_stale"]
    assert len(stale) == 1 and "VIX index quote is" in stale[0]["detail"] and "past 0.5 s" in stale[0]["detail"]
    assert result.summary["kill_switch"]["vix_quote"].startswith("VIX stale")
    assert result.summary["kill_switch"]["vix_trigger"].startswith("on:")


def test_require_vix_without_a_vix_quote_exits_2_and_writes_no_run_folder(config_with, tmp_path):
    from typer.testing import CliRunner

    from spine.cli import app

    config = config_with({})
    signals = tmp_path / "signals.csv"
    signals.write_text(HEADER + f"{VIX_HIGH_DAY},ALPH,0.05,BUY,direct,\n")
    with GatewayThread(GatewaySettings(data=(SAMPLE_PRICES,), port=0, cash=100_000.0, start=VIX_HIGH_DAY)) as gateway:
        result = CliRunner().invoke(app, ["paper", "--config", str(config), "--state", str(tmp_path / "state"), "--signals", str(signals),
                                          "--port", str(gateway.port), "--out", str(tmp_path / "runs"), "--once", "--require-vix"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--require-vix: the VIX kill-switch trigger is off: no VIX index quote (IND CBOE)" in result.output
    assert not (tmp_path / "runs").exists()


def test_the_status_line_names_a_stale_vix():
    import io
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from spine.routes.paper import StatusLine
    from spine.safety.vix_line import VixLine

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    line = VixLine("VIX", 60, datetime.now(UTC) - timedelta(seconds=600), lambda *_: None)
    line.update(20.45, datetime.now(UTC) - timedelta(seconds=300))
    broker = SimpleNamespace(gate=SimpleNamespace(day_pnl_at=lambda nav: 0.0, state="ACTIVE"), getvalue=lambda: 100_000.0,
                             open_orders=list, vix_line=line)  # fmt: skip
    stream = Terminal()
    session = SimpleNamespace(state="ACTIVE", account_snapshot=lambda: None)
    StatusLine(session, {"broker": broker}, stream=stream)()  # type: ignore[arg-type]
    assert "| VIX stale " in stream.getvalue()
