"""The P&L figure: equity curve over a drawdown panel, rendered by matplotlib's Agg canvas.

Backtrader's ``cerebro.plot()`` forces a Tk backend and fails on a headless machine,
so the figure is drawn here from the recorded equity rows. It uses ``Figure`` directly
(no pyplot), so drawing it never changes the backend of the process around it: a
notebook that runs a backtest keeps its inline figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spine.labels import RESEARCH_LABEL


def drawdown_series(values: Sequence[float]) -> np.ndarray:
    """Fractional drawdown from the running peak (0 at a new high, negative below it)."""
    equity = np.asarray(values, dtype=float)
    if equity.size == 0:
        return equity
    peak = np.maximum.accumulate(equity)
    return equity / peak - 1.0


_MARKED_EVENTS = {"breaker_trip": ("#d2691e", "circuit breaker"), "kill_switch": ("#8b0000", "kill switch")}


def plot_pnl(
    equity: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    title: str,
    research_only: bool,
    events: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Equity over drawdown; breaker trips and kill-switch triggers marked as vertical lines."""
    times = [row["datetime"] for row in equity]
    values = [row["value"] for row in equity]
    fig = Figure(figsize=(11, 6.5))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(times, values, color="#1f4e79", linewidth=1.2)
    top.set_ylabel("portfolio value")
    top.set_title(title)
    top.grid(alpha=0.3)
    drawdown = drawdown_series(values) * 100.0
    bottom.fill_between(times, drawdown, 0.0, color="#b22222", alpha=0.4, linewidth=0)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    labelled: set[str] = set()
    for event in events:
        style = _MARKED_EVENTS.get(event["event"])
        if style is None:
            continue
        colour, label = style
        for axis in (top, bottom):
            axis.axvline(event["datetime"], color=colour, linewidth=1.0, linestyle="--", label=None if label in labelled or axis is bottom else label)
        labelled.add(label)
    if labelled:
        top.legend(loc="upper left", fontsize=8)
    if research_only:
        fig.text(0.5, 0.55, "RESEARCH ONLY", fontsize=54, color="grey", alpha=0.18, ha="center", va="center", rotation=20)
        fig.text(0.5, 0.005, RESEARCH_LABEL, fontsize=7, color="grey", ha="center", va="bottom")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=110)
    return path
