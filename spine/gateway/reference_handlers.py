"""Answers to the reference and account-detail requests beyond the trading path, and refusals.

A real gateway answers every request; the simulator does too, on the request's own id,
so no client waits forever. What it has data for gets a real answer (head time stamp,
matching symbols, market rule, PnL, positions multi); lists it has nothing for get an
empty list (news providers, family codes, depth exchanges, smart components, soft-dollar
tiers, scanner parameters, FA groups, option chains); requests for data it cannot have
get the error a real gateway sends for the case (``UNSUPPORTED``), a code that ends the
request in every client (ib_async treats 321 as a warning and would keep waiting).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from spine.gateway import messages as msg
from spine.gateway.client import ClientConnection
from spine.gateway.market import Instrument
from spine.gateway.protocol import NOTICE_TEXTS, FieldReader, InMsg, OutMsg
from spine.gateway.requests import ContractQuery, read_contract, request_id
from spine.gateway.state import SimulatorState
from spine.ib.codes import ErrorCode

log = logging.getLogger("spine.gateway")

# Requests the simulator has no data for: (name, code, text). The code is the one a real
# gateway sends for the case; each ends the request in ib_async, ib_insync and ibapi.
_NO_OPTIONS = "No security definition has been found for the request (the simulator has no options)"
_HMDS = "Historical Market Data Service error message:"
_NO_WSH = "Wall Street Horizon data is not available in the simulator"
UNSUPPORTED: dict[int, tuple[str, int, str]] = {
    InMsg.REQ_MKT_DEPTH: (
        "reqMktDepth",
        ErrorCode.DEEP_DATA_NOT_SUPPORTED,
        "Deep market data is not supported for this combination of security type/exchange",
    ),
    InMsg.EXERCISE_OPTIONS: ("exerciseOptions", ErrorCode.NO_SECURITY_DEFINITION, _NO_OPTIONS),
    InMsg.REQ_SCANNER_SUBSCRIPTION: (
        "reqScannerSubscription",
        ErrorCode.HISTORICAL_DATA_ERROR,
        _HMDS + "market scanners are not available in the simulator",
    ),
    InMsg.REQ_FUNDAMENTAL_DATA: (
        "reqFundamentalData",
        ErrorCode.FUNDAMENTALS_NOT_AVAILABLE,
        "We are sorry, but fundamentals data for the security specified is not available.",
    ),
    InMsg.REQ_CALC_IMPLIED_VOLAT: ("calculateImpliedVolatility", ErrorCode.NO_SECURITY_DEFINITION, _NO_OPTIONS),
    InMsg.REQ_CALC_OPTION_PRICE: ("calculateOptionPrice", ErrorCode.NO_SECURITY_DEFINITION, _NO_OPTIONS),
    InMsg.REQ_NEWS_ARTICLE: ("reqNewsArticle", ErrorCode.NEWS_NOT_AVAILABLE, "News feed is not allowed"),
    InMsg.REQ_HISTORICAL_NEWS: ("reqHistoricalNews", ErrorCode.NEWS_NOT_AVAILABLE, "News feed is not allowed"),
    InMsg.REQ_HISTOGRAM_DATA: (
        "reqHistogramData",
        ErrorCode.HISTORICAL_DATA_ERROR,
        _HMDS + "histogram data is not available in the simulator",
    ),
    InMsg.REQ_HISTORICAL_TICKS: (
        "reqHistoricalTicks",
        ErrorCode.HISTORICAL_DATA_ERROR,
        _HMDS + "the simulator replays bars, it has no ticks",
    ),
    InMsg.REQ_TICK_BY_TICK_DATA: (
        "reqTickByTickData",
        ErrorCode.TICK_BY_TICK_NOT_SUPPORTED,
        "Failed to request tick-by-tick data: the simulator replays bars, it has no ticks",
    ),
    InMsg.REQ_WSH_META_DATA: ("reqWshMetaData", ErrorCode.NEWS_NOT_AVAILABLE, _NO_WSH),
    InMsg.REQ_WSH_EVENT_DATA: ("reqWshEventData", ErrorCode.NEWS_NOT_AVAILABLE, _NO_WSH),
}


SCANNER_XML = '<?xml version="1.0" encoding="UTF-8"?><ScanParameterResponse></ScanParameterResponse>'
FA_XML = '<?xml version="1.0" encoding="UTF-8"?><ListOfGroups></ListOfGroups>'

Handler = Callable[[ClientConnection, list[str]], None]
FindInstrument = Callable[[ClientConnection, int, ContractQuery], Instrument | None]


class ReferenceHandlers:
    """The handlers of this module's requests, as a table for ``RequestHandlers``."""

    def __init__(self, state: SimulatorState, find_instrument: FindInstrument) -> None:
        self.state = state
        self._instrument = find_instrument

    def table(self) -> dict[int, Handler]:
        table: dict[int, Handler] = {
            InMsg.REQ_HEAD_TIMESTAMP: self.req_head_timestamp,
            InMsg.REQ_MATCHING_SYMBOLS: self.req_matching_symbols,
            InMsg.REQ_MARKET_RULE: self.req_market_rule,
            InMsg.REQ_PNL: self.req_pnl,
            InMsg.REQ_PNL_SINGLE: self.req_pnl_single,
            InMsg.REQ_POSITIONS_MULTI: self.req_positions_multi,
            InMsg.REQ_SEC_DEF_OPT_PARAMS: self.req_sec_def_opt_params,
            InMsg.REQ_SOFT_DOLLAR_TIERS: lambda s, f: s.send(msg.empty_list(OutMsg.SOFT_DOLLAR_TIERS, _rid(f))),
            InMsg.REQ_SMART_COMPONENTS: lambda s, f: s.send(msg.empty_list(OutMsg.SMART_COMPONENTS, _rid(f))),
            InMsg.REQ_FAMILY_CODES: lambda s, f: s.send(msg.empty_list(OutMsg.FAMILY_CODES)),
            InMsg.REQ_MKT_DEPTH_EXCHANGES: lambda s, f: s.send(msg.empty_list(OutMsg.MKT_DEPTH_EXCHANGES)),
            InMsg.REQ_NEWS_PROVIDERS: lambda s, f: s.send(msg.empty_list(OutMsg.NEWS_PROVIDERS)),
            InMsg.REQ_SCANNER_PARAMETERS: lambda s, f: s.send(msg.scanner_parameters(SCANNER_XML)),
            InMsg.REQUEST_FA: lambda s, f: s.send(
                msg.receive_fa(FieldReader(f, start=2).integer("faDataType"), FA_XML)
            ),
            InMsg.REQ_USER_INFO: lambda s, f: s.send(msg.user_info(_rid(f))),
        }
        for msg_id in UNSUPPORTED:
            table[msg_id] = self.unsupported
        return table

    def unsupported(self, session: ClientConnection, fields: list[str]) -> None:
        """Answer a request the simulator has no data for with the real gateway's error, on its own id."""
        msg_id = int(fields[0])
        name, code, text = UNSUPPORTED[msg_id]
        log.info("%s from %s: not available in the simulator (error %d)", name, session.peer, code)
        session.send(msg.error(request_id(msg_id, fields), code, text))

    def req_head_timestamp(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=1)
        req_id = r.integer("reqId")
        inst = self._instrument(session, req_id, read_contract(r))
        if inst is not None:
            first = self.state.market.to_datetime(self.state.market.series[inst.symbol].dates[0])
            session.send(msg.head_timestamp(req_id, f"{first:%Y%m%d-%H:%M:%S}"))

    def req_matching_symbols(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=1)
        req_id = r.integer("reqId")
        pattern = r.text("pattern").strip().upper()
        found = [i for t, i in sorted(self.state.market.instruments.items()) if pattern and t.startswith(pattern)]
        session.send(msg.symbol_samples(req_id, found, session.version))

    def req_market_rule(self, session: ClientConnection, fields: list[str]) -> None:
        rule_id = FieldReader(fields, start=1).integer("marketRuleId")
        session.send(msg.market_rule(rule_id, 0.01))

    def req_sec_def_opt_params(self, session: ClientConnection, fields: list[str]) -> None:
        session.send(msg.sec_def_opt_params_end(FieldReader(fields, start=1).integer("reqId")))

    def req_pnl(self, session: ClientConnection, fields: list[str]) -> None:
        req_id = FieldReader(fields, start=1).integer("reqId")
        account, market = self.state.account, self.state.market
        values = account.values(market.marks())
        session.send(msg.pnl(req_id, 0.0, float(values["UnrealizedPnL"]), float(values["RealizedPnL"])))

    def req_pnl_single(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=1)
        req_id = r.integer("reqId")
        r.skip(2)  # account, modelCode
        con_id = r.integer("conId", default=0)
        account, market = self.state.account, self.state.market
        inst = next((i for i in market.instruments.values() if i.con_id == con_id), None)
        if inst is None:
            session.send(
                msg.error(req_id, ErrorCode.NO_SECURITY_DEFINITION, NOTICE_TEXTS[ErrorCode.NO_SECURITY_DEFINITION])
            )
            return
        hold = account.holding(inst.symbol)
        mark = market.marks().get(inst.symbol, 0.0)
        session.send(
            msg.pnl_single(
                req_id,
                hold.quantity,
                0.0,
                float(account.unrealized_pnl(inst.symbol, mark)),
                float(hold.realized_pnl),
                hold.quantity * mark,
            )
        )

    def req_positions_multi(self, session: ClientConnection, fields: list[str]) -> None:
        req_id = FieldReader(fields, start=2).integer("reqId")
        account, market = self.state.account, self.state.market
        for symbol, hold in sorted(account.holdings.items()):
            if hold.quantity != 0:
                session.send(
                    msg.position_multi(
                        req_id, account.code, market.instruments[symbol], hold.quantity, hold.average_cost
                    )
                )
        session.send(msg.position_multi_end(req_id))


def _rid(fields: list[str]) -> int:
    """The reqId of a request without a version field."""
    return FieldReader(fields, start=1).integer("reqId")
