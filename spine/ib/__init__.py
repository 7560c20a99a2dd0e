"""The IB paper route's IB side: one ``spine-ib`` thread owning ib_async, and the seed's API over it.

    account_monitor  ``AccountMonitor``: the seed's account API over a session or any provider
    ack_watch        worker mixin: the acknowledgement timeout (lost legs and exits sent again), unprotected time
    bracket          native bracket legs from a ``PlaceBracket``, prices on the contract's tick (pure)
    codes            IB's error and notice codes (``ErrorCode``) and the sets that say how Spine reacts
    connection       worker mixin: connect with back-off, 326, account and port checks, 1100/1101/1102, heartbeat
    fill_assembler   ``FillAssembler``: execDetails paired with commissionReport by execId, once (pure)
    halt             the reconcile halt as ``spine resume`` reads and clears it in the journal
    journal          the SQLite journal in the state folder, written by the IB thread only
    journal_check    a damaged journal (garbage, empty, cut short, failing quick_check) refused with one line
    kill_guard       worker mixin: the manual kill from the state database, the halt and its resume
    market_data      worker mixin: contract details, quote lines, bars behind the pacer, account snapshots
    order_dispatcher ``OrderDispatcher``: the seed's order API, through the risk gate
    order_repr       ``Order``: ib_async's order with the same repr, made from a field list read once
    outbox           ``Outbox``: what the IB thread publishes (events, state, snapshots), read on any thread
    pacer            historical-data pacing (IB's 60 / 10 min, 15 s identical, 6 / contract / 2 s)
    reconcile        reconcile-before-trade, the pure half: IB's view against the journal's
    records          frozen commands and events that cross threads
    routing          worker mixin: brackets, single orders, cancels, flatten; statuses, order errors, fills
    session          ``IBSession``: the thread, its loop, submit / poll_events / state
    session_like     ``IBSessionLike``: what the broker, the feeds and the drivers may ask of a session
    settings         ``SessionSettings`` (frozen pydantic)
    snapshots        ``SnapshotRecorder``: connection state, pulse and account snapshots in the journal, for watchers
    syncing          worker mixin: reconcile-before-trade after every connect and reconnect
    trade_index      ``TradeIndex``: ib_async's trades by intent and by order id (the resend check's and a cancel's index)
    translation      IB and Backtrader statuses and order types, the orderRef format (pure)
    worker           ``IBWorker`` on the IB thread, one mixin per job, publishing to the session's outbox

The exceptions the IB side raises live in the one tree in ``spine.core.errors`` and are
re-exported here.
"""

from spine.core.errors import (
    AccountUnavailable,
    ClientIdInUse,
    ConnectFailed,
    FetchFailed,
    OrderRefError,
    Refused,
    SessionNotRunning,
)
from spine.ib.account_monitor import AccountMonitor
from spine.ib.order_dispatcher import OrderDispatcher
from spine.ib.records import SessionState
from spine.ib.session import IBSession
from spine.ib.settings import SessionSettings

__all__ = [
    "AccountMonitor",
    "AccountUnavailable",
    "ClientIdInUse",
    "ConnectFailed",
    "FetchFailed",
    "IBSession",
    "OrderDispatcher",
    "OrderRefError",
    "Refused",
    "SessionNotRunning",
    "SessionSettings",
    "SessionState",
]
