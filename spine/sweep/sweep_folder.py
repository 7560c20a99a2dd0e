"""The sweep folder: a hidden working folder with a journal, renamed into place when done.

While a sweep runs, every finished trial is appended to ``trials.jsonl`` in a hidden
``.sweep-NAME.partial`` folder beside the final one, one JSON line each, flushed to disk
before the next is read. A sweep that completes writes its results there and renames
the folder to ``sweep-NAME`` in one step, so ``--out`` never holds a half-written sweep
folder under its final name. A driver that is killed leaves the hidden folder behind;
``--resume`` reads its journal, reruns only the missing (and crashed) trials and then
finishes the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from spine.core.errors import InputError
from spine.runs.write import unique_run_name

JOURNAL_FILE = "trials.jsonl"
META_FILE = "sweep-meta.json"
DONE_STATUSES = frozenset({"ok", "error"})


@dataclass
class SweepFolder:
    """Where a sweep writes: ``work`` now, ``final`` once finished."""

    work: Path
    final: Path
    created: bool
    out_created: bool = False  # the --out folder itself was made for this sweep

    @property
    def journal(self) -> Path:
        return self.work / JOURNAL_FILE

    def append(self, task: Mapping[str, Any], outcome: Mapping[str, Any]) -> None:
        """Record one finished trial durably (a killed driver loses at most the trials in flight)."""
        line = json.dumps({"task": task, "outcome": outcome}, sort_keys=True, default=str)
        with self.journal.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def records(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every (task, outcome) in the journal, oldest first."""
        pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        if not self.journal.is_file():
            return pairs
        for line in self.journal.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the driver was killed while writing this line
            pairs.append((record["task"], record["outcome"]))
        return pairs

    def done(self) -> dict[str, dict[str, Any]]:
        """Finished trials by key; crashed ones are left out so that a resume reruns them."""
        return {outcome["key"]: outcome for _, outcome in self.records() if outcome.get("status") in DONE_STATUSES}

    def finish(self) -> Path:
        """Rename the working folder into place (a resumed finished folder is already there)."""
        if self.work != self.final:
            os.replace(self.work, self.final)
        return self.final

    def discard(self) -> None:
        """Remove a folder this run created (bad input found before any result was kept), and --out if made for it."""
        if self.created and self.work.exists():
            shutil.rmtree(self.work, ignore_errors=True)
        if self.out_created:
            with contextlib.suppress(OSError):
                self.work.parent.rmdir()  # only when empty


def new_sweep_folder(out_dir: Path, label: str | None = None) -> SweepFolder:
    """A new working folder ``.sweep-YYYYmmdd-HHMMSS[-<label>].partial`` (``label``: ``--name``)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: is a file; expected a folder to receive the sweep folder")
    out_created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"--out {out_dir}: cannot create the folder ({exc.strerror or exc}); expected a writable folder"
        ) from None
    stem = f"sweep-{datetime.now():%Y%m%d-%H%M%S}" + (f"-{label}" if label else "")
    name = unique_run_name(out_dir, stem)
    while (out_dir / f".{name}.partial").exists():
        name = unique_run_name(out_dir, f"{name}-x")
    work = out_dir / f".{name}.partial"
    try:
        work.mkdir()
    except OSError as exc:
        raise InputError(
            f"--out {out_dir}: cannot write into the folder ({exc.strerror or exc}); expected a writable folder"
        ) from None
    (work / META_FILE).write_text(json.dumps({"name": name}) + "\n", encoding="utf-8")
    return SweepFolder(work=work, final=out_dir / name, created=True, out_created=out_created)


def resume_sweep_folder(path: Path) -> SweepFolder:
    """The sweep to resume: a sweep folder (finished or not), or an ``--out`` folder holding one unfinished sweep."""
    if not path.is_dir():
        raise InputError(
            f"--resume {path}: folder not found; expected a sweep folder (or the --out folder of an interrupted sweep)"
        )
    if not (path / META_FILE).is_file():
        partials = sorted(p for p in path.glob(".sweep-*.partial") if (p / META_FILE).is_file())
        if not partials:
            raise InputError(
                f"--resume {path}: not a sweep folder and holds no unfinished sweep; expected a folder with {META_FILE}"
            )
        path = max(partials, key=lambda p: p.stat().st_mtime)
    try:
        name = json.loads((path / META_FILE).read_text(encoding="utf-8"))["name"]
    except (OSError, ValueError, KeyError):
        raise InputError(f"--resume {path}: {META_FILE} is unreadable; expected the file a sweep writes") from None
    final = path.parent / name
    if path.name.endswith(".partial") and final.exists():
        raise InputError(f"--resume {path}: the finished folder {final} already exists; resume that one instead")
    return SweepFolder(work=path, final=final if path.name.endswith(".partial") else path, created=False)
