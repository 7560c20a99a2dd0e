"""The run folders under ``--runs``: their list for the page, and the one file of one run a request may read.

A run folder is a folder holding ``summary.json`` or ``report.html``; the list is newest
first (by the folder's modification time) and names the route and the end the summary
records. ``run_file`` resolves a requested path and refuses anything outside the runs
folder (``..``, absolute paths, links leading out).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_RUNS = 200


def list_runs(root: Path) -> list[dict[str, Any]]:
    if not root.is_dir():
        return []
    found = []
    for summary in [*root.glob("*/summary.json"), *root.glob("*/report.html"), *root.glob("*/*/summary.json")]:
        found.append(summary.parent)
    out = []
    for folder in sorted(set(found), key=lambda p: p.stat().st_mtime, reverse=True)[:MAX_RUNS]:
        info: dict[str, Any] = {}
        try:
            info = json.loads((folder / "summary.json").read_text())
        except (OSError, ValueError):
            pass
        out.append({
            "name": folder.relative_to(root).as_posix(),
            "route": str(info.get("route", "")) if isinstance(info, dict) else "",
            "report": (folder / "report.html").is_file(),
        })  # fmt: skip
    return out


def run_file(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names under ``root``, or None when it is not a file inside it."""
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target
