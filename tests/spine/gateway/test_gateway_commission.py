"""The gateway's commission and cash come from --commission and --config, through the one FillModel."""

from __future__ import annotations

import shutil
from pathlib import Path

from ib_async import MarketOrder, Stock

from spine.cli.gateway import build_settings
from spine.gateway import GatewayThread

REPO = Path(__file__).resolve().parents[3]


def _config_with(tmp_path: Path, replacements: dict[str, str]) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(REPO / "config", folder)
    text = (folder / "config.yaml").read_text()
    for line, new in replacements.items():
        assert line in text, line
        text = text.replace(line, new, 1)
    (folder / "config.yaml").write_text(text)
    return folder


def test_the_gateway_takes_commission_and_cash_from_the_config(tmp_path, price_folder, connect, wait_until):
    folder = _config_with(
        tmp_path,
        {"  cash: 100000": "  cash: 25000", "  commission_bps: 1.0": "  commission_bps: 1.0\n  commission: ibkr_fixed"},
    )
    settings = build_settings([price_folder], "127.0.0.1", 0, "DU0000001", None, 0.0, "none", folder, None)
    assert settings.cash == 25_000.0 and settings.fill_model.commission_scheme == "ibkr_fixed"
    assert build_settings([price_folder], "127.0.0.1", 0, "DU1", None, 0.0, None, None, None).cash == 1_000_000.0
    override = build_settings(
        [price_folder], "127.0.0.1", 0, "DU1", 5000.0, 0.0, None, folder, None, commission="bps:3"
    )
    assert (override.cash, override.fill_model.describe_commission()) == (5000.0, "bps:3")
    with GatewayThread(settings) as gateway:
        ib = connect(gateway, 1)
        values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
        assert values["TotalCashValue"] == "25000.00"
        trade = ib.placeOrder(Stock("ABC", "SMART", "USD"), MarketOrder("BUY", 10))
        wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
        gateway.step()
        wait_until(ib, lambda: bool(trade.fills) and trade.fills[0].commissionReport.execId, what="the report")
        assert trade.fills[0].commissionReport.commission == 1.00  # 10 shares: the minimum
        wait_until(
            ib,
            lambda: {v.tag: v.value for v in ib.accountValues()}["TotalCashValue"] == "23989.00",
            what="cash less 10 x 101.00 and 1.00",
        )
