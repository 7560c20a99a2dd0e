"""The P&L figure: equity against the benchmark over a drawdown panel, on matplotlib's Agg canvas.

Backtrader's ``cerebro.plot()`` forces a Tk backend and fails on a headless machine,
so the figure is drawn here from the recorded equity rows. It uses ``Figure`` directly
(no pyplot), so drawing it never changes the backend of the process around it: a
notebook that runs a backtest keeps its inline figures.

Halted periods (breaker latch, kill switch) are shaded and labelled; the firings get
distinct markers, offset when they fall on the same bar so both stay visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from spine.core.labels import RESEARCH_LABEL
from spine.reports.halts import halts


def drawdown_series(values: Sequence[float]) -> np.ndarray:
    """Fractional drawdown from the running peak (0 at a new high, negative below it)."""
    equity = np.asarray(values, dtype=float)
    if equity.size == 0:
        return equity
    peak = np.maximum.accumulate(equity)
    return equity / peak - 1.0


# event -> (colour, marker, label); distinct shapes so two firings on one bar stay apart
MARKERS = {
    "breaker_trip": ("#d2691e", "v", "circuit breaker tripped"),
    "kill_switch": ("#8b0000", "X", "kill switch fired"),
}
SHADES = {"breaker_trip": "#f4a460", "kill_switch": "#cd5c5c"}
THOUSANDS = FuncFormatter(lambda value, _: f"{value:,.0f}")
PNG_DPI = 110
LOG_STEPS = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)


def plot_pnl(
    equity: Sequence[Mapping[str, Any]] | pd.DataFrame,
    path: Path,
    *,
    title: str,
    research_only: bool,
    events: Sequence[Mapping[str, Any]] | pd.DataFrame = (),
    benchmark: pd.Series | None = None,
    benchmark_name: str = "benchmark",
    log_scale: bool = False,
) -> Path:
    """Draw ``pnl_figure`` into ``path`` (a PNG file or a binary stream)."""
    fig = pnl_figure(
        equity,
        title=title,
        research_only=research_only,
        events=events,
        benchmark=benchmark,
        benchmark_name=benchmark_name,
        log_scale=log_scale,
    )
    fig.savefig(path, dpi=PNG_DPI, format="png")
    return path


def pnl_figure(
    equity: Sequence[Mapping[str, Any]] | pd.DataFrame,
    *,
    title: str,
    research_only: bool,
    events: Sequence[Mapping[str, Any]] | pd.DataFrame = (),
    benchmark: pd.Series | None = None,
    benchmark_name: str = "benchmark",
    log_scale: bool = False,
) -> Figure:
    """Equity (and benchmark) over drawdown; halts shaded, firings marked; ``log_scale`` for the value axis."""
    frame = (
        equity
        if isinstance(equity, pd.DataFrame)
        else pd.DataFrame(list(equity), columns=["datetime", "value", "cash"])
    )
    times = pd.DatetimeIndex(pd.to_datetime(frame["datetime"]))
    values = frame["value"].astype(float).to_numpy()
    fig = Figure(figsize=(11, 7))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(times, values, color="#1f4e79", linewidth=1.3, label="strategy")
    if benchmark is not None and len(benchmark):
        top.plot(
            benchmark.index,
            benchmark.to_numpy(dtype=float),
            color="#7f7f7f",
            linewidth=1.0,
            linestyle="-",
            alpha=0.9,
            label=benchmark_name,
        )
    set_value_scale(top, log_scale=log_scale)
    top.set_title(title)
    top.grid(alpha=0.3)
    drawdown = drawdown_series(values) * 100.0
    bottom.fill_between(times, drawdown, 0.0, color="#b22222", alpha=0.4, linewidth=0)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    _mark_halts(top, bottom, times, values, events)
    top.legend(loc="upper left", fontsize=8)
    if research_only:
        fig.text(
            0.5, 0.55, "RESEARCH ONLY", fontsize=54, color="grey", alpha=0.18, ha="center", va="center", rotation=20
        )
        fig.text(0.5, 0.005, RESEARCH_LABEL, fontsize=7, color="grey", ha="center", va="bottom")
    fig.subplots_adjust(
        left=0.085, right=0.97, top=0.94, bottom=0.09, hspace=0.06
    )  # fixed: tight_layout costs more than the drawing
    return fig


def set_value_scale(axis: Any, *, log_scale: bool) -> None:
    """The value axis in thousands, on a log scale if asked (switching a drawn figure keeps its artists)."""
    if log_scale:
        axis.set_yscale("log")
        axis.yaxis.set_major_locator(LogLocator(base=10, subs=LOG_STEPS))  # labelled steps inside a decade
        axis.yaxis.set_minor_formatter(NullFormatter())
    axis.yaxis.set_major_formatter(THOUSANDS)
    axis.set_ylabel("portfolio value" + (" (log scale)" if log_scale else ""))


def _mark_halts(top: Any, bottom: Any, times: pd.DatetimeIndex, values: np.ndarray, events: Any) -> None:
    if len(times) == 0:
        return
    found = halts(events)
    last = times[-1]
    per_bar: dict[pd.Timestamp, int] = {}
    for halt in found:
        colour, marker, label = MARKERS[halt.event]
        end = halt.end if halt.end is not None else last
        for axis in (top, bottom):
            axis.axvspan(
                halt.start,
                max(end, halt.start + pd.Timedelta(days=1)),
                color=SHADES[halt.event],
                alpha=0.15,
                linewidth=0,
            )
        slot = per_bar.get(halt.start, 0)
        per_bar[halt.start] = slot + 1
        i = min(int(times.searchsorted(halt.start)), len(times) - 1)
        y = values[i] * (1.0 + 0.03 * slot)  # a second firing on the same bar sits just above the first
        top.plot(
            [halt.start],
            [y],
            marker=marker,
            markersize=10,
            color=colour,
            linestyle="none",
            label=f"{label} {halt.start:%Y-%m-%d}",
            zorder=5,
        )
        top.annotate(
            f"{label}\nhalted{' to ' + f'{halt.end:%Y-%m-%d}' if halt.end is not None else ' to the end'}",
            (halt.start, y),
            xytext=(8, 10 + 22 * slot),
            textcoords="offset points",
            fontsize=7,
            color=colour,
        )
        bottom.axvline(halt.start, color=colour, linewidth=1.0, linestyle="--")
