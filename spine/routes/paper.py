"""``spine paper``: the harness on an IB paper account (or ``spine gateway``), on the wall clock.

Sequence (the seed's section 3, run at start and then for every released day): the
session connects and reconciles (``IBSession``: SYNCING until open orders, executions
and positions match the journal), the account is refreshed, the breaker's latch is read,
every due signal becomes a gated bracket, and NAV is recorded. ``--once`` does that a
single time on the latest final daily bar and exits.

Bars: the history loaded at start is the warm-up (ATR period plus the breaker's
lookback, never producing orders) followed by the latest final day, which is the first
trading bar; after that, day D's final bar is released at ``paper.release_at`` on the next
trading day of ``paper.exchange_calendar``. An orderRef already in the journal (an intent
sent by an earlier session on the same state folder) is never sent again.

One session per state folder: every input (signals, ``--out``, the state folder) is
checked and the folder's lock taken (``spine.safety.state_lock``) before connecting; a
second session on the folder is refused (exit 2) naming the running one's pid and start.

Ctrl-C or SIGTERM stops at the next step: working orders stay at IB unless
``--cancel-on-exit``, which cancels working entries (the stop and take-profit of a held
position stay); ``--flatten-on-exit`` also closes the session's positions at market.
The run folder is written at the end, with the journal copied in. After Ctrl-C or SIGTERM
the session disconnects first and the process ends at once: the folder gets its CSVs and
``summary.json`` with the statistics, and the drawn reports (``pnl.png``, ``report.html``,
``trades.csv``, ``returns.csv``) are left to ``spine report <folder>``, which the last line
names.

The status line (stderr; redrawn each second on a terminal, otherwise printed when it
changes, at most once a second, and once a minute) reads the session's latest account
snapshot and the state folder's kill switch each time: NAV, day P&L against the day's
opening NAV, and the gate HALTED within a second of ``spine kill``.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from spine.config import SpineConfig
from spine.core.errors import BrokerError, InputError, SafetyError
from spine.core.events import EventLog
from spine.data.signal_source import SignalFile
from spine.feeds.live import BarPump
from spine.feeds.release import CalendarRelease
from spine.ib import IBSession, SessionSettings
from spine.ib.journal_check import check_journal
from spine.ib.records import Flatten, Quote, SessionError, SessionState, SessionStateChanged
from spine.reports.build import write_reports
from spine.routes.harness import warmup_bar_count
from spine.routes.session import (
    JOURNAL_FILE,
    SessionResult,
    StopFlag,
    WallClockDriver,
    build_session_cerebro,
    check_out_dir,
    check_state_folder,
    fetch_history,
    require_paper,
    session_run_folder,
    session_summary,
    split_warmup,
    stopping_on_signals,
    tickers_of,
    took_over,
    wait_active,
    write_session_folder,
)
from spine.runs import summary as runs_summary
from spine.safety.state_lock import StateLock
from spine.safety.state_store import StateStore
from spine.safety.vix_line import VixLine

ACK_WAIT_SECS = 10.0
FLATTEN_WAIT_SECS = 30.0  # how long --flatten-on-exit waits for the closing orders to be handed to IB
HANDOFF_TIMEOUT_SECS = (
    0.01  # IBBroker waits (GIL released) this long at most for each order to reach ib_async; see README
)
VIX_SYMBOL = "VIX"  # quoted as an index, IND on CBOE (SessionSettings.vix_exchange)
INTERRUPTS = frozenset({"SIGINT", "SIGTERM"})  # StopFlag reasons of Ctrl-C and SIGTERM


@dataclass(frozen=True)
class PaperRequest:
    config: SpineConfig
    state_dir: Path
    signals: Path
    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 1
    out_dir: Path = Path("runs")
    until: date | None = None
    duration_secs: float | None = None
    once: bool = False
    cancel_on_exit: bool = False  # cancel working entries when stopping; protective legs of held positions stay
    flatten_on_exit: bool = False  # also close the session's positions at market when stopping (cancels their legs)
    connect_timeout_secs: float = 30.0
    show_account: bool = False  # write the account ids into the run folder's config/ (masked by default)
    vix_wait_secs: float = (
        5.0  # how long after ACTIVE the first VIX index quote may take before the trigger is reported off
    )
    vix_max_age_secs: float = 120.0  # a VIX quote older than this is stale: an event and the status line say so
    require_vix: bool = False  # --require-vix: no VIX index quote at start is an error (exit 2), not a warning
    account_refresh_secs: float = (
        15.0  # how often the IB thread publishes NetLiquidation (breaker and kill switch, intraday)
    )


def journaled_refs(state_dir: Path) -> set[str]:
    """orderRefs an earlier session on this state folder already handed to IB (read-only)."""
    path = state_dir / JOURNAL_FILE
    if not path.is_file():
        return set()
    from spine.ib.journal import Journal

    journal = Journal(path)
    try:
        return {order.order_ref for order in journal.orders()}
    finally:
        journal.close()


class StatusLine:
    """The live status line: session state, NAV, day P&L, open orders, gate state, VIX (see the module docstring)."""

    def __init__(self, session: IBSession, holder: dict[str, object], stream=sys.stderr) -> None:
        self.session = session
        self.holder = holder
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last = float("-inf")
        self._shown = ""

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._last < 1.0:
            return
        text = self.text()
        if text is None or (not self.tty and text == self._shown and now - self._last < 60.0):
            return
        self._last, self._shown = now, text
        self.stream.write(("\r" + text.ljust(100)) if self.tty else text + "\n")
        self.stream.flush()

    def text(self) -> str | None:
        broker = self.holder.get("broker")
        if broker is None:
            return None
        gate = broker.gate  # type: ignore[attr-defined]
        snapshot = self.session.account_snapshot()
        live = snapshot.value("NetLiquidation") if snapshot is not None else None
        nav = float(live) if live is not None else float(broker.getvalue())  # type: ignore[attr-defined]
        text = (f"session {self.session.state} | NAV {nav:,.2f} | day P&L {gate.day_pnl_at(nav):,.2f} | "
                f"open orders {len(broker.open_orders())} | gate {self._gate_state(gate)}")  # type: ignore[attr-defined]  # fmt: skip
        line = broker.vix_line  # type: ignore[attr-defined]
        return text + f" | {line.status(datetime.now(UTC)) if line is not None else 'VIX trigger off'}"

    def _gate_state(self, gate) -> str:  # type: ignore[no-untyped-def]
        """The gate's state; HALTED as soon as the state folder holds a kill (the IB thread acts on it at once,
        the gate at the next bar)."""
        store = self.holder.get("store")
        if store is not None and store.kill_switch().active:  # type: ignore[attr-defined]
            return "HALTED (kill switch)"
        return str(gate.state)


def run_paper(request: PaperRequest, *, stop: StopFlag | None = None) -> SessionResult:
    """Check every input, take the state folder's lock, then connect and trade, writing the run folder as it goes."""
    config = request.config
    require_paper(config, "spine paper")
    check_out_dir(request.out_dir)
    stop = stop if stop is not None else StopFlag()
    events = EventLog()
    signals = SignalFile(
        request.signals, on_bad_row=lambda message: events.record(datetime.now(UTC), "bad_signal_row", message)
    )
    tickers = tickers_of(signals)
    paper = config.paper
    rule = CalendarRelease(paper.exchange_calendar, paper.timezone, paper.release_at)
    count = warmup_bar_count(config.strategy.atr_period)
    settings = SessionSettings.from_config(config, request.state_dir, host=request.host, port=request.port,
                                           client_id=request.client_id, tickers=tickers, vix_symbol=VIX_SYMBOL)  # fmt: skip
    settings = settings.model_copy(update={"account_refresh_secs": request.account_refresh_secs})
    refusal = settings.refuses_port()
    if refusal:
        raise SafetyError(f"spine paper refuses: {refusal}")
    check_journal(request.state_dir / JOURNAL_FILE)  # a damaged journal: refused before the lock is made beside it
    with StateLock.hold(request.state_dir, "spine paper") as lock:
        took_over(lock, events)
        check_state_folder(request.state_dir)
        known = journaled_refs(request.state_dir)  # read under the lock: no other session can add to it meanwhile
        session = IBSession(settings)
        holder: dict[str, object] = {}
        with session_run_folder(request.out_dir, "paper", config, events, tickers) as run_folder:
            holder["run_folder"] = run_folder
            with stopping_on_signals(stop):
                strategy, summary, status = _trade(
                    request, session, signals, events, rule, count, known, stop, holder, tickers
                )
            if status.tty:
                sys.stderr.write("\n")
            if stop.reason in INTERRUPTS:
                run_dir = _write_folder_at_once(
                    run_folder,
                    config,
                    strategy,
                    events,
                    summary,
                    request.state_dir,
                    stop.reason,
                    show_account=request.show_account,
                )
            else:
                run_dir = write_session_folder(
                    run_folder, config, strategy, events, summary, request.state_dir, show_account=request.show_account
                )
    recorder = strategy.analyzers.recorder
    return SessionResult(run_dir, summary, recorder.orders, recorder.fills, recorder.equity,
                         [{"datetime": e.datetime, "event": e.event, "detail": e.detail} for e in events.events],
                         float(summary["final_cash"]))  # fmt: skip


