"""``spine gateway``: an offline IB Gateway simulator speaking the real TWS API.

It serves unmodified IB clients (ib_async, ib_insync, IB's ibapi) over loopback TCP,
negotiating server versions 157..178 (``protocol.MIN_SERVER_VERSION``..``SERVER_VERSION``)
as a real gateway does, keeps one simulated paper account, fills orders on a simulated
clock that replays price files with the backtest's ``FillModel``, never serves a bar
past that clock, and injects faults on demand. Modules, one job each:

    protocol       framing, field encoding, message ids, notice texts, version negotiation (codes: ``spine.ib.codes``)
    versions       a v178 message rewritten in an older negotiated version's layout
    requests       client→server decoders (placeOrder, reqHistoricalData, ...)
    messages       server→client encoders (openOrder, execDetails, ...)
    settings       settings and the loopback-only rule
    account        cash, positions, average costs, account values
    history        historical bars: bar sizes, durations, whatToShow, clipped to the clock
    market         instruments and the clock replaying bars
    order_records  order status names, order requests, working orders, executions, ``OrderListener``
    order_checks   what an order must pass at placeOrder (error 201 otherwise)
    funds          an order's worst price, the funds working orders reserve, the checks at placement, modification and fill
    what_if        what-if previews: margin and commission, nothing placed
    orders         the order engine: brackets, OCA, fills, cancels
    order_ids      the nextValidId handed out: the engine's next free id, rolled back or pinned
    faults         fault injection state and the ``--faults`` syntax
    client         one client connection: negotiated version, subscriptions, backpressure
    limits         per-connection limits after the handshake (frame size and time, startApi, idle) and the frame reader
    ticks          market-data ticks of the current bar, quotes on the tick grid
    pushes         what is sent unasked: order events, positions, account updates, market data
    state          ``SimulatorState``: what the request handlers act on
    reference_handlers  reference requests, empty lists and refusals, each on its own id
    handlers       request dispatch, and ``intercept`` to answer one message id otherwise
    fault_actions  the faults as in-process methods (mixed into the simulator)
    server         the asyncio server, the clock, sessions and fault actions
    thread         the simulator on a background thread (tests, benchmark)
    testing        test aids over the public API: blackholes, notices, id rollbacks, pacing, ...
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
