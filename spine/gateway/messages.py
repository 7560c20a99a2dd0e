"""Encoders for every server→client message, field for field as a v178 gateway sends them.

Each function returns the message's fields (field 0 is the message id); the session
frames them with ``protocol.encode_frame``. The layouts, including the 127-field
openOrder and the 96-field completedOrder, follow /work/shared/tws-protocol.md §6 and
ib_async 2.1.0's decoder: a missing field makes the client drop the whole message, so
the long layouts are written out position by position with the index in a comment.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pandas as pd

from spine.gateway.account import format_money, format_price
from spine.gateway.market import HistoricalBar, Instrument
from spine.gateway.protocol import Field, OutMsg

if TYPE_CHECKING:
    from spine.data.prices import PriceSeries
    from spine.gateway.order_records import Execution, WorkingOrder
    from spine.gateway.what_if import Preview

Fields = list[Field]

ORDER_TYPES = "LMT,MKT,STP,STP LMT"


def _contract(inst: Instrument, exchange: str | None = None) -> Fields:
    """conId symbol secType lastTradeDate strike right multiplier exchange currency localSymbol tradingClass."""
    return [
        inst.con_id,
        inst.symbol,
        inst.sec_type,
        "",
        0.0,
        "",
        "",
        exchange or inst.exchange,
        inst.currency,
        inst.symbol,
        inst.trading_class,
    ]


def ib_time(moment: datetime, zone: str) -> str:
    """``YYYYMMDD HH:MM:SS zone``: the form ib_async's parseIBDatetime accepts with a zone."""
    return f"{moment:%Y%m%d %H:%M:%S} {zone}"


# -- session ----------------------------------------------------------------------------


def next_valid_id(order_id: int) -> Fields:
    return [OutMsg.NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: list[str]) -> Fields:
    return [OutMsg.MANAGED_ACCTS, 1, ",".join(accounts)]


def error(req_id: int, code: int, text: str) -> Fields:
    """The error message; at ≥166 the advancedOrderRejectJson field must be present (empty)."""
    return [OutMsg.ERROR, 2, req_id, code, text, ""]


def current_time(epoch_secs: int) -> Fields:
    return [OutMsg.CURRENT_TIME, 1, epoch_secs]


# -- account ----------------------------------------------------------------------------


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [OutMsg.ACCOUNT_VALUE, 2, key, value, currency, account]


def portfolio_value(
    inst: Instrument,
    position: float,
    price: float,
    value: Decimal,
    avg_cost: Decimal,
    unrealized: Decimal,
    realized: Decimal,
    account: str,
) -> Fields:
    """updatePortfolio: strict 20 fields; the six numbers must never be empty."""
    c = _contract(inst)
    head = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], inst.primary_exchange, c[8], c[9], c[10]]
    return [
        OutMsg.PORTFOLIO_VALUE,
        8,
        *head,
        repr(float(position)),
        repr(float(price)),
        format_money(value),
        format_price(avg_cost),
        format_money(unrealized),
        format_money(realized),
        account,
    ]


def account_time(moment: datetime) -> Fields:
    return [OutMsg.ACCOUNT_UPDATE_TIME, 1, f"{moment:%H:%M}"]


