"""``strategy.take_profit_atr: null`` on the IB routes: each bracket is the entry and its stop, no take-profit.

Real parts only: ``spine rehearse`` and ``spine paper --once`` run the real ib_async client
of an ``IBSession`` over loopback against the gateway simulator; the journal is real SQLite.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from spine.cli import app
from spine.ib.journal import Journal
from tests.spine.cli.test_paper import DAY_BEFORE, LAST_DAY, PAPER, gateway_at, once
from tests.spine.routes.test_paper_positions import position_at_gateway, working_at_gateway


def without_take_profit(folder: Path) -> Path:
    """``folder`` with ``strategy.take_profit_atr: null`` written in its ``strategy_params.yaml``."""
    path = folder / "strategy_params.yaml"
    body = yaml.safe_load(path.read_text())
    body["strategy"]["take_profit_atr"] = None
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return folder


def test_a_rehearsal_with_take_profit_atr_null_sends_each_entry_with_its_stop_and_no_take_profit(
    make_config_dir, tmp_path
):
    config = make_config_dir({"config.yaml": PAPER})
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["rehearse", "--config", str(config), "--set", "strategy.take_profit_atr=null",
                                      "--start", "2021-01-26", "--end", "2021-03-12", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = [p.parent for p in out.rglob("summary.json")]
    journal = Journal.in_folder(run_dir)  # what the session sent to the gateway, with the gateway's answers
    try:
        orders = journal.orders()
    finally:
        journal.close()
    entries = [o for o in orders if o.role == "entry"]
    assert len(entries) >= 5
    assert "take_profit" not in {o.role for o in orders}
    for entry in entries:
        children = [o for o in orders if o.parent_id == entry.order_id]
        assert [(c.role, c.order_type, c.side != entry.side, c.quantity) for c in children] == [
            ("stop", "STP", True, entry.quantity)
        ], entry.order_ref
        assert children[0].acknowledged and entry.acknowledged  # the gateway took the pair, released by the stop


def test_a_paper_restart_holding_a_position_without_take_profit_restores_its_stop_and_no_take_profit(
    make_config_dir, tmp_path
):
    config = without_take_profit(make_config_dir({"config.yaml": PAPER}))
    state = tmp_path / "state"
    with gateway_at(DAY_BEFORE) as gateway:
        once(config, gateway, tmp_path / "first", [f"{DAY_BEFORE},ALPH,0.05,BUY,direct,"], state=state)
        gateway.step(1)  # the entry fills at the open; its stop alone works at the gateway
        assert position_at_gateway(gateway, "ALPH") == 124
        (stop,) = working_at_gateway(gateway, "ALPH")
        assert (stop.order_type, stop.action, stop.quantity) == ("STP", "SELL", 124)
        # While no session is connected, the stop disappears at the gateway.
        gateway.call(lambda: gateway.simulator.engine.cancel(stop.client_id, stop.order_id))
        assert working_at_gateway(gateway, "ALPH") == []
        once(config, gateway, tmp_path / "second", [f"{LAST_DAY},BRVO,0,SELL,direct,"], state=state)
        working = working_at_gateway(gateway, "ALPH")
        assert [(r.order_type, r.action, r.quantity, r.stop_price) for r in working] == [
            ("STP", "SELL", 124, stop.stop_price)  # the journaled stop price, and no take-profit invented
        ]
