"""Writing a run folder: its name, the recorded CSVs with the research label, all or nothing.

Everything is written into a hidden temporary folder beside the target and renamed
into place at the end, so a failed or interrupted run leaves no half-written folder.
Numbers are written with ``repr`` (shortest exact form), so the same run gives the
same bytes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import backtrader as bt
import yaml

from spine.config import SpineConfig
from spine.core.errors import InputError
from spine.core.events import EventLog
from spine.core.files import write_json
from spine.core.labels import RESEARCH_LABEL, csv_comment
from spine.runs.columns import (
    EQUITY_COLUMNS,
    EVENT_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
)


def format_cell(value: Any) -> str:
    kind = type(value)
    if kind is str:  # most cells: tickers, tags, statuses, reasons
        return value
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(round(value, 10))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, research_only: bool) -> str:
    buffer = io.StringIO()
    buffer.write(csv_comment(research_only))
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def unique_run_name(out_dir: Path, stem: str) -> str:
    name, n = stem, 1
    while (out_dir / name).exists():
        n += 1
        name = f"{stem}-{n}"
    return name


LATEST_LINK = "latest"
_NAME_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


def run_folder_name(
    out_dir: Path, label: str | None = None, *, kind: str = "backtest", now: datetime | None = None
) -> str:
    """``backtest-YYYYmmdd-HHMMSS-<short id>[-<label>]``: two runs in one second never collide."""
    stem = f"{kind}-{(now or datetime.now()):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    if label is not None:
        if not _NAME_LABEL.fullmatch(label) or ".." in label:
            raise InputError(
                f"--name {label!r} is not a usable folder label; expected 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        stem += f"-{label}"
    return unique_run_name(out_dir, stem)


def point_latest(out_dir: Path, name: str) -> None:
    """Make ``out_dir/latest`` a relative symlink to the newest run, replaced in one step."""
    link = out_dir / LATEST_LINK
    if link.exists() and not link.is_symlink():
        return  # something the user made; never overwrite it
    temporary = out_dir / f".{LATEST_LINK}.{secrets.token_hex(4)}"
    try:
        os.symlink(name, temporary)
        os.replace(temporary, link)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _prepare_out_dir(out_dir: Path) -> bool:
    """Create ``out_dir`` (True when this call created it); one clear message when it cannot be."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: is a file; expected a folder to receive the run folder")
    existed = out_dir.is_dir()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"--out {out_dir}: cannot create the folder ({exc.strerror or exc}); expected a writable folder"
        ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        if not existed:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise InputError(f"--out {out_dir}: is not writable; expected a writable folder")
    return not existed


@contextmanager
def atomic_folder(out_dir: Path, name: str) -> Iterator[Path]:
    """Yield a temporary folder; on success rename it to ``out_dir/name``, on failure remove it.

    A failure also removes ``out_dir`` when this call created it and it is empty, so a
    failed run leaves nothing behind.
    """
    created = _prepare_out_dir(out_dir)
    temp = out_dir / f".{name}.partial-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        temp.mkdir()
    except OSError as exc:
        raise InputError(
            f"--out {out_dir}: cannot write into the folder ({exc.strerror or exc}); expected a writable folder"
        ) from None
    try:
        yield temp
        os.rename(temp, out_dir / name)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise


def event_rows(events: EventLog) -> list[dict[str, Any]]:
    return [{"datetime": e.datetime, "event": e.event, "detail": e.detail} for e in events.events]


def write_run_files(
    folder: Path,
    config: SpineConfig,
    strategy: bt.Strategy,
    events: EventLog,
    summary: Mapping[str, Any],
    *,
    outputs: Literal["all", "statistics"] = "all",
) -> list[dict[str, Any]]:
    """Write what the run recorded into ``folder``; return the event rows.

    The recorder's orders, fills and equity, the events, the resolved ``config/`` and
    ``summary.json``. The reports (trades, statistics, returns, pnl.png, report.html,
    run.log) are built afterwards from these files alone (``spine.reports.write_reports``),
    so every route gets the same reports and ``spine report RUN_DIR`` can rebuild them.
    ``outputs="statistics"`` (a sweep trial) leaves out the resolved ``config/``.
    """
    recorder = strategy.analyzers.recorder
    rows = event_rows(events)
    research = config.research_only
    (folder / "orders.csv").write_text(
        csv_text(recorder.orders, ORDER_COLUMNS, research_only=research), encoding="utf-8"
    )
    (folder / "fills.csv").write_text(csv_text(recorder.fills, FILL_COLUMNS, research_only=research), encoding="utf-8")
    (folder / "equity.csv").write_text(
        csv_text(recorder.equity, EQUITY_COLUMNS, research_only=research), encoding="utf-8"
    )
    (folder / "events.csv").write_text(csv_text(rows, EVENT_COLUMNS, research_only=research), encoding="utf-8")
    if outputs == "all":
        write_resolved_config(folder / "config", config)
    write_json(folder / "summary.json", dict(summary))
    return rows


def write_resolved_config(folder: Path, config: SpineConfig) -> None:
    folder.mkdir()
    header = f"# {RESEARCH_LABEL}\n" if config.research_only else ""
    header += f"# resolved from {config.folder}\n"
    for filename, body in config.to_files().items():
        (folder / filename).write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
