"""``RequestHandlers.intercept``: one message id answered otherwise, and undone, over a real connection."""

from __future__ import annotations

import datetime as dt

from spine.gateway import messages as msg
from spine.gateway.protocol import InMsg

EPOCH_2001 = 978_307_200  # 2001-01-01 00:00:00 UTC


def _answer_time(stamp: int):  # type: ignore[no-untyped-def]
    def answer(session, fields):  # type: ignore[no-untyped-def]
        session.send(msg.current_time(stamp))

    return answer


def test_an_intercepted_request_is_answered_by_the_interceptor(gateway, ib) -> None:
    handlers = gateway.simulator.handlers
    gateway.call(lambda: handlers.intercept(InMsg.REQ_CURRENT_TIME, _answer_time(EPOCH_2001)))
    assert ib.reqCurrentTime() == dt.datetime(2001, 1, 1, tzinfo=dt.UTC)


def test_undoing_an_interception_restores_the_simulators_own_answer(gateway, ib) -> None:
    handlers = gateway.simulator.handlers
    undo = gateway.call(lambda: handlers.intercept(InMsg.REQ_CURRENT_TIME, _answer_time(EPOCH_2001)))
    gateway.call(undo)
    replay_now = gateway.call(lambda: gateway.simulator.market.now)
    assert ib.reqCurrentTime() == replay_now.astimezone(dt.UTC)


def test_undoing_the_earlier_of_two_interceptions_leaves_the_later_answering(gateway, ib) -> None:
    handlers = gateway.simulator.handlers
    undo_first = gateway.call(lambda: handlers.intercept(InMsg.REQ_CURRENT_TIME, _answer_time(EPOCH_2001)))
    gateway.call(lambda: handlers.intercept(InMsg.REQ_CURRENT_TIME, _answer_time(EPOCH_2001 + 86_400)))
    gateway.call(undo_first)
    assert ib.reqCurrentTime() == dt.datetime(2001, 1, 2, tzinfo=dt.UTC)


def test_a_message_id_the_simulator_does_not_answer_has_no_handler(gateway) -> None:
    assert gateway.call(lambda: gateway.simulator.handlers.handler_for(999)) is None
