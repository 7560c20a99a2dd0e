"""The ``sweep.yaml`` file: which config keys to vary, how to search them, what to optimise.

A sweep file names config keys by their dotted path (``strategy.take_profit_atr``), at
the top level or under ``parameters:`` (plus ``tickers``, the universe; see ``universe``), and gives each one either a list of values (a
grid), a range ``{low, high}`` (sampled; ``count`` says how many draws), or a single
value (held fixed). ``search`` is ``grid`` (default when every parameter is a list),
``random`` (default when a range is present) or ``tpe`` (Optuna's Bayesian search, with
``trials: N``). ``objective`` names a statistic of the run summary and ``direction``
says whether more is better. ``walk_forward: {train: 3Y, test: 1Y, step: 1Y}`` splits
the data into rolling in-sample/out-of-sample folds.

Everything is checked here, before any trial runs; each problem is one ``ConfigError``
naming the file, the key and the bad value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from spine.config import SpineConfig, describe_error, read_yaml_file, shown
from spine.core.errors import ConfigError
from spine.sweep.universe import UNIVERSE_KEY, normalise_universe

RESERVED_KEYS = ("parameters", "search", "trials", "seed", "objective", "direction", "walk_forward")
SECTION_KEYS = ("parameters", "grid")  # sections of swept keys, read before the other top-level keys, in this order
RANGE_KEYS = frozenset({"low", "high", "count", "log"})
# a short name -> the summary keys that may hold it, newest first (summary.json renamed
# return_pct to total_return and max_drawdown_pct to max_drawdown)
OBJECTIVE_ALIASES = {
    "return": ("total_return", "return_pct"),
    "total_return": ("total_return", "return_pct"),
    "return_pct": ("return_pct", "total_return"),
    "drawdown": ("max_drawdown", "max_drawdown_pct"),
    "max_drawdown": ("max_drawdown", "max_drawdown_pct"),
    "max_drawdown_pct": ("max_drawdown_pct", "max_drawdown"),
}
MINIMISED_BY_DEFAULT = frozenset({"drawdown", "max_drawdown", "max_drawdown_pct", "rejected_orders"})
_LONGEST = {"D": 36_525, "W": 5_218, "M": 1_200, "Y": 100}  # a walk-forward span never exceeds 100 years
_DURATION = re.compile(r"^\s*(\d+)\s*([dwmyDWMY])\s*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Frozen):
    """A numeric range to sample; integers when both ends are integers."""

    low: float | int
    high: float | int
    count: int | None = Field(None, ge=1, description="random draws (or grid points with search: grid)")
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"high {self.high} is below low {self.low}; expected low <= high")
        if self.log and self.low <= 0:
            raise ValueError(f"log range needs low > 0, got {self.low}")
        return self

    @property
    def is_int(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int) and not isinstance(self.low, bool)


def parse_duration(text: str) -> pd.DateOffset:
    """``3Y``, ``6M``, ``2W``, ``30D`` as a calendar offset (years and months stay calendar-exact)."""
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{shown(text)} is not a duration; expected a number and a unit D, W, M or Y, like 3Y or 6M")
    n, unit = int(match.group(1)), match.group(2).upper()
    if n == 0:
        raise ValueError(f"{shown(text)} is zero; expected a positive duration")
    if n > _LONGEST[unit]:
        raise ValueError(f"{shown(text)} is longer than 100 years; expected at most {_LONGEST[unit]}{unit}")
    return {
        "D": pd.DateOffset(days=n),
        "W": pd.DateOffset(weeks=n),
        "M": pd.DateOffset(months=n),
        "Y": pd.DateOffset(years=n),
    }[unit]


class WalkForwardSpec(_Frozen):
    """Rolling folds: train on ``train``, test on the following ``test``, move on by ``step``."""

    train: str
    test: str
    step: str | None = None

    @field_validator("train", "test", "step")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def offsets(self) -> tuple[pd.DateOffset, pd.DateOffset, pd.DateOffset]:
        return parse_duration(self.train), parse_duration(self.test), parse_duration(self.step or self.test)


class SweepSpec(_Frozen):
    """A validated sweep file."""

    parameters: dict[str, list[Any] | Range]
    search: Literal["grid", "random", "tpe"]
    trials: int | None = Field(None, ge=1)
    seed: int = 0
    objective: str = "sharpe"
    direction: Literal["maximize", "minimize"] = "maximize"
    walk_forward: WalkForwardSpec | None = None

    @property
    def names(self) -> list[str]:
        return list(self.parameters)

    @property
    def objective_columns(self) -> tuple[str, ...]:
        """The summary columns that may hold the objective, in order of preference."""
        return OBJECTIVE_ALIASES.get(self.objective, (self.objective,))


def _flatten_parameters(node: Any, prefix: str, out: dict[str, Any], path: Path) -> None:
    """Nested sections become dotted keys; a mapping of range keys is a range, not a section."""
    if isinstance(node, dict) and node and not set(node) <= RANGE_KEYS:
        for key, value in node.items():
            _flatten_parameters(value, f"{prefix}.{key}" if prefix else str(key), out, path)
        return
    if not prefix:
        raise ConfigError(f"{path}: parameters: expected a mapping of dotted config keys to value lists or ranges")
    out[prefix] = node


def _normalise_direction(value: Any) -> Any:
    aliases = {"max": "maximize", "maximise": "maximize", "min": "minimize", "minimise": "minimize"}
    return aliases.get(str(value).lower(), str(value).lower()) if isinstance(value, str) else value


@dataclass
class _Draft:
    """A sweep file's top-level keys sorted out: the swept values by dotted key, and the settings."""

    path: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def _read_section(draft: _Draft, key: Any, value: Any) -> None:
    """``parameters:`` or ``grid:``, a mapping of (possibly nested) config keys."""
    if not isinstance(value, dict):
        raise ConfigError(
            f"{draft.path}: {key} = {shown(value)}: expected a mapping of dotted config keys to value lists or ranges"
        )
    _flatten_parameters(value, "", draft.parameters, draft.path)


