"""Spine: the application that wires the Backtrader pieces (strategies, brokers, analyzers).

Modules by job: ``config`` (typed config), ``prices`` and ``signals`` (validated inputs),
``synthetic`` (the bundled sample), ``market_data`` (yfinance cache), ``backtest`` (the
historical route), ``envelope`` and ``state_store`` (the safety envelope's route and
durable state), ``gateway`` (the IB Gateway simulator), ``cli`` (the ``spine`` command).
"""

__version__ = "0.1.0"
