"""Flag values checked where typer parses them: each bad one is one line, ``FLAG VALUE: expected ...``.

Every command takes its numbers and names through these parsers (``typer.Option(parser=...)``),
so a port, a client id, a duration or an account code is refused the same way everywhere,
before anything is opened, created or connected:

    PORT, LISTEN_PORT   TCP ports 1..65535 (``spine gateway`` also takes 0: any free port)
    CLIENT_ID           IB API client ids, 0..2**31-1 (IB's int32)
    SECONDS             a finite number of seconds above 0 (NaN and inf are refused)
    HOST, ACCOUNT       a host name or address; an IB account code (letters, digits, ``-``, ``_``)
    whole_number, number   build another range (numbers are always finite)

``FlagValueError`` is a typer ``BadParameter``; ``spine.cli.app`` prints it as one line with
exit code 2, as it prints every other usage error. ``paths_given`` splits repeatable,
comma-separated ``--data`` values and refuses a value that names no path at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import typer

from spine.core.errors import InputError

MAX_SHOWN = 60  # characters of a bad value shown in a message


class FlagValueError(typer.BadParameter):
    """A flag's value is out of range or of the wrong kind (the message starts with the value)."""


def shown(value: object) -> str:
    """A value as the user typed it, quoted when it is empty or has spaces, never longer than ``MAX_SHOWN``."""
    text = value if isinstance(value, str) else repr(value)
    if not any(c.isalnum() for c in text) or not text.isprintable() or text != text.strip() or " " in text:
        text = repr(text)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def whole_number(low: int, high: int, expected: str) -> Callable[[object], int | None]:
    """A parser for a whole number in ``low..high`` (None, the unset default, passes)."""

    def parse(value: object) -> int | None:
        if value is None or isinstance(value, bool):
            return None
        try:
            number = int(str(value).strip().replace("_", ""), 10)
        except ValueError:
            raise FlagValueError(f"{shown(value)}: expected {expected}") from None
        if not low <= number <= high:
            raise FlagValueError(f"{shown(value)}: expected {expected}")
        return number

    return parse


def number(low: float, high: float, expected: str, *, above_low: bool = False) -> Callable[[object], float | None]:
    """A parser for a finite number in ``low..high`` (``above_low``: strictly above ``low``)."""

    def parse(value: object) -> float | None:
        if value is None or isinstance(value, bool):
            return None
        try:
            parsed = float(str(value).strip())
        except ValueError:
            raise FlagValueError(f"{shown(value)}: expected {expected}") from None
        too_low = parsed <= low if above_low else parsed < low
        if not math.isfinite(parsed) or too_low or parsed > high:
            raise FlagValueError(f"{shown(value)}: expected {expected}")
        return parsed

    return parse


def matching(pattern: str, expected: str) -> Callable[[object], str | None]:
    """A parser for text matching ``pattern`` in full (no newline, no control character)."""
    compiled = re.compile(pattern)

    def parse(value: object) -> str | None:
        if value is None:
            return None
        text = str(value)
        if not compiled.fullmatch(text):
            raise FlagValueError(f"{shown(value)}: expected {expected}")
        return text

    return parse


INT32_MAX = 2**31 - 1
PORT = whole_number(1, 65535, "a TCP port from 1 to 65535")
LISTEN_PORT = whole_number(0, 65535, "a TCP port from 1 to 65535, or 0 for any free port")
CLIENT_ID = whole_number(0, INT32_MAX, f"an IB API client id from 0 to {INT32_MAX} (IB's int32)")
WORKERS = whole_number(1, 1024, "a whole number of workers from 1 to 1024")
SECONDS = number(
    0, 10 * 365 * 86400, "a finite number of seconds above 0 (leave the flag out to run until stopped)", above_low=True
)
HOST = matching(r"[A-Za-z0-9:._%\[\]-]{1,253}", "a host name or IP address (letters, digits, '.', ':', '-')")
ACCOUNT = matching(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", "an account code of letters and digits, such as DU0000001")


def paths_given(values: Iterable[str | Path] | None, flag: str) -> tuple[Path, ...] | None:
    """Paths from a repeatable, comma-separated flag; None when the flag was not given.

    A value that names no path (``--data ','``, ``--data ''``) is refused: it would
    otherwise run on the default data without a word.
    """
    if not values:
        return None
    paths: list[Path] = []
    for value in values:
        parts = [part.strip() for part in str(value).split(",") if part.strip()]
        if not parts:
            raise InputError(f"{flag} {shown(str(value))}: names no path; expected price CSV files or folders")
        paths.extend(Path(part) for part in parts)
    return tuple(paths)
