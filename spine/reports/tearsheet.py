"""``report.html``: a self-contained, interactive tearsheet of one run folder.

One HTML file with everything inline: Plotly's JavaScript once (compressed, see
``plotly_inline``), each figure as JSON, CSS in a ``<style>`` block, and a few lines of
script for the trade table; nothing is fetched from the network, so it opens from a USB
stick or an e-mail attachment. Sections: the research-only label, the statistics, equity
against the benchmark (linear or log), underwater, one price panel per ticker with the
trades, monthly returns, end-of-year returns, the return distribution, rolling Sharpe,
volatility and beta, the worst drawdowns, the per-ticker table, P&L by provenance and by
exit reason (and both at once, and over time), the safety events, and the trade list
(sortable, filterable by ticker, tag and exit reason).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from spine.core.labels import RESEARCH_LABEL
from spine.reports.charts import (
    distribution_chart,
    equity_chart,
    price_chart,
    provenance_chart,
    rolling_chart,
    text_colour,
    underwater_chart,
    yearly_chart,
)
from spine.reports.halts import Halt, halts
from spine.reports.plotly_inline import figure_block, library_block
from spine.reports.statistics import period_returns

SECTIONS = (
    "statistics", "equity", "underwater", "prices", "monthly-returns", "yearly-returns", "distribution", "rolling",
    "drawdowns", "tickers", "provenance", "safety", "trades",
)  # fmt: skip
TEXT_COLUMNS = frozenset(
    {
        "ticker",
        "side",
        "entry_datetime",
        "exit_datetime",
        "exit_reason",
        "tag",
        "source_type",
        "source_ticker",
        "intent",
    }
)
FILTERS = (("ticker", "ticker"), ("tag", "tag"), ("exit_reason", "exit reason"))

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1280px}
.research{background:#fff3cd;border:2px solid #d39e00;padding:10px 14px;font-weight:bold;margin-bottom:18px}
.warn{background:#fde2e1;padding:8px}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.scroll{max-height:520px;overflow:auto;border:1px solid #ccc}
.scroll thead th{position:sticky;top:0;z-index:1;box-shadow:0 1px 0 #bbb;cursor:pointer;user-select:none}
.scroll thead th.asc::after{content:" \\25B2"}.scroll thead th.desc::after{content:" \\25BC"}
.filters{margin:6px 0}.filters label{margin-right:14px}
.chart{width:100%}.caption{font-size:12px;color:#555}
"""

