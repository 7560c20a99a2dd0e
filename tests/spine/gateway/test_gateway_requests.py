"""Every request gets an answer on its own id: no client waits forever; whatIf previews and never places."""

from __future__ import annotations

import datetime as dt

import pytest
from ib_async import (
    IB,
    Index,
    LimitOrder,
    MarketOrder,
    Option,
    ScannerSubscription,
    Stock,
    WshEventData,
)

from brokers.fill_model import FillModel

ABC = Stock("ABC", "SMART", "USD")


def every_request(ib: IB, abc: Stock) -> dict[str, object]:
    """One call of every request ib_async's IB exposes (blocking forms), by name."""
    account = ib.managedAccounts()[0]
    option = Option("ABC", "20200117", 100.0, "C", "SMART")
    wsh = WshEventData(conId=abc.conId)
    calls = {
        "reqCurrentTime": lambda: ib.reqCurrentTime(),
        "reqAccountUpdates": lambda: ib.reqAccountUpdates(account),
        "reqAccountUpdatesMulti": lambda: ib.reqAccountUpdatesMulti(account),
        "reqAccountSummary": lambda: ib.reqAccountSummary(),
        "reqOpenOrders": lambda: ib.reqOpenOrders(),
        "reqAllOpenOrders": lambda: ib.reqAllOpenOrders(),
        "reqCompletedOrders": lambda: ib.reqCompletedOrders(False),
        "reqExecutions": lambda: ib.reqExecutions(),
        "reqPositions": lambda: ib.reqPositions(),
        "reqPnL": lambda: ib.reqPnL(account),
        "cancelPnL": lambda: ib.cancelPnL(account),
        "reqPnLSingle": lambda: ib.reqPnLSingle(account, "", abc.conId),
        "cancelPnLSingle": lambda: ib.cancelPnLSingle(account, "", abc.conId),
        "reqContractDetails": lambda: ib.reqContractDetails(abc),
        "reqMatchingSymbols": lambda: ib.reqMatchingSymbols("AB"),
        "reqMarketRule": lambda: ib.reqMarketRule(26),
        "reqRealTimeBars": lambda: ib.cancelRealTimeBars(ib.reqRealTimeBars(abc, 5, "TRADES", False)),
        "reqHistoricalData": lambda: ib.reqHistoricalData(abc, "", "5 D", "1 day", "TRADES", True),
        "cancelHistoricalData": lambda: ib.cancelHistoricalData(
            ib.reqHistoricalData(abc, "", "5 D", "1 day", "TRADES", True, keepUpToDate=True)
        ),
        "reqHistoricalSchedule": lambda: ib.reqHistoricalSchedule(abc, 5),
        "reqHistoricalTicks": lambda: ib.reqHistoricalTicks(abc, dt.datetime(2020, 1, 2), None, 10, "TRADES", True),
        "reqMarketDataType": lambda: ib.reqMarketDataType(1),
        "reqHeadTimeStamp": lambda: ib.reqHeadTimeStamp(abc, "TRADES", True),
        "reqMktData": lambda: ib.cancelMktData(ib.reqMktData(abc).contract),
        "reqTickers": lambda: ib.reqTickers(abc),
        "reqTickByTickData": lambda: ib.cancelTickByTickData(ib.reqTickByTickData(abc, "Last").contract, "Last"),
        "reqSmartComponents": lambda: ib.reqSmartComponents("SMART"),
        "reqMktDepthExchanges": lambda: ib.reqMktDepthExchanges(),
        "reqMktDepth": lambda: ib.cancelMktDepth(ib.reqMktDepth(abc).contract),
        "reqHistogramData": lambda: ib.reqHistogramData(abc, True, "1 week"),
        "reqFundamentalData": lambda: ib.reqFundamentalData(abc, "ReportSnapshot"),
        "reqScannerData": lambda: ib.reqScannerData(ScannerSubscription("STK", "STK.US.MAJOR", "TOP_PERC_GAIN")),
        "reqScannerSubscription": lambda: ib.cancelScannerSubscription(
            ib.reqScannerSubscription(ScannerSubscription("STK", "STK.US.MAJOR", "TOP_PERC_GAIN"))
        ),
        "reqScannerParameters": lambda: ib.reqScannerParameters(),
        "calculateImpliedVolatility": lambda: ib.calculateImpliedVolatility(option, 1.0, 100.0),
        "calculateOptionPrice": lambda: ib.calculateOptionPrice(option, 0.2, 100.0),
        "reqSecDefOptParams": lambda: ib.reqSecDefOptParams("ABC", "", "STK", abc.conId),
        "exerciseOptions": lambda: ib.exerciseOptions(option, 1, 1, account, 0),
        "reqNewsProviders": lambda: ib.reqNewsProviders(),
        "reqNewsArticle": lambda: ib.reqNewsArticle("BZ", "BZ$1"),
        "reqHistoricalNews": lambda: ib.reqHistoricalNews(abc.conId, "BZ", "", "", 10),
        "reqNewsBulletins": lambda: ib.reqNewsBulletins(True),
        "cancelNewsBulletins": lambda: ib.cancelNewsBulletins(),
        "requestFA": lambda: ib.requestFA(1),
        "replaceFA": lambda: ib.replaceFA(1, ""),
        "reqWshMetaData": lambda: ib.reqWshMetaData(),
        "cancelWshMetaData": lambda: ib.cancelWshMetaData(),
        "reqWshEventData": lambda: ib.reqWshEventData(wsh),
        "cancelWshEventData": lambda: ib.cancelWshEventData(),
        "getWshMetaData": lambda: ib.getWshMetaData(),
        "getWshEventData": lambda: ib.getWshEventData(wsh),
        "reqUserInfo": lambda: ib.reqUserInfo(),
        "whatIfOrder": lambda: ib.whatIfOrder(abc, LimitOrder("BUY", 10, 100.0)),
        "reqGlobalCancel": lambda: ib.reqGlobalCancel(),
        "reqAutoOpenOrders": lambda: ib.reqAutoOpenOrders(True),
    }
    return calls


