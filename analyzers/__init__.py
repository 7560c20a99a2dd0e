"""Backtrader analyzers: the run recorder and the safety monitors.

    drawdown_breaker  ``DrawdownBreaker``: the latched 1-day drawdown circuit breaker, on the bar clock
    kill_switch       ``KillSwitch``: VIX, drawdown and manual triggers halt the broker
    run_recorder      ``RunRecorder``: orders, fills and equity for the run folder

``CircuitBreaker`` (the latch itself, pure) lives in ``spine.safety.circuit_breaker`` and
is re-exported here.
"""

from analyzers.drawdown_breaker import DrawdownBreaker
from analyzers.kill_switch import KillSwitch
from analyzers.run_recorder import RunRecorder
from spine.safety.circuit_breaker import CircuitBreaker

__all__ = ["CircuitBreaker", "DrawdownBreaker", "KillSwitch", "RunRecorder"]
