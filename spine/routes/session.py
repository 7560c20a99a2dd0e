"""A paper session: the backtest's harness over ``IBBroker`` and live daily feeds, on an ``IBSession``.

``run_paper`` (``spine paper``) trades an IB paper account (or ``spine gateway``) on the wall
clock: day D's bar is released at ``paper.release_at`` on the next trading day.
``run_rehearsal`` (``spine rehearse``) starts the gateway simulator in-process and runs
the same session against it over a real loopback socket, with the simulator's clock
stepped in lockstep with the session (``LockstepDriver``), so a rehearsal is deterministic
and never skips a day.

Both refuse unless the safety envelope resolves to paper (``require_paper``), run under
the top-level ``risk`` limits, and write the same run folder as a backtest (orders, fills,
equity, events, returns, summary, pnl.png, config, run.log) plus the session's journal. The
folder exists from the session's start and each recorded row is appended as it happens, so a
killed session leaves what it did for ``spine report``.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import backtrader as bt

from analyzers import CircuitBreaker, RunRecorder
from brokers import IBBroker, RiskGate
from spine.config import SpineConfig
from spine.core.errors import BrokerError, InputError, SafetyError
from spine.core.events import EventLog
from spine.data.signal_source import SignalFile
from spine.feeds.live import BarPump, LiveDailyFeed
from spine.feeds.release import CalendarRelease
from spine.ib.journal_check import check_journal
from spine.ib.records import Bar, Refresh, RequestHistory, SessionState, SessionStateChanged
from spine.ib.session import IBSession
from spine.reports.build import write_reports
from spine.routes.harness import HarnessWiring, wire_harness
from spine.runs.summary import run_summary
from spine.runs.write import LiveRunFolder
from spine.safety.envelope import Envelope, resolve_envelope
from spine.safety.state_lock import StateLock
from spine.safety.state_store import StateStore
from spine.safety.vix_line import VixLine

JOURNAL_FILE = "ib_journal.sqlite3"
WAIT_SECS = 30.0  # how long a lockstep barrier waits for the session before it gives up
POLL_SECS = 0.0005  # a barrier wakes on the session's next event, or after this long without one
BAR_PUSH_GRACE_SECS = 2.0  # how long a step waits for the day's pushed bars before it asks for them
SNAPSHOT_GRACE_SECS = 0.05  # how long a step waits for the pushed account values' snapshot before it asks for one


def check_out_dir(out_dir: Path) -> None:
    """``--out`` can receive a run folder: checked before a session connects, so bad input never follows orders.

    Nothing is created here; the folder (and its missing parents) is made when the run folder is written.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: is a file; expected a folder to receive the run folder")
    existing = out_dir
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing != out_dir and not existing.is_dir():
        raise InputError(f"--out {out_dir}: {existing} is a file; expected a folder to receive the run folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {out_dir}: {existing} is not writable; expected a writable folder")


def check_state_folder(state_dir: Path) -> None:
    """The state folder's databases open (the IB journal, then the state store) before a session connects.

    The journal is checked first: a damaged one is refused before the state store is created beside it.
    """
    check_journal(state_dir / JOURNAL_FILE)
    with StateStore.in_folder(state_dir):
        pass


def took_over(lock: StateLock, events: EventLog) -> None:
    """Say so (console and events) when the state folder's lock was left by a session that was killed."""
    if lock.previous is None:
        return
    message = (f"took over the state folder's lock left by {lock.previous.describe()}, which ended without "
               "releasing it (killed); reconcile with IB decides what it left")  # fmt: skip
    print(f"warning: {message}", file=sys.stderr, flush=True)
    events.record(datetime.now(UTC), "state_lock_taken_over", message)


def require_paper(config: SpineConfig, command: str) -> Envelope:
    """The envelope for paper; SafetyError naming every blocker (as ``spine check``) unless it resolves to paper."""
    envelope = resolve_envelope(config, "paper")
    if envelope.route != "paper":
        lines = [
            f"{command} refuses: the safety envelope resolves to {envelope.route}, not paper (see `spine check --route paper`)"
        ]
        lines += [f"blocked: {blocker}" for blocker in envelope.blockers]
        raise SafetyError("\n".join(lines))
    return envelope


