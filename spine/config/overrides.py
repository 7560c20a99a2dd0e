"""One-run overrides of the config files: ``--set KEY=VALUE`` on the command line, ``overrides=`` in Python.

A key is a dotted path into the config files as they are written, its first part the
section (``risk.max_positions``, ``circuit_breaker.max_1d_drawdown_pct``,
``strategy.take_profit_atr``, ``sectors.ACME``); a value is read as YAML reads it
(``5``, ``0.08``, ``null``, ``true``, ``Technology``). ``overridden_bodies`` sets each
key in a copy of the file bodies, and the loader then validates them with the same
models and the same messages as the files themselves, so the overridden config is one
the files could have held. The run folder's ``config/`` copy is written from the
resolved config, so it holds the overridden values and the run stays reproducible.

The switches that decide whether orders may reach a broker (``broker.*`` and
``compliance.*``) are changed in ``config.yaml`` only, never for one run.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from spine.config.models import (
    ENVELOPE_FILE,
    SECTORS_FILE,
    STRATEGY_FILE,
    TRADING_FILE,
    EnvelopeFile,
    SectorsFile,
    StrategyParamsFile,
    TradingConfigFile,
)
from spine.core.errors import ConfigError

__all__ = ["FIXED_SECTIONS", "FLAG", "file_of", "overridden_bodies", "parse_assignments", "shown_assignment"]

FLAG = "--set"
FIXED_SECTIONS = ("broker", "compliance")  # the envelope switches: config.yaml only
_FILES = {TRADING_FILE: TradingConfigFile, STRATEGY_FILE: StrategyParamsFile, ENVELOPE_FILE: EnvelopeFile, SECTORS_FILE: SectorsFile}  # fmt: skip
_SECTION_FILE = {section: filename for filename, model in _FILES.items() for section in model.model_fields}
_EXAMPLE = "e.g. --set risk.max_positions=5"


def shown_assignment(key: str, value: Any) -> str:
    """``--set KEY=VALUE`` as a trader would have typed it (the value as YAML writes it)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    text = text.removesuffix("...").strip()
    return f"{FLAG} {key}={text}"


def parse_assignments(values: Iterable[str], *, flag: str = FLAG) -> dict[str, Any]:
    """``["risk.max_positions=5", ...]`` as ``{"risk.max_positions": 5}``; values read as YAML.

    A later assignment of the same key wins, as a later line of a shell script would.
    """
    parsed: dict[str, Any] = {}
    for item in values:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"{flag} {item!r}: expected KEY=VALUE with a dotted key into the config files ({_EXAMPLE})"
            )
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"{flag} {item!r}: the value is not valid YAML; quote text values ({_EXAMPLE})") from None
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{flag} {item!r}: expected one value, not a list or mapping ({_EXAMPLE})")
        parsed[key] = value
    return parsed


def file_of(key: str) -> str:
    """The config file that holds ``key``; unknown sections and envelope switches are refused."""
    section = key.split(".", 1)[0]
    if section in FIXED_SECTIONS:
        raise ConfigError(
            f"{FLAG} {key}: {section}.* is part of the safety envelope and is changed in {ENVELOPE_FILE} only, "
            "never for one run"
        )
    if section not in _SECTION_FILE:
        known = ", ".join(s for s in _SECTION_FILE if s not in FIXED_SECTIONS)
        raise ConfigError(f"{FLAG} {key}: unknown section {section!r} (expected one of: {known})")
    if "." not in key or any(not part for part in key.split(".")):
        raise ConfigError(f"{FLAG} {key}: expected a dotted path to one setting, like {section}.<key>")
    return _SECTION_FILE[section]


def overridden_bodies(
    bodies: Mapping[str, dict[str, Any]], overrides: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Copies of the file bodies with each override set, and the assignments made to each file.

    ``backtest.risk.*`` on a config without ``backtest.risk`` starts from the top-level
    ``risk``, because those are the limits a backtest ran under until then.
    """
    out = {name: copy.deepcopy(dict(body)) for name, body in bodies.items()}
    made: dict[str, list[str]] = {}
    for key, value in overrides.items():
        filename = file_of(key)
        parts = key.split(".")
        node: dict[str, Any] = out.setdefault(filename, {})
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                starts_from = (
                    out.get(ENVELOPE_FILE, {}).get("risk") if parts[: depth + 1] == ["backtest", "risk"] else None
                )
                child = copy.deepcopy(starts_from) if isinstance(starts_from, dict) else {}
                node[part] = child
            if not isinstance(child, dict):
                raise ConfigError(
                    f"{shown_assignment(key, value)}: {'.'.join(parts[: depth + 1])} is a setting, not a section; "
                    "expected a dotted path to one setting"
                )
            node = child
        node[parts[-1]] = value
        made.setdefault(filename, []).append(shown_assignment(key, value))
    return out, made
