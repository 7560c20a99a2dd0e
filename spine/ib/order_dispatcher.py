"""``OrderDispatcher``: one ``LiveSignal`` to one native IB bracket, through the same ``RiskGate``.

The seed's section 2.1.3, with the safety the backtest has: ``dispatch`` always computes
the Smart Stop (``RiskManager.compute_smart_stop``) first, so every result carries its
stop; returns ``status: "paused"`` and places nothing while the circuit breaker is
paused; sizes from the ``AccountMonitor`` (0 when its snapshot is stale, with the reason);
values the order at the session's live quote (a missing or stale quote fails closed, a
gap past ``risk.max_price_deviation_pct`` is the gate's ``price_collar``); and hands the
order to the IB thread only when the gate accepts it. The bracket has no take-profit
(``take_profit_price`` None) when ``strategy.take_profit_atr`` is null. The orderRef is the ``comment``:
``<TAG>:<intent id>:entry:<attempt>``, TAG ``PROHIBITED_LLM_DISCOVERY_LINK`` for a
propagated signal.

Intent ids are unique across instances, processes and restarts: ``<prefix><the second in
base36><4 random base36>-<ticker>`` (``spine.ib.translation.dispatch_intent_id``, at most 19
characters, so the orderRef fits beside any tag), drawn again when this process issued it
already or the journal in the session's state folder held it when the dispatcher was made. An id given in the signal's metadata
(``intent_id``) is the caller's identity and is kept, fitted to the orderRef.

``session_or_broker`` is an ``IBSession`` or anything with the same ``submit(command)``
returning a future of ``Submission`` and ``last_quote(ticker)``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from spine.config import SpineConfig, load_config
from spine.core.errors import AccountUnavailable, OrderRefError
from spine.core.live_signal import LiveSignal
from spine.core.sizing import size_position
from spine.core.stops import RiskManager
from spine.ib import translation as tr
from spine.ib.account_monitor import AccountMonitor
from spine.ib.journal import journaled_intent_ids
from spine.ib.records import PlaceBracket
from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.envelope import resolve_envelope
from spine.safety.risk_gate import OrderIntent, PortfolioView, RiskGate

DEFAULT_QUOTE_MAX_AGE_SECS = 120.0
SUBMIT_TIMEOUT_SECS = 5.0

_ISSUED: set[str] = set()  # every intent id a dispatcher of this process made (two instances never share one)
_ISSUED_LOCK = threading.Lock()


def _token() -> str:
    """4 random base36 characters (1.7 million values) for one intent id, from one draw of the system's randomness."""
    width = tr.DISPATCH_TOKEN_WIDTH
    return tr.base36(secrets.randbelow(36**width), width)


