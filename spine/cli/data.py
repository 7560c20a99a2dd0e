"""``spine data fetch``: daily bars from yfinance into the local CSV cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spine.data.yahoo_cache import DEFAULT_CACHE_DIR, fetch_to_cache


def fetch_command(
    tickers: Annotated[str, typer.Argument(help="Tickers, comma-separated: NVDA,ORCL")],
    start: Annotated[str, typer.Option("--start", help="First day, inclusive (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option("--end", help="Last day, inclusive (YYYY-MM-DD)")],
    cache_dir: Annotated[Path, typer.Option("--cache", help="Cache folder")] = DEFAULT_CACHE_DIR,
) -> None:
    """Download daily prices with yfinance into the CSV cache and print the files written."""
    for path in fetch_to_cache(tickers, start, end, cache_dir):
        typer.echo(str(path))


def build_data_app() -> typer.Typer:
    """The ``spine data`` group, built on first use (``spine.data.yahoo_cache`` loads pandas)."""
    data = typer.Typer(help="Market data: download daily bars into the local cache.", no_args_is_help=True)

    @data.callback()
    def _data() -> None:
        """Market data: download daily bars into the local cache."""

    data.command("fetch")(fetch_command)
    return data
