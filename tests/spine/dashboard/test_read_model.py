"""The page's arithmetic on rows (pure) and the read of a real state folder, read-only."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from spine.dashboard.read_model import (
    ViewSettings,
    drawdown_series,
    folder_view,
    one_day_drawdown,
    pnl_by_tag,
    read_folder,
)
from spine.ib.journal import Journal, JournalOrder
from spine.safety.state_store import StateStore

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
REF = "LIVE_SPINE:ALPH-1:{role}:1"


def fill(exec_id: str, ticker: str, side: str, shares: float, price: float, commission: float, tag: str = "LIVE_SPINE"):
    return (exec_id, 1, f"{tag}:{ticker}-1:entry:1", ticker, side, shares, price, commission, NOW.isoformat())


def order(order_id: int, role: str, side: str, order_type: str, price=None, aux=None, parent=0, status="Accepted",
          ticker="ALPH", filled=0.0):  # fmt: skip
    ref = f"LIVE_SPINE:{ticker}-1:{role}:1"
    return (
        order_id,
        0,
        ref,
        f"{ticker}-1",
        role,
        ticker,
        side,
        100.0,
        order_type,
        price,
        aux,
        parent,
        status,
        filled,
        "",
    )


def view(fills=(), orders=(), snapshots=(), navs=()):
    return folder_view(status=None, states=[], snapshots=list(snapshots), orders=list(orders), fills=list(fills),
                       intents=[], baseline=[], halt={}, breaker=None, kill=None, triggers=[], navs=list(navs),
                       settings=ViewSettings(), now=NOW)  # fmt: skip


def test_pnl_by_tag_is_cash_after_commissions_plus_open_shares_at_the_mark_to_the_cent():
    fills = [fill("a", "ALPH", "BUY", 100, 10.005, 1.0), fill("b", "ALPH", "SELL", 40, 10.5, 0.35),
             fill("c", "BRVO", "BUY", 3, 33.333, 0.01, tag="PROHIBITED_LLM_DISCOVERY_LINK")]  # fmt: skip
    out = pnl_by_tag(fills, {}, {"ALPH": 10.25, "BRVO": 33.0})
    # ALPH: -1000.50 - 1.00 + 420.00 - 0.35 + 60 * 10.25 = 33.15
    assert out["LIVE_SPINE"] == {"pnl": 33.15, "commission": 1.35, "fills": 2, "unmarked": []}
    # BRVO: -99.999 - 0.01 + 99.0 = -1.009 -> -1.01
    assert out["PROHIBITED_LLM_DISCOVERY_LINK"]["pnl"] == -1.01


def test_a_position_without_a_working_stop_is_listed_first_and_flagged():
    fills = [fill("a", "ALPH", "BUY", 100, 10.0, 0.0), fill("b", "ZETA", "BUY", 50, 20.0, 0.0)]
    orders = [order(2, "stop", "SELL", "STP", aux=9.0, parent=1, ticker="ZETA"),
              order(3, "take_profit", "SELL", "LMT", price=24.0, parent=1, ticker="ZETA"),
              order(5, "take_profit", "SELL", "LMT", price=12.0, parent=4)]  # fmt: skip
    positions = view(fills, orders)["positions"]
    assert [(p["ticker"], p["unprotected"]) for p in positions] == [("ALPH", True), ("ZETA", False)]
    assert (positions[1]["stop"], positions[1]["take_profit"]) == (9.0, 24.0)


def test_the_children_of_an_unfilled_entry_protect_nothing_and_distances_come_in_atr_and_percent():
    fills = [fill("a", "ALPH", "BUY", 100, 10.0, 0.0)]
    orders = [order(7, "entry", "BUY", "MKT"), order(8, "stop", "SELL", "STP", aux=8.0, parent=7)]
    assert view(fills, orders)["positions"][0]["unprotected"]
    snapshot = (NOW.isoformat(), "DU1", 100_000.0, 99_000.0, '[["ALPH", 100, 10.0, 1100.0]]', None, None, 0)
    orders = [
        order(2, "stop", "SELL", "STP", aux=9.0, parent=1),
        order(3, "take_profit", "SELL", "LMT", price=14.0, parent=1),
    ]
    (alph,) = view(fills, orders, [snapshot])["positions"]
    # ATR = (14 - 9) / (2 + 3) = 1; the mark is 1100 / 100 = 11
    assert (alph["mark"], alph["stop_distance_atr"], alph["take_profit_distance_atr"]) == (11.0, 2.0, 3.0)
    assert (alph["stop_distance_pct"], alph["market_value"]) == (18.18, 1100.0)


def test_the_one_day_drawdown_is_measured_against_the_nav_one_day_earlier():
    history = [(NOW - timedelta(days=2), 100.0), (NOW - timedelta(hours=30), 110.0), (NOW - timedelta(hours=2), 90.0)]
    assert one_day_drawdown(history, NOW, 104.5) == (110.0 - 104.5) / 110.0
    assert one_day_drawdown(history, NOW, 120.0) == 0.0
    assert one_day_drawdown([], NOW, 100.0) is None


def test_reading_a_state_folder_changes_none_of_its_files(tmp_path):
    journal = Journal.in_folder(tmp_path)
    journal.record_submissions([JournalOrder(1, 0, REF.format(role="entry"), "ALPH-1", "entry", "ALPH", "BUY", 10.0,
                                             "MKT", None, None, 0, "", "Submitted", False, 0.0)])  # fmt: skip
    journal.close()
    with StateStore.open_folder(tmp_path, create=True) as store:
        store.set_kill_switch(NOW, "manual", "test")
    files = sorted(p for p in tmp_path.iterdir() if p.is_file())
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    out = read_folder(tmp_path, ViewSettings(), NOW)
    assert [o["order_id"] for o in out["working"]] == [1]
    assert out["gate"]["state"] == "KILLED" and out["gate"]["kill"]["reason"] == "test"
    assert out["session"]["state"] == "NONE" and out["problems"] == []
    after = sorted(p for p in tmp_path.iterdir() if p.is_file())
    assert after == files
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in after} == before


def test_a_folder_without_databases_reads_as_empty_and_creates_nothing(tmp_path):
    out = read_folder(tmp_path, ViewSettings(), NOW)
    assert (out["found"], out["positions"], out["working"]) == (False, [], [])
    assert list(tmp_path.iterdir()) == []


def test_the_drawdown_series_measures_each_nav_against_the_nav_one_day_before_it():
    nav = [[(NOW - timedelta(hours=h)).isoformat(), v] for h, v in ((50, 100.0), (30, 110.0), (20, 99.0), (1, 104.5))]
    # 50 h: itself; 30 h: against 50 h (100, a rise); 20 h: against 50 h (100); 1 h: against 30 h (110)
    assert [p[1] for p in drawdown_series(nav)] == [0.0, 0.0, 1.0, 5.0]
