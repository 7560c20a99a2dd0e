"""Shared fixtures for the whole test tree (keep each one small; add yours below)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shared_data() -> Path:
    """The real daily prices (NVDA, ORCL, YHOO up to 2014) and VIX, kept outside the repo."""
    folder = REPO_ROOT.parent / "shared" / "data"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent")
    return folder


SHIPPED_CONFIG = REPO_ROOT / "config"


def _set_path(body: dict, dotted: str, value: object) -> None:
    keys = dotted.split(".")
    node = body
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value


@pytest.fixture
def make_config_dir(tmp_path: Path):
    """Copy the shipped config folder and apply ``{"config.yaml": {"risk.max_notional": 5}}`` edits.

    A value of None deletes the key. Returns the new folder.
    """
    import shutil

    import yaml

    counter = {"n": 0}

    def make(edits: dict[str, dict[str, object]] | None = None) -> Path:
        counter["n"] += 1
        folder = tmp_path / f"config-{counter['n']}"
        shutil.copytree(SHIPPED_CONFIG, folder)
        for filename, changes in (edits or {}).items():
            path = folder / filename
            body = yaml.safe_load(path.read_text()) or {}
            for dotted, value in changes.items():
                _set_path(body, dotted, value)
            path.write_text(yaml.safe_dump(body, sort_keys=False))
        return folder

    return make
