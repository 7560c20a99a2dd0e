"""Per-connection limits after the handshake, and the frame reader that applies them.

A client that has finished the handshake still cannot hold the simulator's memory or a
connection slot without doing its part:

    max_frame_bytes         a frame announcing more than this is refused (no client request needs
                            1 MiB; the protocol's own ceiling of 16 MiB would let 20 partial frames
                            hold 320 MiB)
    frame_timeout_secs      a frame whose first byte has arrived must be complete within this
                            (a client dripping a frame one byte at a time is closed)
    start_api_timeout_secs  after the handshake, ``startApi`` must come within this
    idle_timeout_secs       a connection that sends nothing for this long is closed (a real gateway
                            keeps idle API connections; Spine's sessions send a heartbeat every 30 s,
                            so only an abandoned client meets this)

Each breach closes that one connection with a warning in the gateway's log naming the
peer and the limit; every other connection and the clock go on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from spine.core.errors import InputError
from spine.gateway.protocol import ProtocolError, frame_length


@dataclass(frozen=True)
class ConnectionLimits:
    max_frame_bytes: int = 1 << 20
    frame_timeout_secs: float = 10.0
    start_api_timeout_secs: float = 10.0
    idle_timeout_secs: float = 600.0

    def __post_init__(self) -> None:
        if not self.max_frame_bytes > 0:
            raise InputError(f"max_frame_bytes {self.max_frame_bytes}: expected a positive number of bytes")
        for name in ("frame_timeout_secs", "start_api_timeout_secs", "idle_timeout_secs"):
            value = getattr(self, name)
            if not 0 < value < float("inf"):
                raise InputError(f"{name} {value}: expected a positive, finite number of seconds")


async def read_frame(reader: asyncio.StreamReader, limits: ConnectionLimits, *, registered: bool) -> bytes:
    """The next frame's payload, or ``ProtocolError`` naming the limit the client broke."""
    idle = limits.idle_timeout_secs if registered else limits.start_api_timeout_secs
    try:
        async with asyncio.timeout(idle):
            first = await reader.readexactly(1)
    except TimeoutError:
        what = "sent nothing" if registered else "sent no startApi after the handshake"
        raise ProtocolError(f"{what} for {idle:g} s (idle timeout)") from None
    try:
        async with asyncio.timeout(limits.frame_timeout_secs):
            header = first + await reader.readexactly(3)
            length = frame_length(header)
            if length > limits.max_frame_bytes:
                raise ProtocolError(
                    f"a frame of {length} bytes exceeds the per-connection limit of {limits.max_frame_bytes} bytes"
                )
            return await reader.readexactly(length)
    except TimeoutError:
        raise ProtocolError(f"a frame was not complete {limits.frame_timeout_secs:g} s after it began") from None
