"""The ``spine`` command line: one sub-command per route or tool.

Every ``InputError`` or ``SafetyError`` becomes one message on stderr and exit code 2,
with no traceback; anything else is a bug and keeps its traceback. The translation is
done around each command, so it holds for the installed ``spine`` script and for
``typer.testing.CliRunner().invoke(app, ...)`` alike.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from spine.backtest_cli import backtest_command
from spine.errors import InputError, SafetyError
from spine.gateway.cli import gateway_command
from spine.market_data import fetch_command
from spine.safety_cli import check_command, kill_command, resume_command
from spine.sweep.cli import sweep_command

EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="spine",
    help="Spine: a Backtrader harness for Interactive Brokers with a fail-closed safety envelope (research only by default).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Market data: download daily bars into the local cache.", no_args_is_help=True)


def refusing_bad_input(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so bad input or a safety refusal is one line on stderr and exit code 2."""

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (InputError, SafetyError) as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return guarded


@app.callback()
def _root() -> None:
    """Spine: research signals to provenance-tagged bracket orders, behind a fail-closed safety envelope."""


app.command("backtest")(refusing_bad_input(backtest_command))
app.command("check")(refusing_bad_input(check_command))
app.command("kill")(refusing_bad_input(kill_command))
app.command("resume")(refusing_bad_input(resume_command))
app.command("gateway")(refusing_bad_input(gateway_command))
app.command("sweep")(refusing_bad_input(sweep_command))
data_app.command("fetch")(refusing_bad_input(fetch_command))
app.add_typer(data_app, name="data")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spine`` script; returns the exit code."""
    try:
        outcome = app(args=argv, standalone_mode=False, prog_name="spine")
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        Console(stderr=True).print("aborted")
        return 1
    except Exception as exc:
        # Usage errors from the CLI parser (typer vendors click) know how to show themselves.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        raise
    return outcome if isinstance(outcome, int) else 0


if __name__ == "__main__":
    sys.exit(main())