@dataclass
class StopFlag:
    """Set by Ctrl-C / SIGTERM (or a test); every driver checks it between steps."""

    event: threading.Event = field(default_factory=threading.Event)
    reason: str = ""

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason
        self.event.set()

    def __bool__(self) -> bool:
        return self.event.is_set()


@contextmanager
def quiet_ib_async() -> Iterator[None]:
    """ib_async logs every IB message line at ERROR; the session journals them and the run's events keep them."""
    logger = logging.getLogger("ib_async")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def stopping_on_signals(flag: StopFlag) -> Iterator[None]:
    """SIGINT and SIGTERM stop the session cleanly at the next step instead of killing it mid-order."""
    if threading.current_thread() is not threading.main_thread():
        with quiet_ib_async():
            yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: flag.set(signal.Signals(signum).name))
    try:
        with quiet_ib_async():
            yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- drivers: what moves time on when no bar is waiting ------------------------------------


_ANSWERED = frozenset({"Accepted", "Partial", "Completed", "Canceled", "Rejected", "Margin", "Expired"})
_FINAL = frozenset({"Completed", "Canceled", "Rejected", "Margin", "Expired"})


@dataclass(frozen=True)
class StepReport:
    """What the simulator holds right after one step, read on its thread in the step's own round trip."""

    executions: int  # every execution the simulator has made so far
    account: dict[str, float]  # its account values at the new clock
    bars: tuple[str, ...]  # the traded tickers with a bar at the new clock


def _account_values(sim: Any) -> dict[str, float]:
    """The simulator's account values at its marks (call on the simulator's thread)."""
    return {k: float(v) for k, v in sim.account.values(sim.market.marks()).items()}


