"""The replay clock: a window, an announced end, pause/resume, its position and a listener; replay time stamps all."""

from __future__ import annotations

import datetime as dt

from ib_async import LimitOrder, MarketOrder, Stock

from spine.gateway.market import ClockPosition
from spine.gateway.server import REPLAY_ENDED_CODE

ABC = Stock("ABC", "SMART", "USD")


def test_the_window_starts_and_ends_where_asked_and_history_before_it_is_served(start_gateway, connect):
    gateway = start_gateway(start="2020-01-06", end="2020-01-08")
    ib = connect(gateway, 1)
    position = gateway.position
    assert (position.now.date(), position.bars_left, position.at_end) == (dt.date(2020, 1, 6), 2, False)
    bars = ib.reqHistoricalData(ABC, "", "1 M", "1 day", "TRADES", True)
    assert [b.date.day for b in bars] == [2, 3, 6]  # warm-up history before --start
    assert gateway.step(10) == 2
    assert gateway.position.now.date() == dt.date(2020, 1, 8) and gateway.position.at_end


def test_the_end_of_the_replay_is_announced_and_working_orders_stay_working(start_gateway, connect, wait_until):
    gateway = start_gateway(end="2020-01-06")
    ib = connect(gateway, 1)
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code, text))
    trade = ib.placeOrder(ABC, LimitOrder("BUY", 5, 50.0, orderRef="resting"))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the order to work")
    assert gateway.step(5) == 2
    wait_until(ib, lambda: any(code == REPLAY_ENDED_CODE for _, code, _ in errors), what="the end notice")
    wait_until(ib, lambda: len(ib.newsBulletins()) == 1, what="the bulletin")
    (req_id, _, text) = next(e for e in errors if e[1] == REPLAY_ENDED_CODE)
    assert req_id == -1 and "Replay ended at 2020-01-06" in text and "1 working order(s) stay working" in text
    assert "Replay ended" in ib.newsBulletins()[0].message
    assert gateway.step() == 0
    (still,) = ib.reqOpenOrders()
    assert still.orderStatus.status == "Submitted" and still.order.orderRef == "resting"


def test_a_paused_clock_does_not_move_until_resumed(start_gateway, connect, wait_until):
    gateway = start_gateway(speed_bars_per_sec=50.0)
    gateway.pause()
    first = gateway.position.index
    assert not gateway.position.at_end
    ib = connect(gateway, 1)
    seen: list[ClockPosition] = []
    gateway.add_clock_listener(lambda p: (seen.append(p), gateway.simulator.pause() if p.index == first + 1 else None))
    gateway.resume()
    wait_until(ib, lambda: bool(seen) and gateway.call(lambda: gateway.simulator.paused), what="the pause")
    held = gateway.position
    for _ in range(20):
        ib.reqCurrentTime()  # round trips while the clock task would have taken bars
    assert gateway.position == held and held.index == first + 1
    gateway.resume()
    wait_until(ib, lambda: gateway.position.at_end, what="the end after resuming")
    assert [p.index for p in seen] == list(range(first + 1, 7))
    assert seen[-1].now.date() == dt.date(2020, 1, 10) and seen[-1].at_end


def test_a_clock_listener_runs_after_fills_so_an_owner_can_step_in_lockstep(gateway, ib, wait_until):
    fills_at_step: list[int] = []
    gateway.add_clock_listener(lambda p: fills_at_step.append(len(gateway.simulator.engine.executions)))
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 3))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the order to work")
    gateway.step()
    assert fills_at_step == [1]  # the fill on the new bar happened before the listener ran


def test_replay_time_stamps_the_current_time_the_handshake_and_executions(gateway, ib, wait_until):
    gateway.step(2)
    assert ib.reqCurrentTime().astimezone(dt.UTC) == dt.datetime(2020, 1, 6, 5, 0, tzinfo=dt.UTC)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 3))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the order to work")
    gateway.step()
    wait_until(ib, lambda: bool(trade.fills), what="the fill")
    assert trade.fills[0].execution.time.astimezone(dt.UTC) == dt.datetime(2020, 1, 7, 5, 0, tzinfo=dt.UTC)
    (completed,) = [t for t in ib.reqCompletedOrders(False) if t.order.permId == trade.order.permId]
    assert completed.orderStatus.status == "Filled"
