"""``spine report`` on a damaged run folder: one line naming the file (and line, column or key), exit 2, nothing rewritten."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest


@pytest.fixture(scope="module")
def sound_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report-runs")
    request = BacktestRequest(config=load_config(), out_dir=out, start=date(2021, 3, 1), end=date(2021, 6, 30))
    return run_backtest(request).run_dir


def _summary(folder: Path, change) -> None:
    body = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps(change(body)))


def _set_cell(folder: Path, name: str, line: int, column: str, value: str) -> None:
    lines = (folder / name).read_text().splitlines()
    header = next(i for i, text in enumerate(lines) if not text.startswith("#"))
    cells = lines[line - 1].split(",")
    cells[lines[header].split(",").index(column)] = value
    lines[line - 1] = ",".join(cells)
    (folder / name).write_text("\n".join(lines) + "\n")


DAMAGE = [
    ("summary.json garbage", lambda f: (f / "summary.json").write_bytes(b"\x9a\xff" * 40), "summary.json", "not UTF-8"),
    ("orders.csv garbage", lambda f: (f / "orders.csv").write_bytes(b"\x9a\xff" * 40), "orders.csv", "not UTF-8"),
    ("summary.json a list", lambda f: (f / "summary.json").write_text("[1, 2]"), "summary.json", "a JSON list"),
    ("summary.json not JSON", lambda f: (f / "summary.json").write_text("{"), "summary.json line 1", "not valid JSON"),
    ("summary.json nested", lambda f: (f / "summary.json").write_text("[" * 100_000), "summary.json", "nested"),
    ("start_value a string", lambda f: _summary(f, lambda b: {**b, "start_value": "lots"}), "start_value = 'lots'", "finite number"),
    ("tickers a number", lambda f: _summary(f, lambda b: {**b, "tickers": 5}), "tickers = 5", "list of tickers"),
    ("equity value inf", lambda f: _set_cell(f, "equity.csv", 10, "value", "inf"), "equity.csv line 10, column value: inf", "finite"),
    ("equity value text", lambda f: _set_cell(f, "equity.csv", 10, "value", "lots"), "equity.csv line 10, column value: 'lots'", "not a number"),
    ("fills datetime", lambda f: _set_cell(f, "fills.csv", 3, "datetime", "yesterday"), "fills.csv line 3, column datetime", "yesterday"),
    ("equity.csv empty", lambda f: (f / "equity.csv").write_text(""), "equity.csv", "not a readable CSV"),
    ("orders.csv missing", lambda f: (f / "orders.csv").unlink(), "lacks orders.csv", "complete run folder"),
    ("fills lacks price", lambda f: (f / "fills.csv").write_text("datetime,ticker\n"), "fills.csv line 1: column", "price"),
]  # fmt: skip


@pytest.mark.parametrize(("damage", "where", "expected"), [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_a_damaged_run_folder_is_one_line_and_nothing_is_rewritten(
    refuses, sound_run, tmp_path, damage, where, expected
):
    folder = tmp_path / "run"
    shutil.copytree(sound_run, folder)
    damage(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    refuses(["report", folder], where, expected)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_a_report_on_a_file_says_it_is_a_file(refuses, sound_run):
    refuses(["report", sound_run / "summary.json"], "summary.json: is a file, not a folder", "run folder")


def test_a_report_on_a_missing_folder_names_it(refuses, tmp_path):
    refuses(["report", tmp_path / "nowhere"], "nowhere does not exist", "")


SWEEP_DAMAGE = [
    ("summary a list", b"[1, 2]", b"trial,status,objective\n0,ok,1.0\n", "summary.json", "spine sweep writes"),
    ("summary garbage", b"\x9a\xff" * 20, b"trial,status,objective\n0,ok,1.0\n", "unreadable", "sweep folder"),
    ("summary nested", b"[" * 100_000, b"trial,status,objective\n0,ok,1.0\n", "unreadable", "sweep folder"),
    ("results empty", b'{"parameters": ["a"]}', b"", "unreadable", "sweep folder"),
    (
        "results lack objective",
        b'{"parameters": ["a"]}',
        b"trial,status\n0,ok\n",
        "results.csv: column objective",
        "spine sweep",
    ),
]


@pytest.mark.parametrize(
    ("summary", "results", "where", "expected"), [d[1:] for d in SWEEP_DAMAGE], ids=[d[0] for d in SWEEP_DAMAGE]
)
def test_a_damaged_sweep_folder_is_one_line_and_nothing_is_written(
    refuses, tmp_path, summary, results, where, expected
):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "summary.json").write_bytes(summary)
    (folder / "results.csv").write_bytes(results)
    refuses(["report", folder], where, expected)
    assert sorted(p.name for p in folder.iterdir()) == ["results.csv", "summary.json"]
