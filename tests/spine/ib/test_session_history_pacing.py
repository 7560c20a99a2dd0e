"""A 100-ticker warm-up through the session against a simulator enforcing IB's pacing: no error 162.

Both sides run IB's rules with every window scaled by 0.01 (10 minutes become 3 s), so
the warm-up takes seconds; the rules themselves are the same code paths as at scale 1.
"""

from __future__ import annotations

from brokers.fill_model import FillModel
from spine.gateway import GatewaySettings, GatewayThread
from spine.gateway.testing import enforce_history_pacing
from spine.ib import IBSession, SessionSettings, SessionState
from spine.ib.records import Bar, RequestHistory, SessionError

SCALE = 0.005
TICKERS = [f"T{i:03d}" for i in range(100)]


def test_a_100_ticker_warm_up_gets_every_ticker_and_no_pacing_violation(tmp_path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    for ticker in TICKERS:
        rows = [f"2020-01-{day:02d},10,11,9,10.5,1000" for day in (2, 3, 6, 7, 8)]
        (folder / f"{ticker.lower()}.csv").write_text("datetime,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    gateway = GatewayThread(GatewaySettings(data=(folder,), port=0, fill_model=FillModel())).start()
    session = None
    try:
        pacing = gateway.call(lambda: enforce_history_pacing(gateway.simulator, SCALE))
        session = IBSession(
            SessionSettings(port=gateway.port, client_id=2, state_dir=tmp_path / "state", pacing_scale=SCALE)
        ).start()
        assert session.wait_for_state(SessionState.ACTIVE, timeout=10)
        session.submit(RequestHistory(tuple(TICKERS), duration="1 W")).result(timeout=120)
        events = session.poll_events()
        bars = [e for e in events if isinstance(e, Bar)]
        assert {b.ticker for b in bars} == set(TICKERS) and all(b.warmup for b in bars)
        assert [e for e in events if isinstance(e, SessionError) and e.code == 162] == []
        assert gateway.call(lambda: pacing.violations) == 0
    finally:
        if session is not None:
            session.stop()
        gateway.stop()


def test_the_simulator_refuses_an_unpaced_burst_with_162(tmp_path) -> None:
    from ib_async import IB, Stock

    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "abc.csv").write_text("datetime,open,high,low,close,volume\n2020-01-02,10,11,9,10.5,1000\n")
    gateway = GatewayThread(GatewaySettings(data=(folder,), port=0, fill_model=FillModel())).start()
    ib = IB()
    try:
        pacing = gateway.call(lambda: enforce_history_pacing(gateway.simulator, 1.0))
        ib.connect("127.0.0.1", gateway.port, clientId=1, timeout=10)
        errors: list[int] = []
        ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
        contract = Stock("ABC", "SMART", "USD")
        for _ in range(2):  # the same request twice within 15 s
            ib.reqHistoricalData(contract, "", "1 D", "1 day", "TRADES", True, 1, timeout=5)
        assert 162 in errors and gateway.call(lambda: pacing.violations) == 1
    finally:
        ib.disconnect()
        gateway.stop()
