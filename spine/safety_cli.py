"""``spine check``, ``spine kill`` and ``spine resume``: typer command functions.

The lead registers them in ``spine.cli``; each prints plain text to stdout.
``check`` exits 0 only when the requested route is allowed. ``kill`` sets the manual kill
switch in the state database; ``resume`` clears the kill switch and the breaker latch
after the user types RESUME.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from spine.config import load_config
from spine.envelope import format_envelope, resolve_envelope
from spine.errors import InputError
from spine.state_store import STATE_FILE, StateStore

CONFIRM_WORD = "RESUME"
ACCEPTED_CONFIRMATIONS = frozenset({"resume", "yes", "y"})  # typed, never defaulted: empty input clears nothing


def check_command(
    config: Annotated[Path | None, typer.Option("--config", help="config folder (default: the shipped config/)")] = None,
    route: Annotated[str | None, typer.Option("--route", help="paper or live (default: from broker.default_route)")] = None,
    confirm_live: Annotated[bool, typer.Option("--confirm-live", help="count the live confirmation as given")] = False,
) -> None:
    """Print the safety envelope as it resolves; exit 0 only when the route asked for is allowed."""
    if route is not None and route not in ("paper", "live"):
        raise InputError(f"--route {route!r} is not a route; use paper or live")
    # check inspects the config; only the command that trades live enforces --confirm-live.
    envelope = resolve_envelope(load_config(config), route, confirm_live=True if confirm_live else None)  # type: ignore[arg-type]
    for line in format_envelope(envelope):
        typer.echo(line)
    if not envelope.allowed:
        raise typer.Exit(1)


def kill_command(
    reason: Annotated[str, typer.Option("--reason", help="why trading is being stopped")],
    state: Annotated[Path, typer.Option("--state", help="the session's state folder")] = Path("state"),
) -> None:
    """Set the manual kill switch (Ω2) in the state database: trading halts until `spine resume`."""
    if not reason.strip():
        raise InputError("--reason is empty; say why trading is being stopped")
    now = datetime.now(UTC)
    with StateStore.in_folder(state) as store:
        store.set_kill_switch(now, "manual", reason.strip())
    typer.echo(f"kill switch: ACTIVE (manual) since {now.isoformat(timespec='seconds')}: {reason.strip()}")
    typer.echo(f"state: {state / STATE_FILE}")


def resume_command(
    state: Annotated[Path, typer.Option("--state", help="the session's state folder")] = Path("state"),
    yes: Annotated[bool, typer.Option("--yes", help="skip the typed confirmation (scripts)")] = False,
) -> None:
    """Clear the kill switch and the circuit-breaker latch after a typed confirmation."""
    if not (state / STATE_FILE).is_file():
        typer.echo(f"nothing to resume (no state database in {state})")
        return
    # Imported here so `spine check` and `spine kill` never load the IB package.
    from spine.ib.halt import clear_session_halt, session_halt

    with StateStore.in_folder(state) as store:
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
        if not yes:
            typed = typer.prompt(f"Type {CONFIRM_WORD} (or yes) to clear and allow trading again", default="", show_default=False)
            if typed.strip().lower() not in ACCEPTED_CONFIRMATIONS:
                typer.echo("nothing cleared")
                raise typer.Exit(1)
        now = datetime.now(UTC)
        if kill.active:
            store.clear_kill_switch(now, "resume", "spine resume")
            typer.echo("kill switch: cleared")
        if latch.tripped:
            store.reset_breaker(now, "resume", "spine resume")
            typer.echo("circuit breaker: cleared")
        if halt is not None and clear_session_halt(state):
            typer.echo("IB session halt: cleared")


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "an unknown time"
