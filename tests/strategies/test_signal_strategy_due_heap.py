"""SignalStrategy's due-signal heap (signals known at start) acts exactly as its loop over every ticker."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from spine.config import load_config
from spine.core.events import EventLog
from spine.data.signal_source import FixedSignals
from spine.data.synthetic import generate_prices, generate_signals
from spine.routes.backtest import BacktestRequest, build_cerebro, load_inputs
from spine.safety.state_store import StateStore


class PolledSignals:
    """The same records as FixedSignals, from a source that is not FixedSignals: the per-bar loop."""

    def __init__(self, records) -> None:
        self._records = list(records)

    def poll(self):
        records, self._records = self._records, []
        return records


def _market(folder: Path) -> tuple[Path, Path]:
    """Six tickers: two start late, one has gaps, and signals fall on days some tickers have no bar."""
    prices = generate_prices([f"T{i}" for i in range(6)], 160, start="2020-01-01", seed=3)
    signals = generate_signals(prices, every_n_bars=2, seed=3)
    prices["T1"] = prices["T1"].iloc[40:]  # starts late: signals before its first bar
    prices["T2"] = prices["T2"].iloc[25:]
    prices["T3"] = prices["T3"].drop(prices["T3"].index[50:60])  # a gap: signals due on no bar of its own
    # T5's first signal falls on a Saturday, when no feed has a bar, well after T5's first bar.
    saturday = prices["T5"].index[50] + pd.offsets.Week(weekday=5)
    first = signals[signals["ticker"] == "T5"].iloc[0].copy()
    first["datetime"] = saturday
    signals = signals[(signals["ticker"] != "T5") | (signals["datetime"] > saturday)]
    signals = pd.concat([signals, first.to_frame().T]).sort_values("datetime", kind="stable")
    prices_dir = folder / "prices"
    prices_dir.mkdir()
    for ticker, frame in prices.items():
        frame.to_csv(prices_dir / f"{ticker}.csv", date_format="%Y-%m-%d", float_format="%.2f")
    signals_csv = folder / "signals.csv"
    signals.to_csv(signals_csv, index=False, date_format="%Y-%m-%d", float_format="%.2f")
    return prices_dir, signals_csv


def _run(folder: Path, prices_dir: Path, signals_csv: Path, *, polled: bool):
    config = load_config()
    config = config.model_copy(update={"sectors": dict(config.sectors) | {f"T{i}": "Synthetic" for i in range(6)}})
    inputs = load_inputs(BacktestRequest(config=config, data=(prices_dir,), signals=signals_csv))
    events = EventLog()
    with StateStore.in_folder(folder) as store:
        cerebro = build_cerebro(config, inputs, events=events, store=store)
        if polled:
            strategy_class, args, kwargs = cerebro.strats[0][0]
            records = [record for records in kwargs["signals"].values() for record in records]
            cerebro.strats[0][0] = (strategy_class, args, {**kwargs, "signals": PolledSignals(records)})
        strategy = cerebro.run()[0]
    uses_heap = type(strategy.signal_source) is FixedSignals
    return uses_heap, strategy.analyzers.recorder.orders, [(e.datetime, e.event, e.detail) for e in events.events]


def test_signals_known_at_start_give_the_same_orders_and_events_as_the_per_bar_loop(tmp_path: Path) -> None:
    prices_dir, signals_csv = _market(tmp_path)
    heap = _run(tmp_path / "heap", prices_dir, signals_csv, polled=False)
    loop = _run(tmp_path / "loop", prices_dir, signals_csv, polled=True)
    assert heap[0] and not loop[0]
    assert heap[1] and heap[1] == loop[1]
    assert any("before the first price bar" in detail for _, _, detail in heap[2])
    assert heap[2] == loop[2]
    assert not any(detail.startswith("T5 ") and "before the first price bar" in detail for _, _, detail in heap[2])
