"""``spine.reports.empyrical_import``: empyrical loads without yfinance and scipy.stats, and nothing else changes.

Each check runs in a fresh interpreter: which modules a process has imported is the
behaviour under test, and the test process itself has imported most of them already.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

RETURNS = "import numpy as np, pandas as pd; r = pd.Series(np.random.default_rng(7).normal(0.0005, 0.01, 600), index=pd.bdate_range('2021-01-04', periods=600))"


def fresh(code: str) -> object:
    """The value of the last line ``code`` prints, run in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_importing_the_statistics_loads_neither_yfinance_nor_pandas_datareader_nor_scipy_stats():
    loaded = fresh("import sys, spine.reports.statistics; print([m for m in ('yfinance', 'pandas_datareader', 'scipy.stats', 'scipy.optimize') if m in sys.modules])")
    assert loaded == []


def test_no_module_is_left_blocked_after_the_import():
    assert fresh("import sys, spine.reports.statistics; print([name for name, module in sys.modules.items() if module is None])") == []


def test_yfinance_still_imports_normally_after_the_statistics():
    assert fresh("import spine.reports.statistics, yfinance; print(callable(yfinance.download))") is True


def test_a_later_import_of_scipy_stats_gets_the_real_module():
    assert fresh("import spine.reports.statistics, scipy.stats; print([scipy.stats.skew.__module__, type(scipy.stats).__name__])") == ["scipy.stats._stats_py", "module"]


def test_empyrical_functions_that_use_scipy_give_the_same_figures_as_a_plain_import():
    figures = f"{RETURNS}; import empyrical as ep; print([float(ep.stability_of_timeseries(r)), float(ep.stats.SIMPLE_STAT_FUNCS[9](r)), float(ep.stats.SIMPLE_STAT_FUNCS[10](r)), [float(x) for x in ep.gpd_risk_estimates(r)]])"
    plain = fresh(figures)
    through_spine = fresh("import spine.reports.statistics; " + figures)
    assert through_spine == plain


def test_the_deferred_scipy_functions_keep_their_names():
    assert fresh("import spine.reports.statistics, empyrical; print([f.__name__ for f in empyrical.stats.SIMPLE_STAT_FUNCS[9:11]])") == ["skew", "kurtosis"]


def test_a_process_that_imported_yfinance_first_keeps_it_in_empyrical():
    assert fresh("import yfinance, spine.reports.statistics, empyrical.utils; print(empyrical.utils.yf is yfinance)") is True


def test_the_statistics_spine_reads_are_the_same_as_with_a_plain_empyrical_import():
    stats = f"{RETURNS}; from spine.reports.statistics import return_statistics, benchmark_statistics, period_returns; print([return_statistics(r), benchmark_statistics(r, r * 0.5 + 0.0001, 'b'), period_returns(r)])"
    plain = fresh("import empyrical; " + stats)
    assert fresh(stats) == plain
