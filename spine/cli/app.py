"""The ``spine`` command line: one sub-command per route or tool.

Every ``InputError`` or ``SafetyError`` becomes one message on stderr and exit code 2,
with no traceback; anything else is a bug and keeps its traceback. A usage error (a flag
value ``spine.cli.params`` refuses, an unknown flag, a missing argument) is one line and
exit code 2 as well (``usage_error_line``). The translation is done around each command
and in the group's ``main``, so it holds for the installed ``spine`` script and for
``typer.testing.CliRunner().invoke(app, ...)`` alike.

``spine --help`` and ``spine check`` must answer fast, so every command's module is
imported only when that command runs (``_LazyGroup``): ``--help`` loads no command module
(no pydantic config, pandas, Backtrader or gateway), ``check`` only ``spine.cli.safety``.
Their one-line help is written here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import typer
from rich.console import Console
from typer._click import exceptions as usage  # typer vendors click: its usage errors are these classes
from typer.core import TyperCommand, TyperGroup

from spine.cli.params import FlagValueError
from spine.core.errors import InputError, SafetyError
from spine.core.process import collect_less_often, skip_exit_collection

EXIT_BAD_INPUT = 2

# name -> (module, attribute, one-line help); an attribute named ``*_app`` builds a typer
# app (a sub-group), any other is a command function. Loaded on first use, never for --help.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "backtest": (
        "spine.cli.backtest",
        "backtest_command",
        "Historical simulation: signals become provenance-tagged brackets on the simulated broker.",
    ),
    "check": (
        "spine.cli.safety",
        "check_command",
        "Print the safety envelope as it resolves; exit 0 only when the route asked for is allowed.",
    ),
    "kill": (
        "spine.cli.safety",
        "kill_command",
        "Set the manual kill switch (Ω2) in the state database: trading halts until `spine resume`.",
    ),
    "resume": (
        "spine.cli.safety",
        "resume_command",
        "Clear the kill switch and the circuit-breaker latch after a typed confirmation.",
    ),
    "status": (
        "spine.cli.safety",
        "status_command",
        "Print the breaker latch, the kill switch, their causes and times, and the NAV history's span.",
    ),
    "report": (
        "spine.cli.report",
        "report_command",
        "Rebuild trades.csv, the statistics in summary.json, pnl.png, report.html and run.log from a run folder.",
    ),
    "gateway": (
        "spine.cli.gateway",
        "gateway_command",
        "Offline IB Gateway simulator: the TWS socket protocol on loopback, replaying price files.",
    ),
    "data": ("spine.cli.data", "build_data_app", "Market data: download daily bars into the local cache."),
    "paper": (
        "spine.cli.paper",
        "paper_command",
        "Trade an IB paper account (or spine gateway) through ib_async, behind the same safety envelope.",
    ),
    "rehearse": (
        "spine.cli.paper",
        "rehearse_command",
        "Rehearse a paper session against the in-process gateway simulator, in lockstep and deterministic.",
    ),
    "dashboard": (
        "spine.cli.dashboard",
        "dashboard_command",
        "Live read-only web page of paper sessions and rehearsals, with a kill button.",
    ),
    "sweep": (
        "spine.cli.sweep",
        "sweep_command",
        "Parameter sweeps and walk-forward on Dask: many fresh backtests, one results table.",
    ),
}


def _load_lazy(name: str) -> Any:
    """The real click command behind a lazy name (imports its module now)."""
    module, attribute, _ = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if attribute.endswith("_app"):
        group = target()
        for info in group.registered_commands:
            info.callback = refusing_bad_input(info.callback)
        command = typer.main.get_group(group)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(refusing_bad_input(target))
        command = typer.main.get_command(single)
    command.name = name
    return command


class _LazyGroup(TyperGroup):
    """A typer group that lists ``LAZY_COMMANDS`` from their help text and imports them on use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            text = LAZY_COMMANDS[cmd_name][2]
            return TyperCommand(cmd_name, help=text, short_help=text)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in LAZY_COMMANDS and args[0] not in self.commands:
            self.commands[args[0]] = _load_lazy(args[0])
        return super().resolve_command(ctx, args)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """typer's ``main``, with every usage error shown as one line (exit code 2)."""
        try:
            outcome = super().main(*args, standalone_mode=False, **kwargs)
        except usage.NoArgsIsHelpError as exc:  # ``spine`` alone: the help text
            if not standalone_mode:
                raise
            exc.show()
            sys.exit(exc.exit_code)
        except usage.ClickException as exc:
            if not standalone_mode:
                raise
            Console(stderr=True).print(f"error: {usage_error_line(exc)}", highlight=False, soft_wrap=True, markup=False)
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            Console(stderr=True).print("aborted")
            sys.exit(1)
        if standalone_mode:
            sys.exit(outcome if isinstance(outcome, int) and not isinstance(outcome, bool) else 0)
        return outcome


