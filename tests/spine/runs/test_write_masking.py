"""Account ids in a run folder's config/ are masked unless the run was asked to show them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from spine.cli import app
from spine.config import load_config
from spine.runs.write import mask_account, write_resolved_config


def test_an_account_id_keeps_its_first_two_and_last_two_characters():
    assert mask_account("DU1234567") == "DU*****67"
    assert mask_account("U12345") == "U1**45"
    assert mask_account("DU1") == "***"


def test_the_resolved_config_masks_the_paper_account_unless_asked(tmp_path, make_config_dir):
    config = load_config(make_config_dir({"trading_config.yaml": {"trading.execution.live_account": "U7654321"}}))
    write_resolved_config(tmp_path / "masked", config)
    write_resolved_config(tmp_path / "shown", config, show_account=True)
    masked = (tmp_path / "masked" / "trading_config.yaml").read_text()
    shown = (tmp_path / "shown" / "trading_config.yaml").read_text()
    assert "DU*****01" in masked and "U7****21" in masked
    assert "DU0000001" not in masked and "U7654321" not in masked
    assert "DU0000001" in shown and "U7654321" in shown


@pytest.mark.parametrize("command", ["paper", "rehearse"])
def test_paper_and_rehearse_take_show_account(command):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--show-account" in result.output
