"""``Outbox``: what the ``spine-ib`` thread publishes, read by callers on any other thread.

The IB worker writes to it (``publish_*``, on the IB thread only); ``IBSession`` reads it
for its callers (events, the state, the account snapshot, quotes, working entries, indices
IB has not got). Every value is frozen or replaced whole, never mutated in place, so a
reader on another thread sees one consistent value without a lock; the state alone has a
condition, so a caller can wait for it.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from spine.ib.records import AccountSnapshot, Event, ExternalPositions, Quote, SessionState


@dataclass(frozen=True, slots=True)
class ConnectFailure:
    """Why the last connect attempt failed, in words naming host, port and client id.

    ``final``: the session gave up (HALTED, e.g. a client id still in use after its retries, or
    an account this login does not manage); otherwise it keeps retrying with back-off.
    """

    message: str
    final: bool = False


class Outbox:
    """The IB thread's one way out: frozen events in a queue and the latest published snapshots."""

    def __init__(self) -> None:
        self._events: queue.Queue[Event] = queue.Queue()
        self._state = SessionState.DISCONNECTED
        self._state_changed = threading.Condition()
        self._snapshot: AccountSnapshot | None = None
        self._quotes: dict[str, Quote] = {}
        self._working: dict[str, float] = {}
        self._missing_indices: frozenset[str] = frozenset()
        self._external: ExternalPositions | None = None
        self._unprotected: dict[str, tuple[float, float, int]] = {}
        self._connect_failure: ConnectFailure | None = None

    # --- written on the IB thread ---------------------------------------------------------

    def publish_event(self, event: Event) -> None:
        self._events.put(event)

    def publish_state(self, state: SessionState) -> None:
        with self._state_changed:
            self._state = state
            self._state_changed.notify_all()

    def publish_snapshot(self, snapshot: AccountSnapshot) -> None:
        self._snapshot = snapshot

    def publish_working(self, working: dict[str, float]) -> None:
        self._working = working  # replaced whole, never mutated: readers see one consistent dict

    def publish_external(self, external: ExternalPositions) -> None:
        self._external = external

    def publish_unprotected(self, totals: dict[str, tuple[float, float, int]]) -> None:
        self._unprotected = totals  # replaced whole, never mutated

    def publish_connect_failure(self, failure: ConnectFailure | None) -> None:
        """The last connect attempt's failure; None once a connection is made."""
        self._connect_failure = failure

    def publish_missing_index(self, symbol: str) -> None:
        self._missing_indices = self._missing_indices | {symbol}

    def publish_quote(self, quote: Quote) -> None:
        self._quotes[quote.ticker] = quote

    # --- read on any thread -----------------------------------------------------------------

    def take_events(self, max_items: int | None = None) -> list[Event]:
        """Every event published since the last take (at most ``max_items``), oldest first; never blocks."""
        out: list[Event] = []
        while max_items is None or len(out) < max_items:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                break
        return out

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds; None when none came."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    @property
    def state(self) -> SessionState:
        return self._state

    def wait_for_state(self, *states: SessionState, timeout: float) -> bool:
        """Block the caller until the state is one of ``states``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._state_changed:
            while self._state not in states:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state_changed.wait(left)
        return True

    @property
    def snapshot(self) -> AccountSnapshot | None:
        return self._snapshot

    def quote(self, ticker: str) -> Quote | None:
        return self._quotes.get(ticker)

    def index_missing(self, symbol: str) -> bool:
        return symbol in self._missing_indices

    def working_entries(self) -> dict[str, float]:
        return dict(self._working)

    @property
    def external(self) -> ExternalPositions | None:
        return self._external

    def unprotected(self) -> dict[str, tuple[float, float, int]]:
        return dict(self._unprotected)

    @property
    def connect_failure(self) -> ConnectFailure | None:
        return self._connect_failure


__all__ = ["ConnectFailure", "Outbox"]
