"""The parameter sets a grid or random sweep runs, in a fixed order (pure, no Dask).

The order is part of the result: trial numbers index this list, so the same sweep file
gives the same trial numbers on any cluster, and ``--resume`` finds the same trials.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from spine.sweep.spec import Range, SweepSpec


def _grid_values(value: list[Any] | Range) -> list[Any]:
    if isinstance(value, list):
        return list(value)
    count = value.count or 1
    if count == 1:
        return [value.low]
    if value.log:
        points = np.geomspace(value.low, value.high, count)
    else:
        points = np.linspace(value.low, value.high, count)
    if value.is_int:
        return list(dict.fromkeys(round(p) for p in points))
    return [float(p) for p in points]


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every combination, the first parameter varying slowest (as written in the file)."""
    names = spec.names
    axes = [_grid_values(spec.parameters[name]) for name in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]


def random_trial_count(spec: SweepSpec) -> int:
    if spec.trials is not None:
        return spec.trials
    return max(v.count or 0 for v in spec.parameters.values() if isinstance(v, Range))


def draw(value: list[Any] | Range, rng: np.random.Generator) -> Any:
    """One value: a uniform choice from a list, a uniform (or log-uniform) draw from a range."""
    if isinstance(value, list):
        return value[int(rng.integers(len(value)))]
    if value.is_int:
        return int(rng.integers(int(value.low), int(value.high) + 1))
    if value.log:
        return float(math.exp(rng.uniform(math.log(value.low), math.log(value.high))))
    return float(rng.uniform(value.low, value.high))


def random_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """``trials`` draws from a generator seeded by ``seed``: the same file gives the same draws."""
    rng = np.random.default_rng(spec.seed)
    return [{name: draw(spec.parameters[name], rng) for name in spec.names} for _ in range(random_trial_count(spec))]


def fixed_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The parameter sets of a grid or random sweep (a TPE sweep asks Optuna instead)."""
    return grid_points(spec) if spec.search == "grid" else random_points(spec)
