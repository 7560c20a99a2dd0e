"""Backtrader analyzers: the run recorder and the safety monitors (breaker, kill switch)."""

from analyzers.drawdown_breaker import DrawdownBreaker
from analyzers.kill_switch import KillSwitch
from analyzers.run_recorder import RunRecorder
from spine.safety.circuit_breaker import CircuitBreaker

__all__ = ["CircuitBreaker", "DrawdownBreaker", "KillSwitch", "RunRecorder"]
