"""run_frozen: the set-up frozen out of the collector and fewer young collections, only while cerebro.run() lasts."""

from __future__ import annotations

import gc
from pathlib import Path

import backtrader as bt

from spine.core.process import YOUNG_THRESHOLD, run_frozen
from spine.data.prices import load_prices
from spine.data.synthetic import generate_prices
from spine.feeds.array import ArrayFeed


class _SeesFrozen(bt.Strategy):
    def __init__(self) -> None:
        self.frozen_during_run = 0
        self.young_threshold_during_run = 0

    def next(self) -> None:
        self.frozen_during_run = max(self.frozen_during_run, gc.get_freeze_count())
        self.young_threshold_during_run = gc.get_threshold()[0]


def _cerebro(tmp_path: Path) -> bt.Cerebro:
    generate_prices(["AAA"], 40, start="2021-01-04", seed=1)["AAA"].to_csv(tmp_path / "AAA.csv", date_format="%Y-%m-%d")
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(ArrayFeed(series=load_prices([tmp_path])["AAA"], name="AAA"), name="AAA")
    cerebro.addstrategy(_SeesFrozen)
    return cerebro


def test_run_frozen_collects_young_objects_less_often_during_the_run_and_restores_the_threshold(tmp_path: Path) -> None:
    before = gc.get_threshold()
    strategy = run_frozen(_cerebro(tmp_path))
    assert strategy.young_threshold_during_run == max(before[0], YOUNG_THRESHOLD)
    assert gc.get_threshold() == before


def test_run_frozen_freezes_the_set_up_during_the_run_and_leaves_nothing_frozen_after(tmp_path: Path) -> None:
    strategy = run_frozen(_cerebro(tmp_path))
    assert strategy.frozen_during_run > 0
    assert gc.get_freeze_count() == 0
