"""Reading a run folder back: the CSVs and ``summary.json`` that every route writes.

The reports (``trades.csv``, the statistics, ``pnl.png``, ``report.html``) are built
from these files only, never from the live objects of a run, so a backtest, a gateway
rehearsal and a paper session get the same reports, and ``spine report RUN_DIR``
rebuilds them later from the folder alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from spine.config import shown
from spine.core.errors import InputError
from spine.runs.columns import REQUIRED

_TZ_SUFFIX = r"([+-]\d\d:\d\d|Z)$"


def read_run_csv(path: Path) -> pd.DataFrame:
    """A run CSV as a frame: leading ``#`` comment lines skipped, ``datetime`` parsed.

    Only leading comment lines are skipped: ``comment="#"`` would also cut a row at a
    ``#`` inside a field, such as a rejection reason. Timestamps are naive bar times;
    a ``+00:00`` suffix (some events carry one) is dropped so one column has one kind.
    """
    try:
        with path.open(encoding="utf-8") as stream:
            skip = 0
            while stream.readline().startswith("#"):
                skip += 1
        frame = pd.read_csv(path, skiprows=skip, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); expected the CSV as a run wrote it"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise InputError(f"{path}: not a readable CSV ({reason}); expected the file as a run wrote it") from None
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
                f"{path} line {skip + 2 + bad}, column datetime: {_cell(frame['datetime'].iloc[bad])} is not a date-time; expected YYYY-MM-DD HH:MM:SS"
            ) from None
    return frame


def _check_numbers(frame: pd.DataFrame, column: str, path: Path, skip: int) -> None:
    values = pd.to_numeric(frame[column], errors="coerce")
    for bad, problem in (
        (values.isna() & frame[column].notna(), "is not a number; expected a number"),
        (values.isin([math.inf, -math.inf]), "is not a finite number; expected a finite number"),
    ):
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{path} line {skip + 2 + row}, column {column}: {_cell(frame[column].iloc[row])} {problem}"
            )
    frame[column] = values


def _cell(value: object) -> str:
    """A CSV cell for a message: text quoted, a number as written (``inf``, never ``np.float64(inf)``)."""
    return shown(value, 60) if isinstance(value, str) else str(value)


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


NEEDED = ("orders.csv", "fills.csv", "equity.csv", "events.csv", "summary.json")
# summary.json keys the reports take as they are (the statistics are recomputed): key -> (types, expected)
SUMMARY_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "start_value": ((int, float), "a finite number"),
    "end_value": ((int, float), "a finite number"),
    "final_cash": ((int, float), "a finite number"),
    "route": ((str,), "a route name"),
    "start": ((str,), "a date"),
    "end": ((str,), "a date"),
    "tickers": ((list,), "a list of tickers"),
    "research_only": ((bool,), "true or false"),
    "benchmark": ((dict,), "a mapping"),
    "breaker": ((dict,), "a mapping"),
    "kill_switch": ((dict,), "a mapping"),
}


def read_summary(folder: Path) -> dict[str, Any]:
    """A run folder's ``summary.json``, checked: the folder is complete, the file is a JSON object of sane values.

    Every problem (a file, not a folder; a missing file; bytes that are not UTF-8; a JSON
    list; a start value that is not a finite number) is one ``InputError`` naming the file.
    """
    if folder.is_file():
        raise InputError(
            f"{folder}: is a file, not a folder; expected a run folder written by spine backtest, rehearse or paper"
        )
    if not folder.is_dir():
        raise InputError(
            f"run folder {folder} does not exist; expected a folder written by `spine backtest` (runs/backtest-...)"
        )
    missing = [name for name in NEEDED if not (folder / name).is_file()]
    if missing:
        raise InputError(
            f"run folder {folder} lacks {', '.join(missing)}; expected a complete run folder ({', '.join(NEEDED)})"
        )
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); expected the JSON a run wrote"
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply; expected the summary a run wrote") from None
    if not isinstance(summary, dict):
        raise InputError(
            f"{path}: a JSON {type(summary).__name__}; expected an object of run facts (start_value, tickers ...)"
        )
    for key, (types, expected) in SUMMARY_KEYS.items():
        value = summary.get(key)
        if value is None:
            continue
        bad = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        bad = bad or (isinstance(value, float) and not math.isfinite(value))
        bad = bad or (key == "tickers" and not all(isinstance(t, str) for t in value))
        if bad:
            raise InputError(f"{path}: {key} = {shown(value, 60)}; expected {expected}")
    return summary


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
        """Read ``run_dir``; a missing or damaged file is bad input naming the file, the line and the value."""
        folder = Path(run_dir)
        summary = read_summary(folder)
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
