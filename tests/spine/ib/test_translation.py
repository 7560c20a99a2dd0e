"""The IB <-> Backtrader tables and the orderRef format, exhaustively and without a socket."""

from __future__ import annotations

import backtrader as bt
import pytest

from spine.ib import translation as t
from spine.ib.codes import NO_CHANGE_CODES, ORDER_ERROR_CODES

STATUS_ROWS = [
    # ib status, filled, remaining, error code, error text, expected
    ("PendingSubmit", 0, 10, 0, "", "Submitted"),
    ("ApiPending", 0, 10, 0, "", "Submitted"),
    ("PreSubmitted", 0, 10, 0, "", "Accepted"),
    ("Submitted", 0, 10, 0, "", "Accepted"),
    ("Submitted", 4, 6, 0, "", "Partial"),
    ("PendingCancel", 0, 10, 0, "", None),
    ("Filled", 10, 0, 0, "", "Completed"),
    ("Filled", 4, 6, 0, "", "Partial"),
    ("Cancelled", 0, 10, 0, "", "Canceled"),
    ("ApiCancelled", 0, 10, 0, "", "Canceled"),
    ("Inactive", 0, 10, 0, "", "Rejected"),
    ("ValidationError", 0, 10, 0, "", None),
    ("Cancelled", 0, 10, 201, "Order rejected - reason: No trading permissions", "Rejected"),
    ("Cancelled", 0, 10, 201, "Order rejected - reason: Insufficient margin", "Margin"),
    ("Cancelled", 0, 10, 202, "Order Canceled - reason:", "Canceled"),
    ("Cancelled", 0, 10, 202, "Order Canceled - reason: order expired (DAY)", "Expired"),
    ("Cancelled", 0, 10, 103, "Duplicate order id", "Rejected"),
    ("Cancelled", 0, 10, 110, "The price does not conform to the minimum price variation", "Rejected"),
    ("Cancelled", 0, 10, 2148, "account approaching margin liquidation", "Margin"),
    ("Inactive", 0, 10, 201, "Order rejected - reason: equity below minimum", "Margin"),
    ("Cancelled", 0, 10, 161, "Cancel attempted when order is not in a cancellable state", "Canceled"),
    ("Submitted", 0, 10, 399, "Order Message: will not be placed until the market opens", "Accepted"),
]


@pytest.mark.parametrize(("ib_status", "filled", "remaining", "code", "text", "expected"), STATUS_ROWS)
def test_ib_status_and_error_map_to_the_backtrader_state(ib_status, filled, remaining, code, text, expected) -> None:
    assert t.bt_status(ib_status, filled=filled, remaining=remaining, error_code=code, error_message=text) == expected


def test_every_ib_status_has_a_row_in_the_table() -> None:
    assert {row[0] for row in STATUS_ROWS} == set(t.IB_STATUSES)


def test_an_unknown_ib_status_is_an_error_not_ignored() -> None:
    with pytest.raises(ValueError, match="unknown IB order status 'Zombie'"):
        t.bt_status("Zombie")


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (201, "Order rejected - reason: no permissions", "Rejected"),
        (201, "Order rejected - reason: Insufficient buying power", "Margin"),
        (202, "Order Canceled - reason:", "Canceled"),
        (202, "Order Canceled - reason: expired", "Expired"),
        (103, "Duplicate order id", "Rejected"),
        (110, "price does not conform", "Rejected"),
        (2148, "margin warning", "Margin"),
        (161, "Cancel attempted when order is not in a cancellable state", None),
        (399, "Order Message warning", None),
        (10147, "OrderId 5 that needs to be cancelled is not found", None),
        (10148, "OrderId 5 that needs to be cancelled can not be cancelled, state: Filled", None),
    ],
)
def test_each_listed_error_code_has_its_backtrader_meaning(code: int, text: str, expected: str | None) -> None:
    assert t.bt_status_for_error(code, text) == expected


