"""Server-version negotiation as a real gateway does it, and every message in the negotiated layout."""

from __future__ import annotations

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from spine.gateway import messages as msg
from spine.gateway.protocol import ProtocolError, negotiate
from spine.gateway.versions import adapt


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(157, 178, 178), (157, 176, 176), (100, 213, 178), (160, 160, 160), (150, 157, 157)],
)
def test_the_highest_version_inside_the_clients_range_is_chosen(low, high, expected):
    assert negotiate(low, high) == expected


@pytest.mark.parametrize(("low", "high"), [(100, 156), (179, 200)])
def test_a_client_range_outside_157_to_178_is_refused(low, high):
    with pytest.raises(ProtocolError, match="157..178"):
        negotiate(low, high)


def test_layouts_change_at_the_versions_ib_documents():
    error = msg.error(7, 201, "x")
    assert len(adapt(error, 178)) == 6 and len(adapt(error, 165)) == 5
    fields = [5, *range(126)]  # a 127-field v178 openOrder
    assert len(adapt(fields, 178)) == 127
    assert len(adapt(fields, 177)) == 127  # unchanged from 177 on
    assert len(adapt(fields, 176)) == 128  # faProfile
    assert len(adapt(fields, 169)) == 123  # no PEG BEST/MID fields
    assert len(adapt(fields, 161)) == 122  # no autoCancelParent (faProfile still in)
    assert len(adapt(fields, 159)) == 121  # no postToAts
    assert len(adapt(fields, 157)) == 120  # no duration
    assert len(adapt([11, *range(31)], 177)) == 31  # execDetails without pendingPriceRevision


@pytest.mark.parametrize("version", [157, 163, 170, 177])
def test_ib_async_limited_to_an_older_version_still_trades(gateway, wait_until, version):
    ib = IB()
    ib.client.MaxClientVersion = version
    try:
        ib.connect("127.0.0.1", gateway.port, clientId=5, timeout=5)
        assert ib.client.serverVersion() == version
        (contract,) = ib.qualifyContracts(Stock("ABC", "SMART", "USD"))
        assert contract.conId > 0 and contract.primaryExchange == "NASDAQ"
        filled = ib.placeOrder(contract, MarketOrder("BUY", 2, orderRef=f"v{version}"))
        resting = ib.placeOrder(contract, LimitOrder("BUY", 1, 50.0, orderRef="rest"))
        wait_until(ib, lambda: resting.orderStatus.status == "Submitted", what="the acknowledgements")
        assert resting.order.permId > 0  # the openOrder was decoded
        gateway.step()
        wait_until(ib, lambda: filled.orderStatus.status == "Filled" and bool(filled.fills), what="the fill")
        assert filled.fills[0].execution.orderRef == f"v{version}"
        done = ib.reqCompletedOrders(False)
        assert [t.order.orderRef for t in done] == [f"v{version}"]
        assert len(ib.reqExecutions()) == 1
        errors: list[int] = []
        ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
        ib.cancelOrder(resting.order)
        wait_until(ib, lambda: resting.orderStatus.status == "Cancelled" and 202 in errors, what="the cancel")
    finally:
        ib.disconnect()
