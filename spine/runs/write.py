"""Writing a run folder: its name, the recorded CSVs with the research label.

A backtest writes everything into a hidden temporary folder beside the target and renames
it into place at the end, so a failed or interrupted run leaves no half-written folder
(``atomic_folder``). A session (``LiveRunFolder``) runs for days: its folder exists from the
start and every recorded row is appended as it happens, so a killed session keeps what it
did and ``spine report RUN_DIR`` can build its reports. Numbers are written with ``repr`` (shortest exact form), so the same run gives the
same bytes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
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
from spine.core.files import write_json, write_text_atomically
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


_PARTIAL = re.compile(r"^\..+\.partial-(\d+)-[0-9a-f]{6}$")


def remove_stale_partials(out_dir: Path) -> list[Path]:
    """Remove the hidden ``.NAME.partial-PID-XXXXXX`` folders of runs whose process is gone; return them."""
    removed: list[Path] = []
    for path in out_dir.iterdir() if out_dir.is_dir() else ():
        match = _PARTIAL.match(path.name)
        if match is None or not path.is_dir() or _running(int(match.group(1))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a pid we cannot ask about): keep its folder
    return True


@contextmanager
def atomic_folder(out_dir: Path, name: str) -> Iterator[Path]:
    """Yield a temporary folder; on success rename it to ``out_dir/name``, on failure remove it.

    A failure also removes ``out_dir`` when this call created it and it is empty, so a
    failed run leaves nothing behind. A run killed outright (``kill -9``) cannot clean up:
    its hidden folder is removed by the next run into the same ``out_dir``, once no
    process of this machine has its pid (``remove_stale_partials``).
    """
    created = _prepare_out_dir(out_dir)
    remove_stale_partials(out_dir)
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
    show_account: bool = False,
) -> list[dict[str, Any]]:
    """Write what the run recorded into ``folder``; return the event rows.

    The recorder's orders, fills and equity, the events, the resolved ``config/`` and
    ``summary.json``. The reports (trades, statistics, returns, pnl.png, report.html,
    run.log) are built afterwards from these files alone (``spine.reports.write_reports``),
    so every route gets the same reports and ``spine report RUN_DIR`` can rebuild them.
    ``outputs="statistics"`` (a sweep trial) leaves out the resolved ``config/``. Account
    ids in ``config/`` are masked unless ``show_account``.
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
        write_resolved_config(folder / "config", config, show_account=show_account)
    write_json(folder / "summary.json", dict(summary))
    return rows


ACCOUNT_KEYS = ("paper_account", "live_account")  # under trading.execution


def mask_account(code: str) -> str:
    """An account id with all but its first two and last two characters starred (``DU1234567`` → ``DU*****67``)."""
    code = str(code)
    if len(code) <= 4:
        return "*" * len(code)
    return code[:2] + "*" * (len(code) - 4) + code[-2:]