def test_an_order_error_changes_its_order_unless_it_is_a_no_change_code() -> None:
    for code in ORDER_ERROR_CODES:
        assert (t.bt_status_for_error(code) is None) == (code in NO_CHANGE_CODES), code


def test_backtrader_state_names_are_backtraders_own() -> None:
    assert set(t.BT_STATUSES) <= set(bt.Order.Status)
    assert {"Completed", "Canceled", "Expired", "Margin", "Rejected"} == t.TERMINAL_STATUSES


@pytest.mark.parametrize(
    ("bt_name", "ib_type"),
    [("Market", "MKT"), ("Close", "MOC"), ("Limit", "LMT"), ("Stop", "STP"), ("StopLimit", "STP LMT"),
     ("StopTrail", "TRAIL"), ("StopTrailLimit", "TRAIL LIMIT")],
)  # fmt: skip
def test_order_types_translate_both_ways(bt_name: str, ib_type: str) -> None:
    assert t.ib_order_type(bt_name) == ib_type
    assert t.ib_order_type(bt.Order.ExecTypes.index(bt_name)) == ib_type
    assert t.bt_exec_type(ib_type) == bt_name
    assert t.bt_exec_type(ib_type.lower()) == bt_name


def test_exec_type_names_follow_backtraders_order() -> None:
    assert list(t.BT_EXEC_TYPES) == list(bt.Order.ExecTypes[: len(t.BT_EXEC_TYPES)])


def test_untranslatable_order_types_are_errors() -> None:
    with pytest.raises(ValueError, match="'Historical'"):
        t.ib_order_type("Historical")
    with pytest.raises(ValueError, match="'REL'"):
        t.bt_exec_type("REL")


def test_order_ref_round_trips_and_carries_the_tag() -> None:
    text = t.format_order_ref("PROHIBITED_LLM_DISCOVERY_LINK", "s20230424-TSM-17", "take_profit", 2)
    assert text == "PROHIBITED_LLM_DISCOVERY_LINK:s20230424-TSM-17:take_profit:2"
    assert "PROHIBITED_LLM_DISCOVERY_LINK" in text
    assert t.parse_order_ref(text) == t.OrderRef("PROHIBITED_LLM_DISCOVERY_LINK", "s20230424-TSM-17", "take_profit", 2)
    assert str(t.parse_order_ref(text)) == text


def test_order_ref_longer_than_64_characters_is_refused() -> None:
    with pytest.raises(t.OrderRefError, match="IB keeps at most 64"):
        t.format_order_ref("PROHIBITED_LLM_DISCOVERY_LINK", "x" * 30, "take_profit", 1)
    longest = t.format_order_ref("PROHIBITED_LLM_DISCOVERY_LINK", "x" * t.INTENT_MAX, "take_profit", 1)
    assert len(longest) <= 64


@pytest.mark.parametrize(
    ("tag", "intent", "role", "attempt"),
    [
        ("live_spine", "a", "entry", 1),
        ("LIVE_SPINE", "a:b", "entry", 1),
        ("LIVE_SPINE", "a", "hedge", 1),
        ("LIVE_SPINE", "a", "stop", 0),
    ],
)
def test_order_ref_parts_that_would_not_parse_back_are_refused(tag: str, intent: str, role: str, attempt: int) -> None:
    with pytest.raises(t.OrderRefError):
        t.format_order_ref(tag, intent, role, attempt)


@pytest.mark.parametrize(
    "text", [None, "", "manual order", "LIVE_SPINE:a:entry", "LIVE_SPINE:a:entry:x", "LIVE_SPINE:a:hedge:1", "X" * 65]
)
def test_foreign_order_refs_parse_to_none(text: str | None) -> None:
    assert t.parse_order_ref(text) is None


LONGEST_TICKER = "ABCDEFGHIJ.K"  # 12 characters: the most spine.core.tickers accepts
FAR_FUTURE = 4_102_444_800.0  # 2100-01-01 in unix seconds: stamps keep their width


