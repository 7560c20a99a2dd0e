"""``import_empyrical()``: empyrical without the imports Spine's statistics never use.

empyrical-reloaded loads, at import time, three things none of Spine's statistics call:

- ``empyrical.utils`` tries ``import pandas_datareader`` and ``import yfinance`` (only its
  download helpers use them; with the module missing it sets them to ``None``);
- ``empyrical.stats`` does ``from scipy import optimize, stats`` (only
  ``stability_of_timeseries``, ``gpd_risk_estimates`` and ``SIMPLE_STAT_FUNCS``'s
  ``skew``/``kurtosis`` call them) and reads ``stats.skew``/``stats.kurtosis`` while
  building that list, so ``importlib.util.LazyLoader`` alone would execute
  ``scipy.stats`` right there.

Together they are most of a ``spine backtest``'s start-up (``python -X importtime``). So,
only for the duration of that one import:

- ``yfinance`` and ``pandas_datareader`` (when not imported yet) are ``None`` in
  ``sys.modules``, which makes their import fail as empyrical expects; the entries are
  removed right after, so a later ``import yfinance`` (``spine.data.yahoo_cache``) works normally;
- ``scipy.stats`` and ``scipy.optimize`` (when not imported yet) are stood in for by
  ``OnFirstUse`` modules: an attribute read imports the real module and forwards to it,
  and the two functions read during the import come back as ``deferred`` callables that
  import it when first called. ``scipy`` itself is left as it was.

Every empyrical function keeps its own code and gives the same figures. The cost: for the
rest of the process ``empyrical.utils.yf``/``web`` are ``None`` (empyrical's Yahoo/FRED
download helpers raise; Spine downloads through ``spine.data.yahoo_cache``). A process that
imported any of these modules before keeps the real ones everywhere. The window is one
module import at start-up; another thread importing yfinance during it would fail.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

BLOCKED = ("yfinance", "pandas_datareader")  # empyrical.utils's optional downloaders
DEFERRED = {"optimize": (), "stats": ("skew", "kurtosis")}  # scipy subpackage -> names empyrical.stats reads at import


class OnFirstUse(ModuleType):
    """Stands for a module that is not imported yet; reading an attribute imports it.

    While ``importing`` is true (the empyrical import), reading one of ``deferred_names``
    returns a ``deferred`` callable instead, so building empyrical's module-level table
    loads nothing. Any other read imports the real module (correct, only slower).
    """

    def __init__(self, name: str, deferred_names: tuple[str, ...]) -> None:
        super().__init__(name, f"{name}, imported on first use (spine.reports.empyrical_import)")
        self.deferred_names = deferred_names
        self.importing = True

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)  # module protocol look-ups (__path__, __file__...)
        if self.importing and attribute in self.deferred_names:
            return deferred(self.__name__, attribute)
        return getattr(importlib.import_module(self.__name__), attribute)


def deferred(module: str, attribute: str) -> Callable[..., Any]:
    """``module.attribute``, imported when first called (named like it)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    call.__module__ = module
    return call


def import_empyrical() -> ModuleType:
    """``import empyrical``, without loading yfinance, pandas_datareader or scipy's stats/optimize."""
    if "empyrical" in sys.modules:
        return sys.modules["empyrical"]
    import scipy

    blocked = [name for name in BLOCKED if name not in sys.modules]
    stand_ins = {name: OnFirstUse(f"scipy.{name}", reads) for name, reads in DEFERRED.items() if f"scipy.{name}" not in sys.modules}
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not importable"
    for name, module in stand_ins.items():
        setattr(scipy, name, module)  # what `from scipy import stats` reads
    try:
        import empyrical
    finally:
        for name in blocked:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]
        for name, module in stand_ins.items():
            module.importing = False
            if scipy.__dict__.get(name) is module:
                delattr(scipy, name)  # scipy's own lazy __getattr__ imports the real one
    return empyrical
