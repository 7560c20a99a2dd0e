"""Walk-forward folds and their out-of-sample bookkeeping (pure: dates and numbers only).

A fold trains on ``[start, start + train)`` and tests on the ``test`` period right after
it; the next fold starts ``step`` later. Only folds whose test period ends inside the
data are kept, so every out-of-sample number covers a full test period. The two
windows of a fold never overlap: the last training day is the day before the first
test day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from spine.core.errors import ConfigError
from spine.sweep.spec import WalkForwardSpec


@dataclass(frozen=True)
class Fold:
    """One in-sample window and the out-of-sample window that follows it (inclusive dates)."""

    index: int
    train_start: date
    train_end: date
    test_start: date
    test_end: date

    def as_dict(self) -> dict[str, Any]:
        return {
            "fold": self.index,
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
        }


def make_folds(first: date, last: date, spec: WalkForwardSpec, *, source: str = "sweep file") -> list[Fold]:
    """The folds over the data's ``first`` to ``last`` day; none fitting is a ``ConfigError``."""
    train, test, step = spec.offsets
    one_day = pd.Timedelta(days=1)
    folds: list[Fold] = []
    start = pd.Timestamp(first)
    end = pd.Timestamp(last)
    while True:
        test_start = start + train
        test_stop = test_start + test  # exclusive
        if test_stop - one_day > end:
            break
        folds.append(
            Fold(
                len(folds), start.date(), (test_start - one_day).date(), test_start.date(), (test_stop - one_day).date()
            )
        )
        start = start + step
    if not folds:
        raise ConfigError(
            f"{source}: walk_forward = {spec.model_dump(exclude_none=True)}: no fold fits the data ({first} to {last}); "
            "expected train + test no longer than the data"
        )
    return folds


def stitch_equity(fold_equity: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One out-of-sample curve: each fold's test equity rescaled to start where the last ended.

    Each test run starts from the configured cash, so a fold's curve is chained by its
    growth factor: ``value * previous_end / fold_first_value``. The first fold is as run.
    """
    rows: list[dict[str, Any]] = []
    level: float | None = None
    for index, equity in enumerate(fold_equity):
        if not equity:
            continue
        base = float(equity[0]["value"])
        scale = 1.0 if level is None or base == 0 else level / base
        for point in equity:
            rows.append(
                {
                    "datetime": point["datetime"],
                    "fold": index,
                    "value": float(point["value"]) * scale,
                    "fold_value": float(point["value"]),
                }
            )
        level = rows[-1]["value"]
    return rows


def gap_summary(in_sample: Sequence[float | None], out_of_sample: Sequence[float | None]) -> dict[str, float | None]:
    """Mean in-sample and out-of-sample objective and their gap (in minus out), over folds with both."""
    pairs = [(a, b) for a, b in zip(in_sample, out_of_sample, strict=True) if a is not None and b is not None]
    if not pairs:
        return {"in_sample_mean": None, "out_of_sample_mean": None, "gap": None}
    inside = sum(a for a, _ in pairs) / len(pairs)
    outside = sum(b for _, b in pairs) / len(pairs)
    return {"in_sample_mean": inside, "out_of_sample_mean": outside, "gap": inside - outside}
