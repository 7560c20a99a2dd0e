"""The interactive charts of ``report.html``, as Plotly figure dictionaries (plain data, no Plotly import).

Each function returns ``{"data": [...], "layout": {...}}`` for ``Plotly.newPlot``; the
page inlines Plotly's JavaScript once and draws every figure from these dictionaries.
Building plain dictionaries (not ``plotly.graph_objects``) keeps a report fast to write.

Charts: equity against the benchmark (halts shaded, firings marked, the peak and the
deepest drawdown annotated), underwater, one price panel per ticker (candles, entries by
side and tag, exits by result, each trade's stop and take-profit, halts shaded, the trade
in the hover), rolling six-month Sharpe, volatility and beta, end-of-year returns, the
distribution of daily returns, and cumulative net P&L by provenance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from spine.reports.halts import Halt

STRATEGY = "#1f4e79"
BENCHMARK = "#8c8c8c"
TAG_COLOURS = {"LIVE_SPINE": "#1f77b4", "PROHIBITED_LLM_DISCOVERY_LINK": "#ff7f0e", "KILL_SWITCH": "#8b0000"}
HALT_COLOURS = {"breaker_trip": "#f4a460", "kill_switch": "#cd5c5c"}
HALT_MARKERS = {"breaker_trip": "triangle-down", "kill_switch": "x"}
WIN, LOSS = "#2ca02c", "#d62728"
Figure = dict[str, Any]


def equity_chart(
    equity: pd.DataFrame, benchmark: pd.Series | None, benchmark_name: str, found: Sequence[Halt]
) -> Figure:
    """Strategy and benchmark value; halts shaded and marked; peak and deepest drawdown annotated."""
    times = _stamps(equity["datetime"])
    values = equity["value"].astype(float).to_numpy()
    data: list[dict[str, Any]] = [
        _line(times, values, "strategy", STRATEGY, 1.6, "%{x}<br>strategy %{y:,.2f}<extra></extra>")
    ]
    if benchmark is not None and len(benchmark):
        data.append(
            _line(
                _stamps(benchmark.index),
                benchmark.to_numpy(dtype=float),
                benchmark_name or "benchmark",
                BENCHMARK,
                1.1,
                "%{x}<br>benchmark %{y:,.2f}<extra></extra>",
            )
        )
    annotations = []
    if len(values):
        peak = int(np.argmax(values))
        drawdown = values / np.maximum.accumulate(values) - 1.0
        trough = int(np.argmin(drawdown))
        annotations.append(_note(times[peak], values[peak], f"peak {values[peak]:,.0f}", STRATEGY, -30))
        if drawdown[trough] < 0:
            annotations.append(_note(times[trough], values[trough], f"max drawdown {drawdown[trough]:.1%}", LOSS, 30))
    data += _halt_markers(found, times, values)
    layout = _layout("portfolio value", height=430)
    layout["shapes"] = _halt_shapes(found, times)
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def underwater_chart(equity: pd.DataFrame, benchmark: pd.Series | None, found: Sequence[Halt]) -> Figure:
    """Drawdown from the running peak, strategy filled, benchmark as a line (click its legend entry to hide it)."""
    times = _stamps(equity["datetime"])
    values = equity["value"].astype(float).to_numpy()
    data = [
        {
            **_line(times, _drawdown(values), "strategy", LOSS, 1.0, "%{x}<br>strategy %{y:.2%}<extra></extra>"),
            "fill": "tozeroy",
            "fillcolor": "rgba(214,39,40,0.35)",
        }
    ]
    if benchmark is not None and len(benchmark):
        data.append(
            _line(
                _stamps(benchmark.index),
                _drawdown(benchmark.to_numpy(dtype=float)),
                "benchmark",
                BENCHMARK,
                0.9,
                "%{x}<br>benchmark %{y:.2%}<extra></extra>",
            )
        )
    layout = _layout("drawdown", height=260)
    layout["yaxis"]["tickformat"] = ".0%"
    layout["shapes"] = _halt_shapes(found, times)
    return {"data": data, "layout": layout}


def price_chart(
    ticker: str, bars: pd.DataFrame, trades: pd.DataFrame, levels: Mapping[str, tuple[float | None, float | None]],
    found: Sequence[Halt],
) -> Figure:  # fmt: skip
    """One ticker's candles with its trades: entries by side and tag, exits by result, stop and take-profit levels.

    ``levels`` maps a trade's intent to its bracket's initial (stop, take-profit) prices.
    Hovering a marker shows the whole trade.
    """
    times = _stamps(bars["datetime"])
    data: list[dict[str, Any]] = [
        {
            "type": "candlestick",
            "name": ticker,
            "x": times,
            **{k: _rounded(bars[k], 4) for k in ("open", "high", "low", "close")},
            "increasing": {"line": {"color": "#3a7d44", "width": 1}},
            "decreasing": {"line": {"color": "#b23a48", "width": 1}},
            "showlegend": False,
        }
    ]
    mine = trades[trades["ticker"].astype(str) == ticker]
    hover = [_trade_hover(row, levels.get(str(row["intent"]), (None, None))) for row in mine.to_dict("records")]
    for tag in sorted(set(mine["tag"].astype(str))):
        for side, symbol in (("long", "triangle-up"), ("short", "triangle-down")):
            chosen = [
                i for i, row in enumerate(mine.to_dict("records")) if str(row["tag"]) == tag and row["side"] == side
            ]
            if not chosen:
                continue
            rows = mine.iloc[chosen]
            data.append(
                _markers(
                    _stamps(rows["entry_datetime"]),
                    _rounded(rows["entry_price"], 4),
                    f"{side} entry · {tag}",
                    symbol,
                    TAG_COLOURS.get(tag, "#555"),
                    [hover[i] for i in chosen],
                )  # fmt: skip
            )
    closed = [i for i, row in enumerate(mine.to_dict("records")) if row["exit_reason"] != "open"]
    if closed:
        rows = mine.iloc[closed]
        colours = [WIN if float(p) > 0 else LOSS for p in rows["pnl_net"]]
        data.append(
            _markers(
                _stamps(rows["exit_datetime"]),
                _rounded(rows["exit_price"], 4),
                "exit (green: won, red: lost)",
                "circle-open",
                colours,
                [hover[i] for i in closed],
            )  # fmt: skip
        )
    data += _level_lines(mine, levels, times)
    layout = _layout(f"{ticker} price", height=380)
    layout["xaxis"]["rangeslider"] = {"visible": False}
    layout["shapes"] = _halt_shapes(found, times)
    layout["title"] = {"text": ticker, "x": 0.01, "font": {"size": 14}}
    return {"data": data, "layout": layout}


def rolling_chart(rolling: pd.DataFrame, window: int) -> Figure:
    """Rolling Sharpe, annualised volatility and beta to the benchmark, stacked."""
    times = _stamps(rolling.index)
    panels = [c for c in ("sharpe", "volatility", "beta") if c in rolling.columns]
    labels = {"sharpe": "Sharpe", "volatility": "volatility", "beta": "beta"}
    data, layout = [], _layout("", height=170 * max(len(panels), 1) + 60)
    step = 1.0 / max(len(panels), 1)
    for i, column in enumerate(panels):
        axis = "" if i == 0 else str(i + 1)
        data.append(
            {
                **_line(
                    times,
                    _rounded(rolling[column], 4),
                    f"{labels[column]} ({window} bars)",
                    STRATEGY,
                    1.2,
                    f"%{{x}}<br>{labels[column]} %{{y:.2f}}<extra></extra>",
                ),  # fmt: skip
                "yaxis": f"y{axis}",
            }
        )
        layout[f"yaxis{axis}"] = {
            "domain": [1 - (i + 1) * step + 0.04, 1 - i * step],
            "title": {"text": labels[column]},
            "zeroline": True,
            "anchor": "x",
            **({"tickformat": ".0%"} if column == "volatility" else {}),
        }
    layout["showlegend"] = False
    return {"data": data, "layout": layout}


def yearly_chart(yearly: Mapping[str, float], benchmark_yearly: Mapping[str, float]) -> Figure:
    """End-of-year returns, strategy beside the benchmark."""
    years = sorted(yearly)
    data = [
        {
            "type": "bar",
            "name": "strategy",
            "x": years,
            "y": [round(yearly[y], 6) for y in years],
            "marker": {"color": STRATEGY},
            "hovertemplate": "%{x}: %{y:.2%}<extra>strategy</extra>",
        }
    ]
    if benchmark_yearly:
        data.append(
            {
                "type": "bar",
                "name": "benchmark",
                "x": years,
                "y": [None if y not in benchmark_yearly else round(benchmark_yearly[y], 6) for y in years],
                "marker": {"color": BENCHMARK},
                "hovertemplate": "%{x}: %{y:.2%}<extra>benchmark</extra>",
            }
        )
    layout = _layout("return", height=300)
    layout["yaxis"]["tickformat"] = ".0%"
    layout["xaxis"] = {"type": "category"}
    layout["barmode"] = "group"
    return {"data": data, "layout": layout}


def distribution_chart(returns: pd.Series, var_95: float | None) -> Figure:
    """Histogram of the daily returns, with the 95% VaR marked."""
    values = returns.dropna().to_numpy(dtype=float)
    data = [
        {
            "type": "histogram",
            "name": "daily returns",
            "x": [round(float(v), 6) for v in values],
            "nbinsx": 60,
            "marker": {"color": STRATEGY},
            "hovertemplate": "%{x}: %{y} days<extra></extra>",
        }
    ]
    layout = _layout("days", height=280)
    layout["xaxis"] = {"tickformat": ".1%", "title": {"text": "daily return"}}
    if var_95 is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": var_95,
                "x1": var_95,
                "y0": 0,
                "y1": 1,
                "line": {"color": LOSS, "dash": "dash"},
            }  # fmt: skip
        ]
        layout["annotations"] = [
            {
                "x": var_95,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": f"VaR 95% {var_95:.2%}",
                "showarrow": False,
                "xanchor": "right",
                "font": {"color": LOSS, "size": 11},
            }  # fmt: skip
        ]
    return {"data": data, "layout": layout}


def provenance_chart(trades: pd.DataFrame) -> Figure:
    """Cumulative realised net P&L of closed trades per provenance tag, over exit time."""
    closed = trades[trades["exit_reason"] != "open"].copy()
    closed["_exit"] = pd.to_datetime(closed["exit_datetime"])
    data = []
    for tag, rows in closed.sort_values(["_exit", "trade_id"], kind="stable").groupby("tag", sort=True):
        data.append(
            {
                **_line(
                    _stamps(rows["_exit"]),
                    _rounded(rows["pnl_net"].astype(float).cumsum(), 2),
                    str(tag),
                    TAG_COLOURS.get(str(tag), "#555"),
                    1.4,
                    "%{x}<br>%{y:,.2f}<extra>" + str(tag) + "</extra>",
                ),  # fmt: skip
                "line": {"color": TAG_COLOURS.get(str(tag), "#555"), "width": 1.4, "shape": "hv"},
            }
        )
    return {"data": data, "layout": _layout("cumulative net P&L", height=300)}


def text_colour(red: int, green: int, blue: int) -> str:
    """Black or white, whichever reads on a background of this colour (its relative luminance, WCAG)."""

    def linear(channel: int) -> float:
        c = channel / 255.0
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return "#000" if luminance > 0.179 else "#fff"


def _trade_hover(row: Mapping[str, Any], level: tuple[float | None, float | None]) -> str:
    stop, target = level
    exit_ = (
        "still open"
        if row["exit_reason"] == "open"
        else f"exit {_day(row['exit_datetime'])} @ {float(row['exit_price']):,.4g} ({row['exit_reason']})"
    )
    r = row.get("r_multiple")
    lines = [
        f"trade {row['trade_id']} · {row['ticker']} {row['side']}",
        f"entry {_day(row['entry_datetime'])} @ {float(row['entry_price']):,.4g}",
        exit_,
        f"size {int(round(float(row['size']))):,}",
        f"P&L {float(row['pnl']):,.2f} (net {float(row['pnl_net']):,.2f})",
        f"R {float(r):.2f}" if r is not None and not pd.isna(r) else "R -",
        f"stop {stop:,.4g} · take-profit {target:,.4g}" if stop is not None and target is not None else "",
        f"tag {row['tag']}",
        f"intent {row['intent']}",
    ]
    return "<br>".join(line for line in lines if line)


def _level_lines(
    trades: pd.DataFrame, levels: Mapping[str, tuple[float | None, float | None]], times: list[str]
) -> list[dict[str, Any]]:
    """Each trade's stop and take-profit as a segment from entry to exit (one trace each, gaps between)."""
    out = []
    last = times[-1] if times else None
    for index, name, colour in ((0, "stop", LOSS), (1, "take-profit", WIN)):
        xs: list[Any] = []
        ys: list[Any] = []
        for row in trades.to_dict("records"):
            price = levels.get(str(row["intent"]), (None, None))[index]
            if price is None:
                continue
            end = last if row["exit_reason"] == "open" else _day(row["exit_datetime"])
            xs += [_day(row["entry_datetime"]), end, None]
            ys += [round(price, 4), round(price, 4), None]
        if xs:
            out.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{name} level",
                    "x": xs,
                    "y": ys,
                    "line": {"color": colour, "width": 1, "dash": "dot"},
                    "hovertemplate": f"{name} %{{y:,.4g}}<extra></extra>",
                    "connectgaps": False,
                }
            )
    return out


