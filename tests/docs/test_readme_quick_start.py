"""The README's quick start runs as written: its shell blocks, in a fresh folder laid out like the repository."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
QUICK_START = re.compile(r"<!-- quick-start -->(.*?)<!-- /quick-start -->", re.S)
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


def quick_start_blocks(text: str) -> list[str]:
    """The fenced ``sh`` blocks between the README's quick-start markers, in order."""
    return [block for region in QUICK_START.findall(text) for block in SH_BLOCK.findall(region)]


def test_quick_start_is_marked_and_runs_a_backtest_on_own_files() -> None:
    blocks = quick_start_blocks(README.read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```sh block between <!-- quick-start --> and <!-- /quick-start -->"
    script = "\n".join(blocks)
    assert re.search(r"^spine backtest .*--data .*--signals ", script, re.M)


def test_quick_start_shell_blocks_produce_a_run_folder_with_a_report(tmp_path: Path) -> None:
    for name in ("data", "config"):  # the quick start runs from the repository root
        (tmp_path / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    script = "set -euo pipefail\n" + "\n".join(quick_start_blocks(README.read_text(encoding="utf-8")))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = (tmp_path / done.stdout.strip().splitlines()[-1]).resolve()  # the last line names the run folder
    assert run_dir.parent == (tmp_path / "runs").resolve() and run_dir.name.endswith("-acme")
    assert (tmp_path / "runs" / "latest").resolve() == run_dir.resolve()
    assert "<html" in (run_dir / "report.html").read_text(encoding="utf-8").lower()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["tickers"] == ["ACME"]
    trades = [line for line in (run_dir / "trades.csv").read_text().splitlines() if not line.startswith("#")]
    assert len(trades) >= 2 and all(",ACME," in row for row in trades[1:])