class LockstepDriver:
    """Steps the in-process simulator one bar once the session has caught up with the last one.

    Before a step: every order the broker handed to the IB thread has an answer from the
    gateway (accepted or final), and every cancel asked for is final. The step is one round
    trip to the simulator's thread, which answers with what the session must then see (a
    ``StepReport``): the executions so far, its account, and which tickers have a bar at the
    new clock. The simulator pushes that day's bars to the session's open history requests
    (keepUpToDate, subscribed with the warm-up) along with the fills and account values, so
    the driver then waits once: for every execution, the day's bars and an account snapshot
    that equals the simulator's own account. Only then is the next day released. The
    simulator never serves a bar past its clock, so a rehearsal sees each day only once the
    clock has reached it. Should the pushed bars not come (no open request), the driver asks
    for the bars up to the clock (``reqHistoricalData``, as ``spine paper`` asks IB after each
    release time) after ``bar_push_grace_secs``.

    A kill switch recorded in the state database is executed by the IB thread (its kill
    watch) before the clock moves on, so its event always comes with the next bar, however
    fast the rehearsal runs: a rehearsal's ``events.csv`` is the same on every run.

    The clock's position is kept here, set by a clock listener on the simulator's thread
    after every bar, so the day release and the end check read it without a round trip to
    that thread: a simulated day costs one round trip (the step and its report) however long
    the window.
    """

    def __init__(self, gateway: Any, broker_ref: Callable[[], IBBroker | None], *, end: date | None, stop: StopFlag,
                 tickers: Sequence[str] = (), kill_active: Callable[[], bool] = lambda: False,
                 bar_push_grace_secs: float = BAR_PUSH_GRACE_SECS) -> None:  # fmt: skip
        self.gateway = gateway
        self.bar_push_grace_secs = bar_push_grace_secs
        self.broker_ref = broker_ref
        self.kill_active = kill_active
        self.end = end
        self.stop = stop
        self.tickers = tuple(tickers)
        self.steps = 0
        self._answered = 0  # broker.sent_refs[:_answered] have an answer from the gateway
        self._final = 0  # broker.cancel_refs[:_final] are final
        self._timezone = gateway.simulator.settings.timezone  # frozen settings: read on any thread
        self.position = gateway.position
        gateway.add_clock_listener(self._on_clock)

    def _on_clock(self, position: Any) -> None:
        """On the simulator's thread, after every bar: one attribute swap (a frozen position)."""
        self.position = position

    def clock_day(self) -> date:
        return self.position.now.date()

    def at_end(self) -> bool:
        return self.position.at_end or (self.end is not None and self.clock_day() >= self.end)

    def advance(self, pump: BarPump) -> bool:
        if self.stop or self.at_end():
            return False
        broker = self.broker_ref()
        if broker is not None:
            self._wait(lambda: self._caught_up(pump, broker), pump, "the gateway to answer every order and cancel")
        if not pump.kill_executed and self.kill_active():
            self._wait(lambda: pump.kill_executed, pump, "the session to execute the kill switch")
        report = self.gateway.run(self._step_and_report())
        self.steps += 1
        day = self.clock_day()
        self._wait(
            lambda: pump.fills_seen >= report.executions, pump, f"{report.executions} executions from the gateway"
        )
        if not self._wait_for(lambda: pump.buffer.holds(day, report.bars), pump, self.bar_push_grace_secs):
            self._request_day(pump)
        self._sync_account(pump, report.account)
        return True

    async def _step_and_report(self) -> StepReport:
        """On the simulator's thread: one step, then what the session must see before the next day is released."""
        sim = self.gateway.simulator
        await sim.step(1)
        new = sim.market.new_bars()
        return StepReport(len(sim.engine.executions), _account_values(sim), tuple(t for t in self.tickers if t in new))

    def _request_day(self, pump: BarPump) -> None:
        """The bars up to the clock (the new day's, and the one before in case an answer was lost), answered."""
        if not self.tickers:
            return
        end = f"{self.position.now:%Y%m%d %H:%M:%S} {self._timezone}"
        future = pump.submit(RequestHistory(self.tickers, duration="2 D", end=end, warmup=False))
        self._wait(future.done, pump, f"the daily bars up to {end} from the gateway")

    def sync_account(self, pump: BarPump) -> None:
        self._sync_account(pump)

    def _sync_account(self, pump: BarPump, target: dict[str, float] | None = None) -> None:
        """Until the session's account snapshot equals the simulator's account (asking for a fresh one if not)."""
        if target is None:
            sim = self.gateway.simulator
            target = self.gateway.call(lambda: _account_values(sim))
        keys = ("NetLiquidation", "AvailableFunds", "TotalCashValue")
        wanted = {k: _cents(target[k]) for k in keys}

        def matches() -> bool:
            snap = pump.last_snapshot
            return snap is not None and all(_cents(snap.value(k)) == cents for k, cents in wanted.items())

        # The simulator pushed its account values with the step: the snapshot they make is usually on its way.
        if self._wait_for(matches, pump, SNAPSHOT_GRACE_SECS):
            return
        deadline = time.monotonic() + WAIT_SECS
        while not matches():
            seen = pump.snapshots_seen
            pump.submit(Refresh("account"))
            self._wait(lambda seen=seen: pump.snapshots_seen > seen or matches(), pump, "an account snapshot")
            if time.monotonic() > deadline:
                raise BrokerError(f"rehearsal: the session's account never matched the gateway's ({target})")

    def _caught_up(self, pump: BarPump, broker: IBBroker) -> bool:
        """Every leg sent has an answer and every cancel asked for is final.

        The broker's lists only grow and an answer is never taken back, so the check goes on
        from the first leg (and cancel) still waiting: its cost is the new orders, not every
        order of the session (which made each day's barrier grow with the window).
        """
        status = pump.last_status
        sent, cancels = broker.sent_refs, broker.cancel_refs
        while self._answered < len(sent) and status.get(sent[self._answered]) in _ANSWERED:
            self._answered += 1
        while self._final < len(cancels) and status.get(cancels[self._final]) in _FINAL:
            self._final += 1
        return self._answered == len(sent) and self._final == len(cancels)

    def _wait(self, done: Callable[[], bool], pump: BarPump, what: str) -> None:
        if not self._wait_for(done, pump, WAIT_SECS):
            raise BrokerError(f"rehearsal: waited {WAIT_SECS:g} s for {what}; the session did not answer")

    @staticmethod
    def _wait_for(done: Callable[[], bool], pump: BarPump, timeout_secs: float) -> bool:
        """Drain the session until ``done()``; False once ``timeout_secs`` have passed without it.

        Between looks it waits for the session's next event (at most ``POLL_SECS``), so an answer is
        seen as it arrives rather than at the next tick of a poll.
        """
        deadline = time.monotonic() + timeout_secs
        while True:
            pump.drain()
            if done():
                return True
            if time.monotonic() > deadline:
                return False
            pump.wait(POLL_SECS)


