"""The ``brokers`` package: ``IBBroker`` is imported on first use, so a backtest loads nothing of the IB route."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IB_ROUTE = ("brokers.ib_broker", "spine.ib", "spine.gateway", "spine.feeds.live", "ib_async", "eventkit")


def test_a_backtest_imports_nothing_of_the_ib_route():
    code = (
        "import sys; import spine.routes.backtest; from brokers import SimBroker, RiskGate; "
        f"print(sorted(m for m in sys.modules if m.startswith({IB_ROUTE!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert ast.literal_eval(done.stdout.strip().splitlines()[-1]) == []


def test_ib_broker_is_imported_from_the_package_on_first_use():
    import brokers
    from brokers.ib_broker import IBBroker

    assert brokers.IBBroker is IBBroker
    assert "IBBroker" in brokers.__all__
