"""``spine gateway``: an offline IB Gateway simulator speaking the real TWS API.

It serves unmodified IB clients (ib_async, ib_insync, IB's ibapi) over loopback TCP,
negotiating server versions 157..178 (``protocol.MIN_SERVER_VERSION``..``SERVER_VERSION``)
as a real gateway does, keeps one simulated paper account, fills orders on a simulated
clock that replays price files with the backtest's ``FillModel``, never serves a bar
past that clock, and injects faults on demand. Modules, one job each:

    protocol   framing, field encoding, message ids, error codes, version negotiation
    versions   a v178 message rewritten in an older negotiated version's layout
    history    historical bars: bar sizes, durations, whatToShow, clipped to the clock
    requests   client→server decoders (placeOrder, reqHistoricalData, ...)
    messages   server→client encoders (openOrder, execDetails, ...)
    account    cash, positions, average costs, account values
    market     instruments and the clock replaying bars
    orders     the order engine: brackets, OCA, fills, cancels
    order_checks  what an order must pass at placeOrder (error 201 otherwise)
    what_if    what-if previews: margin and commission, nothing placed
    faults     fault injection state and the ``--faults`` syntax
    handlers   request dispatch for one session
    reference_handlers  reference requests, empty lists and refusals, each on its own id
    session    one connection: negotiated version, subscriptions, backpressure
    fault_actions  the faults as in-process methods (mixed into the simulator)
    server     the asyncio server, the clock, order events and pushes
    thread     the simulator on a background thread (tests, benchmark)
    settings   settings and the loopback-only rule
    cli        ``gateway_command`` for ``spine gateway``
"""

from spine.gateway.faults import FaultPlan, Faults
from spine.gateway.market import ClockPosition, Instrument, MarketClock
from spine.gateway.protocol import MIN_SERVER_VERSION, SERVER_VERSION, ErrorCode
from spine.gateway.server import REPLAY_ENDED_CODE, GatewaySimulator
from spine.gateway.settings import GatewaySettings, NonLoopbackHostError, loopback_host
from spine.gateway.thread import GatewayThread

__all__ = [
    "MIN_SERVER_VERSION",
    "REPLAY_ENDED_CODE",
    "SERVER_VERSION",
    "ClockPosition",
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