class WallClockDriver:
    """Real time: fetch the newest daily bars after each release time; stop on --until, --duration, --once or a signal."""

    def __init__(self, rule: CalendarRelease, tickers: Sequence[str], *, stop: StopFlag, once: bool, until: date | None,
                 duration_secs: float | None, status: Callable[[], None] | None = None, signals: SignalFile | None = None) -> None:  # fmt: skip
        self.rule = rule
        self.tickers = tuple(tickers)
        self.stop = stop
        self.once = once
        self.until = until
        self.started = time.monotonic()
        self.duration_secs = duration_secs
        self.status = status
        self.signals = signals
        self._next_fetch: datetime | None = None

    def advance(self, pump: BarPump) -> bool:
        if self.signals is not None:
            self.signals.refresh()  # appended rows are read (and bad ones reported) within the second
        if self.stop or self.once:
            return False
        if self.duration_secs is not None and time.monotonic() - self.started >= self.duration_secs:
            self.stop.set("--duration elapsed")
            return False
        now = pump.wall_clock()
        if self.until is not None and now.date() > self.until:
            self.stop.set("--until reached")
            return False
        last = pump.buffer.released_through or now.date()
        due = self.rule.release_time(self.rule.next_session(last))  # when the next day's bar becomes final
        if now >= due and (self._next_fetch is None or now >= self._next_fetch):
            pump.submit(RequestHistory(self.tickers, duration="2 D", warmup=False))
            self._next_fetch = now + timedelta(seconds=60)  # IB's bar may lag the open a little: ask again each minute
        if self.status is not None:
            self.status()
        time.sleep(0.2)
        return True


# --- the session ------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionResult:
    run_dir: Path
    summary: dict[str, Any]
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    equity: list[dict[str, Any]]
    events: list[dict[str, Any]]
    final_cash: float  # TotalCashValue at the end, as IB reports it


def _cents(value: float | None) -> int | None:
    return None if value is None or not math.isfinite(value) else round(value * 100)


def wait_active(session: IBSession, timeout_secs: float) -> None:
    """Until the session is ACTIVE with an account snapshot; a HALTED session is refused at once, naming why.

    A connect that failed for good (a client id still in use after its retries, an account this
    login does not manage) HALTs the session, so it ends here at once; a connect still retrying
    (a closed port, no answer) ends at ``timeout_secs`` with the last attempt's words. Both name
    host, port and client id.
    """
    session.wait_for_state(SessionState.ACTIVE, SessionState.HALTED, timeout=timeout_secs)
    failure = session.connect_failure()
    if session.state is SessionState.HALTED:
        if failure is not None and failure.final:
            why = failure.message
        else:
            reasons = [
                e.reason
                for e in session.poll_events()
                if isinstance(e, SessionStateChanged) and e.new == SessionState.HALTED
            ]
            why = reasons[-1] if reasons else "no reason reported"
        raise SafetyError(f"the IB session is HALTED: {why}; nothing was traded (see `spine status`, `spine resume`)")
    if session.state is not SessionState.ACTIVE:
        s = session.settings
        if failure is not None:
            raise BrokerError(
                f"the IB session did not become ACTIVE within {timeout_secs:g} s: {failure.message}; nothing was traded"
            )
        raise BrokerError(
            f"the IB session at {s.host}:{s.port} (client id {s.client_id}) did not become ACTIVE within "
            f"{timeout_secs:g} s (state {session.state}); nothing was traded"
        )
    deadline = time.monotonic() + timeout_secs
    while session.account_snapshot() is None:
        if time.monotonic() > deadline:
            raise BrokerError("the IB session sent no account snapshot; nothing is traded without one")
        time.sleep(0.01)


