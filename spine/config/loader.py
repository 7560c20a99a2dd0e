"""Reading a config folder: hardened YAML (``spine.config.yaml_file``), one clear error.

``load_config`` turns every problem (a missing file, bad YAML, an unknown key, a bad
value) into one ``ConfigError`` naming the file, the key path, the bad value and what is
expected. ``describe_error`` and ``model_at`` word pydantic's errors the same way for any
model (the sweep spec uses them too).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from spine.config.models import (
    ENVELOPE_FILE,
    SECTORS_FILE,
    STRATEGY_FILE,
    TRADING_FILE,
    EnvelopeFile,
    SectorsFile,
    SpineConfig,
    StrategyParamsFile,
    TradingConfigFile,
)
from spine.config.overrides import overridden_bodies
from spine.config.yaml_file import read_yaml_file, shown
from spine.core.errors import ConfigError
from spine.core.resources import shipped_path

LOG = logging.getLogger(__name__)  # an empty config file is said (on stderr when nothing else handles it)
SHIPPED_CONFIG_DIR = shipped_path("config")  # the checkout's config/, or the installed copy


def _read_yaml(path: Path) -> dict[str, Any]:
    """One config file as a mapping; every way it can be unreadable is one ``ConfigError`` (``yaml_file``)."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (expected a YAML file here)")
    body = read_yaml_file(path, "config file")
    if body is None:
        consequence = " (broker.mode disabled, zero limits: trading disabled)" if path.name == ENVELOPE_FILE else ""
        LOG.warning(f"note: {path} is empty: every default of it applies{consequence}")
        return {}
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(body).__name__}")
    return body


def describe_error(error: dict[str, Any], model: type[BaseModel]) -> str:
    loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    value = shown(error.get("input"))
    if kind == "extra_forbidden":
        parent = model_at(model, error["loc"][:-1])
        known = ", ".join(parent.model_fields) if parent is not None else ""
        expected = f" (expected one of: {known})" if known else ""
        return f"{loc} = {value}: unknown key{expected}"
    if kind == "missing":
        return f"{loc}: required key is missing"
    return f"{loc} = {value}: {error['msg'].lower()}"


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return None
        annotation = fields[part].annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return None
    return current


def refuse_non_finite(where: Path | str, body: Any) -> None:
    """Every number in a config body is finite: a ``ConfigError`` names the first key path that is not.

    Run on the body as written (a ``--set`` value skips the YAML file checks) and on the
    validated model, where text such as ``'1e400'`` or ``'inf'`` has become a number.
    """
    stack: list[tuple[str, Any]] = [("", body)]
    while stack:
        keys, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: {keys or '(top level)'} = {value}: expected a finite number")
        if isinstance(value, dict):
            stack.extend((f"{keys}.{k}" if keys else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{keys}[{i}]", v) for i, v in enumerate(value))


def _validate(model: type[BaseModel], path: Path | str, body: dict[str, Any]) -> Any:
    refuse_non_finite(path, body)
    try:
        validated = model.model_validate(body)
    except ValidationError as exc:
        problems = [describe_error(err, model) for err in exc.errors()]
        detail = problems[0] if len(problems) == 1 else "; ".join(problems)
        raise ConfigError(f"{path}: {detail}") from None
    refuse_non_finite(path, validated.model_dump())  # text such as '1e400' or 'inf' that became a number
    return validated


def load_config(folder: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> SpineConfig:
    """Load and validate the config folder (default: the shipped ``config/``).

    ``sectors.yaml`` is optional in a custom folder: without it the shipped sector
    map is used, so a folder holding only the three required files still runs.
    ``overrides`` (``{"risk.max_positions": 5}``, what ``--set`` gives) are set in the
    file bodies after the files validate, then validated the same way; a problem names
    the ``--set`` assignment and the key path.
    """
    root = Path(folder) if folder is not None else SHIPPED_CONFIG_DIR
    if root.is_file():
        raise ConfigError(
            f"{root}: is a file, not a folder; expected the config folder holding {TRADING_FILE}, {STRATEGY_FILE}, {ENVELOPE_FILE}"
        )
    if not root.is_dir():
        raise ConfigError(
            f"{root}: config folder not found (expected a folder with {TRADING_FILE}, {STRATEGY_FILE}, {ENVELOPE_FILE})"
        )
    sectors_path = root / SECTORS_FILE
    if not sectors_path.is_file():
        sectors_path = SHIPPED_CONFIG_DIR / SECTORS_FILE
    paths = {
        TRADING_FILE: root / TRADING_FILE,
        STRATEGY_FILE: root / STRATEGY_FILE,
        ENVELOPE_FILE: root / ENVELOPE_FILE,
    }
    paths[SECTORS_FILE] = sectors_path
    models = {TRADING_FILE: TradingConfigFile, STRATEGY_FILE: StrategyParamsFile, ENVELOPE_FILE: EnvelopeFile, SECTORS_FILE: SectorsFile}  # fmt: skip
    bodies: dict[str, dict[str, Any]] = {}
    files: dict[str, Any] = {}
    for name, path in paths.items():
        bodies[name] = _read_yaml(path) if name != SECTORS_FILE or path.is_file() else {}
        files[name] = _validate(models[name], path, bodies[name])
    if overrides:
        bodies, made = overridden_bodies(bodies, overrides)
        for name, assignments in made.items():
            files[name] = _validate(models[name], ", ".join(assignments), bodies[name])
    trading, strategy, envelope, sectors = (files[name] for name in models)
    return SpineConfig(
        folder=root,
        trading=trading.trading,
        position_sizing=trading.position_sizing,
        strategy=strategy.strategy,
        circuit_breaker=strategy.circuit_breaker,
        broker=envelope.broker,
        risk=envelope.risk,
        compliance=envelope.compliance,
        kill_switch=envelope.kill_switch,
        backtest=envelope.backtest,
        sectors=sectors.sectors,
        sectors_file=sectors_path,
        paper=envelope.paper,
        sweep=envelope.sweep,
    )
