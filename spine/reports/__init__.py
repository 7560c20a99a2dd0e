"""Reports of a run folder, built after the run from the folder's own files.

build       ``write_reports``: every report of a run folder (trades, returns, statistics, figures, run.log)
trades      ``build_trades``: the closed-trade list (``trades.csv``), replayed from the fills
statistics  ``run_statistics``: return, risk and trade figures for ``summary.json``
benchmark   ``resolve_benchmark``: the value curve a run is measured against
metrics     trade quality, tail risk, worst drawdowns, rolling figures, per-ticker and provenance x exit tables
halts       when trading was halted (breaker latch, kill switch), read from ``events.csv``
figures     the P&L figure (``pnl.png``): equity against the benchmark over a drawdown panel
charts      the interactive charts of ``report.html`` as Plotly figure dictionaries
plotly_inline  Plotly's JavaScript inlined once (compressed) and the loader that draws a page's figures
tearsheet   ``report.html``: a self-contained, interactive tearsheet of one run folder
sweep_report  a sweep folder's ``report.html``: heat maps, parameter importance, the trials compared
"""

from spine.reports.benchmark import Benchmark, resolve_benchmark
from spine.reports.build import write_reports
from spine.reports.statistics import run_statistics
from spine.reports.trades import build_trades

__all__ = ["Benchmark", "build_trades", "resolve_benchmark", "run_statistics", "write_reports"]
