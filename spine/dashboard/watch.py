"""``Watch``: one poller for the whole dashboard, reading the state folders again whenever one of their files changes.

Every ``poll_secs`` it stats the state store, the journal (with their ``-wal`` files) and
the session lock of each folder; when anything moved, or ``refresh_secs`` passed (a
session that stopped pulsing turns stale without any write), it reads every folder
(``read_model.read_folder``, on a worker thread: SQLite never blocks the event loop) and
wakes the page streams with the new payload. Many open tabs cost one read, not one each.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from spine.dashboard.read_model import ViewSettings, read_folder
from spine.dashboard.readonly import files_signature
from spine.dashboard.runs import list_runs
from spine.ib.journal import JOURNAL_FILE
from spine.safety.state_lock import LOCK_FILE
from spine.safety.state_store import STATE_FILE


class Watch:
    """Holds the latest payload (JSON text) and a version number the streams wait on."""

    def __init__(self, state_dirs: tuple[Path, ...], runs_dir: Path | None, view: ViewSettings, *,
                 poll_secs: float = 0.1, refresh_secs: float = 1.0) -> None:  # fmt: skip
        self.state_dirs = state_dirs
        self.runs_dir = runs_dir
        self.view = view
        self.poll_secs = poll_secs
        self.refresh_secs = refresh_secs
        self.payload = "{}"
        self.version = 0
        self.reads = 0
        self._changed = asyncio.Condition()
        self._signature: tuple | None = None
        self._read_at = 0.0

    def files(self) -> list[Path]:
        return [d / name for d in self.state_dirs for name in (STATE_FILE, JOURNAL_FILE, LOCK_FILE)]

    def read(self) -> str:
        """Every folder's view and the run folders, as the JSON the page receives."""
        now = datetime.now(UTC)
        views = [read_folder(d, self.view, now) for d in self.state_dirs]
        runs = list_runs(self.runs_dir) if self.runs_dir is not None else []
        self.reads += 1
        return json.dumps({"folders": views, "runs": runs, "at": now.isoformat()}, default=str)

    async def refresh(self) -> bool:
        """Read again if a file changed or the refresh interval passed; True when the payload changed."""
        signature = files_signature(self.files())
        if signature == self._signature and time.monotonic() - self._read_at < self.refresh_secs:
            return False
        self._signature, self._read_at = signature, time.monotonic()
        payload = await run_in_threadpool(self.read)
        if _without_clock(payload) == _without_clock(self.payload):
            return False
        async with self._changed:
            self.payload = payload
            self.version += 1
            self._changed.notify_all()
        return True

    async def run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.poll_secs)

    async def next_payload(self, seen: int, timeout: float) -> tuple[int, str]:
        """The payload after version ``seen`` (waits up to ``timeout``; then the current one again)."""
        async with self._changed:
            if self.version == seen:
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: self.version != seen), timeout)
                except TimeoutError:
                    pass
            return self.version, self.payload


def _without_clock(payload: str) -> Any:
    """The payload without the times that change on every read (what counts as a change for the page)."""
    data = json.loads(payload)
    data.pop("at", None)
    for view in data.get("folders", []):
        view.pop("now", None)
        session = view.get("session", {})
        session.pop("heartbeat_age_secs", None)
    return data
