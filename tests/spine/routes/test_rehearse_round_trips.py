"""A rehearsal is linear in its days: each simulated day costs one round trip to the simulator's thread.

Every call a rehearsal makes into the in-process simulator goes through ``GatewayThread.run``
(``call``, ``step``, ``position``); counted over two windows of the bundled sample with its
VIX (every future VIX bar is buffered from the start), the round trips an extra day costs
must not grow with the window.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from spine.config import load_config
from spine.gateway.thread import GatewayThread
from spine.routes.rehearse import RehearseRequest, run_rehearsal
from tests.spine.routes.test_rehearse_parity import PAPER

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


def round_trips(config_dir: Path, end: date, out: Path, monkeypatch) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(round trips to the simulator's thread, simulated days) of one rehearsal from 2021-01-26 to ``end``."""
    count = {"n": 0}
    real_run = GatewayThread.run

    def counted(self, coro):  # type: ignore[no-untyped-def]
        count["n"] += 1
        return real_run(self, coro)

    monkeypatch.setattr(GatewayThread, "run", counted)
    result = run_rehearsal(
        RehearseRequest(
            config=load_config(config_dir),
            data=(SAMPLE / "prices",),
            signals=SAMPLE / "signals.csv",
            start=date(2021, 1, 26),
            end=end,
            out_dir=out,
            vix=SAMPLE / "vix.csv",
        )  # fmt: skip
    )
    monkeypatch.setattr(GatewayThread, "run", real_run)
    return count["n"], int(result.summary["simulator_steps"])


def test_the_round_trips_per_simulated_day_do_not_grow_with_the_window(make_config_dir, tmp_path, monkeypatch):
    config = make_config_dir({"config.yaml": PAPER})
    short_calls, short_days = round_trips(config, date(2021, 2, 5), tmp_path / "short", monkeypatch)
    long_calls, long_days = round_trips(config, date(2021, 3, 19), tmp_path / "long", monkeypatch)
    assert long_days >= short_days + 25
    per_extra_day = (long_calls - short_calls) / (long_days - short_days)
    assert per_extra_day <= short_calls / short_days  # the set-up's fixed calls spread over fewer days
    assert per_extra_day <= 1  # the step, answered with the executions count, the account and the day's tickers
