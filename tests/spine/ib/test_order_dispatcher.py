"""OrderDispatcher over a real session: the seed's validation list and the gate in the path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spine.config import load_config
from spine.core.live_signal import LiveSignal
from spine.core.stops import RiskManager
from spine.ib import AccountMonitor, OrderDispatcher
from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.envelope import resolve_envelope
from spine.safety.risk_gate import RiskGate

PAPER = {
    "config.yaml": {
        "broker.mode": "paper", "broker.execution_enabled": True, "compliance.research_only_override": True,
        "risk.max_notional": 50_000, "risk.max_daily_loss": 10_000, "risk.max_sector_exposure": 0.6,
        "risk.max_positions": 10,
    },
    "sectors.yaml": {"sectors.ABC": "Technology", "sectors.XYZ": "Industrials"},
}  # fmt: skip


@pytest.fixture
def paper_config(make_config_dir):
    return load_config(make_config_dir(PAPER))


class CountingRiskManager(RiskManager):
    def __init__(self) -> None:
        super().__init__(2.0)
        self.calls = 0

    def compute_smart_stop(self, side: str, entry_price: float, atr_per_share: float) -> float:
        self.calls += 1
        return super().compute_smart_stop(side, entry_price, atr_per_share)


def _signal(propagated: bool = True, ticker: str = "ABC", entry: float = 102.0) -> LiveSignal:
    return LiveSignal(
        ticker=ticker, weight=0.01, direction="BUY", is_propagated=propagated, atr_per_share=2.0, entry_price=entry
    )


def _dispatcher(session, config, **kw):  # type: ignore[no-untyped-def]
    breaker = kw.pop("breaker", None) or CircuitBreaker(config)
    gate = RiskGate(config, execution_allowed=resolve_envelope(config, "paper").allowed, route="paper", breaker=breaker)
    return OrderDispatcher(session, kw.pop("risk_manager", None) or RiskManager(2.0), AccountMonitor(session),
                           config=config, gate=gate, breaker=breaker, **kw)  # fmt: skip


def _wait_quote(session, log, ticker="ABC"):  # type: ignore[no-untyped-def]
    log.wait_for(
        lambda: session.last_quote(ticker) is not None and session.last_quote(ticker).last, f"a {ticker} quote"
    )


def test_a_propagated_signal_becomes_a_bracket_whose_order_ref_carries_the_tag(
    gateway, open_session, paper_config
) -> None:
    session, log = open_session(gateway)
    _wait_quote(session, log)
    risk = CountingRiskManager()
    result = _dispatcher(session, paper_config, risk_manager=risk).dispatch(_signal(propagated=True))
    assert result["status"] == "submitted", result
    assert set(result) >= {
        "order_id",
        "ticker",
        "quantity",
        "side",
        "order_type",
        "stop_price",
        "take_profit_price",
        "comment",
        "status",
    }
    assert "PROHIBITED_LLM_DISCOVERY_LINK" in result["comment"]
    assert risk.calls == 1
    assert result["stop_price"] == 98.0 and result["take_profit_price"] == 108.0  # 102 -/+ 2 and 3 ATR of 2
    assert (result["ticker"], result["side"], result["order_type"]) == ("ABC", "BUY", "MKT")
    assert (
        result["quantity"] == 98
    )  # 1% of 1,000,000 NAV at 102.00 = 98.04; the risk budget 10,000 / (2 x 2) = 2,500 binds later
    log.wait_for(lambda: len(gateway.call(lambda: gateway.simulator.engine.orders)) >= 3, "three legs at the gateway")
    legs = gateway.call(lambda: {k[1]: o.request for k, o in gateway.simulator.engine.orders.items()})
    assert legs[result["order_id"]].order_ref == result["comment"]
    assert all("PROHIBITED_LLM_DISCOVERY_LINK" in leg.order_ref for leg in legs.values())


def test_a_direct_signal_is_tagged_live_spine(gateway, open_session, paper_config) -> None:
    session, log = open_session(gateway)
    _wait_quote(session, log)
    result = _dispatcher(session, paper_config).dispatch(_signal(propagated=False))
    assert result["status"] == "submitted" and result["comment"].startswith("LIVE_SPINE:")


def test_without_a_take_profit_the_dispatcher_sends_the_entry_and_its_stop_only(
    gateway, open_session, make_config_dir
) -> None:
    config = load_config(make_config_dir(PAPER), {"strategy.take_profit_atr": None})
    session, log = open_session(gateway)
    _wait_quote(session, log)
    result = _dispatcher(session, config).dispatch(_signal(propagated=False))
    assert result["status"] == "submitted", result
    assert (result["stop_price"], result["take_profit_price"], len(result["order_ids"])) == (98.0, None, 2)
    entry_id, stop_id = result["order_ids"]
    log.wait_status(stop_id, "Accepted")  # the stop transmitted the pair: the gateway works both
    legs = gateway.call(lambda: {k[1]: o.request for k, o in gateway.simulator.engine.orders.items()})
    assert sorted(legs) == [entry_id, stop_id]
    assert (legs[stop_id].order_type, legs[stop_id].parent_id, legs[stop_id].stop_price) == ("STP", entry_id, 98.0)


def test_a_paused_breaker_places_nothing_and_still_computes_the_stop(gateway, open_session, paper_config) -> None:
    session, log = open_session(gateway)
    _wait_quote(session, log)
    breaker = CircuitBreaker(paper_config)
    breaker.pause("test", datetime(2020, 1, 3, tzinfo=UTC))
    risk = CountingRiskManager()
    result = _dispatcher(session, paper_config, breaker=breaker, risk_manager=risk).dispatch(_signal())
    assert result["status"] == "paused" and "circuit breaker" in result["reason"]
    assert risk.calls == 1 and result["stop_price"] == 98.0
    assert gateway.call(lambda: len(gateway.simulator.engine.orders) + len(gateway.simulator.engine.held)) == 0


@pytest.mark.parametrize(
    ("edits", "rule"),
    [
        ({"config.yaml": {"risk.max_daily_loss": 0}}, "route"),  # zero limits: the envelope does not resolve to paper
        ({"config.yaml": {"risk.max_notional": 500}}, "max_notional"),
        ({"config.yaml": {"risk.max_price_deviation_pct": 0.001}}, "price_collar"),
    ],
)
def test_a_gate_refusal_sends_nothing(gateway, open_session, make_config_dir, edits, rule) -> None:
    merged = {name: dict(body) for name, body in PAPER.items()}
    for name, body in edits.items():
        merged.setdefault(name, {}).update(body)
    config = load_config(make_config_dir(merged))
    session, log = open_session(gateway)
    _wait_quote(session, log)
    result = _dispatcher(session, config).dispatch(_signal(entry=100.0))  # quote is 102.00: a 2% gap
    assert result["status"] == "rejected" and result["rule"] == rule, result
    assert gateway.call(lambda: len(gateway.simulator.engine.orders) + len(gateway.simulator.engine.held)) == 0


def test_a_halted_gate_sends_nothing(gateway, open_session, paper_config) -> None:
    session, log = open_session(gateway)
    _wait_quote(session, log)
    dispatcher = _dispatcher(session, paper_config)
    dispatcher.gate.halt("kill switch (manual): test")
    result = dispatcher.dispatch(_signal())
    assert result["status"] == "rejected" and result["rule"] == "halted"
    assert gateway.call(lambda: len(gateway.simulator.engine.orders) + len(gateway.simulator.engine.held)) == 0


def test_without_a_quote_the_collar_fails_closed(gateway, open_session, paper_config) -> None:
    session, _log = open_session(gateway, tickers=("XYZ",))
    result = _dispatcher(session, paper_config).dispatch(_signal(ticker="ABC"))
    assert result["status"] == "rejected" and "no quote for ABC" in result["reason"]


def test_a_stale_account_sizes_zero_and_says_why(gateway, open_session, paper_config) -> None:
    session, log = open_session(gateway)
    _wait_quote(session, log)

    class DeadProvider:
        def get_account_info(self) -> dict:
            raise ConnectionError("not connected")

    breaker = CircuitBreaker(paper_config)
    gate = RiskGate(paper_config, route="paper", breaker=breaker)
    dispatcher = OrderDispatcher(
        session, RiskManager(2.0), AccountMonitor(DeadProvider()), config=paper_config, gate=gate
    )
    result = dispatcher.dispatch(_signal())
    assert result["status"] == "skipped" and result["quantity"] == 0 and "not connected" in result["reason"]


def test_working_entries_count_toward_the_notional_limit_in_a_burst(gateway, open_session, make_config_dir) -> None:
    merged = {name: dict(body) for name, body in PAPER.items()}
    merged["config.yaml"]["risk.max_notional"] = 25_000  # room for two 98-share entries at 102 (9,996 each), not three
    config = load_config(make_config_dir(merged))
    session, log = open_session(gateway)
    _wait_quote(session, log)
    dispatcher = _dispatcher(session, config)
    results = [dispatcher.dispatch(_signal()) for _ in range(3)]
    assert [r["status"] for r in results] == ["submitted", "submitted", "rejected"]
    assert results[2]["rule"] == "max_notional"
    assert session.working_entries() == {"ABC": 196.0}


def _refs_at_gateway(gateway) -> list[str]:  # type: ignore[no-untyped-def]
    return gateway.call(
        lambda: (
            [o.request.order_ref for o in gateway.simulator.engine.orders.values()]
            + [r.order_ref for r in gateway.simulator.engine.held.values()]
        )
    )


def test_two_dispatchers_in_the_same_second_send_different_order_refs(gateway, open_session, paper_config) -> None:
    session, log = open_session(gateway)
    _wait_quote(session, log)
    second = datetime.now(UTC).replace(microsecond=0)
    first, other = (_dispatcher(session, paper_config, clock=lambda: second) for _ in range(2))
    results = [first.dispatch(_signal()), other.dispatch(_signal())]
    assert [r["status"] for r in results] == ["submitted", "submitted"], results
    assert results[0]["intent_id"] != results[1]["intent_id"]
    log.wait_for(lambda: len(_refs_at_gateway(gateway)) >= 6, "two brackets at the gateway")
    refs = _refs_at_gateway(gateway)
    assert len(refs) == len(set(refs)) == 6


def test_a_dispatcher_after_a_restart_never_reuses_an_intent_id_the_journal_has(
    gateway, open_session, paper_config, state_dir, monkeypatch
) -> None:
    import spine.ib.order_dispatcher as od
    from spine.ib.journal import journaled_intent_ids

    second = datetime.now(UTC).replace(microsecond=0)
    # each dispatch draws the next token after its placement: the new process draws the token the first one drew
    tokens = iter(["aaaa", "zzzz", "aaaa", "bbbb", "yyyy"])
    monkeypatch.setattr(od, "_token", lambda: next(tokens))
    session, log = open_session(gateway)
    _wait_quote(session, log)
    before = _dispatcher(session, paper_config, clock=lambda: second).dispatch(_signal())
    assert before["status"] == "submitted", before
    session.stop()
    assert before["intent_id"] in journaled_intent_ids(state_dir)

    monkeypatch.setattr(od, "_ISSUED", set())  # a new process remembers nothing of the first
    session, log = open_session(gateway)
    _wait_quote(session, log)
    after = _dispatcher(session, paper_config, clock=lambda: second).dispatch(_signal())
    assert after["status"] == "submitted", after
    assert after["intent_id"] != before["intent_id"] and after["comment"] != before["comment"]


def test_an_intent_id_given_in_the_metadata_is_fitted_to_the_order_ref(gateway, open_session, paper_config) -> None:
    from spine.ib import translation as tr

    session, log = open_session(gateway)
    _wait_quote(session, log)
    signal = LiveSignal(ticker="ABC", weight=0.01, direction="BUY", is_propagated=True, atr_per_share=2.0,
                        entry_price=102.0, metadata={"intent_id": "a signal id far longer than any orderRef can carry"})  # fmt: skip
    result = _dispatcher(session, paper_config).dispatch(signal)
    assert result["status"] == "submitted", result
    assert len(result["intent_id"]) <= tr.INTENT_MAX and len(result["comment"]) <= tr.ORDER_REF_MAX


def test_an_intent_prefix_that_would_not_fit_is_refused_at_construction(gateway, open_session, paper_config) -> None:
    session, _log = open_session(gateway)
    with pytest.raises(ValueError, match="intent prefix 'dispatch'"):
        _dispatcher(session, paper_config, intent_prefix="dispatch")
