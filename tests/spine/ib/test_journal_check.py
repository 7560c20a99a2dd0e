"""A damaged session journal is refused with one line naming the file and how to move it aside."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app
from spine.core.errors import SafetyError
from spine.ib.journal import JOURNAL_FILE, Journal
from spine.ib.journal_check import check_journal

PAPER = {"broker.mode": "paper", "broker.execution_enabled": True, "compliance.research_only_override": True,
         "risk.max_notional": 50_000, "risk.max_daily_loss": 10_000, "risk.max_sector_exposure": 0.6,
         "risk.max_positions": 10, "risk.max_price_deviation_pct": 0.1, "risk.max_orders_per_minute": 60}  # fmt: skip


def written_journal(folder: Path) -> Path:
    """A real journal with enough rows to span several pages, checkpointed into its main file."""
    journal = Journal.in_folder(folder)
    for i in range(200):
        journal.set_meta(f"key-{i}", "x" * 200)
    journal.close()
    return folder / JOURNAL_FILE


def damaged(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "cut mid-page":
        path.write_bytes(data[: len(data) // 2 + 100])
    elif how == "cut at a page":
        path.write_bytes(data[:8192])
    elif how == "header zeroed":
        path.write_bytes(bytes(100) + data[100:])
    elif how == "pages zeroed":
        path.write_bytes(data[:4096] + bytes(len(data) - 4096))


def test_a_sound_journal_passes_and_a_missing_one_is_new(tmp_path):
    check_journal(written_journal(tmp_path / "s"))
    check_journal(tmp_path / "nothing" / JOURNAL_FILE)


@pytest.mark.parametrize("how", ["garbage", "empty", "cut mid-page", "cut at a page", "header zeroed", "pages zeroed"])
def test_a_damaged_journal_is_refused_with_the_file_and_the_way_out(tmp_path, how):
    path = written_journal(tmp_path / "s")
    damaged(path, how)
    with pytest.raises(SafetyError) as refusal:
        Journal(path)
    message = str(refusal.value)
    assert str(path) in message and f"mv {path} {path}.broken" in message and "\n" not in message
    assert path.stat().st_size <= 1 << 20  # nothing was written to it


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("how", ["garbage", "cut mid-page"])
def test_spine_paper_refuses_a_damaged_journal_before_connecting(tmp_path, make_config_dir, how):
    state = tmp_path / "state"
    path = written_journal(state)
    damaged(path, how)
    signals = tmp_path / "signals.csv"
    signals.write_text("datetime,ticker,weight,direction,source_type,source_ticker\n2023-11-17,ALPH,0.05,BUY,direct,\n")
    config = make_config_dir({"config.yaml": PAPER})
    args = [
        "paper",
        "--config",
        config,
        "--state",
        state,
        "--signals",
        signals,
        "--port",
        closed_port(),
        "--out",
        tmp_path / "runs",
    ]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, sqlite3.Error)
    assert str(path) in result.output and "move" in result.output.lower()
    assert not (tmp_path / "runs").exists()
