"""``spine backtest``: wire config, data, signals and the Backtrader pieces, run, write the run folder.

The wiring is the product: the same ``SignalStrategy`` and ``LiquiditySizer`` run here
over the ``SimBroker``, whose ``RiskGate`` is the one the paper route uses. A historical
simulation is research, not execution, so it runs whatever ``broker.mode`` says, under
``backtest.risk`` (or the top-level ``risk``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import backtrader as bt
import yaml

from analyzers import CircuitBreaker, DrawdownBreaker, KillSwitch, RunRecorder
from brokers import FillModel, RiskGate, SimBroker
from spine.config import SpineConfig
from spine.errors import InputError
from spine.event_log import EventLog
from spine.feeds import ArrayFeed
from spine.labels import RESEARCH_LABEL
from spine.prices import (
    PriceSeries,
    discover_price_files,
    load_prices,
    load_vix,
    ticker_from_path,
)
from spine.run_folder import (
    EQUITY_COLUMNS,
    EVENT_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    RETURN_COLUMNS,
    atomic_folder,
    csv_text,
    unique_run_name,
    write_json,
)
from spine.signals import SignalRecord, load_signals
from spine.state_store import StateStore
from strategies import DIRECT_TAG, PROPAGATED_TAG, LiquiditySizer, SignalStrategy

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
SAMPLE_PRICES = SAMPLE_DIR / "prices"
SAMPLE_SIGNALS = SAMPLE_DIR / "signals.csv"
SAMPLE_VIX = SAMPLE_DIR / "vix.csv"
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


@dataclass
class BacktestResult:
    run_dir: Path
    summary: dict[str, Any]
    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    equity: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Inputs:
    prices: dict[str, PriceSeries]
    signals: list[SignalRecord]
    vix: PriceSeries | None
    signals_path: Path


def load_inputs(request: BacktestRequest) -> _Inputs:
    """Load and validate every input before anything runs or is written."""
    using_sample = not request.data and request.source == "csv"
    if request.data and request.signals is None:
        raise InputError("--signals FILE is required with --data (the bundled sample signals only cover the sample tickers)")
    signals_path = Path(request.signals) if request.signals is not None else SAMPLE_SIGNALS
    if request.source == "yfinance":
        prices = _yfinance_prices(request, signals_path)
    else:
        paths = list(request.data) or [SAMPLE_PRICES]
        tickers = request.tickers or _signalled_tickers(paths, signals_path)
        prices = load_prices(paths, tickers=tickers, start=request.start, end=request.end)
    signals = load_signals(signals_path, prices=prices, tickers=request.tickers)
    vix_path = request.vix if request.vix is not None else (SAMPLE_VIX if using_sample and SAMPLE_VIX.is_file() else None)
    vix = _clip(load_vix(vix_path), prices) if vix_path is not None else None
    return _Inputs(prices=prices, signals=signals, vix=vix, signals_path=signals_path)


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


def _clip(vix: PriceSeries, prices: dict[str, PriceSeries]) -> PriceSeries | None:
    """The VIX bars inside the traded period only (the VIX file usually spans decades more)."""
    first = min(series.dates[0] for series in prices.values())
    last = max(series.dates[-1] for series in prices.values())
    keep = (vix.dates >= first) & (vix.dates <= last)
    if not keep.any():
        return None
    fields = {name: getattr(vix, name)[keep] for name in ("dates", "open", "high", "low", "close", "volume")}
    return replace(vix, **fields)


def _yfinance_prices(request: BacktestRequest, signals_path: Path) -> dict[str, PriceSeries]:
    from spine.market_data import ensure_cached

    tickers = request.tickers or tuple(sorted({s.ticker for s in load_signals(signals_path)}))
    if request.start is None or request.end is None:
        raise InputError("--source yfinance needs --start and --end (the date range to download)")
    paths = ensure_cached(list(tickers), request.start, request.end, request.cache_dir)
    return load_prices(paths, tickers=tickers, start=request.start, end=request.end)


def build_cerebro(config: SpineConfig, inputs: _Inputs, *, events: EventLog, store: StateStore, progress: Callable[[int], None] | None = None) -> bt.Cerebro:
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
    breaker = CircuitBreaker(config, store=store)
    gate = RiskGate(limits, config.sectors, execution_allowed=True, route="backtest", breaker=breaker, on_event=events.record)
    broker = SimBroker(fill_model=FillModel.from_settings(config.backtest), gate=gate)
    broker.setcash(config.backtest.cash)
    broker.watch(feeds)
    cerebro.broker = broker

    sizing, execution = config.position_sizing, config.trading.execution
    cerebro.addsizer(
        LiquiditySizer,
        risk_pct=sizing.risk_pct,
        atr_multiplier=sizing.atr_multiplier,
        max_position_size=execution.max_position_size,
        min_order_size=execution.min_order_size,
    )
    by_ticker: dict[str, list[SignalRecord]] = {}
    for signal in inputs.signals:
        by_ticker.setdefault(signal.ticker, []).append(signal)
    strategy = config.strategy
    cerebro.addstrategy(
        SignalStrategy,
        signals=by_ticker,
        tradable=tuple(inputs.prices),
        atr_period=strategy.atr_period,
        take_profit_atr=strategy.take_profit_atr,
        entry_order_type=strategy.entry_order_type,
        limit_offset_bps=strategy.limit_offset_bps,
        atr_multiplier=sizing.atr_multiplier,
        events=events,
    )
    cerebro.addanalyzer(RunRecorder, _name="recorder", progress=progress)
    cerebro.addanalyzer(DrawdownBreaker, _name="breaker", breaker=breaker, events=events)
    cerebro.addanalyzer(
        KillSwitch,
        _name="kill_switch",
        settings=config.kill_switch,
        enabled=limits.kill_switch,
        max_drawdown=config.backtest.max_drawdown_pct,
        vix=vix_feed,
        store=store,
        events=events,
    )
    cerebro.addanalyzer(bt.analyzers.SharpeRatio, _name="sharpe", timeframe=bt.TimeFrame.Days, annualize=True, riskfreerate=0.0)
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.Returns, _name="returns", timeframe=bt.TimeFrame.Days)
    cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="time_return", timeframe=bt.TimeFrame.Days)
    return cerebro


def run_backtest(request: BacktestRequest, *, progress: Callable[[int], None] | None = None, inputs: _Inputs | None = None) -> BacktestResult:
    """Run one historical simulation and write its run folder atomically; return what it wrote."""
    from spine.pnl_plot import (
        plot_pnl,  # matplotlib is heavy: load it only when a figure is drawn
    )

    config = request.config
    inputs = load_inputs(request) if inputs is None else inputs  # a sweep worker passes inputs it holds in memory
    events = EventLog()
    name = unique_run_name(request.out_dir, f"backtest-{datetime.now():%Y%m%d-%H%M%S}")
    with atomic_folder(request.out_dir, name) as folder:
        state_dir = request.state_dir if request.state_dir is not None else folder / "state"
        with StateStore.in_folder(state_dir) as store:
            cerebro = build_cerebro(config, inputs, events=events, store=store, progress=progress)
            started = time.perf_counter()
            strategy = cerebro.run()[0]
            elapsed = time.perf_counter() - started
        recorder = strategy.analyzers.recorder
        summary = _summary(config, request, inputs, strategy, elapsed)
        event_rows = [{"datetime": e.datetime, "event": e.event, "detail": e.detail} for e in events.events]
        research = config.research_only
        orders = recorder.orders
        (folder / "orders.csv").write_text(csv_text(orders, ORDER_COLUMNS, research_only=research), encoding="utf-8")
        (folder / "fills.csv").write_text(csv_text(recorder.fills, FILL_COLUMNS, research_only=research), encoding="utf-8")
        (folder / "equity.csv").write_text(csv_text(recorder.equity, EQUITY_COLUMNS, research_only=research), encoding="utf-8")
        (folder / "events.csv").write_text(csv_text(event_rows, EVENT_COLUMNS, research_only=research), encoding="utf-8")
        daily = [{"datetime": when, "return": value} for when, value in strategy.analyzers.time_return.get_analysis().items()]
        (folder / "returns.csv").write_text(csv_text(daily, RETURN_COLUMNS, research_only=research), encoding="utf-8")
        _write_resolved_config(folder / "config", config)
        write_json(folder / "summary.json", summary)
        plot_pnl(recorder.equity, folder / "pnl.png", title=f"Spine backtest: {', '.join(inputs.prices)}", research_only=research, events=event_rows)
        (folder / "run.log").write_text(_run_log(summary, research), encoding="utf-8")
    run_dir = request.out_dir / name
    return BacktestResult(run_dir=run_dir, summary=summary, orders=orders, fills=recorder.fills, equity=recorder.equity, events=event_rows)


def _write_resolved_config(folder: Path, config: SpineConfig) -> None:
    folder.mkdir()
    header = f"# {RESEARCH_LABEL}\n" if config.research_only else ""
    header += f"# resolved from {config.folder}\n"
    for filename, body in config.to_files().items():
        (folder / filename).write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _summary(config: SpineConfig, request: BacktestRequest, inputs: _Inputs, strategy: bt.Strategy, elapsed: float) -> dict[str, Any]:
    analyzers = strategy.analyzers
    recorded = analyzers.recorder.get_analysis()
    trades = analyzers.trades.get_analysis()
    returns = analyzers.returns.get_analysis()
    equity = analyzers.recorder.equity
    start_value = float(config.backtest.cash)
    end_value = float(strategy.broker.getvalue())
    by_tag = recorded["trades_by_tag"]
    provenance = {tag: {"trades": int(by_tag.get(tag, {}).get("trades", 0)), "pnl": by_tag.get(tag, {}).get("pnl", 0.0), "pnl_net": by_tag.get(tag, {}).get("pnl_net", 0.0)} for tag in (DIRECT_TAG, PROPAGATED_TAG)}
    total = trades.get("total", {}) if hasattr(trades, "get") else {}
    statuses = recorded["statuses"]
    rtot = _num(returns.get("rtot"))
    bars = len(equity)
    return {
        "research_only": config.research_only,
        "research_label": RESEARCH_LABEL if config.research_only else None,
        "route": "backtest",
        "start": equity[0]["datetime"].isoformat() if equity else None,
        "end": equity[-1]["datetime"].isoformat() if equity else None,
        "tickers": list(inputs.prices),
        "signals_file": str(inputs.signals_path),
        "signals": len(inputs.signals),
        "vix": str(inputs.vix.path) if inputs.vix is not None else None,
        "start_value": start_value,
        "end_value": end_value,
        "return_pct": math.expm1(rtot) if rtot is not None else end_value / start_value - 1.0,
        "max_drawdown_pct": (_num(analyzers.drawdown.get_analysis().max.drawdown) or 0.0) / 100.0,
        "sharpe": _num(analyzers.sharpe.get_analysis().get("sharperatio")),
        "trades": int(total.get("closed", 0) or 0),
        "trades_open": int(total.get("open", 0) or 0),
        "won": int(trades.get("won", {}).get("total", 0) or 0) if hasattr(trades, "get") else 0,
        "lost": int(trades.get("lost", {}).get("total", 0) or 0) if hasattr(trades, "get") else 0,
        "by_provenance": provenance,
        "orders": recorded["orders"],
        "rejected_orders": int(statuses.get("Rejected", 0)),
        "fills": recorded["fills"],
        "breaker": analyzers.breaker.get_analysis() | {"trips": [{"datetime": t["datetime"].isoformat(), "reason": t["reason"]} for t in analyzers.breaker.trips]},
        "kill_switch": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in analyzers.kill_switch.get_analysis().items()},
        "limits": config.backtest_risk.model_dump(),
        "bars": bars,
        "elapsed_seconds": round(elapsed, 3),
        "bars_per_second": round(bars * max(len(inputs.prices), 1) / elapsed, 1) if elapsed > 0 else None,
    }


def _run_log(summary: dict[str, Any], research_only: bool) -> str:
    lines = [f"# {RESEARCH_LABEL}"] if research_only else []
    for key in ("start", "end", "tickers", "start_value", "end_value", "return_pct", "max_drawdown_pct", "sharpe", "trades", "orders", "rejected_orders"):
        lines.append(f"{key}: {summary.get(key)}")
    return "\n".join(lines) + "\n"


def summary_rows(summary: dict[str, Any]) -> Sequence[tuple[str, str]]:
    """The summary as (label, value) rows for the terminal table."""

    def money(value: Any) -> str:
        return f"{value:,.2f}" if isinstance(value, (int, float)) else "-"

    def pct(value: Any) -> str:
        return f"{value:.2%}" if isinstance(value, (int, float)) else "-"

    rows = [
        ("period", f"{summary['start']} .. {summary['end']}"),
        ("tickers", ", ".join(summary["tickers"])),
        ("start value", money(summary["start_value"])),
        ("end value", money(summary["end_value"])),
        ("return", pct(summary["return_pct"])),
        ("max drawdown", pct(summary["max_drawdown_pct"])),
        ("Sharpe (annualised)", f"{summary['sharpe']:.2f}" if summary["sharpe"] is not None else "-"),
        ("trades (closed)", str(summary["trades"])),
    ]
    for tag, bucket in summary["by_provenance"].items():
        rows.append((f"  {tag}", f"{bucket['trades']} trades, P&L {money(bucket['pnl_net'])}"))
    rows.append(("orders / rejected", f"{summary['orders']} / {summary['rejected_orders']}"))
    breaker = summary["breaker"]
    rows.append(("circuit breaker", f"tripped: {breaker['reason']}" if breaker.get("tripped") else "not tripped"))
    kill = summary["kill_switch"]
    rows.append(("kill switch", f"fired {kill.get('datetime')}: {kill.get('cause')}" if kill.get("fired") else "not fired"))
    return rows