def fetch_history(
    session: IBSession, tickers: Sequence[str], duration: str, *, timeout_secs: float = 120.0,
    keep_up_to_date: bool = False,
) -> tuple[list[Bar], list[Any]]:  # fmt: skip
    """Daily bars from the session (regular hours), waiting for the command to finish; (bars, other events).

    With ``keep_up_to_date`` the requests stay open: every bar IB pushes later comes as a live ``Bar`` event.
    """
    command = RequestHistory(tuple(tickers), duration=duration, warmup=True, keep_up_to_date=keep_up_to_date)
    future = session.submit(command)
    future.result(timeout_secs)
    bars: list[Bar] = []
    others: list[Any] = []
    for event in session.poll_events():
        (bars if isinstance(event, Bar) else others).append(event)
    have = {b.ticker for b in bars}
    missing = [t for t in tickers if t.upper() not in have]
    if missing:
        raise BrokerError(
            f"IB sent no daily bars for {', '.join(missing)}; a session never trades a ticker it cannot warm up"
        )
    return bars, others


def split_warmup(bars: Sequence[Bar], trade_from: date, count: int) -> tuple[list[Bar], list[Bar]]:
    """The last ``count`` bars before ``trade_from`` per ticker (warm-up) and the bars from it on."""
    warm: list[Bar] = []
    live: list[Bar] = []
    by_ticker: dict[str, list[Bar]] = {}
    for bar in bars:
        by_ticker.setdefault(bar.ticker, []).append(bar)
    for ticker_bars in by_ticker.values():
        ticker_bars.sort(key=lambda b: b.day)
        before = [b for b in ticker_bars if b.day < trade_from]
        warm.extend(
            Bar(b.ticker, b.day, b.open, b.high, b.low, b.close, b.volume, True) for b in before[-count:] if count > 0
        )
        live.extend(
            Bar(b.ticker, b.day, b.open, b.high, b.low, b.close, b.volume, False)
            for b in ticker_bars
            if b.day >= trade_from
        )
    return warm, live


