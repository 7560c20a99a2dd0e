"""What one state folder shows: the session, NAV, positions with their legs, orders, fills, P&L by tag, the gate.

``read_folder`` reads the state store (``spine_state.sqlite3``) and the IB journal
(``ib_journal.sqlite3``, with the tables ``spine.ib.snapshots`` adds) read-only and returns
one JSON-ready ``dict`` for the page. ``folder_view`` does the arithmetic on rows already
read, without a file: positions are the journal's fills plus its accepted baseline (what
Spine holds, as the session's reconcile counts it), marked at the latest account
snapshot's price; a position whose working orders hold no stop on the closing side is
``unprotected`` and listed first.

Money is rounded to the cent; prices keep the tick's digits. The ATR a bracket was priced
with is recovered from its own legs: the stop sits ``atr_multiplier`` ATRs from the entry
and the take-profit ``take_profit_atr`` ATRs on the other side, so their gap is
``atr_multiplier + take_profit_atr`` ATRs.
"""

from __future__ import annotations

import bisect
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from spine.dashboard.readonly import Reader
from spine.ib.halt import HALT_AT_META, HALT_META
from spine.ib.journal import JOURNAL_FILE
from spine.ib.translation import parse_order_ref
from spine.safety.state_lock import LOCK_FILE
from spine.safety.state_store import STATE_FILE
from spine.safety.vix_line import VixReading, vix_state

TERMINAL = ("Completed", "Canceled", "Expired", "Margin", "Rejected", "Lost")
STATE_LABELS = {"SYNCING": "RECONCILING"}  # the word for reconcile-before-trade
RECENT_FILLS = 50
NAV_POINTS = 2000


@dataclass(frozen=True)
class ViewSettings:
    """What the arithmetic needs beyond the files (from the config the dashboard loaded)."""

    atr_multiplier: float = 2.0
    take_profit_atr: float = 3.0
    max_1d_drawdown_pct: float = 0.05
    breaker_enabled: bool = True
    vix_max_age_secs: float = 120.0
    stale_after_secs: float = 3.0  # a session whose pulse (every second) is older than this is not running


def cents(value: float | None) -> float | None:
    return None if value is None else round(value + 0.0, 2)


def read_folder(state_dir: Path, settings: ViewSettings, now: datetime | None = None) -> dict[str, Any]:
    """The page's view of ``state_dir``, read now (read-only: nothing in the folder is created or changed)."""
    now = now or datetime.now(UTC)
    journal = Reader(state_dir / JOURNAL_FILE)
    store = Reader(state_dir / STATE_FILE)
    (status, states, snapshots, orders, fills, intents, baseline, meta) = journal.many([
        ("SELECT state, since, reason, account, host, port, client_id, pid, started_at, pulse_at FROM session_status", ()),
        ("SELECT at, old, new, reason FROM session_states ORDER BY seq DESC LIMIT 50", ()),
        ("SELECT at, account, nav, cash, positions, vix, vix_at, vix_missing FROM account_snapshots "
         "ORDER BY seq DESC LIMIT ?", (NAV_POINTS,)),
        ("SELECT order_id, perm_id, order_ref, intent_id, role, ticker, side, quantity, order_type, price, aux_price, "
         "parent_id, status, filled, updated_at FROM orders ORDER BY order_id", ()),
        ("SELECT exec_id, order_id, order_ref, ticker, side, shares, price, commission, at FROM fills ORDER BY at, exec_id", ()),
        ("SELECT intent_id, tag, kind FROM intents", ()),
        ("SELECT ticker, shares FROM position_baseline", ()),
        ("SELECT key, value FROM meta WHERE key IN (?, ?)", (HALT_META, HALT_AT_META)),
    ])  # fmt: skip
    breaker, kill, triggers, navs = store.many([
        ("SELECT tripped, tripped_at, reason FROM breaker WHERE id=1", ()),
        ("SELECT active, cause, reason, at FROM kill_switch WHERE id=1", ()),
        ("SELECT at, source, cause, detail FROM triggers ORDER BY id DESC LIMIT 100", ()),
        ("SELECT ts, nav FROM nav_history WHERE retired=0 ORDER BY ts DESC LIMIT ?", (NAV_POINTS,)),
    ])  # fmt: skip
    view = folder_view(
        status=status[0] if status else None, states=states, snapshots=list(reversed(snapshots)), orders=orders,
        fills=fills, intents=intents, baseline=baseline, halt=dict(meta), breaker=breaker[0] if breaker else None,
        kill=kill[0] if kill else None, triggers=triggers, navs=list(reversed(navs)), settings=settings, now=now,
    )  # fmt: skip
    view["folder"] = str(state_dir)
    view["holder"] = lock_holder(state_dir)
    view["problems"] = journal.problems + store.problems
    view["found"] = (state_dir / JOURNAL_FILE).is_file() or (state_dir / STATE_FILE).is_file()
    return view


