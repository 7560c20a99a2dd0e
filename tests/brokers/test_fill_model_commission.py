"""Commission schemes of the one FillModel, shared by SimBroker and the gateway: bps:N and IBKR fixed."""

from __future__ import annotations

import shutil
from pathlib import Path

import backtrader as bt
import numpy as np
import pytest

from brokers import FillModel, RiskGate, SimBroker
from brokers.fill_model import (
    CommissionSpecError,
    ibkr_fixed_commission,
    parse_commission,
)
from spine.config import RiskLimits, SlippageSettings, load_config
from spine.core.errors import ConfigError
from spine.data.prices import PriceSeries
from spine.feeds.array import ArrayFeed

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("shares", "price", "expected"),
    [
        (100, 50.0, 1.00),  # 0.50 by the share rate: the USD 1.00 minimum applies
        (1000, 50.0, 5.00),  # 1000 x 0.005
        (300, 0.50, 1.50),  # 1.50 by the share rate, just at the 1% cap of 150.00
        (100, 0.50, 0.50),  # 1% of 50.00 caps below the minimum
        (10_000, 0.10, 10.00),  # 50.00 by shares, capped at 1% of 1,000.00
        (333, 20.0, 1.67),  # 1.665 rounds half-up to the cent
    ],
)
def test_ibkr_fixed_is_half_a_cent_a_share_at_least_a_dollar_at_most_one_percent(shares, price, expected):
    assert ibkr_fixed_commission(shares, shares * price) == expected
    assert FillModel(commission_scheme="ibkr_fixed").commission(shares, price) == expected


def test_ibkr_fixed_charges_the_order_minimum_once_across_partial_fills():
    model = FillModel(commission_scheme="ibkr_fixed")
    first = model.order_commission(0, 0.0, 50, 20.0, 0.0)
    second = model.order_commission(50, 20.0, 50, 20.0, first)
    third = model.order_commission(100, 20.0, 300, 20.0, first + second)
    assert (first, second, third) == (1.00, 0.00, 1.00)  # 400 shares owe 2.00 in all


def test_bps_stays_per_fill_as_before():
    model = FillModel(commission_bps=2.5)
    assert model.order_commission(50, 20.0, 37, 101.05, 9.99) == model.commission(37, 101.05) == 0.93


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("bps:0", ("bps", 0.0)),
        ("bps:2.5", ("bps", 2.5)),
        ("ibkr_fixed", ("ibkr_fixed", 0.0)),
        (" IBKR_FIXED ", ("ibkr_fixed", 0.0)),
    ],
)
def test_commission_specs_parse(spec, expected):
    assert parse_commission(spec) == expected


@pytest.mark.parametrize("spec", ["bps", "bps:-1", "bps:x", "bps:nan", "fixed", "ibkr_tiered"])
def test_bad_commission_specs_name_the_expected_forms(spec):
    with pytest.raises(CommissionSpecError, match="bps:N .* or ibkr_fixed"):
        parse_commission(spec)


def _config_with(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(REPO / "config", folder)
    text = (folder / "config.yaml").read_text()
    (folder / "config.yaml").write_text(text.replace("  commission_bps: 1.0", "  commission_bps: 1.0\n" + extra))
    return folder


def test_backtest_commission_in_the_config_overrides_commission_bps(tmp_path):
    backtest = load_config(_config_with(tmp_path, "  commission: ibkr_fixed")).backtest
    model = FillModel.from_settings(backtest)
    assert (model.commission_scheme, model.describe_commission()) == ("ibkr_fixed", "ibkr_fixed")
    assert FillModel.from_settings(load_config().backtest).describe_commission() == "bps:1"  # unchanged default


def test_a_bad_backtest_commission_in_the_config_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="commission"):
        load_config(_config_with(tmp_path, "  commission: flat:3"))


def test_sim_broker_charges_ibkr_fixed_through_the_same_fill_model():
    dates = np.array([f"2024-01-0{i + 1}" for i in range(4)], dtype="datetime64[ns]")
    prices = np.array([20.0, 20.0, 20.0, 20.0])
    series = PriceSeries(
        ticker="AAA",
        path=None,
        dates=dates,
        open=prices,
        high=prices + 1,
        low=prices - 1,
        close=prices,
        volume=np.full(4, 1e6),
    )

    class BuyOnce(bt.Strategy):
        def __init__(self) -> None:
            self.commissions: list[float] = []

        def next(self) -> None:
            if len(self) == 1:
                self.buy(size=100)
                self.buy(size=1000)

        def notify_order(self, order: bt.Order) -> None:
            if order.status == order.Completed:
                self.commissions.append(order.executed.comm)

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(ArrayFeed(series=series, name="AAA"), name="AAA")
    wide = RiskLimits(
        max_notional=1e9,
        max_daily_loss=1e9,
        max_sector_exposure=100,
        max_positions=100,
        max_price_deviation_pct=1.0,
        max_orders_per_minute=1000,
    )
    cerebro.broker = SimBroker(
        fill_model=FillModel(SlippageSettings(model="none"), commission_scheme="ibkr_fixed"),
        gate=RiskGate(wide, {"AAA": "Tech"}),
    )
    cerebro.broker.setcash(100_000.0)
    cerebro.addstrategy(BuyOnce)
    strategy = cerebro.run()[0]
    assert strategy.commissions == [1.00, 5.00]
