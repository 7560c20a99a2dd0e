"""``report.html``: a self-contained tearsheet of one run folder.

One HTML file with everything inline (figures as PNG data URIs, CSS in a ``<style>``
block, no script, font or image from the network), so it opens from a USB stick or an
e-mail attachment. Sections: the research-only label, the statistics table, equity
against the benchmark with a log-scale toggle (pure CSS) and the breaker and kill-switch
firings marked, the underwater plot, the monthly returns heat map, P&L by provenance
and by exit reason, the safety events, and the trade list.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spine.core.labels import RESEARCH_LABEL
from spine.reports.figures import (
    PNG_DPI,
    drawdown_series,
    plot_pnl,
    pnl_figure,
    set_value_scale,
)
from spine.reports.halts import halts

SECTIONS = ("statistics", "equity", "underwater", "monthly-returns", "provenance", "safety", "trades")

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1180px}
.research{background:#fff3cd;border:2px solid #d39e00;padding:10px 14px;font-weight:bold;margin-bottom:18px}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}img{max-width:100%}
.toggle .log{display:none}#logscale:checked ~ .charts .log{display:block}#logscale:checked ~ .charts .linear{display:none}
.scroll{max-height:480px;overflow:auto}
"""


def render_tearsheet(
    *,
    summary: Mapping[str, Any],
    equity: pd.DataFrame,
    trades: pd.DataFrame,
    events: pd.DataFrame,
    benchmark: pd.Series | None,
    benchmark_name: str,
    research_only: bool,
    equity_png: Mapping[bool, bytes] | None = None,
) -> str:
    """The whole page as one string.

    ``equity_png`` maps log scale (False/True) to an already drawn equity figure, so the
    caller that also writes ``pnl.png`` draws each figure once; missing ones are drawn here.
    """
    title = f"Spine {summary.get('route', 'run')}: {', '.join(summary.get('tickers', []))}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title><style>{_CSS}</style></head><body>"
    ]
    if research_only:
        parts.append(f"<div class='research' id='research-only'>{_e(RESEARCH_LABEL)}</div>")
    parts.append(
        f"<h1>{_e(title)}</h1><p>{_e(summary.get('start'))} .. {_e(summary.get('end'))}; benchmark: {_e(benchmark_name or 'none')}</p>"
    )
    parts.append(_section("statistics", "Statistics", _table(statistics_rows(summary), ("metric", "value"))))
    drawn = dict(equity_png or {})
    for scale in (False, True):
        if scale not in drawn:
            drawn[scale] = equity_figure_png(
                equity, events, benchmark, benchmark_name, research_only, log_scale=scale, title=title
            )
    linear, logged = _data_uri(drawn[False]), _data_uri(drawn[True])
    toggle = (
        "<div class='toggle'><input type='checkbox' id='logscale'><label for='logscale'> log scale</label>"
        f"<div class='charts'><img class='linear' alt='equity vs benchmark' src='{linear}'><img class='log' alt='equity vs benchmark, log scale' src='{logged}'></div></div>"
        "<p>Shaded: halted periods. Markers: where the circuit breaker tripped (&#9660;) and the kill switch fired (&#10006;).</p>"
    )
    parts.append(_section("equity", "Equity against the benchmark", toggle))
    parts.append(
        _section(
            "underwater",
            "Underwater (drawdown from the running peak)",
            f"<img alt='underwater' src='{_underwater_png(equity, benchmark)}'>",
        )
    )
    parts.append(
        _section(
            "monthly-returns",
            "Monthly returns",
            _heat_map(summary.get("monthly_returns") or {}, summary.get("yearly_returns") or {}),
        )
    )
    provenance = _table(
        _bucket_rows(summary.get("by_provenance") or {}), ("tag", "trades", "P&L", "P&L net", "win rate")
    )
    reasons = _table(
        _bucket_rows(summary.get("by_exit_reason") or {}), ("exit reason", "trades", "P&L", "P&L net", "win rate")
    )
    parts.append(
        _section(
            "provenance",
            "P&L by provenance and by exit reason",
            f"<h3>by provenance (tag of the entry)</h3>{provenance}<h3>by exit reason</h3>{reasons}",
        )
    )
    parts.append(_section("safety", "Safety: circuit breaker and kill switch", _safety(events, summary)))
    columns = [c for c in trades.columns]
    rows = [[_cell(v) for v in row] for row in trades.itertuples(index=False)]
    parts.append(_section("trades", f"Trades ({len(trades)})", f"<div class='scroll'>{_table(rows, columns)}</div>"))
    parts.append("</body></html>\n")
    return "".join(parts)


