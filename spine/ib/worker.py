"""``IBWorker``: everything that runs on the ``spine-ib`` thread's loop, around one ``ib_async.IB``.

It owns the connection (connect, back-off with tenacity, 326, heartbeat), reconcile-before-
trade after every connect and reconnect, order routing (native brackets, single orders,
cancels, flatten), fills (execDetails + commissionReport paired by execId, once), account
snapshots, quotes, historical bars behind the pacer, the journal writes and the manual
kill switch read from the state database. Its only way out is the ``IBSession`` it
publishes to (frozen events, the state, the account snapshot).

Nothing here blocks the loop: ib_async is used through its async API (``placeOrder`` and
``cancelOrder`` only write to the socket), SQLite writes are small and local.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ib_async import IB, Contract, ExecutionFilter, Order, RequestError, Stock
from ib_async.ib import StartupFetchNONE
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential,
)

from brokers import ib_translation as tr
from spine.envelope import is_paper_account
from spine.ib.bracket import LegSpec, bracket_legs, round_to_tick
from spine.ib.fill_assembler import AssembledFill, ExecutionHalf, FillAssembler
from spine.ib.halt import HALT_AT_META, HALT_META
from spine.ib.journal import Journal, JournalOrder
from spine.ib.pacer import HistoricalPacer
from spine.ib.reconcile import BrokerOrder, ProtectionGap, reconcile
from spine.ib.records import (
    AccountSnapshot,
    Bar,
    Cancel,
    Command,
    Fill,
    Flatten,
    OrderStatus,
    OrderSubmitted,
    PlaceBracket,
    PlaceOrder,
    PositionRecord,
    Quote,
    Refresh,
    RequestHistory,
    SessionError,
    SessionState,
    SessionStateChanged,
    Submission,
)
from spine.ib.settings import SessionSettings
from spine.state_store import StateStore

if TYPE_CHECKING:
    from spine.ib.session import IBSession

log = logging.getLogger("spine.ib")

RISK_STATES = frozenset({SessionState.ACTIVE})




class ConnectFailed(ConnectionError):
    """One connect attempt failed; tenacity retries it with back-off."""


class ClientIdInUse(ConnectFailed):
    """IB answered 326: another connection holds our client id."""


class FetchFailed(RuntimeError):
    """A reconcile fetch timed out or failed: stay SYNCING and retry, never read it as 'nothing there'."""


class Refused(RuntimeError):
    """The account or port is not a paper one: HALTED, never retried."""


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and abs(number) < 1e300 else None


def _positive(value: Any) -> float | None:
    """IB's 'no price' is -1 or NaN; only a positive finite price is a price."""
    number = _number(value)
    return number if number is not None and number > 0 else None


