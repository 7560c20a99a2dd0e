"""Files written in one step: a reader sees the old content or the new, never half; modes follow the umask."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_text_atomically(path: Path, text: str) -> Path:
    """Replace ``path`` with ``text`` in one step: readers see the old file or the new one, never half.

    The file's mode follows the user's umask, as any file the user creates (0644 under
    ``umask 022``, 0600 under ``umask 077``): the scratch file is created with 0666 and the
    umask applied by the system, never an owner-only ``mkstemp`` file widened by hand.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = _scratch_file(path)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _scratch_file(path: Path) -> tuple[int, Path]:
    """A new file beside ``path`` (hidden, unique), opened for writing with the umask's mode."""
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no free scratch name beside {path}")


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