def statistics_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows shared by the tearsheet and the console table."""
    bench = summary.get("benchmark") or {}
    rows = [
        ("start value", _money(summary.get("start_value"))),
        ("end value", _money(summary.get("end_value"))),
        ("total return", _pct(summary.get("total_return"))),
        ("CAGR", _pct(summary.get("cagr"))),
        ("annualised volatility", _pct(summary.get("annual_volatility"))),
        ("Sharpe (annualised)", _ratio(summary.get("sharpe"))),
        ("Sortino", _ratio(summary.get("sortino"))),
        ("Calmar", _ratio(summary.get("calmar"))),
        ("max drawdown", _pct(summary.get("max_drawdown"))),
        (
            "max drawdown duration",
            f"{summary.get('max_drawdown_duration_bars', '-')} bars ({summary.get('max_drawdown_duration_days', '-')} days)",
        ),
        ("exposure (bars with a position)", _pct(summary.get("exposure"))),
        ("trades (closed / open)", f"{summary.get('trades', 0)} / {summary.get('trades_open', 0)}"),
        ("win rate", _pct(summary.get("win_rate"))),
        ("profit factor", _ratio(summary.get("profit_factor"))),
        ("expectancy (net P&L per trade)", _money(summary.get("expectancy"))),
        ("average / median R", f"{_ratio(summary.get('average_r'))} / {_ratio(summary.get('median_r'))}"),
        (
            "orders / rejected orders / rejected brackets",
            f"{summary.get('orders', '-')} / {summary.get('rejected_orders', '-')} / {summary.get('rejected_brackets', '-')}",
        ),
    ]
    if bench:
        rows += [
            (f"benchmark: {bench.get('name')}", _pct(bench.get("total_return"))),
            ("benchmark CAGR / max drawdown", f"{_pct(bench.get('cagr'))} / {_pct(bench.get('max_drawdown'))}"),
            ("alpha (annualised) / beta", f"{_pct(bench.get('alpha'))} / {_ratio(bench.get('beta'))}"),
        ]
    return rows


def equity_figure_png(
    equity: pd.DataFrame,
    events: pd.DataFrame,
    benchmark: pd.Series | None,
    name: str,
    research_only: bool,
    *,
    log_scale: bool,
    title: str,
) -> bytes:
    """The ``pnl.png`` figure as PNG bytes."""
    buffer = io.BytesIO()
    plot_pnl(
        equity,
        buffer,
        title=title,
        research_only=research_only,
        events=events,
        benchmark=benchmark,
        benchmark_name=name,
        log_scale=log_scale,
    )  # type: ignore[arg-type]
    return buffer.getvalue()


def equity_figure_pngs(
    equity: pd.DataFrame,
    events: pd.DataFrame,
    benchmark: pd.Series | None,
    name: str,
    research_only: bool,
    *,
    title: str,
) -> dict[bool, bytes]:
    """The ``pnl.png`` figure on a linear (False) and a log (True) value axis: built once, drawn twice."""
    fig = pnl_figure(
        equity, title=title, research_only=research_only, events=events, benchmark=benchmark, benchmark_name=name
    )
    drawn = {}
    for log_scale in (False, True):
        set_value_scale(fig.axes[0], log_scale=log_scale)
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=PNG_DPI, format="png")
        drawn[log_scale] = buffer.getvalue()
    return drawn


def _underwater_png(equity: pd.DataFrame, benchmark: pd.Series | None) -> str:
    fig = Figure(figsize=(11, 3))
    FigureCanvasAgg(fig)
    axis = fig.subplots()
    times = pd.DatetimeIndex(equity["datetime"])
    axis.fill_between(
        times, drawdown_series(equity["value"]) * 100.0, 0.0, color="#b22222", alpha=0.45, linewidth=0, label="strategy"
    )
    if benchmark is not None and len(benchmark):
        axis.plot(
            benchmark.index,
            drawdown_series(benchmark.to_numpy(dtype=float)) * 100.0,
            color="#7f7f7f",
            linewidth=0.9,
            label="benchmark",
        )
    axis.set_ylabel("drawdown %")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left", fontsize=8)
    fig.subplots_adjust(left=0.085, right=0.985, top=0.95, bottom=0.12)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return _data_uri(buffer.getvalue())


def _heat_map(monthly: Mapping[str, float], yearly: Mapping[str, float]) -> str:
    """Years down, months across, each cell coloured by its return (green up, red down)."""
    if not monthly:
        return "<p>no returns recorded</p>"
    years = sorted({key[:4] for key in monthly})
    worst = max(abs(v) for v in monthly.values()) or 1.0
    head = "<tr><th class='l'>year</th>" + "".join(f"<th>{m:02d}</th>" for m in range(1, 13)) + "<th>year</th></tr>"
    body = []
    for year in years:
        cells = []
        for month in range(1, 13):
            value = monthly.get(f"{year}-{month:02d}")
            if value is None:
                cells.append("<td></td>")
                continue
            shade = int(200 * min(abs(value) / worst, 1.0))
            colour = f"rgb({255 - shade},255,{255 - shade})" if value >= 0 else f"rgb(255,{255 - shade},{255 - shade})"
            cells.append(f"<td style='background:{colour}'>{value:.2%}</td>")
        body.append(f"<tr><th class='l'>{year}</th>{''.join(cells)}<td><b>{_pct(yearly.get(year))}</b></td></tr>")
    return f"<table class='heatmap'>{head}{''.join(body)}</table>"


def _safety(events: pd.DataFrame, summary: Mapping[str, Any]) -> str:
    found = halts(events)
    rows = [
        [h.label, f"{h.start:%Y-%m-%d %H:%M}", "end of run" if h.end is None else f"{h.end:%Y-%m-%d %H:%M}", h.detail]
        for h in found
    ]
    breaker, kill = summary.get("breaker") or {}, summary.get("kill_switch") or {}
    outcome = f"<p>circuit breaker: {'tripped' if breaker.get('tripped') else 'not tripped'}; kill switch: {'fired' if kill.get('fired') else 'not fired'}</p>"
    if not rows:
        return outcome + "<p>no halts</p>"
    return outcome + _table(rows, ("what", "from", "to", "detail"), left=(0, 3))


def _bucket_rows(buckets: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    return [
        [key, str(b.get("trades", 0)), _money(b.get("pnl")), _money(b.get("pnl_net")), _pct(b.get("win_rate"))]
        for key, b in buckets.items()
    ]


def _section(anchor: str, heading: str, body: str) -> str:
    return f"<section id='{anchor}'><h2>{_e(heading)}</h2>{body}</section>"


def _table(rows: Iterable[Sequence[Any]], header: Sequence[str], left: Sequence[int] = (0,)) -> str:
    head = "".join(f"<th class='{'l' if i in left else ''}'>{_e(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td class='{'l' if i in left else ''}'>{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return (
            f"{value:%Y-%m-%d}" if value == value.normalize() else f"{value:%Y-%m-%d %H:%M}"
        )  # daily bars show the date only
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _money(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) else "-"


def _pct(value: Any) -> str:
    return f"{value:.2%}" if isinstance(value, (int, float)) else "-"


def _ratio(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"
