"""The dashboard's one page: HTML, CSS and the script that renders each server-sent payload.

Self-contained: no resource from the network (fonts, scripts, styles are inline or served
by the dashboard itself; the NAV chart is plotly.js from ``/plotly.js`` when the
``plotly`` package is installed, else a plain SVG line). The token in the page's URL is
sent with the kill request in the ``X-Spine-Token`` header.

Elements carry stable ids and ``data-`` attributes (``data-ticker``, ``data-order-id``,
``data-exec-id``) so a browser test or a script can read what the page shows.
"""

from __future__ import annotations

import html
import json

_STYLE = """
body{font:13px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{display:flex;gap:12px;align-items:center;padding:8px 16px;background:#1d2330;color:#fff}
header h1{font-size:15px;margin:0}.tabs button{margin-right:4px}
.tab.active{font-weight:bold;background:#fff}
main{padding:12px 16px;display:grid;grid-template-columns:1fr 1fr;gap:12px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:8px 12px}
section.wide{grid-column:1/3}h2{font-size:13px;margin:0 0 6px;text-transform:uppercase;color:#556}
table{border-collapse:collapse;width:100%}td,th{padding:2px 6px;text-align:right;border-bottom:1px solid #eef}
td:first-child,th:first-child{text-align:left}
tr.unprotected td{background:#ffd6d6;color:#a00000;font-weight:bold}
.state{font-weight:bold;padding:1px 6px;border-radius:4px;background:#dfe}
.state.HALTED,.state.DISCONNECTED,.state.KILLED,.state.PAUSED,.stale{background:#fdd;color:#a00}
.stale{padding:1px 6px;border-radius:4px}
#kill-open{background:#a00000;color:#fff;border:0;padding:6px 12px;border-radius:4px;font-weight:bold}
#kill-panel,#kill-confirm-panel{display:none;margin-top:6px}.muted{color:#889}
"""