def _halt_shapes(found: Sequence[Halt], times: Sequence[str]) -> list[dict[str, Any]]:
    if not times:
        return []
    return [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": _day(h.start),
            "x1": _day(h.end) if h.end is not None else times[-1],
            "y0": 0,
            "y1": 1,
            "fillcolor": HALT_COLOURS.get(h.event, "#ccc"),
            "opacity": 0.18,
            "line": {"width": 0},
            "layer": "below",
        }
        for h in found
    ]


def _halt_markers(found: Sequence[Halt], times: list[str], values: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for halt in found:
        day = _day(halt.start)
        i = min(int(np.searchsorted(np.array(times), day)), len(values) - 1) if len(values) else 0
        until = f"halted to {_day(halt.end)}" if halt.end is not None else "halted to the end"
        out.append(
            _markers(
                [day],
                [float(values[i]) if len(values) else 0.0],
                f"{halt.label} {day}",
                HALT_MARKERS.get(halt.event, "x"),
                HALT_COLOURS.get(halt.event, "#555"),
                [f"{halt.label} {day}: {until}<br>{halt.detail}"],
                size=13,
            )  # fmt: skip
        )
    return out


def _markers(
    x: list[str], y: list[float], name: str, symbol: str, colour: Any, text: list[str], size: int = 10
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "x": x,
        "y": y,
        "text": text,
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {"symbol": symbol, "size": size, "color": colour, "line": {"width": 1.5, "color": colour}},
    }


def _line(x: list[str], y: Any, name: str, colour: str, width: float, hover: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": x,
        "y": y if isinstance(y, list) else _rounded(y, 2),
        "line": {"color": colour, "width": width},
        "hovertemplate": hover,
    }


def _note(x: str, y: float, text: str, colour: str, ay: int) -> dict[str, Any]:
    return {"x": x, "y": y, "text": text, "showarrow": True, "arrowhead": 2, "ax": 0, "ay": ay,
            "font": {"size": 11, "color": colour}}  # fmt: skip


def _layout(y_title: str, *, height: int) -> dict[str, Any]:
    return {
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 40},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "font": {"size": 11}},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": y_title}, "tickformat": ",.0f" if "value" in y_title else ""},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
    }


def _drawdown(values: np.ndarray) -> list[float]:
    if not len(values):
        return []
    return [round(float(v), 6) for v in values / np.maximum.accumulate(values) - 1.0]


def _rounded(values: Any, digits: int) -> list[float | None]:
    array = np.asarray(values, dtype=float)
    return [None if not math.isfinite(v) else round(v, digits) for v in array.tolist()]


def _stamps(values: Any) -> list[str]:
    index = pd.DatetimeIndex(pd.to_datetime(values))
    daily = bool((index == index.normalize()).all())
    return list(index.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"))


def _day(value: Any) -> str:
    stamp = pd.Timestamp(value)
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M}"
