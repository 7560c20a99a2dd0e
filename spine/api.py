"""``spine.backtest(...)``: the ``spine backtest`` route from Python, for notebooks.

It runs the same harness as the command line (the same loaders, gate, strategy and run
folder) and returns a ``RunResult`` holding the run's summary and frames::

    import spine

    result = spine.backtest("data/sample/prices", "data/sample/signals.csv", vix="data/sample/vix.csv")
    result.summary["total_return"], result.trades.head()
    result.plot()

Prices are a path (a CSV file or a folder of them, or a list of paths), a dict of OHLCV
frames by ticker, or one long frame with a ``ticker`` column; signals are a path or a
frame with the signal file's columns; the VIX is a path or a frame. Frames are written
to CSV files in a temporary folder and read by the same loaders as files, so a bad cell
raises the same ``spine.core.errors`` exception the CLI prints, naming
``prices['NVDA']`` or ``signals`` instead of a temporary path. ``out=None`` writes
nothing and keeps nothing on disk; ``out=FOLDER`` writes the run folder there, as
``spine backtest --out FOLDER`` does, and ``RunResult.folder`` names it.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spine.core.errors import InputError, SpineError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from spine.config import SpineConfig

__all__ = ["RunResult", "SpineWarning", "backtest"]


class SpineWarning(UserWarning):
    """A line the command line prints before a run (a VIX trigger that is off, a halted state)."""


@dataclass(frozen=True, eq=False)
class RunResult:
    """One backtest: ``summary`` (what ``summary.json`` holds) and the run's tables as frames.

    ``folder`` is the run folder when one was written (``out=``), else None.
    ``notices`` are the lines the command line prints before the run starts.
    """

    summary: dict[str, Any]
    trades: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    equity: pd.DataFrame
    events: pd.DataFrame
    folder: Path | None = None
    notices: tuple[str, ...] = field(default=())

    def plot(self, *, log_scale: bool = False) -> Figure:
        """Equity over drawdown, halts shaded and firings marked (the figure of ``pnl.png``)."""
        from spine.reports.figures import pnl_figure

        title = f"Spine {self.summary.get('route', 'backtest')}: {', '.join(self.summary.get('tickers', []))}"
        return pnl_figure(
            self.equity,
            title=title,
            research_only=bool(self.summary.get("research_only", True)),
            events=self.events,
            log_scale=log_scale,
        )

    def _repr_html_(self) -> str:  # a notebook shows the figures a trader reads first
        keys = ("start", "end", "end_value", "total_return", "max_drawdown", "sharpe", "trades")
        rows = "".join(f"<tr><th>{key}</th><td>{self.summary.get(key)}</td></tr>" for key in keys)
        return f"<table><caption>Spine backtest</caption>{rows}</table>"


def backtest(
    prices: Any,
    signals: Any,
    *,
    config: str | Path | SpineConfig | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    vix: Any = None,
    benchmark: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
) -> RunResult:
    """Run one backtest as ``spine backtest`` does and return its ``RunResult``.

    ``prices`` and ``signals`` as paths, or frames (see the module docstring); None for
    both is the bundled sample (with its VIX), as the command line's defaults are.
    ``config`` is a config folder (default: the shipped one) or a loaded ``SpineConfig``;
    ``overrides`` are dotted keys as ``--set`` takes them (``{"risk.max_positions": 5}``).
    ``benchmark`` is ``TICKER``, a file or ``equal-weight`` (the default). Bad input raises
    the ``InputError`` (or ``ConfigError``, ``DataError``) whose text the CLI prints.
    """
    from spine.config import SpineConfig, load_config
    from spine.routes.backtest import BacktestRequest, run_backtest
    from spine.routes.preflight import unused_overrides

    if isinstance(config, SpineConfig):
        if overrides:
            raise InputError("overrides need a config folder (config=PATH or None), not a loaded SpineConfig")
        cfg = config
    else:
        cfg = load_config(config, overrides=dict(overrides or {}))
    notices: list[str] = []

    def notify(line: str) -> None:
        notices.append(line)
        warnings.warn(line, SpineWarning, stacklevel=3)

    for line in unused_overrides(cfg, list(overrides or {})):
        notify(line)

    if prices is not None and signals is None:
        raise InputError(
            "signals: required with your own prices (a path or a frame with datetime, ticker, weight, direction); "
            "the bundled sample's signals only cover the sample tickers"
        )
    with tempfile.TemporaryDirectory(prefix="spine-api-") as scratch:
        inputs = _Inputs(Path(scratch))
        request = BacktestRequest(
            config=cfg,
            data=inputs.prices(prices),
            signals=inputs.signals(signals),
            start=_day(start, "start"),
            end=_day(end, "end"),
            vix=inputs.vix(vix),
            benchmark=benchmark,
            out_dir=Path(out) if out is not None else Path(scratch) / "runs",
            outputs="all" if out is not None else "statistics",
        )
        try:
            result = run_backtest(request, notify=notify)
        except SpineError as exc:
            raise inputs.renamed(exc) from None
        return _result(result.run_dir, kept=out is not None, notices=notices)


def _result(run_dir: Path, *, kept: bool, notices: list[str]) -> RunResult:
    import pandas as pd

    from spine.reports.trades import build_trades
    from spine.runs.read import RunFiles, read_run_csv

    files = RunFiles.load(run_dir)
    if (run_dir / "trades.csv").is_file():
        trades = read_run_csv(run_dir / "trades.csv")
    else:
        trades = build_trades(files.fills, files.orders, files.events, pd.DatetimeIndex(files.equity["datetime"]))
    return RunResult(
        summary=files.summary,
        trades=trades,
        orders=files.orders,
        fills=files.fills,
        equity=files.equity,
        events=files.events,
        folder=run_dir if kept else None,
        notices=tuple(notices),
    )


def _day(value: Any, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):  # a datetime or a pandas Timestamp is a date too
        return value.date() if hasattr(value, "date") and callable(value.date) else value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{name}={value!r} is not a date; expected YYYY-MM-DD") from None


class _Inputs:
    """Frames written as the CSV files the loaders read; paths passed through as the CLI takes them."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.names: dict[str, str] = {}  # temporary file -> what the caller passed, for messages

    def _write(self, frame: Any, name: str, shown: str, *, what: str) -> Path:
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise InputError(
                f"{shown}: expected a pandas DataFrame or a path to a CSV file, got {type(frame).__name__}"
            )
        table = frame
        if isinstance(table.index, pd.DatetimeIndex):
            index = table.index.tz_localize(None) if table.index.tz is not None else table.index
            table = table.set_axis(index).rename_axis(table.index.name or "datetime").reset_index()
        if isinstance(table.columns, pd.MultiIndex):
            raise InputError(f"{shown}: has several column levels; expected one row of column names ({what})")
        path = self.scratch / name
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
        self.names[str(path)] = shown
        return path

    def prices(self, value: Any) -> tuple[Path, ...]:
        import pandas as pd

        if value is None:
            return ()
        if isinstance(value, (str, Path)):
            return (Path(value),)
        if isinstance(value, Mapping):
            return tuple(self._price_frame(frame, str(ticker)) for ticker, frame in value.items())
        if isinstance(value, pd.DataFrame):
            column = next((c for c in value.columns if str(c).lower() == "ticker"), None)
            if column is None:
                raise InputError(
                    "prices: a single frame needs a 'ticker' column (a long frame); "
                    "expected a dict of frames by ticker, a long frame, or paths"
                )
            return tuple(
                self._price_frame(frame.drop(columns=[column]), str(ticker))
                for ticker, frame in value.groupby(column, sort=True)
            )
        if isinstance(value, Sequence):
            return tuple(Path(item) for item in value)
        raise InputError(
            f"prices: got {type(value).__name__}; expected a dict of frames by ticker, a long frame, or paths"
        )

    def _price_frame(self, frame: Any, ticker: str) -> Path:
        from spine.core.tickers import checked_ticker

        ticker = checked_ticker(ticker, "prices")
        return self._write(
            frame, f"prices/{ticker}.csv", f"prices[{ticker!r}]", what="date, open, high, low, close, volume"
        )

    def signals(self, value: Any) -> Path | None:
        if value is None or isinstance(value, (str, Path)):
            return Path(value) if value is not None else None
        return self._write(value, "signals.csv", "signals", what="the signal file's columns")

    def vix(self, value: Any) -> Path | None:
        if value is None or isinstance(value, (str, Path)):
            return Path(value) if value is not None else None
        return self._write(value, "vix.csv", "vix", what="date, open, high, low, close")

    def renamed(self, exc: SpineError) -> SpineError:
        """The same error, naming what the caller passed instead of a temporary file."""
        text = str(exc)
        for path, shown in self.names.items():
            text = text.replace(path, shown)
        text = text.replace(str(self.scratch) + "/", "")
        if text == str(exc):
            return exc
        shown = type(exc).__new__(type(exc))  # the same type and fields (a DataError's row and column)
        shown.__dict__.update(exc.__dict__)
        shown.args = (text,)
        if str(getattr(exc, "path", "")) in self.names:
            shown.path = self.names[str(exc.path)]  # type: ignore[attr-defined]
        return shown
