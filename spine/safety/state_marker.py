"""The state folder's marker file: the second, independent copy of the latch.

``spine_state.marker.json`` sits beside the state database and holds the schema version,
the number of durable writes (``seq``), a copy of the latch rows (the breaker's and the
kill switch's, exactly as stored) and a SHA-256 over all of it. The state store writes it
*before* it commits a durable write, so the marker is never behind the database it
describes: a write cut short by a kill, or committed into a ``-wal`` file that is then
lost, leaves a marker one write ahead that still holds the latch. The store then restores
the latch from the marker instead of opening unlatched.

A marker that does not parse, whose checksum does not match, or whose latch copy
disagrees with the database is refused: one flipped bit in either place can refuse a run,
never open a latch. A marker written by an older Spine (no latch copy) is read as such,
and upgraded from the database when the two agree on ``seq``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER_FILE = "spine_state.marker.json"

LatchRows = dict[str, list[Any]]  # {"breaker": [tripped, tripped_at, reason, baseline_from], "kill_switch": [...]}


class MarkerProblem(ValueError):
    """The marker cannot be trusted; the text says why."""


@dataclass(frozen=True, slots=True)
class Marker:
    schema: int
    seq: int
    latch: LatchRows | None  # None: written by an older Spine, without the latch copy


def canonical(latch: LatchRows) -> str:
    """One text per latch state: types included (``1`` and ``1.0`` differ), keys sorted."""
    return json.dumps(latch, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_marker(path: Path) -> Marker:
    """The marker at ``path``; ``MarkerProblem`` when it is unreadable, damaged or of another format."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MarkerProblem(f"the marker file is unreadable ({exc.__class__.__name__})") from None
    if not isinstance(body, dict):
        raise MarkerProblem("the marker file is not a JSON object")
    seq, schema = body.get("seq"), body.get("schema")
    if not isinstance(schema, int) or not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise MarkerProblem(f"the marker file is from an unknown schema ({schema!r}, seq {seq!r})")
    if "latch" not in body:
        return Marker(schema, seq, None)
    stated = body.pop("sha256", None)
    if stated != _digest(body):
        raise MarkerProblem("the marker file's checksum does not match its content (damaged or edited)")
    latch = body["latch"]
    if not _well_formed(latch):
        raise MarkerProblem(f"the marker file's latch copy is not what Spine writes ({latch!r:.200})")
    return Marker(schema, seq, latch)


def _well_formed(latch: object) -> bool:
    if not isinstance(latch, dict) or set(latch) != {"breaker", "kill_switch"}:
        return False
    return all(isinstance(row, list) and len(row) == 4 and row[0] in (0, 1) for row in latch.values())


def write_marker(path: Path, *, schema: int, seq: int, latch: LatchRows, database: str) -> None:
    """Replace the marker in one step and make it durable (file and folder synced) before returning."""
    body: dict[str, Any] = {"schema": schema, "seq": seq, "database": database, "latch": latch}
    body["sha256"] = _digest(body)
    temporary = path.with_name(f".{path.name}.tmp")
    data = (json.dumps(body, sort_keys=True) + "\n").encode()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the umask decides the mode
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
