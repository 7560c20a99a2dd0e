"""Benchmark ``spine dashboard``: journal write → browser update latency, and the dashboard's CPU idle and in a burst.

A real ``spine dashboard`` process watches one state folder; headless Chromium (Debian's
``chromium`` and ``chromium-driver``, through Selenium) has its page open. This script
writes to the folder's journal with ``spine.ib.journal.Journal``, exactly the writes a
session makes:

- latency: ``--writes`` fills, one at a time; each one's latency is from just before its
  commit (``time.time()``) to the moment the page first rendered its row (the page's own
  ``Date.now()``, recorded in the row's ``data-first-seen``: the same machine clock);
- idle CPU: the dashboard's CPU seconds (``/proc/PID/stat``) over ``--idle-secs`` with the
  page open and nothing written;
- burst: 200 signals' brackets (600 orders, in 200 transactions, as fast as SQLite takes
  them), then every order acknowledged; the dashboard's CPU over the burst until the page
  shows all 600 working orders, and how long that took.

    .venv/bin/python benchmarks/bench_dashboard.py [--writes 50] [--idle-secs 10]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from spine.ib.journal import Journal, JournalOrder

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_secs(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--proxy-server=http://127.0.0.1:9", "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"not within {timeout} s: {what}")
        time.sleep(0.01)
    return value


def bracket(intent: int, first_id: int) -> list[JournalOrder]:
    ref = f"LIVE_SPINE:B{intent:04d}-1:{{}}:1"
    tid = f"B{intent:04d}-1"
    entry = JournalOrder(first_id, 0, ref.format("entry"), tid, "entry", "ALPH", "BUY", 10.0, "MKT", None, None, 0,
                         "", "Submitted", False, 0.0)  # fmt: skip
    tp = JournalOrder(first_id + 1, 0, ref.format("take_profit"), tid, "take_profit", "ALPH", "SELL", 10.0, "LMT",
                      12.0, None, first_id, f"oca{intent}", "Submitted", False, 0.0)  # fmt: skip
    stop = JournalOrder(first_id + 2, 0, ref.format("stop"), tid, "stop", "ALPH", "SELL", 10.0, "STP", None, 9.0,
                        first_id, f"oca{intent}", "Submitted", False, 0.0)  # fmt: skip
    return [entry, tp, stop]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--idle-secs", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        journal = Journal.in_folder(state)
        log = Path(tmp) / "dashboard.log"
        proc = subprocess.Popen([sys.executable, "-m", "spine.cli", "dashboard", "--state", str(state), "--port", "0"],
                                stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=REPO)  # fmt: skip
        driver = None
        try:
            url = wait(lambda: re.search(r"http://\S+token=\S+", log.read_text()), 30, "the URL").group(0)
            driver = browser()
            driver.get(url)
            wait(lambda: driver.execute_script("return window.spinePayloads || 0"), 10, "the first payload")

            latencies = []
            for i in range(args.writes):
                exec_id = f"bench-{i}"
                written = time.time() * 1000
                journal.record_fill(exec_id, 1, 0, "LIVE_SPINE:ALPH-1:entry:1", "ALPH", "BUY", 1.0, 10.0, 0.0,
                                    datetime.now(UTC))  # fmt: skip
                seen = wait(lambda e=exec_id: driver.execute_script(
                    f"const r = document.querySelector('[data-exec-id=\"{e}\"]'); return r && Number(r.dataset.firstSeen)"),
                    10, f"fill {exec_id} on the page")  # fmt: skip
                latencies.append(seen - written)
                time.sleep(0.05)
            latencies.sort()
            print("latencies (ms):", " ".join(f"{v:.0f}" for v in latencies))
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
            print(f"journal write -> page: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms "
                  f"({len(latencies)} writes)")  # fmt: skip

            time.sleep(1.0)
            before, start = cpu_secs(proc.pid), time.monotonic()
            time.sleep(args.idle_secs)
            idle = (cpu_secs(proc.pid) - before) / (time.monotonic() - start)
            print(f"idle (page open, nothing written): {idle * 100:.1f}% of one core over {args.idle_secs:.0f} s")

            before, start = cpu_secs(proc.pid), time.monotonic()
            for n in range(200):
                orders = bracket(n, 1000 + 3 * n)
                journal.record_submissions(
                    orders, intent=(orders[0].intent_id, "ALPH", "BUY", 10.0, "LIVE_SPINE", "bracket")
                )
            for n in range(200):
                for order_id in (1000 + 3 * n, 1001 + 3 * n, 1002 + 3 * n):
                    journal.record_status(order_id, "Accepted", ib_status="Submitted", acknowledged=True)
            written = time.monotonic() - start
            wait(lambda: driver.execute_script(
                "return [...document.querySelectorAll('#working tbody tr .status')]"
                ".filter(c => c.textContent === 'Accepted').length") == 600, 60, "600 working orders on the page")  # fmt: skip
            shown = time.monotonic() - start
            burst = (cpu_secs(proc.pid) - before) / shown
            print(f"200-signal burst (600 orders, 800 transactions written in {written:.2f} s): page showed all 600 "
                  f"after {shown:.2f} s; dashboard CPU {burst * 100:.0f}% of one core over that time")  # fmt: skip
        finally:
            if driver is not None:
                driver.quit()
            proc.terminate()
            proc.wait(10)
            journal.close()


if __name__ == "__main__":
    main()