def usage_error_line(exc: Exception) -> str:
    """A usage error as one line: ``--port 0: expected ...``, or typer's text with the command's --help."""
    param, hint = getattr(exc, "param", None), getattr(exc, "param_hint", None)
    if isinstance(exc, usage.BadParameter) and not isinstance(exc, usage.MissingParameter) and (param or hint):
        names = hint if hint is not None else param.get_error_hint()  # type: ignore[union-attr]
        flag = (names if isinstance(names, str) else " / ".join(names)).replace("'", "")
        message = str(exc.message).removeprefix("Value error, ")
        text = f"{flag} {message}" if isinstance(exc, FlagValueError) else f"{flag}: {message}"
    else:
        text = exc.format_message() if isinstance(exc, usage.ClickException) else str(exc)
    text = " ".join(text.split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and not isinstance(exc, FlagValueError):
        text += f" ({ctx.command_path} --help lists the flags)"
    return text


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spine {spine_version()}")
        raise typer.Exit(0)


def spine_version() -> str:
    """The installed distribution's version (the source tree's when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spine")
    except PackageNotFoundError:
        return "0.1.0"


app = typer.Typer(
    cls=_LazyGroup,
    name="spine",
    help="Spine: a Backtrader harness for Interactive Brokers with a fail-closed safety envelope (research only by default).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _StderrNotes(logging.Handler):
    """The config loader's notes (an empty config file), each one line on the command's stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        Console(stderr=True).print(record.getMessage(), markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def config_notes_on_stderr() -> Iterator[None]:
    """While a command runs, what ``spine.config`` says (WARNING and up) goes to its stderr, once."""
    logger = logging.getLogger("spine.config")
    handler, propagate = _StderrNotes(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def refusing_bad_input(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so bad input or a safety refusal is one line on stderr and exit code 2."""

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            with config_notes_on_stderr():
                return command(*args, **kwargs)
        except (InputError, SafetyError) as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return guarded


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="print the version and exit", is_eager=True, callback=_version
    ),
) -> None:
    """Spine: research signals to provenance-tagged bracket orders, behind a fail-closed safety envelope."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spine`` script; returns the exit code.

    Without ``argv`` (the ``spine`` script, ``python -m spine.cli.app``) the process is the
    command's own, so its garbage collector is tuned for it (``spine.core.process``).
    """
    if argv is None:
        collect_less_often()
    code = _main(argv)
    if argv is None:
        skip_exit_collection()  # not after an uncaught exception
    return code


def _main(argv: list[str] | None) -> int:
    try:
        outcome = app(args=argv, standalone_mode=False, prog_name="spine")
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        Console(stderr=True).print("aborted")
        return 1
    except usage.NoArgsIsHelpError as exc:
        exc.show()
        return exc.exit_code
    except usage.ClickException as exc:
        Console(stderr=True).print(f"error: {usage_error_line(exc)}", highlight=False, soft_wrap=True, markup=False)
        return exc.exit_code
    return outcome if isinstance(outcome, int) else 0


if __name__ == "__main__":
    sys.exit(main())