def account_download_end(account: str) -> Fields:
    return [OutMsg.ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(req_id: int, account: str, key: str, value: str, currency: str) -> Fields:
    return [OutMsg.ACCOUNT_UPDATE_MULTI, 1, req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [OutMsg.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return [OutMsg.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return [OutMsg.ACCOUNT_SUMMARY_END, 1, req_id]


def position(account: str, inst: Instrument, quantity: float, avg_cost: Decimal) -> Fields:
    """position: strict 16 fields, with the contract's exchange (not primaryExchange)."""
    return [OutMsg.POSITION_DATA, 3, account, *_contract(inst), repr(float(quantity)), format_price(avg_cost)]


def position_end() -> Fields:
    return [OutMsg.POSITION_END, 1]


# -- orders -----------------------------------------------------------------------------


def order_status(order: WorkingOrder) -> Fields:
    """orderStatus: no version field since v131."""
    r = order.request
    return [
        OutMsg.ORDER_STATUS,
        r.order_id,
        order.status,
        order.filled,
        order.remaining,
        order.avg_fill_price,
        order.perm_id,
        r.parent_id,
        order.last_fill_price,
        r.client_id,
        "",
        0.0,
    ]


def _what_if_state(preview: Preview | None) -> Fields:
    """OrderState fields 86-99: margins before/change/after, commission, warning (empty unless what-if)."""
    if preview is None:
        return ["", "", "", "", "", "", "", "", "", "", "", "", "", ""]
    p = preview
    return [
        format_money(p.init_margin_before),
        format_money(p.init_margin_before),
        format_money(p.equity_before),
        format_money(p.init_margin_change),
        format_money(p.init_margin_change),
        format_money(p.equity_change),
        format_money(p.init_margin_after),
        format_money(p.init_margin_after),
        format_money(p.equity_after),
        p.commission,
        p.commission,
        p.commission,
        "USD",
        p.warning,
    ]


def open_order(order: WorkingOrder, account: str, preview: Preview | None = None) -> Fields:
    """openOrder at v178: 127 fields for a plain (non-combo, non-algo) order; a what-if answer with ``preview``."""
    r = order.request
    fields: Fields = [
        OutMsg.OPEN_ORDER,
        r.order_id,
        *_contract(order.instrument),  # 0-12
        r.action,
        order.quantity,
        r.order_type,
        r.limit_price,
        r.stop_price,
        r.tif,
        r.oca_group,  # 13-19
        r.account or account,
        "O",
        0,
        r.order_ref,
        r.client_id,
        order.perm_id,
        r.outside_rth,  # 20-26
        False,
        0.0,
        "",
        "",
        "",
        "",
        "",  # 27 hidden .. 33 faPercentage
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        -1,  # 34 modelCode .. 41 exemptCode
        0,
        "",
        "",
        "",
        "",
        "",
        0,  # 42 auctionStrategy .. 48 displaySize
        False,
        False,
        False,
        "",
        r.oca_type,
        False,
        False,
        "",  # 49 blockOrder .. 56 nbboPriceCap
        r.parent_id,
        0,
        "",
        0,
        "",
        "",  # 57 parentId .. 62 deltaNeutralAuxPrice
        False,
        0,
        "",
        "",
        "",
        0,
        "",  # 63 continuousUpdate .. 69 comboLegsDescrip
        0,
        0,
        0,  # 70-72 combo legs, order combo legs, smart routing params
        "",
        "",
        "",  # 73-75 scale fields (increment unset: no extra fields)
        "",  # 76 hedgeType
        False,
        "",
        "",
        False,  # 77 optOutSmartRouting .. 80 notHeld
        0,  # 81 deltaNeutralContractPresent
        "",  # 82 algoStrategy
        False,
        preview is not None,
        order.status,  # 83 solicited, 84 whatIf, 85 OrderState.status
        *_what_if_state(preview),  # 86-94 margin before/change/after, 95 commission .. 99 warningText
        False,
        False,  # 100 randomizeSize, 101 randomizePrice
        0,  # 102 conditionsCount
        "",
        "",
        "",
        "",
        "",
        "",  # 103 adjustedOrderType .. 108 adjustedStopLimitPrice
        "",
        0,
        "",
        "",
        "",  # 109 adjustedTrailingAmount .. 113 softDollarTier.displayName
        "",
        False,
        False,
        "",
        False,  # 114 cashQty .. 118 usePriceMgmtAlgo
        "",
        False,
        False,  # 119 duration, 120 postToAts, 121 autoCancelParent
        "",
        "",
        "",
        "",
        "",  # 122 minTradeQty .. 126 midOffsetAtHalf
    ]
    return fields


def open_order_end() -> Fields:
    return [OutMsg.OPEN_ORDER_END, 1]


def completed_order(order: WorkingOrder, account: str, zone: str) -> Fields:
    """completedOrder at v178: 96 fields, no orderId and no clientId (keyed by permId)."""
    r = order.request
    done = ib_time(order.completed_time, zone) if order.completed_time else ""
    return [
        OutMsg.COMPLETED_ORDER,
        *_contract(order.instrument),  # 0-11
        r.action,
        order.quantity,
        r.order_type,
        r.limit_price,
        r.stop_price,
        r.tif,
        r.oca_group,  # 12-18
        r.account or account,
        "O",
        0,
        r.order_ref,
        order.perm_id,
        r.outside_rth,
        False,
        0.0,
        "",  # 19-27
        "",
        "",
        "",  # 28 faGroup .. 30 faPercentage
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        -1,  # 31 modelCode .. 38 exemptCode
        "",
        "",
        "",
        "",
        "",
        0,
        False,
        False,  # 39 startingPrice .. 46 allOrNone
        "",
        r.oca_type,
        0,
        "",
        0,
        "",
        "",  # 47 minQty .. 53 deltaNeutralAuxPrice
        False,
        0,
        "",
        "",
        "",  # 54 continuousUpdate .. 58 comboLegsDescrip
        0,
        0,
        0,
        "",
        "",
        "",  # 59 comboLegsCount .. 64 scalePriceIncrement
        "",
        "",
        "",
        False,
        0,
        "",
        False,  # 65 hedgeType .. 71 solicited
        order.status,
        False,
        False,
        0,  # 72 status .. 75 conditionsCount
        "",
        "",
        "",
        False,
        False,
        "",
        order.filled,  # 76 trailStopPrice .. 82 filledQuantity
        0,
        False,
        "",
        False,
        False,
        0,  # 83 refFuturesConId .. 88 parentPermId
        done,
        order.completed_status or order.status,  # 89 completedTime, 90 completedStatus
        "",
        "",
        "",
        "",
        "",  # 91 minTradeQty .. 95 midOffsetAtHalf
    ]


def completed_orders_end() -> Fields:
    return [OutMsg.COMPLETED_ORDERS_END]


def exec_details(req_id: int, execution: Execution, zone: str) -> Fields:
    """execDetails at v178: 32 fields ending with pendingPriceRevision; reqId -1 for a live fill."""
    e = execution
    return [
        OutMsg.EXECUTION_DATA,
        req_id,
        e.order_id,
        *_contract(e.instrument),
        e.exec_id,
        ib_time(e.time, zone),
        e.account,
        "SIMX",
        e.side,
        e.shares,
        e.price,
        e.perm_id,
        e.client_id,
        0,
        e.cum_qty,
        e.avg_price,
        e.order_ref,
        "",
        "",
        "",
        0,
        False,
    ]


def exec_details_end(req_id: int) -> Fields:
    return [OutMsg.EXECUTION_DATA_END, 1, req_id]


def commission_report(execution: Execution) -> Fields:
    """commissionReport: strict 8 fields."""
    e = execution
    return [
        OutMsg.COMMISSION_REPORT,
        1,
        e.exec_id,
        format_money(e.commission),
        e.currency,
        format_money(e.realized_pnl),
        "",
        "",
    ]


# -- contracts and market data ----------------------------------------------------------


def contract_data(req_id: int, inst: Instrument, zone: str) -> Fields:
    """contractData at ≥164 (no version field), for a plain US stock."""
    order_types = "" if inst.is_index else ORDER_TYPES
    stock_type = "" if inst.is_index else "COMMON"
    return [
        OutMsg.CONTRACT_DATA,
        req_id,
        inst.symbol,
        inst.sec_type,
        "",
        0.0,
        "",
        inst.exchange,
        inst.currency,
        inst.symbol,
        inst.symbol,
        inst.trading_class,
        inst.con_id,
        inst.min_tick,
        "",
        order_types,
        inst.exchange,
        1,
        0,
        inst.symbol,
        inst.primary_exchange,
        "",
        "",
        "",
        "",
        zone,
        "",
        "",
        "",
        "",
        0,  # tradingHours, liquidHours, evRule, evMultiplier, secIdListCount
        1,
        "",
        "",
        "26",
        "",
        stock_type,
        "1",
        "1",
        "1",
    ]


def contract_data_end(req_id: int) -> Fields:
    return [OutMsg.CONTRACT_DATA_END, 1, req_id]


def _volume(volume: float) -> float:
    return -1.0 if math.isnan(volume) else volume  # NaN: IB's "unknown" (-1); never an empty field


def historical_data(req_id: int, count: int, rows: str, start: str, end: str) -> Fields:
    """historicalData below v196: the bars (pre-encoded rows, NUL-joined) and, in the same message, the end."""
    fields: Fields = [OutMsg.HISTORICAL_DATA, req_id, start, end, count]
    if count:
        fields.append(rows)
    return fields


def historical_data_update(req_id: int, table: PriceSeries, format_date: int, zone: str) -> Fields:
    """keepUpToDate's updating bar: note the order open, close, high, low, then wap, volume."""
    if format_date == 2:
        label = str(int(pd.Timestamp(table.dates[-1]).tz_localize(zone).timestamp()))
    else:  # the bar's day as YYYYMMDD, read from the day itself (no Timestamp on every clock step)
        label = str(table.dates[-1].astype("datetime64[D]")).replace("-", "")
    o, h, lo, c, v = (
        float(table.open[-1]),
        float(table.high[-1]),
        float(table.low[-1]),
        float(table.close[-1]),
        float(table.volume[-1]),
    )
    return [OutMsg.HISTORICAL_DATA_UPDATE, req_id, -1, label, o, c, h, lo, (h + lo + c) / 3.0, _volume(v)]


def real_time_bar(req_id: int, hb: HistoricalBar) -> Fields:
    b = hb.bar
    wap = (b.high + b.low + b.close) / 3.0
    return [
        OutMsg.REAL_TIME_BARS,
        3,
        req_id,
        int(hb.time.timestamp()),
        b.open,
        b.high,
        b.low,
        b.close,
        _volume(b.volume),
        wap,
        0,
    ]


def market_data_type(req_id: int, data_type: int) -> Fields:
    return [OutMsg.MARKET_DATA_TYPE, 1, req_id, data_type]


def tick_price(req_id: int, tick_type: int, price: float, size: float = 0.0) -> Fields:
    return [OutMsg.TICK_PRICE, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return [OutMsg.TICK_SIZE, 6, req_id, tick_type, size]


def tick_snapshot_end(req_id: int) -> Fields:
    return [OutMsg.TICK_SNAPSHOT_END, 1, req_id]


# -- notices and the answers to requests the simulator has nothing for -------------------


def news_bulletin(msg_id: int, text: str, exchange: str = "SIM") -> Fields:
    """updateNewsBulletin: msgType 1 is a regular bulletin."""
    return [OutMsg.NEWS_BULLETINS, 1, msg_id, 1, text, exchange]


def receive_fa(data_type: int, xml: str) -> Fields:
    return [OutMsg.RECEIVE_FA, 1, data_type, xml]


def scanner_parameters(xml: str) -> Fields:
    return [OutMsg.SCANNER_PARAMETERS, 1, xml]


def empty_list(msg_id: int, req_id: int | None = None) -> Fields:
    """A list answer with no items: ``msgId, [reqId,] 0``."""
    return [msg_id, 0] if req_id is None else [msg_id, req_id, 0]


def symbol_samples(req_id: int, instruments: list[Instrument], version: int) -> Fields:
    """symbolSamples: conId symbol secType primaryExchange currency, derivative types (+ description, issuerId ≥176)."""
    fields: Fields = [OutMsg.SYMBOL_SAMPLES, req_id, len(instruments)]
    for inst in instruments:
        fields += [inst.con_id, inst.symbol, inst.sec_type, inst.primary_exchange, inst.currency, 0]
        if version >= 176:
            fields += [inst.symbol, ""]
    return fields


def market_rule(rule_id: int, tick: float) -> Fields:
    return [OutMsg.MARKET_RULE, rule_id, 1, 0.0, tick]


def user_info(req_id: int) -> Fields:
    return [OutMsg.USER_INFO, req_id, ""]


def head_timestamp(req_id: int, stamp: str) -> Fields:
    return [OutMsg.HEAD_TIMESTAMP, req_id, stamp]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> Fields:
    return [OutMsg.PNL, req_id, daily, unrealized, realized]


def pnl_single(req_id: int, position: float, daily: float, unrealized: float, realized: float, value: float) -> Fields:
    return [OutMsg.PNL_SINGLE, req_id, position, daily, unrealized, realized, value]


def position_multi(req_id: int, account: str, inst: Instrument, quantity: float, avg_cost: Decimal) -> Fields:
    return [
        OutMsg.POSITION_MULTI,
        1,
        req_id,
        account,
        *_contract(inst),
        repr(float(quantity)),
        format_price(avg_cost),
        "",
    ]


def position_multi_end(req_id: int) -> Fields:
    return [OutMsg.POSITION_MULTI_END, 1, req_id]


def sec_def_opt_params_end(req_id: int) -> Fields:
    return [OutMsg.SECURITY_DEFINITION_OPTION_PARAMETER_END, req_id]
