"""FillAssembler: execDetails and commissionReport paired by execId in any order, each fill once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from spine.ib.fill_assembler import ExecutionHalf, FillAssembler

AT = datetime(2020, 1, 6, 14, 30, tzinfo=UTC)


def _half(exec_id: str, shares: float = 10) -> ExecutionHalf:
    return ExecutionHalf(exec_id, 6, 1000001, "LIVE_SPINE:s1:entry:1", "ABC", "BUY", shares, 102.0, AT)


MESSAGES = [("exec", "e1"), ("comm", "e1"), ("exec", "e2"), ("comm", "e2"), ("exec", "e1"), ("comm", "e2")]


def test_every_arrival_order_gives_each_fill_exactly_once() -> None:
    for order in itertools.permutations(range(len(MESSAGES))):  # all 720 orders, duplicates included
        assembler = FillAssembler()
        out = []
        for index in order:
            kind, exec_id = MESSAGES[index]
            done = (
                assembler.add_execution(_half(exec_id)) if kind == "exec" else assembler.add_commission(exec_id, 1.02)
            )
            if done is not None:
                out.append(done)
        assert sorted(f.execution.exec_id for f in out) == ["e1", "e2"], order
        assert all(f.commission == 1.02 for f in out)
        assert assembler.pending() == []


def test_a_half_waits_for_its_other_half() -> None:
    assembler = FillAssembler()
    assert assembler.add_commission("e9", 0.5) is None
    assert assembler.pending() == ["e9"]
    done = assembler.add_execution(_half("e9"))
    assert done is not None and done.commission == 0.5 and done.execution.shares == 10


def test_fills_the_journal_already_applied_are_never_released_again() -> None:
    assembler = FillAssembler(applied={"e1"})
    assert assembler.add_execution(_half("e1")) is None
    assert assembler.add_commission("e1", 1.0) is None
    assert assembler.is_applied("e1") and assembler.pending() == []
