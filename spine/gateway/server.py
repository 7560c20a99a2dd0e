"""The asyncio server: connections, sessions, the clock task and fault actions.

One ``GatewaySimulator`` holds one paper account, one order engine and one market
clock, shared by every connection; each connection is a ``Session`` with its own client
id. All state lives on the server's event loop, so nothing needs a lock; a synchronous
caller (a test, the benchmark) drives it through ``GatewayThread``.

A session never takes the server down: a request that fails to parse is answered with
error 321, bytes that are not the TWS protocol close that connection only. Each session
yields to the others after every request and waits for its own socket to drain when
its client stops reading, so one client's flood of requests cannot starve the rest.

The clock (in-process API, for an owner that drives the simulator in lockstep, such as
``spine rehearse``): ``step(n)`` advances it n bars (filling orders, pushing data),
``pause()``/``resume()`` hold and release the ``--speed`` clock task, ``position`` is
where it stands (a ``ClockPosition``) and ``add_clock_listener(fn)`` calls ``fn(position)``
on the simulator's loop after every bar. Replay time (``market.now``) is the one time
source for everything stamped: orders, executions, bars, reqCurrentTime, the handshake.
At the end of the replay window the clock stops, the console says so and every client
gets a news bulletin and an error notice (``REPLAY_ENDED_CODE``); working orders stay
working.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal

from spine.gateway import messages as msg
from spine.gateway.account import Account, format_money
from spine.gateway.fault_actions import FaultActions
from spine.gateway.faults import (
    FILL_ORDER_COMMISSION_FIRST,
    FILL_ORDER_EXEC_FIRST,
    Faults,
)
from spine.gateway.handlers import RequestHandlers
from spine.gateway.history import HistoryError, HistoryService
from spine.gateway.market import ClockPosition, HistoricalBar, MarketClock
from spine.gateway.orders import Execution, OrderEngine, WorkingOrder
from spine.gateway.protocol import (
    API_PREFIX,
    NOTICE_TEXTS,
    SERVER_VERSION,
    ErrorCode,
    OutMsg,
    ProtocolError,
    decode_payload,
    encode_handshake_reply,
    frame_length,
    negotiate,
    parse_version_range,
)
from spine.gateway.session import Session
from spine.gateway.settings import GatewaySettings, loopback_host

log = logging.getLogger("spine.gateway")

HANDSHAKE_TIMEOUT_SECS = 10.0
REPLAY_ENDED_CODE = 2199
"""The notice code sent when the replay window ends (in IB's 2100-2199 informational range)."""

ClockListener = Callable[[ClockPosition], None]


class GatewaySimulator(FaultActions):
    """An offline IB Gateway speaking the TWS API (server versions 157..178) on loopback."""

    def __init__(self, settings: GatewaySettings, market: MarketClock | None = None) -> None:
        self.settings = settings
        self._bind_host = loopback_host(settings.host)
        self.market = market
        self.faults = Faults()
        self.sessions: dict[int, Session] = {}
        self._connections: set[Session] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._online = asyncio.Event()
        self.account: Account | None = None
        self.engine: OrderEngine | None = None
        self.handlers: RequestHandlers | None = None
        self.history: HistoryService | None = None
        self._clock_listeners: list[ClockListener] = []
        self._running = asyncio.Event()  # set: the --speed clock task may advance
        self._running.set()
        self._replay_ended = False
        self._id_rollback = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        if self.market is None:
            self.market = MarketClock.from_paths(s.data, currency=s.currency, timezone=s.timezone, start=s.start,
                                                 end=s.end, indices=s.indices)
        self.account = Account(code=s.account, cash=Decimal(repr(float(s.cash))), currency=s.currency,
                               margin_rate=s.margin_rate)
        self.engine = OrderEngine(self.account, self.market, s.fill_model, self.faults, self)
        self.handlers = RequestHandlers(self)
        self.history = HistoryService(self.market.series, s.timezone, self.market.intraday, s.spread_bps)
        self._online.set()
        self._server = await asyncio.start_server(self._serve, self._bind_host, s.port)
        log.info("gateway simulator listening on %s:%d (server versions 157..%d), replay clock at %s",
                 self._bind_host, self.port, SERVER_VERSION, self.market.now)
        if s.speed_bars_per_sec > 0:
            self._spawn(self._run_clock(s.speed_bars_per_sec))
        for fault in s.faults.items:
            self._spawn(self._scheduled(fault))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
        for session in list(self._connections):
            session.close()
        if self._server is not None:
            await self._server.wait_closed()
        self._server = None

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.stop()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the gateway simulator is not running")
        return int(self._server.sockets[0].getsockname()[1])

    def _spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the clock --------------------------------------------------------------------------

    async def step(self, bars: int = 1) -> int:
        """Advance the clock ``bars`` bars, filling orders and pushing data; the bars taken.

        Nothing one order or one push does can stop the clock: a failure is logged and
        the bar still counts. Clock listeners run after every bar.
        """
        assert self.market is not None and self.engine is not None
        taken = 0
        for _ in range(bars):
            if self.market.at_end:
                break
            new = self.market.advance()
            taken += 1
            # Fills first, then quotes and bars, then the account (marks moved and fills changed cash).
            for action, arg in ((self.engine.on_bars, new), (self._push_market_data, new), (self._push_account, None)):
                try:
                    action() if arg is None else action(arg)  # type: ignore[operator]
                except Exception:
                    log.exception("error while replaying the bar at %s (the clock goes on)", self.market.now)
            self._notify_clock()
            if self.market.at_end:
                self._end_of_replay()
        return taken

    def pause(self) -> None:
        """Hold the ``--speed`` clock task (``step`` still works); orders keep working."""
        self._running.clear()

    def resume(self) -> None:
        """Let the ``--speed`` clock task advance again."""
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def position(self) -> ClockPosition:
        """Where the replay clock stands (bar index in its window, the time, whether it has ended)."""
        assert self.market is not None
        return self.market.position

    def add_clock_listener(self, listener: ClockListener) -> None:
        """Call ``listener(position)`` on the simulator's loop after every bar the clock takes."""
        self._clock_listeners.append(listener)

    def remove_clock_listener(self, listener: ClockListener) -> None:
        if listener in self._clock_listeners:
            self._clock_listeners.remove(listener)

    def _notify_clock(self) -> None:
        if not self._clock_listeners:
            return
        position = self.position
        for listener in list(self._clock_listeners):
            try:
                listener(position)
            except Exception:
                log.exception("clock listener %r failed", listener)

    def _end_of_replay(self) -> None:
        if self._replay_ended:
            return
        self._replay_ended = True
        assert self.market is not None and self.engine is not None
        working = len(self.engine.open_orders(None))
        text = (f"Replay ended at {self.market.now:%Y-%m-%d %H:%M:%S}: the simulated clock has stopped; "
                f"{working} working order(s) stay working")
        log.info("%s", text)
        for s in list(self.sessions.values()):
            s.send(msg.news_bulletin(1, text))
            s.send(msg.error(-1, REPLAY_ENDED_CODE, text))

    async def _run_clock(self, speed: float) -> None:
        assert self.market is not None
        while not self.market.at_end:
            await asyncio.sleep(1.0 / speed)
            await self._running.wait()
            try:
                await self.step()
            except Exception:  # never let the clock task die
                log.exception("the clock could not take a bar at %s", self.market.now)
        self._end_of_replay()

    # -- sessions ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        session = Session(writer, peer)
        self._connections.add(session)
        try:
            await asyncio.wait_for(self._handshake(reader, session), HANDSHAKE_TIMEOUT_SECS)
            while True:
                header = await reader.readexactly(4)
                payload = await reader.readexactly(frame_length(header))
                if not self._online.is_set():
                    await self._online.wait()
                assert self.handlers is not None
                await self.handlers.dispatch(session, decode_payload(payload))
                await session.flush()
                await asyncio.sleep(0)  # one request per turn: other sessions and the clock get theirs
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        except (TimeoutError, ProtocolError) as exc:
            log.warning("closing connection from %s: %s", peer, exc or "handshake timed out")
        except Exception:  # a bug in a handler must not take the server down
            log.exception("closing connection from %s after an internal error", peer)
        finally:
            self._connections.discard(session)
            if session.client_id is not None and self.sessions.get(session.client_id) is session:
                del self.sessions[session.client_id]
            session.close()

    async def _handshake(self, reader: asyncio.StreamReader, session: Session) -> None:
        prefix = await reader.readexactly(len(API_PREFIX))
        if prefix != API_PREFIX:
            raise ProtocolError(f"expected the API handshake, got {prefix!r}")
        payload = await reader.readexactly(frame_length(await reader.readexactly(4)))
        low, high = parse_version_range(payload.decode("ascii", errors="replace"))
        version = negotiate(low, high)
        session.version = version
        assert self.market is not None
        now = f"{self.market.now:%Y%m%d %H:%M:%S} {self.settings.timezone}"
        session.writer.write(encode_handshake_reply(version, now))
        log.info("client %s connected at server version %d (offered %d..%d)", session.peer, version, low, high)

    def register(self, session: Session, client_id: int) -> bool:
        """Bind a client id to a session after startApi; False (and error 326) if taken."""
        if client_id in self.sessions:
            session.send(msg.error(-1, ErrorCode.CLIENT_ID_IN_USE, NOTICE_TEXTS[ErrorCode.CLIENT_ID_IN_USE]))
            session.close()
            return False
        session.client_id = client_id
        self.sessions[client_id] = session
        return True

    def _owner(self, client_id: int) -> Session | None:
        return self.sessions.get(client_id)

    # -- order listener (called by the engine) ----------------------------------------------------

    def _log_order(self, what: str, order: WorkingOrder, price: float | None = None) -> None:
        """One console line per order event: time, id, orderRef, ticker, side, quantity, price, status."""
        if not log.isEnabledFor(logging.INFO):
            return
        assert self.market is not None
        r = order.request
        if price is None:
            price = r.limit_price if r.limit_price is not None else r.stop_price
        shown = f"{price:.2f}" if price is not None else "MKT"
        log.info("%s %-6s order %d ref=%s %s %s %g %s @ %s -> %s", f"{self.market.now:%Y-%m-%d %H:%M}", what,
                 r.order_id, r.order_ref or "-", order.instrument.symbol, r.action, order.quantity, r.order_type,
                 shown, order.status)

    def order_opened(self, order: WorkingOrder) -> None:
        self._log_order("order", order)
        s = self._owner(order.request.client_id)
        if s is not None:
            s.send(msg.open_order(order, self.settings.account))
            s.send(msg.order_status(order))

    def order_status(self, order: WorkingOrder) -> None:
        self._log_order("status", order)
        s = self._owner(order.request.client_id)
        if s is not None:
            s.send(msg.order_status(order))

    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        log.info("order %d of client %d: error %d %s", order_id, client_id, code, text)
        s = self._owner(client_id)
        if s is not None:
            s.send(msg.error(order_id, code, text))

    def order_filled(self, order: WorkingOrder, execution: Execution) -> None:
        assert self.market is not None
        e = execution
        if log.isEnabledFor(logging.INFO):
                log.info("%s fill   order %d ref=%s %s %s %g @ %.4f commission %.2f -> %s",
                     f"{self.market.now:%Y-%m-%d %H:%M}", e.order_id, e.order_ref or "-", e.instrument.symbol, e.side,
                     e.shares, e.price, e.commission, order.status)
        s = self._owner(order.request.client_id)
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
        assert self.account is not None and self.market is not None
        inst = self.market.instruments[symbol]
        hold = self.account.holding(symbol)
        for s in list(self.sessions.values()):
            if s.positions:
                s.send(msg.position(self.settings.account, inst, hold.quantity, hold.average_cost))
        # Account values and portfolio lines follow once, at the end of the step.

    # -- pushes -----------------------------------------------------------------------------

    def account_messages(self, symbols: list[str] | None = None) -> list[msg.Fields]:
        """Account values and portfolio lines, as reqAccountUpdates sends them."""
        assert self.account is not None and self.market is not None
        acct = self.account
        marks = self.market.marks()
        out = [msg.account_value(tag, format_money(value), acct.currency, acct.code)
               for tag, value in acct.values(marks).items()]
        out.append(msg.account_value("AccountCode", acct.code, "", acct.code))
        out.append(msg.account_value("Currency", acct.currency, acct.currency, acct.code))
        for symbol in symbols if symbols is not None else sorted(acct.holdings):
            hold = acct.holding(symbol)
            mark = marks.get(symbol, 0.0)
            value = Decimal(repr(hold.quantity)) * Decimal(repr(mark))
            out.append(msg.portfolio_value(self.market.instruments[symbol], hold.quantity, mark, value,
                                           hold.average_cost, acct.unrealized_pnl(symbol, mark), hold.realized_pnl,
                                           acct.code))
        out.append(msg.account_time(self.market.now))
        return out

    def _push_account(self, symbols: list[str] | None = None) -> None:
        """Push what changed to every account-updates subscriber, as IB does between full downloads."""
        subscribers = [s for s in self.sessions.values() if s.account_updates]
        if not subscribers:
            return
        frames = self.account_messages(symbols)
        for s in subscribers:
            for fields in frames:
                if fields[0] == OutMsg.ACCOUNT_VALUE:
                    key, value = (str(fields[2]), str(fields[4])), str(fields[3])
                    if s.sent_account_values.get(key) == value:
                        continue
                    s.sent_account_values[key] = value
                s.send(fields)

    def _push_market_data(self, bars: dict) -> None:  # type: ignore[type-arg]
        assert self.market is not None
        for s in list(self.sessions.values()):
            for req_id, symbol in s.market_data.items():
                if symbol in bars:
                    for fields in self.handlers.ticks(req_id, symbol) if self.handlers else []:
                        s.send(fields)
            for req_id, symbol in s.realtime_bars.items():
                if symbol in bars:
                    s.send(msg.real_time_bar(req_id, HistoricalBar(self.market.now, bars[symbol])))
            for req_id, (symbol, bar_size, what, fmt) in list(s.history_updates.items()):
                if symbol in bars and self.history is not None:
                    try:
                        table = self.history.latest(symbol, self.market.timeline[self.market.index], bar_size, what)
                    except HistoryError:
                        continue
                    if len(table):
                        s.send(msg.historical_data_update(req_id, table, fmt, self.settings.timezone))
