"""The TWS API wire format: framing, field encoding, message ids and the notice texts.

The error codes are IB's one table, ``spine.ib.codes.ErrorCode`` (re-exported here);
``NOTICE_TEXTS`` holds the words the gateway sends with its notices.
Everything here is pure bytes-and-strings so it can be tested without a socket. The
gateway speaks exactly one server version, ``SERVER_VERSION`` (178), the highest that
``ib_async`` 2.1.0 understands, so every message layout in ``messages.py`` is the one a
real gateway sends that client in production.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from enum import IntEnum

from spine.core.errors import InputError
from spine.ib.codes import ErrorCode

SERVER_VERSION = 178
"""The highest version this gateway speaks (ib_async 2.1.0's maximum)."""

MIN_SERVER_VERSION = 157
"""The lowest version this gateway speaks; a client whose range lies below it is refused."""

MIN_CLIENT_VERSION = MIN_SERVER_VERSION  # the old name, kept for callers

API_PREFIX = b"API\0"
MAX_MESSAGE_BYTES = 0xFFFFFF
"""The official client's limit (16 MB); a larger length prefix is a malformed stream."""

UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE = 1.7976931348623157e308

_LENGTH = struct.Struct(">I")


class InMsg(IntEnum):
    """Client→server message ids (the ones the simulator answers)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCOUNT_UPDATES = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DETAILS = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
    REQ_CURRENT_TIME = 49
    REQ_REAL_TIME_BARS = 50
    CANCEL_REAL_TIME_BARS = 51
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_COMPLETED_ORDERS = 99
    REQ_MKT_DEPTH = 10
    CANCEL_MKT_DEPTH = 11
    REQ_NEWS_BULLETINS = 12
    CANCEL_NEWS_BULLETINS = 13
    SET_SERVER_LOGLEVEL = 14
    REQUEST_FA = 18
    REPLACE_FA = 19
    EXERCISE_OPTIONS = 21
    REQ_SCANNER_SUBSCRIPTION = 22
    CANCEL_SCANNER_SUBSCRIPTION = 23
    REQ_SCANNER_PARAMETERS = 24
    REQ_FUNDAMENTAL_DATA = 52
    CANCEL_FUNDAMENTAL_DATA = 53
    REQ_CALC_IMPLIED_VOLAT = 54
    REQ_CALC_OPTION_PRICE = 55
    CANCEL_CALC_IMPLIED_VOLAT = 56
    CANCEL_CALC_OPTION_PRICE = 57
    REQ_POSITIONS_MULTI = 74
    CANCEL_POSITIONS_MULTI = 75
    REQ_SEC_DEF_OPT_PARAMS = 78
    REQ_SOFT_DOLLAR_TIERS = 79
    REQ_FAMILY_CODES = 80
    REQ_MATCHING_SYMBOLS = 81
    REQ_MKT_DEPTH_EXCHANGES = 82
    REQ_SMART_COMPONENTS = 83
    REQ_NEWS_ARTICLE = 84
    REQ_NEWS_PROVIDERS = 85
    REQ_HISTORICAL_NEWS = 86
    REQ_HEAD_TIMESTAMP = 87
    REQ_HISTOGRAM_DATA = 88
    CANCEL_HISTOGRAM_DATA = 89
    CANCEL_HEAD_TIMESTAMP = 90
    REQ_MARKET_RULE = 91
    REQ_PNL = 92
    CANCEL_PNL = 93
    REQ_PNL_SINGLE = 94
    CANCEL_PNL_SINGLE = 95
    REQ_HISTORICAL_TICKS = 96
    REQ_TICK_BY_TICK_DATA = 97
    CANCEL_TICK_BY_TICK_DATA = 98
    REQ_WSH_META_DATA = 100
    CANCEL_WSH_META_DATA = 101
    REQ_WSH_EVENT_DATA = 102
    CANCEL_WSH_EVENT_DATA = 103
    REQ_USER_INFO = 104


class OutMsg(IntEnum):
    """Server→client message ids."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERROR = 4
    OPEN_ORDER = 5
    ACCOUNT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCOUNT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    HISTORICAL_DATA = 17
    CURRENT_TIME = 49
    REAL_TIME_BARS = 50
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102
    NEWS_BULLETINS = 14
    RECEIVE_FA = 16
    SCANNER_PARAMETERS = 19
    POSITION_MULTI = 71
    POSITION_MULTI_END = 72
    SECURITY_DEFINITION_OPTION_PARAMETER_END = 76
    SOFT_DOLLAR_TIERS = 77
    FAMILY_CODES = 78
    SYMBOL_SAMPLES = 79
    MKT_DEPTH_EXCHANGES = 80
    SMART_COMPONENTS = 82
    NEWS_PROVIDERS = 85
    HEAD_TIMESTAMP = 88
    HISTORICAL_DATA_UPDATE = 90
    MARKET_RULE = 93
    PNL = 94
    PNL_SINGLE = 95
    USER_INFO = 107


NOTICE_TEXTS: dict[ErrorCode, str] = {
    ErrorCode.CONNECTIVITY_LOST: "Connectivity between IB and Trader Workstation has been lost.",
    ErrorCode.CONNECTIVITY_RESTORED_DATA_LOST: (
        "Connectivity between IB and Trader Workstation has been restored - data lost."
    ),
    ErrorCode.CONNECTIVITY_RESTORED_DATA_MAINTAINED: (
        "Connectivity between IB and Trader Workstation has been restored - data maintained."
    ),
    ErrorCode.CLIENT_ID_IN_USE: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    ErrorCode.NO_SECURITY_DEFINITION: "No security definition has been found for the request",
    ErrorCode.DUPLICATE_ORDER_ID: "Duplicate order id",
    ErrorCode.MARKET_DATA_FARM_OK: "Market data farm connection is OK:usfarm",
    ErrorCode.HMDS_FARM_OK: "HMDS data farm connection is OK:ushmds",
    ErrorCode.SEC_DEF_FARM_OK: "Sec-def data farm connection is OK:secdefnj",
}


class ProtocolError(InputError):
    """A client sent bytes that are not a TWS API message; the connection is closed."""


Field = str | int | float | bool | None


def encode_field(value: Field) -> str:
    """One field as ib_async and TWS write it (bools as 0/1, unset numbers as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return "" if value == UNSET_INTEGER else str(value)
    if isinstance(value, float):
        if value == UNSET_DOUBLE or math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def encode_frame(fields: Iterable[Field]) -> bytes:
    """Frame one message: a big-endian length, then every field NUL-terminated."""
    payload = ("\0".join([f if type(f) is str else encode_field(f) for f in fields]) + "\0").encode("utf-8")
    return _LENGTH.pack(len(payload)) + payload


def encode_handshake_reply(version: int, connection_time: str) -> bytes:
    """The server's first frame: exactly two fields, the version and its clock."""
    return encode_frame([version, connection_time])


def decode_payload(payload: bytes) -> list[str]:
    """Split a frame's payload into its fields (the trailing NUL yields no field)."""
    text = payload.decode("utf-8", errors="backslashreplace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def frame_length(header: bytes) -> int:
    """The payload length a 4-byte header announces; refuse absurd sizes."""
    (length,) = _LENGTH.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {length} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    return length


def parse_version_range(text: str) -> tuple[int, int]:
    """``"v157..178"`` (optionally followed by connect options) to ``(157, 178)``."""
    head = text.strip().split(" ", 1)[0]
    if not head.startswith("v"):
        raise ProtocolError(f"bad version announcement {text!r}")
    low, sep, high = head[1:].partition("..")
    try:
        lo = int(low)
        hi = int(high) if sep else lo
    except ValueError:
        raise ProtocolError(f"bad version announcement {text!r}") from None
    return lo, hi


def negotiate(low: int, high: int) -> int:
    """The highest version both sides speak, as a real gateway chooses it; ProtocolError if none."""
    version = min(high, SERVER_VERSION)
    if version < max(low, MIN_SERVER_VERSION):
        raise ProtocolError(
            f"client versions {low}..{high} share no version with this gateway ({MIN_SERVER_VERSION}..{SERVER_VERSION})"
        )
    return version


class FieldReader:
    """Positional reader over one message's fields that names what is missing or wrong.

    A truncated or garbled request raises ``ValueError`` with the field's name, which
    the session turns into error 321 instead of a crashed server.
    """

    def __init__(self, fields: list[str], start: int = 1) -> None:
        self._fields = fields
        self._pos = start

    @property
    def position(self) -> int:
        return self._pos

    def skip(self, count: int = 1) -> None:
        self._pos += count

    def seek(self, position: int) -> None:
        self._pos = position

    def remaining(self) -> int:
        return len(self._fields) - self._pos

    def text(self, name: str) -> str:
        if self._pos >= len(self._fields):
            raise ValueError(f"message truncated before field '{name}'")
        value = self._fields[self._pos]
        self._pos += 1
        return value

    def integer(self, name: str, default: int | None = None) -> int:
        raw = self.text(name)
        if raw == "" and default is not None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"field '{name}' is not an integer: {raw!r}") from None

    def number(self, name: str, default: float | None = None) -> float:
        raw = self.text(name)
        if raw == "" and default is not None:
            return default
        try:
            value = _float(raw)
        except ValueError:
            raise ValueError(f"field '{name}' is not a number: {raw!r}") from None
        if math.isnan(value):
            raise ValueError(f"field '{name}' is not a number: {raw!r}")
        return value

    def optional_number(self, name: str) -> float | None:
        raw = self.text(name)
        if raw == "":
            return None
        try:
            value = _float(raw)
        except ValueError:
            raise ValueError(f"field '{name}' is not a number: {raw!r}") from None
        return None if value == UNSET_DOUBLE or math.isnan(value) else value

    def flag(self, name: str) -> bool:
        raw = self.text(name)
        if raw in ("", "0", "false", "False"):
            return False
        if raw in ("1", "true", "True"):
            return True
        raise ValueError(f"field '{name}' is not a flag: {raw!r}")


def _float(raw: str) -> float:
    """A number as clients write it; ib_async writes infinity as ``Infinite``."""
    text = raw.strip()
    if text.lower() in ("infinite", "-infinite"):
        return -math.inf if text.startswith("-") else math.inf
    return float(text)
