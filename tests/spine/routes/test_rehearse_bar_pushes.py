"""A rehearsal's daily bars come pushed to its open history requests; without the pushes it asks, and trades the same.

Real parts throughout: the ib_async client of an ``IBSession`` over loopback against the
in-process gateway simulator. Only the warm-up's requests are made without keepUpToDate,
so no bar is pushed and the lockstep driver falls back to asking for each day's bars.
"""

from __future__ import annotations

from datetime import date

from spine.config import load_config
from spine.routes import rehearse
from spine.routes.rehearse import RehearseRequest, run_rehearsal
from spine.routes.session import LockstepDriver
from tests.spine.cli.test_paper import HEADER, PAPER, SAMPLE_PRICES


class AskingSoon(LockstepDriver):
    """The lockstep driver, giving up on pushed bars after 50 ms instead of 2 s."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs, bar_push_grace_secs=0.05)
        self.asked = 0

    def _request_day(self, pump) -> None:  # type: ignore[no-untyped-def]
        self.asked += 1
        super()._request_day(pump)


def rehearse_once(config_dir, signals, out):  # type: ignore[no-untyped-def]
    return run_rehearsal(
        RehearseRequest(
            config=load_config(config_dir),
            data=(SAMPLE_PRICES,),
            signals=signals,
            start=date(2023, 10, 30),
            end=date(2023, 11, 10),
            out_dir=out,
        )  # fmt: skip
    )


def test_without_pushed_bars_a_rehearsal_asks_for_each_day_and_sends_the_same_orders(
    make_config_dir, tmp_path, monkeypatch
) -> None:
    config = make_config_dir({"config.yaml": PAPER})
    signals = tmp_path / "signals.csv"
    signals.write_text(HEADER + "2023-10-30,ALPH,0.05,BUY,direct,\n2023-11-06,ALPH,0,SELL,direct,\n")
    pushed = rehearse_once(config, signals, tmp_path / "pushed")
    drivers: list[AskingSoon] = []

    def driver(*args, **kwargs):  # type: ignore[no-untyped-def]
        drivers.append(AskingSoon(*args, **kwargs))
        return drivers[-1]

    def history_not_kept(*args, keep_up_to_date: bool = False, **kwargs):  # type: ignore[no-untyped-def]
        return real_fetch(*args, keep_up_to_date=False, **kwargs)

    real_fetch = rehearse.fetch_history
    monkeypatch.setattr(rehearse, "LockstepDriver", driver)
    monkeypatch.setattr(rehearse, "fetch_history", history_not_kept)
    asked = rehearse_once(config, signals, tmp_path / "asked")
    (used,) = drivers
    assert used.asked == used.steps > 0  # every day's bars were asked for: none came pushed
    fields = ("order_id", "ticker", "side", "size", "status", "role")
    assert [{k: r[k] for k in fields} for r in asked.orders] == [{k: r[k] for k in fields} for r in pushed.orders]
    assert [(f["ticker"], f["side"], f["size"], f["price"]) for f in asked.fills] == [
        (f["ticker"], f["side"], f["size"], f["price"]) for f in pushed.fills
    ]
    assert len(asked.equity) == len(pushed.equity) and asked.final_cash == pushed.final_cash
    assert any(r["role"] == "exit" for r in pushed.orders)  # the window traded in and out
