"""``IBSession``: the one ``spine-ib`` thread that owns the asyncio loop and the one ``ib_async.IB``.

The one rule: ib_async is not thread-safe, so every ib_async call happens on this
thread, through its async API, and nothing on this thread blocks the loop. Callers on any
other thread (Backtrader's main thread, the CLI) talk to it only through frozen records
(``spine.ib.records``): ``submit(command)`` queues a command, ``poll_events()`` /
``next_event()`` drain the events it produced. ``state``, ``account_snapshot()`` and
``get_account_info()`` read immutable snapshots the thread publishes to the session's
``Outbox`` (``spine.ib.outbox``), so they never touch ib_async either.

The IB object is built by ``ib_factory`` *on the thread* (the default is ``ib_async.IB``),
so its event loop and callbacks belong to the thread; tests pass a factory that returns
an instrumented ``IB`` to check that rule. The connection, reconcile-before-trade, order
routing, account refreshes, heartbeat, pacing and journal writes live in
``spine.ib.worker.IBWorker``, which runs inside this thread's loop and is handed the
session's ``Outbox``, its only way out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from spine.core.errors import SessionNotRunning
from spine.ib.outbox import ConnectFailure, Outbox
from spine.ib.records import (
    AccountSnapshot,
    Command,
    Event,
    ExternalPositions,
    Quote,
    SessionState,
    Submission,
)
from spine.ib.settings import SessionSettings

if TYPE_CHECKING:
    from ib_async import IB

THREAD_NAME = "spine-ib"


class IBSession:
    """The IB side of a paper session; start it, submit commands, poll events, stop it."""

    def __init__(
        self,
        settings: SessionSettings,
        *,
        ib_factory: Callable[[], IB] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._ib_factory = ib_factory
        self._clock = clock
        self._outbox = Outbox()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker = None  # spine.ib.worker.IBWorker, built on the thread
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._failure: BaseException | None = None

    # --- lifecycle (any thread) -----------------------------------------------------

    def start(self) -> IBSession:
        """Start the ``spine-ib`` thread; it connects and reconciles on its own. Returns self."""
        if self._thread is not None:
            raise RuntimeError("IBSession.start() was already called")
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        if self._failure is not None:
            raise self._failure
        return self

    def stop(self, *, cancel_working: bool = False, timeout: float = 10.0) -> None:
        """Disconnect and end the thread; working orders stay at IB unless ``cancel_working``.

        ``cancel_working`` cancels what adds risk (entries, the legs of an unfilled entry); the
        stop and take-profit of a held position stay working.
        """
        loop, worker = self._loop, self._worker
        if loop is not None and worker is not None and not self._stopped.is_set():
            loop.call_soon_threadsafe(worker.request_stop, cancel_working)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- commands and events (any thread) ----------------------------------------------

    def submit(self, command: Command, *, handoff_timeout_secs: float = 0.0) -> concurrent.futures.Future[Submission]:
        """Queue a command for the IB thread. Raises ``SessionNotRunning`` if stopped.

        The returned future resolves (on the IB thread) to a ``Submission``: the IB order ids
        placed, or the reason nothing was. Callers that only need events may ignore it.

        With ``handoff_timeout_secs`` > 0 the caller waits, at most that long, until the IB
        thread has handed the command's first order to ib_async (or finished a command that
        places none). Waiting releases the GIL: a caller that would otherwise go straight on
        running Python (Backtrader's thread after ``next()``) no longer makes the IB thread
        wait for its switch interval (5 ms) before it can place. The IB loop never waits.
        """
        loop, worker = self._loop, self._worker
        if loop is None or worker is None or self._stopped.is_set() or loop.is_closed():
            raise SessionNotRunning("the IB session is not running; the command was not sent")
        future: concurrent.futures.Future[Submission] = concurrent.futures.Future()
        handoff = threading.Event() if handoff_timeout_secs > 0 else None
        loop.call_soon_threadsafe(worker.enqueue, command, future, handoff)
        if handoff is not None:
            handoff.wait(handoff_timeout_secs)
        return future

    def poll_events(self, max_items: int | None = None) -> list[Event]:
        """Every event produced since the last poll (at most ``max_items``), oldest first; never blocks."""
        return self._outbox.take_events(max_items)

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds; None when none came."""
        return self._outbox.next_event(timeout)

    # --- published snapshots (any thread) ---------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._outbox.state

    def wait_for_state(self, *states: SessionState, timeout: float = 10.0) -> bool:
        """Block the *caller* until the session is in one of ``states``; False on timeout."""
        return self._outbox.wait_for_state(*states, timeout=timeout)

    def account_snapshot(self) -> AccountSnapshot | None:
        """The latest account values and positions (None before the first one arrived)."""
        return self._outbox.snapshot

    def last_quote(self, ticker: str) -> Quote | None:
        """The latest quote line for ``ticker`` (None before one arrived); check its ``at`` for staleness."""
        return self._outbox.quote(ticker.strip().upper())

    def index_missing(self, symbol: str) -> bool:
        """True once IB answered that it has no such index (e.g. the VIX): no quote for it will come."""
        return self._outbox.index_missing(symbol.strip().upper())

    def working_entries(self) -> dict[str, float]:
        """Signed shares of our working (unfilled) entry orders per ticker; the gate counts them as exposure."""
        return self._outbox.working_entries()

    def external_positions(self) -> ExternalPositions | None:
        """Positions IB holds that Spine did not open (ticker, size, average cost), as of the last reconcile.

        None before the first reconcile. Under ``trading.ib.external_positions: refuse``
        (``.refused``) the session refuses every order in their tickers.
        """
        return self._outbox.external

    def unprotected(self) -> dict[str, tuple[float, float, int]]:
        """Per ticker: (total seconds, longest episode in seconds, episodes) a position of Spine's spent
        without a working stop acknowledged by IB, this session (ongoing episodes included)."""
        return self._outbox.unprotected()

    def connect_failure(self) -> ConnectFailure | None:
        """Why the last connect attempt failed, naming host, port and client id; None once connected.

        ``final`` when the session gave up (it is HALTED); otherwise it is still retrying with back-off.
        """
        return self._outbox.connect_failure

    def get_account_info(self) -> dict:
        """The seed's provider API: ``{"margin_info": {...}, "positions": [...]}`` of the latest snapshot.

        Raises ``ConnectionError`` when there is no snapshot yet: an empty answer must never
        be read as a flat account.
        """
        snapshot = self._outbox.snapshot
        if snapshot is None:
            raise ConnectionError("no account snapshot from IB yet (not connected or not reconciled)")
        return snapshot.as_account_info()

    def snapshot_age_secs(self) -> float | None:
        snapshot = self._outbox.snapshot
        if snapshot is None:
            return None
        return max(0.0, self._clock() - snapshot.at.timestamp())

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # before ib_async is imported: eventkit reads the thread's loop at import
        self._loop = loop
        try:
            from spine.ib.worker import (
                IBWorker,  # the worker imports ib_async; keep it off callers' import path
            )

            factory = self._ib_factory
            if factory is None:
                from ib_async import IB

                factory = IB
            self._worker = IBWorker(self.settings, factory(), self._outbox, clock=self._clock)
        except BaseException as exc:  # noqa: BLE001 - surfaced to start() on the caller's thread
            self._failure = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_until_complete(self._worker.run())
        finally:
            self._stopped.set()
            last = self._outbox.state
            self._outbox.publish_state(SessionState.DISCONNECTED if last is not SessionState.HALTED else last)
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()


__all__ = ["THREAD_NAME", "IBSession", "SessionNotRunning"]