def build_session_cerebro(config: SpineConfig, pump: BarPump, signals: SignalFile, *, events: EventLog, store: StateStore,
                          route: str, trade_from: date | None, wall_clock: Callable[[], datetime],
                          intraday_breaker: bool = False, vix_line: VixLine | None = None,
                          handoff_timeout_secs: float = 0.0,
                          run_folder: LiveRunFolder | None = None) -> tuple[bt.Cerebro, IBBroker]:  # fmt: skip
    """The backtest's harness over IBBroker and live feeds, under the top-level risk limits.

    With ``run_folder``, the recorder appends each order, fill and equity row to it as it records it.
    """
    cerebro = bt.Cerebro(stdstats=False, quicknotify=True)
    feeds = []
    for ticker in pump.tickers:
        feed = LiveDailyFeed(pump=pump, name=ticker)
        cerebro.adddata(feed, name=ticker)
        feeds.append(feed)
    vix_feed = None
    if "VIX" in pump.context:
        vix_feed = LiveDailyFeed(pump=pump, name="VIX")
        cerebro.adddata(vix_feed, name="VIX")
    breaker = CircuitBreaker(config, store=store)
    gate = RiskGate(config, execution_allowed=True, route=route, breaker=breaker, on_event=events.record)
    kill = store.kill_switch()
    if kill.active:  # fail closed from the first order: a kill set while no session ran still holds
        gate.halt(f"kill switch active since {kill.at}: {kill.reason}", wall_clock())
    broker = IBBroker(session=pump, gate=gate, account_max_age_secs=config.trading.ib.account_max_age_secs, on_event=events.record,
                      wall_clock=wall_clock, intraday_breaker=intraday_breaker, vix_line=vix_line,
                      handoff_timeout_secs=handoff_timeout_secs)  # fmt: skip
    broker.watch(feeds)
    wiring = HarnessWiring(
        tradable=pump.tickers,
        signals=signals,
        limits=config.risk,
        kill_max_drawdown=config.kill_switch.max_drawdown_fraction,
        vix_feed=vix_feed,
        poll_manual_kill=True,
        trade_from=trade_from,
        intraday_kill=intraday_breaker,  # the same intraday feed: NetLiquidation, and the VIX quote when there is one
    )
    wire_harness(cerebro, config, broker, breaker, wiring, events=events, store=store)
    if run_folder is not None:
        for analyzer, _args, kwargs in cerebro.analyzers:
            if analyzer is RunRecorder:
                kwargs["sink"] = run_folder.row
    return cerebro, broker


def session_summary(config: SpineConfig, route: str, strategy: bt.Strategy, broker: IBBroker, tickers: Sequence[str],
                    signals_path: Path, start_value: float, elapsed: float) -> dict[str, Any]:  # fmt: skip
    """The session's facts; the statistics (return, drawdown, Sharpe, trades...) are added by ``write_reports``."""
    summary = run_summary(config, strategy, route=route, limits=config.risk, tickers=tickers, signals_path=signals_path,
                          start_value=start_value, end_value=float(broker.getvalue()), elapsed=elapsed)  # fmt: skip
    summary["final_cash"] = broker.account_value("TotalCashValue")
    summary["commands_sent"] = len(broker.sent)
    return summary


@contextmanager
def session_run_folder(out_dir: Path, kind: str, config: SpineConfig, events: EventLog,
                       tickers: Sequence[str]) -> Iterator[LiveRunFolder]:  # fmt: skip
    """The session's run folder from its start (``paper-…``/``rehearse-…``, ``latest`` pointing at it).

    Rows are appended as the session records them, so a killed session leaves them for
    ``spine report``; a session that fails before recording a row leaves no folder.
    """
    folder = LiveRunFolder.open(out_dir, kind, config, events, tickers=tickers)
    try:
        yield folder
    except BaseException:
        folder.abandon()
        raise


def write_session_folder(folder: LiveRunFolder, config: SpineConfig, strategy: bt.Strategy, events: EventLog,
                         summary: dict[str, Any], state_dir: Path, *, show_account: bool = False) -> Path:  # fmt: skip
    """Finish the session's run folder: the complete CSVs, config (account ids masked unless ``show_account``),
    summary, reports and the journal's copy."""
    folder.finish(config, strategy, events, summary, show_account=show_account)
    write_reports(folder.path)
    journal = state_dir / JOURNAL_FILE
    if journal.is_file():
        shutil.copy2(journal, folder.path / JOURNAL_FILE)
    return folder.path


def tickers_of(signals: SignalFile, available: Sequence[str] | None = None) -> tuple[str, ...]:
    wanted = sorted({r.ticker for r in signals.initial})
    if available is not None:
        wanted = [t for t in wanted if t in set(available)]
    if not wanted:
        named = sorted({r.ticker for r in signals.initial})
        have = f"; the prices hold {', '.join(sorted(available)[:20])}" if available is not None else ""
        raise InputError(
            f"{signals.path}: no signal names a ticker with prices (the rows name {', '.join(named[:20]) or 'none'}{have}); "
            "expected rows with a ticker that has prices"
        )
    return tuple(wanted)
