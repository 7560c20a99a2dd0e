"""The safety envelope inside real backtests: breaker on a real crash, VIX kill switch, restart, zero limits."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzers import CircuitBreaker
from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest
from spine.safety.state_store import StateStore

NVDA_CRASH_DAY = "2008-07-03"  # NVDA fell 30.7% close to close after a profit warning


def read_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))


def write_signals(path: Path, rows: list[tuple[str, str, float, str, str]]) -> Path:
    frame = pd.DataFrame(rows, columns=["datetime", "ticker", "weight", "direction", "source_type"])
    frame["source_ticker"] = frame["ticker"]
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def nvda(shared_data: Path) -> Path:
    return shared_data / "nvda-1999-2014.csv"


@pytest.fixture
def crash_config(make_config_dir):
    """Room to hold a large NVDA position, so the real crash moves NAV by more than 5% in a day."""
    return load_config(
        make_config_dir(
            {
                "trading_config.yaml": {"position_sizing.risk_pct": 0.2},
                "config.yaml": {
                    "backtest.risk.max_notional": 1_000_000,
                    "backtest.risk.max_sector_exposure": 1.0,
                    "backtest.max_drawdown_pct": -0.9,
                },
            }
        )
    )


def crash_run(tmp_path: Path, nvda: Path, config, *, state: Path | None = None, extra: list | None = None):
    signals = [
        ("2008-06-20", "NVDA", 0.9, "BUY", "direct"),
        ("2008-07-10", "NVDA", 0.5, "SELL", "direct"),
        ("2008-08-04", "NVDA", 0.5, "BUY", "propagated"),
        ("2008-09-02", "NVDA", 0.5, "SELL", "direct"),
    ] + (extra or [])
    path = write_signals(tmp_path / f"signals-{len(list(tmp_path.iterdir()))}.csv", signals)
    request = BacktestRequest(
        config=config,
        data=(nvda,),
        signals=path,
        start=date(2008, 1, 1),
        end=date(2008, 12, 31),
        out_dir=tmp_path / "runs",
        state_dir=state,
    )
    return run_backtest(request)


def test_breaker_trips_on_nvda_crash_day_2008_07_03(tmp_path, nvda, crash_config):
    result = crash_run(tmp_path, nvda, crash_config)
    trips = [row for row in read_rows(result.run_dir / "events.csv") if row["event"] == "breaker_trip"]
    assert [row["datetime"][:10] for row in trips] == [NVDA_CRASH_DAY]
    assert result.summary["breaker"]["tripped"] is True


def test_no_risk_adding_order_is_accepted_after_the_breaker_trips(tmp_path, nvda, crash_config):
    result = crash_run(tmp_path, nvda, crash_config)
    orders = read_rows(result.run_dir / "orders.csv")
    later_entries = [row for row in orders if row["role"] == "entry" and row["datetime"][:10] > NVDA_CRASH_DAY]
    assert later_entries == []  # halted means quiet: nothing is even submitted
    skips = [
        row
        for row in read_rows(result.run_dir / "events.csv")
        if row["event"] == "skip" and row["datetime"][:10] > NVDA_CRASH_DAY
    ]
    assert skips and all("gate HALTED (circuit_breaker: 1-day drawdown" in row["detail"] for row in skips)
    assert not [
        row
        for row in read_rows(result.run_dir / "fills.csv")
        if row["datetime"][:10] > NVDA_CRASH_DAY and row["role"] == "entry"
    ]


def test_a_restarted_session_with_the_same_state_folder_is_still_paused(tmp_path, nvda, crash_config):
    state = tmp_path / "state"
    crash_run(tmp_path, nvda, crash_config, state=state)
    assert CircuitBreaker(crash_config, store=StateStore.in_folder(state)).is_trading_paused()
    again = crash_run(tmp_path, nvda, crash_config, state=state)
    orders = read_rows(again.run_dir / "orders.csv")
    assert [row for row in orders if row["role"] == "entry"] == []
    events = read_rows(again.run_dir / "events.csv")
    assert any(row["event"] == "breaker_paused" for row in events)
    assert again.summary["state_at_start"].startswith(f"state {state}: circuit breaker PAUSED since")


def test_when_the_breaker_is_paused_no_order_reaches_the_broker(tmp_path, nvda, crash_config):
    state = tmp_path / "paused"
    with StateStore.in_folder(state) as store:
        CircuitBreaker(crash_config, store=store).pause("manual pause before the session")
    result = crash_run(tmp_path, nvda, crash_config, state=state)
    statuses = {row["status"] for row in read_rows(result.run_dir / "orders.csv")}
    assert statuses <= {"Submitted", "Rejected"}
    assert read_rows(result.run_dir / "fills.csv") == []


def test_vix_trigger_with_cancel_all_cancels_the_protective_legs_on_the_first_day_vix_closes_above_the_threshold(
    tmp_path, nvda, shared_data, make_config_dir
):
    wide = {
        "trading_config.yaml": {"position_sizing.atr_multiplier": 8.0},
        "strategy_params.yaml": {"strategy.take_profit_atr": 10.0},
    }
    config = load_config(
        make_config_dir(
            {
                "config.yaml": {
                    "kill_switch.vix_threshold": 40.0,
                    "kill_switch.on_trigger": "cancel_all",
                    "backtest.max_drawdown_pct": -0.9,
                },
                **wide,
            }
        )
    )
    vix = pd.read_csv(shared_data / "vix-daily.csv", parse_dates=["DATE"]).set_index("DATE")["CLOSE"]
    window = vix.loc["2008-09-01":"2008-12-31"]
    first_cross = window[window > 40.0].index[0].date().isoformat()
    # a position whose wide stop and take-profit are still working when VIX crosses 40
    signals = write_signals(tmp_path / "s.csv", [("2008-09-22", "NVDA", 0.2, "BUY", "direct")])
    request = BacktestRequest(
        config=config,
        data=(nvda,),
        signals=signals,
        start=date(2008, 8, 1),
        end=date(2008, 12, 31),
        out_dir=tmp_path / "runs",
        vix=shared_data / "vix-daily.csv",
    )
    result = run_backtest(request)
    events = [row for row in read_rows(result.run_dir / "events.csv") if row["event"] == "kill_switch"]
    assert [row["datetime"][:10] for row in events] == [first_cross]
    assert events[0]["detail"].startswith("vix:")
    cancelled = [row for row in read_rows(result.run_dir / "orders.csv") if row["status"] == "Canceled"]
    assert cancelled and {row["datetime"][:10] for row in cancelled} == {first_cross}
    assert {row["role"] for row in cancelled} == {"stop", "take_profit"}


def test_kill_switch_trigger_is_recorded_in_the_state_database(tmp_path, nvda, shared_data, make_config_dir):
    config = load_config(
        make_config_dir({"config.yaml": {"kill_switch.vix_threshold": 40.0, "backtest.max_drawdown_pct": -0.9}})
    )
    signals = write_signals(tmp_path / "s.csv", [("2008-09-10", "NVDA", 0.2, "BUY", "direct")])
    state = tmp_path / "state"
    request = BacktestRequest(
        config=config,
        data=(nvda,),
        signals=signals,
        start=date(2008, 8, 1),
        end=date(2008, 12, 31),
        out_dir=tmp_path / "runs",
        vix=shared_data / "vix-daily.csv",
        state_dir=state,
    )
    run_backtest(request)
    with StateStore.in_folder(state) as store:
        assert store.kill_switch().active and store.kill_switch().cause == "vix"
        assert any(t.source == "kill_switch" and t.cause == "vix" for t in store.triggers())


_SEED_ENVELOPE = {"config.yaml": {"backtest.risk": None}}
_signal_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=59),
        st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
        st.sampled_from(["BUY", "SELL"]),
        st.sampled_from(["direct", "propagated"]),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture(scope="module")
def seed_envelope(tmp_path_factory):
    import shutil

    import yaml

    folder = tmp_path_factory.mktemp("seed-config")
    shutil.copytree(Path(__file__).resolve().parents[3] / "config", folder, dirs_exist_ok=True)
    body = yaml.safe_load((folder / "config.yaml").read_text())
    body["backtest"].pop("risk")
    (folder / "config.yaml").write_text(yaml.safe_dump(body))
    return load_config(folder)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_signal_rows)
def test_seed_default_envelope_places_zero_orders_at_the_broker_for_any_signal_stream(
    rows, seed_envelope, tmp_path, shared_data
):
    assert seed_envelope.backtest.risk is None and seed_envelope.risk.max_notional == 0
    days = pd.bdate_range("2003-01-02", periods=80)
    signals = tmp_path / "random.csv"
    write_signals(signals, [(days[20 + i].date().isoformat(), "ORCL", w, d, s) for i, w, d, s in rows])
    request = BacktestRequest(
        config=seed_envelope,
        data=(shared_data / "orcl-1995-2014.csv",),
        signals=signals,
        start=date(2003, 1, 1),
        end=date(2003, 5, 1),
        out_dir=tmp_path / "runs",
    )
    result = run_backtest(request)
    statuses = {row["status"] for row in result.orders}
    assert statuses <= {"Submitted", "Rejected"}
    assert result.fills == []
