"""Connection failures the operator can act on: each connect attempt's failure is published, naming
host, port and client id, within the connect timeout.

Everything is real: loopback sockets, the unmodified ``ib_async.IB`` inside ``IBSession``, and the
gateway simulator (``GatewayThread``) where a gateway answers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spine.ib import IBSession, SessionSettings, SessionState
from spine.ib.outbox import ConnectFailure


def _closed_port() -> int:
    with socket.socket() as probe:  # bound, then closed: nobody listens on it
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


def _session(state_dir: Path, port: int, **overrides: object) -> IBSession:
    options: dict[str, object] = {"port": port, "client_id": 7, "state_dir": state_dir, "tickers": ("ABC",),
                                  "backoff_initial_secs": 0.05, "backoff_max_secs": 0.5, "connect_timeout_secs": 1.0}  # fmt: skip
    options.update(overrides)
    return IBSession(SessionSettings(**options)).start()  # type: ignore[arg-type]


def _failure(session: IBSession, timeout: float) -> tuple[ConnectFailure, float]:
    """The first published connect failure and the seconds it took."""
    started = time.monotonic()
    while (failure := session.connect_failure()) is None:
        assert time.monotonic() - started < timeout, f"no connect failure within {timeout} s; state {session.state}"
        time.sleep(0.02)
    return failure, time.monotonic() - started


def test_a_closed_port_is_reported_as_refused_naming_host_port_and_client_id(tmp_path) -> None:
    port = _closed_port()
    session = _session(tmp_path / "state", port)
    try:
        failure, took = _failure(session, timeout=5.0)
        assert "connection refused at 127.0.0.1:" in failure.message
        assert f"127.0.0.1:{port} (client id 7)" in failure.message
        assert not failure.final and took < 1.0
    finally:
        session.stop()


def test_a_listener_that_never_answers_is_reported_as_no_answer_within_the_connect_timeout(
    tmp_path, silent_listener
) -> None:
    session = _session(tmp_path / "state", silent_listener, connect_timeout_secs=0.5)
    try:
        failure, took = _failure(session, timeout=5.0)
        assert f"no answer from 127.0.0.1:{silent_listener} (client id 7) within 0.5 s" in failure.message
        assert not failure.final and took < 1.5
    finally:
        session.stop()


def test_a_client_id_in_use_is_final_after_its_retries_naming_host_port_and_client_id(start_gateway, tmp_path) -> None:
    gateway = start_gateway()
    holder = _session(tmp_path / "holder", gateway.port)
    other = None
    try:
        assert holder.wait_for_state(SessionState.ACTIVE, timeout=10)
        other = _session(tmp_path / "other", gateway.port, client_id_max_attempts=2)
        assert other.wait_for_state(SessionState.HALTED, timeout=15)
        failure = other.connect_failure()
        assert failure is not None and failure.final
        assert f"client id 7 is in use at 127.0.0.1:{gateway.port} after 2 attempts" in failure.message
        assert holder.state is SessionState.ACTIVE
    finally:
        if other is not None:
            other.stop()
        holder.stop()


def test_an_account_this_login_does_not_manage_is_final_naming_the_accounts(start_gateway, tmp_path) -> None:
    gateway = start_gateway()
    session = _session(tmp_path / "state", gateway.port, paper_account="DU9999999")
    try:
        assert session.wait_for_state(SessionState.HALTED, timeout=10)
        failure = session.connect_failure()
        assert failure is not None and failure.final
        assert f"account DU9999999 is not managed by this login at 127.0.0.1:{gateway.port} (client id 7)" in (
            failure.message
        )
        assert "DU0000001" in failure.message
    finally:
        session.stop()


def test_a_connection_made_clears_the_last_failure(start_gateway, tmp_path) -> None:
    gateway = start_gateway()
    session = _session(tmp_path / "state", gateway.port)
    try:
        assert session.wait_for_state(SessionState.ACTIVE, timeout=10)
        assert session.connect_failure() is None
    finally:
        session.stop()


@pytest.fixture
def old_server() -> Iterator[int]:
    """A port that answers the API handshake with server version 100, older than any client supports."""
    import struct
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)  # "API\0" and the version range
                body = b"100\x0020261207 04:00:00 UTC\x00"
                conn.sendall(struct.pack(">I", len(body)) + body)
                stop.wait(2.0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_a_server_version_too_old_is_reported_as_the_wrong_version(tmp_path, old_server) -> None:
    session = _session(tmp_path / "state", old_server, connect_timeout_secs=0.5)
    try:
        failure, took = _failure(session, timeout=5.0)
        assert f"127.0.0.1:{old_server} (client id 7) speaks a server version" in failure.message
        assert "version must be" in failure.message
        assert not failure.final and took < 1.5
    finally:
        session.stop()
