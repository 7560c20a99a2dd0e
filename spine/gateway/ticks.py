"""Market-data ticks: the current bar as reqMktData describes it, and quotes on the tick grid.

The simulator replays bars, so a ticker's ticks are its current bar: bid and ask
``spread_bps`` apart around the close (none for an index, which has a value, not
quotes), last at the close, the bar's open, high and low, the previous close and the
volume. The same frames answer a reqMktData and are pushed on every new bar.
"""

from __future__ import annotations

import math

from spine.gateway import messages as msg
from spine.gateway.market import MarketClock

# Tick types (IB's TickType numbers).
BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE, HIGH, LOW, VOLUME, CLOSE, OPEN = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14
QUOTE_SIZE = 100.0


def bar_ticks(market: MarketClock, spread_bps: float, req_id: int, symbol: str) -> list[msg.Fields]:
    """The ticks describing the current bar: quotes and last at its close, its range and volume."""
    bar = market.current_bar(symbol)
    if bar is None:
        return []
    inst = market.instruments[symbol]
    out: list[msg.Fields] = []
    if not inst.is_index:  # an index has a value, not quotes
        bid, ask = quote(bar.close, spread_bps, inst.min_tick)
        out += [msg.tick_price(req_id, BID, bid, QUOTE_SIZE), msg.tick_price(req_id, ASK, ask, QUOTE_SIZE)]
    out += [
        msg.tick_price(req_id, LAST, bar.close, QUOTE_SIZE if not inst.is_index else 0.0),
        msg.tick_price(req_id, OPEN, bar.open),
        msg.tick_price(req_id, HIGH, bar.high),
        msg.tick_price(req_id, LOW, bar.low),
    ]
    previous = market.previous_bar(symbol)
    if previous is not None:
        out.append(msg.tick_price(req_id, CLOSE, previous.close))
    if not math.isnan(bar.volume):
        out.append(msg.tick_size(req_id, VOLUME, bar.volume))
    return out


def quote(price: float, spread_bps: float, tick: float) -> tuple[float, float]:
    """Bid and ask ``spread_bps`` apart around ``price``, on the tick grid, bid always below ask."""
    half = price * spread_bps / 20_000.0
    bid = math.floor(round((price - half) / tick, 6)) * tick
    ask = math.ceil(round((price + half) / tick, 6)) * tick
    if ask <= bid:
        ask = bid + tick
    return round(bid, 6), round(ask, 6)
