"""The paper route's fault campaign: `spine paper` against `spine gateway` under random faults.

The gateway simulator runs in this process (``GatewayThread``) replaying the real daily
prices in ``../shared/data`` (NVDA, ORCL, YHOO); ``spine paper`` runs as a subprocess on a
dense random signal file (longs, shorts, closes with weight 0, a share of propagated
signals). Once the session has fetched the newest bars (it asks for the last two days
once a minute), the replay clock moves on one or two days, so a fetch returns them two at
a time as after a missed release. Each fault cycle waits, injects one random fault from
the simulator's fault API (a dropped connection, a gateway restart with its order ids
rolled back, a swallowed order, an external fill on a ticker Spine does not trade), waits
again, and compares the
gateway's book with the session's journal (SQLite, read only). Every N faults the session
is killed with SIGKILL and started again; once it restarts on a deleted state folder, and
once a second session is started on the same state folder.

Counts (each should be 0):

    duplicated_orders        an orderRef the gateway received more than once
    lost_fills               an execution of one of Spine's orders the journal does not have
    fills_applied_twice      a journal fill the gateway never made, or more shares than an order filled
    position_mismatches      a check where the journal's fills and the gateway's positions differ
    orphan_legs              a working stop or take-profit that would open or enlarge a position
    unprotected_too_long     a position without a working stop for its full size for longer than the ack timeout
    double_exits             an exit fill on a flat position or one that carries it through zero
    session_crashes          a session that ended without being told to, or wrote a traceback
    restarts_never_active    a (re)start that did not print ``session ACTIVE`` in time
    second_session_ran       a second session on a busy state folder that was not refused at once

A difference seen at a check is read again after a short wait before it is counted
(a fill or a cancel may be on the wire). Each check also writes one line to ``checks.log``
in the campaign's folder (wall time, session start, positions and Spine's working legs), and
an ``unprotected_too_long`` example names the check that first saw the gap, so every example
can be read against the session logs and run folders. Exit 0 always: this is a measurement.

    .venv/bin/python benchmarks/chaos_paper.py [--faults 200] [--kills 20] [--seed 1] [--propagated 0.35]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spine.gateway import GatewaySettings, GatewaySimulator, GatewayThread  # noqa: E402
from spine.gateway.client import ClientConnection  # noqa: E402
from spine.gateway.protocol import InMsg  # noqa: E402
from spine.ib.journal import JOURNAL_FILE  # noqa: E402
from spine.ib.translation import parse_order_ref  # noqa: E402

DATA = REPO.parent / "shared" / "data"
PRICE_FILES = {"NVDA": "nvda-1999-2014.csv", "ORCL": "orcl-1995-2014.csv", "YHOO": "yhoo-1996-2014.csv"}
VIX_FILE = "vix-daily.csv"
OUTSIDE_TICKER = "XTRN"  # a stock Spine does not trade: the operator's manual trades in TWS land here
CASH = 100_000.0
CLIENT_ID = 7
SECOND_CLIENT_ID = 8
DEFAULT_ACK_TIMEOUT_SECS = 10.0
EPS = 1e-9
ENVELOPE = {
    "broker.mode": "paper",
    "broker.execution_enabled": True,
    "compliance.research_only_override": True,
    "risk.max_notional": 60_000,
    "risk.max_daily_loss": 50_000,
    "risk.max_sector_exposure": 1.0,
    "risk.max_positions": 10,
    "risk.max_price_deviation_pct": 0.2,
    "risk.max_orders_per_minute": 600,
}
COUNTS = (
    "duplicated_orders",
    "lost_fills",
    "fills_applied_twice",
    "position_mismatches",
    "orphan_legs",
    "unprotected_too_long",
    "double_exits",
    "session_crashes",
    "restarts_never_active",
    "second_session_ran",
)
FAULTS = ("drop", "restart", "blackhole")


@dataclass(frozen=True)
class Campaign:
    faults: int = 200
    kills: int = 20
    seed: int = 1
    propagated: float = 0.35
    start: str = "2012-01-03"
    settle_secs: float = 2.0  # wait after a fault before its check
    active_timeout_secs: float = 60.0
    signal_chance: float = 0.45  # per ticker per day
    short_share: float = 0.4
    close_share: float = 0.1
    external_fills: int = 1  # on OUTSIDE_TICKER, the last faults of the campaign
    out: Path | None = None


# -- inputs ------------------------------------------------------------------------------------


def set_dotted(body: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        body = body.setdefault(key, {})
    body[leaf] = value


def write_config(folder: Path) -> Path:
    """The shipped config with the envelope opened for paper and limits the campaign's sizes pass."""
    shutil.copytree(REPO / "config", folder)
    path = folder / "config.yaml"
    body = yaml.safe_load(path.read_text()) or {}
    for dotted, value in ENVELOPE.items():
        set_dotted(body, dotted, value)
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    sectors = folder / "sectors.yaml"
    table = yaml.safe_load(sectors.read_text()) or {}
    table.setdefault("sectors", {}).update({t: table["sectors"].get(t, "Technology") for t in PRICE_FILES})
    sectors.write_text(yaml.safe_dump(table, sort_keys=False))
    return folder


