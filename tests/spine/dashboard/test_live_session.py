"""``spine dashboard`` in headless Chromium over a real ``spine paper`` session on the gateway simulator.

One dashboard, one browser and one gateway for the module; the session is started,
killed with SIGKILL and started again as the tests go, in this order: the first bracket
and its fill, the restart, the kill button, a stop cancelled out of band, then the
refusals and the files' contents.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from spine.ib.journal import JOURNAL_FILE
from spine.safety.state_store import STATE_FILE, StateStore
from tests.spine.dashboard.conftest import DAY_BEFORE, LAST_DAY, LiveDesk, wait_until

FIRST = f"{DAY_BEFORE},ALPH,0.05,BUY,direct,"
SECOND = f"{LAST_DAY},BRVO,0.05,BUY,propagated,ECHO"

_READ_PAGE = """
const rows = id => [...document.querySelectorAll('#' + id + ' tbody tr')];
return {
  payloads: window.spinePayloads || 0,
  state: document.getElementById('session-state').textContent,
  stale: document.getElementById('stale').style.display !== 'none',
  gate: document.getElementById('gate-state').textContent,
  nav: document.getElementById('nav').textContent,
  positions: rows('positions').map(r => ({ticker: r.dataset.ticker, red: r.classList.contains('unprotected'),
    shares: r.querySelector('.shares').textContent, stop: r.querySelector('.stop').textContent,
    take_profit: r.querySelector('.take-profit').textContent})),
  working: rows('working').map(r => ({id: Number(r.dataset.orderId), role: r.dataset.role,
    ticker: r.children[1].textContent, tag: r.children[3].textContent, status: r.querySelector('.status').textContent})),
  fills: rows('fills').map(r => ({exec: r.dataset.execId, ticker: r.children[1].textContent,
    seen: Number(r.dataset.firstSeen)})),
  tags: rows('pnl-by-tag').map(r => r.dataset.tag),
  events: rows('gate-events').map(r => r.textContent),
};
"""


def page(chromium) -> dict:
    return chromium.execute_script(_READ_PAGE)


def working_ids_at_gateway(desk: LiveDesk) -> set[int]:
    return {r.order_id for r in desk.working_at_gateway()}


@pytest.fixture(scope="module")
def opened(desk: LiveDesk, chromium):
    desk.start_session([FIRST])
    chromium.get(desk.url)
    wait_until(lambda: page(chromium)["payloads"] > 0, 10, "the first payload on the page")
    wait_until(lambda: len(working_ids_at_gateway(desk)) == 3, 30, "the bracket working at the gateway")
    return chromium


def test_the_page_shows_the_working_bracket_the_gateway_holds(desk, opened):
    at_gateway = {r.order_id: r for r in desk.working_at_gateway()}
    shown = wait_until(lambda: len(page(opened)["working"]) == 3 and page(opened)["working"], 5, "three working orders")
    assert {o["id"] for o in shown} == set(at_gateway)
    assert {o["role"] for o in shown} == {"entry", "stop", "take_profit"}
    assert {o["tag"] for o in shown} == {"LIVE_SPINE"}
    view = page(opened)
    assert view["state"] == "ACTIVE" and not view["stale"]
    assert view["nav"] == "100,000.00"
    drawn = opened.execute_script(
        "const c = document.getElementById('nav-chart'); return c.data ? c.data.map(t => [t.name, t.y.length]) : null"
    )
    assert drawn and drawn[0][0] == "NAV" and drawn[0][1] >= 1  # plotly.js, served by the dashboard itself


def test_a_fill_at_the_gateway_appears_on_the_page_within_two_seconds(desk, opened):
    stepped = time.time() * 1000
    desk.gateway.step(1)  # the entry fills at the next day's open
    view = wait_until(lambda: page(opened)["fills"] and page(opened), 2.0, "the fill on the page")
    assert view["fills"][0]["ticker"] == "ALPH"
    assert view["fills"][0]["seen"] - stepped < 2000


def test_positions_and_their_legs_equal_the_gateways_book(desk, opened):
    held = desk.held_at_gateway("ALPH")
    assert held == 124
    legs = {r.order_type: r for r in desk.working_at_gateway() if r.symbol == "ALPH"}
    assert set(legs) == {"STP", "LMT"}
    view = wait_until(lambda: page(opened)["positions"] and page(opened), 2.0, "the ALPH position")
    (alph,) = view["positions"]
    assert (alph["ticker"], float(alph["shares"]), alph["red"]) == ("ALPH", held, False)
    assert float(alph["stop"]) == legs["STP"].stop_price
    assert float(alph["take_profit"]) == legs["LMT"].limit_price
    assert {o["id"] for o in view["working"]} == {r.order_id for r in legs.values()}


def test_the_page_keeps_serving_while_the_session_is_killed_and_started_again(desk, opened):
    desk.kill_session_hard()
    view = wait_until(lambda: page(opened)["stale"] and page(opened), 8, "the page marking the session stale")
    assert view["positions"][0]["ticker"] == "ALPH"  # the last known state stays on the page
    assert desk.get(f"/api/state?token={desk.token}")[0] == 200
    desk.start_session([FIRST, SECOND])
    view = wait_until(lambda: (v := page(opened))["state"] == "ACTIVE" and not v["stale"]
                      and any(o["ticker"] == "BRVO" for o in v["working"]) and v, 30, "the new session's bracket")  # fmt: skip
    assert {o["role"] for o in view["working"] if o["ticker"] == "BRVO"} == {"entry", "stop", "take_profit"}
    assert {o["tag"] for o in view["working"] if o["ticker"] == "BRVO"} == {"PROHIBITED_LLM_DISCOVERY_LINK"}
    assert desk.session is not None and desk.session.poll() is None


def test_the_kill_button_halts_the_session_within_two_seconds_cancelling_entries_and_keeping_the_legs(desk, opened):
    alph_legs = {r.order_id for r in desk.working_at_gateway() if r.symbol == "ALPH"}
    brvo = {r.order_id for r in desk.working_at_gateway() if r.symbol == "BRVO"}
    assert len(alph_legs) == 2 and len(brvo) == 3
    opened.find_element("id", "kill-open").click()
    opened.find_element("id", "kill-reason").send_keys("desk test: stop everything")
    opened.find_element("id", "kill-submit").click()
    assert not StateStore.open_folder(desk.state, create=False).kill_switch().active  # not before the second yes
    clicked = time.monotonic()
    opened.find_element("id", "kill-confirm").click()
    wait_until(lambda: page(opened)["gate"] == "KILLED", 2.0, "the page showing the kill switch")
    wait_until(lambda: not brvo & working_ids_at_gateway(desk), 2.0 - (time.monotonic() - clicked), "entries cancelled")
    view = wait_until(
        lambda: _without(page(opened), "BRVO"), 2.0 - (time.monotonic() - clicked) + 0.5, "the cancels shown"
    )
    assert alph_legs <= working_ids_at_gateway(desk)  # the stop and take-profit of the held position stay
    assert {o["id"] for o in view["working"]} == alph_legs
    with StateStore.open_folder(desk.state, create=False) as store:
        kill = store.kill_switch()
    assert (kill.active, kill.cause, kill.reason) == (True, "manual", "desk test: stop everything")
    assert "kill switch set" in opened.find_element("id", "kill-result").text


def _without(view: dict, ticker: str) -> dict | None:
    return None if any(o["ticker"] == ticker for o in view["working"]) else view


def test_a_stop_cancelled_at_the_gateway_out_of_band_turns_its_position_red(desk, opened):
    (stop,) = [r for r in desk.working_at_gateway() if r.symbol == "ALPH" and r.order_type == "STP"]
    desk.cancel_at_gateway(stop.client_id, stop.order_id)
    view = wait_until(lambda: (v := page(opened))["positions"] and v["positions"][0]["red"] and v, 2.0, "ALPH in red")
    assert view["positions"][0]["ticker"] == "ALPH"
    colour = opened.execute_script(
        "return getComputedStyle(document.querySelector('#positions tr[data-ticker=ALPH] td')).backgroundColor"
    )
    assert colour == "rgb(255, 214, 214)"


def test_the_page_loaded_nothing_but_the_dashboard_and_logged_no_error(desk, opened, chromium_log):
    urls = chromium_log.requested_urls()
    assert urls and all(u.startswith(desk.base + "/") or u.startswith(("data:", "blob:")) for u in urls), urls
    assert chromium_log.failed_requests() == []
    assert chromium_log.console_errors() == []


def test_without_the_token_every_request_is_403(desk, opened):
    for path in ("/", "/api/state", "/events", "/plotly.js", "/runs/x/report.html", "/api/state?token=wrong"):
        status, body = desk.get(path)
        assert status == 403, path
        assert b"token" in body
    status, _ = desk.post(
        "/kill", b'{"folder": 0, "reason": "x"}', {"Origin": desk.base, "Content-Type": "application/json"}
    )
    assert status == 403


def test_a_cross_origin_post_is_refused_and_sets_nothing(desk, opened):
    body = json.dumps({"folder": 1, "reason": "from another site"}).encode()
    token = desk.token
    for headers in (
        {"X-Spine-Token": token, "Origin": "http://evil.example"},
        {"X-Spine-Token": token, "Origin": "http://127.0.0.1:1"},
        {"X-Spine-Token": token},  # no Origin at all
        {"X-Spine-Token": token, "Origin": desk.base, "Sec-Fetch-Site": "cross-site"},
        {"Origin": desk.base, "Cookie": f"spine_dashboard_token={token}"},  # the cookie alone
    ):
        status, answer = desk.post(f"/kill?token={token}", body, {**headers, "Content-Type": "application/json"})
        assert status == 403, headers
        assert b"refused" in answer or b"X-Spine-Token" in answer
    # a page on another origin, in the browser, posting to the dashboard with the token in its URL
    opened.get(f"{desk.base.replace('127.0.0.1', 'localhost')}/nowhere")  # another origin; 403 page
    opened.execute_script(
        "fetch(arguments[0], {method: 'POST', mode: 'no-cors', body: arguments[1]}).catch(() => {});",
        f"{desk.base}/kill?token={token}",
        body.decode(),
    )
    time.sleep(0.3)
    assert not (desk.spare_state / STATE_FILE).exists()  # the other tab's folder: never killed, never created


def _contents(folder: Path) -> dict[str, str]:
    """Every table's rows of the state store and the journal, as SQL text, and a hash of each file's bytes."""
    out = {}
    for name in (STATE_FILE, JOURNAL_FILE):
        conn = sqlite3.connect(f"{(folder / name).resolve().as_uri()}?mode=ro", uri=True)
        try:
            out[name] = "\n".join(conn.iterdump())
        finally:
            conn.close()
        for suffix in ("", "-wal"):
            path = folder / (name + suffix)
            out[name + suffix + " bytes"] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    return out


def test_the_dashboard_never_writes_to_the_sessions_databases_but_through_the_kill(desk, opened):
    desk.kill_session_hard()  # no writer left: whatever changes in the files now is the dashboard's
    opened.get(desk.url)
    before = _contents(desk.state)
    wait_until(lambda: page(opened)["stale"], 8, "the stopped session stale on the page")
    for _ in range(5):
        assert desk.get(f"/api/state?token={desk.token}")[0] == 200
    time.sleep(1.2)  # the page keeps reading
    assert _contents(desk.state) == before
    status, answer = desk.post("/kill", json.dumps({"folder": 0, "reason": "second kill"}).encode(),
                               {"X-Spine-Token": desk.token, "Origin": desk.base, "Content-Type": "application/json"})  # fmt: skip
    assert status == 200, answer
    after = _contents(desk.state)
    assert after[JOURNAL_FILE] == before[JOURNAL_FILE]
    changed = set(after[STATE_FILE].splitlines()) ^ set(before[STATE_FILE].splitlines())
    assert changed and all(line.startswith(('INSERT INTO "triggers"', 'INSERT INTO "meta"', 'INSERT INTO "kill_switch"',
                                            "INSERT INTO \"sqlite_sequence\"")) for line in changed), changed  # fmt: skip
    view = wait_until(
        lambda: any("second kill" in e for e in page(opened)["events"]) and page(opened), 2, "second kill"
    )
    assert view["gate"] == "KILLED"


def test_each_state_folder_has_its_tab_and_a_folder_without_a_session_says_so(desk, opened):
    opened.find_element("css selector", ".tab[data-folder='1']").click()
    view = page(opened)
    assert view["state"] == "no session recorded" and view["stale"]
    assert view["positions"] == [] and view["working"] == []
    opened.find_element("css selector", ".tab[data-folder='0']").click()
    assert page(opened)["positions"][0]["ticker"] == "ALPH"


def test_past_run_folders_are_listed_and_open_their_report(desk, opened):
    opened.get(desk.url)
    links = wait_until(lambda: opened.execute_script(
        "return [...document.querySelectorAll('#runs a')].map(a => a.getAttribute('href'))"), 5, "a run folder's report")  # fmt: skip
    assert [link.split("?")[0] for link in links] == ["/runs/past-backtest/report.html"]
    opened.get(desk.base + links[0])
    assert opened.title == "past run"
    assert desk.get(links[0].replace("?token=", "?token=wrong"))[0] == 403
    assert desk.get(f"/runs/../state/spine_state.sqlite3?token={desk.token}")[0] == 404
