"""``spine paper`` and ``spine rehearse``: typer command functions (registered in ``spine.cli.app``).

Both refuse with exit code 2 unless the safety envelope resolves to paper, listing every
blocker as ``spine check`` does. Each ends by printing the run folder's path. A ``spine
paper`` that fails (no connection, a refusal) removes the state folder it created when
that folder records nothing (no order, halt, kill or latch), so a failed first run leaves
nothing behind.
"""

from __future__ import annotations

import shutil
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from spine.cli.params import CLIENT_ID, HOST, PORT, SECONDS, paths_given
from spine.config import SpineConfig, load_config
from spine.config.overrides import parse_assignments
from spine.core.errors import BrokerError, InputError, SafetyError
from spine.core.resources import SAMPLE_PRICES, SAMPLE_SIGNALS, SAMPLE_VIX
from spine.routes.session import quiet_ib_async, require_paper


def _broker_failure(exc: BrokerError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _remove_unused_state(state: Path, new: bool) -> None:
    """Remove a state folder this failed run created, when it records nothing.

    Nothing means: no order in the journal, no halt, no kill switch, no breaker latch
    and no trigger in the state database. A folder that existed before, or that holds
    any record, is kept as it is.
    """
    if not new or not state.is_dir():
        return
    from spine.safety.state_lock import StateLock

    try:
        lock = StateLock.acquire(state, "spine paper (removing the state folder of a failed start)")
    except Exception:  # noqa: BLE001 - another session holds it (or it cannot be taken): never touch the folder
        return
    try:
        if _records_nothing(state):
            shutil.rmtree(state, ignore_errors=True)  # under the lock: no session can start on it meanwhile
    finally:
        lock.release()


def _records_nothing(state: Path) -> bool:
    from spine.ib.halt import session_halt
    from spine.ib.journal import JOURNAL_FILE, Journal
    from spine.safety.state_store import STATE_FILE, StateStore

    try:
        if (state / JOURNAL_FILE).is_file():
            journal = Journal(state / JOURNAL_FILE)
            try:
                if journal.orders():
                    return False
            finally:
                journal.close()
        if session_halt(state) is not None:
            return False
        if (state / STATE_FILE).is_file():
            with StateStore.open_folder(state, create=False) as store:
                if store.triggers() or store.kill_switch().active or store.breaker_latch().tripped:
                    return False
    except Exception:  # noqa: BLE001 - anything unreadable is kept for the user to look at
        return False
    return True


def _check_signal_sectors(cfg: SpineConfig, signals: Path) -> None:
    """Exit 2 before connecting when a signalled ticker has no sector (the gate would refuse all its orders).

    A signal file that is not there yet, or not readable yet, is left to the session, which waits for it or
    names the problem.
    """
    from spine.data.signals import load_signals
    from spine.routes.preflight import check_sectors

    try:
        tickers = sorted({signal.ticker for signal in load_signals(signals)})
    except InputError:
        return
    check_sectors(cfg, cfg.risk, tickers)


def _day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"{flag} {value!r}: expected a date as YYYY-MM-DD") from None


