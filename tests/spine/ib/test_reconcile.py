"""reconcile(): IB's view against the journal, pure."""

from __future__ import annotations

from datetime import UTC, datetime

from spine.ib.fill_assembler import ExecutionHalf
from spine.ib.journal import JournalOrder
from spine.ib.reconcile import BrokerOrder, protection_gaps, reconcile

AT = datetime(2020, 1, 6, tzinfo=UTC)


def _jo(
    order_id: int, role: str, perm: int = 0, ack: bool = True, status: str = "Accepted", side: str = "SELL"
) -> JournalOrder:
    return JournalOrder(order_id, perm, f"LIVE_SPINE:s1:{role}:1", "s1", role, "ABC", side, 10.0,
                        "STP" if role == "stop" else "LMT", 130.0, 90.0, 0, "OCA:s1:1", status, ack, 0.0)  # fmt: skip


def _bo(order_id: int, role: str, perm: int, status: str = "Submitted", ref: str | None = None) -> BrokerOrder:
    return BrokerOrder(order_id, perm, ref if ref is not None else f"LIVE_SPINE:s1:{role}:1", "ABC", "SELL", 10.0,
                       "STP" if role == "stop" else "LMT", status)  # fmt: skip


def _exec(exec_id: str, ref: str = "LIVE_SPINE:s1:entry:1", side: str = "BUY", shares: float = 10) -> ExecutionHalf:
    return ExecutionHalf(exec_id, 1, 11, ref, "ABC", side, shares, 100.0, AT)


def test_orders_match_by_perm_id_first_even_when_ib_reused_the_order_id() -> None:
    journal = [_jo(2, "take_profit", perm=12), _jo(3, "stop", perm=13)]
    broker = [_bo(900, "take_profit", 12), _bo(901, "stop", 13)]
    plan = reconcile(journal, broker, [], [], {"ABC": 10}, set(), {"ABC": 10})
    assert [(j.order_id, b.order_id) for j, b in plan.updates] == [(2, 900), (3, 901)]
    assert plan.halt_reasons == [] and plan.protection == [] and plan.adopted == []


def test_our_order_the_journal_lost_is_adopted_and_a_foreign_one_halts() -> None:
    broker = [_bo(5, "stop", 15), _bo(6, "stop", 16, ref="manual")]
    plan = reconcile([], broker, [], [], {"ABC": 10}, set(), {"ABC": 10})
    assert [b.order_id for b in plan.adopted] == [5]
    assert len(plan.halt_reasons) == 1 and "unknown order at IB: id 6" in plan.halt_reasons[0]


def test_a_never_acknowledged_unknown_order_is_lost() -> None:
    plan = reconcile([_jo(4, "entry", ack=False, status="Submitted", side="BUY")], [], [], [], {}, set(), {})
    assert [o.order_id for o in plan.lost] == [4]


def test_an_unacknowledged_order_that_filled_is_not_lost() -> None:
    plan = reconcile(
        [_jo(1, "entry", ack=False, status="Submitted", side="BUY")], [], [], [_exec("x1")], {"ABC": 10}, set(), {}
    )
    assert plan.lost == [] and [e.exec_id for e in plan.missed_fills] == ["x1"]


def test_missed_fills_explain_the_position_and_applied_ones_are_skipped() -> None:
    plan = reconcile([], [], [], [_exec("x1"), _exec("x2", shares=5)], {"ABC": 15}, {"x1"}, {"ABC": 10})
    assert [e.exec_id for e in plan.missed_fills] == ["x2"]
    assert plan.halt_reasons == []


def test_a_fill_without_our_order_ref_halts() -> None:
    plan = reconcile([], [], [], [_exec("f1", ref="")], {"ABC": 5}, set(), {})
    assert any("fill without our orderRef: execId f1" in r for r in plan.halt_reasons)


def test_a_position_the_journal_explains_none_of_is_external_left_unprotected_and_no_halt() -> None:
    plan = reconcile([], [], [], [], {"ABC": 5, "XYZ": -3}, set(), {})
    assert plan.external == {"ABC": 5.0, "XYZ": -3.0}
    assert plan.halt_reasons == [] and plan.protection == []


def test_a_position_partly_explained_by_the_journal_halts_and_protects_only_the_explained_part() -> None:
    plan = reconcile([], [], [], [], {"ABC": 15}, set(), {"ABC": 10})
    assert any("IB holds 15 ABC, the journal's fills explain 10" in r for r in plan.halt_reasons)
    assert {(g.role, g.quantity) for g in plan.protection} == {("stop", 10.0), ("take_profit", 10.0)}
    assert plan.external == {}


def test_a_known_external_position_beside_our_own_is_explained_and_only_ours_is_protected() -> None:
    plan = reconcile([], [], [], [], {"ABC": 110}, set(), {"ABC": 10}, external_positions={"ABC": 100})
    assert plan.halt_reasons == [] and plan.external == {"ABC": 100.0}
    assert {(g.role, g.quantity) for g in plan.protection} == {("stop", 10.0), ("take_profit", 10.0)}


def test_every_open_position_needs_stop_and_take_profit_for_its_full_size() -> None:
    working = [
        _bo(1, "stop", 11),
        BrokerOrder(2, 12, "LIVE_SPINE:s1:take_profit:1", "ABC", "SELL", 4.0, "LMT", "Submitted"),
    ]
    gaps = protection_gaps({"ABC": 10, "XYZ": -3}, working)
    assert [(g.ticker, g.role, g.side, g.quantity) for g in gaps] == [
        ("ABC", "take_profit", "SELL", 6.0),
        ("XYZ", "stop", "BUY", 3.0),
        ("XYZ", "take_profit", "BUY", 3.0),
    ]


def test_without_take_profit_legs_a_position_needs_only_its_stop_and_never_gets_a_take_profit() -> None:
    gaps = protection_gaps({"ABC": 10, "XYZ": -3}, [_bo(1, "stop", 11)], ("stop",))
    assert [(g.ticker, g.role, g.side, g.quantity) for g in gaps] == [("XYZ", "stop", "BUY", 3.0)]


def test_the_stop_is_checked_even_when_the_roles_leave_it_out() -> None:
    gaps = protection_gaps({"ABC": 10}, [], ())
    assert [(g.role, g.quantity) for g in gaps] == [("stop", 10.0)]
