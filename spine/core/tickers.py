"""Ticker symbols: what Spine accepts wherever a ticker enters (signals, flags, the cache).

A ticker becomes a file name in ``data/cache`` and a key in every table, so it is
letters, digits, ``.`` and ``-``, at most 12 characters, starting with a letter or a
digit: ``BRK.B`` and ``BF-B`` pass, ``../../x`` never reaches a path.
"""

from __future__ import annotations

import re

from spine.core.errors import InputError

TICKER_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,11}")
TICKER_RULE = "expected 1-12 letters, digits, '.' or '-' starting with a letter or digit (like NVDA or BRK.B)"


def is_ticker(text: str) -> bool:
    """True for a usable ticker (upper-case it first); '..' is never one."""
    return bool(TICKER_PATTERN.fullmatch(text)) and ".." not in text


def checked_ticker(text: str, where: str) -> str:
    """The ticker upper-cased and stripped, or an ``InputError`` naming ``where`` and the value."""
    ticker = str(text).strip().upper()
    if not is_ticker(ticker):
        raise InputError(f"{where}: ticker {text!r} is not a ticker symbol; {TICKER_RULE}")
    return ticker
