"""``spine dashboard``: the typer command (registered lazily in ``spine.cli.app``).

Checks its flags, loads the config for the figures the page needs (the breaker's
threshold, the stop and take-profit distances in ATRs), and serves ``spine.dashboard``
with the kill of ``spine kill`` (``spine.cli.safety.kill_command``: the same code path,
the same checks, the same words on stdout).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from spine.cli.params import HOST, LISTEN_PORT
from spine.cli.safety import kill_command
from spine.core.errors import InputError


def kill_as_spine_kill(state: Path, reason: str) -> None:
    """What ``spine kill --state STATE --reason REASON`` runs."""
    kill_command(reason=reason, state=state, create=False)


def dashboard_command(
    state: Annotated[
        list[Path] | None, typer.Option("--state", help="a state folder to show (repeat for several; one tab each)")
    ] = None,
    runs: Annotated[Path | None, typer.Option("--runs", help="folder of run folders to list (each opens its report.html)")] = None,
    host: Annotated[str, typer.Option("--host", parser=HOST, help="address to listen on (loopback unless named; then it warns)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", parser=LISTEN_PORT, help="port to listen on (0: any free port)")] = 8765,
    config: Annotated[Path | None, typer.Option("--config", help="config folder (default: the shipped config/)")] = None,
) -> None:  # fmt: skip
    """Serve a live, read-only page of the sessions in the state folders, with a kill button; prints its URL and token."""
    from spine.config import load_config
    from spine.dashboard.app import DashboardSettings
    from spine.dashboard.read_model import ViewSettings
    from spine.dashboard.security import is_loopback, new_token
    from spine.dashboard.serve import serve

    folders = tuple(state or [Path("state")])
    for folder in folders:
        if not folder.is_dir():
            kind = "is a file" if folder.exists() else "no such folder"
            raise InputError(f"--state {folder}: {kind}; expected a session's state folder")
    if len(set(f.resolve() for f in folders)) != len(folders):
        raise InputError("--state: the same folder is named twice")
    if runs is not None and not runs.is_dir():
        raise InputError(f"--runs {runs}: no such folder; expected a folder of run folders")
    if not is_loopback(host):
        typer.echo(f"warning: --host {host} is not loopback: anyone who can reach it and has the token can kill trading",
                   err=True)  # fmt: skip
    cfg = load_config(config)
    view = ViewSettings(
        atr_multiplier=cfg.position_sizing.atr_multiplier,
        take_profit_atr=cfg.strategy.take_profit_atr,
        max_1d_drawdown_pct=cfg.circuit_breaker.max_1d_drawdown_pct,
        breaker_enabled=cfg.circuit_breaker.enabled,
    )
    settings = DashboardSettings(state_dirs=folders, token=new_token(), host=host, port=port, runs_dir=runs, view=view)
    serve(settings, kill_as_spine_kill, out=sys.stdout)
