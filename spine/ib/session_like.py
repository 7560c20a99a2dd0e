"""``IBSessionLike``: what the broker, the feeds and the drivers may ask of an IB session.

``IBSession`` (the ``spine-ib`` thread) implements it, and so does ``spine.feeds.live.BarPump``,
which stands between the session and ``IBBroker`` on the paper and rehearse routes. A
test may pass any object with these members (a record queue), never a mock of ib_async.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from spine.ib.records import AccountSnapshot, Command


@runtime_checkable
class IBSessionLike(Protocol):
    """Commands in (``submit``), events out (``poll_events``), the last account snapshot."""

    def submit(self, command: Command, **options: Any) -> Any:
        """Hand a command to the IB thread; returns a future of its ``Submission``."""
        ...

    def poll_events(self) -> list[Any]:
        """Every event since the last call, in arrival order (never blocks)."""
        ...

    def account_snapshot(self) -> AccountSnapshot | None:
        """The latest account values and positions, or None before the first one."""
        ...


__all__ = ["IBSessionLike"]
