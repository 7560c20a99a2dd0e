"""The session's reconcile halt, as ``spine resume`` sees it: read and cleared from the journal file.

Why a separate record from the kill switch: a kill cancels every order, while a
reconcile halt (unknown order, unexplained position, fill without our orderRef) only
stops orders that add risk and keeps every stop working. The running session notices
the row is gone within its kill poll interval and goes back to ACTIVE.

What a resume accepts (the positions IB holds beyond what the journal's fills explain, the
foreign executions and working foreign orders) is recorded by the session at every reconcile
while it is halted (``record_resume``), so ``spine resume`` with no session running accepts the
same and the next session does not halt again on them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from spine.ib.journal import JOURNAL_FILE, Journal

HALT_META = "halt_reason"
HALT_AT_META = "halt_at"
RESUME_META = "halt_resume"  # what `spine resume` accepts: {"baseline": {...}, "exec": [...], "perm": [...]}
_EPS = 1e-9


def resume_baseline(
    held: Mapping[str, float], explained: Mapping[str, float], old: Mapping[str, float]
) -> dict[str, float]:
    """The journal's position baseline once the operator accepts what IB holds.

    ``held``: Spine's part of IB's positions; ``explained``: the journal's positions (its
    fills plus ``old``, the baseline so far). The answer is IB's position less the fills, per
    ticker, so it does not change when a fill is journaled and IB's position moves with it.
    """
    tickers = set(held) | set(explained)
    baseline = {t: held.get(t, 0.0) - explained.get(t, 0.0) + old.get(t, 0.0) for t in tickers}
    return {t: v for t, v in baseline.items() if abs(v) > _EPS or t in old}


def record_resume(
    journal: Journal,
    *,
    held: Mapping[str, float],
    explained: Mapping[str, float],
    exec_ids: Iterable[str],
    perm_ids: Iterable[int | str],
) -> None:
    """Record, while halted, what ``spine resume`` accepts (read back by ``clear_session_halt``)."""
    body = {
        "baseline": resume_baseline(held, explained, journal.baseline()),
        "exec": sorted(str(e) for e in exec_ids),
        "perm": sorted(str(p) for p in perm_ids),
    }
    journal.set_meta(RESUME_META, json.dumps(body, sort_keys=True))


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
    """Clear the halt (the operator's ``spine resume``); True when there was one.

    What the halted session recorded as accepted by a resume (``record_resume``) is written first:
    the foreign executions and orders are acknowledged and the position baseline set, so the
    halt does not come back for the same positions when no session runs now. A running session
    then accepts the same from IB's current view (the baseline comes out equal).
    """
    path = Path(state_dir) / JOURNAL_FILE
    if not path.is_file():
        return False
    journal = Journal(path)
    try:
        had = journal.meta(HALT_META) is not None
        recorded = journal.meta(RESUME_META)
        if had and recorded:
            body = json.loads(recorded)
            journal.acknowledge("exec", {str(e) for e in body.get("exec", [])})
            journal.acknowledge("perm", {str(p) for p in body.get("perm", [])})
            journal.set_baseline({str(t): float(v) for t, v in body.get("baseline", {}).items()})
        journal.delete_meta(RESUME_META)
        journal.delete_meta(HALT_META)
        return had
    finally:
        journal.close()
