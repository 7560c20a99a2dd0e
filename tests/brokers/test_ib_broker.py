"""IBBroker's money and fills from the session's records (the IB thread is replaced by a record queue).

The routing through a real ib_async session is tested end to end in
``tests/spine/cli/test_paper.py`` and ``tests/spine/routes/test_rehearse_parity.py``; here the
broker's own rules are checked on records alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from brokers import GatedBroker, IBBroker, MissingGateError, RiskGate
from brokers.ib_broker import ib_intent_id
from spine.config import RiskLimits
from spine.ib import translation as tr
from spine.ib.journal import JournalOrder
from spine.ib.records import AccountSnapshot, PositionRecord

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
