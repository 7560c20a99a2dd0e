"""Signal sources: a file read at start whose appended rows are picked up while a session runs."""

from __future__ import annotations

from pathlib import Path

import backtrader as bt
import numpy as np
import pytest

from brokers import RiskGate, SimBroker
from spine.config import RiskLimits
from spine.core.errors import DataError
from spine.data.prices import PriceSeries
from spine.data.signal_source import FixedSignals, SignalFile
from spine.feeds.array import ArrayFeed
from strategies import SignalStrategy

HEADER = "datetime,ticker,weight,direction,source_type,source_ticker\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as stream:
        stream.write(text)


def test_signal_file_returns_the_initial_rows_once(tmp_path):
    source = SignalFile(write(tmp_path / "s.csv", HEADER + "2024-01-02,NVDA,0.1,BUY,direct,\n"))
    assert [(s.ticker, s.row) for s in source.poll()] == [("NVDA", 2)]
    assert source.poll() == []


def test_appended_rows_are_read_with_their_editor_line_numbers(tmp_path):
    path = write(tmp_path / "s.csv", "# research feed\n" + HEADER + "2024-01-02,NVDA,0.1,BUY,direct,\n")
    source = SignalFile(path)
    source.poll()
    append(path, "2024-01-03,ORCL,0.2,SELL,propagated,NVDA\n2024-01-04,NVDA,0,BUY,direct,\n")
    fresh = source.poll()
    assert [(s.ticker, s.direction, s.weight, s.source_ticker, s.row) for s in fresh] == [
        ("ORCL", "SELL", 0.2, "NVDA", 4),
        ("NVDA", "BUY", 0.0, "", 5),
    ]


def test_a_bad_appended_row_is_an_event_naming_file_and_row_and_good_rows_are_kept(tmp_path):
    path = write(tmp_path / "s.csv", HEADER + "2024-01-02,NVDA,0.1,BUY,direct,\n")
    seen: list[str] = []
    source = SignalFile(path, on_bad_row=seen.append)
    source.poll()
    append(path, "2024-01-03,ORCL,1.5,BUY,direct,\n2024-01-04,ORCL,0.3,BUY,direct,\n")
    fresh = source.poll()
    assert [(s.ticker, s.weight, s.row) for s in fresh] == [("ORCL", 0.3, 4)]
    assert len(seen) == 1
    assert str(path) in seen[0] and "row 3" in seen[0] and "column 'weight'" in seen[0] and "1.5" in seen[0]


def test_a_row_still_being_written_waits_for_its_newline(tmp_path):
    path = write(tmp_path / "s.csv", HEADER + "2024-01-02,NVDA,0.1,BUY,direct,\n")
    source = SignalFile(path)
    source.poll()
    append(path, "2024-01-03,ORCL,0.2,BU")
    assert source.poll() == []
    append(path, "Y,direct,\n")
    assert [(s.ticker, s.direction, s.row) for s in source.poll()] == [("ORCL", "BUY", 3)]


def test_a_header_only_file_waits_for_its_first_signal(tmp_path):
    path = write(tmp_path / "s.csv", HEADER)
    source = SignalFile(path)
    assert source.poll() == []
    append(path, "2024-01-03,ORCL,0.2,BUY,direct,\n")
    assert [s.row for s in source.poll()] == [2]


def test_a_bad_file_at_start_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(DataError, match=r"row 2, column 'direction'"):
        SignalFile(write(tmp_path / "s.csv", HEADER + "2024-01-02,NVDA,0.1,HOLD,direct,\n"))


def test_fixed_signals_are_returned_on_the_first_poll_only():
    source = FixedSignals([])
    assert source.poll() == [] and source.poll() == []


class GrowingFile(SignalFile):
    """A signal file that a 'research process' appends to after the strategy's third bar."""

    def __init__(self, path: Path, extra: str) -> None:
        super().__init__(path)
        self.polls = 0
        self.extra = extra

    def poll(self):
        self.polls += 1
        if self.polls == 4:
            append(self.path, self.extra)
        return super().poll()


def test_signal_strategy_acts_on_a_row_appended_while_it_runs(tmp_path):
    days = np.array([f"2024-01-{d:02d}" for d in range(1, 26)], dtype="datetime64[ns]")
    close = 100 + np.arange(len(days)) % 3 + 0.0
    series = PriceSeries(
        ticker="NVDA", path=None, dates=days, open=close, high=close + 1, low=close - 1, close=close, volume=close * 1e4
    )
    path = write(tmp_path / "s.csv", HEADER)
    cerebro = bt.Cerebro(stdstats=False)
    data = ArrayFeed(series=series, name="NVDA")
    cerebro.adddata(data, name="NVDA")
    limits = RiskLimits(
        max_notional=1e9,
        max_daily_loss=1e9,
        max_sector_exposure=100,
        max_positions=10,
        max_price_deviation_pct=1.0,
        max_orders_per_minute=100,
    )
    broker = SimBroker(gate=RiskGate(limits, {"NVDA": "Semis"}))
    broker.watch([data])
    cerebro.broker = broker
    cerebro.addstrategy(SignalStrategy, signals=GrowingFile(path, "2024-01-20,NVDA,0.1,BUY,direct,\n"), atr_period=3)
    (strategy,) = cerebro.run()
    assert strategy.books["NVDA"].legs, "the appended signal became a bracket"
    assert bt.num2date(strategy.books["NVDA"].legs[0].created.dt).date().isoformat() == "2024-01-20"