def _write_folder_at_once(folder, config: SpineConfig, strategy, events: EventLog, summary: dict,  # type: ignore[no-untyped-def]
                          state_dir: Path, why: str, *, show_account: bool = False) -> Path:  # fmt: skip
    """After Ctrl-C: the CSVs, ``summary.json`` with its statistics and the journal's copy; drawing is left to
    ``spine report``, so the process ends within a second or two of the signal."""
    folder.finish(config, strategy, events, summary, show_account=show_account)
    write_reports(folder.path, outputs="statistics")
    journal = state_dir / JOURNAL_FILE
    if journal.is_file():
        shutil.copy2(journal, folder.path / JOURNAL_FILE)
    print(f"stopped ({why}): run folder {folder.path}; `spine report {folder.path}` draws "
          "its reports", file=sys.stderr, flush=True)  # fmt: skip
    return folder.path


def _trade(request: PaperRequest, session: IBSession, signals: SignalFile, events: EventLog, rule: CalendarRelease, count: int,
           known: set[str], stop: StopFlag, holder: dict[str, object], tickers: tuple[str, ...]):  # type: ignore[no-untyped-def]  # fmt: skip
    """Connect, warm up, run Backtrader until the driver stops; always stop the session."""
    config = request.config
    session.start()
    try:
        wait_active(session, request.connect_timeout_secs)
        _positions_spine_did_not_open(session, tickers, events)
        print(
            f"session {session.state}: {request.host}:{request.port} client {request.client_id}, tickers {', '.join(tickers)}",
            file=sys.stderr,
            flush=True,
        )
        vix_status, vix_line = _vix_at_start(request, session, events)
        bars, others = fetch_history(session, tickers, f"{2 * count + 10} D")
        _record_session_events(events, others)
        now = datetime.now(UTC)
        final_days = sorted({b.day for b in bars if rule.is_final(b.day, now)})
        if not final_days:
            raise BrokerError("IB sent no final daily bar yet; nothing to trade on")
        trade_from = final_days[-1]  # the latest final bar is the first trading bar
        warm, live = split_warmup(bars, trade_from, count)
        status = StatusLine(session, holder)
        driver = WallClockDriver(rule, tickers, stop=stop, once=request.once, until=request.until,
                                 duration_secs=request.duration_secs, status=status, signals=signals)  # fmt: skip
        pump = BarPump(session, tickers, rule, driver=driver)
        pump.load_warmup(warm)
        pump.buffer.add(live)
        with StateStore.in_folder(request.state_dir) as store:
            holder["store"] = store
            cerebro, broker = build_session_cerebro(config, pump, signals, events=events, store=store, route="paper",
                                                    trade_from=trade_from, wall_clock=lambda: datetime.now(UTC),
                                                    intraday_breaker=True, vix_line=vix_line,
                                                    handoff_timeout_secs=HANDOFF_TIMEOUT_SECS,
                                                    run_folder=holder.get("run_folder"))  # type: ignore[arg-type]  # fmt: skip
            broker.known_refs = known
            holder["broker"] = broker
            start_value = float(session.account_snapshot().value("NetLiquidation") or 0.0)  # type: ignore[union-attr]
            started = time.perf_counter()
            strategy = cerebro.run()[0]
            _wait_for_acks(pump, broker)
            # Backtrader delivers notifications only on a bar; the answers to the last bar's orders came after
            # it. quicknotify hands them to the strategy and the recorder at once (Backtrader's own call).
            cerebro._brokernotify()
            elapsed = time.perf_counter() - started
            summary = session_summary(config, "paper", strategy, broker, tickers, request.signals, start_value, elapsed)
            summary["stopped_by"] = stop.reason or ("--once" if request.once else "end")
            summary["unprotected"] = {
                ticker: {"seconds": round(total, 3), "longest_seconds": round(longest, 3), "episodes": episodes}
                for ticker, (total, longest, episodes) in sorted(session.unprotected().items())
            }
            summary["trade_from"] = trade_from.isoformat()
            summary["kill_switch"]["vix_trigger"] = vix_status
            summary["kill_switch"]["vix_quote"] = vix_line.status(datetime.now(UTC)) if vix_line is not None else None
            holder.pop("store", None)
    finally:
        if request.flatten_on_exit:
            _flatten_at_exit(session, tickers, events)
        session.stop(cancel_working=request.cancel_on_exit or request.flatten_on_exit)
    return strategy, summary, status


