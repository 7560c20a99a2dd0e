"""One session per state folder: an OS file lock held for the session's life.

``StateLock.hold(state_dir, command)`` takes ``fcntl.flock`` (exclusive, non-blocking) on
``session.lock`` in the state folder and writes who holds it (pid, start time, command) as
JSON. A second session on the same folder is refused at once (``StateFolderInUse``, an
``InputError``: exit code 2) with the running session's pid and start time. The OS drops
the lock when its process ends, however it ends (kill -9 included), so a lock left by a
killed session is taken over by the next one; the previous holder's record is kept on the
lock object (``previous``) so the route can say whose lock it took over. Nothing guesses
at pid liveness: the OS lock is the only answer.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spine.core.errors import InputError

LOCK_FILE = "session.lock"


class StateFolderInUse(InputError):
    """Another running session holds the state folder's lock."""


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    started: str
    command: str

    def describe(self) -> str:
        who = f"pid {self.pid}" if self.pid is not None else "an unknown process"
        return f"{self.command or 'a session'} ({who}, started {self.started or 'at an unknown time'})"


def _read_holder(text: str) -> LockHolder | None:
    if not text.strip():
        return None
    try:
        data: Any = json.loads(text)
    except ValueError:
        return LockHolder(None, "", "")
    if not isinstance(data, dict):
        return LockHolder(None, "", "")
    pid = data.get("pid")
    return LockHolder(pid if isinstance(pid, int) else None, str(data.get("started", "")), str(data.get("command", "")))


class StateLock:
    """The held lock of one state folder (see ``hold``)."""

    def __init__(self, path: Path, fd: int, holder: LockHolder, previous: LockHolder | None) -> None:
        self.path = path
        self._fd: int | None = fd
        self.holder = holder
        self.previous = previous  # the record of a session that ended without releasing (killed), if any

    @classmethod
    def acquire(cls, state_dir: Path, command: str) -> StateLock:
        """Take the folder's lock or raise ``StateFolderInUse`` naming the session that holds it."""
        if state_dir.exists() and not state_dir.is_dir():
            raise InputError(f"--state {state_dir}: is a file, not a folder; expected a state folder")
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            path = state_dir / LOCK_FILE
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask decides the mode
        except OSError as exc:
            raise InputError(
                f"--state {state_dir}: cannot create the state folder's lock file ({exc.strerror})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(_read_fd(fd))
            os.close(fd)
            running = holder.describe() if holder is not None else "another session (starting)"
            raise StateFolderInUse(
                f"--state {state_dir}: the state folder is in use by {running}; "
                "one session per state folder: stop that session or pass another --state"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise InputError(f"--state {state_dir}: cannot lock {path} ({exc.strerror})") from None
        previous = _read_holder(_read_fd(fd))
        holder = LockHolder(os.getpid(), datetime.now(UTC).isoformat(timespec="seconds"), command)
        record = json.dumps({"pid": holder.pid, "started": holder.started, "command": holder.command}) + "\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode(), 0)
        os.fsync(fd)
        return cls(path, fd, holder, previous)

    def release(self) -> None:
        """Clear the record and drop the lock (the file stays: removing it would race a waiting session)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    @staticmethod
    @contextmanager
    def hold(state_dir: Path, command: str) -> Iterator[StateLock]:
        lock = StateLock.acquire(state_dir, command)
        try:
            yield lock
        finally:
            lock.release()


def _read_fd(fd: int) -> str:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0).decode("utf-8", "replace") if size else ""
