"""Positions across sessions and bars: what the strategy decides against on the IB routes.

Every session is the real ib_async client of an ``IBSession`` over loopback against the
gateway simulator (``GatewayThread``); nothing of ib_async or the simulator is mocked.
``spine paper --once`` sessions share a state folder (or not) to restart; a rehearsal whose
clock steps two days at a time releases two daily bars together, as a fetch does that
returns two new days.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from spine.config import load_config
from spine.gateway import GatewayThread
from spine.routes import rehearse
from spine.routes.paper import PaperRequest, run_paper
from spine.routes.rehearse import RehearseRequest, run_rehearsal
from spine.routes.session import LockstepDriver
from tests.spine.cli.test_paper import (
    DAY_BEFORE,
    HEADER,
    LAST_DAY,
    PAPER,
    SAMPLE_PRICES,
    gateway_at,
    gateway_orders,
    once,
)


@pytest.fixture
def paper_config(make_config_dir):
    def make(extra: dict | None = None) -> Path:
        return make_config_dir({"config.yaml": {**PAPER, **(extra or {})}})

    return make


def working_at_gateway(gw: GatewayThread, ticker: str) -> list:
    """The gateway's orders for ``ticker`` that are still working."""
    engine = gw.simulator.engine
    return gw.call(lambda: [o.request for o in engine.orders.values() if o.request.symbol == ticker and not o.done])


def position_at_gateway(gw: GatewayThread, ticker: str) -> float:
    account = gw.simulator.account
    return gw.call(lambda: float(account.holding(ticker).quantity))


# -- a restart: the earlier session's stop and take-profit ----------------------------------------------


def test_a_close_after_a_restart_takes_the_stop_and_take_profit_of_the_earlier_session_with_its_exit(
    paper_config, tmp_path
):
    config, state = paper_config(), tmp_path / "state"
    with gateway_at(DAY_BEFORE) as gateway:
        once(config, gateway, tmp_path / "first", [f"{DAY_BEFORE},ALPH,0.05,BUY,direct,"], state=state)
        gateway.step(1)  # the entry fills at LAST_DAY's open; its stop and take-profit work at the gateway
        assert position_at_gateway(gateway, "ALPH") == 124
        assert {r.order_type for r in working_at_gateway(gateway, "ALPH")} == {"STP", "LMT"}
        once(config, gateway, tmp_path / "second", [f"{LAST_DAY},ALPH,0,SELL,direct,"], state=state)
        # The close's exit joined the earlier session's stop and take-profit in one OCA group: the position keeps
        # its stop until the exit fills, and IB cancels both legs when it does.
        working = working_at_gateway(gateway, "ALPH")
        assert sorted((r.action, r.order_type) for r in working) == [("SELL", "LMT"), ("SELL", "MKT"), ("SELL", "STP")]
        assert len({r.oca_group for r in working}) == 1


# -- two bars released together -----------------------------------------------------------------------


class TwoDaysAtOnce(LockstepDriver):
    """The lockstep driver, stepping the simulator's clock two days before the bars are fetched."""

    def advance(self, pump):  # type: ignore[no-untyped-def]
        if self.stop or self.at_end():
            return False
        broker = self.broker_ref()
        if broker is not None:
            self._wait(lambda: self._caught_up(pump, broker), pump, "the gateway to answer every order and cancel")
        for _ in range(2):
            if not self.at_end():
                self.gateway.step(1)
                self.steps += 1
        sim = self.gateway.simulator
        executions = self.gateway.call(lambda: len(sim.engine.executions))
        self._wait(lambda: pump.fills_seen >= executions, pump, f"{executions} executions from the gateway")
        self._sync_account(pump)
        self._request_day(pump)
        return True


def book_at_end(result) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    """(net shares filled, signed shares of the stops still working)."""
    net = sum(f["size"] if f["side"] == "BUY" else -f["size"] for f in result.fills)
    last: dict[int, dict] = {}
    for row in result.orders:
        last[row["order_id"]] = row
    stops = {
        str(oid): (row["size"] if row["side"] == "BUY" else -row["size"])
        for oid, row in last.items()
        if row["role"] == "stop" and row["status"] in ("Submitted", "Accepted", "Partial")
    }
    return net, stops


