"""Decoders for the client→server requests whose fields the simulator needs.

Positional, as ib_async 2.1.0 writes them at v178 (tws-protocol.md §7). A truncated
or garbled request raises ``ValueError`` naming the field, which the session answers
with error 321; nothing here can take the server down.
"""

from __future__ import annotations

from dataclasses import dataclass

from spine.gateway.order_records import OrderRequest
from spine.gateway.protocol import SERVER_VERSION, UNSET_DOUBLE, FieldReader, InMsg

# placeOrder positions for a non-combo order at v178 (no faProfile from 177 on).
_PLACE_ORDER_HEAD = 35  # fields 0..34 (up to and including ``hidden``)


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The 12-field contract block (C12) a request carries."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str


def read_contract(r: FieldReader) -> ContractQuery:
    con_id = r.integer("conId", default=0)
    symbol = r.text("symbol")
    sec_type = r.text("secType")
    r.skip(4)  # lastTradeDateOrContractMonth, strike, right, multiplier
    exchange = r.text("exchange")
    primary = r.text("primaryExchange")
    currency = r.text("currency")
    local = r.text("localSymbol")
    r.text("tradingClass")
    return ContractQuery(con_id, symbol, sec_type, exchange, primary, currency, local)


def parse_place_order(fields: list[str], client_id: int, version: int = SERVER_VERSION) -> OrderRequest:
    """placeOrder (id 3): the order id, the contract and the order fields that matter.

    Read positionally, following the conditional groups of the negotiated ``version``
    up to ``whatIf``; a request that ends early (an old client) keeps the defaults.
    """
    r = FieldReader(fields)
    order_id = r.integer("orderId")
    contract = read_contract(r)
    if contract.sec_type == "BAG":
        raise ValueError("combo (BAG) orders are not supported by the simulator")
    r.skip(2)  # secIdType, secId
    action = r.text("action").upper()
    quantity = r.number("totalQuantity")
    order_type = r.text("orderType").upper()
    limit_price = r.optional_number("lmtPrice")
    stop_price = r.optional_number("auxPrice")
    tif = r.text("tif")
    oca_group = r.text("ocaGroup")
    account = r.text("account")
    r.skip(2)  # openClose, origin
    order_ref = r.text("orderRef")
    transmit = r.flag("transmit")
    parent_id = r.integer("parentId", default=0)
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = r.flag("outsideRth")
    r.text("hidden")
    oca_type, what_if = _read_order_tail(r, version)
    return OrderRequest(
        order_id=order_id,
        client_id=client_id,
        symbol=(contract.symbol or contract.local_symbol).upper(),
        action=action,
        quantity=quantity,
        order_type=order_type,
        sec_type=contract.sec_type or "STK",
        currency=contract.currency,
        limit_price=limit_price,
        stop_price=stop_price,
        tif=tif,
        oca_group=oca_group,
        oca_type=oca_type,
        account=account,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        outside_rth=outside_rth,
        what_if=what_if,
    )


def _read_order_tail(r: FieldReader, version: int) -> tuple[int, bool]:
    """``ocaType`` and ``whatIf`` from the fields after ``hidden`` (both default when absent)."""
    try:
        r.skip(7)  # sharesAllocation, discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
        if version < 177:
            r.skip(1)  # faProfile
        r.skip(4)  # modelCode, shortSaleSlot, designatedLocation, exemptCode
        oca_type = r.integer("ocaType", default=0)
    except ValueError:
        return 0, False
    try:
        r.skip(17)  # rule80A .. volatilityType
        if r.text("deltaNeutralOrderType"):
            r.skip(8)
        r.skip(1)  # deltaNeutralAuxPrice
        r.skip(6)  # continuousUpdate .. scaleSubsLevelSize
        increment = r.optional_number("scalePriceIncrement")
        if increment is not None and 0 < increment < UNSET_DOUBLE:
            r.skip(7)
        r.skip(3)  # scaleTable, activeStartTime, activeStopTime
        if r.text("hedgeType"):
            r.skip(1)
        r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
        if r.flag("deltaNeutralContract"):
            r.skip(3)
        if r.text("algoStrategy"):
            r.skip(2 * r.integer("algoParamsCount", default=0))
        r.skip(1)  # algoId
        return oca_type, r.flag("whatIf")
    except ValueError:
        return oca_type, False


@dataclass(frozen=True, slots=True)
class HistoricalRequest:
    req_id: int
    contract: ContractQuery
    end: str
    bar_size: str
    duration: str
    format_date: int
    keep_up_to_date: bool
    what_to_show: str = "TRADES"


def parse_historical_request(fields: list[str]) -> HistoricalRequest:
    """reqHistoricalData (id 20): no version field; barSize comes before duration."""
    r = FieldReader(fields)
    req_id = r.integer("reqId")
    contract = read_contract(r)
    r.skip(1)  # includeExpired
    end = r.text("endDateTime")
    bar_size = r.text("barSizeSetting")
    duration = r.text("durationStr")
    r.skip(1)  # useRTH
    what_to_show = r.text("whatToShow").strip().upper()
    format_date = r.integer("formatDate", default=1)
    if contract.sec_type == "BAG":
        raise ValueError("combo (BAG) historical data is not supported by the simulator")
    keep = r.flag("keepUpToDate") if r.remaining() > 0 else False
    return HistoricalRequest(req_id, contract, end, bar_size, duration, format_date, keep, what_to_show)


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    client_id: int
    account: str
    symbol: str
    side: str


def parse_execution_filter(r: FieldReader) -> ExecutionFilter:
    client_id = r.integer("clientId", default=0)
    account = r.text("acctCode")
    r.text("time")
    symbol = r.text("symbol")
    r.skip(2)  # secType, exchange
    side = r.text("side") if r.remaining() > 0 else ""
    return ExecutionFilter(client_id, account, symbol.upper(), side.upper())


# Requests that carry no version field: their reqId is field 1, not field 2.
_UNVERSIONED_FROM = 78
_UNVERSIONED = frozenset({InMsg.PLACE_ORDER, InMsg.REQ_HISTORICAL_DATA, InMsg.REQ_SCANNER_SUBSCRIPTION})


def request_id(msg_id: int, fields: list[str]) -> int:
    """The request (or order) id a request carries, -1 when it has none or it cannot be read."""
    unversioned = msg_id in _UNVERSIONED or (msg_id >= _UNVERSIONED_FROM and msg_id != InMsg.REQ_COMPLETED_ORDERS)
    index = 1 if unversioned else 2
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        return -1
