"""Pure translation tables between IB and Backtrader, and the orderRef format.

No socket, no ib_async, no Backtrader import: plain strings in, plain strings out, so
every row is tested exhaustively (``tests/spine/ib/test_translation.py``). The IB codes
are named in ``spine.ib.codes``.

Statuses. ib_async reports an order's raw ``orderStatus`` word and, separately, the
error that ended it (a 201 rejection arrives as ``Cancelled`` plus error 201). The
Backtrader state is read from both, error first:

=================================  ==========================================
IB                                  Backtrader
=================================  ==========================================
PendingSubmit, ApiPending           Submitted
PreSubmitted, Submitted             Accepted (Partial once something filled)
PendingCancel                       no change (still working until IB says so)
Filled                              Completed (Partial while remaining > 0)
Cancelled, ApiCancelled             Canceled
Inactive                            Rejected (IB will not work it)
ValidationError                     no change (a warning on a working order)
error 201 order rejected            Rejected, or Margin when the reason is margin
error 202 order cancelled           Canceled, or Expired when the reason is expiry
error 103 duplicate order id        Rejected
error 110 price not on the tick     Rejected
error 2148 margin / liquidation     Margin
error 161, 10147, 10148             no change (a cancel that could not act: the
                                    order's own status and fills decide)
error 399 order message warning     no change
=================================  ==========================================

orderRef: ``<TAG>:<intent id>:<role>:<attempt>``, at most 64 characters, so every leg at
IB carries its provenance tag and can be matched to the journal after a restart. Each part
has a bound (the tag one of three, the intent id ``intent_room(tag)``, the role one of four,
the attempt two digits), so every ref Spine builds fits by construction; the intent ids Spine
makes itself (restores, flattens, the dispatcher's) are at most ``INTENT_MAX``, which fits
beside any tag.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from spine.core.errors import OrderRefError
from spine.ib.codes import ErrorCode

# Backtrader's names (bt.Order.Status and bt.Order.ExecTypes), kept as text so this stays pure.
SUBMITTED, ACCEPTED, PARTIAL, COMPLETED = "Submitted", "Accepted", "Partial", "Completed"
CANCELED, EXPIRED, MARGIN, REJECTED = "Canceled", "Expired", "Margin", "Rejected"
BT_STATUSES = (SUBMITTED, ACCEPTED, PARTIAL, COMPLETED, CANCELED, EXPIRED, MARGIN, REJECTED)
TERMINAL_STATUSES = frozenset({COMPLETED, CANCELED, EXPIRED, MARGIN, REJECTED})

IB_STATUSES = (
    "PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel",
    "ApiCancelled", "Cancelled", "Filled", "Inactive", "ValidationError",
)  # fmt: skip
_STATUS_TABLE: dict[str, str | None] = {
    "PendingSubmit": SUBMITTED,
    "ApiPending": SUBMITTED,
    "PreSubmitted": ACCEPTED,
    "Submitted": ACCEPTED,
    "PendingCancel": None,
    "ApiCancelled": CANCELED,
    "Cancelled": CANCELED,
    "Filled": COMPLETED,
    "Inactive": REJECTED,
    "ValidationError": None,
}

_MARGIN_WORDS = ("margin", "equity", "insufficient", "buying power", "liquidat")
_EXPIRY_WORDS = ("expir",)


def bt_status_for_error(code: int, message: str = "") -> str | None:
    """The Backtrader state an IB order error puts its order in; None when the error changes nothing."""
    text = message.lower()
    if code == ErrorCode.ORDER_REJECTED:
        return MARGIN if any(word in text for word in _MARGIN_WORDS) else REJECTED
    if code == ErrorCode.ORDER_CANCELLED:
        return EXPIRED if any(word in text for word in _EXPIRY_WORDS) else CANCELED
    if code in (ErrorCode.DUPLICATE_ORDER_ID, ErrorCode.PRICE_NOT_ON_TICK):
        return REJECTED
    if code == ErrorCode.MARGIN_WARNING:
        return MARGIN
    return None


def bt_status(
    ib_status: str, *, filled: float = 0.0, remaining: float = 0.0, error_code: int = 0, error_message: str = ""
) -> str | None:
    """The Backtrader state of an order from IB's raw status, its fill counts and its last error.

    Returns None when nothing changes for Backtrader. An unknown IB status raises
    ``ValueError``: silently ignoring a new word could hide a dead order.
    """
    if ib_status not in _STATUS_TABLE:
        raise ValueError(f"unknown IB order status {ib_status!r} (expected one of {', '.join(IB_STATUSES)})")
    if ib_status in ("Cancelled", "ApiCancelled", "Inactive") and error_code:
        by_error = bt_status_for_error(error_code, error_message)
        if by_error is not None:
            return by_error
    state = _STATUS_TABLE[ib_status]
    if state == ACCEPTED and filled > 0 and remaining > 0:
        return PARTIAL
    if state == COMPLETED and remaining > 0:
        return PARTIAL
    return state


def is_terminal(status: str | None) -> bool:
    return status in TERMINAL_STATUSES


# --- order types ---------------------------------------------------------------------------

BT_EXEC_TYPES = ("Market", "Close", "Limit", "Stop", "StopLimit", "StopTrail", "StopTrailLimit")
_BT_TO_IB = {
    "Market": "MKT",
    "Close": "MOC",
    "Limit": "LMT",
    "Stop": "STP",
    "StopLimit": "STP LMT",
    "StopTrail": "TRAIL",
    "StopTrailLimit": "TRAIL LIMIT",
}
_IB_TO_BT = {ib: bt for bt, ib in _BT_TO_IB.items()}


def ib_order_type(bt_exec_type: str | int) -> str:
    """IB's orderType for a Backtrader exec type, given by name or by its index in bt.Order.ExecTypes."""
    name = (
        BT_EXEC_TYPES[bt_exec_type]
        if isinstance(bt_exec_type, int) and 0 <= bt_exec_type < len(BT_EXEC_TYPES)
        else bt_exec_type
    )
    try:
        return _BT_TO_IB[name]  # type: ignore[index]
    except KeyError:
        raise ValueError(
            f"Backtrader exec type {bt_exec_type!r} has no IB order type (expected one of {', '.join(BT_EXEC_TYPES)})"
        ) from None


