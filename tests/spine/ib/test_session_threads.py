"""The one rule: every ib_async call of a session, and of a 60-order burst, happens on ``spine-ib``.

The session builds its ``IB`` through ``ib_factory``; the factory here returns a real
``ib_async.IB`` whose public methods, and its client's, record the calling thread's
name. Nothing is faked: the calls still go to the real client over a real socket.
"""

from __future__ import annotations

import functools
import threading

from ib_async import IB

from spine.ib.records import Cancel, Fill, PlaceBracket, Refresh, RequestHistory
from spine.ib.session import THREAD_NAME


def recording_ib(calls: list[tuple[str, str]]) -> IB:
    ib = IB()
    for owner in (ib, ib.client):
        for name in dir(type(owner)):
            if name.startswith("_"):
                continue
            attr = getattr(owner, name, None)
            if not callable(attr) or isinstance(attr, type):
                continue

            def wrap(fn, label):  # type: ignore[no-untyped-def]
                @functools.wraps(fn)
                def recorded(*args, **kwargs):  # type: ignore[no-untyped-def]
                    calls.append((label, threading.current_thread().name))
                    return fn(*args, **kwargs)

                return recorded

            try:
                setattr(owner, name, wrap(attr, f"{type(owner).__name__}.{name}"))
            except (AttributeError, TypeError):
                continue
    return ib


def test_every_ib_async_call_of_a_session_and_a_60_order_burst_is_on_the_ib_thread(gateway, open_session) -> None:
    calls: list[tuple[str, str]] = []
    built_on: list[str] = []

    def factory() -> IB:
        built_on.append(threading.current_thread().name)
        return recording_ib(calls)

    session, log = open_session(gateway, ib_factory=factory)
    order_ids = log.place(PlaceBracket(intent_id="t0", ticker="ABC", side="BUY", quantity=5, stop_price=90.0,
                                       take_profit_price=120.0, tag="LIVE_SPINE"))  # fmt: skip
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill")
    futures = [
        session.submit(PlaceBracket(intent_id=f"b{i}", ticker="XYZ", side="BUY", quantity=1, stop_price=15.0,
                                    take_profit_price=30.0, tag="LIVE_SPINE", entry_type="LMT", limit_price=10.0))
        for i in range(60)
    ]  # fmt: skip
    placed = [f.result(timeout=30) for f in futures]
    assert all(p.placed for p in placed)
    session.submit(Cancel(intent_id="b0"))
    session.submit(Refresh("account")).result(timeout=10)
    session.submit(Refresh("reconcile")).result(timeout=30)
    session.submit(RequestHistory(("ABC",), duration="5 D")).result(timeout=30)
    session.stop()
    assert built_on == [THREAD_NAME]
    names = {label for label, _ in calls}
    for expected in ("IB.connectAsync", "IB.placeOrder", "IB.reqAllOpenOrdersAsync", "IB.reqExecutionsAsync",
                     "IB.reqPositionsAsync", "IB.cancelOrder", "IB.reqHistoricalDataAsync", "Client.getReqId"):  # fmt: skip
        assert expected in names, f"{expected} was never called: the instrumentation missed it"
    off_thread = sorted({(label, thread) for label, thread in calls if thread != THREAD_NAME})
    assert off_thread == [], f"ib_async called off the IB thread: {off_thread}"
    assert len([1 for label, _ in calls if label == "IB.placeOrder"]) >= 3 + 180
    assert order_ids
