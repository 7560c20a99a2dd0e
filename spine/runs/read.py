"""Reading a run folder back: the CSVs and ``summary.json`` that every route writes.

The reports (``trades.csv``, the statistics, ``pnl.png``, ``report.html``) are built
from these files only, never from the live objects of a run, so a backtest, a gateway
rehearsal and a paper session get the same reports, and ``spine report RUN_DIR``
rebuilds them later from the folder alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from spine.core.errors import InputError
from spine.runs.columns import REQUIRED

_TZ_SUFFIX = r"([+-]\d\d:\d\d|Z)$"


def read_run_csv(path: Path) -> pd.DataFrame:
    """A run CSV as a frame: leading ``#`` comment lines skipped, ``datetime`` parsed.

    Only leading comment lines are skipped: ``comment="#"`` would also cut a row at a
    ``#`` inside a field, such as a rejection reason. Timestamps are naive bar times;
    a ``+00:00`` suffix (some events carry one) is dropped so one column has one kind.
    """
    with path.open(encoding="utf-8") as stream:
        skip = 0
        while stream.readline().startswith("#"):
            skip += 1
    try:
        frame = pd.read_csv(path, skiprows=skip, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc}); expected the file as a run wrote it") from None
    columns, numeric = REQUIRED.get(path.name, ((), ()))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path} line {skip + 1}: column {', '.join(missing)} missing; expected the header {', '.join(columns)}"
        )
    for column in numeric:
        _check_numbers(frame, column, path, skip)
    if "datetime" in frame.columns:
        try:
            frame["datetime"] = parse_times(frame["datetime"])
        except (ValueError, TypeError):
            bad = next(i for i, v in enumerate(frame["datetime"]) if not _is_time(v))
            raise InputError(
                f"{path} line {skip + 2 + bad}, column datetime: {frame['datetime'].iloc[bad]!r} is not a date-time; expected YYYY-MM-DD HH:MM:SS"
            ) from None
    return frame


def _check_numbers(frame: pd.DataFrame, column: str, path: Path, skip: int) -> None:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path} line {skip + 2 + row}, column {column}: {frame[column].iloc[row]!r} is not a number; expected a number"
        )
    frame[column] = values


def _is_time(value: object) -> bool:
    try:
        parse_times(pd.Series([value]))
    except (ValueError, TypeError):
        return False
    return True


def parse_times(column: pd.Series) -> pd.Series:
    """Naive timestamps from ISO strings, with or without a UTC offset."""
    text = column.astype("string").str.replace(_TZ_SUFFIX, "", regex=True)
    return pd.to_datetime(text, format="ISO8601")


@dataclass(frozen=True)
class RunFiles:
    """What a run folder recorded, as frames: the reports' only input."""

    run_dir: Path
    orders: pd.DataFrame
    fills: pd.DataFrame
    equity: pd.DataFrame
    events: pd.DataFrame
    summary: dict[str, Any]
    benchmark: pd.DataFrame | None

    @classmethod
    def load(cls, run_dir: Path | str) -> RunFiles:
        """Read ``run_dir``; a missing required file is bad input naming the file."""
        folder = Path(run_dir)
        if not folder.is_dir():
            raise InputError(
                f"run folder {folder} does not exist; expected a folder written by `spine backtest` (runs/backtest-...)"
            )
        needed = ("orders.csv", "fills.csv", "equity.csv", "events.csv", "summary.json")
        missing = [name for name in needed if not (folder / name).is_file()]
        if missing:
            raise InputError(
                f"run folder {folder} lacks {', '.join(missing)}; expected a complete run folder ({', '.join(needed)})"
            )
        try:
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{folder / 'summary.json'} line {exc.lineno}: not valid JSON ({exc.msg})") from None
        benchmark_path = folder / "benchmark.csv"
        return cls(
            run_dir=folder,
            orders=read_run_csv(folder / "orders.csv"),
            fills=read_run_csv(folder / "fills.csv"),
            equity=read_run_csv(folder / "equity.csv"),
            events=read_run_csv(folder / "events.csv"),
            summary=summary,
            benchmark=read_run_csv(benchmark_path) if benchmark_path.is_file() else None,
        )

    @property
    def start_value(self) -> float:
        """The account value before the first bar (the backtest's cash)."""
        value = self.summary.get("start_value")
        if value is None:
            return float(self.equity["value"].iloc[0])
        return float(value)

    @property
    def research_only(self) -> bool:
        return bool(self.summary.get("research_only", True))
