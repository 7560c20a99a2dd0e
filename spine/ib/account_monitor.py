"""``AccountMonitor``: the seed's account API over an IB session or any ``get_account_info()`` provider.

A failed or empty answer is an error, never a flat account: a ghost SELL was once
generated from exactly that. So ``refresh()`` raises ``AccountUnavailable`` and keeps the
previous snapshot marked as failed, and the numbers it serves carry their age:
``is_stale()`` is True once the snapshot is older than ``account_max_age_secs``
(``trading.ib.account_max_age_secs``, default 60), and a sizer must size 0 then
(``stale_reason()`` says why).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from spine.core.errors import AccountUnavailable
from spine.core.numbers import finite_float
from spine.ib.settings import DEFAULT_ACCOUNT_MAX_AGE_SECS


class AccountInfoProvider(Protocol):
    def get_account_info(self) -> Mapping[str, Any]: ...


class AccountMonitor:
    """Caches one account snapshot: margin values and positions (seed section 2.1.1)."""

    def __init__(
        self,
        provider: AccountInfoProvider,
        *,
        max_age_secs: float = DEFAULT_ACCOUNT_MAX_AGE_SECS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(getattr(provider, "get_account_info", None)):
            raise TypeError(f"{type(provider).__name__} has no get_account_info(); pass an IBSession or a provider")
        self.provider = provider
        self.max_age_secs = float(max_age_secs)
        self._clock = clock
        self._margin: dict[str, float] = {}
        self._positions: list[dict[str, Any]] = []
        self._refreshed_at: float | None = None
        self._last_error = ""

    # --- the seed's API ------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask the provider for the account now; raises ``AccountUnavailable`` on a failed or empty answer."""
        try:
            info = self.provider.get_account_info()
        except Exception as exc:  # any provider failure is the same reaction: no fresh numbers
            self._last_error = f"account refresh failed: {exc}"
            raise AccountUnavailable(self._last_error) from exc
        margin_raw = (info or {}).get("margin_info") if isinstance(info, Mapping) else None
        positions_raw = (info or {}).get("positions") if isinstance(info, Mapping) else None
        margin = {str(k): n for k, v in dict(margin_raw or {}).items() if (n := finite_float(v)) is not None}
        if not margin or positions_raw is None:
            self._last_error = f"account refresh returned no margin values or no position list (got {info!r})"
            raise AccountUnavailable(self._last_error)
        positions = []
        for row in positions_raw:
            positions.append(
                {
                    "symbol": str(row.get("symbol", "")),
                    "position": finite_float(row.get("position")) or 0.0,
                    "avgCost": finite_float(row.get("avgCost")) or 0.0,
                    "market_value": finite_float(row.get("market_value")),
                }
            )
        self._margin = margin
        self._positions = positions
        self._refreshed_at = self._clock()
        self._last_error = ""

    def get_available_funds(self) -> float:
        """AvailableFunds, else FullAvailableFunds; 0 when disconnected (never refreshed, or stale)."""
        if self.is_stale():
            return 0.0
        for key in ("AvailableFunds", "FullAvailableFunds"):
            if key in self._margin:
                return self._margin[key]
        return 0.0

    def get_net_liquidation(self) -> float:
        """NetLiquidation, else TotalCashValue; 0 before the first refresh."""
        for key in ("NetLiquidation", "TotalCashValue"):
            if key in self._margin:
                return self._margin[key]
        return 0.0

    def get_existing_positions(self) -> list[dict[str, Any]]:
        """``[{symbol, position, avgCost, market_value}]`` from the cached snapshot (a copy)."""
        return [dict(row) for row in self._positions]

    def get_margin_utilization(self) -> float | None:
        """MaintMarginReq / NetLiquidation when both are there and NAV is positive, else None."""
        maint, nav = self._margin.get("MaintMarginReq"), self._margin.get("NetLiquidation")
        if maint is None or nav is None or nav <= 0:
            return None
        return maint / nav

    def get_account_snapshot(self) -> dict[str, Any]:
        """``{"margin_info": {...}, "positions": [...]}``, copies of the cache."""
        return {"margin_info": dict(self._margin), "positions": self.get_existing_positions()}

    # --- freshness -------------------------------------------------------------------------

    def age_secs(self) -> float | None:
        return None if self._refreshed_at is None else self._clock() - self._refreshed_at

    def is_stale(self) -> bool:
        age = self.age_secs()
        return age is None or age > self.max_age_secs or bool(self._last_error)

    def stale_reason(self) -> str:
        """Why the numbers must not be used for sizing ('' when they are fresh)."""
        if self._last_error:
            return self._last_error
        age = self.age_secs()
        if age is None:
            return "no account snapshot yet"
        if age > self.max_age_secs:
            return f"account snapshot is {age:.0f} s old, past trading.ib.account_max_age_secs {self.max_age_secs:g}"
        return ""
