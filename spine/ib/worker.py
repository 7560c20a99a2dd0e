"""``IBWorker``: everything that runs on the ``spine-ib`` thread's loop, around one ``ib_async.IB``.

It is put together from one mixin per job, each in its own module:

    connection    connect, back-off with tenacity, 326, account and port checks, 1100/1101/1102, heartbeat
    syncing       reconcile-before-trade after every connect and reconnect
    ack_watch     the acknowledgement timeout (lost stops, take-profits and exits sent again) and the
                  time positions spend without a working stop
    kill_guard    the manual kill read from the state database, the journal's halt and ``spine resume``
    routing       native brackets, single orders, cancels, flatten; statuses, order errors and fills back
    market_data   contract details, quote lines (the tickers' and the VIX index's), bars behind the pacer,
                  account snapshots

This module holds the state they share, the main loop (connect -> sync -> wait for a
disconnect) and the command loop. The worker's only way out is the ``Outbox`` its session
hands it (``spine.ib.outbox``: frozen events, the state, the account snapshot, quotes).

Nothing here blocks the loop: ib_async is used through its async API (``placeOrder`` and
``cancelOrder`` only write to the socket), SQLite writes are small and local.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ib_async import IB, Contract, Order

from spine.core.errors import ClientIdInUse, ConnectFailed, FetchFailed, NotSentError, Refused
from spine.ib import order_repr
from spine.ib.ack_watch import AckWatchMixin
from spine.ib.bracket import LegSpec
from spine.ib.codes import ErrorCode
from spine.ib.connection import ConnectionMixin
from spine.ib.fill_assembler import FillAssembler
from spine.ib.halt import HALT_AT_META, HALT_META
from spine.ib.journal import Journal, journaled_intent_ids
from spine.ib.kill_guard import KillGuardMixin
from spine.ib.market_data import MarketDataMixin
from spine.ib.outbox import Outbox
from spine.ib.pacer import HistoricalPacer
from spine.ib.records import (
    Cancel,
    Command,
    Flatten,
    PlaceBracket,
    PlaceOrder,
    Refresh,
    RequestHistory,
    SessionError,
    SessionState,
    SessionStateChanged,
    Submission,
)
from spine.ib.routing import RISK_STATES, OrderRoutingMixin
from spine.ib.settings import SessionSettings
from spine.ib.snapshots import SnapshotRecorder
from spine.ib.syncing import EXTERNAL_META, SyncMixin
from spine.ib.trade_index import TradeIndex
from spine.safety.state_store import StateStore

log = logging.getLogger("spine.ib")

__all__ = ["RISK_STATES", "ClientIdInUse", "ConnectFailed", "FetchFailed", "IBWorker", "Refused"]


@dataclass(frozen=True, slots=True)
class _FinishBracket:
    """The children of a bracket whose parent ``IBWorker.enqueue`` placed at once."""

    command: PlaceBracket
    legs: list[LegSpec]


class IBWorker(ConnectionMixin, SyncMixin, KillGuardMixin, AckWatchMixin, OrderRoutingMixin, MarketDataMixin):
    """Runs on the ``spine-ib`` loop; see the module docstring."""

    def __init__(
        self, settings: SessionSettings, ib: IB, outbox: Outbox, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.s = settings
        self.ib = ib
        self.outbox = outbox
        self._clock = clock
        self.journal = Journal.in_folder(settings.state_dir)
        self.journal.open_write_ahead()  # the one writer: what a crash left there becomes journal rows first
        self.store = StateStore.in_folder(settings.state_dir)
        self.snapshots = SnapshotRecorder(self.journal.path, host=settings.host, port=settings.port,
                                          client_id=settings.client_id)  # what a watcher reads  # fmt: skip
        self.assembler = FillAssembler(self.journal.fill_ids())
        self.pacer = HistoricalPacer.scaled(time.monotonic, settings.pacing_scale)
        self._commands: asyncio.Queue[
            tuple[Command, concurrent.futures.Future[Submission] | None, threading.Event | None]
        ] = asyncio.Queue()
        self._handoff: threading.Event | None = (
            None  # the running command's: set once its first order is handed to ib_async
        )
        self._commands_idle = (
            False  # the command loop waits for a command (nothing is running or queued before a new one)
        )
        self._stopping = False
        self._cancel_on_stop = False
        self._wake = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._state = SessionState.DISCONNECTED
        self._account = ""
        self._contracts: dict[str, Contract] = {}
        self._min_ticks: dict[str, float] = {}
        self._indices: dict[str, Contract] = {}  # symbol -> index contract (the VIX): quoted, never traded
        self._tickers: dict[str, Any] = {}  # symbol -> ib_async Ticker (market data line)
        self._last_errors: dict[int, tuple[int, str]] = {}
        self._connect_errors: list[int] = []
        self._client_id_refusals = 0
        self._kill_executed = False
        self._in_reconcile = False
        self._pending_reconcile: str = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._entries: dict[int, tuple[str, float]] = {}  # working entry legs: order id -> (ticker, signed remaining)
        self._foreign_execs: set[str] = set()
        self._foreign_in_sync: dict[str, str] = {}  # exec id -> halt reason, seen during the running reconcile
        self._foreign_perms: set[int] = set()
        self._ib_positions: dict[str, float] = {}
        self._external: dict[str, float] = {
            str(k): float(v) for k, v in json.loads(self.journal.meta(EXTERNAL_META) or "{}").items()
        }  # positions Spine did not open: ticker -> shares
        self._avg_costs: dict[str, float] = {}
        self._nav_seen = ""  # the last NetLiquidation IB pushed (a change publishes a snapshot)
        self._known_intents: set[str] = journaled_intent_ids(settings.state_dir)  # sent once: never again
        # ib_async's trades by intent and by order id: the resend check's and a cancel's index
        self._trade_index = TradeIndex(ib)
        # the next order's blank ib_async Order, made off the signal's path
        self._spare_order: Order | None = order_repr.Order()
        self._sent_at: dict[int, float] = {}  # orders sent this session, not yet acknowledged: id -> monotonic time
        self._sent_roles: dict[int, str] = {}  # the role of each order sent this session (pruned to the unacknowledged)
        self._resized_at: dict[int, tuple[float, float]] = {}  # size changes not yet confirmed: id -> (time, shares)
        self._held_entries: dict[str, tuple[Any, asyncio.Task[None]]] = {}  # intent -> entry waiting for an exit
        self._leg_cancels: dict[
            int, Any
        ] = {}  # order id -> trade: a held position's leg whose cancel waits for an exit
        self._bare_since: dict[str, tuple[float, datetime, float, bool]] = {}  # positions without a working stop
        self._bare_totals: dict[str, tuple[float, float, int]] = {}  # ticker -> (seconds, longest, episodes)
        self._halt_reason = self.journal.meta(HALT_META) or ""
        self._halt_at = self.journal.meta(HALT_AT_META) or ""
        ib.RaiseRequestErrors = True  # a request answered with an error raises; it never looks like an empty answer
        # ib_async's message throttle stays on (its default 45/s) as the backstop. It releases a
        # backlog in batches, which on a loaded machine put up to 59 writes in one second
        # (bench_paper.py), so order messages are also spaced by the session itself: each at
        # least 1/order_messages_per_sec (40/s) after the previous one was handed over, measured from the hand-over.
        self._last_order_msg = 0.0
        self._hook_wrapper()
        ib.errorEvent += self._on_error
        ib.orderStatusEvent += self._on_order_status
        ib.disconnectedEvent += self._on_disconnected
        ib.pendingTickersEvent += self._on_tickers
        ib.accountValueEvent += self._on_account_value

    def enqueue(self, command: Command, future: concurrent.futures.Future[Submission] | None = None,
                handoff: threading.Event | None = None) -> None:  # fmt: skip
        """Runs on the loop (``call_soon_threadsafe``): a bracket's parent goes at once when nothing is ahead of it."""
        if self._commands_idle and self._commands.empty() and isinstance(command, PlaceBracket):
            self._handoff = handoff  # set by _start_bracket right after the parent's placeOrder
            try:
                legs = self._bracket_now(command)
            except Exception as exc:  # noqa: BLE001 - as in the command loop: one bad command must not end the session
                self._hand_off()
                self._command_failed(command, exc, future)
                return
            if legs is not None:
                self._commands.put_nowait((_FinishBracket(command, legs), future, None))
                return
            self._handoff = None  # nothing placed: the command loop hands off when it places the parent
        self._commands.put_nowait((command, future, handoff))

    def request_stop(self, cancel_working: bool) -> None:
        self._stopping = True
        self._cancel_on_stop = cancel_working
        self._wake.set()
        self._disconnected.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.journal.defer_commits(loop.call_soon)  # one commit per turn of the loop, not one per row
        self._tasks = [
            loop.create_task(c)
            for c in (
                self._command_loop(),
                self._kill_watch(),
                self._heartbeat(),
                self._account_loop(),
                self._ack_watch(),
                self.snapshots.pulse_forever(),
            )
        ]
        try:
            while not self._stopping:
                self._disconnected.clear()
                try:
                    await self._connect_with_backoff()
                except Refused as exc:  # each reason is published before the state it explains
                    self._emit(SessionError(0, str(exc)))
                    self._halt(str(exc), persist=False)
                    await self._wake.wait()
                    break
                except ClientIdInUse:
                    message = (f"client id {self.s.client_id} is in use at {self.s.host}:{self.s.port} after "
                               f"{self._client_id_refusals} attempts (error 326); stop the other connection or pick "
                               "another --client-id")  # fmt: skip
                    self._emit(SessionError(int(ErrorCode.CLIENT_ID_IN_USE), message))
                    self._set_state(SessionState.HALTED, message)
                    await self._wake.wait()
                    break
                except ConnectFailed as exc:
                    if self._stopping:
                        break
                    message = f"gave up connecting to {self.s.host}:{self.s.port} after {self.s.reconnect_max_attempts} attempts: {exc}"
                    self._emit(SessionError(0, message))
                    self._set_state(SessionState.HALTED, message)
                    await self._wake.wait()
                    break
                if self._stopping:
                    break
                await self._sync_with_retry("connect")
                await self._disconnected.wait()
                if not self._stopping:
                    self._set_state(SessionState.DISCONNECTED, "connection lost; reconnecting")
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        held = [task for _cmd, task in self._held_entries.values()]
        for task in self._tasks + held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)  # each held entry tells its caller nothing was sent
        while not self._commands.empty():
            cmd, future, handoff = self._commands.get_nowait()
            if handoff is not None:
                handoff.set()
            why = "the session stopped before the command ran; nothing was sent"
            if isinstance(cmd, _FinishBracket):  # its parent is at IB, held (transmit=False): withdraw it
                why = "the session stopped before the bracket's children were sent; its parent was cancelled"
                for trade in self.ib.trades() if self.ib.isConnected() else ():
                    if trade.order.orderId == cmd.legs[0].order_id:
                        self.ib.cancelOrder(trade.order)
            if future is not None and not future.done():
                future.set_result(Submission((), why))
        if self._cancel_on_stop and self.ib.isConnected():
            await self._cancel_risk_adding()  # entries go; the stop and take-profit of a held position stay
            await asyncio.sleep(0.2)
        self._close_protection_watch()
        if self.ib.isConnected():
            self.ib.disconnect()
        self.journal.close()
        self.snapshots.close()
        self.store.close()

    async def _command_loop(self) -> None:
        while True:
            self._commands_idle = True
            try:
                cmd, future, self._handoff = await self._commands.get()
            finally:
                self._commands_idle = False
            result = Submission((), "the session stopped while the command ran; check the journal")
            try:
                if isinstance(cmd, _FinishBracket):
                    result = await self._finish_bracket(cmd.command, await self._contract(cmd.command.ticker), cmd.legs)
                elif isinstance(cmd, (PlaceBracket, PlaceOrder)) and self._holds_entry(cmd):
                    self._hold_entry(cmd, future)  # the held entry answers its future itself
                    future = None
                elif isinstance(cmd, PlaceBracket):
                    result = await self._place_bracket(cmd)
                elif isinstance(cmd, PlaceOrder):
                    result = await self._place_order(cmd)
                elif isinstance(cmd, Cancel):
                    await self._cancel(cmd)
                elif isinstance(cmd, Flatten):
                    await self._flatten(cmd)
                elif isinstance(cmd, Refresh):
                    if cmd.what == "reconcile" and self.ib.isConnected():
                        await self._sync_with_retry("refresh")
                    elif self.ib.isConnected():
                        self._publish_snapshot()
                elif isinstance(cmd, RequestHistory):
                    await self._history(cmd)
                if not isinstance(cmd, (PlaceBracket, PlaceOrder, _FinishBracket)):
                    result = Submission()
            except Exception as exc:  # noqa: BLE001 - one bad command must not end the session
                self._command_failed(cmd, exc, future)
            finally:
                self._hand_off()
                if future is not None and not future.done():
                    future.set_result(result)

    def _command_failed(self, cmd: Any, exc: Exception, future: concurrent.futures.Future[Submission] | None) -> None:
        if isinstance(exc, NotSentError):  # expected (a ticker IB does not know ...): one line, no traceback
            log.warning("command %s failed: %s", type(cmd).__name__, exc)
        else:
            log.exception("command %r failed", cmd)
        self._emit(SessionError(0, f"command {type(cmd).__name__} failed: {exc}"))
        if future is not None and not future.done():
            future.set_result(Submission((), f"failed: {exc}"))

    def _hand_off(self) -> None:
        """Tell a caller waiting in ``IBSession.submit(..., handoff_timeout_secs=...)`` that its command reached ib_async."""
        handoff, self._handoff = self._handoff, None
        if handoff is not None:
            handoff.set()

    def _emit(self, event: Any) -> None:
        self.outbox.publish_event(event)

    def _set_state(self, state: SessionState, reason: str) -> None:
        if state is self._state:
            return
        old, self._state = self._state, state
        log.info("session %s -> %s: %s", old, state, reason)
        self._emit(SessionStateChanged(old, state, reason))  # first: whoever sees the new state finds its event
        self.outbox.publish_state(state)
        self.snapshots.state(old, state, reason, self._account)
