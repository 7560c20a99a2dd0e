"""The frozen records that cross between Backtrader's thread and the ``spine-ib`` thread.

The one rule: ib_async lives on the ``spine-ib`` thread only. Nothing else crosses the
thread boundary but these records: *commands* go from the caller to the session
(``IBSession.submit``), *events* come back (``IBSession.poll_events``). Every record is a
frozen, slotted dataclass holding only immutable values (tuples, strings, numbers,
aware datetimes), so sharing one between threads can never race.

Commands: ``PlaceBracket``, ``PlaceOrder``, ``Cancel``, ``Flatten``, ``Refresh``,
``RequestHistory``.
Events: ``OrderSubmitted``, ``OrderStatus``, ``Fill``, ``Bar``, ``Quote``,
``AccountSnapshot``, ``SessionStateChanged``, ``SessionError``, ``ExternalPositions``,
``Unprotected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Literal

Side = Literal["BUY", "SELL"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionState(StrEnum):
    """Where the connection stands; only ACTIVE sends orders that add risk.

    DISCONNECTED: no socket. CONNECTING: socket and handshake under way. SYNCING:
    reconcile-before-trade running (a fetch timeout keeps it here). ACTIVE: reconciled,
    trading. DEGRADED: IB lost its own connection (1100): no new risk, cancels and
    protective legs still go. HALTED: reconcile found something unexplained, or the client
    id is taken for good: no new risk until the operator runs ``spine resume``.
    """

    DISCONNECTED = "DISCONNECTED"
    CONNECTING = "CONNECTING"
    SYNCING = "SYNCING"
    ACTIVE = "ACTIVE"
    DEGRADED = "DEGRADED"
    HALTED = "HALTED"


# --- commands (caller -> spine-ib) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceBracket:
    """A native IB bracket: entry parent, take-profit child, stop child, one OCA group.

    ``take_profit_price`` None (``strategy.take_profit_atr: null``) sends the entry parent
    and the stop child only; the stop is never optional.

    ``entry_type`` is "MKT" or "LMT" (then ``limit_price`` is required). Prices are
    rounded to the contract's minimum tick on the IB thread. ``intent_id`` names the
    decision; every leg's orderRef is ``<tag>:<intent_id>:<role>:<attempt>``.
    """

    intent_id: str
    ticker: str
    side: Side
    quantity: int
    stop_price: float
    take_profit_price: float | None
    tag: str
    entry_type: str = "MKT"
    limit_price: float | None = None
    attempt: int = 1
    adds_risk: bool = True


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """One order on its own (an exit, a restored stop, a flatten leg).

    ``order_type`` is an IB type ("MKT", "LMT", "STP", "STP LMT"); ``price`` is the limit
    or stop price, ``aux_price`` the stop trigger of a stop-limit. ``adds_risk`` False
    lets it through while the session is DEGRADED or HALTED.
    """

    intent_id: str
    ticker: str
    side: Side
    quantity: int
    order_type: str
    tag: str
    role: str = "exit"
    price: float | None = None
    aux_price: float | None = None
    attempt: int = 1
    adds_risk: bool = False
    oca_group: str = ""


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel one order by IB order id, or every working leg of an intent when ``order_id`` is None."""

    order_id: int | None = None
    intent_id: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Flatten:
    """Cancel working orders and close positions (all tickers when ``tickers`` is empty)."""

    reason: str
    tickers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Refresh:
    """Ask for fresh data now: "account" (values and positions) or "reconcile" (a full reconcile)."""

    what: Literal["account", "reconcile"] = "account"


@dataclass(frozen=True, slots=True)
class RequestHistory:
    """Daily bars from ``reqHistoricalData`` (regular hours), paced; each comes back as a ``Bar`` event.

    ``end`` is IB's endDateTime ('' means now); ``warmup`` marks the bars as warm-up, which
    can fill indicators but never produce orders. ``keep_up_to_date`` keeps each ticker's
    request open (keepUpToDate): every bar IB then pushes comes back as a ``Bar`` event too.
    """

    tickers: tuple[str, ...]
    duration: str = "1 Y"
    bar_size: str = "1 day"
    end: str = ""
    warmup: bool = True
    keep_up_to_date: bool = False


Command = PlaceBracket | PlaceOrder | Cancel | Flatten | Refresh | RequestHistory