def lock_holder(state_dir: Path) -> dict[str, Any] | None:
    """The session lock's record (pid, start, command), read without taking the lock; None when empty."""
    try:
        text = (state_dir / LOCK_FILE).read_text()
        data = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    alive = isinstance(pid, int) and os.path.exists(f"/proc/{pid}")
    return {"pid": pid, "started": data.get("started", ""), "command": data.get("command", ""), "alive": alive}


def folder_view(*, status: tuple | None, states: list[tuple], snapshots: list[tuple], orders: list[tuple],
                fills: list[tuple], intents: list[tuple], baseline: list[tuple], halt: dict[str, str],
                breaker: tuple | None, kill: tuple | None, triggers: list[tuple], navs: list[tuple],
                settings: ViewSettings, now: datetime) -> dict[str, Any]:  # fmt: skip
    """The page's view from rows already read (pure: see ``read_folder`` for the queries)."""
    tags = {str(i[0]): str(i[1]) for i in intents}
    last = snapshots[-1] if snapshots else None
    marks = _marks(last)
    working = [_order(o, tags) for o in orders if o[12] not in TERMINAL]
    positions = _positions(fills, baseline, marks, working, settings)
    nav_series = [[s[0], s[2]] for s in snapshots if s[2] is not None]
    session = _session(status, states, last, now, settings)
    return {
        "now": now.isoformat(),
        "session": session,
        "account": _account(snapshots, navs, settings),
        "nav": nav_series,
        "drawdown": drawdown_series(nav_series),
        "positions": positions,
        "working": working,
        "fills": [_fill(f, tags) for f in fills[-RECENT_FILLS:]][::-1],
        "pnl_by_tag": pnl_by_tag(fills, tags, marks),
        "gate": _gate(breaker, kill, halt, triggers),
        "vix": _vix(last, session, now, settings),
    }


def _session(status: tuple | None, states: list[tuple], last: tuple | None, now: datetime,
             settings: ViewSettings) -> dict[str, Any]:  # fmt: skip
    if status is None:
        return {"state": "NONE", "label": "no session recorded", "running": False, "stale": True, "history": []}
    state, since, reason, account, host, port, client_id, pid, started_at, pulse_at = status
    age = (now - datetime.fromisoformat(pulse_at)).total_seconds()
    running = age <= settings.stale_after_secs
    return {
        "state": state,
        "label": STATE_LABELS.get(state, state),
        "since": since,
        "reason": reason,
        "account": account or (last[1] if last else ""),
        "where": f"{host}:{port} client {client_id}",
        "pid": pid,
        "started_at": started_at,
        "last_heartbeat": pulse_at,
        "heartbeat_age_secs": round(age, 1),
        "running": running,
        "stale": not running,
        "history": [{"at": a, "old": o, "new": STATE_LABELS.get(n, n), "reason": r} for a, o, n, r in states],
    }


def _marks(last: tuple | None) -> dict[str, float]:
    """ticker -> price per share from the latest account snapshot (market value / position, else average cost)."""
    if last is None:
        return {}
    out: dict[str, float] = {}
    for symbol, position, avg_cost, market_value in json.loads(last[4] or "[]"):
        if position and market_value is not None:
            out[str(symbol)] = abs(float(market_value) / float(position))
        elif avg_cost:
            out[str(symbol)] = float(avg_cost)
    return out


def _order(row: tuple, tags: dict[str, str]) -> dict[str, Any]:
    (order_id, perm_id, ref, intent_id, role, ticker, side, quantity, order_type, price, aux, parent, status, filled,
     updated) = row  # fmt: skip
    parsed = parse_order_ref(ref)
    return {
        "order_id": order_id, "perm_id": perm_id, "order_ref": ref, "intent": intent_id, "role": role,
        "tag": parsed.tag if parsed else tags.get(intent_id, ""), "ticker": ticker, "side": side,
        "quantity": quantity, "type": order_type, "price": price, "aux_price": aux, "parent_id": parent,
        "status": status, "filled": filled, "updated_at": updated,
    }  # fmt: skip