class IBWorker:
    """Runs on the ``spine-ib`` loop; see the module docstring."""

    def __init__(self, settings: SessionSettings, ib: IB, session: IBSession, *, clock: Callable[[], float] = time.time) -> None:
        self.s = settings
        self.ib = ib
        self.session = session
        self._clock = clock
        self.journal = Journal.in_folder(settings.state_dir)
        self.store = StateStore.in_folder(settings.state_dir)
        self.assembler = FillAssembler(self.journal.fill_ids())
        self.pacer = HistoricalPacer.scaled(time.monotonic, settings.pacing_scale)
        self._commands: asyncio.Queue[tuple[Command, concurrent.futures.Future[Submission] | None]] = asyncio.Queue()
        self._stopping = False
        self._cancel_on_stop = False
        self._wake = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._state = SessionState.DISCONNECTED
        self._account = ""
        self._contracts: dict[str, Contract] = {}
        self._min_ticks: dict[str, float] = {}
        self._tickers: dict[str, Any] = {}  # symbol -> ib_async Ticker (market data line)
        self._last_errors: dict[int, tuple[int, str]] = {}
        self._connect_errors: list[int] = []
        self._client_id_refusals = 0
        self._kill_executed = False
        self._in_reconcile = False
        self._pending_reconcile: str = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._entries: dict[int, tuple[str, float]] = {}  # working entry legs: order id -> (ticker, signed remaining)
        self._foreign_execs: set[str] = set()
        self._foreign_perms: set[int] = set()
        self._ib_positions: dict[str, float] = {}
        self._halt_reason = self.journal.meta(HALT_META) or ""
        self._halt_at = self.journal.meta(HALT_AT_META) or ""
        ib.RaiseRequestErrors = True  # a request answered with an error raises; it never looks like an empty answer
        # ib_async's message throttle stays on (its default 45/s) as the backstop. It releases a
        # backlog in batches, which on a loaded machine put up to 59 writes in one second
        # (bench_paper.py), so order messages are also spaced by the session itself: each at
        # least 1/order_messages_per_sec (40/s) after the previous one was handed over, measured from the hand-over.
        self._last_order_msg = 0.0
        self._hook_wrapper()
        ib.errorEvent += self._on_error
        ib.orderStatusEvent += self._on_order_status
        ib.disconnectedEvent += self._on_disconnected
        ib.pendingTickersEvent += self._on_tickers

    # --- entry points called through the loop by IBSession --------------------------------

    def enqueue(self, command: Command, future: concurrent.futures.Future[Submission] | None = None) -> None:
        self._commands.put_nowait((command, future))

    def request_stop(self, cancel_working: bool) -> None:
        self._stopping = True
        self._cancel_on_stop = cancel_working
        self._wake.set()
        self._disconnected.set()

    # --- the main loop ---------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(c) for c in (self._command_loop(), self._kill_watch(), self._heartbeat(), self._account_loop())]
        try:
            while not self._stopping:
                self._disconnected.clear()
                try:
                    await self._connect_with_backoff()
                except Refused as exc:
                    self._halt(str(exc), persist=False)
                    self._emit(SessionError(0, str(exc)))
                    await self._wake.wait()
                    break
                except ClientIdInUse:
                    message = (f"client id {self.s.client_id} is in use at {self.s.host}:{self.s.port} after "
                               f"{self._client_id_refusals} attempts (error 326); stop the other connection or pick "
                               "another --client-id")  # fmt: skip
                    self._set_state(SessionState.HALTED, message)
                    self._emit(SessionError(tr.CLIENT_ID_IN_USE, message))
                    await self._wake.wait()
                    break
                except ConnectFailed as exc:
                    if self._stopping:
                        break
                    message = f"gave up connecting to {self.s.host}:{self.s.port} after {self.s.reconnect_max_attempts} attempts: {exc}"
                    self._set_state(SessionState.HALTED, message)
                    self._emit(SessionError(0, message))
                    await self._wake.wait()
                    break
                if self._stopping:
                    break
                await self._sync_with_retry("connect")
                await self._disconnected.wait()
                if not self._stopping:
                    self._set_state(SessionState.DISCONNECTED, "connection lost; reconnecting")
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        while not self._commands.empty():
            _cmd, future = self._commands.get_nowait()
            if future is not None and not future.done():
                future.set_result(Submission((), "the session stopped before the command ran; nothing was sent"))
        if self._cancel_on_stop and self.ib.isConnected():
            for trade in list(self.ib.openTrades()):
                self.ib.cancelOrder(trade.order)
            await asyncio.sleep(0.2)
        if self.ib.isConnected():
            self.ib.disconnect()
        self.journal.close()
        self.store.close()

    # --- connection ------------------------------------------------------------------------

    async def _backoff_sleep(self, seconds: float) -> None:
        """tenacity's sleep, cut short by ``stop()`` so a session backing off still stops at once."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _connect_with_backoff(self) -> None:
        def give_up(state: RetryCallState) -> bool:
            if self._stopping:
                return True
            if self._client_id_refusals >= self.s.client_id_max_attempts:
                return True
            return bool(self.s.reconnect_max_attempts) and state.attempt_number >= self.s.reconnect_max_attempts

        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=self.s.backoff_initial_secs, max=self.s.backoff_max_secs),
            sleep=self._backoff_sleep,
            stop=give_up,
            retry=retry_if_exception_type(ConnectFailed),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._connect_once()

    async def _connect_once(self) -> None:
        refusal = self.s.refuses_port()
        if refusal:
            raise Refused(refusal)
        self._set_state(SessionState.CONNECTING, f"connecting to {self.s.host}:{self.s.port} as client {self.s.client_id}")
        self._connect_errors.clear()
        try:
            await self.ib.connectAsync(self.s.host, self.s.port, clientId=self.s.client_id,
                                       timeout=self.s.connect_timeout_secs, fetchFields=StartupFetchNONE)  # fmt: skip
        except (OSError, TimeoutError, ConnectionError) as exc:
            if tr.CLIENT_ID_IN_USE in self._connect_errors:
                self._client_id_refusals += 1
                self._set_state(SessionState.DISCONNECTED, f"client id {self.s.client_id} in use (326); backing off")
                raise ClientIdInUse(str(exc)) from exc
            self._set_state(SessionState.DISCONNECTED, f"connect failed: {exc or type(exc).__name__}; backing off")
            raise ConnectFailed(str(exc)) from exc
        self._client_id_refusals = 0
        self._disconnected.clear()  # a failed earlier attempt's disconnect event must not end this connection
        accounts = list(self.ib.managedAccounts())
        wanted = self.s.paper_account.strip()
        account = wanted if wanted else (accounts[0] if len(accounts) == 1 else "")
        if not account or account not in accounts:
            self.ib.disconnect()
            raise Refused(f"account {wanted or '(any)'} is not among the gateway's accounts {accounts}; set trading.execution.paper_account")
        if not is_paper_account(account):
            self.ib.disconnect()
            raise Refused(f"account {account} is not a paper account (paper ids start with D); the paper session refuses it")
        self._account = account

    # --- reconcile-before-trade ------------------------------------------------------------

    async def _sync_with_retry(self, why: str) -> None:
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=self.s.backoff_initial_secs, max=self.s.backoff_max_secs),
            sleep=self._backoff_sleep,
            stop=lambda _state: self._stopping or not self.ib.isConnected(),
            retry=retry_if_exception_type(FetchFailed),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._sync(why)
        except FetchFailed:
            return  # stopped or disconnected while syncing; the main loop reconnects

    async def _sync(self, why: str, *, light: bool = False) -> None:
        self._set_state(SessionState.SYNCING, f"reconcile after {why}")
        self._in_reconcile = True
        try:
            if not light:
                self.ib.client.updateReqId(self.journal.max_order_id() + 1)  # before any order, the kill's included
                await self._kill_first()
                await self._subscribe_account()
                await self._qualify(self.s.tickers)
            plan_halts = await self._reconcile(light=light)
            if not light:
                self._subscribe_quotes(resubscribe=why == "1101")
        finally:
            self._in_reconcile = False
        self._publish_snapshot()
        if plan_halts:
            self._halt("; ".join(plan_halts))
        elif self._halt_reason:
            self._set_state(SessionState.HALTED, self._halt_reason)
        else:
            self._set_state(SessionState.ACTIVE, f"reconciled after {why}")

    async def _fetch(self, what: str, awaitable: Any) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self.s.request_timeout_secs)
        except TimeoutError as exc:
            self._emit(SessionError(0, f"reconcile: {what} timed out after {self.s.request_timeout_secs:g} s; staying SYNCING and retrying"))
            raise FetchFailed(what) from exc
        except ConnectionError as exc:
            raise FetchFailed(f"{what}: {exc}") from exc
        except Exception as exc:  # RequestError and friends: a failed answer is not an empty one
            self._emit(SessionError(getattr(exc, "code", 0), f"reconcile: {what} failed: {exc}; staying SYNCING and retrying"))
            raise FetchFailed(what) from exc

    async def _reconcile(self, *, light: bool) -> list[str]:
        applied_before = self.journal.fill_ids() | self.journal.acknowledged("exec")
        journal_positions = self._journal_positions()
        if light:
            open_trades, completed = [], []
        else:
            open_trades = await self._fetch("open orders", self.ib.reqAllOpenOrdersAsync())
            completed = await self._fetch("completed orders", self.ib.reqCompletedOrdersAsync(False))
        since = self.journal.last_fill_time()
        # A minute of overlap: an execution on the boundary is fetched again and skipped by its execId.
        flt = ExecutionFilter(time=(since - timedelta(minutes=1)).strftime("%Y%m%d-%H:%M:%S") if since else "")
        fills = await self._fetch("executions", self.ib.reqExecutionsAsync(flt))
        positions_raw = await self._fetch("positions", self.ib.reqPositionsAsync())
        positions: dict[str, float] = {}
        for p in positions_raw:
            if p.account == self._account and p.position:
                positions[p.contract.symbol.upper()] = positions.get(p.contract.symbol.upper(), 0.0) + float(p.position)
        executions = [self._half(f.contract, f.execution) for f in fills]
        if light:
            journal_open = self.journal.orders(open_only=True)
            broker_open = [self._broker_order(t) for t in self.ib.openTrades()]
        else:
            journal_open = self.journal.orders()
            broker_open = [self._broker_order(t) for t in open_trades]
        broker_done = [self._broker_order(t) for t in completed]
        accepted_perms = {int(p) for p in self.journal.acknowledged("perm")}
        plan = reconcile(journal_open, broker_open if not light else [], broker_done, executions, positions,
                         applied_before, journal_positions, accepted_perms)  # fmt: skip
        self._foreign_execs = {e.exec_id for e in executions if tr.parse_order_ref(e.order_ref) is None} - applied_before
        self._foreign_perms = {b.perm_id for b in broker_open if tr.parse_order_ref(b.order_ref) is None and b.working}
        self._ib_positions = positions
        if not light:
            for jo, bo in plan.updates:
                self._apply_broker_view(jo, bo)
            for bo in plan.adopted:
                self._adopt(bo)
            for jo in plan.lost:
                self.journal.record_status(jo.order_id, "Lost", detail="never acknowledged by IB and unknown to it; not re-sent")
                self._emit(OrderStatus(jo.order_id, 0, jo.order_ref, tr.REJECTED, "Lost", 0.0, jo.quantity, 0.0,
                                       "lost: never acknowledged by IB; not re-sent"))  # fmt: skip
        for half in plan.missed_fills:
            if not self.assembler.is_applied(half.exec_id):
                commission = next((f.commissionReport.commission for f in fills if f.execution.execId == half.exec_id), 0.0)
                done = self.assembler.add_execution(half) or self.assembler.add_commission(half.exec_id, commission or 0.0)
                if done is not None:
                    self._apply_fill(done, missed=True)
        if not light:
            self._entries = {}
            for b in broker_open:
                ref = tr.parse_order_ref(b.order_ref)
                if ref is not None and ref.role == "entry" and b.working:
                    left = max(b.quantity - b.filled, 0.0)
                    self._entries[b.order_id] = (b.ticker, left if b.side == "BUY" else -left)
            self._publish_working()
            if self._kill_executed and self.s.kill_on_trigger != "cancel":
                for gap in plan.protection:  # the operator's kill cancelled the protective legs on purpose
                    self._emit(SessionError(0, f"{gap.ticker}: position {gap.position:g} has no working {gap.role}; "
                                               f"not restored while the kill switch (on_trigger {self.s.kill_on_trigger}) holds"))
            else:
                await self._restore_protection(plan.protection)
        return plan.halt_reasons

    def _journal_positions(self) -> dict[str, float]:
        out: dict[str, float] = dict(self.journal.baseline())
        for row in self.journal.fills():
            ticker, side, shares = str(row[4]).upper(), str(row[5]), float(row[6])
            out[ticker] = out.get(ticker, 0.0) + (shares if side == "BUY" else -shares)
        return out

    def _apply_broker_view(self, jo: JournalOrder, bo: BrokerOrder) -> None:
        status = tr.bt_status(bo.status, filled=bo.filled, remaining=max(bo.quantity - bo.filled, 0.0)) if bo.status in tr.IB_STATUSES else None
        if status is None:
            status = jo.status
        if self.journal.record_status(jo.order_id, status, ib_status=bo.status, perm_id=bo.perm_id, filled=bo.filled,
                                      acknowledged=True, detail="reconcile"):  # fmt: skip
            self._emit(OrderStatus(jo.order_id, bo.perm_id, bo.order_ref, status, bo.status, bo.filled,
                                   max(bo.quantity - bo.filled, 0.0), 0.0, "reconcile"))  # fmt: skip

    def _adopt(self, bo: BrokerOrder) -> None:
        ref = tr.parse_order_ref(bo.order_ref)
        assert ref is not None
        status = (tr.bt_status(bo.status, filled=bo.filled, remaining=max(bo.quantity - bo.filled, 0.0)) if bo.status in tr.IB_STATUSES else None) or tr.ACCEPTED
        self.journal.record_intent(ref.intent_id, bo.ticker, bo.side, bo.quantity, ref.tag, "adopted")
        self.journal.record_submission(JournalOrder(bo.order_id, bo.perm_id, bo.order_ref, ref.intent_id, ref.role, bo.ticker, bo.side,
                                                    bo.quantity, bo.order_type, bo.limit_price, bo.aux_price, bo.parent_id,
                                                    bo.oca_group, status, True, bo.filled))  # fmt: skip
        self._emit(SessionError(0, f"adopted our order {bo.order_ref} (id {bo.order_id}, permId {bo.perm_id}) that the journal had lost"))
        self._emit(OrderStatus(bo.order_id, bo.perm_id, bo.order_ref, status, bo.status, bo.filled,
                               max(bo.quantity - bo.filled, 0.0), 0.0, "adopted"))  # fmt: skip

    async def _restore_protection(self, gaps: list[ProtectionGap]) -> None:
        for gap in gaps:
            price = self._protective_price(gap)
            ref_intent = f"restore-{gap.ticker}-{int(self._clock())}"
            oca = self._oca_of(gap.ticker, gap.side) or f"OCA:{ref_intent}"
            order_type = "STP" if gap.role == "stop" else "LMT"
            cmd = PlaceOrder(intent_id=ref_intent, ticker=gap.ticker, side=gap.side, quantity=round(gap.quantity),
                             order_type=order_type, tag=self._tag_for(gap.ticker),
                             role=gap.role, price=price if order_type == "LMT" else None,
                             aux_price=price if order_type == "STP" else None, oca_group=oca)  # fmt: skip
            self._emit(SessionError(0, f"{gap.ticker}: position {gap.position:g} lacked a working {gap.role} for "
                                       f"{gap.quantity:g} shares; placing one at {price:g}"))  # fmt: skip
            await self._place_order(cmd, allow_any_state=True)

    def _protective_price(self, gap: ProtectionGap) -> float:
        """The last journaled price of that leg for the ticker, else a fallback off the average cost."""
        for o in reversed(self.journal.orders()):
            if o.ticker.upper() == gap.ticker.upper() and o.role == gap.role and o.side == gap.side:
                price = o.aux_price if gap.role == "stop" else o.price
                if price:
                    return float(price)
        avg = next((float(p.avgCost) for p in self.ib.positions() if p.contract.symbol.upper() == gap.ticker.upper()), 0.0)
        long = gap.position > 0
        fraction = self.s.restore_stop_fraction if gap.role == "stop" else self.s.restore_take_profit_fraction
        factor = (1 - fraction) if (gap.role == "stop") == long else (1 + fraction)
        return max(round_to_tick(avg * factor, self._min_ticks.get(gap.ticker, 0.01)), 0.01)

    def _tag_for(self, ticker: str) -> str:
        """The provenance tag of the ticker's latest journaled order (a restored leg keeps it)."""
        for o in reversed(self.journal.orders()):
            ref = tr.parse_order_ref(o.order_ref)
            if o.ticker.upper() == ticker.upper() and ref is not None:
                return ref.tag
        return "LIVE_SPINE"

    def _oca_of(self, ticker: str, side: str) -> str:
        for t in self.ib.openTrades():
            if t.contract.symbol.upper() == ticker.upper() and t.order.action == side and t.order.ocaGroup:
                return str(t.order.ocaGroup)
        return ""

    # --- the manual kill -------------------------------------------------------------------

    async def _kill_watch(self) -> None:
        while True:
            await asyncio.sleep(self.s.kill_poll_secs)
            try:
                kill = self.store.kill_switch()
            except Exception as exc:  # noqa: BLE001 - a locked or broken state database: fail closed
                self._halt(f"state database unreadable ({exc}); halting new risk", persist=False)
                continue
            if kill.active and not self._kill_executed and self.ib.isConnected() and self._state is not SessionState.CONNECTING:
                await self._execute_kill(kill.reason)
            elif not kill.active and self._kill_executed:
                self._kill_executed = False
                self._emit(SessionError(0, "kill switch cleared (spine resume)"))
            if self._halt_reason and self._resumed_since_halt():
                self._clear_halt()

    async def _kill_first(self) -> None:
        kill = self.store.kill_switch()
        if kill.active and not self._kill_executed:
            await self._execute_kill(kill.reason)

    async def _execute_kill(self, reason: str) -> None:
        """Cancel per ``kill_switch.on_trigger`` (``kill_on_trigger``), as ``IBBroker.halt`` does on Backtrader's side.

        ``cancel`` (default): every working order that adds risk (entries, unfilled bracket
        parents with their legs, anything that would not reduce a held position) is
        cancelled; the stop and take-profit of a filled position stay working at IB.
        ``cancel_all``: every working order (``reqGlobalCancel``). ``cancel_and_flatten``:
        every working order, and every position is closed at market.
        """
        self._kill_executed = True
        mode = self.s.kill_on_trigger
        if mode == "cancel":
            cancelled, kept, foreign = await self._cancel_risk_adding()
            detail = f"cancelled {cancelled} risk-adding orders, kept {kept} protective orders of held positions"
            if foreign:
                detail += f"; {foreign} working orders of other clients left (on_trigger cancel_all cancels them)"
            self._emit(SessionError(0, f"kill switch (on_trigger cancel): {detail}: {reason}"))
            return
        self.ib.reqGlobalCancel()
        closed = 0
        if mode == "cancel_and_flatten":
            positions = await self._fetch("positions", self.ib.reqPositionsAsync())
            for p in positions:
                if p.account != self._account or not p.position:
                    continue
                side = "SELL" if p.position > 0 else "BUY"
                cmd = PlaceOrder(intent_id=f"kill-{p.contract.symbol}-{int(self._clock())}", ticker=p.contract.symbol.upper(),
                                 side=side, quantity=int(abs(p.position)), order_type="MKT", tag="LIVE_SPINE", role="exit")  # fmt: skip
                await self._place_order(cmd, allow_any_state=True)
                closed += 1
        self._emit(SessionError(0, f"kill switch (on_trigger {mode}): cancelled all working orders"
                                   f"{f', closing {closed} positions' if closed else ''}: {reason}"))

    async def _cancel_risk_adding(self) -> tuple[int, int, int]:
        """Cancel this client's working orders that add risk; (cancelled, kept, other clients' orders)."""
        try:  # asked of IB now: a fill's position update may still be on its way, and a kill may run before the reconcile
            held_list = await self._fetch("positions", self.ib.reqPositionsAsync())
            trades = await self._fetch("open orders", self.ib.reqAllOpenOrdersAsync())
        except FetchFailed:
            held_list, trades = self.ib.positions(self._account), self.ib.openTrades()
        held: dict[str, float] = {}
        for p in held_list:
            if p.account == self._account and p.position:
                held[p.contract.symbol.upper()] = held.get(p.contract.symbol.upper(), 0.0) + float(p.position)
        trades = [t for t in trades if not t.isDone()]
        mine = [t for t in trades if t.order.clientId in (self.s.client_id, 0)]
        working_ids = {t.order.orderId for t in mine}

        def reduces(trade: Any) -> bool:
            position = held.get(trade.contract.symbol.upper(), 0.0)
            quantity = float(trade.order.totalQuantity)
            sign = -1.0 if trade.order.action == "SELL" else 1.0
            return position * sign < 0 and quantity <= abs(position) + 1e-9

        def adds_risk(trade: Any) -> bool:
            ref = tr.parse_order_ref(trade.order.orderRef)
            if ref is not None and ref.role == "entry":
                return True
            if trade.order.parentId and trade.order.parentId in working_ids:
                return True  # a leg of a bracket whose entry never filled
            return not reduces(trade)

        doomed = [t for t in mine if adds_risk(t)]
        doomed_ids = {t.order.orderId for t in doomed}
        for trade in doomed:
            if trade.order.parentId in doomed_ids:
                continue  # IB cancels a bracket's legs with their parent
            await self._space_order_message()
            self.ib.cancelOrder(trade.order)
        return len(doomed), len(mine) - len(doomed), len(trades) - len(mine)

    def _resumed_since_halt(self) -> bool:
        """``spine resume`` deletes the journal's halt row (``spine.ib.halt.clear_session_halt``)."""
        return bool(self._halt_at) and self.journal.meta(HALT_META) is None

    def _halt(self, reason: str, *, persist: bool = True) -> None:
        self._halt_reason = reason
        if persist:
            self._halt_at = datetime.now(UTC).isoformat()
            self.journal.set_meta(HALT_META, reason)
            self.journal.set_meta(HALT_AT_META, self._halt_at)
        self._set_state(SessionState.HALTED, reason)

    def _clear_halt(self) -> None:
        """The operator resumed: what halted us is accepted, so the next reconcile does not halt on it again.

        Foreign executions and working foreign orders seen by the last reconcile are
        acknowledged, and the positions IB holds beyond what our fills explain become the
        journal's baseline.
        """
        self.journal.acknowledge("exec", self._foreign_execs)
        self.journal.acknowledge("perm", {str(p) for p in self._foreign_perms})
        held = dict(self._ib_positions)
        if self.ib.isConnected():
            held = {}
            for p in self.ib.positions(self._account):
                if p.position:
                    held[p.contract.symbol.upper()] = held.get(p.contract.symbol.upper(), 0.0) + float(p.position)
        explained, old = self._journal_positions(), self.journal.baseline()
        baseline = {t: held.get(t, 0.0) - explained.get(t, 0.0) + old.get(t, 0.0) for t in set(held) | set(explained)}
        self.journal.set_baseline({t: v for t, v in baseline.items() if abs(v) > 1e-9 or t in old})
        self._foreign_execs, self._foreign_perms = set(), set()
        self._halt_reason, self._halt_at = "", ""
        self.journal.delete_meta(HALT_AT_META)
        if self._state is SessionState.HALTED:
            self._set_state(SessionState.ACTIVE, "resumed by the operator (spine resume)")

    # --- heartbeat and account -------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.s.heartbeat_secs)
            if not self.ib.isConnected() or self._state in (SessionState.CONNECTING, SessionState.DISCONNECTED):
                continue
            try:
                await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.s.request_timeout_secs)
            except Exception as exc:  # noqa: BLE001 - any failure of the heartbeat means reconnect
                self._emit(SessionError(0, f"heartbeat: reqCurrentTime got no answer ({type(exc).__name__}); reconnecting"))
                self.ib.disconnect()

    async def _account_loop(self) -> None:
        while True:
            await asyncio.sleep(self.s.account_refresh_secs)
            if self.ib.isConnected() and self._state in (SessionState.ACTIVE, SessionState.DEGRADED, SessionState.HALTED):
                self._publish_snapshot()

    async def _subscribe_account(self) -> None:
        await self._fetch("account updates", self.ib.reqAccountUpdatesAsync(self._account))

    def _publish_snapshot(self) -> None:
        values: dict[str, float] = {}
        for v in self.ib.accountValues(self._account):
            if v.currency in (self.s.currency, "BASE", "") and (n := _number(v.value)) is not None and v.tag not in values:
                values[v.tag] = n
        if "NetLiquidation" not in values and "TotalCashValue" not in values:
            self._emit(SessionError(0, "account snapshot: IB sent no NetLiquidation or TotalCashValue; not published (never read as flat)"))
            return
        marks = {p.contract.symbol.upper(): float(p.marketValue) for p in self.ib.portfolio(self._account)}
        positions = tuple(
            PositionRecord(p.contract.symbol.upper(), float(p.position), float(p.avgCost), marks.get(p.contract.symbol.upper()))
            for p in self.ib.positions(self._account) if p.position
        )  # fmt: skip
        snapshot = AccountSnapshot(self._account, tuple(sorted(values.items())), positions, datetime.fromtimestamp(self._clock(), UTC))
        self.session._publish_snapshot(snapshot)
        self._emit(snapshot)

    # --- contracts, quotes, bars -----------------------------------------------------------

    async def _qualify(self, tickers: tuple[str, ...] | list[str]) -> None:
        for ticker in tickers:
            key = ticker.upper()
            if key in self._contracts:
                continue
            try:
                details = await asyncio.wait_for(self.ib.reqContractDetailsAsync(Stock(key, self.s.exchange, self.s.currency)),
                                                 self.s.request_timeout_secs)  # fmt: skip
            except (TimeoutError, ConnectionError) as exc:
                self._emit(SessionError(0, f"contract details for {key} timed out or the connection dropped; retrying"))
                raise FetchFailed(f"contract details for {key}") from exc
            except RequestError as exc:  # IB's answer: no such contract. Not retried: nothing can trade it.
                self._emit(SessionError(exc.code, f"{key}: IB has no contract ({exc.message}); it is not traded or quoted"))
                continue
            if not details:
                self._emit(SessionError(0, f"{key}: IB returned no contract details; it is not traded or quoted"))
                continue
            self._contracts[key] = details[0].contract
            self._min_ticks[key] = float(details[0].minTick or 0.01)

    async def _contract(self, ticker: str) -> Contract:
        key = ticker.upper()
        if key not in self._contracts:
            await self._qualify([key])
        if key not in self._contracts:
            raise ValueError(f"{key} has no IB contract; nothing was sent")
        return self._contracts[key]

    def _subscribe_quotes(self, *, resubscribe: bool) -> None:
        for key, contract in self._contracts.items():
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
                self.session._publish_quote(quote)
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
                    self.ib.reqHistoricalDataAsync(contract, cmd.end, cmd.duration, cmd.bar_size, "TRADES", True, 1),
                    self.s.request_timeout_secs * 4,
                )
            except Exception as exc:  # noqa: BLE001 - one failed request ends that request only
                self._emit(SessionError(getattr(exc, "code", 0), f"historical data for {ticker}: {exc or type(exc).__name__}"))
                continue
            finally:
                # Counted from the answer, not from the call: ib_async's message throttle may hold the
                # request back for up to a second, and IB counts it when it arrives.
                self.pacer.record(ticker.upper(), key)
            for b in bars:
                day = b.date if not isinstance(b.date, datetime) else b.date.date()
                self._emit(Bar(ticker.upper(), day, float(b.open), float(b.high), float(b.low), float(b.close), float(b.volume), cmd.warmup))

    # --- commands --------------------------------------------------------------------------

    async def _command_loop(self) -> None:
        while True:
            cmd, future = await self._commands.get()
            result = Submission((), "the session stopped while the command ran; check the journal")
            try:
                if isinstance(cmd, PlaceBracket):
                    result = await self._place_bracket(cmd)
                elif isinstance(cmd, PlaceOrder):
                    result = await self._place_order(cmd)
                elif isinstance(cmd, Cancel):
                    await self._cancel(cmd)
                elif isinstance(cmd, Flatten):
                    await self._flatten(cmd)
                elif isinstance(cmd, Refresh):
                    if cmd.what == "reconcile" and self.ib.isConnected():
                        await self._sync_with_retry("refresh")
                    elif self.ib.isConnected():
                        self._publish_snapshot()
                elif isinstance(cmd, RequestHistory):
                    await self._history(cmd)
                if not isinstance(cmd, (PlaceBracket, PlaceOrder)):
                    result = Submission()
            except Exception as exc:  # one bad command must not end the session
                log.exception("command %r failed", cmd)
                self._emit(SessionError(0, f"command {type(cmd).__name__} failed: {exc}"))
                result = Submission((), f"failed: {exc}")
            finally:
                if future is not None and not future.done():
                    future.set_result(result)

    def _refuse(self, order_ref: str, quantity: float, reason: str) -> None:
        self._emit(OrderStatus(0, 0, order_ref, tr.REJECTED, "", 0.0, float(quantity), 0.0, reason))

    def _risk_refusal(self) -> str:
        if self._kill_executed:
            return "kill switch active: no new risk until `spine resume`"
        if self._state not in RISK_STATES:
            return f"session is {self._state}: only ACTIVE sends orders that add risk" + (f" ({self._halt_reason})" if self._halt_reason else "")
        return ""

    async def _place_bracket(self, cmd: PlaceBracket) -> Submission:
        refs = [tr.format_order_ref(cmd.tag, cmd.intent_id, role, cmd.attempt) for role in ("entry", "take_profit", "stop")]
        why = self._risk_refusal() if cmd.adds_risk else ("" if self.ib.isConnected() else "not connected")
        if why:
            for ref in refs:
                self._refuse(ref, cmd.quantity, why)
            return Submission((), why)
        contract = await self._contract(cmd.ticker)
        first = self.ib.client.getReqId()
        self.ib.client.getReqId()
        self.ib.client.getReqId()
        legs = bracket_legs(cmd, first, self._min_ticks.get(cmd.ticker.upper(), 0.01))
        self.journal.record_intent(cmd.intent_id, cmd.ticker.upper(), cmd.side, cmd.quantity, cmd.tag, "bracket")
        self._journal_legs(cmd.intent_id, cmd.ticker.upper(), legs)
        self._track_entries(cmd.ticker.upper(), legs)
        for leg in legs:
            await self._space_order_message()
            self.ib.placeOrder(contract, self._ib_order(leg, tif="DAY" if leg.role == "entry" else "GTC"))
        return Submission(tuple(leg.order_id for leg in legs))

    async def _place_order(self, cmd: PlaceOrder, *, allow_any_state: bool = False) -> Submission:
        ref = tr.format_order_ref(cmd.tag, cmd.intent_id, cmd.role, cmd.attempt)
        why = "" if allow_any_state else (self._risk_refusal() if cmd.adds_risk else ("" if self.ib.isConnected() else "not connected"))
        if why:
            self._refuse(ref, cmd.quantity, why)
            return Submission((), why)
        contract = await self._contract(cmd.ticker)
        tick = self._min_ticks.get(cmd.ticker.upper(), 0.01)
        leg = LegSpec(self.ib.client.getReqId(), cmd.role, cmd.side, cmd.quantity, cmd.order_type,
                      round_to_tick(cmd.price, tick) if cmd.price is not None else None,
                      round_to_tick(cmd.aux_price, tick) if cmd.aux_price is not None else None,
                      0, True, cmd.oca_group, ref)  # fmt: skip
        self.journal.record_intent(cmd.intent_id, cmd.ticker.upper(), cmd.side, cmd.quantity, cmd.tag, cmd.role)
        self._journal_legs(cmd.intent_id, cmd.ticker.upper(), [leg])
        self._track_entries(cmd.ticker.upper(), [leg])
        await self._space_order_message()
        self.ib.placeOrder(contract, self._ib_order(leg, tif="GTC" if cmd.role in ("stop", "take_profit") else "DAY"))
        return Submission((leg.order_id,))

    def _track_entries(self, ticker: str, legs: list[LegSpec]) -> None:
        for leg in legs:
            if leg.role == "entry":
                self._entries[leg.order_id] = (ticker, float(leg.quantity) if leg.side == "BUY" else -float(leg.quantity))
        self._publish_working()

    def _publish_working(self) -> None:
        """Signed shares of working entries per ticker, for the gate's exposure checks on the caller's side."""
        working: dict[str, float] = {}
        for ticker, shares in self._entries.values():
            working[ticker] = working.get(ticker, 0.0) + shares
        self.session._publish_working(working)

    async def _space_order_message(self) -> None:
        """Keep order messages at most ``order_messages_per_sec``, spaced from the last actual hand-over."""
        rate = self.s.order_messages_per_sec
        if rate <= 0:
            return
        gap = 1.0 / rate - (time.monotonic() - self._last_order_msg)
        if gap > 0:
            await asyncio.sleep(gap)
        self._last_order_msg = time.monotonic()

    def _journal_legs(self, intent_id: str, ticker: str, legs: list[LegSpec]) -> None:
        """One transaction for the legs, committed before any of them reaches ib_async."""
        self.journal.record_submissions([
            JournalOrder(leg.order_id, 0, leg.order_ref, intent_id, leg.role, ticker, leg.side, float(leg.quantity),
                         leg.order_type, leg.limit_price, leg.aux_price, leg.parent_id, leg.oca_group, tr.SUBMITTED, False, 0.0)
            for leg in legs
        ])  # fmt: skip
        for leg in legs:
            self._emit(OrderSubmitted(leg.order_id, leg.order_ref, intent_id, leg.role, ticker, leg.side, float(leg.quantity),  # type: ignore[arg-type]
                                      leg.order_type, leg.limit_price, leg.aux_price, leg.parent_id))  # fmt: skip

    def _ib_order(self, leg: LegSpec, *, tif: str) -> Order:
        order = Order(orderId=leg.order_id, action=leg.side, totalQuantity=leg.quantity, orderType=leg.order_type,
                      transmit=leg.transmit, parentId=leg.parent_id, orderRef=leg.order_ref, tif=tif, account=self._account)  # fmt: skip
        if leg.limit_price is not None:
            order.lmtPrice = leg.limit_price
        if leg.aux_price is not None:
            order.auxPrice = leg.aux_price
        if leg.oca_group:
            order.ocaGroup = leg.oca_group
            order.ocaType = 1
        return order

    async def _cancel(self, cmd: Cancel) -> None:
        targets = []
        for trade in self.ib.openTrades():
            ref = tr.parse_order_ref(trade.order.orderRef)
            if (cmd.order_id is not None and trade.order.orderId == cmd.order_id) or (
                cmd.order_id is None and ref is not None and ref.intent_id == cmd.intent_id
            ):
                targets.append(trade.order)
        for order in targets:
            await self._space_order_message()
            self.ib.cancelOrder(order)
        if not targets:
            self._emit(SessionError(tr.CANCEL_ID_NOT_FOUND, f"cancel: no working order for {cmd.order_id or cmd.intent_id!r}"))

    async def _flatten(self, cmd: Flatten) -> None:
        wanted = {t.upper() for t in cmd.tickers}
        for trade in list(self.ib.openTrades()):
            if not wanted or trade.contract.symbol.upper() in wanted:
                await self._space_order_message()
                self.ib.cancelOrder(trade.order)
        # Positions asked of IB now, not read from the cache: a fill's position update may still be on its way.
        held = await self._fetch("positions", self.ib.reqPositionsAsync())
        for p in held:
            symbol = p.contract.symbol.upper()
            if p.account == self._account and p.position and (not wanted or symbol in wanted):
                side = "SELL" if p.position > 0 else "BUY"
                await self._place_order(PlaceOrder(intent_id=f"flat-{symbol}-{int(self._clock() * 1000)}", ticker=symbol, side=side,
                                                   quantity=int(abs(p.position)), order_type="MKT", tag="LIVE_SPINE", role="exit"),
                                        allow_any_state=True)  # fmt: skip

    # --- ib_async callbacks (on this thread, from the loop) ---------------------------------

    def _hook_wrapper(self) -> None:
        """Feed execDetails and commissionReport to the assembler as they arrive, in any order.

        ib_async drops a commission report that comes before its execution, so the two
        wrapper methods of *this* IB instance are wrapped (the real client still runs its
        own logic first); the pairing and the exactly-once rule live in ``FillAssembler``.
        """
        wrapper = self.ib.wrapper
        original_exec, original_commission = wrapper.execDetails, wrapper.commissionReport

        def exec_details(req_id: int, contract: Contract, execution: Any) -> None:
            original_exec(req_id, contract, execution)
            self._on_execution(self._half(contract, execution))

        def commission_report(report: Any) -> None:
            original_commission(report)
            done = self.assembler.add_commission(report.execId, float(report.commission or 0.0))
            if done is not None:
                self._apply_fill(done, missed=self._in_reconcile)

        wrapper.execDetails = exec_details
        wrapper.commissionReport = commission_report

    def _half(self, contract: Contract, execution: Any) -> ExecutionHalf:
        side = "BUY" if execution.side in ("BOT", "BUY") else "SELL"
        at = execution.time if isinstance(execution.time, datetime) else datetime.now(UTC)
        return ExecutionHalf(execution.execId, int(execution.orderId or 0), int(execution.permId or 0), execution.orderRef or "",
                             contract.symbol.upper(), side, float(execution.shares), float(execution.price), at,
                             float(execution.cumQty or 0.0))  # fmt: skip

    def _on_execution(self, half: ExecutionHalf) -> None:
        if self.assembler.is_applied(half.exec_id):
            return
        if tr.parse_order_ref(half.order_ref) is None and not self._in_reconcile:
            self._foreign_execs.add(half.exec_id)
            self._halt(f"fill without our orderRef: execId {half.exec_id} {half.side} {half.shares:g} {half.ticker} @ {half.price:g}")
        done = self.assembler.add_execution(half)
        if done is not None:
            self._apply_fill(done, missed=self._in_reconcile)

    def _apply_fill(self, done: AssembledFill, *, missed: bool) -> None:
        e = done.execution
        if not self.journal.record_fill(e.exec_id, e.order_id, e.perm_id, e.order_ref, e.ticker, e.side, e.shares, e.price,
                                        done.commission, e.at, missed=missed):  # fmt: skip
            return
        self._emit(Fill(e.exec_id, e.order_id, e.perm_id, e.order_ref, e.ticker, e.side, e.shares, e.price,  # type: ignore[arg-type]
                        done.commission, e.at, e.cum_qty, missed))  # fmt: skip

    def _on_order_status(self, trade: Any) -> None:
        order, st = trade.order, trade.orderStatus
        last = trade.log[-1] if trade.log else None
        code = int(getattr(last, "errorCode", 0) or 0)
        message = str(getattr(last, "message", "") or "")
        try:
            status = tr.bt_status(st.status, filled=float(st.filled or 0), remaining=float(st.remaining or 0),
                                  error_code=code, error_message=message)  # fmt: skip
        except ValueError as exc:
            self._emit(SessionError(0, str(exc)))
            return
        if status is None:
            return
        if order.orderId in self._entries:
            ticker, signed = self._entries[order.orderId]
            if tr.is_terminal(status):
                del self._entries[order.orderId]
            else:
                remaining = float(st.remaining or 0) or abs(signed)
                self._entries[order.orderId] = (ticker, remaining if signed > 0 else -remaining)
            self._publish_working()
        changed = self.journal.record_status(order.orderId, status, ib_status=st.status, perm_id=int(order.permId or 0),
                                             filled=float(st.filled or 0), acknowledged=st.status != "PendingSubmit",
                                             detail=message if code else "")  # fmt: skip
        if changed or self.journal.order(order.orderId) is None:
            self._emit(OrderStatus(order.orderId, int(order.permId or 0), order.orderRef or "", status, st.status,
                                   float(st.filled or 0), float(st.remaining or 0), float(st.avgFillPrice or 0),
                                   message if code else "", code))  # fmt: skip

    def _on_error(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        if self._state is SessionState.CONNECTING:
            self._connect_errors.append(code)
        if code == tr.CONNECTIVITY_LOST:
            self._set_state(SessionState.DEGRADED, "IB lost its connection (1100): no new risk; cancels still go")
        elif code in (tr.RESTORED_DATA_KEPT, tr.RESTORED_DATA_LOST):
            why = "1102" if code == tr.RESTORED_DATA_KEPT else "1101"
            asyncio.get_running_loop().create_task(self._after_restore(why, light=code == tr.RESTORED_DATA_KEPT))
        if code in (tr.CONNECTIVITY_LOST, tr.RESTORED_DATA_KEPT, tr.RESTORED_DATA_LOST, tr.CLIENT_ID_IN_USE) or code >= 2000 and code != tr.MARGIN_WARNING:
            self._emit(SessionError(code, message, req_id))
            return
        if code == tr.MARGIN_WARNING:  # account-wide or on an order: no new risk until the operator looks
            self._halt(f"IB margin warning (2148): {message}")
        self._emit(SessionError(code, message, req_id))

    async def _after_restore(self, why: str, *, light: bool) -> None:
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=self.s.backoff_initial_secs, max=self.s.backoff_max_secs),
            sleep=self._backoff_sleep,
            stop=lambda _s: self._stopping or not self.ib.isConnected(),
            retry=retry_if_exception_type(FetchFailed),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._sync(why, light=light)
        except FetchFailed:
            return

    def _on_disconnected(self) -> None:
        self._disconnected.set()

    # --- publishing ------------------------------------------------------------------------

    def _emit(self, event: Any) -> None:
        self.session._publish_event(event)

    def _set_state(self, state: SessionState, reason: str) -> None:
        if state is self._state:
            return
        old, self._state = self._state, state
        log.info("session %s -> %s: %s", old, state, reason)
        self.session._publish_state(state)
        self._emit(SessionStateChanged(old, state, reason))

    def _broker_order(self, trade: Any) -> BrokerOrder:
        o, st = trade.order, trade.orderStatus
        lmt = _number(o.lmtPrice)
        aux = _number(o.auxPrice)
        return BrokerOrder(int(o.orderId or 0), int(o.permId or 0), o.orderRef or "", trade.contract.symbol.upper(), o.action,
                           float(o.totalQuantity), o.orderType, st.status, float(st.filled or 0), int(o.parentId or 0),
                           lmt if lmt else None, aux if aux else None, o.ocaGroup or "")  # fmt: skip