def write_resolved_config(folder: Path, config: SpineConfig, *, show_account: bool = False) -> None:
    """The resolved config files; account ids masked (``mask_account``) unless ``show_account``."""
    folder.mkdir()
    header = f"# {RESEARCH_LABEL}\n" if config.research_only else ""
    header += f"# resolved from {config.folder}\n"
    if not show_account:
        header += "# account ids masked (spine paper / rehearse --show-account writes them)\n"
    for filename, body in config.to_files().items():
        if not show_account:
            body = _masked(body)
        (folder / filename).write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def _masked(body: Any) -> Any:
    """A copy of a config file's body with every account id (``ACCOUNT_KEYS``, at any depth) masked."""
    if isinstance(body, dict):
        return {
            key: mask_account(value) if key in ACCOUNT_KEYS and isinstance(value, str) and value else _masked(value)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [_masked(item) for item in body]
    return body


LIVE_FILES: dict[str, Sequence[str]] = {
    "orders.csv": ORDER_COLUMNS,
    "fills.csv": FILL_COLUMNS,
    "equity.csv": EQUITY_COLUMNS,
    "events.csv": EVENT_COLUMNS,
}
UNFINISHED = "the session ended without finishing its run folder (killed or crashed): reports from the rows recorded"


class LiveRunFolder:
    """A session's run folder, written as the session goes.

    ``open`` makes the folder (named as every run folder, ``latest`` pointing at it) with each
    CSV's research label and header and a minimal ``summary.json``; ``row`` appends one
    recorded row and flushes it, with any events recorded since the last row; ``finish``
    replaces the CSVs and ``summary.json`` in one step each with the complete run (the same
    bytes an all-at-once folder holds) and writes the resolved ``config/``. A session that
    fails before recording anything leaves no folder (``abandon``); one that fails later, or
    is killed, leaves the rows it recorded.
    """

    def __init__(self, out_dir: Path, name: str, events: EventLog, *, created_out_dir: bool, previous: str | None):
        self.out_dir, self.name, self.path = out_dir, name, out_dir / name
        self._events = events
        self._events_written = 0
        self._created_out_dir = created_out_dir
        self._previous = previous  # where ``latest`` pointed before this session
        self._streams: dict[str, tuple[io.TextIOWrapper, Any]] = {}
        self._rows = 0

    @classmethod
    def open(
        cls, out_dir: Path, kind: str, config: SpineConfig, events: EventLog, *, tickers: Sequence[str] = ()
    ) -> LiveRunFolder:
        created = _prepare_out_dir(out_dir)
        name = run_folder_name(out_dir, kind=kind)
        link = out_dir / LATEST_LINK
        previous = os.readlink(link) if link.is_symlink() else None
        try:
            (out_dir / name).mkdir()
        except OSError as exc:
            if created:
                with contextlib.suppress(OSError):
                    out_dir.rmdir()
            raise InputError(
                f"--out {out_dir}: cannot write into the folder ({exc.strerror or exc}); expected a writable folder"
            ) from None
        folder = cls(out_dir, name, events, created_out_dir=created, previous=previous)
        research = config.research_only
        for filename, columns in LIVE_FILES.items():
            stream = (folder.path / filename).open("w", encoding="utf-8", newline="")
            stream.write(csv_text((), columns, research_only=research))
            stream.flush()
            folder._streams[filename] = (stream, csv.writer(stream, lineterminator="\n"))
        write_json(
            folder.path / "summary.json",
            {
                "route": kind,
                "run_name": name,
                "research_only": research,
                "tickers": list(tickers),
                "stopped_by": UNFINISHED,
            },
        )
        point_latest(out_dir, name)
        return folder

    def row(self, filename: str, row: Mapping[str, Any]) -> None:
        """Append one recorded row to ``filename`` (and the events recorded since the last row), flushed."""
        if filename != "events.csv":
            self._catch_up_events()
            self._rows += 1
        self._write(filename, row)

    def _write(self, filename: str, row: Mapping[str, Any]) -> None:
        if filename not in self._streams:
            return
        stream, writer = self._streams[filename]
        writer.writerow([format_cell(row.get(column)) for column in LIVE_FILES[filename]])
        stream.flush()

    def _catch_up_events(self) -> None:
        recorded = self._events.events
        for event in recorded[self._events_written :]:
            self._write("events.csv", {"datetime": event.datetime, "event": event.event, "detail": event.detail})
        self._events_written = len(recorded)

    def _close(self) -> None:
        streams, self._streams = self._streams, {}
        for stream, _ in streams.values():
            with contextlib.suppress(OSError):
                stream.close()

    def finish(
        self,
        config: SpineConfig,
        strategy: bt.Strategy,
        events: EventLog,
        summary: Mapping[str, Any],
        *,
        show_account: bool = False,
    ) -> list[dict[str, Any]]:
        """Replace the appended files with the complete run and write ``config/`` (account ids masked
        unless ``show_account``) and ``summary.json``."""
        self._close()
        recorder = strategy.analyzers.recorder
        rows = event_rows(events)
        research = config.research_only
        complete = {
            "orders.csv": recorder.orders,
            "fills.csv": recorder.fills,
            "equity.csv": recorder.equity,
            "events.csv": rows,
        }
        for filename, records in complete.items():
            write_text_atomically(self.path / filename, csv_text(records, LIVE_FILES[filename], research_only=research))
        config_dir = self.path / "config"
        if config_dir.exists():
            shutil.rmtree(config_dir)
        write_resolved_config(config_dir, config, show_account=show_account)
        write_text_atomically(
            self.path / "summary.json", json.dumps(dict(summary), indent=2, sort_keys=True, default=str) + "\n"
        )
        return rows

    def abandon(self) -> None:
        """After a failure: keep the folder when it recorded a row (``spine report`` reads it), else remove it."""
        if self._rows:
            self._catch_up_events()
            self._close()
            return
        self._close()
        shutil.rmtree(self.path, ignore_errors=True)
        link = self.out_dir / LATEST_LINK
        if link.is_symlink() and os.readlink(link) == self.name:
            if self._previous is not None:
                point_latest(self.out_dir, self._previous)
            else:
                with contextlib.suppress(OSError):
                    link.unlink()
        if self._created_out_dir:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()