@dataclass(frozen=True, slots=True)
class Submission:
    """What ``IBSession.submit`` 's future resolves to: the IB order ids placed, or why none were."""

    order_ids: tuple[int, ...] = ()
    refused: str = ""

    @property
    def placed(self) -> bool:
        return bool(self.order_ids) and not self.refused


# --- events (spine-ib -> caller) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderSubmitted:
    """An order was journaled and handed to ib_async (one per leg)."""

    order_id: int
    order_ref: str
    intent_id: str
    role: str
    ticker: str
    side: Side
    quantity: float
    order_type: str
    price: float | None
    aux_price: float | None
    parent_id: int = 0
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """A status change of one IB order, already translated to a Backtrader state.

    ``bt_status`` is one of Submitted, Accepted, Partial, Completed, Canceled, Rejected,
    Margin, Expired (``spine.ib.translation``); ``ib_status`` and ``error_code`` are IB's
    raw words, kept for the record. ``reason`` is set for refusals and cancels.
    ``resent_as`` is set on the ``Lost`` status of a stop, take-profit or exit IB never
    acknowledged when the acknowledgement watch sends it again: the orderRef of the next
    attempt, which stands for the same order (its statuses and fills are that order's).
    """

    order_id: int
    perm_id: int
    order_ref: str
    bt_status: str
    ib_status: str
    filled: float
    remaining: float
    avg_fill_price: float
    reason: str = ""
    error_code: int = 0
    at: datetime = field(default_factory=utc_now)
    resent_as: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution, paired with its commission report by execId; emitted exactly once."""

    exec_id: str
    order_id: int
    perm_id: int
    order_ref: str
    ticker: str
    side: Side
    shares: float
    price: float
    commission: float
    at: datetime
    cum_qty: float = 0.0
    missed: bool = False  # found by a reconcile, not seen live


@dataclass(frozen=True, slots=True)
class Bar:
    """One final daily bar; ``warmup`` bars fill indicators and can never produce orders."""

    ticker: str
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float
    warmup: bool = False


@dataclass(frozen=True, slots=True)
class Quote:
    ticker: str
    bid: float | None
    ask: float | None
    last: float | None
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class PositionRecord:
    symbol: str
    position: float
    avg_cost: float
    market_value: float | None = None


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Account values (tag -> value, numbers only) and positions, as of ``at``."""

    account: str
    values: tuple[tuple[str, float], ...]
    positions: tuple[PositionRecord, ...]
    at: datetime = field(default_factory=utc_now)

    def value(self, tag: str) -> float | None:
        for key, number in self.values:
            if key == tag:
                return number
        return None

    def as_account_info(self) -> dict:
        """The seed's ``get_account_info()`` shape: ``{"margin_info": {...}, "positions": [...]}``."""
        return {
            "margin_info": dict(self.values),
            "positions": [
                {"symbol": p.symbol, "position": p.position, "avgCost": p.avg_cost, "market_value": p.market_value}
                for p in self.positions
            ],
        }


@dataclass(frozen=True, slots=True)
class SessionStateChanged:
    old: SessionState
    new: SessionState
    reason: str
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class SessionError:
    """An IB error or a session problem the caller should record (``code`` 0 for our own)."""

    code: int
    message: str
    req_id: int = -1
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class ExternalPositions:
    """Positions IB holds that Spine did not open (its journal explains none of them), after a reconcile.

    They are left alone: never protected, never closed by Spine, outside Spine's own book
    (the account's NAV still counts them). ``refused`` is True under
    ``trading.ib.external_positions: refuse``: the session refuses every order in their tickers.
    """

    positions: tuple[PositionRecord, ...]
    refused: bool
    at: datetime = field(default_factory=utc_now)

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(p.symbol for p in self.positions)

    def describe(self) -> str:
        """One line naming each: ticker, size and average cost."""
        return ", ".join(f"{p.symbol} {p.position:g} @ avg cost {p.avg_cost:.2f}" for p in self.positions)


@dataclass(frozen=True, slots=True)
class Unprotected:
    """A position of Spine's that spent ``seconds`` without a working stop IB acknowledged for its full size.

    Sent when the episode ends (a stop works again, or the position closed); ``ended`` is False
    for an episode still running when the session stopped.
    """

    ticker: str
    position: float
    seconds: float
    since: datetime
    ended: bool = True
    at: datetime = field(default_factory=utc_now)


Event = (
    OrderSubmitted
    | OrderStatus
    | Fill
    | Bar
    | Quote
    | AccountSnapshot
    | SessionStateChanged
    | SessionError
    | ExternalPositions
    | Unprotected
)
