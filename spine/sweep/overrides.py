"""Apply a trial's dotted-key overrides to the base config, through the config models.

The overridden config is re-validated by ``SpineConfig`` itself, so a trial can hold
only values the config files could hold; a bad key or value is a ``ConfigError`` that
names the key. Keys of the safety envelope (broker, compliance, IB connection and
accounts) are not sweepable: a sweep explores trading settings under the same
fail-closed gate and research label, never a different envelope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from spine.config import SpineConfig, describe_error, model_at, refuse_non_finite, shown
from spine.core.errors import ConfigError
from spine.sweep.universe import UNIVERSE_KEY

FIXED_SECTIONS = (
    "folder",
    "sectors_file",
    "broker",
    "compliance",
    "trading.ib",
    "trading.execution.paper_account",
    "trading.execution.live_account",
)


def _is_fixed(key: str) -> bool:
    return any(key == section or key.startswith(section + ".") for section in FIXED_SECTIONS)


def check_key(key: str, value: Any, *, source: str | Path) -> None:
    """Refuse a key that is not one setting of the config models, naming it and what exists."""
    if _is_fixed(key):
        raise ConfigError(
            f"{source}: {key} = {shown(value)}: not sweepable; the safety envelope ({', '.join(FIXED_SECTIONS[2:])}) is fixed for a sweep"
        )
    parts = key.split(".")
    model: type[BaseModel] = SpineConfig
    for depth, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = ".".join(parts[:depth]) or "the config"
            raise ConfigError(
                f"{source}: {key} = {shown(value)}: unknown key {part!r} in {where} (expected one of: {', '.join(fields)})"
            )
        section = model_at(model, (part,))
        if depth == len(parts) - 1:
            if section is not None:
                raise ConfigError(
                    f"{source}: {key} = {shown(value)}: {key} is a section, not a setting (expected one of: {', '.join(section.model_fields)})"
                )
            return
        if section is None:
            raise ConfigError(
                f"{source}: {key} = {shown(value)}: {'.'.join(parts[: depth + 1])} is a setting, not a section; expected a dotted path to one setting"
            )
        model = section


def apply_overrides(
    config: SpineConfig, params: Mapping[str, Any], *, source: str | Path = "sweep file"
) -> SpineConfig:
    """A new config with ``params`` (``{"strategy.take_profit_atr": 2.5}``) applied and validated.

    ``backtest.risk.*`` on a config without ``backtest.risk`` starts from the top-level
    ``risk``, because that is what the backtest used until then.
    """
    body = config.model_dump()
    for key, value in params.items():
        if key == UNIVERSE_KEY:
            continue  # not a config key: the trial selects its tickers from the data
        check_key(key, value, source=source)
        parts = key.split(".")
        node: dict[str, Any] = body
        for depth, part in enumerate(parts[:-1]):
            if node.get(part) is None:
                node[part] = dict(body["risk"]) if parts[: depth + 1] == ["backtest", "risk"] else {}
            node = node[part]
        node[parts[-1]] = value
    try:
        validated = SpineConfig.model_validate(body)
    except ValidationError as exc:
        problems = [describe_error(err, SpineConfig) for err in exc.errors()]
        raise ConfigError(f"{source}: {'; '.join(problems)}") from None
    refuse_non_finite(source, {key: _dotted(validated, key) for key in params if key != UNIVERSE_KEY})
    return validated


def _dotted(config: SpineConfig, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part, None)
    return node


def validate_all(config: SpineConfig, trials: Iterable[Mapping[str, Any]], *, source: str | Path) -> None:
    """Check every trial's overrides before anything runs (the first problem stops the sweep)."""
    for params in trials:
        apply_overrides(config, params, source=source)