def write_prices(folder: Path) -> tuple[Path, ...]:
    """The three real price files, the VIX (for the kill switch), and a copy of ORCL's as the outside ticker."""
    folder.mkdir(parents=True)
    paths = []
    for name in PRICE_FILES.values():
        paths.append(folder / name)
        shutil.copy(DATA / name, paths[-1])
    shutil.copy(DATA / VIX_FILE, folder / VIX_FILE)
    paths.append(folder / VIX_FILE)
    outside = folder / f"{OUTSIDE_TICKER.lower()}-1995-2014.csv"
    shutil.copy(DATA / PRICE_FILES["ORCL"], outside)
    return (*paths, outside)


def trading_days(start: str, count: int) -> list[str]:
    dates = pd.read_csv(DATA / PRICE_FILES["NVDA"], usecols=["Date"])["Date"]
    return [d for d in dates if d >= start][:count]


def signal_row(rng: random.Random, day: str, ticker: str, campaign: Campaign) -> str:
    direction = "SELL" if rng.random() < campaign.short_share else "BUY"
    weight = 0.0 if rng.random() < campaign.close_share else round(rng.uniform(0.03, 0.12), 3)
    if rng.random() < campaign.propagated:
        source = rng.choice([t for t in PRICE_FILES if t != ticker])
        return f"{day},{ticker},{weight},{direction},propagated,{source}"
    return f"{day},{ticker},{weight},{direction},direct,"


def write_signals(path: Path, campaign: Campaign, rng: random.Random) -> Path:
    """About ``signal_chance`` of ticker-days carry a signal, over enough days for every bar the campaign releases."""
    rows = ["datetime,ticker,weight,direction,source_type,source_ticker"]
    for day in trading_days(campaign.start, 2 * campaign.faults + 40):
        rows += [signal_row(rng, day, t, campaign) for t in PRICE_FILES if rng.random() < campaign.signal_chance]
    path.write_text("\n".join(rows) + "\n")
    return path


def ack_timeout_secs(config: Path) -> float:
    body = yaml.safe_load((config / "config.yaml").read_text()) or {}
    value = body.get("trading", {}).get("ib", {}).get("ack_timeout_secs")
    return float(value) if value is not None else DEFAULT_ACK_TIMEOUT_SECS


# -- the session subprocess ---------------------------------------------------------------------


