"""One client connection: its negotiated version, subscriptions and outgoing stream.

Every message goes out through ``send``, which encodes it in the layout of the version
negotiated at the handshake (``versions.adapt``), or holds it while the connection is
"silent" (a fault). What one turn of the loop sends (a request's answer, or a clock step's
fills, quotes, bars and account values) leaves in one write at the end of that turn, in
the order sent: one system call and one wake-up of the client, not one per message.
``flush`` applies backpressure to this session alone.
"""

from __future__ import annotations

import asyncio

from spine.gateway import messages as msg
from spine.gateway.protocol import SERVER_VERSION, encode_frame
from spine.gateway.versions import adapt

DRAIN_ABOVE_BYTES = 256 * 1024
"""A session whose unsent output exceeds this waits for its client to read (backpressure)."""


class ClientConnection:
    """One client connection: its id, its subscriptions and its outgoing stream."""

    def __init__(self, writer: asyncio.StreamWriter, peer: str) -> None:
        self.writer = writer
        self.peer = peer
        self.version = SERVER_VERSION  # the negotiated server version; messages are sent in its layouts
        self.client_id: int | None = None
        self.account_updates = False
        self.positions = False
        self.market_data: dict[int, str] = {}  # reqId -> symbol
        self.realtime_bars: dict[int, str] = {}
        self.history_updates: dict[int, tuple[str, str, str, int]] = {}  # reqId -> symbol, barSize, whatToShow, fmt
        self.paused = False
        self._held: list[bytes] = []
        self.sent_account_values: dict[tuple[str, str], str] = {}  # (tag, currency) -> value last pushed
        self.flat_lines_sent: set[str] = set()  # symbols whose portfolio line was last pushed flat
        self._outgoing: list[bytes] = []  # sent this turn of the loop, written together at its end

    def send(self, fields: msg.Fields) -> None:
        frame = encode_frame(adapt(fields, self.version))
        if self.paused:
            self._held.append(frame)
        elif not self.writer.is_closing():
            if not self._outgoing:
                asyncio.get_running_loop().call_soon(self.write_out)
            self._outgoing.append(frame)

    def write_out(self) -> None:
        """Write what was sent since the last write, in one piece (called at the end of the turn that sent it)."""
        frames, self._outgoing = self._outgoing, []
        if frames and not self.writer.is_closing():
            self.writer.write(b"".join(frames))

    async def flush(self) -> None:
        """Wait for the client to read when its unsent output has grown large (only this session waits)."""
        self.write_out()
        transport = self.writer.transport
        if not self.writer.is_closing() and transport.get_write_buffer_size() > DRAIN_ABOVE_BYTES:
            await self.writer.drain()

    def drop_subscriptions(self) -> None:
        """Market data, real-time bars and updating history end (as after IB's 1101 'data lost')."""
        self.market_data.clear()
        self.realtime_bars.clear()
        self.history_updates.clear()

    def resume(self) -> None:
        self.write_out()
        self.paused = False
        held, self._held = self._held, []
        if not self.writer.is_closing():
            self.writer.writelines(held)

    def close(self) -> None:
        self.write_out()
        if not self.writer.is_closing():
            self.writer.close()
