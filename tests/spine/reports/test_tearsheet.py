"""``spine.reports.tearsheet``: the pieces of ``report.html`` a trader reads (tables, captions, colours)."""

from __future__ import annotations

import re

import pandas as pd

from spine.reports.tearsheet import bracket_levels, render_tearsheet, text_colour

DAYS = pd.bdate_range("2024-01-01", periods=40)
EQUITY = pd.DataFrame({"datetime": DAYS, "value": [100_000.0 + 150 * i for i in range(40)], "cash": 100_000.0})
NO_EVENTS = pd.DataFrame(columns=["datetime", "event", "detail"])
TRADES = pd.DataFrame(
    [
        {"trade_id": 1, "ticker": "NVDA", "side": "long", "entry_datetime": DAYS[2], "entry_price": 4.1387353335,
         "exit_datetime": DAYS[9], "exit_price": 4.5, "size": 2267.0, "pnl": 818.6, "pnl_net": 814.1,
         "commission": 4.5, "return_pct": 8.73, "r_multiple": 1.4, "bars_held": 7, "exit_reason": "take_profit",
         "tag": "LIVE_SPINE", "source_type": "direct", "source_ticker": None, "intent": "NVDA-abc"},
        {"trade_id": 2, "ticker": "ORCL", "side": "short", "entry_datetime": DAYS[3], "entry_price": 20.0,
         "exit_datetime": DAYS[5], "exit_price": 21.0, "size": 79.0, "pnl": -79.0, "pnl_net": -80.0,
         "commission": 1.0, "return_pct": -5.0, "r_multiple": -1.0, "bars_held": 2, "exit_reason": "stop",
         "tag": "PROHIBITED_LLM_DISCOVERY_LINK", "source_type": "propagated", "source_ticker": "NVDA",
         "intent": "ORCL-def"},
    ]
)  # fmt: skip


def page(events: pd.DataFrame = NO_EVENTS) -> str:
    summary = {"route": "backtest", "tickers": ["NVDA", "ORCL"], "start": "2024-01-01T00:00:00"}
    return render_tearsheet(
        summary=summary, equity=EQUITY, trades=TRADES, events=events, benchmark=None, benchmark_name="",
        research_only=True,
    )  # fmt: skip


def test_trade_table_keeps_text_left_numbers_right_and_share_counts_whole():
    table = page().split("<table id='trade-table'>", 1)[1].split("</table>", 1)[0]
    assert "<td class='l' data-v='LIVE_SPINE'>LIVE_SPINE</td>" in table
    assert ">2,267<" in table and "2,267.00" not in table and ">79<" in table
    assert ">4.1387<" in table and ">814.10<" in table and ">8.73%<" in table
    assert "<thead><tr><th class='n'>trade_id</th><th class='l'>ticker</th>" in table


def test_trade_table_scrolls_inside_its_box_under_a_sticky_header_with_filters():
    html = page()
    assert re.search(r"\.scroll\{[^}]*overflow:auto", html) and "position:sticky;top:0" in html
    assert "<select data-filter='ticker'>" in html and "<select data-filter='exitreason'>" in html
    assert "data-ticker='ORCL' data-tag='PROHIBITED_LLM_DISCOVERY_LINK' data-exitreason='stop'" in html


def test_the_halted_periods_caption_appears_only_with_a_halt():
    assert "Shaded: halted periods" not in page() and "No halts" in page()
    halted = pd.DataFrame([{"datetime": DAYS[20], "event": "kill_switch", "detail": "vix 45 > 40"}])
    text = page(halted)
    assert "Shaded: halted periods. Markers: where the kill switch fired" in text and "breaker tripped" not in text


def test_heat_map_text_is_dark_on_light_cells_and_light_on_dark_ones():
    assert text_colour(253, 231, 37) == "#000"  # viridis yellow, the best cell
    assert text_colour(68, 1, 84) == "#fff"  # viridis purple
    assert text_colour(55, 255, 55) == "#000"


def test_bracket_levels_are_the_first_stop_and_take_profit_each_intent_was_sent_with():
    orders = pd.DataFrame(
        {"intent": ["A", "A", "A", "A"], "role": ["entry", "stop", "take_profit", "stop"],
         "price": [None, 9.0, 12.0, 9.5]}
    )  # fmt: skip
    assert bracket_levels(orders) == {"A": (9.0, 12.0)}
