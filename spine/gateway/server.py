"""The asyncio server: connections, sessions, the clock task and fault actions.

One ``GatewaySimulator`` holds one paper account, one order engine and one market
clock, shared by every connection; each connection is a ``ClientConnection`` with its own client
id. The request handlers see that state as a ``SimulatorState``, never the simulator;
what it sends unasked goes out through its ``Pushes``, the order engine's listener
(``set_order_listener`` puts another in its place). All state lives on the server's
event loop, so nothing needs a lock; a synchronous caller (a test, the benchmark)
drives it through ``GatewayThread``.

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
from spine.gateway.account import Account
from spine.gateway.client import ClientConnection
from spine.gateway.fault_actions import FaultActions
from spine.gateway.faults import Faults
from spine.gateway.handlers import RequestHandlers
from spine.gateway.history import HistoryService
from spine.gateway.limits import read_frame
from spine.gateway.market import ClockPosition, MarketClock
from spine.gateway.order_ids import OrderIdSource
from spine.gateway.order_records import OrderListener
from spine.gateway.orders import OrderEngine
from spine.gateway.protocol import (
    API_PREFIX,
    NOTICE_TEXTS,
    SERVER_VERSION,
    ProtocolError,
    decode_payload,
    encode_handshake_reply,
    frame_length,
    negotiate,
    parse_version_range,
)
from spine.gateway.pushes import Pushes
from spine.gateway.settings import GatewaySettings, loopback_host
from spine.gateway.state import SimulatorState
from spine.ib.codes import ErrorCode

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
        self.sessions: dict[int, ClientConnection] = {}
        self._connections: set[ClientConnection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._online = asyncio.Event()
        self._state: SimulatorState | None = None
        self._pushes: Pushes | None = None
        self._handlers: RequestHandlers | None = None
        self._clock_listeners: list[ClockListener] = []
        self._running = asyncio.Event()  # set: the --speed clock task may advance
        self._running.set()
        self._replay_ended = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        if self.market is None:
            self.market = MarketClock.from_paths(
                s.data, currency=s.currency, timezone=s.timezone, start=s.start, end=s.end, indices=s.indices
            )
        market = self.market
        account = Account(
            code=s.account, cash=Decimal(repr(float(s.cash))), currency=s.currency, margin_rate=s.margin_rate
        )
        history = HistoryService(market.series, s.timezone, market.intraday, s.spread_bps)
        self._pushes = Pushes(s, market, account, self.faults, history, self.sessions)
        engine = OrderEngine(account, market, s.fill_model, self.faults, self._pushes)
        self._state = SimulatorState(
            settings=s,
            market=market,
            account=account,
            engine=engine,
            faults=self.faults,
            history=history,
            order_ids=OrderIdSource(engine.next_order_id),
            register=self.register,
        )
        self._handlers = RequestHandlers(self._state)
        self._online.set()
        self._server = await asyncio.start_server(self._serve, self._bind_host, s.port)
        log.info(
            "gateway simulator listening on %s:%d (server versions 157..%d), replay clock at %s",
            self._bind_host,
            self.port,
            SERVER_VERSION,
            market.now,
        )
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

    # -- what a started simulator holds ---------------------------------------------------------

    @property
    def state(self) -> SimulatorState:
        """The account, market, engine, faults, history and id source the request handlers act on."""
        if self._state is None:
            raise RuntimeError("the gateway simulator has not started")
        return self._state

    @property
    def engine(self) -> OrderEngine:
        return self.state.engine

    @property
    def account(self) -> Account:
        return self.state.account

    @property
    def history(self) -> HistoryService:
        return self.state.history

    @property
    def pushes(self) -> Pushes:
        """What the simulator sends unasked (order events, positions, account, market data)."""
        if self._pushes is None:
            raise RuntimeError("the gateway simulator has not started")
        return self._pushes

    @property
    def handlers(self) -> RequestHandlers:
        """The request dispatch (``handlers.intercept(msg_id, handler)`` replaces one answer)."""
        if self._handlers is None:
            raise RuntimeError("the gateway simulator has not started")
        return self._handlers

    def set_order_listener(self, listener: OrderListener | None) -> None:
        """Report the order engine's events to ``listener`` instead of ``pushes`` (None: to ``pushes`` again).

        The designed way to change what clients hear about their orders, e.g. a ``Pushes``
        subclass that sends a fill's messages in another order (``spine.gateway.testing``).
        """
        self.engine.listener = listener if listener is not None else self.pushes

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
        market, engine, pushes = self.state.market, self.state.engine, self.pushes
        taken = 0
        for _ in range(bars):
            if market.at_end:
                break
            new = market.advance()
            taken += 1
            # Fills first, then quotes and bars, then the account (marks moved and fills changed cash).
            for action, arg in ((engine.on_bars, new), (pushes.push_market_data, new), (pushes.push_account, None)):
                try:
                    action() if arg is None else action(arg)  # type: ignore[operator]
                except Exception:
                    log.exception("error while replaying the bar at %s (the clock goes on)", market.now)
            self._notify_clock()
            if market.at_end:
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
        working = len(self.state.engine.open_orders(None))
        text = (
            f"Replay ended at {self.state.market.now:%Y-%m-%d %H:%M:%S}: the simulated clock has stopped; "
            f"{working} working order(s) stay working"
        )
        log.info("%s", text)
        for s in list(self.sessions.values()):
            s.send(msg.news_bulletin(1, text))
            s.send(msg.error(-1, REPLAY_ENDED_CODE, text))

    async def _run_clock(self, speed: float) -> None:
        market = self.state.market
        while not market.at_end:
            await asyncio.sleep(1.0 / speed)
            await self._running.wait()
            try:
                await self.step()
            except Exception:  # never let the clock task die
                log.exception("the clock could not take a bar at %s", market.now)
        self._end_of_replay()

    # -- sessions ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        session = ClientConnection(writer, peer)
        self._connections.add(session)
        try:
            await asyncio.wait_for(self._handshake(reader, session), HANDSHAKE_TIMEOUT_SECS)
            limits = self.settings.limits
            while True:
                payload = await read_frame(reader, limits, registered=session.client_id is not None)
                if not self._online.is_set():
                    await self._online.wait()
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

    async def _handshake(self, reader: asyncio.StreamReader, session: ClientConnection) -> None:
        prefix = await reader.readexactly(len(API_PREFIX))
        if prefix != API_PREFIX:
            raise ProtocolError(f"expected the API handshake, got {prefix!r}")
        payload = await reader.readexactly(frame_length(await reader.readexactly(4)))
        low, high = parse_version_range(payload.decode("ascii", errors="replace"))
        version = negotiate(low, high)
        session.version = version
        now = f"{self.state.market.now:%Y%m%d %H:%M:%S} {self.settings.timezone}"
        session.writer.write(encode_handshake_reply(version, now))
        log.info("client %s connected at server version %d (offered %d..%d)", session.peer, version, low, high)

    def register(self, session: ClientConnection, client_id: int) -> bool:
        """Bind a client id to a session after startApi; False (and error 326) if taken."""
        if client_id in self.sessions:
            session.send(msg.error(-1, ErrorCode.CLIENT_ID_IN_USE, NOTICE_TEXTS[ErrorCode.CLIENT_ID_IN_USE]))
            session.close()
            return False
        session.client_id = client_id
        self.sessions[client_id] = session
        return True