class PaperProcess:
    """One ``spine paper`` subprocess; its stderr is read on a thread and kept in ``log``."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.log = log
        self.active = threading.Event()
        self.lines: list[str] = []
        self.killed = False
        self.started = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True, env=env)  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.log.open("a") as out:
            for line in self.process.stderr:
                out.write(line)
                self.lines.append(line)
                if line.startswith("session ACTIVE"):
                    self.active.set()

    def wait_active(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive:
            if self.active.wait(0.1):
                return True
        return self.active.is_set()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def traceback(self) -> bool:
        return any(line.startswith("Traceback") for line in self.lines)

    def kill(self) -> None:
        self.killed = True
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self._reader.join(5)

    def interrupt(self, timeout: float = 60.0) -> int | None:
        """Ctrl-C; the exit code, or None when it had to be killed."""
        self.killed = True
        if not self.alive:
            return self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
            return None


def paper_command(config: Path, state: Path, signals: Path, port: int, out: Path, client_id: int) -> list[str]:
    return [sys.executable, "-m", "spine.cli", "paper", "--config", str(config), "--state", str(state),
            "--signals", str(signals), "--port", str(port), "--out", str(out), "--client-id", str(client_id)]  # fmt: skip


# -- the books ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayOrder:
    ref: str
    symbol: str
    action: str
    remaining: float
    filled: float
    working: bool  # live at the gateway: not done, not held, not waiting for its parent to fill


@dataclass(frozen=True)
class GatewayExec:
    exec_id: str
    symbol: str
    signed: float
    ref: str
    time: str = ""  # the bar it filled on


@dataclass(frozen=True)
class GatewayBook:
    orders: list[GatewayOrder]
    held_refs: list[str]
    executions: list[GatewayExec]
    positions: dict[str, float]


def read_gateway(gw: GatewayThread) -> GatewayBook:
    """The simulator's own book, read on its loop."""

    def read() -> GatewayBook:
        engine = gw.simulator.engine
        orders = [GatewayOrder(o.request.order_ref, o.request.symbol, o.request.action, o.remaining, o.filled,
                               not o.done and not o.waiting_for_parent) for o in engine.orders.values()]  # fmt: skip
        held = [getattr(o, "request", o).order_ref for o in engine.held.values()]
        executions = [GatewayExec(e.exec_id, e.instrument.symbol, e.shares if e.side == "BOT" else -e.shares, e.order_ref,
                                  e.time.isoformat())
                      for e in engine.executions]  # fmt: skip
        positions = {s: float(h.quantity) for s, h in gw.simulator.account.holdings.items() if abs(h.quantity) > EPS}
        return GatewayBook(orders, held, executions, positions)

    return gw.call(read)


@dataclass(frozen=True)
class JournalBook:
    fills: dict[str, tuple[str, float, str]]  # exec id -> (ticker, signed shares, orderRef)


def read_journal(state: Path) -> JournalBook:
    """The session's journal, opened read only (empty when the state folder is gone)."""
    path = state / JOURNAL_FILE
    if not path.is_file():
        return JournalBook({})
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute("SELECT exec_id, ticker, side, shares, order_ref FROM fills").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return JournalBook({})
    sign = {"BUY": 1.0, "BOT": 1.0, "SELL": -1.0, "SLD": -1.0}
    return JournalBook({str(e): (str(t).upper(), sign.get(str(s).upper(), 0.0) * float(q), str(r))
                        for e, t, s, q, r in rows})  # fmt: skip


def is_spines(ref: str) -> bool:
    return parse_order_ref(ref) is not None


def role_of(ref: str) -> str:
    parsed = parse_order_ref(ref)
    return parsed.role if parsed is not None else ""


# -- the measures (each a pure function of the books) -------------------------------------------


def duplicated_refs(book: GatewayBook) -> set[str]:
    counts = Counter([o.ref for o in book.orders] + book.held_refs)
    return {ref for ref, n in counts.items() if ref and n > 1}


def lost_fills(book: GatewayBook, journal: JournalBook) -> set[str]:
    return {e.exec_id for e in book.executions if is_spines(e.ref) and e.exec_id not in journal.fills}


