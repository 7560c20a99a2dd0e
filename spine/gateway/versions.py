"""Rewrite a server→client message from its v178 layout to an older negotiated version.

``messages.py`` writes every message as a v178 gateway sends it. A client that
negotiated an older version (ib_insync 0.9.86 tops out at 176) decodes the older
layout, and one field too many or too few makes it drop the whole message. Only five
messages change between 157 and 178 for the plain stock orders the simulator serves,
so the differences live here, in one place, keyed by message id; everything else is
sent unchanged. Pure list manipulation: testable without a socket.

Layout changes handled (tws-protocol.md §3, checked against ib_async's decoder and
IB's ``ibapi`` decoders):

* error (4): ``advancedOrderRejectJson`` from 166.
* openOrder (5): ``faProfile`` after faPercentage below 177; ``duration`` from 158,
  ``postToAts`` from 160, ``autoCancelParent`` from 162, five PEG BEST/MID fields from 170.
* completedOrder (101): ``faProfile`` below 177; five PEG BEST/MID fields from 170.
* execDetails (11): ``pendingPriceRevision`` from 178.
* contractData (10): a version field and ``mdSizeMultiplier`` below 164;
  ``sizeMinTick`` alone at 163; ``minSize, sizeIncrement, suggestedSizeIncrement`` from 164.
"""

from __future__ import annotations

from spine.gateway.protocol import SERVER_VERSION, Field, OutMsg

Fields = list[Field]

# Positions in the v178 layouts (messages.py).
_OPEN_ORDER_FA_PROFILE_AT = 34  # after 33 faPercentage
_OPEN_ORDER_DURATION_AT = 119
_COMPLETED_FA_PROFILE_AT = 31  # after 30 faPercentage
_CONTRACT_MIN_TICK_AT = 13


def adapt(fields: Fields, version: int) -> Fields:
    """``fields`` (a v178 message) as a gateway at ``version`` sends it."""
    if version >= SERVER_VERSION or not fields:
        return fields
    msg_id = fields[0]
    if msg_id == OutMsg.ERROR:
        return fields if version >= 166 else fields[:5]
    if msg_id == OutMsg.OPEN_ORDER:
        return _open_order(fields, version)
    if msg_id == OutMsg.COMPLETED_ORDER:
        return _completed_order(fields, version)
    if msg_id == OutMsg.EXECUTION_DATA:
        return fields[:-1]
    if msg_id == OutMsg.CONTRACT_DATA:
        return _contract_data(fields, version)
    return fields


def _open_order(fields: Fields, version: int) -> Fields:
    head = list(fields[:_OPEN_ORDER_DURATION_AT])
    duration, post_to_ats, auto_cancel_parent = fields[119:122]
    peg_fields = list(fields[122:127])
    tail: Fields = []
    if version >= 158:
        tail.append(duration)
    if version >= 160:
        tail.append(post_to_ats)
    if version >= 162:
        tail.append(auto_cancel_parent)
    if version >= 170:
        tail += peg_fields
    if version < 177:
        head.insert(_OPEN_ORDER_FA_PROFILE_AT, "")
    return head + tail


def _completed_order(fields: Fields, version: int) -> Fields:
    out = list(fields if version >= 170 else fields[:-5])
    if version < 177:
        out.insert(_COMPLETED_FA_PROFILE_AT, "")
    return out


def _contract_data(fields: Fields, version: int) -> Fields:
    if version >= 164:
        return fields
    body = list(fields[:-3])  # without minSize, sizeIncrement, suggestedSizeIncrement
    if version == 163:
        body.append(fields[-1])  # sizeMinTick (ibapi) / suggestedSizeIncrement (ib_async)
    body.insert(_CONTRACT_MIN_TICK_AT + 1, 1)  # mdSizeMultiplier
    body.insert(1, 8)  # the message version
    return body
