"""The wire format's error codes are IB's one table."""

from __future__ import annotations

import spine.gateway
from spine.gateway import protocol
from spine.ib import codes


def test_the_gateway_sends_the_codes_of_ibs_one_table() -> None:
    assert protocol.ErrorCode is codes.ErrorCode is spine.gateway.ErrorCode


def test_every_notice_text_belongs_to_a_known_code() -> None:
    assert all(isinstance(code, codes.ErrorCode) for code in protocol.NOTICE_TEXTS)
