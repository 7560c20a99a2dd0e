"""Re-arm is explicit (``kill_switch.cooldown_minutes``, ``kill_switch.rearm_vix_below``,
``circuit_breaker.cooldown_minutes``), on real NVDA prices and the real VIX of 2008-2009."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest
from spine.safety.state_store import StateStore

MONTH = 30 * 24 * 60


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))


@pytest.fixture
def nvda_2008_2009(tmp_path, shared_data):
    signals = tmp_path / "signals.csv"
    days = pd.bdate_range("2008-01-07", "2009-12-28", freq="4W-MON")
    body = "datetime,ticker,weight,direction,source_type,source_ticker\n"
    body += "".join(f"{d.date()},NVDA,0.1,{'BUY' if i % 2 == 0 else 'SELL'},direct,\n" for i, d in enumerate(days))
    signals.write_text(body)
    vix = pd.read_csv(shared_data / "vix-daily.csv", parse_dates=["DATE"]).set_index("DATE")["CLOSE"]
    return {
        "data": shared_data / "nvda-1999-2014.csv",
        "vix_file": shared_data / "vix-daily.csv",
        "vix": vix.loc["2008-01-01":"2009-12-31"],
        "signals": signals,
    }


def backtest(tmp_path, market, config, state=None):
    request = BacktestRequest(
        config=config,
        data=(market["data"],),
        signals=market["signals"],
        vix=market["vix_file"],
        start=date(2008, 1, 1),
        end=date(2009, 12, 31),
        out_dir=tmp_path / "runs",
        state_dir=state,
    )
    return run_backtest(request)


def rearm_config(make_config_dir, **kill_switch):
    edits = {f"kill_switch.{key}": value for key, value in kill_switch.items()}
    return load_config(
        make_config_dir(
            {
                "config.yaml": {**edits, "backtest.max_drawdown_pct": -0.9},
                "strategy_params.yaml": {"circuit_breaker.max_1d_drawdown_pct": 0.5},
            }
        )
    )


def test_the_shipped_config_keeps_the_kill_until_spine_resume(tmp_path, nvda_2008_2009, make_config_dir):
    result = backtest(tmp_path, nvda_2008_2009, rearm_config(make_config_dir))
    events = [row["event"] for row in rows(result.run_dir / "events.csv")]
    assert events.count("kill_switch") == 1 and "kill_switch_rearm" not in events


def test_rearm_vix_below_rearms_on_the_first_close_below_it_after_the_cooldown_and_trading_resumes(
    tmp_path, nvda_2008_2009, make_config_dir
):
    state = tmp_path / "state"
    result = backtest(
        tmp_path, nvda_2008_2009, rearm_config(make_config_dir, cooldown_minutes=MONTH, rearm_vix_below=30.0), state
    )
    events = rows(result.run_dir / "events.csv")
    fired = next(row for row in events if row["event"] == "kill_switch")
    vix = nvda_2008_2009["vix"]
    fired_at = pd.Timestamp(fired["datetime"][:10])
    assert fired_at == vix[vix > 40].index[0]  # 2008-09-29 or thereabouts, from the file itself
    due = vix[(vix.index >= fired_at + timedelta(minutes=MONTH)) & (vix < 30.0)].index[0]
    rearms = [row for row in events if row["event"] == "kill_switch_rearm"]
    assert rearms and rearms[0]["datetime"][:10] == due.date().isoformat()
    filled_after = [
        f
        for f in rows(result.run_dir / "fills.csv")
        if f["role"] == "entry" and f["datetime"][:10] > rearms[0]["datetime"][:10]
    ]
    assert filled_after
    with StateStore.open_folder(state, create=False) as store:
        assert any(t.source == "kill_switch" and t.cause == "rearm" for t in store.triggers())


def test_a_cooldown_alone_rearms_a_week_later_and_the_still_high_vix_fires_again(
    tmp_path, nvda_2008_2009, make_config_dir
):
    week = 7 * 24 * 60
    result = backtest(tmp_path, nvda_2008_2009, rearm_config(make_config_dir, cooldown_minutes=week))
    events = [
        row for row in rows(result.run_dir / "events.csv") if row["event"] in ("kill_switch", "kill_switch_rearm")
    ]
    first, rearm, again = events[0], events[1], events[2]
    assert (first["event"], rearm["event"], again["event"]) == ("kill_switch", "kill_switch_rearm", "kill_switch")
    fired_at = pd.Timestamp(first["datetime"][:10])
    bars = nvda_2008_2009["vix"].index
    assert rearm["datetime"][:10] == bars[bars >= fired_at + timedelta(minutes=week)][0].date().isoformat()
    assert again["datetime"][:10] == rearm["datetime"][:10]  # re-armed on that close, and the VIX is still above 40


def test_a_breaker_cooldown_rearms_it_with_an_event_and_a_state_record(tmp_path, shared_data, make_config_dir):
    config = load_config(
        make_config_dir(
            {
                "trading_config.yaml": {"position_sizing.risk_pct": 0.2},
                "strategy_params.yaml": {"circuit_breaker.cooldown_minutes": 3 * 24 * 60},
                "config.yaml": {
                    "backtest.risk.max_notional": 1_000_000,
                    "backtest.risk.max_sector_exposure": 1.0,
                    "backtest.max_drawdown_pct": -0.9,
                },
            }
        )
    )
    signals = tmp_path / "s.csv"
    signals.write_text("datetime,ticker,weight,direction,source_type,source_ticker\n2008-06-20,NVDA,0.9,BUY,direct,\n")
    state = tmp_path / "state"
    request = BacktestRequest(
        config=config,
        data=(shared_data / "nvda-1999-2014.csv",),
        signals=signals,
        start=date(2008, 1, 1),
        end=date(2008, 8, 29),
        out_dir=tmp_path / "runs",
        state_dir=state,
    )
    result = run_backtest(request)
    events = rows(result.run_dir / "events.csv")
    trip = next(row for row in events if row["event"] == "breaker_trip")
    rearm = next(row for row in events if row["event"] == "breaker_rearm")
    assert trip["datetime"][:10] == "2008-07-03" and rearm["datetime"][:10] == "2008-07-07"
    with StateStore.open_folder(state, create=False) as store:
        assert any(t.source == "breaker" and t.cause == "cooldown" for t in store.triggers())


def test_rearm_vix_below_above_the_trigger_is_a_config_error(make_config_dir):
    from spine.core.errors import ConfigError

    with pytest.raises(ConfigError, match="rearm_vix_below"):
        load_config(make_config_dir({"config.yaml": {"kill_switch.rearm_vix_below": 45.0}}))