@pytest.mark.parametrize(
    ("second", "closes"),
    [("ALPH,0,SELL,direct,", True), ("ALPH,0.05,SELL,direct,", False)],
    ids=["weight-0", "repeated-reversal"],
)
def test_a_reversal_and_the_next_signal_released_together_send_one_exit_and_keep_a_stop(
    second, closes, paper_config, tmp_path, monkeypatch
):
    monkeypatch.setattr(rehearse, "LockstepDriver", TwoDaysAtOnce)
    signals = tmp_path / "signals.csv"
    signals.write_text(
        HEADER + "2023-10-30,ALPH,0.05,BUY,direct,\n"  # the first day alone: fills on 10-31
        "2023-11-02,ALPH,0.05,SELL,direct,\n"  # 11-02 and 11-03 are released together
        f"2023-11-03,{second}\n"
    )
    result = run_rehearsal(
        RehearseRequest(
            config=load_config(paper_config()),
            data=(SAMPLE_PRICES,),
            signals=signals,
            start=date(2023, 10, 30),
            end=date(2023, 11, 10),
            out_dir=tmp_path / "runs",
        )  # fmt: skip
    )
    exits = [r for r in result.orders if r["role"] == "exit" and r["status"] == "Submitted"]
    assert len(exits) == 1
    net, stops = book_at_end(result)
    if closes:
        assert (net, stops) == (0, {})
    else:
        assert net < 0
        assert list(stops.values()) == [-net]  # a BUY stop for the whole short position


# -- the signal's identity -------------------------------------------------------------------------------


def test_a_line_inserted_above_never_sends_a_working_bracket_again(paper_config, tmp_path):
    config, state = paper_config(), tmp_path / "state"
    row = f"{LAST_DAY},ALPH,0.05,BUY,direct,"
    with gateway_at(LAST_DAY) as gateway:
        once(config, gateway, tmp_path / "first", [row], state=state)
        assert len(gateway_orders(gateway)) == 3
        second = once(config, gateway, tmp_path / "second", [f"{DAY_BEFORE},BRVO,0.05,BUY,direct,", row], state=state)
        assert len(gateway_orders(gateway)) == 3
        assert not [r for r in second.orders if r["status"] == "Submitted"]


def test_a_signal_id_column_names_the_orders_of_its_signal_whatever_else_the_row_says(paper_config, tmp_path):
    config, state = load_config(paper_config()), tmp_path / "state"
    with gateway_at(LAST_DAY) as gateway:
        for name, weight in (("first", "0.05"), ("second", "0.04")):
            path = tmp_path / f"{name}.csv"
            path.write_text(f"signal_id,{HEADER}news-7,{LAST_DAY},ALPH,{weight},BUY,direct,\n")
            run_paper(PaperRequest(config=config, state_dir=state, signals=path, port=gateway.port, once=True,
                                   out_dir=tmp_path / name))  # fmt: skip
        intents = {r.order_ref.split(":")[1] for r in gateway_orders(gateway)}
    assert intents == {f"ALPH-{hashlib.sha256(b'news-7').hexdigest()[:9]}"}


# -- a lost or new state folder --------------------------------------------------------------------------


def test_on_a_new_state_folder_the_working_bracket_found_at_ib_is_never_sent_again(paper_config, tmp_path):
    config = paper_config()
    row = f"{LAST_DAY},ALPH,0.05,BUY,direct,"
    with gateway_at(LAST_DAY) as gateway:
        once(config, gateway, tmp_path / "first", [row], state=tmp_path / "lost")
        second = once(config, gateway, tmp_path / "second", [row], state=tmp_path / "new")
        assert len(gateway_orders(gateway)) == 3
        assert not [r for r in second.orders if r["status"] == "Submitted"]
        assert any(e["event"] == "adopted" for e in second.events)


def test_on_a_new_state_folder_the_working_orders_found_at_ib_count_in_the_gates_book(paper_config, tmp_path):
    config = paper_config({"risk.max_positions": 1})
    with gateway_at(LAST_DAY) as gateway:
        once(config, gateway, tmp_path / "first", [f"{LAST_DAY},ALPH,0.05,BUY,direct,"], state=tmp_path / "lost")
        second = once(
            config, gateway, tmp_path / "second", [f"{LAST_DAY},BRVO,0.05,BUY,direct,"], state=tmp_path / "new"
        )
        assert {r.symbol for r in gateway_orders(gateway)} == {"ALPH"}
    refused = {(r["ticker"], r["reason"]) for r in second.orders if r["status"] == "Rejected" and r["role"] == "entry"}
    assert refused == {("BRVO", "1 positions are open or pending; risk.max_positions is 1")}