_SCRIPT = r"""
const TOKEN = new URLSearchParams(location.search).get('token') || '';
const NAMES = JSON.parse(document.getElementById('folder-names').textContent);
const WITH_PLOTLY = document.body.dataset.plotly === '1';
let current = 0, last = null, firstSeen = {};
window.spinePayloads = 0;
const $ = id => document.getElementById(id);
const esc = v => v === null || v === undefined ? '' : String(v).replace(/[&<>"']/g,
  c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const money = v => v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US',
  {minimumFractionDigits: 2, maximumFractionDigits: 2});
const num = v => v === null || v === undefined ? '—' : String(v);
function seen(key) { if (!(key in firstSeen)) firstSeen[key] = Date.now(); return firstSeen[key]; }

function tabs() {
  $('tabs').innerHTML = NAMES.map((n, i) =>
    `<button class="tab ${i === current ? 'active' : ''}" data-folder="${i}">${esc(n)}</button>`).join('');
  document.querySelectorAll('.tab').forEach(b => b.onclick = () => {
    current = Number(b.dataset.folder); tabs(); if (last) render(last); });
}

function rows(id, items, row) { $(id).querySelector('tbody').innerHTML = items.map(row).join(''); }

function chart(nav, drawdown, threshold) {
  const x = nav.map(p => p[0]), y = nav.map(p => p[1]);
  if (WITH_PLOTLY && window.Plotly) {
    const dx = drawdown.map(p => p[0]), dy = drawdown.map(p => p[1]);
    Plotly.react('nav-chart', [
      {x, y, type: 'scatter', mode: 'lines', name: 'NAV', line: {color: '#2a5db0'}},
      {x: dx, y: dy, type: 'scatter', mode: 'lines', name: '1-day drawdown %', yaxis: 'y2', line: {color: '#a00000'}},
      {x: [dx[0], dx[dx.length - 1]], y: [threshold, threshold], type: 'scatter', mode: 'lines', yaxis: 'y2',
       name: "breaker's threshold", line: {color: '#a00000', dash: 'dash'}}],
      {margin: {l: 70, r: 10, t: 10, b: 30}, height: 300, showlegend: true, legend: {orientation: 'h'},
       yaxis: {domain: [0.42, 1], title: 'NAV'}, yaxis2: {domain: [0, 0.32], title: 'drawdown %', autorange: 'reversed'}},
      {displayModeBar: false, responsive: true});
    return;
  }
  if (y.length < 2) { $('nav-chart').innerHTML = '<span class="muted">no NAV yet</span>'; return; }
  const lo = Math.min(...y), hi = Math.max(...y), span = hi - lo || 1;
  const pts = y.map((v, i) => `${(i / (y.length - 1) * 600).toFixed(1)},${(200 - (v - lo) / span * 190).toFixed(1)}`);
  $('nav-chart').innerHTML = `<svg viewBox="0 0 600 200" width="100%" height="200"><polyline fill="none"
    stroke="#2a5db0" stroke-width="1.5" points="${pts.join(' ')}"/></svg>`;
}

function render(payload) {
  last = payload;
  const v = payload.folders[current];
  if (!v) return;
  const s = v.session, a = v.account, g = v.gate;
  const holder = v.holder || {};
  $('session-route').textContent = holder.command || '—';
  $('session-account').textContent = s.account || '—';
  $('session-state').textContent = s.label;
  $('session-state').className = 'state ' + s.state;
  $('session-since').textContent = s.since || '—';
  $('session-reason').textContent = s.reason || '';
  $('session-heartbeat').textContent = s.last_heartbeat || '—';
  $('stale').style.display = s.stale ? 'inline' : 'none';
  $('stale').textContent = s.state === 'NONE' ? 'no session recorded' : 'stale: no session running (last known state)';
  $('nav').textContent = money(a.nav);
  $('day-pnl').textContent = money(a.day_pnl);
  $('drawdown').textContent = a.drawdown_pct === null ? '—' : `${a.drawdown_pct.toFixed(2)}%`;
  $('threshold').textContent = `${a.threshold_pct.toFixed(2)}%` + (a.breaker_enabled ? '' : ' (breaker off)');
  chart(v.nav, v.drawdown, a.threshold_pct);
  rows('positions', v.positions, p => `<tr data-ticker="${esc(p.ticker)}" class="${p.unprotected ? 'unprotected' : ''}">
    <td>${esc(p.ticker)}${p.unprotected ? ' — NO WORKING STOP' : ''}</td><td class="shares">${num(p.shares)}</td>
    <td>${num(p.mark)}</td><td class="stop">${num(p.stop)}</td><td>${num(p.stop_distance_atr)}</td>
    <td>${num(p.stop_distance_pct)}</td><td class="take-profit">${num(p.take_profit)}</td>
    <td>${num(p.take_profit_distance_atr)}</td><td>${num(p.take_profit_distance_pct)}</td></tr>`);
  rows('working', v.working, o => `<tr data-order-id="${o.order_id}" data-role="${esc(o.role)}">
    <td>${o.order_id}</td><td>${esc(o.ticker)}</td><td class="role">${esc(o.role)}</td><td>${esc(o.tag)}</td>
    <td>${esc(o.intent)}</td><td>${esc(o.side)}</td><td>${num(o.quantity)}</td><td>${esc(o.type)}</td>
    <td>${num(o.aux_price ?? o.price)}</td><td class="status">${esc(o.status)}</td></tr>`);
  rows('fills', v.fills, f => `<tr data-exec-id="${esc(f.exec_id)}" data-first-seen="${seen('fill:' + f.exec_id)}">
    <td>${esc(f.at)}</td><td>${esc(f.ticker)}</td><td>${esc(f.side)}</td><td>${num(f.shares)}</td>
    <td>${num(f.price)}</td><td>${esc(f.role)}</td><td>${esc(f.tag)}</td></tr>`);
  rows('pnl-by-tag', Object.entries(v.pnl_by_tag), ([t, p]) => `<tr data-tag="${esc(t)}"><td>${esc(t)}</td>
    <td>${money(p.pnl)}</td><td>${money(p.commission)}</td><td>${p.fills}</td></tr>`);
  $('gate-state').textContent = g.state;
  $('gate-state').className = 'state ' + g.state;
  $('gate-detail').textContent = g.kill.active ? `kill switch (${g.kill.cause}) since ${g.kill.at}: ${g.kill.reason}`
    : g.breaker.tripped ? `circuit breaker since ${g.breaker.at}: ${g.breaker.reason}`
    : g.halt.active ? `session halted since ${g.halt.at}: ${g.halt.reason}` : 'trading allowed';
  rows('gate-events', g.events, e => `<tr><td>${esc(e.at)}</td><td>${esc(e.source)}</td><td>${esc(e.cause)}</td>
    <td>${esc(e.detail)}</td></tr>`);
  $('vix').textContent = `${v.vix.status}${v.vix.value ? ' ' + v.vix.value : ''}`;
  $('runs').innerHTML = payload.runs.map(r => r.report
    ? `<li><a href="/runs/${encodeURI(r.name)}/report.html?token=${encodeURIComponent(TOKEN)}" target="_blank">${esc(r.name)}</a> ${esc(r.route)}</li>`
    : `<li>${esc(r.name)} ${esc(r.route)} <span class="muted">(no report.html)</span></li>`).join('');
  $('problems').textContent = (v.problems || []).join('; ');
  $('updated-at').textContent = payload.at;
  window.spinePayloads += 1;
}

$('kill-open').onclick = () => { $('kill-panel').style.display = 'block'; $('kill-reason').focus(); };
$('kill-submit').onclick = () => {
  if (!$('kill-reason').value.trim()) { $('kill-result').textContent = 'say why trading is being stopped'; return; }
  $('kill-target').textContent = NAMES[current];
  $('kill-confirm-panel').style.display = 'block';
};
$('kill-cancel').onclick = () => { $('kill-confirm-panel').style.display = 'none'; $('kill-panel').style.display = 'none'; };
$('kill-confirm').onclick = async () => {
  $('kill-confirm-panel').style.display = 'none';
  const r = await fetch('/kill', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Spine-Token': TOKEN},
    body: JSON.stringify({folder: current, reason: $('kill-reason').value})});
  const body = await r.json();
  $('kill-result').textContent = r.ok ? `kill switch set in ${body.killed}: ${body.reason}` : `refused: ${body.error}`;
};

tabs();
const source = new EventSource('/events?token=' + encodeURIComponent(TOKEN));
source.addEventListener('state', e => render(JSON.parse(e.data)));
source.onerror = () => { $('updated-at').textContent = 'connection to the dashboard lost; retrying'; };
"""

