"""IBBroker's money and fills from the session's records (the IB thread is replaced by a record queue).

The routing through a real ib_async session is tested end to end in
``tests/spine/cli/test_paper.py`` and ``tests/spine/routes/test_rehearse_parity.py``; here the
broker's own rules are checked on records alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import backtrader as bt
import pandas as pd
import pytest

from brokers import GatedBroker, IBBroker, MissingGateError, RiskGate
from brokers.ib_broker import ib_intent_id
from spine.config import RiskLimits
from spine.ib import translation as tr
from spine.ib.journal import JournalOrder
from spine.ib.records import AccountSnapshot, Fill, OrderStatus, OrderSubmitted, PositionRecord

NOW = datetime(2024, 3, 12, 15, 0, tzinfo=UTC)
WIDE = RiskLimits(
    max_notional=1e9,
    max_daily_loss=1e9,
    max_sector_exposure=100,
    max_positions=100,
    max_price_deviation_pct=1.0,
    max_orders_per_minute=1000,
)


class RecordQueue:
    """Stands where the IBSession stands: commands in, events out, nothing else."""

    def __init__(self, snapshot: AccountSnapshot | None = None) -> None:
        self.snapshot = snapshot
        self.commands: list = []
        self.events: list = []

    def submit(self, command):
        self.commands.append(command)

    def poll_events(self):
        out, self.events = self.events, []
        return out

    def account_snapshot(self):
        return self.snapshot


def snapshot(values: dict[str, float], *, age_secs: float = 0.0, positions=()) -> AccountSnapshot:
    return AccountSnapshot("DU1", tuple(sorted(values.items())), tuple(positions), NOW - timedelta(seconds=age_secs))


def broker_with(snap: AccountSnapshot | None, *, max_age: float = 60.0, events: list | None = None) -> IBBroker:
    record = (lambda when, name, detail: events.append((name, detail))) if events is not None else None
    broker = IBBroker(
        session=RecordQueue(snap),
        gate=RiskGate(WIDE, {}),
        account_max_age_secs=max_age,
        on_event=record,
        wall_clock=lambda: NOW,
    )
    broker.start()
    return broker


def test_ib_broker_implements_the_gated_broker_interface():
    assert isinstance(broker_with(None), GatedBroker)


def test_ib_broker_without_a_gate_cannot_be_built():
    with pytest.raises(MissingGateError, match="IBBroker needs a RiskGate"):
        IBBroker(session=RecordQueue(), wall_clock=lambda: NOW)


def test_cash_is_available_funds_and_value_is_net_liquidation():
    broker = broker_with(
        snapshot({"AvailableFunds": 81_234.56, "NetLiquidation": 100_012.34, "TotalCashValue": 90_000.0})
    )
    assert broker.getcash() == 81_234.56
    assert broker.getvalue() == 100_012.34
    assert broker.get_net_liquidation() == 100_012.34
    assert broker.get_available_funds() == 81_234.56


def test_fallbacks_are_full_available_funds_and_total_cash_value():
    broker = broker_with(snapshot({"FullAvailableFunds": 5_000.25, "TotalCashValue": 7_500.5}))
    assert (broker.getcash(), broker.getvalue()) == (5_000.25, 7_500.5)


def test_no_snapshot_means_zero_never_a_guess():
    broker = broker_with(None)
    assert (broker.getcash(), broker.getvalue(), broker.get_available_funds()) == (0.0, 0.0, 0.0)


def test_a_stale_snapshot_gives_the_sizer_nothing_to_spend_and_says_why():
    events: list = []
    broker = broker_with(snapshot({"AvailableFunds": 50_000.0, "NetLiquidation": 60_000.0}, age_secs=61), events=events)
    assert broker.get_available_funds() == 0.0
    assert events == [
        ("account_stale", "account snapshot is 61 s old, past trading.ib.account_max_age_secs 60: the sizer sizes 0")
    ]
    assert broker.getcash() == 50_000.0  # the figure itself is still IB's


def test_a_fresh_snapshot_arriving_restores_the_funds():
    broker = broker_with(snapshot({"AvailableFunds": 50_000.0}, age_secs=120))
    assert broker.get_available_funds() == 0.0
    broker.apply(snapshot({"AvailableFunds": 40_000.0}))
    assert broker.get_available_funds() == 40_000.0


def test_positions_without_a_feed_are_kept_for_the_gates_view():
    broker = broker_with(snapshot({"NetLiquidation": 1.0}, positions=[PositionRecord("TSM", 30.0, 101.5)]))
    assert broker.external_positions == {"TSM": 30.0}


@pytest.mark.parametrize("tag", ["LIVE_SPINE", "PROHIBITED_LLM_DISCOVERY_LINK"])
def test_every_intent_id_fits_an_order_ref_of_at_most_64_characters(tag):
    for intent in ("NVDA-12", "flatten-kill switch (vix): VIX closed at 45.10", "X" * 80):
        ref = tr.format_order_ref(tag, ib_intent_id(intent, tag), "take_profit", 1)
        assert len(ref) <= tr.ORDER_REF_MAX and tr.parse_order_ref(ref) is not None


def test_intraday_net_liquidation_trips_the_breaker_without_waiting_for_a_bar():
    from analyzers import CircuitBreaker
    from brokers import RiskGate
    from spine.config import CircuitBreakerSettings, RiskLimits

    events: list = []
    breaker = CircuitBreaker(CircuitBreakerSettings(max_1d_drawdown_pct=0.05))
    gate = RiskGate(
        RiskLimits(max_notional=1e6, max_daily_loss=1e6, max_sector_exposure=1, max_positions=5), {}, breaker=breaker
    )
    broker = IBBroker(session=RecordQueue(), gate=gate, intraday_breaker=True, wall_clock=lambda: NOW,
                      on_event=lambda when, name, detail: events.append((name, detail)))  # fmt: skip
    broker.start()
    broker.apply(AccountSnapshot("DU1", (("NetLiquidation", 100_000.0),), (), NOW - timedelta(minutes=30)))
    broker.apply(AccountSnapshot("DU1", (("NetLiquidation", 97_000.0),), (), NOW - timedelta(minutes=15)))
    assert gate.state == "ACTIVE"
    broker.apply(AccountSnapshot("DU1", (("NetLiquidation", 94_900.0),), (), NOW))
    assert breaker.tripped and gate.state == "HALTED"
    assert [name for name, _ in events] == ["breaker_trip"]
    assert "intraday NetLiquidation 94,900.00" in events[0][1]


def journal_row(order_id: int, ref: str, status: str = "Accepted", filled: float = 0.0) -> JournalOrder:
    return JournalOrder(order_id, 9000 + order_id, ref, ref.split(":")[1] if ":" in ref else "", "entry", "ALPH", "BUY",
                        124.0, "MKT", None, None, 0, "", status, True, filled)  # fmt: skip


def test_adopting_takes_only_spines_orders_with_shares_left_and_never_sends_their_intents_again():
    broker = broker_with(snapshot({"NetLiquidation": 100_000.0}))
    broker.adopt(
        [
            journal_row(6, "LIVE_SPINE:ALPH-0c60e1806:entry:1"),
            journal_row(7, "someone else's order"),
            journal_row(8, "LIVE_SPINE:ALPH-1d0a55f29:entry:1", status="Completed", filled=124.0),
            journal_row(9, "LIVE_SPINE:ALPH-2e9b8a7c1:entry:1", status="Partial", filled=124.0),
        ]
    )
    assert broker.known_refs == {"LIVE_SPINE:ALPH-0c60e1806:entry:1"}
    assert broker.session.commands == []


def held_abc(events: list | None = None):
    """A broker holding 10 ABC (from the snapshot) on a feed standing on one bar, and that feed."""
    bars = pd.DataFrame({"open": [100.0], "high": [101.0], "low": [99.0], "close": [100.5], "volume": [1e6]},
                        index=pd.to_datetime(["2024-03-12"]))  # fmt: skip
    data = bt.feeds.PandasData(dataname=bars, name="ABC")
    bt.Cerebro().adddata(data)
    data._start()
    data.next()
    broker = IBBroker(session=RecordQueue(snapshot({"NetLiquidation": 100_000.0}, positions=[PositionRecord("ABC", 10.0, 100.0)])),
                      gate=RiskGate(WIDE, {"ABC": "Technology"}), wall_clock=lambda: NOW,
                      on_event=(lambda when, name, detail: events.append((name, detail))) if events is not None else None)  # fmt: skip
    broker.watch([data])
    broker.start()
    return broker, data


def sent_exit(broker, data):  # type: ignore[no-untyped-def]
    """A market exit of the 10 ABC, handed to the IB thread and acknowledged as order 9 (attempt 1)."""
    order = bt.SellOrder(owner=None, data=data, size=10, exectype=bt.Order.Market)
    order.addinfo(tag="LIVE_SPINE", intent="out", role="exit")
    broker.submit(order)
    broker.apply(OrderSubmitted(9, "LIVE_SPINE:out:exit:1", "out", "exit", "ABC", "SELL", 10.0, "MKT", None, None))
    return order


def lost(order_id: int, ref: str, resent_as: str = ""):  # type: ignore[no-untyped-def]
    return OrderStatus(order_id, 0, ref, tr.REJECTED, "Lost", 0.0, 10.0, 0.0, "lost", resent_as=resent_as)


def statuses_of(broker) -> list[int]:  # type: ignore[no-untyped-def]
    out = []
    while (note := broker.get_notification()) is not None:
        out.append(note.status)
    return out


def test_a_lost_exit_sent_again_is_the_same_order_and_the_next_attempts_fill_completes_it():
    events: list = []
    broker, data = held_abc(events)
    order = sent_exit(broker, data)
    broker.apply(lost(9, "LIVE_SPINE:out:exit:1", resent_as="LIVE_SPINE:out:exit:2"))
    cancelled_at_ib = OrderStatus(9, 0, "LIVE_SPINE:out:exit:1", tr.CANCELED, "Cancelled", 0.0, 0.0, 0.0)
    broker.apply(cancelled_at_ib)  # the lost attempt's id is cancelled at IB: that ends nothing here
    broker.apply(OrderSubmitted(12, "LIVE_SPINE:out:exit:2", "out", "exit", "ABC", "SELL", 10.0, "MKT", None, None))
    assert order.alive() and order.info["ib_order_id"] == 12
    broker.apply(Fill("e1", 12, 77, "LIVE_SPINE:out:exit:2", "ABC", "SELL", 10.0, 101.25, 1.0, NOW))
    assert order.status == bt.Order.Completed
    assert broker.getposition(data).size == 0
    seen = statuses_of(broker)
    assert bt.Order.Rejected not in seen and bt.Order.Canceled not in seen
    assert broker.sent_refs == ["LIVE_SPINE:out:exit:1", "LIVE_SPINE:out:exit:2"]
    assert (
        "order_resent",
        "LIVE_SPINE:out:exit:1 lost (IB never acknowledged it); the order follows LIVE_SPINE:out:exit:2",
    ) in events


def test_a_lost_exit_not_sent_again_is_rejected():
    broker, data = held_abc()
    order = sent_exit(broker, data)
    broker.apply(lost(9, "LIVE_SPINE:out:exit:1"))
    assert order.status == bt.Order.Rejected and broker.getposition(data).size == 10


def test_a_next_attempt_the_ib_thread_refuses_rejects_the_order():
    broker, data = held_abc()
    order = sent_exit(broker, data)
    broker.apply(lost(9, "LIVE_SPINE:out:exit:1", resent_as="LIVE_SPINE:out:exit:2"))
    broker.apply(OrderStatus(0, 0, "LIVE_SPINE:out:exit:2", tr.REJECTED, "", 0.0, 10.0, 0.0, "not connected"))
    assert order.status == bt.Order.Rejected and order.info["reject_reason"] == "not connected"


def test_a_lost_stop_leg_sent_again_stays_the_brackets_stop_and_its_fill_closes_the_position():
    broker, data = held_abc()
    entry = bt.BuyOrder(owner=None, data=data, size=5, exectype=bt.Order.Market, transmit=False)
    entry.addinfo(tag="LIVE_SPINE", intent="in")
    stop = bt.SellOrder(owner=None, data=data, size=5, price=95.0, exectype=bt.Order.Stop, parent=entry, transmit=True)
    for order in (entry, stop):
        broker.submit(order)
    assert stop.info["order_ref"] == "LIVE_SPINE:in:stop:1"
    broker.apply(Fill("e1", 20, 70, "LIVE_SPINE:in:entry:1", "ABC", "BUY", 5.0, 100.5, 1.0, NOW))
    broker.apply(lost(22, "LIVE_SPINE:in:stop:1", resent_as="LIVE_SPINE:in:stop:2"))
    broker.apply(OrderSubmitted(30, "LIVE_SPINE:in:stop:2", "in", "stop", "ABC", "SELL", 5.0, "STP", None, 95.0))
    broker.apply(Fill("e2", 30, 71, "LIVE_SPINE:in:stop:2", "ABC", "SELL", 5.0, 95.0, 1.0, NOW))
    assert stop.status == bt.Order.Completed and broker.getposition(data).size == 10


def test_open_orders_are_the_working_ones_in_sending_order_and_an_ended_order_leaves_them():
    broker, data = held_abc()
    exit_order = sent_exit(broker, data)
    entry = bt.BuyOrder(owner=None, data=data, size=5, exectype=bt.Order.Market, transmit=False)
    entry.addinfo(tag="LIVE_SPINE", intent="in")
    stop = bt.SellOrder(owner=None, data=data, size=5, price=95.0, exectype=bt.Order.Stop, parent=entry, transmit=True)
    for order in (entry, stop):
        broker.submit(order)
    assert broker.open_orders() == [exit_order, entry, stop]
    broker.apply(Fill("e1", 20, 70, "LIVE_SPINE:in:entry:1", "ABC", "BUY", 5.0, 100.5, 1.0, NOW))
    assert broker.open_orders() == [exit_order, stop]
    broker.apply(lost(9, "LIVE_SPINE:out:exit:1", resent_as="LIVE_SPINE:out:exit:2"))
    assert broker.open_orders() == [stop, exit_order]  # the order follows its next attempt, sent last
    broker.apply(Fill("e2", 12, 77, "LIVE_SPINE:out:exit:2", "ABC", "SELL", 10.0, 101.25, 1.0, NOW))
    assert broker.open_orders() == [stop]
