"""``wait_active``: a session that cannot connect says what failed, naming host, port and client id.

A failure the session gives up on (a client id in use after its retries, an account this login
does not manage) ends the wait at once; one still retrying (a closed port, no answer) ends it at
the timeout with the last attempt's words. Real loopback sockets, the unmodified ``ib_async.IB``
inside ``IBSession`` and the gateway simulator (``GatewayThread``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spine.core.errors import BrokerError, SafetyError
from spine.ib import IBSession, SessionSettings, SessionState
from spine.routes.session import wait_active

ROWS = [(f"2020-01-{d:02d}", 100.0 + d, 101.0 + d, 99.0 + d, 100.5 + d) for d in (2, 3, 6, 7, 8, 9, 10)]


@pytest.fixture
def price_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "prices"
    folder.mkdir()
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"] + [
        f"{d},{o},{h},{lo},{c},{c},1000000" for d, o, h, lo, c in ROWS
    ]
    (folder / "abc.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def sessions() -> Iterator[list[IBSession]]:
    started: list[IBSession] = []
    yield started
    for session in started:
        session.stop()


def _start(sessions: list[IBSession], state_dir: Path, port: int, **overrides: object) -> IBSession:
    options: dict[str, object] = {"port": port, "client_id": 7, "state_dir": state_dir, "tickers": ("ABC",),
                                  "backoff_initial_secs": 0.05, "backoff_max_secs": 0.5, "connect_timeout_secs": 0.5}  # fmt: skip
    options.update(overrides)
    session = IBSession(SessionSettings(**options)).start()  # type: ignore[arg-type]
    sessions.append(session)
    return session


def _refusal(session: IBSession, timeout: float) -> tuple[Exception, float]:
    started = time.monotonic()
    with pytest.raises((BrokerError, SafetyError)) as raised:
        wait_active(session, timeout)
    return raised.value, time.monotonic() - started


def test_a_closed_port_ends_the_wait_at_the_timeout_with_connection_refused(sessions, tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    error, took = _refusal(_start(sessions, tmp_path / "state", port), 2.0)
    assert isinstance(error, BrokerError)
    assert f"connection refused at 127.0.0.1:{port} (client id 7)" in str(error)
    assert took < 3.0


def test_a_listener_that_never_answers_ends_the_wait_at_the_timeout_with_no_answer(sessions, tmp_path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = int(server.getsockname()[1])
        error, took = _refusal(_start(sessions, tmp_path / "state", port), 2.0)
    assert isinstance(error, BrokerError)
    assert f"no answer from 127.0.0.1:{port} (client id 7) within 0.5 s" in str(error)
    assert took < 3.0


def test_a_client_id_in_use_ends_the_wait_as_soon_as_its_retries_are_spent(sessions, start_gateway, tmp_path) -> None:
    gateway = start_gateway()
    holder = _start(sessions, tmp_path / "holder", gateway.port)
    assert holder.wait_for_state(SessionState.ACTIVE, timeout=10)
    error, took = _refusal(_start(sessions, tmp_path / "other", gateway.port, client_id_max_attempts=2), 30.0)
    assert isinstance(error, SafetyError)
    assert f"client id 7 is in use at 127.0.0.1:{gateway.port} after 2 attempts" in str(error)
    assert took < 10.0


def test_an_account_this_login_does_not_manage_ends_the_wait_at_once(sessions, start_gateway, tmp_path) -> None:
    gateway = start_gateway()
    session = _start(sessions, tmp_path / "state", gateway.port, paper_account="DU9999999")
    error, took = _refusal(session, 30.0)
    assert isinstance(error, SafetyError)
    assert f"account DU9999999 is not managed by this login at 127.0.0.1:{gateway.port} (client id 7)" in str(error)
    assert took < 5.0
