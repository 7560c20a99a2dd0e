"""AccountMonitor: the seed's numbers from a provider, staleness, and failures that are never "flat"."""

from __future__ import annotations

import pytest

from spine.ib import AccountMonitor, SessionState
from spine.ib.account_monitor import AccountUnavailable


class Provider:
    """The seed's provider shape: ``get_account_info()`` returning margin_info and positions."""

    def __init__(self, info: object) -> None:
        self.info = info

    def get_account_info(self) -> object:
        if isinstance(self.info, Exception):
            raise self.info
        return self.info


INFO = {
    "margin_info": {"NetLiquidation": "125000.50", "TotalCashValue": 100000.0, "AvailableFunds": 80000.25,
                    "FullAvailableFunds": 79000.0, "MaintMarginReq": 25000.10, "BuyingPower": 320000.0},
    "positions": [{"symbol": "NVDA", "position": 100, "avgCost": 250.5, "market_value": 25500.0}],
}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_monitor_returns_the_seed_numbers_from_a_provider() -> None:
    monitor = AccountMonitor(Provider(INFO))
    monitor.refresh()
    assert monitor.get_available_funds() == 80000.25
    assert monitor.get_net_liquidation() == 125000.50
    assert monitor.get_margin_utilization() == pytest.approx(25000.10 / 125000.50)
    assert monitor.get_existing_positions() == [
        {"symbol": "NVDA", "position": 100.0, "avgCost": 250.5, "market_value": 25500.0}
    ]
    snapshot = monitor.get_account_snapshot()
    assert snapshot["margin_info"]["BuyingPower"] == 320000.0 and snapshot["positions"][0]["symbol"] == "NVDA"


def test_fallbacks_full_available_funds_and_total_cash_value() -> None:
    monitor = AccountMonitor(
        Provider({"margin_info": {"FullAvailableFunds": 5.5, "TotalCashValue": 7.25}, "positions": []})
    )
    monitor.refresh()
    assert (monitor.get_available_funds(), monitor.get_net_liquidation()) == (5.5, 7.25)
    assert monitor.get_margin_utilization() is None


def test_funds_are_zero_before_any_refresh_and_when_the_snapshot_is_stale() -> None:
    clock = Clock()
    monitor = AccountMonitor(Provider(INFO), max_age_secs=60, clock=clock)
    assert monitor.get_available_funds() == 0.0 and monitor.is_stale()
    monitor.refresh()
    clock.now += 60
    assert monitor.get_available_funds() == 80000.25 and not monitor.is_stale()
    clock.now += 1
    assert monitor.get_available_funds() == 0.0
    assert "61 s old, past trading.ib.account_max_age_secs 60" in monitor.stale_reason()


@pytest.mark.parametrize("answer", [{}, None, {"margin_info": {}, "positions": []}, {"margin_info": {"NetLiquidation": 1.0}},
                                    ConnectionError("socket closed")])  # fmt: skip
def test_a_failed_or_empty_answer_is_an_error_never_a_flat_account(answer: object) -> None:
    monitor = AccountMonitor(Provider(INFO))
    monitor.refresh()
    monitor.provider = Provider(answer)  # type: ignore[assignment]
    with pytest.raises(AccountUnavailable):
        monitor.refresh()
    assert monitor.is_stale() and monitor.get_available_funds() == 0.0
    assert monitor.get_existing_positions()[0]["symbol"] == "NVDA"  # the old positions are not replaced by "none"


def test_an_object_without_get_account_info_is_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="get_account_info"):
        AccountMonitor(object())  # type: ignore[arg-type]


def test_monitor_reads_a_connected_session(gateway, open_session) -> None:
    session, _log = open_session(gateway)
    assert session.state is SessionState.ACTIVE
    monitor = AccountMonitor(session)
    monitor.refresh()
    assert monitor.get_net_liquidation() == 1_000_000.0
    assert monitor.get_available_funds() == 1_000_000.0
    assert monitor.get_existing_positions() == []
