"""Writing a run folder: CSVs with the research label, the P&L figure, all or nothing.

Everything is written into a hidden temporary folder beside the target and renamed
into place at the end, so a failed or interrupted run leaves no half-written folder.
Numbers are written with ``repr`` (shortest exact form), so the same run gives the
same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from spine.labels import csv_comment

ORDER_COLUMNS = ("order_id", "parent_id", "datetime", "ticker", "side", "role", "order_type", "size", "price", "status", "tag", "reason", "intent", "source_type", "source_ticker", "signal_row")
FILL_COLUMNS = ("datetime", "order_id", "ticker", "side", "size", "price", "commission", "tag", "role")
EQUITY_COLUMNS = ("datetime", "value", "cash")
EVENT_COLUMNS = ("datetime", "event", "detail")
RETURN_COLUMNS = ("datetime", "return")


def format_cell(value: Any) -> str:
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


@contextmanager
def atomic_folder(out_dir: Path, name: str) -> Iterator[Path]:
    """Yield a temporary folder; on success rename it to ``out_dir/name``, on failure remove it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    temp = out_dir / f".{name}.partial-{os.getpid()}"
    if temp.exists():
        shutil.rmtree(temp)
    temp.mkdir()
    try:
        yield temp
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    os.replace(temp, out_dir / name)


def write_text_atomically(path: Path, text: str) -> Path:
    """Replace ``path`` with ``text`` in one step: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it owner-only; these files are for everyone
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")

