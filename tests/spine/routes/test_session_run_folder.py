"""A session's run folder is written as it goes: a ``spine paper`` killed mid-session keeps what it did.

``spine paper`` runs as a subprocess against the in-process gateway simulator (``GatewayThread``)
with the real ib_async client; SIGKILL gives it no chance to write anything at the end.
"""

from __future__ import annotations

import csv
import json
import signal
import socket
import time
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app
from spine.config import load_config
from spine.core.errors import BrokerError
from spine.routes.paper import PaperRequest, run_paper
from spine.routes.rehearse import RehearseRequest, run_rehearsal
from spine.runs.columns import EQUITY_COLUMNS, EVENT_COLUMNS, FILL_COLUMNS, ORDER_COLUMNS
from spine.runs.write import csv_text
from tests.spine.cli.test_paper import (  # noqa: F401  (fixtures)
    LAST_DAY,
    gateway,
    gateway_orders,
    paper_config,
    signals,
    start_paper,
    wait_active_line,
)
from tests.spine.routes.test_rehearse_parity import PAPER, SAMPLE


def csv_rows(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def killed_mid_session(paper_config, gateway, tmp_path: Path) -> Path:  # noqa: F811
    """Start ``spine paper``, wait for its bracket's rows in the run folder, SIGKILL it; the run folder."""
    runs = tmp_path / "runs"
    signal_file = signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])
    process = start_paper(paper_config(), tmp_path / "state", signal_file, gateway.port, runs)
    try:
        wait_active_line(process)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "no order or equity row reached the run folder"
            latest = runs / "latest"
            if (
                len(gateway_orders(gateway)) >= 3
                and (latest / "orders.csv").is_file()
                and csv_rows(latest / "orders.csv")
                and csv_rows(latest / "equity.csv")
            ):
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    return (runs / "latest").resolve()


def test_a_paper_session_killed_after_an_order_leaves_its_run_folder_with_the_order_rows(
    paper_config,  # noqa: F811
    gateway,  # noqa: F811
    tmp_path,
):
    run_dir = killed_mid_session(paper_config, gateway, tmp_path)
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.startswith("paper-")
    orders = csv_rows(run_dir / "orders.csv")
    assert {(row["ticker"], row["role"]) for row in orders} >= {("ALPH", "entry"), ("ALPH", "stop")}
    assert json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["route"] == "paper"


def test_spine_report_builds_the_reports_of_a_paper_session_killed_mid_session(
    paper_config,  # noqa: F811
    gateway,  # noqa: F811
    tmp_path,
):
    run_dir = killed_mid_session(paper_config, gateway, tmp_path)
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.html").is_file() and (run_dir / "trades.csv").is_file()


def test_a_finished_rehearsal_run_folder_holds_exactly_the_rows_it_recorded(tmp_path, make_config_dir):
    config = make_config_dir({"config.yaml": PAPER})
    result = run_rehearsal(
        RehearseRequest(
            config=load_config(config),
            data=(SAMPLE / "prices",),
            signals=SAMPLE / "signals.csv",
            start=date(2021, 1, 26),
            end=date(2021, 3, 5),
            out_dir=tmp_path / "runs",
        )
    )
    assert result.run_dir.name.startswith("rehearse-") and (tmp_path / "runs" / "latest").resolve() == result.run_dir
    research = load_config(config).research_only
    recorded = {
        "orders.csv": (result.orders, ORDER_COLUMNS),
        "fills.csv": (result.fills, FILL_COLUMNS),
        "equity.csv": (result.equity, EQUITY_COLUMNS),
        "events.csv": (result.events, EVENT_COLUMNS),
    }
    for name, (rows, columns) in recorded.items():
        assert (result.run_dir / name).read_text(encoding="utf-8") == csv_text(rows, columns, research_only=research)
    assert json.loads((result.run_dir / "summary.json").read_text(encoding="utf-8"))["stopped_by"] == "end of data"
    assert not [p.name for p in result.run_dir.iterdir() if p.name.startswith(".")]


def test_a_paper_session_that_fails_before_recording_a_row_leaves_no_run_folder(paper_config, tmp_path):  # noqa: F811
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = PaperRequest(config=load_config(paper_config()), state_dir=tmp_path / "state",
                           signals=signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"]), port=port, once=True,
                           out_dir=tmp_path / "runs", connect_timeout_secs=1.0)  # fmt: skip
    with pytest.raises(BrokerError):
        run_paper(request)
    assert not (tmp_path / "runs").exists()
