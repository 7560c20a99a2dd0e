"""Domain exceptions, named by the reaction they need.

    SpineError                 base; never raised itself
    ├── InputError             bad input from a person: stop, say what and where, exit code 2
    │   ├── ConfigError        a config file, key path and value
    │   └── DataError          a price or signal file, row and column
    ├── SafetyError            the envelope refuses: fail closed, never retried
    └── BrokerError            a broker outage or protocol fault: retry with back-off

The CLI turns every ``InputError`` and ``SafetyError`` into one message on
stderr and exit code 2, with no traceback.
"""

from __future__ import annotations


class SpineError(Exception):
    """Base of every error Spine raises on purpose."""


class InputError(SpineError):
    """Input a person supplied is wrong; nothing was written."""


class ConfigError(InputError):
    """A config file is missing, unreadable or invalid."""


class DataError(InputError):
    """A price or signal file is missing, unreadable or invalid."""

    def __init__(
        self,
        path: object,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"{where}: {message}{shown}")
        self.path = path
        self.row = row
        self.column = column
        self.value = value


class SafetyError(SpineError):
    """The safety envelope refuses an action; the refusal is final."""


class BrokerError(SpineError):
    """The broker could not be reached or answered out of protocol."""
