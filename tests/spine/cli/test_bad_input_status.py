"""``spine status`` on a missing, mistaken or damaged state folder: one line naming the file, exit 2, nothing changed."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app


@pytest.fixture(scope="module")
def killed_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("status") / "state"
    result = CliRunner().invoke(app, ["kill", "--create", "--state", str(folder), "--reason", "a test halt"])
    assert result.exit_code == 0, result.output
    return folder


def _sql(statement: str):
    def damage(folder: Path) -> None:
        with sqlite3.connect(folder / "spine_state.sqlite3") as conn:
            conn.execute(statement)
        conn.close()

    return damage


def _replace_with_folder(folder: Path) -> None:
    (folder / "spine_state.sqlite3").unlink()
    (folder / "spine_state.sqlite3").mkdir()


DAMAGE = [
    ("garbage database", lambda f: (f / "spine_state.sqlite3").write_bytes(b"\x13garbage" * 512), "spine_state.sqlite3"),
    ("empty database", lambda f: (f / "spine_state.sqlite3").write_bytes(b""), "spine_state.sqlite3"),
    ("zeroed header", lambda f: (f / "spine_state.sqlite3").write_bytes(b"\0" * 100 + (f / "spine_state.sqlite3").read_bytes()[100:]), "spine_state.sqlite3"),
    ("marker deleted", lambda f: (f / "spine_state.marker.json").unlink(), "spine_state.marker.json"),
    ("garbage marker", lambda f: (f / "spine_state.marker.json").write_text("garbage"), "spine_state.marker.json"),
    ("marker a list", lambda f: (f / "spine_state.marker.json").write_text("[1]"), "spine_state.marker.json"),
    ("database deleted", lambda f: (f / "spine_state.sqlite3").unlink(), "spine_state.sqlite3"),
    ("database a folder", _replace_with_folder, "spine_state.sqlite3"),
    ("latch as text", _sql("UPDATE kill_switch SET active = 'yes'"), "kill_switch.active"),
    ("table dropped", _sql("DROP TABLE breaker"), "breaker"),
    ("garbage journal", lambda f: (f / "ib_journal.sqlite3").write_bytes(b"\x13garbage" * 512), "ib_journal.sqlite3"),
]  # fmt: skip


@pytest.mark.parametrize(("damage", "where"), [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_a_damaged_state_folder_is_one_line_naming_the_file_and_nothing_changes(
    refuses, killed_state, tmp_path, damage, where
):
    folder = tmp_path / "state"
    shutil.copytree(killed_state, folder)
    damage(folder)
    before = sorted(p.name for p in folder.iterdir())
    refuses(["status", "--state", folder], where)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_state_path_that_is_a_file_is_said_to_be_a_file(refuses, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    refuses(["status", "--state", afile], f"--state {afile}: is a file, not a folder")


def test_a_missing_state_folder_is_named_and_not_created(refuses, tmp_path):
    refuses(["status", "--state", tmp_path / "typo"], "typo: holds no state database")
    assert not (tmp_path / "typo").exists()


def test_a_sound_killed_state_shows_its_kill(killed_state):
    result = CliRunner().invoke(app, ["status", "--state", str(killed_state)])
    assert result.exit_code == 0, result.output
    assert "kill switch: ACTIVE (manual)" in result.output and "a test halt" in result.output
