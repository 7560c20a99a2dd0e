"""``spine check``, ``spine kill`` and ``spine resume``: typer command functions.

The lead registers them in ``spine.cli.app``; each prints plain text to stdout.
``check`` exits 0 only when the requested route is allowed. ``kill`` sets the manual kill
switch in the state database; ``resume`` clears the kill switch and the breaker latch
after the user types RESUME; ``status`` shows both and the NAV history.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from spine.core.errors import InputError
from spine.safety.state_store import MARKER_FILE, STATE_FILE, StateStore

CONFIRM_WORD = "RESUME"
ACCEPTED_CONFIRMATIONS = frozenset({"resume", "yes", "y"})  # typed, never defaulted: empty input clears nothing


def check_command(
    config: Annotated[
        Path | None, typer.Option("--config", help="config folder (default: the shipped config/)")
    ] = None,
    route: Annotated[
        str | None, typer.Option("--route", help="paper or live (default: from broker.default_route)")
    ] = None,
    confirm_live: Annotated[bool, typer.Option("--confirm-live", help="count the live confirmation as given")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="check the config with one setting changed, as a run with the same --set would use it (repeatable)",
        ),
    ] = None,
) -> None:
    """Print the safety envelope as it resolves; exit 0 only when the route asked for is allowed."""
    from spine.config import (
        load_config,  # pydantic: loaded by the commands that read a config, not by --help
    )
    from spine.safety.envelope import format_envelope, resolve_envelope

    if route is not None and route not in ("paper", "live"):
        raise InputError(f"--route {route!r} is not a route; use paper or live")
    # check inspects the config; only the command that trades live enforces --confirm-live.
    from spine.config.overrides import parse_assignments

    cfg = load_config(config, overrides=parse_assignments(set_ or []))
    envelope = resolve_envelope(cfg, route, confirm_live=True if confirm_live else None)  # type: ignore[arg-type]
    for line in format_envelope(envelope):
        typer.echo(line)
    if not envelope.allowed:
        raise typer.Exit(1)


def kill_command(
    reason: Annotated[str, typer.Option("--reason", help="why trading is being stopped")],
    state: Annotated[Path, typer.Option("--state", help="the session's state folder")] = Path("state"),
    create: Annotated[bool, typer.Option("--create", help="create the state database if the folder has none")] = False,
) -> None:
    """Set the manual kill switch (Ω2) in the state database: trading halts until `spine resume`.

    A folder without a state database is an error unless ``--create`` is given: a typo
    must never report ACTIVE while the real session trades on. A second kill keeps the
    first reason and adds its own to the history.
    """
    if not reason.strip():
        raise InputError("--reason is empty; say why trading is being stopped")
    now = datetime.now(UTC)
    _state_folder(state)
    if not create and not (state / STATE_FILE).exists() and not (state / MARKER_FILE).exists():
        raise InputError(
            f"--state {state}: holds no state database ({STATE_FILE}); {_state_folders_hint()} Pass --create to start a new one there"
        )
    with StateStore.open_folder(state, create=create) as store:
        store.set_kill_switch(now, "manual", reason.strip())
        kill = store.kill_switch()
        history = store.kill_history()
    typer.echo(f"kill switch: ACTIVE ({kill.cause}) since {_when(kill.at)}: {kill.reason}")
    if len(history) > 1:
        for trigger in history:
            typer.echo(f"  {_when(trigger.at)} {trigger.cause}: {trigger.detail}")
    typer.echo(f"state: {(state / STATE_FILE).resolve()}")


def resume_command(
    state: Annotated[Path, typer.Option("--state", help="the session's state folder")] = Path("state"),
    yes: Annotated[bool, typer.Option("--yes", help="skip the typed confirmation (scripts)")] = False,
    reset_state: Annotated[
        bool, typer.Option("--reset-state", help="move a damaged or lost state database aside and start a new one")
    ] = False,
) -> None:
    """Clear the kill switch and the circuit-breaker latch after a typed confirmation.

    Resuming also starts a new NAV baseline, so the next run does not measure its first
    bar against the NAV of before the halt.
    """
    _state_folder(state)
    if reset_state:
        _reset_state(state, yes)
        return
    if not (state / STATE_FILE).is_file() and not (state / MARKER_FILE).exists():
        typer.echo(f"nothing to resume (no state database in {state})")
        return
    # Imported here so `spine check` and `spine kill` never load the IB package.
    from spine.ib.halt import clear_session_halt, session_halt

    with StateStore.open_folder(state, create=False) as store:
        kill = store.kill_switch()
        latch = store.breaker_latch()
        halt = session_halt(state)  # an IB paper session's reconcile halt (spine/ib/halt.py)
        if not kill.active and not latch.tripped and halt is None:
            typer.echo("nothing to resume (kill switch and circuit breaker are both clear)")
            return
        if kill.active:
            typer.echo(f"kill switch: ACTIVE ({kill.cause}) since {_when(kill.at)}: {kill.reason}")
        if latch.tripped:
            typer.echo(f"circuit breaker: PAUSED since {_when(latch.tripped_at)}: {latch.reason}")
        if halt is not None:
            typer.echo(f"IB session: HALTED since {halt[1] or 'an unknown time'}: {halt[0]}")
        _confirm(yes, "clear and allow trading again")
        now = datetime.now(UTC)
        if kill.active:
            store.clear_kill_switch(now, "resume", "spine resume")
            typer.echo("kill switch: cleared")
        if latch.tripped:
            store.reset_breaker(now, "resume", "spine resume")
            typer.echo("circuit breaker: cleared")
        else:
            store.new_baseline(now, "spine resume")
        typer.echo("NAV history: new baseline (earlier NAVs no longer count for the 1-day drawdown)")
        if halt is not None and clear_session_halt(state):
            typer.echo("IB session halt: cleared")


def status_command(
    state: Annotated[Path, typer.Option("--state", help="the session's state folder")] = Path("state"),
) -> None:
    """Print the breaker latch, the kill switch, their causes and times, and the NAV history's span."""
    _state_folder(state)
    if not (state / STATE_FILE).exists() and not (state / MARKER_FILE).exists():
        raise InputError(f"--state {state}: holds no state database ({STATE_FILE}); {_state_folders_hint()}")
    with StateStore.open_folder(state, create=False) as store:
        latch, kill, span = store.breaker_latch(), store.kill_switch(), store.nav_span()
        history = store.kill_history() if kill.active else []
        halt = _journal_halt(state)  # read before anything is printed: a damaged journal is one line
        typer.echo(f"state: {(state / STATE_FILE).resolve()}")
        if latch.tripped:
            typer.echo(f"circuit breaker: PAUSED since {_when(latch.tripped_at)}: {latch.reason}")
        else:
            typer.echo("circuit breaker: clear")
        if kill.active:
            typer.echo(f"kill switch: ACTIVE ({kill.cause}) since {_when(kill.at)}: {kill.reason}")
            for trigger in history:
                typer.echo(f"  {_when(trigger.at)} {trigger.cause}: {trigger.detail}")
        else:
            typer.echo("kill switch: clear")
        if halt is not None:
            typer.echo(f"IB session: HALTED since {halt[1] or 'an unknown time'}: {halt[0]} (spine resume clears it)")
        if span.count:
            typer.echo(f"NAV history: {span.count} NAVs from {_when(span.first)} to {_when(span.last)}")
        else:
            typer.echo("NAV history: empty (since the last baseline)")


