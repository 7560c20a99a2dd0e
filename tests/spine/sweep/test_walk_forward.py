"""Walk-forward folds never overlap their test window; out-of-sample equity is chained."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from spine.core.errors import ConfigError
from spine.sweep.spec import WalkForwardSpec
from spine.sweep.walk_forward import gap_summary, make_folds, stitch_equity


def test_folds_train_then_test_on_the_following_period_and_roll_by_step():
    folds = make_folds(date(2010, 1, 1), date(2015, 12, 31), WalkForwardSpec(train="3Y", test="1Y", step="1Y"))
    assert [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds] == [
        (date(2010, 1, 1), date(2012, 12, 31), date(2013, 1, 1), date(2013, 12, 31)),
        (date(2011, 1, 1), date(2013, 12, 31), date(2014, 1, 1), date(2014, 12, 31)),
        (date(2012, 1, 1), date(2014, 12, 31), date(2015, 1, 1), date(2015, 12, 31)),
    ]
    assert all(f.train_end < f.test_start for f in folds)


def test_a_test_period_running_past_the_data_is_not_a_fold():
    folds = make_folds(date(2021, 1, 4), date(2023, 11, 17), WalkForwardSpec(train="1Y", test="6M"))
    assert len(folds) == 3 and folds[-1].test_end == date(2023, 7, 3)


def test_no_fold_fitting_the_data_is_a_config_error():
    with pytest.raises(ConfigError, match="no fold fits the data"):
        make_folds(date(2021, 1, 4), date(2021, 12, 31), WalkForwardSpec(train="1Y", test="1Y"))


def test_stitched_equity_starts_each_fold_where_the_previous_ended():
    first = [
        {"datetime": datetime(2022, 1, 3), "value": 100_000.0},
        {"datetime": datetime(2022, 1, 4), "value": 110_000.0},
    ]
    second = [
        {"datetime": datetime(2022, 1, 5), "value": 100_000.0},
        {"datetime": datetime(2022, 1, 6), "value": 95_000.0},
    ]
    stitched = stitch_equity([first, second])
    assert [round(r["value"], 2) for r in stitched] == [100_000.00, 110_000.00, 110_000.00, 104_500.00]
    assert [r["fold"] for r in stitched] == [0, 0, 1, 1]


def test_the_gap_is_in_sample_minus_out_of_sample_over_folds_with_both():
    assert gap_summary([2.0, 1.0, 3.0], [0.5, None, 1.0]) == {
        "in_sample_mean": 2.5,
        "out_of_sample_mean": 0.75,
        "gap": 1.75,
    }