def fills_applied_twice(book: GatewayBook, journal: JournalBook) -> set[str]:
    """Journal fills the gateway never made, and orderRefs whose journal shares exceed the gateway's."""
    made = {e.exec_id for e in book.executions}
    phantom = {exec_id for exec_id in journal.fills if exec_id not in made}
    journal_shares: Counter[str] = Counter()
    for _, signed, ref in journal.fills.values():
        journal_shares[ref] += abs(signed)
    gateway_shares: Counter[str] = Counter()
    for e in book.executions:
        gateway_shares[e.ref] += abs(e.signed)
    over = {f"ref:{ref}" for ref, shares in journal_shares.items() if shares > gateway_shares[ref] + EPS}
    return phantom | over


def spine_positions(book: GatewayBook) -> dict[str, float]:
    """The gateway's positions in the tickers Spine trades (the outside ticker's manual trades left out)."""
    return {t: q for t, q in book.positions.items() if t in PRICE_FILES}


def journal_positions(journal: JournalBook) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for ticker, signed, ref in journal.fills.values():
        if is_spines(ref):
            totals[ticker] += signed
    return {t: q for t, q in totals.items() if abs(q) > EPS}


def position_mismatch(book: GatewayBook, journal: JournalBook) -> dict[str, tuple[float, float]]:
    ours, theirs = journal_positions(journal), spine_positions(book)
    return {t: (theirs.get(t, 0.0), ours.get(t, 0.0)) for t in set(ours) | set(theirs)
            if abs(theirs.get(t, 0.0) - ours.get(t, 0.0)) > EPS}  # fmt: skip


def closing_side(position: float) -> str:
    return "SELL" if position > 0 else "BUY"


def orphan_legs(book: GatewayBook) -> set[str]:
    """Working stops and take-profits that would open a position or enlarge one if they filled."""
    orphans = set()
    for o in book.orders:
        if not o.working or role_of(o.ref) not in ("stop", "take_profit"):
            continue
        position = book.positions.get(o.symbol, 0.0)
        if abs(position) <= EPS or o.action != closing_side(position) or o.remaining > abs(position) + EPS:
            orphans.add(o.ref)
    return orphans


def unprotected(book: GatewayBook) -> set[str]:
    """Tickers whose position lacks a working stop for its full size."""
    gaps = set()
    for ticker, position in spine_positions(book).items():
        stops = [o for o in book.orders if o.working and o.symbol == ticker and role_of(o.ref) == "stop"]
        covered = sum(o.remaining for o in stops if o.action == closing_side(position))
        if covered + EPS < abs(position):
            gaps.add(ticker)
    return gaps


def double_exits(book: GatewayBook) -> set[str]:
    """Exit fills that close more than the position held before their bar, or on its wrong side.

    Fills of one ticker on one bar (same time) are taken together: a reversal's exit and its
    new entry fill on the same open in either order.
    """
    running: Counter[str] = Counter()
    found = set()
    in_bars = sorted(book.executions, key=lambda e: (e.time, e.symbol))  # stable: the gateway's order within a bar
    for _, group in groupby(in_bars, key=lambda e: (e.time, e.symbol)):
        fills = list(group)
        symbol, before = fills[0].symbol, running[fills[0].symbol]
        exits = [e for e in fills if role_of(e.ref) == "exit"]
        closed = sum(-e.signed if before > 0 else e.signed for e in exits)
        if exits and (abs(before) <= EPS or closed > abs(before) + EPS):
            found |= {e.exec_id for e in exits}
        running[symbol] += sum(e.signed for e in fills)
    return found


class HistoryRequests:
    """Counts the historical-data requests the gateway answers (the session's bar fetches)."""

    def __init__(self) -> None:
        self.count = 0

    def install(self, sim: GatewaySimulator) -> None:
        answer = sim.handlers.handler_for(InMsg.REQ_HISTORICAL_DATA)
        assert answer is not None

        def counted(session: ClientConnection, fields: list[str]) -> Awaitable[None] | None:
            self.count += 1
            return answer(session, fields)

        sim.handlers.intercept(InMsg.REQ_HISTORICAL_DATA, counted)


