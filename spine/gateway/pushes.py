"""What the simulator sends unasked: order events, positions, account updates, market data.

``Pushes`` is the order engine's ``OrderListener``: each order event goes to the session
of the client that placed the order (openOrder, orderStatus, errors, and a fill's
execDetails, commission report and status in the order ``Faults.fill_order`` says).
After every bar the server has it push the new ticks, real-time bars and updating
historical bars to their subscribers, and the account values and portfolio lines that
changed to every account-updates subscriber, as IB does between full downloads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from brokers.fill_model import Bar
from spine.gateway import messages as msg
from spine.gateway.account import Account, format_money
from spine.gateway.client import ClientConnection
from spine.gateway.faults import FILL_ORDER_COMMISSION_FIRST, FILL_ORDER_EXEC_FIRST, Faults
from spine.gateway.history import HistoryError, HistoryService
from spine.gateway.market import HistoricalBar, MarketClock
from spine.gateway.order_records import Execution, WorkingOrder
from spine.gateway.protocol import OutMsg
from spine.gateway.settings import GatewaySettings
from spine.gateway.ticks import bar_ticks

log = logging.getLogger("spine.gateway")


def account_messages(account: Account, market: MarketClock, symbols: list[str] | None = None) -> list[msg.Fields]:
    """Account values and portfolio lines (of ``symbols``, default every holding), as reqAccountUpdates sends them."""
    marks = market.marks()
    out = [
        msg.account_value(tag, format_money(value), account.currency, account.code)
        for tag, value in account.values(marks).items()
    ]
    out.append(msg.account_value("AccountCode", account.code, "", account.code))
    out.append(msg.account_value("Currency", account.currency, account.currency, account.code))
    for symbol in symbols if symbols is not None else sorted(account.holdings):
        hold = account.holding(symbol)
        mark = marks.get(symbol, 0.0)
        value = Decimal(repr(hold.quantity)) * Decimal(repr(mark))
        out.append(
            msg.portfolio_value(
                market.instruments[symbol],
                hold.quantity,
                mark,
                value,
                hold.average_cost,
                account.unrealized_pnl(symbol, mark),
                hold.realized_pnl,
                account.code,
            )
        )
    out.append(msg.account_time(market.now))
    return out


class Pushes:
    """Sends the simulator's unasked messages to the registered sessions; see the module docstring."""

    def __init__(
        self,
        settings: GatewaySettings,
        market: MarketClock,
        account: Account,
        faults: Faults,
        history: HistoryService,
        sessions: Mapping[int, ClientConnection],
    ) -> None:
        self.settings = settings
        self.market = market
        self.account = account
        self.faults = faults
        self.history = history
        self.sessions = sessions  # client id -> session, kept by the server

    def owner(self, client_id: int) -> ClientConnection | None:
        """The session of the client that placed an order, if it is connected."""
        return self.sessions.get(client_id)

    # -- order events (the engine's OrderListener) --------------------------------------------

    def order_opened(self, order: WorkingOrder) -> None:
        self._log_order("order", order)
        s = self.owner(order.request.client_id)
        if s is not None:
            s.send(msg.open_order(order, self.settings.account))
            s.send(msg.order_status(order))

    def order_status(self, order: WorkingOrder) -> None:
        self._log_order("status", order)
        s = self.owner(order.request.client_id)
        if s is not None:
            s.send(msg.order_status(order))

    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        log.info("order %d of client %d: error %d %s", order_id, client_id, code, text)
        s = self.owner(client_id)
        if s is not None:
            s.send(msg.error(order_id, code, text))

    def order_filled(self, order: WorkingOrder, execution: Execution) -> None:
        e = execution
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s fill   order %d ref=%s %s %s %g @ %.4f commission %.2f -> %s",
                f"{self.market.now:%Y-%m-%d %H:%M}",
                e.order_id,
                e.order_ref or "-",
                e.instrument.symbol,
                e.side,
                e.shares,
                e.price,
                e.commission,
                order.status,
            )
        s = self.owner(order.request.client_id)
        if s is None:
            return
        exec_msg = msg.exec_details(-1, execution, self.settings.timezone)
        report = msg.commission_report(execution)
        status = msg.order_status(order)
        opened = msg.open_order(order, self.settings.account)
        mode = self.faults.fill_order
        if mode == FILL_ORDER_EXEC_FIRST:
            sequence = [exec_msg, status, opened, report]
        elif mode == FILL_ORDER_COMMISSION_FIRST:
            sequence = [report, exec_msg, status, opened]
        else:
            sequence = [status, opened, exec_msg, report]
        for fields in sequence:
            s.send(fields)

    def positions_changed(self, symbol: str) -> None:
        inst = self.market.instruments[symbol]
        hold = self.account.holding(symbol)
        for s in list(self.sessions.values()):
            if s.positions:
                s.send(msg.position(self.settings.account, inst, hold.quantity, hold.average_cost))
        # Account values and portfolio lines follow once, at the end of the step.

    def _log_order(self, what: str, order: WorkingOrder, price: float | None = None) -> None:
        """One console line per order event: time, id, orderRef, ticker, side, quantity, price, status."""
        if not log.isEnabledFor(logging.INFO):
            return
        r = order.request
        if price is None:
            price = r.limit_price if r.limit_price is not None else r.stop_price
        shown = f"{price:.2f}" if price is not None else "MKT"
        log.info(
            "%s %-6s order %d ref=%s %s %s %g %s @ %s -> %s",
            f"{self.market.now:%Y-%m-%d %H:%M}",
            what,
            r.order_id,
            r.order_ref or "-",
            order.instrument.symbol,
            r.action,
            order.quantity,
            r.order_type,
            shown,
            order.status,
        )

    # -- account and market data ----------------------------------------------------------------

    def push_account(self, symbols: list[str] | None = None) -> None:
        """Push what changed to every account-updates subscriber, as IB does between full downloads.

        A flat holding's portfolio line goes once, when it becomes flat, not again on every bar.
        """
        subscribers = [s for s in self.sessions.values() if s.account_updates]
        if not subscribers:
            return
        names = symbols if symbols is not None else sorted(self.account.holdings)
        flat = {n for n in names if self.account.holding(n).quantity == 0}
        for s in subscribers:
            shown = [n for n in names if n not in flat or n not in s.flat_lines_sent]
            s.flat_lines_sent.difference_update(set(names) - flat)
            s.flat_lines_sent.update(flat)
            for fields in account_messages(self.account, self.market, shown):
                if fields[0] == OutMsg.ACCOUNT_VALUE:
                    key, value = (str(fields[2]), str(fields[4])), str(fields[3])
                    if s.sent_account_values.get(key) == value:
                        continue
                    s.sent_account_values[key] = value
                s.send(fields)

    def push_market_data(self, bars: Mapping[str, Bar]) -> None:
        """Ticks, real-time bars and updating historical bars of the tickers with a new bar, to their subscribers."""
        market = self.market
        for s in list(self.sessions.values()):
            for req_id, symbol in s.market_data.items():
                if symbol in bars:
                    for fields in bar_ticks(market, self.settings.spread_bps, req_id, symbol):
                        s.send(fields)
            for req_id, symbol in s.realtime_bars.items():
                if symbol in bars:
                    s.send(msg.real_time_bar(req_id, HistoricalBar(market.now, bars[symbol])))
            for req_id, (symbol, bar_size, what, fmt) in list(s.history_updates.items()):
                if symbol in bars:
                    try:
                        table = self.history.latest(symbol, market.timeline[market.index], bar_size, what)
                    except HistoryError:
                        continue
                    if len(table):
                        s.send(msg.historical_data_update(req_id, table, fmt, self.settings.timezone))