def _fill(row: tuple, tags: dict[str, str]) -> dict[str, Any]:
    exec_id, order_id, ref, ticker, side, shares, price, commission, at = row
    parsed = parse_order_ref(ref)
    return {"exec_id": exec_id, "order_id": order_id, "order_ref": ref, "tag": parsed.tag if parsed else "",
            "role": parsed.role if parsed else "", "ticker": ticker, "side": side, "shares": shares, "price": price,
            "commission": cents(commission), "at": at}  # fmt: skip


def _stop_price(order: dict[str, Any]) -> float | None:
    """A stop's trigger: IB's ``auxPrice`` (a plain STP carries no limit price)."""
    return order["aux_price"] if order["aux_price"] is not None else order["price"]


def _positions(fills: list[tuple], baseline: list[tuple], marks: dict[str, float], working: list[dict[str, Any]],
               settings: ViewSettings) -> list[dict[str, Any]]:  # fmt: skip
    shares: dict[str, float] = {str(t).upper(): float(s) for t, s in baseline}
    for f in fills:
        ticker = str(f[3]).upper()
        shares[ticker] = shares.get(ticker, 0.0) + (float(f[5]) if f[4] == "BUY" else -float(f[5]))
    waiting = {o["order_id"] for o in working if not o["filled"]}  # entries not filled at all
    out = []
    for ticker, held in sorted(shares.items()):
        if abs(held) < 1e-9:
            continue
        closing = "SELL" if held > 0 else "BUY"
        legs = [o for o in working if o["ticker"].upper() == ticker and o["side"] == closing
                and o["parent_id"] not in waiting]  # the children of an unfilled entry protect nothing yet  # fmt: skip
        stops = [o for o in legs if o["type"] in ("STP", "STP LMT", "TRAIL")]
        targets = [o for o in legs if o["type"] == "LMT" and o["role"] != "stop"]
        mark = marks.get(ticker)
        stop = _stop_price(stops[0]) if stops else None
        target = targets[0]["price"] if targets else None
        atr = abs(target - stop) / (settings.atr_multiplier + settings.take_profit_atr) if stop and target else None
        out.append({
            "ticker": ticker, "shares": held, "mark": mark, "market_value": cents(mark * held) if mark else None,
            "stop": stop, "take_profit": target, "stop_orders": [o["order_id"] for o in stops],
            "take_profit_orders": [o["order_id"] for o in targets],
            "stop_distance_pct": _pct(mark, stop), "take_profit_distance_pct": _pct(mark, target),
            "stop_distance_atr": round(abs(mark - stop) / atr, 2) if atr and mark and stop else None,
            "take_profit_distance_atr": round(abs(target - mark) / atr, 2) if atr and mark and target else None,
            "unprotected": not stops,
        })  # fmt: skip
    out.sort(key=lambda p: (not p["unprotected"], p["ticker"]))
    return out


def _pct(mark: float | None, price: float | None) -> float | None:
    return round(abs(mark - price) / mark * 100.0, 2) if mark and price else None


