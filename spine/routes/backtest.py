"""``spine backtest``: wire config, data, signals and the Backtrader pieces, run, write the run folder.

The wiring is the product: the same ``SignalStrategy`` and ``LiquiditySizer`` run here
over the ``SimBroker``, whose ``RiskGate`` is the one the paper route uses. A historical
simulation is research, not execution, so it runs whatever ``broker.mode`` says, under
``backtest.risk`` (or the top-level ``risk``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import backtrader as bt
import numpy as np

from analyzers import CircuitBreaker
from brokers import FillModel, RiskGate, SimBroker
from spine.config import SpineConfig
from spine.core.errors import InputError
from spine.core.events import EventLog
from spine.core.resources import SAMPLE_PRICES, SAMPLE_SIGNALS, SAMPLE_VIX
from spine.data.prices import (
    PriceSeries,
    discover_price_files,
    load_prices,
    load_vix,
    ticker_from_path,
)
from spine.data.signals import SignalRecord, load_signals
from spine.feeds.array import ArrayFeed
from spine.reports.build import write_reports
from spine.routes.harness import HarnessWiring, warmup_bar_count, wire_harness
from spine.routes.preflight import check_sectors, refusals_at_start
from spine.runs import summary as runs_summary
from spine.runs.summary import run_summary
from spine.runs.write import (
    atomic_folder,
    point_latest,
    run_folder_name,
    write_run_files,
)
from spine.safety.state_store import StateStore

VIX_FEED = "VIX"


@dataclass(frozen=True)
class BacktestRequest:
    """What to simulate; defaults are the bundled sample."""

    config: SpineConfig
    data: tuple[Path, ...] = ()
    source: Literal["csv", "yfinance"] = "csv"
    signals: Path | None = None
    tickers: tuple[str, ...] | None = None
    start: date | None = None
    end: date | None = None
    out_dir: Path = Path("runs")
    vix: Path | None = None
    state_dir: Path | None = None
    cache_dir: Path = Path("data/cache")
    name: str | None = None  # a label added to the run folder's name (--name)
    require_vix: bool = False  # --require-vix: no usable VIX series is an error, not a warning
    benchmark: str | None = None  # TICKER | FILE | equal-weight (None: equal-weight)
    log_scale: bool = False  # pnl.png's value axis
    outputs: Literal["all", "statistics"] = "all"  # "statistics": a sweep trial's folder, no figures or report.html


@dataclass
class BacktestResult:
    run_dir: Path
    summary: dict[str, Any]
    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    equity: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class BacktestInputs:
    prices: dict[str, PriceSeries]
    signals: list[SignalRecord]
    vix: PriceSeries | None
    signals_path: Path
    vix_path: Path | None = None
    trade_from: date | None = None  # --start: bars before it (when the data has them) only warm up
    left_out: dict[str, int] = field(default_factory=dict)  # --tickers: signals of other tickers, by ticker


def load_inputs(request: BacktestRequest) -> BacktestInputs:
    """Load and validate every input before anything runs or is written."""
    using_sample = not request.data and request.source == "csv"
    if request.data and request.signals is None:
        raise InputError(
            "--signals FILE is required with --data (the bundled sample signals only cover the sample tickers)"
        )
    signals_path = Path(request.signals) if request.signals is not None else SAMPLE_SIGNALS
    if request.source == "yfinance":
        prices = _yfinance_prices(request, signals_path)
    else:
        paths = list(request.data) or [SAMPLE_PRICES]
        tickers = request.tickers or _signalled_tickers(paths, signals_path)
        prices = load_prices(paths, tickers=tickers, start=request.start, end=request.end)
        if request.start is not None:
            prices = with_warmup(
                prices,
                load_prices(paths, tickers=tuple(prices), end=request.end),
                request.start,
                warmup_bar_count(request.config.strategy.atr_period),
            )
    signals = load_signals(signals_path, prices=prices, tickers=request.tickers)
    left_out: dict[str, int] = {}
    if request.tickers is not None:  # said, not silent: the rows --tickers leaves out
        for signal in load_signals(signals_path):
            if signal.ticker not in request.tickers:
                left_out[signal.ticker] = left_out.get(signal.ticker, 0) + 1
    vix_path = (
        request.vix if request.vix is not None else (SAMPLE_VIX if using_sample and SAMPLE_VIX.is_file() else None)
    )
    vix = clip_to_traded_period(load_vix(vix_path), prices) if vix_path is not None else None
    check_window(prices, request.config.strategy.atr_period, request.start)
    return BacktestInputs(
        prices=prices,
        signals=signals,
        vix=vix,
        signals_path=signals_path,
        vix_path=vix_path,
        trade_from=request.start,
        left_out=dict(sorted(left_out.items())),
    )


def _traded(series: PriceSeries, trade_from: date | None) -> np.ndarray:
    """The bar dates from ``trade_from`` on (warm-up bars before it only feed indicators)."""
    if trade_from is None:
        return series.dates
    return series.dates[series.dates >= np.datetime64(trade_from, "ns")]


def check_window(prices: dict[str, PriceSeries], atr_period: int, trade_from: date | None = None) -> None:
    """Refuse a traded window too short for the ATR before anything runs.

    Counted on the traded bars (from ``--start``), not the warm-up bars before it: a
    window of ``atr_period`` bars or fewer cannot hold one full ATR of its own, and with
    no earlier bars in the data Backtrader's ATR would crash on it.
    """
    for ticker, series in prices.items():
        dates = _traded(series, trade_from)
        if len(dates) <= atr_period:
            first, last = (
                (str(dates[0])[:10], str(dates[-1])[:10]) if len(dates) else (str(trade_from), str(trade_from))
            )
            raise InputError(
                f"the window {first}..{last} has {len(dates)} bars for {ticker}; "
                f"the ATR period (strategy.atr_period) is {atr_period}, so at least {atr_period + 1} bars are needed "
                "(widen --start/--end or lower strategy.atr_period)"
            )


def traded_period(prices: dict[str, PriceSeries], trade_from: date | None = None) -> str:
    """``first..last`` of the traded bars (from ``--start``; warm-up bars are not traded)."""
    first = min(_traded(series, trade_from)[0] for series in prices.values() if len(_traded(series, trade_from)))
    last = max(series.dates[-1] for series in prices.values())
    return f"{str(first)[:10]}..{str(last)[:10]}"


def vix_trigger_status(config: SpineConfig, inputs: BacktestInputs, vix_path: Path | None) -> str:
    """``summary.json`` ``kill_switch.vix_trigger``: ``on: …`` or ``off: <why>``; never silent."""
    vix = inputs.vix
    source = f"VIX {str(vix.dates[0])[:10]}..{str(vix.dates[-1])[:10]}" if vix is not None else None
    missing = f"no VIX series for {traded_period(inputs.prices, inputs.trade_from)}" if source is None else ""
    return runs_summary.vix_trigger_status(
        config.backtest_risk, config.kill_switch.vix_threshold, source=source, missing=missing
    )


def with_warmup(
    prices: dict[str, PriceSeries], history: dict[str, PriceSeries], start: date, bars: int
) -> dict[str, PriceSeries]:
    """Each ticker's bars from ``start`` plus up to ``bars`` bars before it, as a session warms up from history."""
    out = {}
    first = np.datetime64(start, "ns")
    for ticker, series in prices.items():
        full = history[ticker]
        begin = max(int(np.searchsorted(full.dates, first, side="left")) - bars, 0)
        stop = begin + int(np.searchsorted(full.dates[begin:], series.dates[-1], side="right"))
        fields = {name: getattr(full, name)[begin:stop] for name in ("dates", "open", "high", "low", "close", "volume")}
        out[ticker] = replace(full, **fields)
    return out


