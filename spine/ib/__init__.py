"""The IB paper route's IB side: one ``spine-ib`` thread owning ib_async, and the seed's pieces.

    records        frozen commands and events that cross threads
    settings       ``SessionSettings`` (frozen pydantic)
    session        ``IBSession``: the thread, its loop, submit / poll_events / state
    worker         ``IBWorker`` on that thread, one mixin per job: connection, syncing (reconcile),
                   kill_guard, routing (orders), market_data (quotes, bars, account); failures: its exceptions
    journal        the SQLite journal in the state folder
    order_ref      ``<TAG>:<intent id>:<role>:<attempt>``
    account_monitor  ``AccountMonitor`` (the seed's API)
    order_dispatcher ``OrderDispatcher`` (the seed's API, through the RiskGate)
    pacer          historical-data pacing (IB's 60 / 10 min, 15 s identical, 6 / contract / 2 s)
"""

from spine.ib.account_monitor import AccountMonitor
from spine.ib.order_dispatcher import OrderDispatcher
from spine.ib.records import SessionState
from spine.ib.session import IBSession, SessionNotRunning
from spine.ib.settings import SessionSettings

__all__ = ["AccountMonitor", "IBSession", "OrderDispatcher", "SessionNotRunning", "SessionSettings", "SessionState"]
