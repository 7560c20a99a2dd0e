"""The ``spine-ib`` worker's exceptions, named by the reaction they need.

    ConnectFailed     one connect attempt failed: retried with back-off (tenacity)
    └── ClientIdInUse IB answered 326: retried with the same client id, then HALTED
    FetchFailed       a reconcile fetch timed out or failed: stay SYNCING and retry, never "nothing there"
    Refused           the account or port is not a paper one: HALTED, never retried
"""

from __future__ import annotations


class ConnectFailed(ConnectionError):
    """One connect attempt failed; tenacity retries it with back-off."""


class ClientIdInUse(ConnectFailed):
    """IB answered 326: another connection holds our client id."""


class FetchFailed(RuntimeError):
    """A reconcile fetch timed out or failed: stay SYNCING and retry, never read it as 'nothing there'."""


class Refused(RuntimeError):
    """The account or port is not a paper one: HALTED, never retried."""
