"""``spine gateway``: an offline IB Gateway simulator speaking the real TWS API.

It serves the unmodified ``ib_async`` client over loopback TCP at server version 178
(``protocol.SERVER_VERSION``), keeps one simulated paper account, fills orders on a
simulated clock that replays price files with the backtest's ``FillModel``, and
injects faults on demand. Modules, one job each:

    protocol   framing, field encoding, message ids, error codes
    requests   client→server decoders (placeOrder, reqHistoricalData, ...)
    messages   server→client encoders (openOrder, execDetails, ...)
    account    cash, positions, average costs, account values
    market     instruments and the clock replaying bars
    orders     the order engine: brackets, OCA, fills, cancels
    faults     fault injection state and the ``--faults`` syntax
    handlers   request dispatch for one session
    server     the asyncio server, sessions and pushes
    thread     the simulator on a background thread (tests, benchmark)
    settings   settings and the loopback-only rule
    cli        ``gateway_command`` for ``spine gateway``
"""

from spine.gateway.faults import FaultPlan, Faults
from spine.gateway.market import Instrument, MarketClock
from spine.gateway.protocol import SERVER_VERSION, ErrorCode
from spine.gateway.server import GatewaySimulator
from spine.gateway.settings import GatewaySettings, NonLoopbackHostError, loopback_host
from spine.gateway.thread import GatewayThread

__all__ = [
    "SERVER_VERSION",
    "ErrorCode",
    "FaultPlan",
    "Faults",
    "GatewaySettings",
    "GatewaySimulator",
    "GatewayThread",
    "Instrument",
    "MarketClock",
    "NonLoopbackHostError",
    "loopback_host",
]
