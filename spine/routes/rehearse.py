"""``spine rehearse``: a paper session against the gateway simulator in-process, in lockstep, deterministic.

The simulator (``spine.gateway``) runs on its own thread and serves the real ib_async
client of an ``IBSession`` over a loopback socket. The simulator's clock is stepped to the
first trading day before the session connects; the session then loads the history up to
the clock (``reqHistoricalData``: the warm-up, ATR period plus the breaker's lookback, is
the bars before the first trading day, which a gateway serves before its ``--start``).
The simulator never serves a bar past its clock, so every later day comes from the
simulator as the clock reaches it: the warm-up's requests stay open (keepUpToDate), and
``LockstepDriver`` steps the clock one bar at a time, after the session has caught up; the
simulator pushes each new day's bars to those requests with the day's fills and account
values, and the next day is released only once they have all arrived, so a market entry
decided on day D's close fills at D+1's open, exactly as in the backtest. The account starts with ``backtest.cash`` and fills use the
backtest's fill model (the simulator shares ``FillModel``), so the same config, data and
signals give the same orders as ``spine backtest`` (the parity promise).

It rehearses paper: the same envelope checks and top-level ``risk`` limits as
``spine paper``, so with the shipped defaults it refuses, naming every blocker.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from brokers import FillModel
from spine.config import SpineConfig
from spine.core.errors import InputError
from spine.core.events import EventLog
from spine.data.prices import load_prices, load_vix
from spine.data.signal_source import SignalFile
from spine.feeds.live import BarPump
from spine.feeds.release import ReplayRelease
from spine.gateway import GatewaySettings, GatewayThread, MarketClock
from spine.ib import IBSession, SessionSettings
from spine.ib.records import Bar
from spine.routes.harness import warmup_bar_count
from spine.routes.session import (
    LockstepDriver,
    SessionResult,
    StopFlag,
    build_session_cerebro,
    check_out_dir,
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

REHEARSAL_ACCOUNT = "DU0000001"
REPLAY_PACING_SCALE = 1e-6  # one history request per ticker per step: IB's wall-clock windows shrink to microseconds


@dataclass(frozen=True)
class RehearseRequest:
    config: SpineConfig
    data: tuple[Path, ...]
    signals: Path
    start: date | None = None
    end: date | None = None
    out_dir: Path = Path("runs")
    state_dir: Path | None = None  # default: a fresh temporary folder (the journal is copied to the run folder)
    vix: Path | None = None  # an index file read as the kill switch's VIX feed, released day by day with the prices
    client_id: int = 1
    show_account: bool = False  # write the account ids into the run folder's config/ (masked by default)


def run_rehearsal(request: RehearseRequest, *, stop: StopFlag | None = None) -> SessionResult:
    """Refuse unless paper is allowed; otherwise rehearse and write the run folder."""
    config = request.config
    require_paper(config, "spine rehearse")
    check_out_dir(request.out_dir)
    stop = stop if stop is not None else StopFlag()
    events = EventLog()
    signals = SignalFile(
        request.signals, on_bad_row=lambda message: events.record(datetime.now(UTC), "bad_signal_row", message)
    )
    series = load_prices(list(request.data), end=request.end)
    tickers = tickers_of(signals, tuple(series))
    series = {t: series[t] for t in tickers}
    market = MarketClock(series)
    count = warmup_bar_count(config.strategy.atr_period)
    trade_from = _trade_from(market, request.start, count)
    gateway_settings = GatewaySettings(data=request.data, port=0, account=REHEARSAL_ACCOUNT, cash=config.backtest.cash,
                               fill_model=FillModel.from_settings(config.backtest))  # fmt: skip
    vix_status = rehearsal_vix_status(config, request.vix, trade_from, request.end)
    if vix_status.startswith("off: "):  # as the backtest: a kill switch without its VIX is never silent
        print(f"warning: VIX kill-switch trigger is {vix_status}", file=sys.stderr, flush=True)
        events.record(datetime.now(UTC), "vix_trigger_off", vix_status[len("off: ") :])
    with tempfile.TemporaryDirectory(prefix="spine-rehearse-") as scratch:
        state_dir = request.state_dir if request.state_dir is not None else Path(scratch) / "state"
        with (
            StateLock.hold(state_dir, "spine rehearse") as held,
            session_run_folder(request.out_dir, "rehearse", config, events, tickers) as run_folder,
            stopping_on_signals(stop),
            GatewayThread(gateway_settings, market) as gateway,
        ):
            took_over(held, events)
            while gateway.call(lambda: market.now.date()) < trade_from and not gateway.call(lambda: market.at_end):
                gateway.step(1)  # the simulator's clock waits on the first trading day; earlier bars are history
            # The rehearsal's clock is the simulator's, not the wall's: snapshots never go stale by wall time.
            settings = SessionSettings.from_config(
                config, state_dir, host="127.0.0.1", port=gateway.port, client_id=request.client_id, tickers=tickers
            )
            # Nor do IB's historical pacing and message rate apply to replay time: the simulator enforces
            # neither, so the session's pacer shrinks to microseconds, its order messages go unspaced and
            # ib_async's throttle is off (brackets still reach the simulator parent, take-profit, stop).
            session = IBSession(
                settings.model_copy(
                    update={
                        "paper_account": REHEARSAL_ACCOUNT,
                        "account_max_age_secs": 1e9,
                        "pacing_scale": REPLAY_PACING_SCALE,
                        "order_messages_per_sec": 0.0,
                        # The clock waits for every answer: a close's cancels and exit are settled before the next
                        # bar, as in the backtest, and orders reach the simulator in the backtest's order.
                        "leg_cancel_grace_secs": 0.0,
                        "hold_entry_for_exit": False,
                    }
                ),
                ib_factory=unthrottled_ib,
            )
            session.start()
            try:
                wait_active(session, 30.0)
                bars, _ = fetch_history(session, tickers, f"{len(market.timeline) + count + 5} D", keep_up_to_date=True)
                warm, live = split_warmup(
                    [b for b in bars if request.end is None or b.day <= request.end], trade_from, count
                )
                holder: dict[str, object] = {}
                driver = LockstepDriver(
                    gateway,
                    lambda: holder.get("broker"),  # type: ignore[arg-type,return-value]
                    end=request.end,
                    stop=stop,
                    tickers=tickers,
                    kill_active=lambda: holder.get("kill_since_start") is True and holder["store"].kill_switch().active,  # type: ignore[attr-defined]
                )
                context = ("VIX",) if request.vix is not None else ()
                pump = BarPump(session, tickers, ReplayRelease(driver.clock_day), driver=driver, context=context)
                if request.vix is not None:
                    vix_warm, vix_live = vix_bars(request.vix, {b.day for b in warm}, trade_from, request.end)
                    warm, live = warm + vix_warm, live + vix_live
                pump.load_warmup(warm)
                pump.buffer.add(live)
                driver.sync_account(pump)
                with StateStore.in_folder(state_dir) as store:
                    cerebro, broker = build_session_cerebro(config, pump, signals, events=events, store=store, route="paper",
                                                            trade_from=trade_from, wall_clock=lambda: datetime.now(UTC),
                                                            run_folder=run_folder)  # fmt: skip
                    holder["broker"], holder["store"] = broker, store
                    # A kill already in the state folder was executed at connect (its event came with the
                    # history); only a kill set during the rehearsal is waited for before the clock moves on.
                    holder["kill_since_start"] = not store.kill_switch().active
                    started = time.perf_counter()
                    strategy = cerebro.run()[0]
                    elapsed = time.perf_counter() - started
                    summary = session_summary(
                        config,
                        "rehearse",
                        strategy,
                        broker,
                        tickers,
                        request.signals,
                        float(config.backtest.cash),
                        elapsed,
                    )
                    summary["stopped_by"] = stop.reason or "end of data"
                    summary["kill_switch"]["vix_trigger"] = vix_status
                    summary["simulator_steps"] = driver.steps
            finally:
                session.stop(cancel_working=False)
            run_dir = write_session_folder(
                run_folder, config, strategy, events, summary, state_dir, show_account=request.show_account
            )
    recorder = strategy.analyzers.recorder
    return SessionResult(run_dir, summary, recorder.orders, recorder.fills, recorder.equity,
                         [{"datetime": e.datetime, "event": e.event, "detail": e.detail} for e in events.events],
                         float(summary["final_cash"]))  # fmt: skip


def unthrottled_ib() -> Any:
    """ib_async's ``IB`` without its wall-clock message throttle (45 messages a second), built on the IB thread.

    Only against the in-process simulator: it enforces no message rate, and a rehearsal's
    time is the replay clock's, so the throttle would only hold a day's messages back on
    the wall clock (it capped a rehearsal at about 8 simulated days a second).
    """
    from ib_async import IB

    ib = IB()
    ib.client.MaxRequests = 0  # ib_async: 0 turns the throttle off
    return ib


def rehearsal_vix_status(config: SpineConfig, vix: Path | None, trade_from: date, end: date | None) -> str:
    """``summary.json`` ``kill_switch.vix_trigger`` on ``spine rehearse``: ``on: …`` or ``off: <why>``, as the backtest."""
    source = None
    if vix is not None:
        days = [
            d
            for d in load_vix(vix).dates.astype("datetime64[D]").tolist()
            if d >= trade_from and (end is None or d <= end)
        ]
        source = f"VIX {days[0]}..{days[-1]}" if days else None
    period = f"{trade_from}..{end}" if end is not None else f"{trade_from} on"
    missing = f"no VIX series for {period}" + (f" in {vix}" if vix is not None else " (pass --vix FILE)")
    return runs_summary.vix_trigger_status(
        config.risk, config.kill_switch.vix_threshold, source=source, missing=missing
    )


def vix_bars(path: Path, warm_days: set[date], trade_from: date, end: date | None) -> tuple[list[Bar], list[Bar]]:
    """The index file as bars: on the warm-up days (warm-up) and from the first trading day to ``end``."""
    series = load_vix(path)
    warm, live = [], []
    for k, stamp in enumerate(series.dates.astype("datetime64[D]").tolist()):
        values = (float(series.open[k]), float(series.high[k]), float(series.low[k]), float(series.close[k]), 0.0)
        if stamp in warm_days:
            warm.append(Bar("VIX", stamp, *values, warmup=True))
        elif stamp >= trade_from and (end is None or stamp <= end):
            live.append(Bar("VIX", stamp, *values))
    return warm, live


def _trade_from(market: MarketClock, start: date | None, warmup: int) -> date:
    """The first trading day: --start, or the first day after a full warm-up."""
    days = sorted({d.astype("datetime64[D]").item() for d in market.timeline})
    if start is not None:
        later = [d for d in days if d >= start]
        if not later:
            raise InputError(f"--start {start}: the data ends on {days[-1]}; expected a start inside the data")
        return later[0]
    if len(days) <= warmup:
        raise InputError(f"the data has {len(days)} common days; a rehearsal needs more than the {warmup}-bar warm-up")
    return days[warmup]
