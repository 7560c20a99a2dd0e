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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spine`` script."""
    _register_commands()
    err = Console(stderr=True)
    try:
        app(args=argv, standalone_mode=False, prog_name="spine")
    except (InputError, SafetyError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


def _register_commands() -> None:
    """Attach every sub-command (kept apart so importing this module stays cheap)."""
    if getattr(app, "_spine_registered", False):
        return
    app._spine_registered = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
