"""Account snapshots, quotes and historical bars from a real session; settings from the config."""

from __future__ import annotations

from datetime import date

from spine.config import load_config
from spine.ib import SessionSettings
from spine.ib.records import AccountSnapshot, Bar, Quote, RequestHistory


def test_account_snapshots_keep_coming_so_net_liquidation_can_feed_the_breaker(gateway, open_session) -> None:
    session, log = open_session(gateway, account_refresh_secs=0.05)
    log.wait_for(lambda: len(log.of(AccountSnapshot)) >= 4, "repeated account snapshots")
    snapshot = log.of(AccountSnapshot)[-1]
    assert snapshot.value("NetLiquidation") == 1_000_000.0 and snapshot.account == "DU0000001"
    assert session.account_snapshot() is not None


def test_quotes_arrive_per_ticker_and_move_with_the_clock(gateway, open_session) -> None:
    session, log = open_session(gateway)
    log.wait_for(lambda: {q.ticker for q in log.of(Quote) if q.last} == {"ABC", "XYZ"}, "a quote line per ticker")
    gateway.step(1)
    log.wait_for(lambda: session.last_quote("ABC").last == 105.0, "ABC's next close")


def test_history_requests_come_back_as_warm_up_bars(gateway, open_session) -> None:
    session, log = open_session(gateway)
    gateway.step(3)  # the clock stands on 2020-01-08; the file runs to 2020-01-10
    session.submit(RequestHistory(("ABC", "XYZ"), duration="1 W")).result(timeout=20)
    bars = log.of(Bar)
    assert {b.ticker for b in bars} == {"ABC", "XYZ"} and all(b.warmup for b in bars)
    abc = [b for b in bars if b.ticker == "ABC"]
    assert [b.day for b in abc] == [
        date(2020, 1, d) for d in (2, 3, 6, 7, 8)
    ]  # a week back from the clock, never past it
    assert abc[-1].close == 91.0  # the bar at the clock


def test_a_history_request_kept_up_to_date_brings_each_new_bar_as_a_live_bar(gateway, open_session) -> None:
    session, log = open_session(gateway)
    gateway.step(3)  # the clock stands on 2020-01-08
    session.submit(RequestHistory(("ABC",), duration="1 W", keep_up_to_date=True)).result(timeout=20)
    assert [b.day for b in log.of(Bar)][-1] == date(2020, 1, 8) and all(b.warmup for b in log.of(Bar))
    gateway.step(1)  # the gateway pushes the bar of 2020-01-09 to the open request
    log.wait_for(lambda: any(b.day == date(2020, 1, 9) for b in log.of(Bar)), "the pushed bar of 2020-01-09")
    (pushed,) = [b for b in log.of(Bar) if b.day == date(2020, 1, 9)]
    assert pushed.ticker == "ABC" and not pushed.warmup
    answered = session.submit(RequestHistory(("ABC",), duration="1 D", warmup=False)).result(timeout=20)
    assert answered is not None
    (asked,) = [b for b in log.of(Bar) if b.day == date(2020, 1, 9) and b is not pushed]
    assert (pushed.open, pushed.high, pushed.low, pushed.close, pushed.volume) == (
        asked.open, asked.high, asked.low, asked.close, asked.volume,
    )  # fmt: skip


def test_settings_come_from_the_config_with_command_line_overrides(make_config_dir, tmp_path) -> None:
    config = load_config(make_config_dir({"trading_config.yaml": {"trading.execution.paper_account": "DU777"},
                                          "config.yaml": {"kill_switch.on_trigger": "cancel_and_flatten"}}))  # fmt: skip
    settings = SessionSettings.from_config(config, tmp_path, port=4102, client_id=9, tickers=("abc",))
    assert (settings.port, settings.client_id, settings.paper_account, settings.tickers) == (4102, 9, "DU777", ("ABC",))
    assert (
        settings.kill_on_trigger == "cancel_and_flatten"
        and settings.kill_flattens
        and settings.account_max_age_secs == 60.0
    )
    assert (
        SessionSettings(state_dir=tmp_path).kill_on_trigger == "cancel"
    )  # a kill keeps protective legs unless told otherwise