def _read_parameter(draft: _Draft, key: Any, value: Any) -> None:
    """A dotted config key (or ``tickers``) at the top level."""
    _flatten_parameters(value, str(key), draft.parameters, draft.path)


def _read_setting(draft: _Draft, key: Any, value: Any) -> None:
    """``search``, ``trials``, ``seed``, ``objective``, ``direction`` or ``walk_forward``."""
    draft.settings[key] = value


def _refuse_unknown(draft: _Draft, key: Any, value: Any) -> None:
    raise ConfigError(
        f"{draft.path}: {key} = {shown(value)}: unknown key (expected dotted config keys such as strategy.take_profit_atr, "
        f"or one of: {', '.join(RESERVED_KEYS)})"
    )


_TOP_LEVEL_READERS: dict[Any, Callable[[_Draft, Any, Any], None]] = {
    **dict.fromkeys(RESERVED_KEYS, _read_setting),
    **dict.fromkeys(SECTION_KEYS, _read_section),
    UNIVERSE_KEY: _read_parameter,
}


def _top_level_reader(key: Any) -> Callable[[_Draft, Any, Any], None]:
    if "." in str(key):
        return _read_parameter
    return _TOP_LEVEL_READERS.get(key, _refuse_unknown)


def _values(key: str, value: Any, path: Path) -> list[Any] | dict[str, Any]:
    """A list (a grid), a mapping (a range, checked by ``Range``) or one value held fixed."""
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{path}: {key} = []: empty list; expected at least one value")
        return value
    return value if isinstance(value, dict) else [value]


def _universe_values(key: str, value: Any, path: Path) -> list[Any] | dict[str, Any]:
    """One universe or a list of them, each as ``"ALPH,BRVO"``; never a range."""
    if isinstance(value, dict):
        raise ConfigError(f'{path}: {key} = {shown(value)}: expected a list of universes, like ["ALPH,BRVO", CHRL]')
    universes = [normalise_universe(v) for v in value] if isinstance(value, list) else [normalise_universe(value)]
    return _values(key, universes, path)


_VALUE_PARSERS: dict[str, Callable[[str, Any, Path], list[Any] | dict[str, Any]]] = {UNIVERSE_KEY: _universe_values}


def _objective(settings: dict[str, Any], path: Path) -> tuple[str, Any]:
    """``objective`` (a name, or ``{name, direction}``) and ``direction``, taken out of ``settings``."""
    objective = settings.pop("objective", "sharpe")
    direction = settings.pop("direction", None)
    if isinstance(objective, dict):
        unknown = set(objective) - {"name", "direction"}
        if unknown or "name" not in objective:
            raise ConfigError(
                f"{path}: objective = {shown(objective)}: expected a statistic name, or {{name: sharpe, direction: maximize}}"
            )
        direction = objective.get("direction", direction)
        objective = objective["name"]
    if not isinstance(objective, str) or not objective.strip():
        raise ConfigError(
            f"{path}: objective = {shown(objective)}: expected a statistic of the run summary, like sharpe, calmar or return"
        )
    objective = objective.strip()
    if direction is None:
        direction = "minimize" if objective in MINIMISED_BY_DEFAULT else "maximize"
    return objective, _normalise_direction(direction)