def test_the_longest_ticker_is_one_spine_accepts() -> None:
    from spine.core.tickers import is_ticker

    assert is_ticker(LONGEST_TICKER) and not is_ticker(LONGEST_TICKER + "X")


def _longest_intents(tag: str) -> dict[str, str]:
    """The longest intent id of each kind Spine builds for an order carrying ``tag``."""
    return {
        "signal": t.fit_intent_id(f"{LONGEST_TICKER}-{'f' * 40}-exit", t.intent_room(tag)),
        "signal given": t.fit_intent_id("x" * 200, t.intent_room(tag)),
        "restore": t.restore_intent_id(LONGEST_TICKER, FAR_FUTURE),
        "flatten": t.flatten_intent_id(LONGEST_TICKER, FAR_FUTURE),
        "kill": t.kill_intent_id(LONGEST_TICKER, FAR_FUTURE),
        "dispatcher": t.dispatch_intent_id("ddd", LONGEST_TICKER, FAR_FUTURE, "zzzz"),
    }


@pytest.mark.parametrize("kind", ["signal", "signal given", "restore", "flatten", "kill", "dispatcher"])
def test_every_order_ref_spine_builds_fits_64_characters(kind: str) -> None:
    for tag in t.ORDER_REF_TAGS:
        intent = _longest_intents(tag)[kind]
        assert len(intent) <= t.intent_room(tag) and (kind.startswith("signal") or len(intent) <= t.INTENT_MAX)
        for role in t.ORDER_ROLES:
            text = t.format_order_ref(tag, intent, role, t.ATTEMPT_MAX)
            assert len(text) <= t.ORDER_REF_MAX, text
            assert t.parse_order_ref(text) == t.OrderRef(tag, intent, role, t.ATTEMPT_MAX)


def test_the_intent_bound_is_what_the_longest_tag_role_and_attempt_leave() -> None:
    longest = max(t.ORDER_REF_TAGS, key=len)
    text = t.format_order_ref(longest, "x" * t.INTENT_MAX, "take_profit", t.ATTEMPT_MAX)
    assert len(text) == t.ORDER_REF_MAX


def test_an_intent_id_that_fits_is_kept_as_it_is() -> None:
    assert t.fit_intent_id("NVDA-2") == "NVDA-2"
    assert t.fit_intent_id("NVDA-2-exit") == "NVDA-2-exit"


def test_a_long_intent_id_is_shortened_the_same_way_every_time() -> None:
    long = "flatten-kill switch (vix): VIX closed at 45.10"
    assert t.fit_intent_id(long) == t.fit_intent_id(long)
    assert t.fit_intent_id(long) != t.fit_intent_id(long + "1")
    assert len(t.fit_intent_id(long)) <= t.INTENT_MAX


def test_restore_flatten_and_kill_intents_name_the_ticker_and_differ_by_the_millisecond() -> None:
    assert "NVDA" in t.restore_intent_id("NVDA", 1_796_604_614.0)
    assert t.restore_intent_id("NVDA", 1_796_604_614.0) != t.restore_intent_id("NVDA", 1_796_604_614.001)
    stamp = 1_796_604_614.0
    kinds = {t.restore_intent_id("NVDA", stamp), t.flatten_intent_id("NVDA", stamp), t.kill_intent_id("NVDA", stamp)}
    assert len(kinds) == 3


def test_an_attempt_past_the_bound_is_refused() -> None:
    with pytest.raises(t.OrderRefError, match=f"from 1 to {t.ATTEMPT_MAX}"):
        t.format_order_ref("LIVE_SPINE", "a", "stop", t.ATTEMPT_MAX + 1)


def test_a_tag_spine_does_not_use_is_refused() -> None:
    with pytest.raises(t.OrderRefError, match="LIVE_SPINE"):
        t.format_order_ref("SOME_OTHER_TAG", "a", "stop", 1)