def pnl_by_tag(fills: list[tuple], tags: dict[str, str], marks: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Per provenance tag: cash from its fills (after commissions) plus its open shares at the latest mark, to the cent."""
    out: dict[str, dict[str, Any]] = {}
    for _exec_id, _order_id, ref, ticker, side, shares, price, commission, _at in fills:
        parsed = parse_order_ref(ref)
        tag = parsed.tag if parsed else "other"
        row = out.setdefault(tag, {"cash": 0.0, "commission": 0.0, "shares": {}, "fills": 0})
        signed = float(shares) if side == "BUY" else -float(shares)
        row["cash"] -= signed * float(price) + float(commission)
        row["commission"] += float(commission)
        row["shares"][ticker] = row["shares"].get(ticker, 0.0) + signed
        row["fills"] += 1
    result = {}
    for tag, row in sorted(out.items()):
        open_value = sum(q * marks.get(t, 0.0) for t, q in row["shares"].items())
        unmarked = [t for t, q in row["shares"].items() if abs(q) > 1e-9 and t not in marks]
        result[tag] = {"pnl": cents(row["cash"] + open_value), "commission": cents(row["commission"]),
                       "fills": row["fills"], "unmarked": unmarked}  # fmt: skip
    return result


def _account(snapshots: list[tuple], navs: list[tuple], settings: ViewSettings) -> dict[str, Any]:
    """NAV, day P&L (against the last NAV of an earlier UTC day) and the 1-day drawdown the breaker measures."""
    if not snapshots:
        return {"nav": None, "cash": None, "at": None, "day_pnl": None, "drawdown_pct": None,
                "threshold_pct": settings.max_1d_drawdown_pct * 100, "breaker_enabled": settings.breaker_enabled}  # fmt: skip
    at, _account_id, nav, cash = snapshots[-1][:4]
    when = datetime.fromisoformat(at)
    day_start = when.replace(hour=0, minute=0, second=0, microsecond=0)
    before = [s[2] for s in snapshots if s[2] is not None and datetime.fromisoformat(s[0]) < day_start]
    today = [s[2] for s in snapshots if s[2] is not None and datetime.fromisoformat(s[0]) >= day_start]
    opening = before[-1] if before else (today[0] if today else None)
    history = [(datetime.fromisoformat(t), float(v)) for t, v in navs] or [
        (datetime.fromisoformat(s[0]), float(s[2])) for s in snapshots if s[2] is not None
    ]
    drawdown = one_day_drawdown(history, when, nav)
    return {
        "nav": cents(nav), "cash": cents(cash), "at": at,
        "day_pnl": cents(nav - opening) if nav is not None and opening is not None else None,
        "drawdown_pct": None if drawdown is None else round(drawdown * 100, 3),
        "threshold_pct": settings.max_1d_drawdown_pct * 100, "breaker_enabled": settings.breaker_enabled,
    }  # fmt: skip


def drawdown_series(nav: list[list[Any]]) -> list[list[Any]]:
    """[time, 1-day drawdown in %] for each NAV point, each against the NAV at or before one day earlier."""
    times = [datetime.fromisoformat(t) for t, _ in nav]
    out = []
    for i, (at, value) in enumerate(zip(times, (v for _, v in nav), strict=True)):
        j = bisect.bisect_right(times, at - timedelta(days=1), 0, i + 1) - 1
        reference = nav[max(j, 0)][1]
        out.append([nav[i][0], round(max(0.0, (reference - value) / reference) * 100, 3) if reference > 0 else None])
    return out


def one_day_drawdown(history: list[tuple[datetime, float]], at: datetime, nav: float | None) -> float | None:
    """The breaker's measure: the drop of ``nav`` against the NAV at or before one day before ``at`` (else the first)."""
    if nav is None or not history:
        return None
    cutoff = at - timedelta(days=1)
    earlier = [v for t, v in history if t <= cutoff]
    reference = earlier[-1] if earlier else history[0][1]
    return max(0.0, (reference - nav) / reference) if reference > 0 else None


def _gate(breaker: tuple | None, kill: tuple | None, halt: dict[str, str], triggers: list[tuple]) -> dict[str, Any]:
    tripped = bool(breaker and breaker[0])
    killed = bool(kill and kill[0])
    halted = HALT_META in halt
    state = "KILLED" if killed else "PAUSED" if tripped else "HALTED" if halted else "OPEN"
    return {
        "state": state,
        "breaker": {"tripped": tripped, "at": breaker[1] if breaker else None, "reason": breaker[2] if breaker else ""},
        "kill": {
            "active": killed,
            "cause": kill[1] if kill else "",
            "reason": kill[2] if kill else "",
            "at": kill[3] if kill else None,
        },  # fmt: skip
        "halt": {"active": halted, "reason": halt.get(HALT_META, ""), "at": halt.get(HALT_AT_META, "")},
        "events": [{"at": a, "source": s, "cause": c, "detail": d} for a, s, c, d in triggers],
    }


def _vix(last: tuple | None, session: dict[str, Any], now: datetime, settings: ViewSettings) -> dict[str, Any]:
    if last is None:
        return {"status": "unknown", "value": None, "at": None}
    value, vix_at, missing = last[5], last[6], bool(last[7])
    if missing:
        return {"status": "missing", "value": None, "at": None}
    if vix_at is None:
        return {"status": "off", "value": None, "at": None}
    reading = VixReading(float(value), datetime.fromisoformat(vix_at)) if value is not None else None
    started = datetime.fromisoformat(session.get("started_at") or last[0])
    return {"status": vix_state(reading, started, now, settings.vix_max_age_secs), "value": value, "at": vix_at}
