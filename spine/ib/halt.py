"""The session's reconcile halt, as ``spine resume`` sees it: read and cleared from the journal file.

Why a separate record from the kill switch: a kill cancels every order, while a
reconcile halt (unknown order, unexplained position, fill without our orderRef) only
stops orders that add risk and keeps every stop working. The running session notices
the row is gone within its kill poll interval and goes back to ACTIVE.
"""

from __future__ import annotations

from pathlib import Path

from spine.ib.journal import JOURNAL_FILE, Journal

HALT_META = "halt_reason"
HALT_AT_META = "halt_at"


def session_halt(state_dir: Path | str) -> tuple[str, str] | None:
    """(reason, since) of the session's halt in ``state_dir``, or None when not halted."""
    path = Path(state_dir) / JOURNAL_FILE
    if not path.is_file():
        return None
    journal = Journal(path)
    try:
        reason = journal.meta(HALT_META)
        return None if reason is None else (reason, journal.meta(HALT_AT_META) or "")
    finally:
        journal.close()


def clear_session_halt(state_dir: Path | str) -> bool:
    """Clear the halt (the operator's ``spine resume``); True when there was one."""
    path = Path(state_dir) / JOURNAL_FILE
    if not path.is_file():
        return False
    journal = Journal(path)
    try:
        had = journal.meta(HALT_META) is not None
        journal.delete_meta(HALT_META)
        return had
    finally:
        journal.close()
