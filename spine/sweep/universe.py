"""``tickers``: the one sweep parameter that is not a config key, the universe a trial trades.

A universe is written as a comma-separated string (``"ALPH,BRVO"``) or a list of
tickers; ``tickers: ["ALPH,BRVO", CHRL]`` sweeps two universes. Every ticker must be in
the loaded data, which is checked before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from spine.config import shown
from spine.core.errors import ConfigError
from spine.routes.backtest import BacktestInputs, clip_to_traded_period

UNIVERSE_KEY = "tickers"


def normalise_universe(value: Any) -> str:
    """``["alph", " brvo"]`` or ``"alph,brvo"`` -> ``"ALPH,BRVO"`` (a plain string: hashable, one CSV cell)."""
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    tickers = [str(t).strip().upper() for t in parts if str(t).strip()]
    return ",".join(dict.fromkeys(tickers))


def check_universes(values: Iterable[Any], loaded: Iterable[str], *, source: str | Path) -> None:
    have = set(loaded)
    for value in values:
        universe = normalise_universe(value)
        missing = [t for t in universe.split(",") if t not in have] if universe else ["(none)"]
        if missing:
            raise ConfigError(
                f"{source}: {UNIVERSE_KEY} = {shown(value)}: no price data for {', '.join(missing)}; expected tickers of the loaded data ({', '.join(sorted(have))})"
            )


def select_tickers(inputs: BacktestInputs, universe: str | None) -> BacktestInputs:
    """The inputs for one universe only: its prices, its signals, the VIX clipped to them."""
    if not universe:
        return inputs
    wanted = universe.split(",")
    prices = {t: s for t, s in inputs.prices.items() if t in wanted}
    signals = [s for s in inputs.signals if s.ticker in prices]
    vix = clip_to_traded_period(inputs.vix, prices) if inputs.vix is not None else None
    return replace(inputs, prices=prices, signals=signals, vix=vix)
