"""Reading a config folder: YAML hardened against oversized files and alias bombs, one clear error.

``load_config`` turns every problem (a missing file, bad YAML, an unknown key, a bad
value) into one ``ConfigError`` naming the file, the key path, the bad value and what is
expected. ``describe_error`` and ``model_at`` word pydantic's errors the same way for any
model (the sweep spec uses them too).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
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
from spine.core.errors import ConfigError
from spine.core.resources import shipped_path

SHIPPED_CONFIG_DIR = shipped_path("config")  # the checkout's config/, or the installed copy

MAX_CONFIG_BYTES = 256 * 1024  # a config file is a few kilobytes; anything this big is not one
MAX_CONFIG_NODES = 10_000  # values after expanding aliases: an alias bomb is refused, not expanded


def _read_yaml(path: Path) -> dict[str, Any]:
    """One config file as a mapping; every way it can be unreadable is one ``ConfigError``."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (expected a YAML file here)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: file is {len(raw):,} bytes; expected a config file of at most {MAX_CONFIG_BYTES:,} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); expected a UTF-8 YAML file"
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _refuse_alias_bombs(path, node)
        body = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply; expected a config of a few levels of sections") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(body).__name__}")
    return body


def _refuse_alias_bombs(path: Path, root: yaml.Node | None) -> None:
    """Count the values the document expands to (aliases included) without expanding it."""
    if root is None:
        return
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if not done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(child), 1) for child in children)
        sizes[id(node)] = total
        if total > MAX_CONFIG_NODES:
            raise ConfigError(
                f"{path}: YAML aliases expand to more than {MAX_CONFIG_NODES:,} values; "
                "expected a plain config (an alias bomb is refused, not expanded)"
            )


def _shown(value: Any, limit: int = 120) -> str:
    """A bad value for a message, never longer than ``limit`` characters."""
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = limit
    short.maxlevel, short.maxlist, short.maxdict = 3, 6, 6
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error(error: dict[str, Any], model: type[BaseModel]) -> str:
    loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    value = _shown(error.get("input"))
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


def _validate(model: type[BaseModel], path: Path | str, body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = [describe_error(err, model) for err in exc.errors()]
        detail = problems[0] if len(problems) == 1 else "; ".join(problems)
        raise ConfigError(f"{path}: {detail}") from None


def load_config(folder: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> SpineConfig:
    """Load and validate the config folder (default: the shipped ``config/``).

    ``sectors.yaml`` is optional in a custom folder: without it the shipped sector
    map is used, so a folder holding only the three required files still runs.
    ``overrides`` (``{"risk.max_positions": 5}``, what ``--set`` gives) are set in the
    file bodies after the files validate, then validated the same way; a problem names
    the ``--set`` assignment and the key path.
    """
    root = Path(folder) if folder is not None else SHIPPED_CONFIG_DIR
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
    )
