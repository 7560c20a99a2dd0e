"""run_frozen: the run's set-up is frozen out of the collector only while cerebro.run() lasts."""

from __future__ import annotations

import gc
from pathlib import Path

import backtrader as bt

from spine.backtest import run_frozen
from spine.feeds import ArrayFeed
from spine.prices import load_prices
from spine.synthetic import generate_prices


class _SeesFrozen(bt.Strategy):
    def __init__(self) -> None:
        self.frozen_during_run = 0

    def next(self) -> None:
        self.frozen_during_run = max(self.frozen_during_run, gc.get_freeze_count())


def test_run_frozen_freezes_the_set_up_during_the_run_and_leaves_nothing_frozen_after(tmp_path: Path) -> None:
    generate_prices(["AAA"], 40, start="2021-01-04", seed=1)["AAA"].to_csv(tmp_path / "AAA.csv", date_format="%Y-%m-%d")
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(ArrayFeed(series=load_prices([tmp_path])["AAA"], name="AAA"), name="AAA")
    cerebro.addstrategy(_SeesFrozen)
    strategy = run_frozen(cerebro)
    assert strategy.frozen_during_run > 0
    assert gc.get_freeze_count() == 0
