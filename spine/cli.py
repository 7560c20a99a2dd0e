"""The ``spine`` command line: one sub-command per route or tool.

Every ``InputError`` or ``SafetyError`` becomes one message on stderr and exit code 2,
with no traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from spine.errors import InputError, SafetyError

app = typer.Typer(
    name="spine",
    help="Spine: a Backtrader harness for Interactive Brokers with a fail-closed safety envelope (research only by default).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Spine: research signals to provenance-tagged bracket orders, behind a fail-closed safety envelope."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spine`` script."""
    _register_commands()
    err = Console(stderr=True)
    try:
        outcome = app(args=argv, standalone_mode=False, prog_name="spine")
    except (InputError, SafetyError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    except Exception as exc:
        # Usage errors from the CLI parser (typer vendors click) know how to show themselves.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        raise
    return outcome if isinstance(outcome, int) else 0


def _register_commands() -> None:
    """Attach every sub-command (kept apart so importing this module stays cheap)."""
    if getattr(app, "_spine_registered", False):
        return
    app._spine_registered = True  # type: ignore[attr-defined]
    from spine.backtest_cli import backtest_command
    from spine.safety_cli import check_command, kill_command, resume_command

    app.command("backtest")(backtest_command)
    app.command("check")(check_command)
    app.command("kill")(kill_command)
    app.command("resume")(resume_command)

    from spine.gateway.cli import gateway_command
    from spine.market_data import fetch_command

    app.command("gateway")(gateway_command)

    data_app = typer.Typer(help="Market data: download daily bars into the local cache.", no_args_is_help=True)
    data_app.command("fetch")(fetch_command)
    app.add_typer(data_app, name="data")


if __name__ == "__main__":
    sys.exit(main())