def _signalled_tickers(paths: Sequence[Path], signals_path: Path) -> tuple[str, ...] | None:
    """The tickers that both have a price file and appear in the signals.

    A data folder often holds more files than the signals trade (the shared folder even
    holds the VIX index): only those are loaded, so an unrelated file is neither read nor
    validated. None (load everything) when nothing overlaps, so the signal check names
    the signal row that has no price data.
    """
    available = {ticker_from_path(path) for path in discover_price_files(paths)}
    wanted = sorted({signal.ticker for signal in load_signals(signals_path)} & available)
    return tuple(wanted) or None


def clip_to_traded_period(vix: PriceSeries, prices: dict[str, PriceSeries]) -> PriceSeries | None:
    """The VIX bars inside the traded period only (the VIX file usually spans decades more)."""
    first = min(series.dates[0] for series in prices.values())
    last = max(series.dates[-1] for series in prices.values())
    keep = (vix.dates >= first) & (vix.dates <= last)
    if not keep.any():
        return None
    fields = {name: getattr(vix, name)[keep] for name in ("dates", "open", "high", "low", "close", "volume")}
    return replace(vix, **fields)


def _yfinance_prices(request: BacktestRequest, signals_path: Path) -> dict[str, PriceSeries]:
    from spine.data.yahoo_cache import ensure_cached

    tickers = request.tickers or tuple(sorted({s.ticker for s in load_signals(signals_path)}))
    if request.start is None or request.end is None:
        raise InputError("--source yfinance needs --start and --end (the date range to download)")
    paths = ensure_cached(list(tickers), request.start, request.end, request.cache_dir)
    return load_prices(paths, tickers=tickers, start=request.start, end=request.end)