def test_an_intent_past_its_tags_room_is_refused_even_for_a_short_role() -> None:
    room = t.intent_room("LIVE_SPINE")
    with pytest.raises(t.OrderRefError, match=f"at most {room}"):
        t.format_order_ref("LIVE_SPINE", "x" * (room + 1), "stop", 1)
    assert t.INTENT_MAX == t.intent_room("PROHIBITED_LLM_DISCOVERY_LINK") < room


@pytest.mark.parametrize(
    "text",
    [
        "LIVE_SPINE:restore-NVDA-1796604614:stop:1",
        "LIVE_SPINE:flat-NVDA-1796604614123:exit:1",
        "LIVE_SPINE:dtpng21-NVDA-1:entry:1",
        "PROHIBITED_LLM_DISCOVERY_LINK:ALPH-2:take_profit:1",
        "KILL_SWITCH:flatten-NVDA-kill-switch-vix-V-a1b2c3d4:exit:1",
        "OLD_TAG:NVDA-2:stop:3",
    ],
)
def test_order_refs_journaled_by_earlier_sessions_still_parse(text: str) -> None:
    ref = t.parse_order_ref(text)
    assert ref is not None and str(ref.intent_id) in text


@pytest.mark.parametrize(
    ("tag", "intent_id", "roles", "attempt"),
    [
        ("LIVE_SPINE", "d0abc-ABC", ("entry", "take_profit", "stop"), 1),
        ("LIVE_SPINE", "d0abc-ABC", ("entry", "stop"), 99),
        ("NOT_A_TAG", "d0abc-ABC", ("entry", "stop"), 1),
        ("LIVE_SPINE", "bad:id", ("entry", "stop"), 1),
        ("LIVE_SPINE", "x" * 60, ("entry", "stop"), 1),
        ("LIVE_SPINE", "d0abc-ABC", ("entry", "bogus"), 1),
        ("LIVE_SPINE", "d0abc-ABC", ("bogus", "stop"), 0),
        ("LIVE_SPINE", "d0abc-ABC", ("entry", "stop"), 0),
        ("LIVE_SPINE", "d0abc-ABC", (), 1),
    ],
)
def test_a_bracket_s_refs_are_each_role_s_ref_or_the_same_refusal(tag, intent_id, roles, attempt) -> None:  # type: ignore[no-untyped-def]
    def one_by_one() -> list[str]:
        return [t.format_order_ref(tag, intent_id, role, attempt) for role in roles]

    try:
        expected: list[str] | str = one_by_one()
    except t.OrderRefError as exc:
        expected = str(exc)
    try:
        got: list[str] | str = t.format_order_refs(tag, intent_id, roles, attempt)
    except t.OrderRefError as exc:
        got = str(exc)
    assert got == expected


@pytest.mark.parametrize("width", [1, 2, 3, 6, 8, 9])
def test_base36_is_the_number_modulo_its_width_in_exactly_that_many_digits(width: int) -> None:
    for number in (0, 1, 35, 36, 1295, 1296, 36**width - 1, 36**width, -1, 1_765_432_109, 10**15 + 7):
        text = t.base36(number, width)
        assert len(text) == width and set(text) <= set(t.BASE36_DIGITS)
        assert int(text, 36) == number % 36**width


@pytest.mark.parametrize(
    ("ticker", "part"), [("abc", "ABC"), ("BRK.B", "BRK.B"), ("A B/C", "ABC"), ("ÄX", "X"), ("", "X"), ("%%", "X")]
)
def test_a_dispatch_intent_keeps_only_the_characters_an_order_ref_carries_of_its_ticker(ticker: str, part: str) -> None:
    intent = t.dispatch_intent_id("d", ticker, 1_765_000_000.5, "a1z9")
    assert intent == f"d{t.base36(1_765_000_000, 6)}a1z9-{part}"[: t.INTENT_MAX]
