"""Request dispatch: one method per client→server message the simulator answers.

Each handler reads its request with a ``FieldReader`` and answers through the session.
A ``ValueError`` from a malformed request becomes error 321 for that request; an
unexpected exception is logged and answered the same way, never propagated.

Every request gets an answer on its own id, so no client waits forever: the reference
requests beyond the trading path, and the refusals of what the simulator cannot have,
live in ``reference_handlers``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from spine.gateway import messages as msg
from spine.gateway.account import format_money
from spine.gateway.client import ClientConnection
from spine.gateway.history import HistoryError
from spine.gateway.market import Instrument
from spine.gateway.order_records import OrderRequest, Status, WorkingOrder
from spine.gateway.protocol import NOTICE_TEXTS, FieldReader, InMsg, OutMsg
from spine.gateway.pushes import account_messages
from spine.gateway.reference_handlers import ReferenceHandlers
from spine.gateway.requests import (
    ContractQuery,
    parse_execution_filter,
    parse_historical_request,
    parse_place_order,
    read_contract,
    request_id,
)
from spine.gateway.state import SimulatorState
from spine.gateway.ticks import bar_ticks
from spine.ib.codes import ErrorCode

log = logging.getLogger("spine.gateway")

Handler = Callable[[ClientConnection, list[str]], Awaitable[None] | None]
"""Answers one request: ``handler(session, fields)``, a coroutine function or a plain one."""


class RequestHandlers:
    """Answers every session's requests against the simulator's shared state.

    ``intercept(msg_id, handler)`` answers one message id with another handler until
    the returned undo is called: the designed way for a test or a benchmark to make the
    simulator misbehave on one request (``spine.gateway.testing``).
    """

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self._intercepts: dict[int, list[Handler]] = {}
        self._table: dict[int, Handler] = {
            InMsg.START_API: self.start_api,
            InMsg.REQ_IDS: self.req_ids,
            InMsg.REQ_CURRENT_TIME: self.req_current_time,
            InMsg.REQ_MANAGED_ACCTS: self.req_managed_accounts,
            InMsg.REQ_POSITIONS: self.req_positions,
            InMsg.CANCEL_POSITIONS: self.cancel_positions,
            InMsg.REQ_ACCOUNT_UPDATES: self.req_account_updates,
            InMsg.REQ_ACCOUNT_UPDATES_MULTI: self.req_account_updates_multi,
            InMsg.REQ_ACCOUNT_SUMMARY: self.req_account_summary,
            InMsg.REQ_OPEN_ORDERS: self.req_open_orders,
            InMsg.REQ_ALL_OPEN_ORDERS: self.req_all_open_orders,
            InMsg.REQ_COMPLETED_ORDERS: self.req_completed_orders,
            InMsg.REQ_EXECUTIONS: self.req_executions,
            InMsg.PLACE_ORDER: self.place_order,
            InMsg.CANCEL_ORDER: self.cancel_order,
            InMsg.REQ_GLOBAL_CANCEL: self.global_cancel,
            InMsg.REQ_CONTRACT_DETAILS: self.req_contract_details,
            InMsg.REQ_HISTORICAL_DATA: self.req_historical_data,
            InMsg.REQ_MKT_DATA: self.req_mkt_data,
            InMsg.CANCEL_MKT_DATA: self.cancel_mkt_data,
            InMsg.REQ_REAL_TIME_BARS: self.req_real_time_bars,
            InMsg.CANCEL_REAL_TIME_BARS: self.cancel_real_time_bars,
            InMsg.CANCEL_HISTORICAL_DATA: self.cancel_historical_data,
        }
        self._table.update(ReferenceHandlers(state, self._instrument).table())
        # Requests that need no answer (cancels of what never started, settings, subscriptions to nothing).
        for ignored in (
            InMsg.REQ_AUTO_OPEN_ORDERS,
            InMsg.CANCEL_ACCOUNT_SUMMARY,
            InMsg.CANCEL_ACCOUNT_UPDATES_MULTI,
            InMsg.REQ_MARKET_DATA_TYPE,
            InMsg.CANCEL_MKT_DEPTH,
            InMsg.REQ_NEWS_BULLETINS,
            InMsg.CANCEL_NEWS_BULLETINS,
            InMsg.SET_SERVER_LOGLEVEL,
            InMsg.REPLACE_FA,
            InMsg.CANCEL_SCANNER_SUBSCRIPTION,
            InMsg.CANCEL_FUNDAMENTAL_DATA,
            InMsg.CANCEL_CALC_IMPLIED_VOLAT,
            InMsg.CANCEL_CALC_OPTION_PRICE,
            InMsg.CANCEL_POSITIONS_MULTI,
            InMsg.CANCEL_HISTOGRAM_DATA,
            InMsg.CANCEL_HEAD_TIMESTAMP,
            InMsg.CANCEL_PNL,
            InMsg.CANCEL_PNL_SINGLE,
            InMsg.CANCEL_TICK_BY_TICK_DATA,
            InMsg.CANCEL_WSH_META_DATA,
            InMsg.CANCEL_WSH_EVENT_DATA,
        ):
            self._table[ignored] = _ignore

    def handler_for(self, msg_id: int) -> Handler | None:
        """What answers ``msg_id`` now: the latest interception, else the simulator's own handler (None: unsupported)."""
        stack = self._intercepts.get(msg_id)
        return stack[-1] if stack else self._table.get(msg_id)

    def intercept(self, msg_id: int, handler: Handler) -> Callable[[], None]:
        """Answer ``msg_id`` with ``handler`` from now on; call the returned function to undo it.

        Interceptions stack: the latest answers, and undoing one (in any order, any number of
        times) leaves the others. A handler that passes requests on to what answered before it
        takes ``handler_for(msg_id)`` before intercepting.
        """
        stack = self._intercepts.setdefault(msg_id, [])
        stack.append(handler)

        def undo() -> None:
            if handler in stack:
                stack.remove(handler)

        return undo

    async def dispatch(self, session: ClientConnection, fields: list[str]) -> None:
        """Answer one request; malformed input yields error 321, never an exception."""
        try:
            msg_id = int(fields[0]) if fields else -1
        except ValueError:
            msg_id = -1
        handler = self.handler_for(msg_id)
        if handler is None:
            log.warning("unsupported or malformed message from %s: %r", session.peer, fields[:3])
            session.send(
                msg.error(
                    request_id(msg_id, fields),
                    ErrorCode.VALIDATION_ERROR,
                    f"Error validating request:-'{msg_id}' : cause - unsupported message {msg_id}",
                )
            )
            return
        if session.client_id is None and msg_id != InMsg.START_API:
            session.send(msg.error(-1, ErrorCode.VALIDATION_ERROR, "Error validating request: startApi expected first"))
            return
        try:
            result = handler(session, fields)
            if result is not None:
                await result
        except (ValueError, IndexError, KeyError, ArithmeticError) as exc:
            log.warning("malformed message %s from %s: %s", msg_id, session.peer, exc)
            session.send(
                msg.error(
                    request_id(msg_id, fields),
                    ErrorCode.VALIDATION_ERROR,
                    f"Error validating request:-'{msg_id}' : cause - {exc}",
                )
            )

    # -- session ----------------------------------------------------------------------------

    def start_api(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=2)
        client_id = r.integer("clientId")
        if session.client_id is not None:
            return
        if not self.state.register(session, client_id):
            return
        session.send(msg.managed_accounts([self.state.settings.account]))
        session.send(msg.next_valid_id(self.state.order_ids.next_valid_id()))
        for code in (ErrorCode.MARKET_DATA_FARM_OK, ErrorCode.HMDS_FARM_OK, ErrorCode.SEC_DEF_FARM_OK):
            session.send(msg.error(-1, code, NOTICE_TEXTS[code]))

    def req_ids(self, session: ClientConnection, fields: list[str]) -> None:
        session.send(msg.next_valid_id(self.state.order_ids.next_valid_id()))

    def req_current_time(self, session: ClientConnection, fields: list[str]) -> None:
        session.send(msg.current_time(int(self.state.market.now.timestamp())))

    def req_managed_accounts(self, session: ClientConnection, fields: list[str]) -> None:
        session.send(msg.managed_accounts([self.state.settings.account]))

    # -- account ----------------------------------------------------------------------------

    def req_positions(self, session: ClientConnection, fields: list[str]) -> None:
        account, market = self.state.account, self.state.market
        session.positions = True
        for symbol, hold in sorted(account.holdings.items()):
            if hold.quantity != 0:
                session.send(msg.position(account.code, market.instruments[symbol], hold.quantity, hold.average_cost))
        session.send(msg.position_end())

    def cancel_positions(self, session: ClientConnection, fields: list[str]) -> None:
        session.positions = False

    def req_account_updates(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=2)
        subscribe = r.flag("subscribe")
        session.account_updates = subscribe
        if subscribe:
            for frame in account_messages(self.state.account, self.state.market):
                if frame[0] == OutMsg.ACCOUNT_VALUE:
                    session.sent_account_values[(str(frame[2]), str(frame[4]))] = str(frame[3])
                session.send(frame)
            session.send(msg.account_download_end(self.state.settings.account))

    def req_account_updates_multi(self, session: ClientConnection, fields: list[str]) -> None:
        req_id = FieldReader(fields, start=2).integer("reqId")
        account, market = self.state.account, self.state.market
        for tag, value in account.values(market.marks()).items():
            session.send(msg.account_update_multi(req_id, account.code, tag, format_money(value), account.currency))
        session.send(msg.account_update_multi_end(req_id))

    def req_account_summary(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=2)
        req_id = r.integer("reqId")
        r.text("groupName")
        tags = [t.strip() for t in r.text("tags").split(",") if t.strip()]
        account, market = self.state.account, self.state.market
        values = account.values(market.marks())
        for tag in tags:
            if tag in values:
                session.send(
                    msg.account_summary(req_id, account.code, tag, format_money(values[tag]), account.currency)
                )
            elif tag == "AccountType":
                session.send(msg.account_summary(req_id, account.code, tag, "INDIVIDUAL", ""))
        session.send(msg.account_summary_end(req_id))

    # -- orders -----------------------------------------------------------------------------

    async def place_order(self, session: ClientConnection, fields: list[str]) -> None:
        assert session.client_id is not None
        request = parse_place_order(fields, session.client_id, session.version)
        if request.what_if:
            self._what_if(session, request)
            return
        self.state.order_ids.order_arrived()
        if self.state.faults.take_blackhole():
            self.state.faults.swallowed.append(request.order_id)
            log.info(
                "fault injection: blackhole took order %d of client %d (never answered)",
                request.order_id,
                session.client_id,
            )
            return
        delay = self.state.faults.ack_delay_secs
        if delay > 0:
            await asyncio.sleep(delay)
        self.state.engine.place(request)

    def _what_if(self, session: ClientConnection, request: OrderRequest) -> None:
        """A what-if order: its margin and commission from the account; nothing is placed."""
        engine, market = self.state.engine, self.state.market
        preview = engine.preview(request)
        if isinstance(preview, str):
            session.send(msg.error(request.order_id, ErrorCode.ORDER_REJECTED, f"Order rejected - reason:{preview}"))
            return
        inst = market.instruments[request.symbol.upper()]
        shadow = WorkingOrder(request, inst, 0, request.quantity, Status.PRE_SUBMITTED, market.index + 1)
        session.send(msg.open_order(shadow, self.state.settings.account, preview))

    def cancel_order(self, session: ClientConnection, fields: list[str]) -> None:
        assert session.client_id is not None
        order_id = FieldReader(fields, start=2).integer("orderId")
        self.state.engine.cancel(session.client_id, order_id)

    def global_cancel(self, session: ClientConnection, fields: list[str]) -> None:
        self.state.engine.cancel_all()

    def req_open_orders(self, session: ClientConnection, fields: list[str]) -> None:
        self._send_open_orders(session, None if session.client_id == 0 else session.client_id)

    def req_all_open_orders(self, session: ClientConnection, fields: list[str]) -> None:
        self._send_open_orders(session, None)

    def _send_open_orders(self, session: ClientConnection, client_id: int | None) -> None:
        for order in self.state.engine.open_orders(client_id):
            session.send(msg.open_order(order, self.state.settings.account))
            session.send(msg.order_status(order))
        session.send(msg.open_order_end())

    def req_completed_orders(self, session: ClientConnection, fields: list[str]) -> None:
        for order in self.state.engine.completed_orders():
            session.send(msg.completed_order(order, self.state.settings.account, self.state.settings.timezone))
        session.send(msg.completed_orders_end())

    def req_executions(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=2)
        req_id = r.integer("reqId")
        flt = parse_execution_filter(r)
        chosen = [
            e
            for e in self.state.engine.executions
            if (not flt.client_id or e.client_id == flt.client_id)
            and (not flt.account or e.account == flt.account)
            and (not flt.symbol or e.instrument.symbol == flt.symbol)
            and (not flt.side or e.side == flt.side or (flt.side, e.side) in (("BUY", "BOT"), ("SELL", "SLD")))
        ]
        for e in chosen:
            session.send(msg.exec_details(req_id, e, self.state.settings.timezone))
        for e in chosen:
            session.send(msg.commission_report(e))
        session.send(msg.exec_details_end(req_id))

    # -- contracts and market data ----------------------------------------------------------

    def _instrument(self, session: ClientConnection, req_id: int, contract: ContractQuery) -> Instrument | None:
        instruments = self.state.market.instruments
        found: Instrument | None = None
        if contract.con_id:
            found = next((i for i in instruments.values() if i.con_id == contract.con_id), None)
        else:
            found = instruments.get((contract.symbol or contract.local_symbol).upper())
        if found is not None and contract.sec_type not in ("", found.sec_type):
            found = None  # a Stock request for an index (or the reverse) has no definition
        if found is not None and contract.currency not in ("", found.currency):
            found = None
        if found is None:
            session.send(
                msg.error(req_id, ErrorCode.NO_SECURITY_DEFINITION, NOTICE_TEXTS[ErrorCode.NO_SECURITY_DEFINITION])
            )
        return found

    def req_contract_details(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=2)
        req_id = r.integer("reqId")
        inst = self._instrument(session, req_id, read_contract(r))
        if inst is not None:
            session.send(msg.contract_data(req_id, inst, self.state.settings.timezone))
            session.send(msg.contract_data_end(req_id))

    def req_historical_data(self, session: ClientConnection, fields: list[str]) -> None:
        """Bars up to the replay clock, never later; keepUpToDate subscribes to the updating bar."""
        market, history = self.state.market, self.state.history
        req = parse_historical_request(fields)
        inst = self._instrument(session, req.req_id, req.contract)
        if inst is None:
            return
        if inst.is_index and req.what_to_show.strip().upper() not in ("TRADES", ""):
            session.send(
                msg.error(
                    req.req_id,
                    ErrorCode.HISTORICAL_DATA_ERROR,
                    f"Historical Market Data Service error message:no {req.what_to_show} data for "
                    f"the index {inst.symbol}: an index has a value, not quotes (use TRADES)",
                )
            )
            return
        try:
            end = market.history_end(req.end, inst.symbol)
            answer = history.bars(inst.symbol, end, req.duration, req.bar_size, req.what_to_show, req.format_date)
        except (HistoryError, ValueError) as exc:
            session.send(
                msg.error(
                    req.req_id, ErrorCode.HISTORICAL_DATA_ERROR, f"Historical Market Data Service error message:{exc}"
                )
            )
            return
        zone = self.state.settings.timezone
        end_text = msg.ib_time(market.to_datetime(end), zone)
        start_text = msg.ib_time(market.to_datetime(answer.table.dates[0]), zone)
        session.send(msg.historical_data(req.req_id, answer.count, answer.rows, start_text, end_text))
        if req.keep_up_to_date:
            session.history_updates[req.req_id] = (inst.symbol, req.bar_size, req.what_to_show, req.format_date)

    def cancel_historical_data(self, session: ClientConnection, fields: list[str]) -> None:
        session.history_updates.pop(FieldReader(fields, start=2).integer("reqId"), None)

    def req_mkt_data(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=2)
        req_id = r.integer("reqId")
        contract = read_contract(r)
        if r.flag("deltaNeutralContract"):
            r.skip(3)
        r.text("genericTickList")
        snapshot = r.flag("snapshot")
        inst = self._instrument(session, req_id, contract)
        if inst is None:
            return
        session.send(msg.market_data_type(req_id, 1))
        for frame in bar_ticks(self.state.market, self.state.settings.spread_bps, req_id, inst.symbol):
            session.send(frame)
        if snapshot:
            session.send(msg.tick_snapshot_end(req_id))
        else:
            session.market_data[req_id] = inst.symbol

    def cancel_mkt_data(self, session: ClientConnection, fields: list[str]) -> None:
        session.market_data.pop(FieldReader(fields, start=2).integer("reqId"), None)

    def req_real_time_bars(self, session: ClientConnection, fields: list[str]) -> None:
        r = FieldReader(fields, start=2)
        req_id = r.integer("reqId")
        inst = self._instrument(session, req_id, read_contract(r))
        if inst is not None:
            session.realtime_bars[req_id] = inst.symbol

    def cancel_real_time_bars(self, session: ClientConnection, fields: list[str]) -> None:
        session.realtime_bars.pop(FieldReader(fields, start=2).integer("reqId"), None)


def _ignore(session: ClientConnection, fields: list[str]) -> None:
    return None
