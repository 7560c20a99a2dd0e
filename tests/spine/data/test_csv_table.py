"""Reading a CSV with editor line numbers, and the row rules that name the first bad row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spine.core.errors import DataError
from spine.data.csv_table import Rule, fail, first_failure, number_shown, parse_times, read_csv_table, unreadable_number

PATH = Path("table.csv")


def write(folder: Path, *lines: str) -> Path:
    path = folder / "table.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rows_keep_the_line_an_editor_shows_counting_comments_and_blank_lines(tmp_path):
    table = read_csv_table(write(tmp_path, "# a comment", "a,b", "1,2", "", "# another", "3,4"), what="test file")
    assert table.header_line == 2
    assert table.row_lines.tolist() == [3, 6]
    assert table.row(1) == 6


def test_a_repeated_column_is_refused_naming_both_positions(tmp_path):
    with pytest.raises(
        DataError, match=r"column 'A' \(column 3\) duplicates 'a' \(column 1\); expected each column once"
    ):
        read_csv_table(write(tmp_path, "a,b,A", "1,2,3"), what="test file")


def test_a_row_with_an_extra_field_names_its_editor_line(tmp_path):
    with pytest.raises(DataError, match="row has 3 fields; expected 2 like the header") as raised:
        read_csv_table(write(tmp_path, "# comment", "a,b", "1,2", "1,2,3"), what="test file")
    assert raised.value.row == 4


def test_a_missing_file_is_named_by_what_it_is(tmp_path):
    with pytest.raises(DataError, match="signal file not found; expected an existing CSV file"):
        read_csv_table(tmp_path / "nope.csv", what="signal file")


def test_numbers_mark_written_cells_that_are_not_numbers_but_not_empty_ones(tmp_path):
    table = read_csv_table(write(tmp_path, "a,b", "1.5,1", ",2", "x,3"), what="test file")
    values, unreadable = table.numbers("a")
    assert np.isnan(values[1:]).all() and values[0] == 1.5
    assert unreadable.tolist() == [False, False, True]


def test_parse_times_keeps_the_wall_clock_time_of_a_stamp_with_an_offset():
    parsed = parse_times(pd.Series(["2021-01-04 09:30:00-05:00", "2021-01-05"]))
    assert parsed.tolist() == [pd.Timestamp("2021-01-04 09:30").value, pd.Timestamp("2021-01-05").value]


def test_parse_times_turns_an_unreadable_cell_into_nat():
    assert np.isnat(parse_times(pd.Series(["2021-01-04", "soon"]))).tolist() == [False, True]


def test_fail_puts_the_value_before_the_expectation_and_keeps_it():
    error = fail(PATH, "weight is outside [0, 1]", "expected a fraction", row=3, column="weight", value=1.5)
    assert "weight is outside [0, 1] (got 1.5); expected a fraction" in str(error)
    assert (error.row, error.column, error.value) == (3, "weight", 1.5)


def test_first_failure_reports_the_earliest_failing_row_over_all_rules():
    rules = [
        Rule(np.array([False, False, True]), "a", "a is bad", "expected good a", lambda i: "x"),
        Rule(np.array([False, True, True]), "b", "b is bad", "expected good b", lambda i: "y"),
    ]
    error = first_failure(PATH, rules, row_of=lambda i: i + 2)
    assert (error.row, error.column) == (3, "b")


def test_on_one_row_the_earlier_rule_wins():
    rules = [
        Rule(np.array([False, True]), "a", "a is bad", "expected good a", lambda i: "x"),
        Rule(np.array([False, True]), "b", "b is bad", "expected good b", lambda i: "y"),
    ]
    assert first_failure(PATH, rules, row_of=lambda i: i + 2).column == "a"


def test_no_failing_row_is_no_error():
    assert (
        first_failure(PATH, [Rule(np.zeros(3, dtype=bool), "a", "bad", "good", lambda i: "")], row_of=lambda i: i)
        is None
    )


def test_a_problem_can_quote_the_row_it_describes():
    lows = np.array([9.5, 12.0])
    rule = Rule(
        np.array([False, True]),
        "high",
        lambda i: f"high is below low ({float(lows[i])!r})",
        "expected high >= low",
        number_shown(np.array([10.0, 11.0])),
    )
    error = first_failure(PATH, [rule], row_of=lambda i: i + 2)
    assert "high is below low (12.0) (got 11.0); expected high >= low" in str(error)


@pytest.mark.parametrize(("cell", "problem"), [("", "weight is empty"), ("abc", "weight is not a number")])
def test_an_unreadable_number_says_whether_the_cell_was_empty(cell, problem):
    rule = unreadable_number(np.array([True]), "weight", lambda i: cell, "expected a fraction")
    assert f"{problem} (got {cell!r}); expected a fraction" in str(first_failure(PATH, [rule], row_of=lambda i: 2))
