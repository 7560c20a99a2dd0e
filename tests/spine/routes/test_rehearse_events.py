"""A rehearsal's events.csv does not depend on how fast it runs: the IB thread's kill comes with the next bar."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from spine.config import load_config
from spine.routes.rehearse import RehearseRequest, run_rehearsal
from tests.spine.routes.test_rehearse_parity import PAPER

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


def test_the_ib_threads_kill_switch_event_comes_with_the_bar_after_the_trigger(make_config_dir, tmp_path):
    result = run_rehearsal(
        RehearseRequest(
            config=load_config(make_config_dir({"config.yaml": PAPER})),
            data=(SAMPLE / "prices",),
            signals=SAMPLE / "signals.csv",
            start=date(2023, 4, 17),
            end=date(2023, 4, 28),
            out_dir=tmp_path,
            vix=SAMPLE / "vix.csv",
        )  # fmt: skip
    )
    events = pd.read_csv(result.run_dir / "events.csv", comment="#")
    days = pd.to_datetime(events["datetime"].str[:10]).dt.date
    trigger = days[events["event"] == "kill_switch"].tolist()
    executed = days[(events["event"] == "session_error") & events["detail"].str.contains("kill switch \\(on_trigger")]
    assert trigger == [date(2023, 4, 24)]
    assert executed.tolist() == [date(2023, 4, 25)]  # the next bar, however many days a second the rehearsal runs
