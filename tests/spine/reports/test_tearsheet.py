"""``spine.reports.tearsheet``: the equity figure is built once and drawn on both value axes."""

from __future__ import annotations

import pandas as pd

from spine.reports.tearsheet import equity_figure_png, equity_figure_pngs

DAYS = pd.bdate_range("2024-01-01", periods=40)
EQUITY = pd.DataFrame(
    {"datetime": DAYS, "value": [1_000_000.0 + 4_000 * (i % 5) + 1_500 * i for i in range(40)], "cash": 1_000_000.0}
)
BENCH = pd.Series([1_000_000.0 + 2_500 * i for i in range(40)], index=DAYS)
EVENTS = pd.DataFrame([{"datetime": DAYS[25], "event": "breaker_trip", "detail": "1-day drawdown past the limit"}])


def test_both_scales_from_one_figure_are_the_same_pictures_as_two_separate_figures():
    args = (EQUITY, EVENTS, BENCH, "equal-weight", True)
    both = equity_figure_pngs(*args, title="t")
    assert both == {scale: equity_figure_png(*args, log_scale=scale, title="t") for scale in (False, True)}
