"""Historical-data pacing: IB's three rules, so a warm-up never earns error 162 (pacing violation).

IB refuses historical requests past any of: 60 requests in any 10 minutes; an identical
request within 15 seconds; 6 or more requests for one contract within 2 seconds. The
pacer answers how long the next request must wait; the session sleeps that long (on its
own loop, never blocking it). Pure: the clock is passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable

WINDOW_SECS, WINDOW_MAX = 600.0, 60
IDENTICAL_SECS = 15.0
CONTRACT_SECS, CONTRACT_MAX = 2.0, 6
_MARGIN_SECS = 0.05  # land clearly past a boundary, not on it


class HistoricalPacer:
    """Tracks sent historical requests; ``wait_secs`` says how long the next one must wait."""

    def __init__(self, clock: Callable[[], float], *, window_max: int = WINDOW_MAX, window_secs: float = WINDOW_SECS,
                 identical_secs: float = IDENTICAL_SECS, contract_max: int = CONTRACT_MAX,
                 contract_secs: float = CONTRACT_SECS) -> None:  # fmt: skip
        self._clock = clock
        self.window_max, self.window_secs = window_max, window_secs
        self.identical_secs = identical_secs
        self.contract_max, self.contract_secs = contract_max, contract_secs
        self._sent: deque[tuple[float, Hashable, Hashable]] = deque()  # (time, contract, request key)

    @classmethod
    def scaled(cls, clock: Callable[[], float], scale: float) -> HistoricalPacer:
        """IB's rules with every window multiplied by ``scale`` (1.0 in production)."""
        return cls(
            clock,
            window_secs=WINDOW_SECS * scale,
            identical_secs=IDENTICAL_SECS * scale,
            contract_secs=CONTRACT_SECS * scale,
        )

    def wait_secs(self, contract: Hashable, request: Hashable) -> float:
        now = self._clock()
        self._forget(now)
        waits = [0.0]
        if len(self._sent) >= self.window_max:
            waits.append(self._sent[-self.window_max][0] + self.window_secs - now + _MARGIN_SECS)
        same = [t for t, _, key in self._sent if key == request]
        if same:
            waits.append(same[-1] + self.identical_secs - now + _MARGIN_SECS)
        mine = [t for t, c, _ in self._sent if c == contract and t > now - self.contract_secs]
        if len(mine) >= self.contract_max - 1:  # "6 or more within 2 s" is the violation: stay at 5
            waits.append(mine[-(self.contract_max - 1)] + self.contract_secs - now + _MARGIN_SECS)
        return max(waits)

    def record(self, contract: Hashable, request: Hashable) -> None:
        self._sent.append((self._clock(), contract, request))

    def _forget(self, now: float) -> None:
        horizon = max(self.window_secs, self.identical_secs, self.contract_secs)
        while self._sent and self._sent[0][0] <= now - horizon:
            self._sent.popleft()