_BODY = """
<header><h1>Spine dashboard</h1><div class="tabs" id="tabs"></div>
<span class="muted">updated <span id="updated-at">—</span></span></header>
<main>
<section><h2>Session</h2>
 <div>route <b id="session-route">—</b> · account <b id="session-account">—</b></div>
 <div>connection <span id="session-state" class="state">—</span> since <span id="session-since">—</span>
  <span id="stale" class="stale" style="display:none"></span></div>
 <div class="muted" id="session-reason"></div>
 <div>last heartbeat <span id="session-heartbeat">—</span></div>
 <div class="muted" id="problems"></div>
</section>
<section><h2>Gate</h2>
 <div><span id="gate-state" class="state">—</span> <span id="gate-detail"></span></div>
 <div>VIX line: <b id="vix">—</b></div>
 <div style="margin-top:6px"><button id="kill-open">Kill trading…</button>
  <div id="kill-panel">reason <input id="kill-reason" size="40"> <button id="kill-submit">Kill</button></div>
  <div id="kill-confirm-panel">Set the kill switch of <b id="kill-target"></b>? Working entries are cancelled; the
   stop and take-profit of held positions stay. Only <code>spine resume</code> undoes it.
   <button id="kill-confirm">Yes, kill trading</button> <button id="kill-cancel">No</button></div>
  <div id="kill-result"></div></div>
</section>
<section class="wide"><h2>NAV</h2>
 <div>NAV <b id="nav">—</b> · day P&amp;L <b id="day-pnl">—</b> · 1-day drawdown <b id="drawdown">—</b>
  of the breaker's <b id="threshold">—</b></div>
 <div id="nav-chart"></div>
</section>
<section class="wide"><h2>Positions and their protective legs</h2>
 <table id="positions"><thead><tr><th>ticker</th><th>shares</th><th>mark</th><th>stop</th><th>ATR</th><th>%</th>
  <th>take-profit</th><th>ATR</th><th>%</th></tr></thead><tbody></tbody></table></section>
<section class="wide"><h2>Working orders</h2>
 <table id="working"><thead><tr><th>id</th><th>ticker</th><th>role</th><th>tag</th><th>intent</th><th>side</th>
  <th>qty</th><th>type</th><th>price</th><th>status</th></tr></thead><tbody></tbody></table></section>
<section><h2>Recent fills</h2>
 <table id="fills"><thead><tr><th>at</th><th>ticker</th><th>side</th><th>shares</th><th>price</th><th>role</th>
  <th>tag</th></tr></thead><tbody></tbody></table></section>
<section><h2>P&amp;L by provenance tag</h2>
 <table id="pnl-by-tag"><thead><tr><th>tag</th><th>P&amp;L</th><th>commission</th><th>fills</th></tr></thead>
 <tbody></tbody></table></section>
<section class="wide"><h2>Halts, breaker trips, kills and re-arms</h2>
 <table id="gate-events"><thead><tr><th>at</th><th>source</th><th>cause</th><th>detail</th></tr></thead>
 <tbody></tbody></table></section>
<section class="wide"><h2>Run folders</h2><ul id="runs"></ul></section>
</main>
"""


def render_page(folder_names: list[str], *, with_plotly: bool) -> str:
    names = json.dumps(folder_names).replace("</", "<\\/")
    plotly = '<script src="/plotly.js"></script>' if with_plotly else ""
    title = html.escape(", ".join(folder_names))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Spine dashboard: {title}</title>'
        f'<style>{_STYLE}</style>{plotly}</head><body data-plotly="{int(with_plotly)}">{_BODY}'
        f'<script type="application/json" id="folder-names">{names}</script><script>{_SCRIPT}</script></body></html>'
    )
