"""Market and account data on the ``spine-ib`` worker: contract details (minTick), quote lines,
daily bars behind the historical pacer, and the account snapshots that feed the breaker.

A mixin of ``spine.ib.worker.IBWorker``: ``self`` is the worker, whose state is set up there."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from ib_async import Contract, Index, RequestError, Stock

from spine.core.errors import FetchFailed, UnknownContract
from spine.core.numbers import finite_float
from spine.ib.records import (
    AccountSnapshot,
    Bar,
    PositionRecord,
    Quote,
    RequestHistory,
    SessionError,
    SessionState,
)

# IB's "unset" is 1.7976931348623157e308 (the largest float): any size from here up is no value
IB_UNSET_BOUND = 1e300


def _positive(value: Any) -> float | None:
    """IB's 'no price' is -1 or NaN; only a positive finite price is a price."""
    number = finite_float(value, bound=IB_UNSET_BOUND)
    return number if number is not None and number > 0 else None


class MarketDataMixin:
    """Contracts, quotes, bars and account snapshots (runs on the ``spine-ib`` loop)."""

    async def _account_loop(self) -> None:
        while True:
            await asyncio.sleep(self.s.account_refresh_secs)
            if self.ib.isConnected() and self._state in (
                SessionState.ACTIVE,
                SessionState.DEGRADED,
                SessionState.HALTED,
            ):
                self._publish_snapshot()

    def _on_account_value(self, value: Any) -> None:
        """NetLiquidation moved (IB pushes account values as its marks change): a fresh snapshot on the next turn of
        the loop (after the rest of IB's batch), so the breaker and the status line follow NAV within a second, not
        only every ``account_refresh_secs``."""
        if value.tag != "NetLiquidation" or value.account != self._account or value.value == self._nav_seen:
            return
        self._nav_seen = value.value
        if self.ib.isConnected() and self._state in (SessionState.ACTIVE, SessionState.DEGRADED, SessionState.HALTED):
            asyncio.get_running_loop().call_soon(self._publish_snapshot)

    async def _subscribe_account(self) -> None:
        await self._fetch("account updates", self.ib.reqAccountUpdatesAsync(self._account))

    def _publish_snapshot(self) -> None:
        values: dict[str, float] = {}
        for v in self.ib.accountValues(self._account):
            if (
                v.currency in (self.s.currency, "BASE", "")
                and (n := finite_float(v.value, bound=IB_UNSET_BOUND)) is not None
                and v.tag not in values
            ):
                values[v.tag] = n
        if "NetLiquidation" not in values and "TotalCashValue" not in values:
            self._emit(
                SessionError(
                    0,
                    "account snapshot: IB sent no NetLiquidation or TotalCashValue; not published (never read as flat)",
                )
            )
            return
        marks = {p.contract.symbol.upper(): float(p.marketValue) for p in self.ib.portfolio(self._account)}
        positions = tuple(
            PositionRecord(p.contract.symbol.upper(), own, float(p.avgCost), marks.get(p.contract.symbol.upper()))
            for p in self.ib.positions(self._account) if (own := self._own_shares(p.contract.symbol, float(p.position)))
        )  # fmt: skip
        snapshot = AccountSnapshot(
            self._account, tuple(sorted(values.items())), positions, datetime.fromtimestamp(self._clock(), UTC)
        )
        self.outbox.publish_snapshot(snapshot)
        vix = self.s.vix_symbol
        self.snapshots.account(
            snapshot, self.outbox.quote(vix) if vix else None, bool(vix) and self.outbox.index_missing(vix)
        )
        self._emit(snapshot)

    async def _contract_details(self, contract: Contract, where: str) -> list:
        """IB's contract details, or FetchFailed on a timeout or a drop: retried, never read as "no such contract"."""
        try:
            return await asyncio.wait_for(self.ib.reqContractDetailsAsync(contract), self.s.request_timeout_secs)
        except (TimeoutError, ConnectionError) as exc:
            self._emit(SessionError(0, f"contract details for {where} timed out or the connection dropped; retrying"))
            raise FetchFailed(f"contract details for {where}") from exc

    async def _qualify(self, tickers: tuple[str, ...] | list[str]) -> None:
        for ticker in tickers:
            key = ticker.upper()
            if key in self._contracts:
                continue
            try:
                details = await self._contract_details(Stock(key, self.s.exchange, self.s.currency), key)
            except RequestError as exc:  # IB's answer: no such contract. Not retried: nothing can trade it.
                self._emit(
                    SessionError(exc.code, f"{key}: IB has no contract ({exc.message}); it is not traded or quoted")
                )
                continue
            if not details:
                self._emit(SessionError(0, f"{key}: IB returned no contract details; it is not traded or quoted"))
                continue
            self._contracts[key] = details[0].contract
            self._min_ticks[key] = float(details[0].minTick or 0.01)

    async def _qualify_index(self) -> None:
        """The VIX (``vix_symbol``, IND on ``vix_exchange``): a quote line for the kill switch, never traded."""
        key = self.s.vix_symbol.strip().upper()
        if not key or key in self._indices:
            return
        where = f"IND {key} on {self.s.vix_exchange}"
        try:
            details = await self._contract_details(Index(key, self.s.vix_exchange, self.s.currency), where)
        except RequestError as exc:
            self._emit(
                SessionError(
                    exc.code,
                    f"{where}: IB has no such index ({exc.message}); the kill switch's VIX trigger gets no quote",
                )
            )
            self.outbox.publish_missing_index(key)
            return
        if not details:
            self._emit(
                SessionError(
                    0, f"{where}: IB returned no contract details; the kill switch's VIX trigger gets no quote"
                )
            )
            self.outbox.publish_missing_index(key)
            return
        self._indices[key] = details[0].contract

    async def _contract(self, ticker: str) -> Contract:
        key = ticker.upper()
        if key not in self._contracts:
            await self._qualify([key])
        if key not in self._contracts:
            raise UnknownContract(f"{key} has no IB contract; nothing was sent")
        return self._contracts[key]

    def _subscribe_quotes(self, *, resubscribe: bool) -> None:
        """One quote line per traded ticker (the price collar) and per index (the VIX, for the kill switch)."""
        for key, contract in (*self._contracts.items(), *self._indices.items()):
            if key in self._tickers and not resubscribe:
                continue
            if key in self._tickers:
                self.ib.cancelMktData(contract)
            self._tickers[key] = self.ib.reqMktData(contract, "", False, False)

    def _on_tickers(self, tickers: Any) -> None:
        for t in tickers:
            symbol = t.contract.symbol.upper() if t.contract else ""
            if symbol in self._tickers:
                quote = Quote(symbol, _positive(t.bid), _positive(t.ask), _positive(t.last))
                self.outbox.publish_quote(quote)
                self._emit(quote)

    async def _history(self, cmd: RequestHistory) -> None:
        for ticker in cmd.tickers:
            contract = await self._contract(ticker)
            key = (ticker.upper(), cmd.end, cmd.duration, cmd.bar_size)
            wait = self.pacer.wait_secs(ticker.upper(), key)
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                bars = await asyncio.wait_for(
                    self.ib.reqHistoricalDataAsync(
                        contract, cmd.end, cmd.duration, cmd.bar_size, "TRADES", True, 1, cmd.keep_up_to_date
                    ),
                    self.s.request_timeout_secs * 4,
                )
            except Exception as exc:  # noqa: BLE001 - one failed request ends that request only
                self._emit(
                    SessionError(getattr(exc, "code", 0), f"historical data for {ticker}: {exc or type(exc).__name__}")
                )
                continue
            finally:
                # Counted from the answer, not from the call: ib_async's message throttle may hold the
                # request back for up to a second, and IB counts it when it arrives.
                self.pacer.record(ticker.upper(), key)
            for b in bars:
                self._emit(_bar_event(ticker, b, cmd.warmup))
            if cmd.keep_up_to_date:
                bars.updateEvent += _bar_pusher(self._emit, ticker)


def _bar_event(ticker: str, b: Any, warmup: bool) -> Bar:
    """One of ib_async's ``BarData`` as a ``Bar`` event (IB's daily bar carries a date, an intraday one a datetime)."""
    day = b.date if not isinstance(b.date, datetime) else b.date.date()
    return Bar(ticker.upper(), day, float(b.open), float(b.high), float(b.low), float(b.close), float(b.volume), warmup)


def _bar_pusher(emit: Any, ticker: str) -> Any:
    """keepUpToDate: each bar IB pushes (a new one, or the current one changed) as a live ``Bar`` event.

    Emitted on the loop's next turn, after the rest of the batch it came in: the quotes, order
    events and account values IB sent before the bar are events before it, as when the bar is
    the answer to a request sent after them.
    """

    def on_update(bars: Any, _has_new_bar: bool) -> None:
        bar = _bar_event(ticker, bars[-1], False)
        asyncio.get_running_loop().call_soon(emit, bar)

    return on_update
