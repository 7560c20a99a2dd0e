"""HistoricalPacer: IB's three historical-data pacing rules, with a clock we move by hand."""

from __future__ import annotations

from spine.ib.pacer import HistoricalPacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(pacer: HistoricalPacer, clock: Clock, requests: list[tuple[str, tuple]]) -> list[float]:
    """Send each request as soon as the pacer allows; the send times."""
    sent = []
    for contract, key in requests:
        clock.now += pacer.wait_secs(contract, key)
        pacer.record(contract, key)
        sent.append(clock.now)
    return sent


def _violations(sent: list[tuple[float, str, tuple]]) -> list[str]:
    out = []
    for i, (t, c, k) in enumerate(sent):
        window = [s for s in sent[: i + 1] if s[0] > t - 600]
        if len(window) > 60:
            out.append(f"61 in 10 min at {t}")
        if any(s[2] == k and t - s[0] < 15 for s in sent[:i]):
            out.append(f"identical within 15 s at {t}")
        if sum(1 for s in sent[: i + 1] if s[1] == c and s[0] > t - 2) >= 6:
            out.append(f"6 for {c} within 2 s at {t}")
    return out


def test_a_100_ticker_warm_up_keeps_every_rule() -> None:
    clock = Clock()
    pacer = HistoricalPacer(clock)
    requests = [(f"T{i:03d}", (f"T{i:03d}", "", "1 Y", "1 day")) for i in range(100)]
    times = _run(pacer, clock, requests)
    sent = [(t, c, k) for t, (c, k) in zip(times, requests, strict=True)]
    assert _violations(sent) == []
    assert times[59] == 0.0 and times[60] > 600.0  # the 61st waits for the 10-minute window


def test_an_identical_request_waits_15_seconds() -> None:
    clock = Clock()
    pacer = HistoricalPacer(clock)
    key = ("ABC", "", "5 D", "1 day")
    times = _run(pacer, clock, [("ABC", key), ("ABC", key)])
    assert times[1] - times[0] > 15.0


def test_one_contract_gets_at_most_five_requests_in_two_seconds() -> None:
    clock = Clock()
    pacer = HistoricalPacer(clock)
    requests = [("ABC", ("ABC", f"2020010{i}", "1 D", "1 day")) for i in range(8)]
    times = _run(pacer, clock, requests)
    sent = [(t, c, k) for t, (c, k) in zip(times, requests, strict=True)]
    assert _violations(sent) == []
    assert times[4] == 0.0 and times[5] > 2.0