def build_cerebro(
    config: SpineConfig,
    inputs: BacktestInputs,
    *,
    events: EventLog,
    store: StateStore,
    progress: Callable[[int], None] | None = None,
) -> bt.Cerebro:
    """A Cerebro with the feeds, the gated SimBroker, the strategy, the sizer and the analyzers."""
    cerebro = bt.Cerebro(stdstats=False)
    feeds = []
    for ticker, series in inputs.prices.items():
        feed = ArrayFeed(series=series, name=ticker)
        cerebro.adddata(feed, name=ticker)
        feeds.append(feed)
    vix_feed = None
    if inputs.vix is not None:
        vix_feed = ArrayFeed(series=inputs.vix, name=VIX_FEED)
        cerebro.adddata(vix_feed, name=VIX_FEED)

    limits = config.backtest_risk
    breaker = CircuitBreaker(config, store=store, defer_nav_writes=True)  # a backtest cannot resume mid-run
    gate = RiskGate(
        limits, config.sectors, execution_allowed=True, route="backtest", breaker=breaker, on_event=events.record
    )
    broker = SimBroker(fill_model=FillModel.from_settings(config.backtest), gate=gate)
    broker.setcash(config.backtest.cash)
    broker.watch(feeds)

    by_ticker: dict[str, list[SignalRecord]] = {}
    for signal in inputs.signals:
        by_ticker.setdefault(signal.ticker, []).append(signal)
    wiring = HarnessWiring(
        tradable=tuple(inputs.prices),
        signals=by_ticker,
        limits=limits,
        kill_max_drawdown=abs(config.backtest.max_drawdown_pct),
        vix_feed=vix_feed,
        trade_from=inputs.trade_from,
    )
    wire_harness(cerebro, config, broker, breaker, wiring, events=events, store=store, progress=progress)
    return cerebro