def _state_folder(state: Path) -> None:
    """``--state`` naming a file is refused as one (never taken for a folder without a database)."""
    if state.exists() and not state.is_dir():
        raise InputError(
            f"--state {state}: is a file, not a folder; expected a state folder (one holding {STATE_FILE})"
        )


def _journal_halt(state: Path) -> tuple[str, str] | None:
    """(reason, since) of the IB session's reconcile halt in the journal, read-only (nothing is created or written)."""
    from spine.ib.halt import HALT_AT_META, HALT_META
    from spine.ib.journal import JOURNAL_FILE

    path = state / JOURNAL_FILE
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = dict(
                conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", (HALT_META, HALT_AT_META)).fetchall()
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"--state {state}: {path} is not a readable journal ({exc})") from None
    reason = rows.get(HALT_META)
    return None if reason is None else (str(reason), str(rows.get(HALT_AT_META) or ""))


def _confirm(yes: bool, what: str) -> None:
    if yes:
        return
    typed = typer.prompt(f"Type {CONFIRM_WORD} (or yes) to {what}", default="", show_default=False)
    if typed.strip().lower() not in ACCEPTED_CONFIRMATIONS:
        typer.echo("nothing cleared")
        raise typer.Exit(1)


def _reset_state(state: Path, yes: bool) -> None:
    """Move every state file aside (never delete: it is evidence) and create a new, clear state."""
    present = [
        state / name
        for name in (STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm", MARKER_FILE)
        if (state / name).exists()
    ]
    if not present:
        typer.echo(f"nothing to reset (no state files in {state})")
        return
    typer.echo(f"will move aside: {', '.join(str(p) for p in present)}")
    _confirm(yes, "move them aside and start with a clear state (no latch, no kill switch)")
    suffix = f".broken-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    for path in present:
        path.rename(path.with_name(path.name + suffix))
        typer.echo(f"moved: {path} -> {path.name + suffix}")
    with StateStore.open_folder(state, create=True) as store:
        store.record_trigger(
            datetime.now(UTC),
            "kill_switch",
            "reset",
            f"spine resume --reset-state (old files kept with suffix {suffix})",
        )
    typer.echo(f"state: new database {(state / STATE_FILE).resolve()}")


def _state_folders_hint(root: Path | None = None, limit: int = 10) -> str:
    """The state folders visible under the current directory, to point a mistyped --state at."""
    base = root or Path.cwd()
    found: list[str] = []
    for depth in ("*", "*/*", "*/*/*"):
        for db in sorted(base.glob(f"{depth}/{STATE_FILE}")):
            found.append(str(db.parent.relative_to(base)))
            if len(found) >= limit:
                break
    if not found:
        return f"no state folder found under {base}."
    return f"state folders under {base}: {', '.join(found)}."


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "an unknown time"
