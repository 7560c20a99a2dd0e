"""How a simulated order fills against a price bar: one implementation for every simulator.

The backtest's ``SimBroker`` (Backtrader's BackBroker, configured) and the offline
gateway simulator both take their slippage, volume cap and commission from here, so a
rehearsal and a backtest of the same strategy on the same data agree. ``match`` states
Backtrader's BackBroker bar-matching rules (market at the next open; limit and stop when
the bar's range crosses them, at the open on a gap) for the gateway, which has no
Backtrader broker; a parity test holds the two together.

Commission schemes (``backtest.commission`` in the config, ``--commission`` on
``spine gateway``): ``bps:N`` charges N basis points of each fill's notional (the
default, from ``backtest.commission_bps``); ``ibkr_fixed`` is IBKR's fixed pricing
for US stocks: USD 0.005 per share, at least USD 1.00 and at most 1% of the trade
value per order.

Pure functions of numbers: no Backtrader, no sockets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from spine.config import BacktestSettings, SlippageSettings
from spine.core.errors import InputError

Side = Literal["BUY", "SELL"]
_NO_SLIPPAGE = SlippageSettings(model="none")
OrderType = Literal["MKT", "LMT", "STP", "STP LMT"]
CommissionScheme = Literal["bps", "ibkr_fixed"]

IBKR_FIXED_PER_SHARE = 0.005
IBKR_FIXED_MINIMUM = 1.00
IBKR_FIXED_MAX_FRACTION = 0.01


class CommissionSpecError(InputError, ValueError):
    """A commission spec that is neither ``bps:N`` nor ``ibkr_fixed``."""


def parse_commission(spec: str) -> tuple[CommissionScheme, float]:
    """``bps:N`` → ("bps", N); ``ibkr_fixed`` → ("ibkr_fixed", 0.0); CommissionSpecError otherwise."""
    text = spec.strip().lower()
    if text == "ibkr_fixed":
        return "ibkr_fixed", 0.0
    name, sep, value = text.partition(":")
    if name == "bps" and sep:
        try:
            bps = float(value)
        except ValueError:
            bps = math.nan
        if math.isfinite(bps) and 0 <= bps <= 10_000:
            return "bps", bps
    raise CommissionSpecError(f"{spec!r}: expected bps:N (N basis points of notional, 0..10000) or ibkr_fixed")


def ibkr_fixed_commission(shares: float, value: float) -> float:
    """IBKR fixed pricing for a US stock order of ``shares`` worth ``value``, to the cent."""
    shares, value = abs(shares), abs(value)
    if shares == 0:
        return 0.0
    fee = max(shares * IBKR_FIXED_PER_SHARE, IBKR_FIXED_MINIMUM)
    return round_cents(min(fee, value * IBKR_FIXED_MAX_FRACTION))


@dataclass(frozen=True, slots=True)
class Bar:
    open: float
    high: float
    low: float
    close: float
    volume: float = math.nan  # NaN: volume unknown, no volume cap


def round_cents(amount: float) -> float:
    """Round money half-up to the cent, as a broker statement shows it."""
    cents = amount * 100.0
    if abs(cents) < 1e9:
        below = math.floor(cents)
        if abs(cents - below - 0.5) > 1e-6:  # not near a half cent: float rounding decides the same way
            return (below + 1.0 if cents - below > 0.5 else below) / 100.0
    return float(Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class FillModel:
    """Slippage, volume cap and commission, from the ``backtest`` config section."""

    slippage: SlippageSettings = _NO_SLIPPAGE
    commission_bps: float = 0.0
    commission_scheme: CommissionScheme = "bps"

    @classmethod
    def from_settings(cls, settings: BacktestSettings) -> FillModel:
        spec = getattr(settings, "commission", None)
        if spec:
            return cls(slippage=settings.slippage).with_commission(spec)
        return cls(slippage=settings.slippage, commission_bps=settings.commission_bps)

    def with_commission(self, spec: str) -> FillModel:
        """This model with the commission of ``spec`` (``bps:N`` or ``ibkr_fixed``)."""
        scheme, bps = parse_commission(spec)
        return FillModel(slippage=self.slippage, commission_bps=bps, commission_scheme=scheme)

    def describe_commission(self) -> str:
        return "ibkr_fixed" if self.commission_scheme == "ibkr_fixed" else f"bps:{self.commission_bps:g}"

    # -- slippage ---------------------------------------------------------------------

    def slip(self, side: Side, price: float, bound: float) -> float:
        """Move ``price`` against the trader by the fixed slippage, never past ``bound``.

        ``bound`` is the bar's high for a buy and its low for a sell (or the limit
        price when it is tighter): slippage cannot produce a price the bar never
        traded, as with Backtrader's ``slip_match=True, slip_out=False``.
        """
        if self.slippage.model != "fixed_bps" or self.slippage.bps == 0:
            return price
        step = self.slippage.bps / 10_000.0
        if side == "BUY":
            return min(price * (1.0 + step), max(bound, price))
        return max(price * (1.0 - step), min(bound, price))

    def impact(self, side: Side, price: float, fill_size: float, bar_volume: float, bound: float) -> float:
        """Price impact of a fill that takes ``fill_size`` of ``bar_volume`` (volume_share model)."""
        if self.slippage.model != "volume_share" or not _known(bar_volume) or bar_volume <= 0:
            return price
        share = min(abs(fill_size) / bar_volume, 1.0)
        move = price * self.slippage.price_impact * share * share
        if side == "BUY":
            return min(price + move, max(bound, price))
        return max(price - move, min(bound, price))

    # -- volume -----------------------------------------------------------------------

    def max_fill_size(self, remaining: float, bar_volume: float) -> float:
        """Shares that may fill on one bar: all of them, or the volume_share cap."""
        remaining = abs(remaining)
        if self.slippage.model != "volume_share" or not _known(bar_volume):
            return remaining
        cap = math.floor(max(bar_volume, 0.0) * self.slippage.volume_limit)
        return float(min(cap, remaining))

    # -- commission -------------------------------------------------------------------

    def commission(self, size: float, price: float) -> float:
        """Commission on one fill (an order filled at once): ``bps`` of its notional or IBKR fixed, to the cent."""
        if self.commission_scheme == "ibkr_fixed":
            return ibkr_fixed_commission(size, abs(size) * price)
        if self.commission_bps == 0:
            return 0.0
        return round_cents(abs(size) * price * self.commission_bps / 10_000.0)

    def order_commission(
        self, filled_before: float, avg_price_before: float, size: float, price: float, paid_before: float
    ) -> float:
        """Commission on one fill of an order that already filled ``filled_before`` shares.

        ``bps`` is per fill (as ``commission``). ``ibkr_fixed`` applies its minimum and
        maximum per order, as IBKR does: each fill pays what the order's total owes so far
        less what earlier fills paid, so partial fills never pay the minimum twice.
        """
        if self.commission_scheme != "ibkr_fixed":
            return self.commission(size, price)
        shares = abs(filled_before) + abs(size)
        value = abs(filled_before) * avg_price_before + abs(size) * price
        return max(round_cents(ibkr_fixed_commission(shares, value) - paid_before), 0.0)

    # -- bar matching (the gateway's; the SimBroker uses Backtrader's own) -------------

    def match(
        self,
        order_type: OrderType,
        side: Side,
        bar: Bar,
        *,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> float | None:
        """The price at which an order fills on ``bar``, before volume impact; None if it does not."""
        buy = side == "BUY"
        if order_type == "MKT":
            return self.slip(side, bar.open, bar.high if buy else bar.low)
        if order_type == "LMT":
            return self._match_limit(side, bar, _required(limit_price, "limit"))
        if order_type == "STP":
            stop = _required(stop_price, "stop")
            if buy:
                if bar.open >= stop:
                    return self.slip(side, bar.open, bar.high)
                return self.slip(side, stop, bar.high) if bar.high >= stop else None
            if bar.open <= stop:
                return self.slip(side, bar.open, bar.low)
            return self.slip(side, stop, bar.low) if bar.low <= stop else None
        if order_type == "STP LMT":
            stop = _required(stop_price, "stop")
            limit = _required(limit_price, "limit")
            gapped = bar.open >= stop if buy else bar.open <= stop
            if gapped:
                return self._match_limit(side, bar, limit)
            crossed = bar.high >= stop if buy else bar.low <= stop
            if not crossed:
                return None
            # Backtrader's rules for a stop-limit triggered inside the bar.
            if buy:
                if limit >= stop:
                    return self.slip(side, stop, bar.high)
                return limit if bar.open > bar.close and limit >= bar.close else None
            if limit <= stop:
                return self.slip(side, stop, bar.low)
            return limit if bar.open <= bar.close and limit <= bar.close else None
        raise ValueError(f"unsupported order type {order_type!r}")

    def _match_limit(self, side: Side, bar: Bar, limit: float) -> float | None:
        if side == "BUY":
            if limit >= bar.open:
                return self.slip(side, bar.open, min(bar.high, limit))
            return limit if limit >= bar.low else None
        if limit <= bar.open:
            # Backtrader bounds a sell limit's slippage by the limit price alone.
            return self.slip(side, bar.open, limit)
        return limit if limit <= bar.high else None


def _known(volume: float | None) -> bool:
    return volume is not None and not math.isnan(volume)


def _required(value: float | None, name: str) -> float:
    if value is None:
        raise ValueError(f"a {name} price is required for this order type")
    return value