def run_backtest(
    request: BacktestRequest,
    *,
    progress: Callable[[int], None] | None = None,
    notify: Callable[[str], None] | None = None,
    inputs: BacktestInputs | None = None,
    runner: Callable[[bt.Cerebro], bt.Strategy] | None = None,
) -> BacktestResult:
    """Run one historical simulation and write its run folder atomically; return what it wrote.

    ``runner`` runs the built Cerebro and returns its strategy (default: ``cerebro.run()[0]``);
    the owner of a process may pass ``spine.core.process.run_frozen`` to tune the collector
    for the run, as the ``spine`` command and a sweep worker do.

    ``notify`` receives the lines a trader must see before the run starts: a VIX
    trigger that is off, a state that is killed or latched. ``progress`` may have a
    ``set_total(bars)`` method; it is called once the bar count is known. A sweep worker
    passes ``inputs`` it already holds in memory.
    """
    from spine.reports.benchmark import resolve_benchmark

    config = request.config
    say = notify if notify is not None else (lambda line: None)
    inputs = load_inputs(request) if inputs is None else inputs  # a sweep worker passes inputs it holds in memory
    check_sectors(config, config.backtest_risk, list(inputs.prices))  # exit 2 before anything runs or is written
    refusals = refusals_at_start(config, config.backtest_risk)
    for line in refusals:
        say(line)
    left_out = left_out_line(inputs.left_out)
    if left_out:
        say(f"note: {left_out}")
    bar_times = sorted({when for series in inputs.prices.values() for when in series.dates.tolist()})
    benchmark = resolve_benchmark(
        request.benchmark, inputs.prices, bar_times, float(config.backtest.cash), cache_dir=request.cache_dir
    )
    vix_status = vix_trigger_status(config, inputs, inputs.vix_path)
    if vix_status.startswith("off: no VIX"):
        if request.require_vix:
            raise InputError(
                f"--require-vix: the VIX kill-switch trigger is {vix_status}; pass --vix FILE covering the traded period"
            )
        say(f"warning: VIX kill-switch trigger is {vix_status}; {vix_fix(request, inputs.vix_path)}")
    set_total = getattr(progress, "set_total", None)
    if callable(set_total):
        set_total(bar_count(inputs))
    events = EventLog()
    name = run_folder_name(request.out_dir, request.name)
    with atomic_folder(request.out_dir, name) as folder:
        state_dir = request.state_dir if request.state_dir is not None else folder / "state"
        with StateStore.in_folder(state_dir, nav_scope=f"backtest:{name}") as store:
            notice = state_notice(store, state_dir)
            if notice is not None:
                say(notice)
            first_bar = _to_datetime(min(series.dates[0] for series in inputs.prices.values()))
            if vix_status.startswith("off: no VIX"):
                events.record(first_bar, "vix_trigger_off", vix_status[len("off: ") :])
            for line in refusals:
                events.record(first_bar, "refused_at_start", line.removeprefix("warning: "))
            if left_out:
                events.record(first_bar, "signals_left_out", left_out)
            cerebro = build_cerebro(config, inputs, events=events, store=store, progress=progress)
            started = time.perf_counter()
            strategy = runner(cerebro) if runner is not None else cerebro.run()[0]
            elapsed = time.perf_counter() - started
        recorder = strategy.analyzers.recorder
        summary = _summary(config, request, inputs, strategy, elapsed)
        summary["kill_switch"]["vix_trigger"] = vix_status
        summary["state_at_start"] = notice
        summary["run_name"] = name
        if inputs.left_out:
            summary["signals_left_out"] = dict(inputs.left_out)
        orders = recorder.orders
        event_rows = write_run_files(folder, config, strategy, events, summary, outputs=request.outputs)
        summary = write_reports(
            folder, benchmark=benchmark, prices=inputs.prices, log_scale=request.log_scale, outputs=request.outputs
        )
    run_dir = request.out_dir / name
    point_latest(request.out_dir, name)
    return BacktestResult(
        run_dir=run_dir, summary=summary, orders=orders, fills=recorder.fills, equity=recorder.equity, events=event_rows
    )


def left_out_line(left_out: dict[str, int]) -> str:
    """``--tickers`` left out N signals of TICKER, ...: the rows of the signal file this run does not trade."""
    if not left_out:
        return ""
    shown = ", ".join(f"{count} of {ticker}" for ticker, count in list(left_out.items())[:8])
    more = f" and {len(left_out) - 8} more tickers" if len(left_out) > 8 else ""
    return f"--tickers left out {sum(left_out.values())} signals ({shown}{more})"


def vix_fix(request: BacktestRequest, vix_path: Path | None) -> str:
    """How to arm the VIX trigger: the flag, and a VIX file the --data folders already hold."""
    if vix_path is not None:
        return f"the VIX file {vix_path} does not overlap it; pass --vix FILE covering the traded period"
    found = [path for path in discover_price_files(request.data) if ticker_from_path(path) == VIX_FEED] if request.data else []  # fmt: skip
    if found:
        return f"pass --vix {found[0]} (found in --data) to arm it"
    return "pass --vix FILE (a VIX CSV: DATE,OPEN,HIGH,LOW,CLOSE) covering the traded period to arm it"


def _to_datetime(stamp: Any) -> datetime:
    import pandas as pd

    return pd.Timestamp(stamp).to_pydatetime()


def bar_count(inputs: BacktestInputs) -> int:
    """The bars Cerebro will step through: every distinct timestamp of the traded feeds (and the VIX)."""
    import numpy as np

    stamps = [series.dates for series in inputs.prices.values()]
    if inputs.vix is not None:
        stamps.append(inputs.vix.dates)
    return len(np.unique(np.concatenate(stamps))) if stamps else 0


def state_notice(store: StateStore, state_dir: Path) -> str | None:
    """One line when the state is killed or latched before the run starts (it would trade nothing)."""
    kill, latch = store.kill_switch(), store.breaker_latch()
    parts = []
    if kill.active:
        parts.append(f"kill switch ACTIVE ({kill.cause}) since {kill.at}: {kill.reason}")
    if latch.tripped:
        parts.append(f"circuit breaker PAUSED since {latch.tripped_at}: {latch.reason}")
    if not parts:
        return None
    return f"state {state_dir}: {'; '.join(parts)}. This run adds no risk until `spine resume --state {state_dir}`"