def bt_exec_type(ib_type: str) -> str:
    """Backtrader's exec type name for an IB orderType."""
    key = " ".join(str(ib_type).upper().split())
    try:
        return _IB_TO_BT[key]
    except KeyError:
        raise ValueError(
            f"IB order type {ib_type!r} has no Backtrader exec type (expected one of {', '.join(_IB_TO_BT)})"
        ) from None


# --- orderRef ------------------------------------------------------------------------------

ORDER_REF_MAX = 64
ORDER_ROLES = ("entry", "stop", "take_profit", "exit")
# The provenance tags Spine's orders carry: a direct signal, a propagated one, the kill switch's flatten.
ORDER_REF_TAGS = ("LIVE_SPINE", "PROHIBITED_LLM_DISCOVERY_LINK", "KILL_SWITCH")
ATTEMPT_MAX = 99  # a leg sent again after IB lost it counts up; two digits at most
_ROLE_WIDTH = max(len(role) for role in ORDER_ROLES)
_ATTEMPT_WIDTH = len(str(ATTEMPT_MAX))
_TAG = re.compile(r"^[A-Z][A-Z0-9_]*$")
_INTENT = re.compile(r"^[A-Za-z0-9._\-]+$")
_NOT_INTENT = re.compile(r"[^A-Za-z0-9._\-]")


def intent_room(tag: str) -> int:
    """The most characters an intent id may have beside ``tag``, whatever the role and attempt (three ':')."""
    return ORDER_REF_MAX - len(tag) - _ROLE_WIDTH - _ATTEMPT_WIDTH - 3


