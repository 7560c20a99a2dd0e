"""IB's codes: the named sets that say how the IB thread reacts to a code."""

from __future__ import annotations

from spine.ib.codes import CONNECTIVITY_CODES, NO_CHANGE_CODES, ORDER_ERROR_CODES, ErrorCode


def test_the_order_error_set_holds_exactly_the_codes_about_one_order() -> None:
    assert {201, 202, 103, 110, 161, 399, 10147, 10148, 2148} == ORDER_ERROR_CODES


def test_the_no_change_codes_are_order_codes_a_cancel_or_warning_leaves_alone() -> None:
    assert {161, 399, 10147, 10148} == NO_CHANGE_CODES
    assert NO_CHANGE_CODES < ORDER_ERROR_CODES


def test_the_connectivity_codes_are_the_lost_and_restored_notices() -> None:
    assert {1100, 1101, 1102} == CONNECTIVITY_CODES
    assert ErrorCode.CLIENT_ID_IN_USE not in CONNECTIVITY_CODES