def _summary(
    config: SpineConfig, request: BacktestRequest, inputs: BacktestInputs, strategy: bt.Strategy, elapsed: float
) -> dict[str, Any]:
    """The run's facts; the statistics (return, drawdown, Sharpe, trades...) are added by ``write_reports``."""
    summary = run_summary(config, strategy, route="backtest", limits=config.backtest_risk, tickers=list(inputs.prices), signals_path=inputs.signals_path,
                          start_value=float(config.backtest.cash), end_value=float(strategy.broker.getvalue()), elapsed=elapsed)  # fmt: skip
    bars = summary["bars"]
    summary["signals"] = len(inputs.signals)
    summary["vix"] = str(inputs.vix.path) if inputs.vix is not None else None
    summary["bars_per_second"] = round(bars * max(len(inputs.prices), 1) / elapsed, 1) if elapsed > 0 else None
    return summary


def summary_rows(summary: dict[str, Any]) -> Sequence[tuple[str, str]]:
    """The summary as (label, value) rows for the terminal table."""

    def money(value: Any) -> str:
        return f"{value:,.2f}" if isinstance(value, (int, float)) else "-"

    def pct(value: Any) -> str:
        return f"{value:.2%}" if isinstance(value, (int, float)) else "-"

    def ratio(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, (int, float)) else "-"

    rows = [
        ("period", f"{summary['start']} .. {summary['end']}"),
        ("tickers", ", ".join(summary["tickers"])),
        ("start value", money(summary["start_value"])),
        ("end value", money(summary["end_value"])),
        ("return", pct(summary["total_return"])),
        ("CAGR / annualised volatility", f"{pct(summary.get('cagr'))} / {pct(summary.get('annual_volatility'))}"),
        ("max drawdown", f"{pct(summary['max_drawdown'])} (longest {summary.get('max_drawdown_duration_bars')} bars)"),
        ("Sharpe / Sortino / Calmar", " / ".join(ratio(summary.get(key)) for key in ("sharpe", "sortino", "calmar"))),
        ("exposure", pct(summary.get("exposure"))),
        ("trades (closed)", str(summary["trades"])),
        ("win rate / profit factor", f"{pct(summary.get('win_rate'))} / {ratio(summary.get('profit_factor'))}"),
        (
            "expectancy / average R / median R",
            f"{money(summary.get('expectancy'))} / {ratio(summary.get('average_r'))} / {ratio(summary.get('median_r'))}",
        ),
    ]
    for tag, bucket in summary["by_provenance"].items():
        rows.append((f"  {tag}", f"{bucket['trades']} trades, P&L {money(bucket['pnl_net'])}"))
    for reason, bucket in (summary.get("by_exit_reason") or {}).items():
        rows.append((f"  exit: {reason}", f"{bucket['trades']} trades, P&L {money(bucket['pnl_net'])}"))
    bench = summary.get("benchmark")
    if bench:
        rows.append(
            (
                "benchmark",
                f"{bench['name']}: {pct(bench.get('total_return'))}, alpha {pct(bench.get('alpha'))}, beta {ratio(bench.get('beta'))}",
            )
        )
    rows.append(
        (
            "orders / rejected orders / rejected brackets",
            f"{summary['orders']} / {summary['rejected_orders']} / {summary.get('rejected_brackets', '-')}",
        )
    )
    breaker = summary["breaker"]
    trips = len(breaker.get("trips") or ()) or int(bool(breaker.get("tripped")))
    rows.append(("circuit breaker", f"tripped {trips} time(s)" if breaker.get("tripped") or trips else "not tripped"))
    kill = summary["kill_switch"]
    rearms = len(kill.get("rearms") or ())
    fired = f"fired {kill.get('fires', 1)} time(s), re-armed {rearms} time(s)"
    rows.append(("kill switch", fired if kill.get("fired") else "not fired"))
    halts = summary.get("halts") or []
    rows.extend(("  halt", line) for line in runs_summary.halt_lines(halts) if not line.startswith("halted from"))
    if kill.get("vix_trigger"):
        rows.append(("VIX trigger", str(kill["vix_trigger"])))
    return rows