# -- the campaign --------------------------------------------------------------------------------


@dataclass
class Tally:
    seen: dict[str, set[str]] = field(default_factory=lambda: {name: set() for name in COUNTS})
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    checks: int = 0
    orders: int = 0  # Spine's orders the gateway received, at the last check
    fills: int = 0  # executions of Spine's orders at the gateway, at the last check
    restart_secs: list[float] = field(default_factory=list)
    unprotected_since: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, keys: set[str]) -> None:
        self.seen[name] |= keys

    def counts(self) -> dict[str, int]:
        return {name: len(self.seen[name]) for name in COUNTS}


class Chaos:
    """One campaign: the gateway, the session, the faults and the tally."""

    def __init__(self, campaign: Campaign, work: Path) -> None:
        self.campaign = campaign
        self.rng = random.Random(campaign.seed)
        self.work = work
        self.config = write_config(work / "config")
        self.prices = write_prices(work / "prices")
        self.signals = write_signals(work / "signals.csv", campaign, self.rng)
        self.state = work / "state"
        self.ack_timeout = ack_timeout_secs(self.config)
        self.tally = Tally()
        self.gateway = GatewayThread(GatewaySettings(data=self.prices, port=0, cash=CASH, start=campaign.start))
        self.session: PaperProcess | None = None
        self.starts = 0
        self.history = HistoryRequests()
        self.fetches_at_step = 0
        self.first_seen: dict[str, str] = {}  # ticker -> the check that first saw its running gap in protection

    # -- sessions

    def start_session(self, client_id: int = CLIENT_ID) -> PaperProcess:
        self.starts += 1
        command = paper_command(self.config, self.state, self.signals, self.gateway.port, self.work / "runs", client_id)
        return PaperProcess(command, self.work / f"session-{self.starts}.log")

    def restart_session(self) -> None:
        began = time.monotonic()
        self.session = self.start_session()
        if self.session.wait_active(self.campaign.active_timeout_secs):
            self.tally.restart_secs.append(time.monotonic() - began)
        else:
            self.tally.add("restarts_never_active", {f"start {self.starts}"})

    def ensure_session(self) -> None:
        """A session that ended on its own (or wrote a traceback) is a crash; start another."""
        s = self.session
        if s is not None and s.traceback:
            self.tally.add("session_crashes", {f"start {self.starts}: traceback"})
        if s is None or s.alive:
            return
        self.tally.add("session_crashes", {f"start {self.starts}: exit {s.process.returncode}"})
        self.restart_session()

    def kill_and_restart(self, delete_state: bool = False) -> None:
        assert self.session is not None
        self.session.kill()
        self.tally.kills += 1
        if delete_state:
            shutil.rmtree(self.state, ignore_errors=True)
        self.restart_session()

    def second_session(self) -> None:
        """A second session on the busy state folder must refuse at once; one still running after ACTIVE ran."""
        other = self.start_session(SECOND_CLIENT_ID)
        became_active = other.wait_active(20.0)
        if became_active:
            time.sleep(self.campaign.settle_secs)
            self.tally.add("second_session_ran", {f"start {self.starts}"})
        other.kill()

    # -- faults

    def release_bars(self) -> None:
        """One or two new days once the session has fetched the last ones (it fetches once a minute, the last 2 days)."""
        if self.history.count > self.fetches_at_step:
            self.fetches_at_step = self.history.count
            self.gateway.step(self.rng.choice((1, 2)))

    def inject(self, kind: str) -> None:
        self.tally.faults[kind] += 1
        if kind == "drop":
            self.gateway.drop_connections()
        elif kind == "restart":
            self.gateway.restart(self.rng.randint(0, 3))
        elif kind == "blackhole":
            self.gateway.blackhole()
        elif kind == "external_fill":
            self.gateway.external_fill(OUTSIDE_TICKER, float(self.rng.choice((-100, 100))))

    def fault_kind(self, index: int) -> str:
        if index >= self.campaign.faults - self.campaign.external_fills:
            return "external_fill"
        return self.rng.choice(FAULTS)

    # -- checks

    def measure(self) -> dict[str, set[str]]:
        """The settled measures, each a set of keys, on one read of both books."""
        book, journal = read_gateway(self.gateway), read_journal(self.state)
        mismatch = position_mismatch(book, journal)
        return {
            "lost_fills": lost_fills(book, journal),
            "fills_applied_twice": fills_applied_twice(book, journal),
            "position_mismatches": {f"{t} gateway {g:g} journal {q:g}" for t, (g, q) in mismatch.items()},
            "orphan_legs": orphan_legs(book),
        }

    def settled(self) -> dict[str, set[str]]:
        """What the measures find now and still find after a short wait (a fill or a cancel may be on the wire)."""
        first = self.measure()
        if not any(first.values()):
            return first
        time.sleep(min(1.0, self.campaign.settle_secs))
        again = self.measure()
        return {name: keys & again[name] for name, keys in first.items()}

    def check(self) -> None:
        self.tally.checks += 1
        book = read_gateway(self.gateway)
        self.tally.orders = sum(1 for ref in [o.ref for o in book.orders] + book.held_refs if is_spines(ref))
        self.tally.fills = sum(1 for e in book.executions if is_spines(e.ref))
        self.tally.add("duplicated_orders", duplicated_refs(book))
        self.tally.add("double_exits", double_exits(book))
        found = self.settled()
        mismatch = found.pop("position_mismatches")
        if mismatch:  # counted once per check
            self.tally.add("position_mismatches", {f"check {self.tally.checks}: {', '.join(sorted(mismatch))}"})
        for name, keys in found.items():
            self.tally.add(name, keys)
        book = read_gateway(self.gateway)
        self.trace(book)
        self.watch_protection(book)

    def watch_protection(self, book: GatewayBook) -> None:
        now = time.monotonic()
        gaps = unprotected(book)
        since = self.tally.unprotected_since
        for ticker in list(since):
            if ticker not in gaps:
                del since[ticker]
        for ticker in gaps:
            first = since.setdefault(ticker, now)
            if now - first > self.ack_timeout:
                self.tally.add("unprotected_too_long", {f"{ticker} from {self.first_seen[ticker]}"})
            elif first == now:
                self.first_seen[ticker] = f"check {self.tally.checks} at {time.strftime('%H:%M:%S')}"

    def trace(self, book: GatewayBook) -> None:
        """One line per check in ``checks.log``: the wall time, positions and Spine's working legs per ticker."""
        legs = sorted(f"{o.symbol} {role_of(o.ref)} {o.action} {o.remaining:g}" for o in book.orders
                      if o.working and role_of(o.ref) in ("stop", "take_profit"))  # fmt: skip
        positions = {t: round(q) for t, q in sorted(spine_positions(book).items())}
        line = f"{time.strftime('%H:%M:%S')} check {self.tally.checks} start {self.starts} positions {positions} legs {legs}"
        with (self.work / "checks.log").open("a") as out:
            out.write(line + "\n")

    # -- the run

    def schedule(self) -> tuple[set[int], int, int]:
        """Fault indexes after which the session is killed, the one on a deleted state folder, the second session."""
        c = self.campaign
        every = max(1, c.faults // (c.kills + 1)) if c.kills else c.faults + 1
        kills = {i for i in range(c.faults) if (i + 1) % every == 0}
        kills = set(sorted(kills)[: c.kills])
        ordered = sorted(kills)
        deleted = ordered[len(ordered) // 2] if ordered else -1
        return kills, deleted, c.faults * 2 // 3

    def cycle(self, index: int, kills: set[int], deleted: int, second: int) -> None:
        self.ensure_session()
        self.release_bars()
        time.sleep(self.rng.uniform(0.3, 1.0) * self.campaign.settle_secs)
        self.inject(self.fault_kind(index))
        time.sleep(self.campaign.settle_secs)
        self.check()
        if index == second:
            self.second_session()
        if index in kills:
            self.kill_and_restart(delete_state=index == deleted)

    def run(self) -> dict[str, object]:
        began = time.monotonic()
        self.gateway.start()
        self.gateway.call(lambda: self.history.install(self.gateway.simulator))
        try:
            self.restart_session()
            kills, deleted, second = self.schedule()
            for index in range(self.campaign.faults):
                self.cycle(index, kills, deleted, second)
            self.ensure_session()
            self.check()
            self.write_book()
        finally:
            self.finish()
            self.gateway.stop()
        return self.result(time.monotonic() - began)

    def write_book(self) -> None:
        """The gateway's final book, for reading a count's examples against (``gateway_book.json``)."""
        book = read_gateway(self.gateway)
        body = {"orders": [o.__dict__ for o in book.orders], "held": book.held_refs,
                "executions": [e.__dict__ for e in book.executions], "positions": book.positions}  # fmt: skip
        (self.work / "gateway_book.json").write_text(json.dumps(body, indent=1) + "\n")

    def finish(self) -> None:
        s = self.session
        if s is None:
            return
        if not s.alive and not s.killed:
            self.tally.add("session_crashes", {f"start {self.starts}: exit {s.process.returncode}"})
        code = s.interrupt()
        if code not in (0, None) or s.traceback:
            self.tally.add("session_crashes", {f"start {self.starts}: Ctrl-C exit {code}"})

    def result(self, seconds: float) -> dict[str, object]:
        t = self.tally
        return {
            **t.counts(),
            "faults": sum(t.faults.values()),
            "fault_kinds": dict(sorted(t.faults.items())),
            "kills": t.kills,
            "checks": t.checks,
            "orders": t.orders,
            "fills": t.fills,
            "starts": self.starts,
            "restart_active_secs_max": round(max(t.restart_secs), 2) if t.restart_secs else None,
            "seed": self.campaign.seed,
            "propagated": self.campaign.propagated,
            "seconds": round(seconds, 1),
            "examples": {name: sorted(keys)[:5] for name, keys in t.seen.items() if keys},
        }


def run_campaign(campaign: Campaign) -> dict[str, object]:
    """Run one campaign in a new folder under ``campaign.out`` (kept, with ``result.json``; default: a temporary
    folder, removed after) and return its counts."""
    if campaign.out is not None:
        campaign.out.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="chaos-", dir=campaign.out))
        result = Chaos(campaign, work).run()
        (work / "result.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        return result
    with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
        return Chaos(campaign, Path(folder)).run()


def table(result: dict[str, object]) -> str:
    lines = [f"{'measure':<24} {'count':>6}", f"{'-' * 24} {'-' * 6}"]
    lines += [f"{name:<24} {result[name]:>6}" for name in COUNTS]
    lines.append(f"faults {result['faults']} {result['fault_kinds']}, kills {result['kills']}, "
                 f"checks {result['checks']}, starts {result['starts']}, "
                 f"orders {result['orders']}, fills {result['fills']}, "
                 f"slowest restart to ACTIVE {result['restart_active_secs_max']} s, {result['seconds']} s")  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> Campaign:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faults", type=int, default=200, help="faults to inject")
    p.add_argument("--kills", type=int, default=20, help="kill -9 and restarts of the session, spread over the faults")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--propagated", type=float, default=0.35, help="share of propagated signals")
    p.add_argument("--start", default="2012-01-03", help="the replay's first day (YYYY-MM-DD)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds to wait after each fault before its check")
    p.add_argument("--out", type=Path, default=None, help="keep the campaign's folder (logs, journal, runs) here")
    a = p.parse_args(argv)
    return Campaign(faults=a.faults, kills=a.kills, seed=a.seed, propagated=a.propagated, start=a.start,
                    settle_secs=a.settle, out=a.out)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    result = run_campaign(parse_args(argv))
    print(json.dumps(result, sort_keys=True))
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
