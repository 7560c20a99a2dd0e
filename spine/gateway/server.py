"""The asyncio server: connections, sessions, the clock task and fault actions.

One ``GatewaySimulator`` holds one paper account, one order engine and one market
clock, shared by every connection; each connection is a ``Session`` with its own client
id. All state lives on the server's event loop, so nothing needs a lock; a synchronous
caller (a test, the benchmark) drives it through ``GatewayThread``.

A session never takes the server down: a request that fails to parse is answered with
error 321, bytes that are not the TWS protocol close that connection only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal

from spine.gateway import messages as msg
from spine.gateway.account import Account, format_money
from spine.gateway.faults import Faults, Rejection, ScheduledFault
from spine.gateway.handlers import RequestHandlers
from spine.gateway.market import HistoricalBar, MarketClock
from spine.gateway.orders import Execution, OrderEngine, WorkingOrder
from spine.gateway.protocol import (
    API_PREFIX,
    NOTICE_TEXTS,
    ErrorCode,
    OutMsg,
    ProtocolError,
    decode_payload,
    encode_frame,
    encode_handshake_reply,
    frame_length,
    negotiate,
    parse_version_range,
)
from spine.gateway.settings import GatewaySettings, loopback_host

log = logging.getLogger("spine.gateway")

HANDSHAKE_TIMEOUT_SECS = 10.0


class Session:
    """One client connection: its id, its subscriptions and its outgoing stream."""

    def __init__(self, writer: asyncio.StreamWriter, peer: str) -> None:
        self.writer = writer
        self.peer = peer
        self.client_id: int | None = None
        self.account_updates = False
        self.positions = False
        self.market_data: dict[int, str] = {}  # reqId -> symbol
        self.realtime_bars: dict[int, str] = {}
        self.paused = False
        self._held: list[bytes] = []
        self.sent_account_values: dict[tuple[str, str], str] = {}  # (tag, currency) -> value last pushed

    def send(self, fields: msg.Fields) -> None:
        frame = encode_frame(fields)
        if self.paused:
            self._held.append(frame)
        elif not self.writer.is_closing():
            self.writer.write(frame)

    def resume(self) -> None:
        self.paused = False
        held, self._held = self._held, []
        if not self.writer.is_closing():
            self.writer.writelines(held)

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


class GatewaySimulator:
    """An offline IB Gateway speaking the TWS API (server version 178) on loopback."""

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

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        if self.market is None:
            self.market = MarketClock.from_paths(s.data, currency=s.currency, timezone=s.timezone, history_upto_clock=s.history_upto_clock)
        self.account = Account(code=s.account, cash=Decimal(repr(float(s.cash))), currency=s.currency,
                               margin_rate=s.margin_rate)
        self.engine = OrderEngine(self.account, self.market, s.fill_model, self.faults, self)
        self.handlers = RequestHandlers(self)
        self._online.set()
        self._server = await asyncio.start_server(self._serve, self._bind_host, s.port)
        log.info("gateway simulator listening on %s:%d (server version 178)", self._bind_host, self.port)
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
        """Advance the clock ``bars`` bars, filling orders and pushing data; the bars taken."""
        assert self.market is not None and self.engine is not None
        taken = 0
        for _ in range(bars):
            if self.market.at_end:
                break
            new = self.market.advance()
            taken += 1
            self.engine.on_bars(new)
            self._push_market_data(new)
            self._push_account()  # marks moved and fills (if any) changed cash and positions
        return taken

    async def _run_clock(self, speed: float) -> None:
        assert self.market is not None
        while not self.market.at_end:
            await asyncio.sleep(1.0 / speed)
            await self.step()
        log.info("end of data reached at %s; the clock stops", self.market.now)

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
        session.writer.write(encode_handshake_reply(version, f"{datetime.now():%Y%m%d %H:%M:%S} EST"))

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

    def order_opened(self, order: WorkingOrder) -> None:
        s = self._owner(order.request.client_id)
        if s is not None:
            s.send(msg.open_order(order, self.settings.account))
            s.send(msg.order_status(order))

    def order_status(self, order: WorkingOrder) -> None:
        s = self._owner(order.request.client_id)
        if s is not None:
            s.send(msg.order_status(order))

    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        s = self._owner(client_id)
        if s is not None:
            s.send(msg.error(order_id, code, text))

    def order_filled(self, order: WorkingOrder, execution: Execution) -> None:
        s = self._owner(order.request.client_id)
        if s is None:
            return
        s.send(msg.exec_details(-1, execution, self.settings.timezone))
        s.send(msg.order_status(order))
        s.send(msg.open_order(order, self.settings.account))
        s.send(msg.order_status(order))
        s.send(msg.commission_report(execution))

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

    # -- faults (in-process API; also run by --faults) ---------------------------------------------

    def drop_connections(self) -> int:
        """Send 1100 to every client and close every connection; reconnects are accepted."""
        sessions = list(self._connections)
        for s in sessions:
            s.paused = False
            s.send(msg.error(-1, ErrorCode.CONNECTIVITY_LOST, NOTICE_TEXTS[ErrorCode.CONNECTIVITY_LOST]))
            s.close()
            if s.client_id is not None and self.sessions.get(s.client_id) is s:
                del self.sessions[s.client_id]
        return len(sessions)

    def go_silent(self, seconds: float) -> None:
        """Connectivity lost (1100) for ``seconds``: nothing is answered or sent, then 1102 and the backlog."""
        for s in self.sessions.values():
            s.send(msg.error(-1, ErrorCode.CONNECTIVITY_LOST, NOTICE_TEXTS[ErrorCode.CONNECTIVITY_LOST]))
            s.paused = True
        self._online.clear()
        self._spawn(self._restore_after(seconds))

    async def _restore_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        restored = msg.error(-1, ErrorCode.CONNECTIVITY_RESTORED_DATA_MAINTAINED,
                             NOTICE_TEXTS[ErrorCode.CONNECTIVITY_RESTORED_DATA_MAINTAINED])
        for s in self.sessions.values():
            if s.paused:
                s._held.insert(0, encode_frame(restored))
                s.resume()
        self._online.set()

    def reject_next_order(self, code: int = ErrorCode.ORDER_REJECTED, text: str = "rejected by fault injection") -> None:
        self.faults.next_rejection = Rejection(int(code), text)

    def fill_next_order_partially(self, fraction: float = 0.5) -> None:
        if not 0 < fraction < 1:
            raise ValueError("fraction must be between 0 and 1")
        self.faults.next_partial_fraction = fraction

    def delay_acks(self, seconds: float) -> None:
        self.faults.ack_delay_secs = max(0.0, seconds)

    async def _scheduled(self, fault: ScheduledFault) -> None:
        if fault.at_secs:
            await asyncio.sleep(fault.at_secs)
        log.info("fault injection: %s", fault)
        if fault.kind == "drop":
            self.drop_connections()
        elif fault.kind == "silent":
            self.go_silent(fault.seconds)
        elif fault.kind == "reject":
            self.reject_next_order(fault.code, fault.text)
        elif fault.kind == "partial":
            self.fill_next_order_partially(fault.fraction)
        elif fault.kind == "ack_delay":
            self.delay_acks(fault.seconds)