INTENT_MAX = min(intent_room(tag) for tag in ORDER_REF_TAGS)  # 19: an intent this long fits beside every tag


@dataclass(frozen=True, slots=True)
class OrderRef:
    tag: str
    intent_id: str
    role: str
    attempt: int

    def __str__(self) -> str:
        return f"{self.tag}:{self.intent_id}:{self.role}:{self.attempt}"


def format_order_ref(tag: str, intent_id: str, role: str, attempt: int = 1) -> str:
    """``<TAG>:<intent id>:<role>:<attempt>``; raises ``OrderRefError`` when a part is outside its bound.

    Every part is bounded on its own: the tag is one of ``ORDER_REF_TAGS``, the intent id
    at most ``intent_room(tag)`` characters, the role one of ``ORDER_ROLES``, the attempt
    1 to ``ATTEMPT_MAX``; so a ref that passes is at most ``ORDER_REF_MAX`` characters.
    """
    if tag not in ORDER_REF_TAGS:
        raise OrderRefError(f"orderRef tag {tag!r} is not one of {', '.join(ORDER_REF_TAGS)}")
    if not _INTENT.match(intent_id):
        raise OrderRefError(f"orderRef intent id {intent_id!r} must be letters, digits, '.', '_' or '-' (no ':')")
    if len(intent_id) > intent_room(tag):
        raise OrderRefError(
            f"orderRef intent id {intent_id!r} is {len(intent_id)} characters; at most {intent_room(tag)} fit "
            f"beside tag {tag}, as IB keeps at most {ORDER_REF_MAX} characters of an orderRef"
        )
    if role not in ORDER_ROLES:
        raise OrderRefError(f"orderRef role {role!r} is not one of {', '.join(ORDER_ROLES)}")
    if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= ATTEMPT_MAX:
        raise OrderRefError(f"orderRef attempt {attempt!r} must be a whole number from 1 to {ATTEMPT_MAX}")
    text = f"{tag}:{intent_id}:{role}:{attempt}"
    if len(text) > ORDER_REF_MAX:  # cannot happen with the bounds above; kept as the last word
        raise OrderRefError(f"orderRef {text!r} is {len(text)} characters; IB keeps at most {ORDER_REF_MAX}")
    return text


def format_order_refs(tag: str, intent_id: str, roles: tuple[str, ...], attempt: int = 1) -> list[str]:
    """``format_order_ref`` for several roles of one intent (a bracket's legs), raising as it would.

    The tag, the intent id and the attempt are checked once, with the first role; each further
    role is checked on its own (the length bound holds by construction, as in ``format_order_ref``).
    """
    if not roles:
        return []
    refs = [format_order_ref(tag, intent_id, roles[0], attempt)]
    for role in roles[1:]:
        if role not in ORDER_ROLES:
            raise OrderRefError(f"orderRef role {role!r} is not one of {', '.join(ORDER_ROLES)}")
        refs.append(f"{tag}:{intent_id}:{role}:{attempt}")
    return refs


def parse_order_ref(text: str | None) -> OrderRef | None:
    """The parts of one of our orderRefs; None for anything else (an order that is not ours).

    Lenient on purpose: any ``<TAG>:<intent id>:<role>:<attempt>`` within 64 characters
    parses, so every ref an earlier session journaled (older intent shapes, longer intent
    ids beside a short tag) is still recognised as ours.
    """
    if not text or len(text) > ORDER_REF_MAX:
        return None
    parts = text.split(":")
    if len(parts) != 4:
        return None
    tag, intent_id, role, attempt = parts
    if (
        not _TAG.match(tag)
        or not _INTENT.match(intent_id)
        or role not in ORDER_ROLES
        or not attempt.isdigit()
        or int(attempt) < 1
    ):
        return None
    return OrderRef(tag, intent_id, role, int(attempt))


