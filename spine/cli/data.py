"""``spine data fetch``: daily bars from yfinance into the local CSV cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spine.core.errors import DataError, InputError
from spine.data.yahoo_cache import DEFAULT_CACHE_DIR, checked_request, fetch_to_cache


def fetch_command(
    tickers: Annotated[str, typer.Argument(help="Tickers, comma-separated: NVDA,ORCL")],
    start: Annotated[str, typer.Option("--start", help="First day, inclusive (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option("--end", help="Last day, inclusive (YYYY-MM-DD)")],
    cache_dir: Annotated[Path, typer.Option("--cache", help="Cache folder")] = DEFAULT_CACHE_DIR,
) -> None:
    """Download daily prices with yfinance into the CSV cache and print the files written.

    Each ticker is tried and reported on its own: its cache file is replaced whole or not
    at all. A ticker that failed is one line on stderr (a network failure says so); the
    command exits 2 when any failed.
    """
    names, _ = checked_request(tickers, start, end)  # bad tickers or dates: one line, before any download
    if cache_dir.exists() and not cache_dir.is_dir():
        raise InputError(f"--cache {cache_dir}: is a file; expected a folder for the cached price files")
    failed = []
    for ticker in names:
        try:
            (path,) = fetch_to_cache([ticker], start, end, cache_dir)
        except DataError as exc:
            failed.append(ticker.strip().upper())
            typer.echo(f"error: {exc}", err=True)
        else:
            typer.echo(str(path))
    if failed:
        typer.echo(f"fetched {len(names) - len(failed)} of {len(names)} tickers; failed: {', '.join(failed)}", err=True)
        raise typer.Exit(2)


def build_data_app() -> typer.Typer:
    """The ``spine data`` group, built on first use (``spine.data.yahoo_cache`` loads pandas)."""
    data = typer.Typer(help="Market data: download daily bars into the local cache.", no_args_is_help=True)

    @data.callback()
    def _data() -> None:
        """Market data: download daily bars into the local cache."""

    data.command("fetch")(fetch_command)
    return data
