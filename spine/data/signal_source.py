"""Where ``SignalStrategy`` gets its signals: fixed at start, or a file that grows while it runs.

A backtest knows every signal up front (``FixedSignals``). A paper session does not: a
research process appends rows to the signal file during the day, and the session must
pick them up (``SignalFile``). Both answer ``poll()`` with the records that are new
since the last call, so the strategy has one code path.

``SignalFile`` validates the whole file at start (a bad file stops the session before
it connects, exit code 2). Afterwards it reads only complete appended lines; each
appended line is validated on its own, with the same rules and the same editor line
numbers as the first read. A bad appended row becomes a ``bad_signal_row`` event naming
the file and row, and every good row is kept.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from spine.core.errors import DataError
from spine.data.signals import SignalRecord, load_signals

BadRow = Callable[[str], None]


class _BadRow(Exception):
    """One appended row that does not validate; its message names the file and row."""


class SignalSource(Protocol):
    """Anything that can say which signals arrived since it was last asked."""

    def poll(self) -> list[SignalRecord]: ...


class FixedSignals:
    """Signals known at start: the first ``poll`` returns them all, later ones nothing."""

    def __init__(self, records: Iterable[SignalRecord]) -> None:
        self._records: list[SignalRecord] | None = list(records)

    def poll(self) -> list[SignalRecord]:
        records, self._records = self._records or [], None
        return records


class SignalFile:
    """A signal CSV read at start, then tailed: appended complete lines become new signals."""

    def __init__(
        self,
        path: str | Path,
        *,
        tickers: Sequence[str] | None = None,
        on_bad_row: BadRow | None = None,
    ) -> None:
        self.path = Path(path)
        self.tickers = tickers
        self.on_bad_row = on_bad_row
        self.bad_rows: list[str] = []
        self._pending: list[SignalRecord] = []  # appended rows read but not yet handed to the strategy
        try:
            raw = self.path.read_bytes()
        except OSError:
            raw = b""  # load_signals below names the problem
        complete_bytes = raw[: raw.rfind(b"\n") + 1]
        complete = complete_bytes.decode("utf-8-sig", errors="replace")
        self._header_line = _header_line(complete.splitlines())
        rows = [
            line
            for line in complete.splitlines()[self._header_line or 0 :]
            if line.strip() and not line.lstrip().startswith("#")
        ]
        # A header with no rows yet is a session waiting for its first signal, not an error.
        waiting = self._header_line is not None and not rows
        self._initial: list[SignalRecord] | None = [] if waiting else load_signals(self.path, tickers=tickers)
        self._lines_read = complete.count("\n")
        self._offset = len(complete_bytes)

    @property
    def initial(self) -> list[SignalRecord]:
        """The signals read at start (without consuming them: the first ``poll`` still returns them)."""
        return list(self._initial or [])

    def poll(self) -> list[SignalRecord]:
        """The initial signals on the first call; afterwards the valid rows appended since the last call."""
        if self._initial is not None:
            records, self._initial = self._initial, None
            return records
        self.refresh()
        records, self._pending = sorted(self._pending, key=lambda r: (r.datetime, r.row)), []
        return records

    def refresh(self) -> None:
        """Read the rows appended since the last read now (a live session calls this between bars,
        so a bad row is reported within the second, not at the next bar)."""
        records = self._pending
        for line_number, line in self._read_appended():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                records.extend(self._parse_row(line_number, line))
            except _BadRow as exc:
                self._bad(str(exc))

    def _read_appended(self) -> list[tuple[int, str]]:
        try:
            with self.path.open("rb") as stream:
                stream.seek(self._offset)
                chunk = stream.read()
        except OSError as exc:
            self._bad(f"{self.path}: cannot read appended signals ({exc.strerror}); keeping the signals read so far")
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # a row still being written: wait for its newline
        complete = chunk[: end + 1]
        self._offset += len(complete)
        lines = complete.decode("utf-8", errors="replace").splitlines()
        first = self._lines_read + 1
        self._lines_read += len(lines)
        return [(first + k, line) for k, line in enumerate(lines)]

    def _parse_row(self, line_number: int, line: str) -> list[SignalRecord]:
        """Validate one appended line with ``load_signals``: a scratch file keeps its line number."""
        header = self._header()
        if header is None:
            raise _BadRow(
                f"{self.path}, row {line_number}: the file has no header line; expected datetime, ticker, weight, direction, source_type"
            )
        header_line, header_text = header
        padding = ["" for _ in range(line_number)]
        padding[header_line - 1] = header_text
        padding[line_number - 1] = line
        handle, scratch = tempfile.mkstemp(prefix="spine-signal-row-", suffix=".csv")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write("\n".join(padding) + "\n")
            try:
                return load_signals(scratch, tickers=self.tickers)
            except DataError as exc:
                raise _BadRow(_relocated(str(exc), scratch, self.path)) from None
        finally:
            Path(scratch).unlink(missing_ok=True)

    def _header(self) -> tuple[int, str] | None:
        if self._header_line is None:
            return None
        with self.path.open(encoding="utf-8-sig") as stream:
            for number, text in enumerate(stream, start=1):
                if number == self._header_line:
                    return number, text.rstrip("\r\n")
        return None

    def _bad(self, message: str) -> None:
        self.bad_rows.append(message)
        if self.on_bad_row is not None:
            self.on_bad_row(message)


def _relocated(message: str, scratch: str, path: Path) -> str:
    """The scratch file's error message, naming the real file."""
    return message.replace(scratch, str(path), 1)


def _header_line(lines: list[str]) -> int | None:
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    return None


def signal_source(signals: object) -> SignalSource:
    """A ``SignalSource`` for whatever ``SignalStrategy`` was given (source, path, mapping or records)."""
    if signals is None:
        return FixedSignals(())
    if hasattr(signals, "poll"):
        return signals  # type: ignore[return-value]
    if isinstance(signals, (str, Path)):
        return FixedSignals(load_signals(signals))
    if isinstance(signals, Mapping):
        return FixedSignals(record for records in signals.values() for record in records)
    return FixedSignals(signals)  # type: ignore[arg-type]
