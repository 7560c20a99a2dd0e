"""Domain exceptions, named by the reaction they need: stop, skip or retry.

    SpineError                       base; never raised itself
    ├── InputError                   stop: bad input from a person; say what and where, exit code 2
    │   ├── ConfigError              a config file, key path and value
    │   ├── DataError                a price or signal file, row and column
    │   └── (gateway) FaultSpecError, NonLoopbackHostError, SlippageSpecError, ProtocolError,
    │       HistoryError; (brokers) CommissionSpecError
    ├── SafetyError                  stop: the envelope refuses; fail closed, never retried
    │   ├── Refused                  the account or port is not a paper one: HALTED (also RuntimeError)
    │   └── WiringError              a safety piece wired wrong (a broker without its gate): fail at start (also TypeError)
    │       └── (brokers) MissingGateError, NotAGatedBrokerError
    ├── BrokerError                  stop: the broker cannot be used for this run; say why, exit code 1
    ├── NotSentError                 skip: one command or order did not go out; report it, the next may
    │   ├── OrderRefError            an orderRef that is not ours or does not fit IB's 64 characters (also ValueError)
    │   ├── UnknownContract          a ticker IB has no contract for (also ValueError)
    │   └── SessionNotRunning        a command before ``start()`` or after ``stop()`` (also RuntimeError)
    └── TemporaryBrokerError         retry: the broker did not answer this time; never read it as "nothing there"
        ├── AccountUnavailable       no account answer: retry later, never read it as flat (also RuntimeError)
        ├── ConnectFailed            one connect attempt failed: retried with back-off (also ConnectionError)
        │   └── ClientIdInUse        IB answered 326: retried with the same client id, then HALTED
        └── FetchFailed              a reconcile fetch timed out or failed: stay SYNCING and retry (also RuntimeError)

Each IB exception keeps the built-in base it has always had (named in brackets), so an
``except RuntimeError`` / ``ValueError`` / ``ConnectionError`` catches it as before.
The CLI turns every ``InputError`` and ``SafetyError`` into one message on stderr and
exit code 2, with no traceback; ``spine paper`` and ``spine rehearse`` turn a
``BrokerError`` into one message and exit code 1.
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
        text = repr(value)
        text = text if len(text) <= 120 else text[:117] + "..."  # a message never renders an unbounded value
        shown = "" if value is None else f" (got {text})"
        super().__init__(f"{where}: {message}{shown}")
        self.path = path
        self.row = row
        self.column = column
        self.value = value


class SafetyError(SpineError):
    """The safety envelope refuses an action; the refusal is final."""


class Refused(SafetyError, RuntimeError):
    """The account or port is not a paper one: HALTED, never retried."""


class WiringError(SafetyError, TypeError):
    """A safety piece is wired to something that cannot keep it (a broker without its gate); fail at start."""


class BrokerError(SpineError):
    """The broker could not be used for this run (no answer in time, out of protocol): the run stops."""


class NotSentError(SpineError):
    """One command or order did not go out; nothing was sent for it, and the next one may go."""


class OrderRefError(NotSentError, ValueError):
    """An orderRef that is not ours or does not fit IB's 64 characters."""


class UnknownContract(NotSentError, ValueError):
    """IB has no contract for a ticker: nothing was sent for it."""


class SessionNotRunning(NotSentError, RuntimeError):
    """A command was submitted before ``start()`` or after ``stop()``: nothing was sent."""


class TemporaryBrokerError(SpineError):
    """The broker did not answer this time; the caller retries, and never reads it as "nothing there"."""


class AccountUnavailable(TemporaryBrokerError, RuntimeError):
    """IB did not answer, or answered with nothing: retry later, never read it as flat."""


class ConnectFailed(TemporaryBrokerError, ConnectionError):
    """One connect attempt failed; tenacity retries it with back-off."""


class ClientIdInUse(ConnectFailed):
    """IB answered 326: another connection holds our client id."""


class FetchFailed(TemporaryBrokerError, RuntimeError):
    """A reconcile fetch timed out or failed: stay SYNCING and retry, never read it as 'nothing there'."""


__all__ = [
    "AccountUnavailable",
    "BrokerError",
    "ClientIdInUse",
    "ConfigError",
    "ConnectFailed",
    "DataError",
    "FetchFailed",
    "InputError",
    "NotSentError",
    "OrderRefError",
    "Refused",
    "SafetyError",
    "SessionNotRunning",
    "SpineError",
    "TemporaryBrokerError",
    "UnknownContract",
]