def _positions_spine_did_not_open(session: IBSession, tickers: tuple[str, ...], events: EventLog) -> None:
    """Said at start and left alone; a ticker the signals trade is refused (exit 2) unless they are ignored."""
    report = session.external_positions()
    if report is None or not report.positions:
        return
    detail = report.describe()
    events.record(datetime.now(UTC), "external_positions", detail)
    print(f"warning: IB holds positions Spine did not open, left alone: {detail}", file=sys.stderr, flush=True)
    traded = sorted(set(report.tickers) & set(tickers))
    if report.refused and traded:
        raise SafetyError(
            f"{', '.join(traded)}: IB holds positions Spine did not open ({detail}) and the signals trade "
            f"{', '.join(traded)}; close them, or set trading.ib.external_positions: ignore to trade beside them"
        )


def _flatten_at_exit(session: IBSession, tickers: tuple[str, ...], events: EventLog) -> None:
    """``--flatten-on-exit``: cancel the session's tickers' working orders and close their positions at market."""
    if session.state is not SessionState.ACTIVE:
        message = f"--flatten-on-exit: not closing positions, the IB session is {session.state}; check the account"
        print(f"warning: {message}", file=sys.stderr, flush=True)
        events.record(datetime.now(UTC), "flatten_skipped", message)
        return
    snapshot = session.account_snapshot()
    positions = snapshot.positions if snapshot is not None else ()
    held = {p.symbol.upper(): p.position for p in positions if p.symbol.upper() in tickers and p.position}
    try:
        session.submit(Flatten("--flatten-on-exit", tickers)).result(FLATTEN_WAIT_SECS)
    except Exception as exc:  # noqa: BLE001 - the session stops next either way; say what did not happen
        message = f"--flatten-on-exit: the closing orders were not confirmed sent ({exc}); check the account"
        print(f"warning: {message}", file=sys.stderr, flush=True)
        events.record(datetime.now(UTC), "flatten_failed", message)
        return
    closing = ", ".join(f"{t} {q:+g}" for t, q in sorted(held.items())) or "no position"
    events.record(
        datetime.now(UTC),
        "flatten",
        f"--flatten-on-exit: closing at market {closing}; working orders of {', '.join(tickers)} cancelled",
    )


