"""After the handshake, each connection has limits: frame size, frame completion time, startApi, idle time.

Raw sockets play the misbehaving clients; a real ib_async client shows the others go on.
The limits are set short (``ConnectionLimits``) so each case takes a fraction of a second.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest
from ib_async import MarketOrder, Stock

from spine.core.errors import InputError
from spine.gateway.limits import ConnectionLimits
from spine.gateway.protocol import encode_frame

SHORT = ConnectionLimits(
    max_frame_bytes=4096, frame_timeout_secs=0.3, start_api_timeout_secs=0.3, idle_timeout_secs=0.6
)


def handshaken(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    version = b"v157..178"
    sock.sendall(b"API\0" + struct.pack(">I", len(version)) + version)
    header = sock.recv(4)
    sock.recv(struct.unpack(">I", header)[0])
    return sock


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (reading and dropping whatever it sends); fails after ``seconds``."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {seconds} s")
    except ConnectionError:
        pass
    finally:
        sock.close()
    return time.monotonic() - started


def test_a_frame_announcing_more_than_the_limit_closes_that_connection_at_once(start_gateway):
    gateway = start_gateway(limits=ConnectionLimits(max_frame_bytes=4096, frame_timeout_secs=5.0))
    sock = handshaken(gateway.port)
    sock.sendall(struct.pack(">I", 16 * 1024 * 1024) + b"x" * 1000)  # a 16 MiB frame begun
    assert closed_within(sock, 4.0) < 2.0  # not waiting for the frame timeout: refused on its announced size


def test_a_frame_dripped_byte_by_byte_is_closed_after_the_frame_timeout(start_gateway):
    gateway = start_gateway(limits=SHORT)
    sock = handshaken(gateway.port)
    sock.sendall(encode_frame([71, 2, 9, ""]))  # startApi: a registered client
    sock.sendall(struct.pack(">I", 100) + b"1")
    assert 0.2 < closed_within(sock, 3.0) < 2.0


def test_a_connection_that_never_sends_start_api_is_closed(start_gateway):
    gateway = start_gateway(limits=SHORT)
    assert 0.2 < closed_within(handshaken(gateway.port), 3.0) < 2.0


def test_an_idle_registered_connection_is_closed_and_an_active_client_goes_on(start_gateway, connect, wait_until):
    gateway = start_gateway(limits=SHORT)
    ib = connect(gateway, 1)
    idle = handshaken(gateway.port)
    idle.sendall(encode_frame([71, 2, 9, ""]))
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # the real client keeps asking: it is never idle for 0.6 s
        ib.reqCurrentTime()
        ib.sleep(0.1)
    assert closed_within(idle, 0.1) < 0.1  # closed by now
    trade = ib.placeOrder(Stock("ABC", "SMART", "USD"), MarketOrder("BUY", 1))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
    assert ib.isConnected()


def test_the_default_limits_leave_a_session_s_heartbeat_far_inside_the_idle_timeout():
    limits = ConnectionLimits()
    assert limits.idle_timeout_secs >= 10 * 30.0 and limits.max_frame_bytes >= 64 * 1024


@pytest.mark.parametrize("field", ["frame_timeout_secs", "start_api_timeout_secs", "idle_timeout_secs"])
def test_limits_must_be_positive_and_finite(field):
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(InputError, match=field):
            ConnectionLimits(**{field: bad})