def paper_command(
    config: Annotated[
        Path | None, typer.Option("--config", help="config folder (default: the shipped config/)")
    ] = None,
    state: Annotated[Path, typer.Option("--state", help="state folder: journal, kill switch, breaker latch")] = Path(
        "state"
    ),
    signals: Annotated[
        Path | None, typer.Option("--signals", help="signal CSV (required); rows appended while running are read")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", parser=HOST, help="IB Gateway / TWS host (default trading.ib.host)")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", parser=PORT, help="paper port (default: the envelope's paper port)")
    ] = None,
    client_id: Annotated[
        int | None,
        typer.Option("--client-id", parser=CLIENT_ID, help="IB API client id (default trading.ib.client_id)"),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="where the run folder is written")] = Path("runs"),
    until: Annotated[str | None, typer.Option("--until", help="stop after this date (YYYY-MM-DD)")] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", parser=SECONDS, help="stop after this many seconds")
    ] = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="refresh, reconcile, check the breaker, dispatch due signals, record NAV, exit"),
    ] = False,
    cancel_on_exit: Annotated[
        bool,
        typer.Option(
            "--cancel-on-exit",
            help="cancel working entries at IB when stopping; the stop and take-profit of held positions stay",
        ),
    ] = False,
    flatten_on_exit: Annotated[
        bool,
        typer.Option(
            "--flatten-on-exit",
            help="when stopping, also close the positions in the session's tickers at market (asks first on a terminal)",
        ),
    ] = False,
    require_vix: Annotated[
        bool, typer.Option("--require-vix", help="fail (exit 2) when IB sends no VIX index quote for the kill switch")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="change one config setting for this session, e.g. --set risk.max_positions=5 (repeatable)",
        ),
    ] = None,
    show_account: Annotated[
        bool, typer.Option("--show-account", help="write the account ids into the run folder (masked by default)")
    ] = False,
) -> None:
    """Trade the signals on an IB paper account (or `spine gateway`) behind the same gate as the backtest."""
    from spine.routes.paper import PaperRequest, run_paper

    cfg = load_config(config, overrides=parse_assignments(set_ or []))
    envelope = require_paper(cfg, "spine paper")
    if signals is None:
        raise InputError("--signals FILE is required: spine paper trades only the signals it is given")
    _check_signal_sectors(cfg, signals)
    if flatten_on_exit and sys.stdin.isatty():
        question = "--flatten-on-exit: when this session stops, its positions are closed at market. Continue?"
        if not typer.confirm(question, default=False, err=True):
            raise InputError("--flatten-on-exit was not confirmed; nothing was started")
    request = PaperRequest(
        config=cfg,
        state_dir=state,
        signals=signals,
        host=host if host is not None else cfg.trading.ib.host,
        port=port if port is not None else envelope.port,
        client_id=client_id if client_id is not None else cfg.trading.ib.client_id,
        out_dir=out,
        until=_day(until, "--until"),
        duration_secs=duration,
        once=once,
        cancel_on_exit=cancel_on_exit,
        flatten_on_exit=flatten_on_exit,
        require_vix=require_vix,
        show_account=show_account,
    )
    new_state = not state.exists()
    try:
        with quiet_ib_async():
            result = run_paper(request)
    except BrokerError as exc:
        _remove_unused_state(state, new_state)
        raise _broker_failure(exc) from None
    except (InputError, SafetyError):
        _remove_unused_state(state, new_state)
        raise
    typer.echo(f"session ended ({result.summary.get('stopped_by', '')}): NAV {result.summary['end_value']:,.2f}")
    typer.echo(str(result.run_dir))


def rehearse_command(
    config: Annotated[
        Path | None, typer.Option("--config", help="config folder (default: the shipped config/)")
    ] = None,
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="price files or folders the simulator replays")
    ] = None,
    signals: Annotated[Path | None, typer.Option("--signals", help="signal CSV (required with --data)")] = None,
    start: Annotated[str | None, typer.Option("--start", help="first trading day; bars before it warm up")] = None,
    end: Annotated[str | None, typer.Option("--end", help="last day replayed")] = None,
    out: Annotated[Path, typer.Option("--out", help="where the run folder is written")] = Path("runs"),
    vix: Annotated[
        Path | None, typer.Option("--vix", help="VIX index file for the kill switch (default: the sample's, with it)")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="change one config setting for this rehearsal, e.g. --set risk.max_positions=5 (repeatable)",
        ),
    ] = None,
    show_account: Annotated[
        bool, typer.Option("--show-account", help="write the account ids into the run folder (masked by default)")
    ] = False,
) -> None:
    """Rehearse a paper session against the in-process gateway simulator, in lockstep (deterministic)."""
    from spine.routes.rehearse import RehearseRequest, run_rehearsal

    cfg = load_config(config, overrides=parse_assignments(set_ or []))
    require_paper(cfg, "spine rehearse")
    if data and signals is None:
        raise InputError(
            "--signals FILE is required with --data (the bundled sample signals only cover the sample tickers)"
        )
    _check_signal_sectors(cfg, signals if signals is not None else SAMPLE_SIGNALS)
    first, last = _day(start, "--start"), _day(end, "--end")
    if first is not None and last is not None and last < first:
        raise InputError(f"--end {last} is before --start {first}; expected --end on or after --start")
    request = RehearseRequest(
        config=cfg,
        data=paths_given(data, "--data") or (SAMPLE_PRICES,),
        signals=signals if signals is not None else SAMPLE_SIGNALS,
        start=first,
        end=last,
        out_dir=out,
        vix=vix
        if vix is not None
        else (
            SAMPLE_VIX if not data and SAMPLE_VIX.is_file() else None
        ),  # as spine backtest: the bundled VIX only with the bundled sample
        show_account=show_account,
    )
    try:
        with quiet_ib_async():
            result = run_rehearsal(request)
    except BrokerError as exc:
        raise _broker_failure(exc) from None
    summary = result.summary
    typer.echo(
        f"rehearsal: {summary['start']} .. {summary['end']}, {summary['orders']} orders, NAV {summary['end_value']:,.2f}, cash {result.final_cash:,.2f}"
    )
    typer.echo(str(result.run_dir))
