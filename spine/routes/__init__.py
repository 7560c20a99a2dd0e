"""The routes: one module per way of running a strategy, sharing one harness.

preflight the refusals known before the first bar: a ticker without a sector, a limit of zero
harness   ``wire_harness``: the strategy, sizer, recorder, breaker and kill switch, wired alike on every route
backtest  ``run_backtest``: historical simulation on ``SimBroker``
session   what the paper and rehearse routes share: the session Cerebro, drivers, history, the run folder
paper     ``run_paper``: an IB paper account (or ``spine gateway``) through ib_async
rehearse  ``run_rehearsal``: a paper session against the in-process simulator, in lockstep
"""

from spine.routes.backtest import BacktestRequest, BacktestResult, run_backtest

__all__ = ["BacktestRequest", "BacktestResult", "run_backtest"]