def test_every_request_ib_async_exposes_returns_or_raises_within_5_seconds(gateway, ib):
    ib.RequestTimeout = 5.0  # ib_async raises TimeoutError for a request that is not answered in time
    (abc,) = ib.qualifyContracts(ABC)
    hung: list[str] = []
    raised: dict[str, str] = {}
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code))
    for name, call in every_request(ib, abc).items():
        try:
            call()
        except TimeoutError:
            hung.append(name)
        except (ValueError, ConnectionError, RuntimeError, AttributeError) as exc:  # answered, or refused client-side
            raised[name] = repr(exc)
    ib.reqCurrentTime()  # and the connection still answers after all of them
    assert hung == []
    assert ib.isConnected(), raised
    assert all(req_id != -1 for req_id, code in errors if code not in (2104, 2106, 2158)), errors


def test_unsupported_requests_are_refused_on_their_own_request_id(gateway, ib):
    (abc,) = ib.qualifyContracts(ABC)
    seen: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((req_id, code))
    assert not ib.reqFundamentalData(abc, "ReportSnapshot")
    assert list(ib.reqHistoricalTicks(abc, dt.datetime(2020, 1, 2), None, 10, "TRADES", True)) == []
    assert [code for _, code in seen] == [430, 162]
    assert all(req_id > 0 for req_id, _ in seen)


def test_what_if_order_returns_margin_and_commission_and_places_nothing(start_gateway, connect):
    gateway = start_gateway(fill_model=FillModel(commission_bps=10.0))
    ib = connect(gateway, 1)
    (abc,) = ib.qualifyContracts(ABC)
    state = ib.whatIfOrder(abc, MarketOrder("BUY", 100))
    assert float(state.initMarginChange) == pytest.approx(100 * 100.5)
    assert float(state.equityWithLoanBefore) == 1_000_000.0
    assert state.commission == pytest.approx(10.05)
    assert state.status == "PreSubmitted"
    gateway.step()
    assert ib.reqOpenOrders() == [] and ib.reqExecutions() == [] and ib.positions() == []
    assert gateway.call(lambda: gateway.simulator.engine.orders) == {}


def test_index_qualifies_as_ind_on_cboe_and_a_stock_request_for_it_gets_200(shared_data, connect):
    from spine.gateway import GatewaySettings, GatewayThread

    files = (shared_data / "nvda-1999-2014.csv", shared_data / "vix-daily.csv")
    with GatewayThread(GatewaySettings(data=files, port=0, start="2008-10-01")) as gateway:
        ib = connect(gateway, 1)
        codes: list[int] = []
        ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
        (vix,) = ib.qualifyContracts(Index("VIX", "CBOE"))
        assert (vix.secType, vix.exchange, vix.currency) == ("IND", "CBOE", "USD")
        assert ib.reqContractDetails(Stock("VIX", "SMART", "USD")) == []
        assert 200 in codes
        bars = ib.reqHistoricalData(vix, "", "2 D", "1 day", "TRADES", True)
        assert bars[-1].date == dt.date(2008, 10, 1)
        trade = ib.placeOrder(vix, MarketOrder("BUY", 1))
        ib.sleep(0.05)
        ib.reqCurrentTime()
        assert trade.isDone() and any(e.errorCode == 201 for e in trade.log)
