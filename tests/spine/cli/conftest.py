"""The bad-input rule, checked the same way for every command: ``refuses(args, *needles)``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app


@pytest.fixture
def refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``spine ARGS`` in an empty folder and check the refusal.

    Exit code 2, one line of output naming every needle, no traceback, and nothing left in
    the working folder (where ``--out`` and ``--state`` point in the suites).
    """
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    def check(args: list[object], *needles: str) -> str:
        result = CliRunner().invoke(app, [str(a) for a in args])
        text = result.output.strip()
        assert result.exit_code == 2, text
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in text
        assert len(text.splitlines()) == 1, text
        assert text.startswith("error: "), text
        for needle in needles:
            assert needle in text, (needle, text)
        left = sorted(str(p.relative_to(work)) for p in work.rglob("*"))
        assert left == [], left
        return text

    return check
