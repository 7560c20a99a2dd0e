"""Route resolution: the five-row table and the rules behind it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from spine.config import SHIPPED_CONFIG_DIR, load_config
from spine.core.errors import InputError
from spine.safety.envelope import format_envelope, resolve_envelope

LIMITS = {"max_notional": 50000, "max_daily_loss": 1000, "max_sector_exposure": 0.5, "max_positions": 5}
PAPER_COMPLETE = {
    "config.yaml": {
        "broker": {"mode": "paper", "execution_enabled": True},
        "risk": LIMITS,
        "compliance": {"research_only_override": True},
    },
}
LIVE_INCOMPLETE = {
    "config.yaml": {
        "broker": {"mode": "live", "execution_enabled": True, "default_route": "live"},
        "risk": LIMITS,
        "compliance": {"research_only_override": True},
    },
}
LIVE_AMBIGUOUS = {
    **LIVE_INCOMPLETE,
    "trading_config.yaml": {"trading": {"execution": {"live_account": "DU7654321"}}},
}
LIVE_COMPLETE = {
    **LIVE_INCOMPLETE,
    "trading_config.yaml": {"trading": {"ib": {"port": 4001}, "execution": {"live_account": "U7654321"}}},
}


def _merge(base: dict, changes: dict) -> dict:
    for key, value in changes.items():
        base[key] = _merge(base.get(key) or {}, value) if isinstance(value, dict) else value
    return base


def write_config(folder: Path, changes: dict) -> Path:
    """The shipped config folder, copied and edited."""
    shutil.copytree(SHIPPED_CONFIG_DIR, folder)
    for name, edits in changes.items():
        path = folder / name
        path.write_text(yaml.safe_dump(_merge(yaml.safe_load(path.read_text()), edits)))
    return folder


def envelope(tmp_path, changes, route=None, *, confirm_live=False):
    return resolve_envelope(load_config(write_config(tmp_path / "cfg", changes)), route, confirm_live=confirm_live)


@pytest.mark.parametrize(
    ("name", "changes", "route", "confirm", "expected_route", "allowed"),
    [
        ("defaults", {}, None, False, "disabled", False),
        ("paper complete", PAPER_COMPLETE, "paper", False, "paper", True),
        ("live incomplete", LIVE_INCOMPLETE, "live", False, "paper", False),
        ("live ambiguous", LIVE_AMBIGUOUS, "live", True, "paper", False),
        ("live complete", LIVE_COMPLETE, "live", True, "live", True),
        ("live complete, config only", LIVE_COMPLETE, "live", None, "live", True),
    ],
)
def test_each_config_of_the_table_resolves_to_its_route(
    tmp_path, name, changes, route, confirm, expected_route, allowed
):
    env = envelope(tmp_path, changes, route, confirm_live=confirm)
    assert (env.route, env.allowed) == (expected_route, allowed), name


def test_the_shipped_defaults_name_every_blocking_setting():
    env = resolve_envelope(load_config())
    keys = [line.split(" ")[0] for line in env.blockers]
    assert keys == [
        "broker.mode",
        "broker.execution_enabled",
        "risk.max_notional",
        "risk.max_daily_loss",
        "risk.max_sector_exposure",
        "risk.max_positions",
        "compliance.research_only_override",
    ]


def test_a_blocker_names_the_key_its_value_and_what_is_needed():
    env = resolve_envelope(load_config())
    assert "broker.execution_enabled is false; set it to true" in env.blockers


def test_the_requested_route_defaults_to_paper():
    assert resolve_envelope(load_config()).requested == "paper"


def test_the_requested_route_defaults_to_live_only_with_live_mode_and_live_default_route(tmp_path):
    assert envelope(tmp_path, LIVE_INCOMPLETE).requested == "live"


def test_live_incomplete_says_which_settings_are_missing(tmp_path):
    env = envelope(tmp_path, LIVE_INCOMPLETE, "live")
    assert any(b.startswith("trading.execution.live_account is empty") for b in env.blockers)
    assert any(b.startswith("trading.ib.port is 4002") for b in env.blockers)


def test_live_with_a_paper_account_id_is_ambiguous_and_never_live(tmp_path):
    changes = {
        **LIVE_COMPLETE,
        "trading_config.yaml": {"trading": {"ib": {"port": 4001}, "execution": {"live_account": "DU1"}}},
    }
    env = envelope(tmp_path, changes, "live", confirm_live=True)
    assert env.route != "live"
    assert any("ambiguous" in b for b in env.blockers)


def test_live_with_an_unknown_port_is_never_live(tmp_path):
    changes = {
        **LIVE_COMPLETE,
        "trading_config.yaml": {"trading": {"ib": {"port": 5000}, "execution": {"live_account": "U1"}}},
    }
    env = envelope(tmp_path, changes, "live", confirm_live=True)
    assert env.route == "paper"


def test_live_needs_the_kill_switch(tmp_path):
    changes = {
        **LIVE_COMPLETE,
        "config.yaml": _merge(
            yaml.safe_load(yaml.safe_dump(LIVE_COMPLETE["config.yaml"])), {"risk": {"kill_switch": False}}
        ),
    }
    assert envelope(tmp_path, changes, "live", confirm_live=True).route != "live"


def test_live_without_confirm_live_is_not_live_and_warns(tmp_path):
    env = envelope(tmp_path, LIVE_COMPLETE, "live", confirm_live=False)
    assert env.route != "live"
    assert any("--confirm-live" in w for w in env.warnings)


def test_inspecting_a_complete_live_config_resolves_live_and_warns_about_confirm_live(tmp_path):
    env = envelope(tmp_path, LIVE_COMPLETE, "live", confirm_live=None)
    assert (env.route, env.allowed) == ("live", True)
    assert any("--confirm-live" in w for w in env.warnings)


def test_paper_is_never_routed_to_a_live_port(tmp_path):
    changes = {**PAPER_COMPLETE, "trading_config.yaml": {"trading": {"ib": {"port": 7496}}}}
    env = envelope(tmp_path, changes, "paper")
    assert (env.route, env.port) == ("paper", 7497)
    assert any("connects to 7497" in w for w in env.warnings)


def test_live_falling_back_to_paper_on_a_live_port_connects_to_the_paper_twin(tmp_path):
    changes = {
        **LIVE_COMPLETE,
        "trading_config.yaml": {"trading": {"ib": {"port": 4001}, "execution": {"live_account": ""}}},
    }
    env = envelope(tmp_path, changes, "live", confirm_live=True)
    assert (env.route, env.port) == ("paper", 4002)


def test_live_route_connects_to_the_configured_live_port(tmp_path):
    assert envelope(tmp_path, LIVE_COMPLETE, "live", confirm_live=True).port == 4001


def test_paper_needs_the_research_only_override(tmp_path):
    changes = {"config.yaml": {**PAPER_COMPLETE["config.yaml"], "compliance": {"research_only_override": False}}}
    assert envelope(tmp_path, changes, "paper").route == "disabled"


def test_live_mode_still_allows_the_paper_route(tmp_path):
    assert envelope(tmp_path, LIVE_INCOMPLETE, "paper").route == "paper"


def test_the_envelope_uses_the_top_level_risk_not_the_backtest_risk():
    assert resolve_envelope(load_config()).limits.max_notional == 0


def test_an_unknown_route_is_an_input_error():
    with pytest.raises(InputError):
        resolve_envelope(load_config(), "moon")  # type: ignore[arg-type]


def test_format_starts_with_the_route_line_and_lists_limits_and_blockers():
    lines = format_envelope(resolve_envelope(load_config()))
    assert lines[0] == "route: disabled"
    assert "risk.max_notional: 0 (zero: no trading)" in lines
    assert "blocked: broker.mode is disabled; set it to paper (or live)" in lines


def test_format_shows_warnings_last(tmp_path):
    lines = format_envelope(envelope(tmp_path, LIVE_COMPLETE, "live"))
    assert lines[-1].startswith("warning: ")