def vix_trigger_status(config: SpineConfig, quote: Quote | None, wait_secs: float) -> str:
    """``summary.json`` ``kill_switch.vix_trigger`` on ``spine paper``: ``on: …`` or ``off: <why>``; never silent."""
    source = f"{VIX_SYMBOL} index quote (IND CBOE), intraday" if quote is not None and quote.last is not None else None
    missing = f"no {VIX_SYMBOL} index quote (IND CBOE) from IB within {wait_secs:g} s of the session becoming ACTIVE"
    return runs_summary.vix_trigger_status(
        config.risk, config.kill_switch.vix_threshold, source=source, missing=missing
    )


def _vix_at_start(request: PaperRequest, session: IBSession, events: EventLog) -> tuple[str, VixLine | None]:
    """Wait briefly for the first VIX index quote; say so (console, event, summary) when the trigger has none."""
    deadline = time.monotonic() + request.vix_wait_secs
    while (
        (quote := session.last_quote(VIX_SYMBOL)) is None
        and time.monotonic() < deadline
        and not session.index_missing(VIX_SYMBOL)
    ):
        time.sleep(0.01)
    status = vix_trigger_status(request.config, quote, request.vix_wait_secs)
    now = datetime.now(UTC)
    if status.startswith("off: no"):
        if request.require_vix:
            raise InputError(
                f"--require-vix: the VIX kill-switch trigger is {status}; check the gateway's market data for IND CBOE VIX"
            )
        print(f"warning: VIX kill-switch trigger is {status}", file=sys.stderr, flush=True)
        events.record(now, "vix_trigger_off", status[len("off: ") :])
    if not request.config.risk.kill_switch:
        return status, None
    line = VixLine(VIX_SYMBOL, request.vix_max_age_secs, now, events.record)
    if quote is not None:
        line.update(quote.last, quote.at)
    return status, line


def _wait_for_acks(pump: BarPump, broker) -> None:  # type: ignore[no-untyped-def]
    """Before stopping, let every order handed to the IB thread get its first answer (so none is left in flight)."""
    deadline = time.monotonic() + ACK_WAIT_SECS
    while time.monotonic() < deadline:
        pump.drain()
        if all(ref in pump.last_status for ref in broker.sent_refs):
            break
        time.sleep(0.01)


def _record_session_events(events: EventLog, others: list) -> None:  # type: ignore[type-arg]
    for event in others:
        if isinstance(event, SessionStateChanged):
            events.record(event.at, "session_state", f"{event.old} -> {event.new}: {event.reason}")
        elif isinstance(event, SessionError):
            events.record(event.at, "session_error", f"{event.code}: {event.message}")