def sweep_spec_from_mapping(body: Any, path: Path) -> SweepSpec:
    """Validate a parsed sweep file; ``path`` is only for messages."""
    if body is None:
        raise ConfigError(
            f"{path}: the sweep file is empty; expected dotted config keys with lists or ranges, like strategy.take_profit_atr: [2, 3]"
        )
    if not isinstance(body, dict):
        raise ConfigError(
            f"{path}: expected a mapping at the top level (dotted config keys, objective, search ...), got {type(body).__name__}"
        )
    draft = _Draft(path)
    for key in [*(k for k in SECTION_KEYS if k in body), *(k for k in body if k not in SECTION_KEYS)]:
        _top_level_reader(key)(draft, key, body[key])
    if not draft.parameters:
        raise ConfigError(
            f"{path}: no parameters to sweep; expected dotted config keys with lists or ranges, like strategy.take_profit_atr: [2, 3]"
        )
    parameters = {key: _VALUE_PARSERS.get(key, _values)(key, value, path) for key, value in draft.parameters.items()}
    objective, direction = _objective(draft.settings, path)
    has_range = any(isinstance(v, dict) for v in parameters.values())
    search = draft.settings.pop("search", "random" if has_range else "grid")
    candidate = {
        "parameters": parameters,
        "search": search,
        "objective": objective,
        "direction": direction,
        **draft.settings,
    }
    try:
        spec = SweepSpec.model_validate(candidate)
    except ValidationError as exc:
        problems = [describe_error(err, SweepSpec) for err in exc.errors()]
        raise ConfigError(f"{path}: {'; '.join(problems)}") from None
    _check_search(spec, path)
    return spec


def _check_search(spec: SweepSpec, path: Path) -> None:
    ranges = {k: v for k, v in spec.parameters.items() if isinstance(v, Range)}
    if spec.search == "grid":
        uncounted = [k for k, v in ranges.items() if v.count is None]
        if uncounted:
            raise ConfigError(
                f"{path}: {uncounted[0]}: a range in a grid needs count (the number of grid points); expected {{low, high, count}} or a list"
            )
    elif spec.search == "random":
        if spec.trials is None and not any(v.count for v in ranges.values()):
            raise ConfigError(
                f"{path}: search: random needs trials: N (or a count on a range); expected the number of random draws"
            )
    elif spec.trials is None:
        raise ConfigError(f"{path}: search: tpe needs trials: N; expected the number of Optuna trials")


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file (hardened YAML: ``spine.config.read_yaml_file``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: sweep file not found (expected a YAML file with the parameters to sweep)")
    return sweep_spec_from_mapping(read_yaml_file(path, "sweep file"), path)


def grid_sizes(spec: SweepSpec) -> dict[str, int]:
    """How many values each parameter of a grid takes (a range's ``count``), without listing them."""
    return {name: len(v) if isinstance(v, list) else (v.count or 1) for name, v in spec.parameters.items()}


def trial_count(spec: SweepSpec) -> int:
    """The trials a sweep asks for: the product of the grid's sizes, or its random or TPE trials."""
    if spec.search == "grid":
        return math.prod(grid_sizes(spec).values())
    if spec.trials is not None:
        return spec.trials
    return max((v.count or 0 for v in spec.parameters.values() if isinstance(v, Range)), default=0)


def check_trial_count(spec: SweepSpec, config: SpineConfig, path: Path) -> int:
    """Refuse a sweep of more than ``sweep.max_trials`` trials, counted before anything is listed or checked."""
    limit, count = config.sweep.max_trials, trial_count(spec)
    if count <= limit:
        return count
    if spec.search == "grid":
        sizes = grid_sizes(spec)
        shown_sizes = " x ".join(f"{size:,}" for size in sizes.values())
        asked = f"the grid of {', '.join(sizes)} holds {shown_sizes} = {count:,} trials"
    else:
        asked = f"search: {spec.search} asks for {count:,} trials"
    raise ConfigError(
        f"{path}: {asked}; expected at most sweep.max_trials = {limit:,} (sweep fewer values, or raise sweep.max_trials)"
    )