class OrderDispatcher:
    """Signal in, bracket out (or a named refusal); see the module docstring."""

    def __init__(
        self,
        session_or_broker: Any,
        risk_manager: RiskManager,
        account_monitor: AccountMonitor,
        *,
        config: SpineConfig | None = None,
        gate: RiskGate | None = None,
        breaker: CircuitBreaker | None = None,
        quote_max_age_secs: float = DEFAULT_QUOTE_MAX_AGE_SECS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        intent_prefix: str = "d",
    ) -> None:
        if not callable(getattr(session_or_broker, "submit", None)):
            raise TypeError(f"{type(session_or_broker).__name__} has no submit(command); pass an IBSession")
        try:
            tr.dispatch_intent_id(intent_prefix, "X", 0.0, "0" * tr.DISPATCH_TOKEN_WIDTH)
        except OrderRefError as exc:
            raise ValueError(str(exc)) from None
        self.session = session_or_broker
        self.risk_manager = risk_manager
        self.account_monitor = account_monitor
        self.config = config if config is not None else load_config(None)
        if gate is None:
            envelope = resolve_envelope(self.config, "paper")
            gate = RiskGate(
                self.config, execution_allowed=envelope.allowed, route="paper", breaker=breaker, clock=clock
            )
        self.gate = gate
        self.breaker = breaker if breaker is not None else gate.breaker
        self.quote_max_age_secs = float(quote_max_age_secs)
        self._clock = clock
        self._prefix = intent_prefix
        self._token_ahead = ""  # the next intent id's random token, drawn after the last placement, off its path
        # What every signal reads of the (frozen) config and the session, read once here instead of per signal.
        strategy, execution = self.config.strategy, self.config.trading.execution
        self._take_profit_atr = strategy.take_profit_atr
        self._entry_type = "LMT" if strategy.entry_order_type == "limit" else "MKT"
        self._limit_offset = strategy.limit_offset_bps / 10_000
        self._risk_pct = self.config.position_sizing.risk_pct
        self._max_position_size, self._min_order_size = execution.max_position_size, execution.min_order_size
        working = getattr(session_or_broker, "working_entries", None)
        self._working: Callable[[], dict[str, float]] | None = working if callable(working) else None
        last_quote = getattr(session_or_broker, "last_quote", None)
        self._last_quote: Callable[[str], Any] | None = last_quote if callable(last_quote) else None
        # The intent ids an earlier session on this state folder journaled (read once, read-only): never reused.
        state_dir = getattr(getattr(session_or_broker, "settings", None), "state_dir", None)
        self._journaled = journaled_intent_ids(state_dir) if state_dir is not None else set()

    # --- the seed's API ------------------------------------------------------------------

    def dispatch(self, signal: LiveSignal) -> dict[str, Any]:
        """Place one bracket for ``signal`` or say why not; the result always has every key."""
        try:
            return self._dispatch(signal)
        finally:  # the bracket is at ib_async (or refused): the next token costs the next signal nothing
            if not self._token_ahead:
                self._token_ahead = _token()

    def _dispatch(self, signal: LiveSignal) -> dict[str, Any]:
        now = self._clock()  # read once: the intent id's second, the quote's age and the gate's time
        ticker, tag, entry, atr = signal.ticker.upper(), signal.tag, signal.entry_price, signal.atr_per_share
        side = "BUY" if signal.is_buy else "SELL"
        stop = self.risk_manager.compute_smart_stop(side, entry, atr)
        take_atr = self._take_profit_atr  # None: entry + stop only; the stop is never optional
        take = (
            None if take_atr is None else entry + take_atr * atr if side == "BUY" else max(entry - take_atr * atr, 0.01)
        )
        intent_id = self._intent_id(signal, now)
        try:
            comment = tr.format_order_ref(tag, intent_id, "entry", 1)
        except OrderRefError as exc:
            comment, ref_problem = "", str(exc)
        else:
            ref_problem = ""
        order_type = self._entry_type
        result: dict[str, Any] = {
            "order_id": None, "ticker": ticker, "quantity": 0, "side": side, "order_type": order_type,
            "stop_price": stop, "take_profit_price": take, "comment": comment, "status": "", "reason": "",
            "intent_id": intent_id, "tag": tag,
        }  # fmt: skip
        if ref_problem:
            return self._done(result, "rejected", ref_problem, rule="order_ref")
        if self.account_monitor.is_stale():
            self.refresh_account()
            now = self._clock()  # a refresh is a round trip: the quote's age and the gate's time are read after it
        if self.breaker is not None and self.breaker.is_trading_paused():
            return self._done(result, "paused", f"circuit breaker paused: {self.breaker.trip_reason or 'manual pause'}")
        if self.account_monitor.is_stale():
            return self._done(result, "skipped", f"sized 0: {self.account_monitor.stale_reason()}")
        quote_price, quote_problem = self._quote(ticker, now)
        if quote_problem:
            return self._done(result, "rejected", quote_problem, rule="price")
        nav = self.account_monitor.get_net_liquidation()
        decision = self._size(signal, nav)
        if decision.shares <= 0:
            return self._done(result, "skipped", f"sized 0: {decision.skip_reason}")
        result["quantity"] = decision.shares
        limit = None
        if order_type == "LMT":
            offset = self._limit_offset
            limit = entry * (1 - offset) if side == "BUY" else entry * (1 + offset)
        self.gate.mark(now, nav)
        intent = OrderIntent(ticker, side, float(decision.shares), order_type,  # type: ignore[arg-type]
                             limit if limit is not None else entry, tag, intent_id, "entry", now)  # fmt: skip
        working = self._working
        view = PortfolioView(nav, self._positions(), {ticker: quote_price}, working() if working is not None else {})
        verdict = self.gate.check(intent, view)
        if not verdict.accepted:
            return self._done(result, "rejected", verdict.reason, rule=verdict.rule)
        command = PlaceBracket(intent_id=intent_id, ticker=ticker, side=side, quantity=decision.shares,  # type: ignore[arg-type]
                               stop_price=stop, take_profit_price=take, tag=tag, entry_type=order_type, limit_price=limit)  # fmt: skip
        try:
            submission = self.session.submit(command).result(timeout=SUBMIT_TIMEOUT_SECS)
        except TimeoutError:
            return self._done(
                result,
                "unknown",
                f"the IB thread did not confirm within {SUBMIT_TIMEOUT_SECS:g} s; the journal will tell",
            )
        except Exception as exc:  # noqa: BLE001 - SessionNotRunning and friends: nothing was sent
            return self._done(result, "rejected", str(exc), rule="session")
        if not submission.placed:
            return self._done(result, "rejected", submission.refused, rule="session")
        result["order_id"] = submission.order_ids[0]
        result["order_ids"] = submission.order_ids
        return self._done(result, "submitted", "")

    def refresh_account(self) -> bool:
        """Refresh the monitor and feed NetLiquidation to the breaker; False when IB gave no usable answer."""
        try:
            self.account_monitor.refresh()
        except AccountUnavailable:
            return False
        nav = self.account_monitor.get_net_liquidation()
        if self.breaker is not None and nav > 0:
            self.breaker.record_nav(self._clock(), nav)
        return True

    # --- helpers -------------------------------------------------------------------------

    def _size(self, signal: LiveSignal, nav: float):  # type: ignore[no-untyped-def]
        return size_position(
            weight=signal.weight, entry_price=signal.entry_price, atr_per_share=signal.atr_per_share, nav=nav,
            available_funds=self.account_monitor.get_available_funds(), risk_pct=self._risk_pct,
            atr_multiplier=self.risk_manager.atr_multiplier, max_position_size=self._max_position_size,
            min_order_size=self._min_order_size,
        )  # fmt: skip

    def _quote(self, ticker: str, now: datetime) -> tuple[float, str]:
        """The live price to value the order at (``ticker`` in upper case), or why there is none (fail closed)."""
        get = self._last_quote
        quote = get(ticker) if get is not None else None
        if quote is None:
            return 0.0, f"no quote for {ticker} yet; the price collar cannot be checked"
        age = (now - quote.at).total_seconds()
        if age > self.quote_max_age_secs:
            return (
                0.0,
                f"the quote for {ticker} is {age:.0f} s old, past {self.quote_max_age_secs:g} s; refusing to price against it",
            )
        price = (
            quote.last
            or (None if quote.bid is None or quote.ask is None else (quote.bid + quote.ask) / 2)
            or quote.bid
            or quote.ask
        )
        if not price:
            return 0.0, f"the quote for {ticker} has no price"
        return float(price), ""

    def _positions(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for row in self.account_monitor.get_existing_positions():
            symbol = str(row["symbol"]).upper()
            out[symbol] = out.get(symbol, 0.0) + float(row["position"])
        return out

    def _intent_id(self, signal: LiveSignal, now: datetime) -> str:
        meta = signal.metadata or {}
        given = str(meta.get("intent_id") or "")
        if given:
            return tr.fit_intent_id(given)
        second = now.timestamp()
        token, self._token_ahead = self._token_ahead or _token(), ""
        with _ISSUED_LOCK:
            while True:
                intent_id = tr.dispatch_intent_id(self._prefix, signal.ticker, second, token)
                if intent_id not in _ISSUED and intent_id not in self._journaled:
                    _ISSUED.add(intent_id)
                    return intent_id
                token = _token()  # taken already (this process or the journal): draw again

    @staticmethod
    def _done(result: dict[str, Any], status: str, reason: str, rule: str = "") -> dict[str, Any]:
        result["status"] = status
        result["reason"] = reason
        if rule:
            result["rule"] = rule
        return result


__all__ = ["AccountUnavailable", "OrderDispatcher"]
