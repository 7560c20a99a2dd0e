"""Spine: a Backtrader harness for Interactive Brokers behind a fail-closed safety envelope.

One subpackage per domain; imports point one way, down this list (``make lint`` checks it):

    cli      every ``spine`` command, thin: parse flags, call a route or a tool
    dashboard  ``spine dashboard``: a live, read-only web page over the state folders, with a kill button
    api      ``spine.backtest(...) -> RunResult``: the backtest route from Python, for notebooks
    sweep    parameter sweeps and walk-forward on Dask
    routes   backtest, paper, rehearse: one module per route, one shared harness
    reports  trades, statistics, figures and report.html, built from a run folder only
    runs     the run folder: its columns, writing it, reading it back, its summary
    gateway  ``spine gateway``: an offline IB Gateway simulator speaking the TWS protocol
    ib       the IB store: one thread owning ib_async, IB codes, the journal
    feeds    Backtrader data feeds: arrays, live daily bars, the day release
    safety   the envelope, the pre-trade gate, the breaker, the kill rules, the state store
    data     inputs: CSV tables, prices, signals, the yfinance cache, the exchange calendar, the sample
    config   the typed, frozen configuration and its loader
    core     errors, time, events, files, numbers and the pure trading rules (sizing, stops, ticks)

The Backtrader pieces live beside this package, each in its own plural folder:
``strategies`` and ``analyzers`` (above ``brokers``), ``brokers`` (above ``feeds`` and ``ib``).
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["RunResult", "__version__", "backtest"]

_LAZY = {"RunResult": "spine.api", "backtest": "spine.api"}  # loaded on first use: ``import spine`` stays cheap


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