_TABLE_SCRIPT = """
(function(){
  var table = document.getElementById('trade-table');
  if (!table) { return; }
  var body = table.tBodies[0], heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function(th, col){
    th.addEventListener('click', function(){
      var down = th.classList.contains('asc'), numeric = !th.classList.contains('l');
      Array.prototype.forEach.call(heads, function(h){ h.classList.remove('asc', 'desc'); });
      th.classList.add(down ? 'desc' : 'asc');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function(a, b){
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        var order = numeric ? (parseFloat(x === '' ? 'NaN' : x) || 0) - (parseFloat(y === '' ? 'NaN' : y) || 0)
                            : x.localeCompare(y);
        return down ? -order : order;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
  var selects = document.querySelectorAll('select[data-filter]');
  function apply(){
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function(r){
      var keep = Array.prototype.every.call(selects, function(s){ return !s.value || r.dataset[s.dataset.filter] === s.value; });
      r.style.display = keep ? '' : 'none';
      if (keep) { shown++; }
    });
    document.getElementById('trade-count').textContent = String(shown);
  }
  selects.forEach(function(s){ s.addEventListener('change', apply); });
  var alone = document.getElementById('strategy-only');
  if (alone) {
    alone.addEventListener('change', function(){
      Plotly.restyle('equity-chart', {visible: alone.checked ? false : true}, [1]);
      Plotly.relayout('equity-chart', {'yaxis.autorange': true});
    });
  }
  var log = document.getElementById('logscale');
  if (log) {
    log.addEventListener('change', function(){
      Plotly.relayout('equity-chart', {'yaxis.type': log.checked ? 'log' : 'linear'});
    });
  }
})();
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
    returns: pd.Series | None = None,
    rolling: pd.DataFrame | None = None,
    prices: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
) -> str:
    """The whole page as one string.

    ``returns`` (daily), ``rolling`` (``metrics.rolling_figures``), ``prices``
    (``prices.csv``) and ``orders`` (for each trade's stop and take-profit) add their
    charts when given; a run folder without ``prices.csv`` has no price panels.
    """
    title = f"Spine {summary.get('route', 'run')}: {', '.join(summary.get('tickers', []))}"
    found = halts(events)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
    ]
    if research_only:
        parts.append(f"<div class='research' id='research-only'>{_e(RESEARCH_LABEL)}</div>")
    parts.append(
        f"<h1>{_e(title)}</h1><p>{_e(_date(summary.get('start')))} .. {_e(_date(summary.get('end')))}; "
        f"benchmark: {_e(benchmark_name or 'none')}</p>"
    )
    parts.append(
        _section(
            "statistics",
            "Statistics",
            "<div class='grid'>"
            + _table(statistics_rows(summary), ("metric", "value"))
            + _table(trade_rows(summary), ("trades and risk", "value"))
            + "</div>",
        )
    )
    equity_body = (
        "<label><input type='checkbox' id='logscale'> log scale</label> "
        + ("<label><input type='checkbox' id='strategy-only'> strategy only</label>" if benchmark is not None else "")
        + figure_block("equity-chart", equity_chart(equity, benchmark, benchmark_name, found))
        + _halt_caption(found)
    )
    parts.append(_section("equity", "Equity against the benchmark", equity_body))
    parts.append(
        _section(
            "underwater",
            "Underwater (drawdown from the running peak)",
            figure_block("underwater-chart", underwater_chart(equity, benchmark, found))
            + "<p class='caption'>Click the benchmark in the legend to see the strategy alone.</p>",
        )
    )
    parts.append(_section("prices", "Trades on the price chart", _price_panels(prices, trades, orders, found)))
    parts.append(
        _section(
            "monthly-returns",
            "Monthly returns",
            _heat_map(summary.get("monthly_returns") or {}, summary.get("yearly_returns") or {}),
        )
    )
    bench_yearly = _benchmark_yearly(benchmark, summary.get("start_value"))
    parts.append(
        _section(
            "yearly-returns",
            "End-of-year returns",
            figure_block("yearly-chart", yearly_chart(summary.get("yearly_returns") or {}, bench_yearly)),
        )
    )
    if returns is not None:
        parts.append(
            _section(
                "distribution",
                "Distribution of daily returns",
                figure_block("distribution-chart", distribution_chart(returns, summary.get("var_95"))),
            )
        )
    else:
        parts.append(_section("distribution", "Distribution of daily returns", "<p>no returns recorded</p>"))
    window = (summary.get("rolling_6m") or {}).get("window_bars", 126)
    rolling_body = (
        figure_block("rolling-chart", rolling_chart(rolling, window))
        if rolling is not None and rolling.notna().any().any()
        else f"<p>fewer than {window} bars: no rolling figures</p>"
    )
    parts.append(_section("rolling", f"Rolling {window}-bar (six-month) Sharpe, volatility and beta", rolling_body))
    parts.append(_section("drawdowns", "Worst drawdowns", _drawdown_table(summary.get("worst_drawdowns") or [])))
    parts.append(_section("tickers", "Per ticker", _ticker_table(summary.get("by_ticker") or {}, summary)))
    parts.append(_section("provenance", "P&L by provenance and by exit reason", _provenance(summary, trades)))
    parts.append(_section("safety", "Safety: circuit breaker and kill switch", _safety(found, summary)))
    parts.append(_section("trades", f"Trades ({len(trades)})", _trade_table(trades)))
    parts.append(library_block())
    parts.append(f"<script>{_TABLE_SCRIPT}</script></body></html>\n")
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


def trade_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of the trade-quality and tail-risk figures (the report's second table)."""
    days = summary.get("average_trade_duration_days")
    return [
        ("best / worst trade (net)", f"{_money(summary.get('best_trade'))} / {_money(summary.get('worst_trade'))}"),
        ("average win / loss (net)", f"{_money(summary.get('average_win'))} / {_money(summary.get('average_loss'))}"),
        (
            "average / longest trade",
            f"{_ratio(days)} / {summary.get('max_trade_duration_days', '-')} days "
            f"({_ratio(summary.get('average_trade_duration_bars'))} / {summary.get('max_trade_duration_bars', '-')} bars)",
        ),
        (
            "most wins / losses in a row",
            f"{summary.get('max_consecutive_wins', '-')} / {summary.get('max_consecutive_losses', '-')}",
        ),
        ("SQN", _ratio(summary.get("sqn"))),
        ("Kelly fraction", _pct(summary.get("kelly"))),
        ("daily VaR / CVaR (95%, historical)", f"{_pct(summary.get('var_95'))} / {_pct(summary.get('cvar_95'))}"),
        ("tail ratio", _ratio(summary.get("tail_ratio"))),
        ("skew / excess kurtosis", f"{_ratio(summary.get('skew'))} / {_ratio(summary.get('kurtosis'))}"),
        ("winning months", _pct(summary.get("win_month_rate"))),
    ]


def _halt_caption(found: Sequence[Halt]) -> str:
    if not found:
        return "<p class='caption'>No halts: the circuit breaker never tripped and the kill switch never fired.</p>"
    kinds = {h.event for h in found}
    marks = []
    if "breaker_trip" in kinds:
        marks.append("where the circuit breaker tripped (&#9660;)")
    if "kill_switch" in kinds:
        marks.append("where the kill switch fired (&#10006;)")
    return f"<p class='caption'>Shaded: halted periods. Markers: {' and '.join(marks)}.</p>"


def _price_panels(
    prices: pd.DataFrame | None, trades: pd.DataFrame, orders: pd.DataFrame | None, found: Sequence[Halt]
) -> str:
    if prices is None or prices.empty:
        return "<p>This run folder has no prices.csv (the route did not record its bars): no price panels.</p>"
    levels = bracket_levels(orders)
    blocks = [
        "<p class='caption'>Entries: &#9650; long, &#9660; short, blue LIVE_SPINE (direct), orange "
        "PROHIBITED_LLM_DISCOVERY_LINK (propagated). Exits: circles, green won, red lost. Dotted: each trade's stop "
        "(red) and take-profit (green). Hover a marker for the trade; drag to zoom, double-click to reset.</p>"
    ]
    for i, (ticker, bars) in enumerate(prices.groupby("ticker", sort=True)):
        blocks.append(figure_block(f"price-{i}", price_chart(str(ticker), bars, trades, levels, found)))
    return "".join(blocks)


def bracket_levels(orders: pd.DataFrame | None) -> dict[str, tuple[float | None, float | None]]:
    """Each intent's initial stop and take-profit prices: the first price its bracket's legs were sent with."""
    if orders is None or orders.empty:
        return {}
    legs = orders[orders["role"].isin(("stop", "take_profit")) & orders["price"].notna()]
    first = legs.drop_duplicates(["intent", "role"], keep="first")
    out: dict[str, list[float | None]] = {}
    for intent, role, price in zip(first["intent"], first["role"], first["price"], strict=True):
        out.setdefault(str(intent), [None, None])[0 if role == "stop" else 1] = float(price)
    return {key: (value[0], value[1]) for key, value in out.items()}


def _heat_map(monthly: Mapping[str, float], yearly: Mapping[str, float]) -> str:
    """Years down, months across, each cell coloured by its return (green up, red down), its text by luminance."""
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
            rgb = (255 - shade, 255, 255 - shade) if value >= 0 else (255, 255 - shade, 255 - shade)
            cells.append(
                f"<td style='background:rgb{rgb};color:{text_colour(*rgb)}'>{value:.2%}</td>".replace(", ", ",")
            )
        body.append(f"<tr><th class='l'>{year}</th>{''.join(cells)}<td><b>{_pct(yearly.get(year))}</b></td></tr>")
    return f"<table class='heatmap'>{head}{''.join(body)}</table>"


def _benchmark_yearly(benchmark: pd.Series | None, start_value: Any) -> dict[str, float]:
    if benchmark is None or not len(benchmark) or not isinstance(start_value, (int, float)):
        return {}
    values = benchmark.to_numpy(dtype=float)
    previous = [float(start_value), *values[:-1]]
    returns = pd.Series(values / previous - 1.0, index=benchmark.index)
    return period_returns(returns)["yearly_returns"]


def _drawdown_table(periods: Sequence[Mapping[str, Any]]) -> str:
    if not periods:
        return "<p>no drawdown</p>"
    rows = [
        [i, p["start"], p["trough"], p.get("recovery") or "not recovered", _pct(p["depth"]), p["days"], p["bars"]]
        for i, p in enumerate(periods, start=1)
    ]
    return _table(rows, ("#", "peak", "trough", "recovery", "depth", "days", "bars"), left=(1, 2, 3))


def _ticker_table(by_ticker: Mapping[str, Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    if not by_ticker:
        return "<p>no trades</p>"
    rows = [
        [
            ticker, b["trades"], b["won"], _pct(b.get("win_rate")), _money(b["pnl_net"]), _money(b["commission"]),
            _money(b.get("best_trade")), _money(b.get("worst_trade")), _money(b["open_pnl"]), _money(b["total_pnl"]),
        ]
        for ticker, b in by_ticker.items()
    ]  # fmt: skip
    total = sum(b["total_pnl"] for b in by_ticker.values())
    rows.append(["all", sum(b["trades"] for b in by_ticker.values()), "", "", "", "", "", "", "", _money(total)])
    header = ("ticker", "closed trades", "won", "win rate", "net P&L", "commission", "best", "worst",
              "open position P&L", "total P&L")  # fmt: skip
    moved = (summary.get("end_value") or 0.0) - (summary.get("start_value") or 0.0)
    return _table(rows, header) + f"<p class='caption'>Equity moved {_money(moved)} over the run.</p>"


def _provenance(summary: Mapping[str, Any], trades: pd.DataFrame) -> str:
    provenance = _table(
        _bucket_rows(summary.get("by_provenance") or {}), ("tag", "trades", "P&L", "P&L net", "win rate")
    )
    reasons = _table(
        _bucket_rows(summary.get("by_exit_reason") or {}), ("exit reason", "trades", "P&L", "P&L net", "win rate")
    )
    crossed = summary.get("by_provenance_exit_reason") or {}
    cross_rows = [
        [tag, reason, bucket["trades"], _money(bucket["pnl_net"])]
        for tag, by_reason in crossed.items()
        for reason, bucket in by_reason.items()
    ]
    cross = (
        _table(cross_rows, ("tag", "exit reason", "trades", "P&L net"), left=(0, 1))
        if cross_rows
        else "<p>no closed trades</p>"
    )
    over_time = (
        figure_block("provenance-chart", provenance_chart(trades)) if (trades["exit_reason"] != "open").any() else ""
    )
    return (
        "<p class='caption'>LIVE_SPINE: trades of direct signals. PROHIBITED_LLM_DISCOVERY_LINK: trades of signals "
        "propagated from a linked ticker.</p>"
        f"<div class='grid'><div><h3>by provenance (tag of the entry)</h3>{provenance}</div>"
        f"<div><h3>by exit reason</h3>{reasons}</div>"
        f"<div><h3>provenance &#215; exit reason</h3>{cross}</div></div>"
        f"<h3>cumulative net P&L by provenance</h3>{over_time}"
    )


def _safety(found: Sequence[Halt], summary: Mapping[str, Any]) -> str:
    rows = [
        [h.label, f"{h.start:%Y-%m-%d %H:%M}", "end of run" if h.end is None else f"{h.end:%Y-%m-%d %H:%M}", h.detail]
        for h in found
    ]
    breaker, kill = summary.get("breaker") or {}, summary.get("kill_switch") or {}
    outcome = f"<p>circuit breaker: {'tripped' if breaker.get('tripped') else 'not tripped'}; kill switch: {'fired' if kill.get('fired') else 'not fired'}</p>"
    if not rows:
        return outcome + "<p>no halts</p>"
    return outcome + _table(rows, ("what", "from", "to", "detail"), left=(0, 3))


def _trade_table(trades: pd.DataFrame) -> str:
    """The trade list: text left, numbers right, share counts whole, a sticky header, sortable and filterable."""
    columns = list(trades.columns)
    filters = []
    for column, label in FILTERS:
        if column not in columns:
            continue
        options = "".join(f"<option>{_e(v)}</option>" for v in sorted(set(trades[column].astype(str))))
        filters.append(
            f"<label>{_e(label)} <select data-filter='{column.replace('_', '')}'><option value=''>all</option>"
            f"{options}</select></label>"
        )
    head = "".join(f"<th class='{'l' if c in TEXT_COLUMNS else 'n'}'>{_e(c)}</th>" for c in columns)
    body = []
    for row in trades.to_dict("records"):
        cells = "".join(_trade_cell(column, row.get(column)) for column in columns)
        data = " ".join(
            f"data-{column.replace('_', '')}='{_e(row.get(column))}'" for column, _ in FILTERS if column in row
        )
        body.append(f"<tr {data}>{cells}</tr>")
    return (
        f"<div class='filters'>{''.join(filters)} showing <span id='trade-count'>{len(trades)}</span> trades; "
        "click a heading to sort</div>"
        f"<div class='scroll'><table id='trade-table'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _trade_cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "<td data-v=''></td>" if column not in TEXT_COLUMNS else "<td class='l' data-v=''></td>"
    if column in TEXT_COLUMNS:
        shown = _cell(value)
        return f"<td class='l' data-v='{_e(shown)}'>{_e(shown)}</td>"
    number = float(value)
    if column in ("size", "bars_held", "trade_id"):
        shown = f"{number:,.0f}"
    elif column in ("entry_price", "exit_price"):
        shown = f"{number:,.4f}".rstrip("0").rstrip(".") if abs(number) < 10 else f"{number:,.2f}"
    elif column == "return_pct":
        shown = f"{number:.2f}%"
    elif column == "r_multiple":
        shown = f"{number:.2f}"
    else:
        shown = f"{number:,.2f}"
    return f"<td data-v='{number!r}'>{shown}</td>"


def _date(value: Any) -> str:
    """A run's start or end: the date alone when it is midnight (daily bars)."""
    if value is None:
        return ""
    text = str(value)
    return text[:10] if text.endswith("T00:00:00") or text.endswith(" 00:00:00") else text


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