# --- intent ids ----------------------------------------------------------------------------
#
# Every intent id Spine builds has a bounded length, so the orderRef around it fits by
# construction: signal intents through ``fit_intent_id``, restored protective legs, flattens
# and the kill's exits as ``<kind><8 base36 of the millisecond>-<ticker, first 8>`` (19), the
# dispatcher's as ``<prefix, 1-3><6 base36 of the second><4 random base36>-<ticker, cut>`` (19).

_STAMP_WIDTH = 8  # milliseconds, base36: 36**8 ms is 89 years before the stamp wraps
_TICKER_WIDTH = 8
BASE36_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
DISPATCH_PREFIX_MAX = 3
DISPATCH_TOKEN_WIDTH = 4


_BASE36_PAIRS = tuple(a + b for a in BASE36_DIGITS for b in BASE36_DIGITS)  # "00" .. "zz": two digits per step


def base36(number: int, width: int) -> str:
    """``number`` modulo ``36**width`` in base 36, zero-padded to exactly ``width`` characters."""
    number %= 36**width
    out = ""
    for _ in range(width // 2):
        number, rest = divmod(number, 1296)
        out = _BASE36_PAIRS[rest] + out
    return BASE36_DIGITS[number] + out if width % 2 else out


def fit_intent_id(text: str, room: int = INTENT_MAX) -> str:
    """``text`` as an orderRef can carry it: safe characters, at most ``room`` long, the same every time.

    Characters an orderRef cannot carry become '-'. A text that fits is kept as it is; a
    longer one keeps its first ``room - 9`` characters and adds '-' and 8 hex of its SHA-1,
    so two different texts stay different and re-reading the same text gives the same id.
    """
    clean = _NOT_INTENT.sub("-", text).strip("-") or "order"
    if len(clean) <= room:
        return clean
    digest = hashlib.sha1(clean.encode()).hexdigest()[:8]
    return f"{clean[: room - 9]}-{digest}"


def _ticker_part(ticker: str, width: int) -> str:
    if ticker.isascii() and ticker.isalnum():  # nothing to take out (the usual ticker): no regex
        return ticker.upper()[:width]
    return (_NOT_INTENT.sub("", ticker.upper()) or "X")[:width]


def _stamped(kind: str, ticker: str, at_secs: float) -> str:
    return f"{kind}{base36(int(round(at_secs * 1000)), _STAMP_WIDTH)}-{_ticker_part(ticker, _TICKER_WIDTH)}"


def restore_intent_id(ticker: str, at_secs: float) -> str:
    """The intent of a protective leg reconcile restores at unix time ``at_secs`` (at most 19 characters)."""
    return _stamped("rs", ticker, at_secs)


def flatten_intent_id(ticker: str, at_secs: float) -> str:
    """The intent of the market exit a flatten sends at unix time ``at_secs`` (at most 19 characters)."""
    return _stamped("fl", ticker, at_secs)


def kill_intent_id(ticker: str, at_secs: float) -> str:
    """The intent of the market exit the kill switch sends at unix time ``at_secs`` (at most 19 characters)."""
    return _stamped("kl", ticker, at_secs)


def dispatch_intent_id(prefix: str, ticker: str, at_secs: float, token: str) -> str:
    """The intent of one ``OrderDispatcher`` bracket: prefix, the second, a random token, the ticker cut to fit."""
    if not (1 <= len(prefix) <= DISPATCH_PREFIX_MAX and prefix.isascii() and prefix.isalnum()):
        raise OrderRefError(f"intent prefix {prefix!r} must be 1 to {DISPATCH_PREFIX_MAX} letters or digits")
    if not (len(token) == DISPATCH_TOKEN_WIDTH and token.isascii() and token.isalnum() and token == token.lower()):
        raise OrderRefError(f"intent token {token!r} must be {DISPATCH_TOKEN_WIDTH} base36 characters")
    head = f"{prefix}{base36(int(at_secs), 6)}{token}-"
    return head + _ticker_part(ticker, INTENT_MAX - len(head))
