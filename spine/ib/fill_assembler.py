"""Pairs IB's execDetails with its commissionReport by execId, in either arrival order, once.

Why: IB sends an execution and its commission as two messages, and nothing guarantees
their order (a reconnect can even replay both). ib_async drops a commission report that
arrives before its execution, so the session feeds both halves here instead, and a fill
is released exactly when both are in, and never again for that execId (the ids already
applied are seeded from the journal). Pure: no socket, no ib_async.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ExecutionHalf:
    exec_id: str
    order_id: int
    perm_id: int
    order_ref: str
    ticker: str
    side: str  # BUY / SELL
    shares: float
    price: float
    at: datetime
    cum_qty: float = 0.0


@dataclass(frozen=True, slots=True)
class AssembledFill:
    execution: ExecutionHalf
    commission: float


class FillAssembler:
    """Holds half-received fills until their other half comes."""

    def __init__(self, applied: set[str] | None = None) -> None:
        self._applied: set[str] = set(applied or ())
        self._executions: dict[str, ExecutionHalf] = {}
        self._commissions: dict[str, float] = {}

    def add_execution(self, half: ExecutionHalf) -> AssembledFill | None:
        if half.exec_id in self._applied or half.exec_id in self._executions:
            return None
        self._executions[half.exec_id] = half
        return self._complete(half.exec_id)

    def add_commission(self, exec_id: str, commission: float) -> AssembledFill | None:
        if exec_id in self._applied or exec_id in self._commissions:
            return None
        self._commissions[exec_id] = float(commission)
        return self._complete(exec_id)

    def _complete(self, exec_id: str) -> AssembledFill | None:
        if exec_id not in self._executions or exec_id not in self._commissions:
            return None
        self._applied.add(exec_id)
        return AssembledFill(self._executions.pop(exec_id), self._commissions.pop(exec_id))

    def is_applied(self, exec_id: str) -> bool:
        return exec_id in self._applied

    def pending(self) -> list[str]:
        """execIds still waiting for their other half."""
        return sorted(set(self._executions) | set(self._commissions))
