"""pnl.png: benchmark, drawdown panel, shaded halts with labels, distinct same-day markers, separators, log scale."""

from __future__ import annotations

import pandas as pd

from spine.reports.figures import plot_pnl, pnl_figure
from spine.reports.halts import halts

DAYS = pd.bdate_range("2024-01-01", periods=30)
EQUITY = pd.DataFrame(
    {"datetime": DAYS, "value": [1_000_000.0 + 5_000 * (i % 7) - 2_000 * i for i in range(30)], "cash": 1_000_000.0}
)
BENCH = pd.Series([1_000_000.0 + 3_000 * i for i in range(30)], index=DAYS)
SAME_DAY = [
    {"datetime": DAYS[20], "event": "breaker_trip", "detail": "1-day drawdown past the limit"},
    {"datetime": DAYS[20], "event": "kill_switch", "detail": "vix: VIX closed at 50"},
]


def test_breaker_and_kill_switch_on_one_day_get_distinct_markers_shades_and_labels():
    fig = pnl_figure(
        EQUITY, title="t", research_only=True, events=SAME_DAY, benchmark=BENCH, benchmark_name="equal-weight"
    )
    top, bottom = fig.axes
    markers = {
        line.get_label(): line.get_marker() for line in top.get_lines() if line.get_marker() not in ("None", None, "")
    }
    assert markers == {"circuit breaker tripped 2024-01-29": "v", "kill switch fired 2024-01-29": "X"}
    ys = [line.get_ydata()[0] for line in top.get_lines() if line.get_label() in markers]
    assert ys[0] != ys[1]  # the second firing on the same bar sits above the first
    assert len(top.patches) == 2 and len(bottom.patches) == 2  # one shaded halt per firing, on both panels
    notes = [text.get_text() for text in top.texts]
    assert any("circuit breaker" in n and "halted to the end" in n for n in notes) and any(
        "kill switch" in n for n in notes
    )
    assert "equal-weight" in [line.get_label() for line in top.get_lines()]
    assert bottom.get_ylabel() == "drawdown %"
    assert top.yaxis.get_major_formatter()(1_234_567, 0) == "1,234,567"


def test_log_scale_turns_the_value_axis_logarithmic_and_the_file_is_written(tmp_path):
    fig = pnl_figure(EQUITY, title="t", research_only=False, log_scale=True)
    assert fig.axes[0].get_yscale() == "log" and "log scale" in fig.axes[0].get_ylabel()
    path = plot_pnl(EQUITY, tmp_path / "pnl.png", title="t", research_only=True, events=SAME_DAY, log_scale=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_halt_ends_when_the_gate_returns_to_active():
    events = [*SAME_DAY, {"datetime": DAYS[25], "event": "gate_state", "detail": "HALTED -> ACTIVE: resumed"}]
    found = halts(events)
    assert [(h.event, h.start, h.end) for h in found] == [
        ("breaker_trip", DAYS[20], DAYS[25]),
        ("kill_switch", DAYS[20], DAYS[25]),
    ]
    assert all(h.end is None for h in halts(SAME_DAY))


def test_a_rearmed_trigger_ends_only_its_own_halt():
    events = [*SAME_DAY, {"datetime": DAYS[23], "event": "kill_switch_rearm", "detail": "vix trigger re-armed"}]
    found = {h.event: h.end for h in halts(events)}
    assert found == {"breaker_trip": None, "kill_switch": DAYS[23]}
