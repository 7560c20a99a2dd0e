"""``benchmarks/chaos_paper.py``: the paper route's fault campaign in its short form, and its measures.

The campaign runs once for the module (30 faults, 3 kill -9, ``spine paper`` as a
subprocess against ``GatewayThread`` on the real prices) and each count is its own test.
Every count is asserted to be zero, each its own test; the measures themselves are checked
on small hand-built books.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "benchmarks" / "chaos_paper.py"
FAULTS, KILLS = 30, 3


def load_chaos():
    spec = importlib.util.spec_from_file_location("chaos_paper", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


chaos = load_chaos()


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    if not (REPO_ROOT.parent / "shared" / "data").is_dir():
        pytest.skip("real data folder ../shared/data is absent")
    out = tmp_path_factory.mktemp("chaos")
    command = [sys.executable, str(SCRIPT), "--faults", str(FAULTS), "--kills", str(KILLS), "--seed", "7",
               "--propagated", "0.35", "--settle", "0.6", "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.splitlines()[0])


def test_campaign_injects_every_fault_and_kill_and_trades_through_them(campaign):
    assert campaign["faults"] == FAULTS and campaign["kills"] == KILLS
    assert set(campaign["fault_kinds"]) >= {"drop", "restart", "blackhole", "external_fill"}
    assert campaign["checks"] == FAULTS + 1
    assert campaign["orders"] > 0 and campaign["fills"] > 0


@pytest.mark.parametrize("count", chaos.COUNTS)
def test_campaign_keeps_at_zero(campaign, count):
    assert campaign[count] == 0, campaign["examples"].get(count)


# -- the measures on hand-built books ---------------------------------------------------------------


def order(ref: str, symbol: str, action: str, remaining: float, working: bool = True):
    return chaos.GatewayOrder(ref, symbol, action, remaining, 0.0, working)


def fill(exec_id: str, symbol: str, signed: float, ref: str, day: str = ""):
    return chaos.GatewayExec(exec_id, symbol, signed, ref, day)


def book(orders=(), executions=(), positions=None, held=()):
    return chaos.GatewayBook(list(orders), list(held), list(executions), dict(positions or {}))


def test_an_orderref_placed_twice_is_a_duplicated_order():
    ref = "LIVE_SPINE:NVDA-1:entry:1"
    assert chaos.duplicated_refs(book([order(ref, "NVDA", "BUY", 10)], held=[ref])) == {ref}
    assert chaos.duplicated_refs(book([order(ref, "NVDA", "BUY", 10)])) == set()


def test_a_stop_on_a_flat_position_or_larger_than_it_is_an_orphan_leg():
    flat = order("LIVE_SPINE:NVDA-1:stop:1", "NVDA", "SELL", 100)
    larger = order("LIVE_SPINE:ORCL-2:take_profit:1", "ORCL", "SELL", 150)
    covering = order("LIVE_SPINE:YHOO-3:stop:1", "YHOO", "BUY", 50)
    waiting = order("LIVE_SPINE:NVDA-4:stop:1", "NVDA", "SELL", 100, working=False)
    found = chaos.orphan_legs(book([flat, larger, covering, waiting], positions={"ORCL": 100, "YHOO": -50}))
    assert found == {flat.ref, larger.ref}


def test_a_position_whose_stops_cover_less_than_its_size_is_unprotected():
    stop = order("LIVE_SPINE:NVDA-1:stop:1", "NVDA", "SELL", 60)
    assert chaos.unprotected(book([stop], positions={"NVDA": 100, "ORCL": -10})) == {"NVDA", "ORCL"}
    assert chaos.unprotected(book([stop], positions={"NVDA": 60})) == set()


def test_an_exit_of_more_than_the_position_or_on_a_flat_one_is_a_double_exit():
    executions = [
        fill("e1", "YHOO", -633, "LIVE_SPINE:YHOO-1:entry:1", "d1"),
        fill("e2", "YHOO", 633, "LIVE_SPINE:YHOO-2-x:exit:1", "d2"),
        fill("e3", "YHOO", 633, "LIVE_SPINE:YHOO-3-x:exit:1", "d3"),
        fill("e4", "ORCL", 100, "LIVE_SPINE:ORCL-4:entry:1", "d1"),
        fill("e5", "ORCL", -250, "LIVE_SPINE:ORCL-5-x:exit:1", "d2"),
    ]
    assert chaos.double_exits(book(executions=executions)) == {"e3", "e5"}


def test_a_reversal_whose_entry_fills_before_its_exit_on_one_bar_is_not_a_double_exit():
    executions = [
        fill("e1", "YHOO", 704, "LIVE_SPINE:YHOO-1:entry:1", "d1"),
        fill("e2", "YHOO", -204, "LIVE_SPINE:YHOO-2:entry:1", "d2"),
        fill("e3", "YHOO", -704, "LIVE_SPINE:YHOO-2-x:exit:2", "d2"),
    ]
    assert chaos.double_exits(book(executions=executions)) == set()


def test_a_journal_fill_the_gateway_never_made_is_a_fill_applied_twice():
    ref = "LIVE_SPINE:NVDA-1:entry:1"
    gateway = book(executions=[fill("e1", "NVDA", 100, ref)])
    journal = chaos.JournalBook({"e1": ("NVDA", 100.0, ref), "e1-again": ("NVDA", 100.0, ref)})
    assert "e1-again" in chaos.fills_applied_twice(gateway, journal)
    assert chaos.lost_fills(gateway, chaos.JournalBook({})) == {"e1"}


def test_positions_compare_only_spines_fills_and_tickers():
    ref = "LIVE_SPINE:NVDA-1:entry:1"
    gateway = book(executions=[fill("e1", "NVDA", 100, ref)], positions={"NVDA": 100, chaos.OUTSIDE_TICKER: 100})
    journal = chaos.JournalBook({"e1": ("NVDA", 100.0, ref), "x1": (chaos.OUTSIDE_TICKER, 100.0, "")})
    assert chaos.position_mismatch(gateway, journal) == {}
    assert chaos.position_mismatch(gateway, chaos.JournalBook({})) == {"NVDA": (100, 0.0)}
