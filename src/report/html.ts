import { createHash } from 'node:crypto';
import type { HostResult, Outcome, ResultDocument } from '../core/result.js';
import { html, jsonInScript } from './escape.js';
import {
  OUTCOME_ORDER, agentText, checkColumns, failingChecks, isProblem, osText, planOf, runInfoOf, spanMs, txnOf, wouldChange,
} from './view.js';

/**
 * The result document as one self-contained HTML page: inline CSS and script, nothing fetched (a
 * Content-Security-Policy allows only those two, by hash). Header, counts per outcome as tiles, a table with
 * a row per host and a cell per check, filters (outcome, failing check, text; kept in the URL's #hash, e.g.
 * `#outcome=failed&check=disk-space&q=web&sort=name`), sorting, and a details row per host built on demand
 * (`#open=HOST` opens one).
 *
 * Everything that comes from a host is escaped. The rows are rendered here, problems first; the script only
 * toggles `hidden` and reorders rows, one pass over them per change, so the page stays usable at thousands
 * of hosts.
 */
export function renderHtml(doc: ResultDocument): string {
  const run = runInfoOf(doc);
  const cols = checkColumns(doc);
  const order = new Map(OUTCOME_ORDER.map((o, i) => [o, i]));
  const rank = (h: HostResult) => (wouldChange(h) ? order.get('updated')! : order.get(h.outcome)!);
  const indexed = doc.hosts.map((h, i) => ({ h, i }));
  const sorted = [...indexed].sort((a, b) => rank(a.h) - rank(b.h) || a.i - b.i);

  const title = `resetpwd-fleet ${doc.command} — ${when(doc.startedAt)}`;
  const rows = sorted.map(({ h, i }) => row(h, i, rank(h), cols));
  const data = doc.hosts.map(details);
  const csp = `default-src 'none'; style-src '${sha256(STYLE)}'; script-src '${sha256(SCRIPT)}'; img-src data:; base-uri 'none'; form-action 'none'`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${html(csp)}">
<meta name="generator" content="resetpwd-fleet">
<title>${html(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>resetpwd-fleet <span class="cmd">${html(doc.command)}</span></h1>
<dl class="meta">${meta(doc, run)}</dl>
</header>
<nav class="tiles" id="tiles" aria-label="hosts per outcome">${tiles(doc)}</nav>
<div class="controls" id="controls" role="search">
<label>outcome <select id="f-outcome">${outcomeOptions(doc)}</select></label>
<label>check <select id="f-check">${checkOptions(doc, cols)}</select></label>
<label>search <input id="f-q" type="search" placeholder="host, address, error…" autocomplete="off"></label>
<label>sort <select id="f-sort"><option value="outcome">problems first</option><option value="name">host name</option><option value="input">inventory order</option></select></label>
<output id="shown">${doc.hosts.length} of ${doc.hosts.length} hosts shown</output>
</div>
<table id="hosts">
<thead><tr><th class="x" aria-label="details"></th><th>host</th><th>address</th><th>os</th><th>outcome</th><th>plug-in</th>${cols.map((c) => `<th class="chk">${html(c)}</th>`).join('')}<th>error / reason</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${doc.hosts.length ? '' : '<p class="empty">No hosts were targeted.</p>\n'}<footer>Cells: <span class="s-fail">fail</span> <span class="s-warn">warn</span> <span class="s-error">error</span> (could not be determined) <span class="s-pass">pass</span> <span class="s-skip">skip</span> (not applicable). Hover a cell for its detail; ▸ opens a host's plan and timed steps.</footer>
<script type="application/json" id="report-data">${jsonInScript(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const sha256 = (s: string) => `sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}`;

/** "2026-11-23 10:00:00 UTC" from an ISO time; the text itself when it does not parse. */
function when(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC` : iso;
}

function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function meta(doc: ResultDocument, run: ReturnType<typeof runInfoOf>): string {
  const items: [string, string, string?][] = [];
  if (run.runId) items.push(['run', run.runId]);
  if (run.package) items.push(['package', `${run.package.fileName}${run.package.version ? `, version ${run.package.version}` : ''}, sha256 ${run.package.sha256}`]);
  items.push(['started', when(doc.startedAt)], ['finished', when(doc.finishedAt)], ['duration', duration(spanMs(doc.startedAt, doc.finishedAt))]);
  if (run.journal) items.push(['journal', run.journal]);
  if (run.stopped) items.push(['stopped early', `${run.stopped.reason}: ${run.stopped.detail}`, 'stopped']);
  return items.map(([k, v, c]) => `<div${c ? ` class="${c}"` : ''}><dt>${html(k)}</dt><dd>${html(v)}</dd></div>`).join('');
}

/** The outcome a host's row is filed under: a dry run's would-be change is not "skipped" to a reader. */
function shownOutcome(h: HostResult): string {
  return wouldChange(h) ? 'would change' : h.outcome;
}

function counts(doc: ResultDocument): [string, number][] {
  const by = new Map<string, number>();
  for (const o of doc.hosts.map(shownOutcome)) by.set(o, (by.get(o) ?? 0) + 1);
  const rankOf = (o: string) => (o === 'would change' ? OUTCOME_ORDER.indexOf('updated') - 0.5 : OUTCOME_ORDER.indexOf(o as Outcome));
  return [...by].sort((a, b) => rankOf(a[0]) - rankOf(b[0]));
}

const cls = (o: string) => `o-${o.replace(/[^a-z-]/g, '-')}`;

function tiles(doc: ResultDocument): string {
  const all = `<button type="button" class="tile all" data-outcome="" aria-pressed="true"><b>${doc.hosts.length}</b> hosts</button>`;
  const problems = doc.hosts.filter(isProblem).length;
  const prob = problems ? `<button type="button" class="tile problems" data-outcome="problems" aria-pressed="false"><b>${problems}</b> with problems</button>` : '';
  return all + prob + counts(doc).map(([o, n]) => `<button type="button" class="tile ${cls(o)}" data-outcome="${html(o)}" aria-pressed="false"><b>${n}</b> ${html(o)}</button>`).join('');
}

function outcomeOptions(doc: ResultDocument): string {
  return ['<option value="">any</option>', '<option value="problems">any problem</option>', ...counts(doc).map(([o, n]) => `<option value="${html(o)}">${html(o)} (${n})</option>`)].join('');
}

function checkOptions(doc: ResultDocument, cols: string[]): string {
  const failing = new Map<string, number>();
  for (const h of doc.hosts) for (const c of failingChecks(h)) failing.set(c.id, (failing.get(c.id) ?? 0) + 1);
  return ['<option value="">any</option>', ...cols.map((c) => `<option value="${html(c)}">${html(c)} fails (${failing.get(c) ?? 0})</option>`)].join('');
}

const STATUS_TEXT: Record<string, string> = { pass: 'pass', warn: 'warn', fail: 'FAIL', skip: '–', error: 'error' };

function row(h: HostResult, i: number, rank: number, cols: string[]): string {
  const byId = new Map(h.checks.map((c) => [c.id, c]));
  const failing = failingChecks(h).map((c) => c.id).join(' ');
  const o = shownOutcome(h);
  const cells = cols.map((id) => {
    const c = byId.get(id);
    return c ? `<td class="s-${html(c.status)}" title="${html(c.detail)}">${STATUS_TEXT[c.status] ?? html(c.status)}</td>` : '<td></td>';
  });
  return (
    `<tr data-i="${i}" data-o="${html(o)}" data-r="${rank}" data-f="${html(failing)}"${isProblem(h) ? ' data-problem=""' : ''} class="${cls(o)}">` +
    `<td class="x"><button type="button" class="x" aria-expanded="false" aria-label="details">▸</button></td>` +
    `<td class="host" title="${html(h.serverId ? `${h.name} (server ${h.serverId})` : h.name)}">${html(h.name)}</td><td class="nw">${html(`${h.address}:${h.port}`)}</td><td class="nw">${html(osText(h))}</td>` +
    `<td class="outcome"><span class="badge ${cls(o)}">${html(o)}</span></td><td class="agent">${html(h.reachable ? agentText(h) : '')}</td>` +
    `${cells.join('')}<td class="reason">${html(reasonText(h))}</td></tr>`
  );
}

/** The last column: the error, else the failing checks, else why a change was not needed or is planned, else findings. */
function reasonText(h: HostResult): string {
  if (h.error) return h.error;
  const failing = failingChecks(h);
  if (failing.length) return failing.map((c) => `${c.id}: ${c.detail}`).join('; ');
  const plan = planOf(h);
  if (plan && (h.outcome === 'unchanged' || wouldChange(h))) return `${plan.kind}: ${plan.reason}`;
  if (h.outcome === 'skipped') return 'not attempted';
  return (h.agent?.findings ?? []).join('; ');
}

/** What a details row shows, built by the page's script on demand (with textContent: never parsed as markup). */
function details(h: HostResult) {
  return {
    plan: planOf(h),
    steps: h.steps.map((s) => [s.name, s.ms, s.ok]),
    checks: h.checks.map((c) => [c.id, c.status, c.detail]),
    findings: h.agent?.findings ?? [],
    txn: txnOf(h),
    error: h.error,
    transport: h.transport,
    arch: h.os?.arch ?? null,
  };
}

const STYLE = `
:root{--fail:#c62828;--fail-bg:#fde0e0;--warn:#8a5a00;--warn-bg:#ffedb3;--error:#6a1b9a;--error-bg:#efdcf7;--ok:#1b5e20;--ok-bg:#dff3e0;--muted:#666;--line:#ddd}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;padding:16px 20px;color:#1d1d1d;background:#fafafa}
h1{font-size:20px;margin:0 0 6px}h1 .cmd{color:#1565c0}
.meta{display:flex;flex-wrap:wrap;gap:4px 22px;margin:0 0 12px;color:#333}.meta div{display:flex;gap:6px}.meta dt{color:var(--muted)}.meta dd{margin:0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px;word-break:break-all}.meta .stopped{color:var(--fail);font-weight:700}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 12px}
.tile{border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:96px;text-align:left;background:#fff;cursor:pointer;font:inherit;color:inherit}
.tile b{display:block;font-size:22px;line-height:1.1}.tile[aria-pressed=true]{outline:3px solid #1565c0;outline-offset:1px}
.tile.o-ok,.tile.o-unchanged,.tile.o-updated,.tile.o-installed,.tile.o-uninstalled{background:var(--ok-bg);border-color:#a5d6a7}
.tile.o-failed{background:var(--fail);color:#fff}.tile.o-rolled-back{background:#ef6c00;color:#fff}.tile.o-refused{background:var(--warn-bg);border-color:#e0b84a}
.tile.o-unreachable{background:var(--error-bg);border-color:#c9a4dc}.tile.o-skipped{background:#eceff1}.tile.o-would-change{background:#e3f2fd;border-color:#90caf9}.tile.problems{background:#fff3f0;border-color:#f0a8a0}
.controls{display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;margin:0 0 10px;padding:8px 10px;background:#fff;border:1px solid var(--line);border-radius:8px}
.controls select,.controls input{font:inherit;padding:3px 6px}.controls input{width:16em}#shown{color:var(--muted);margin-left:auto}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f0f2f5;border-bottom:1px solid #ccc;font-weight:600;white-space:nowrap;z-index:1}
th.chk{font-size:12px;white-space:normal}td.host{font-weight:600;white-space:nowrap;max-width:22em;overflow:hidden;text-overflow:ellipsis}td.nw{white-space:nowrap}td.agent{min-width:9em}
td.reason{min-width:14em;max-width:38em;overflow-wrap:anywhere;color:#333}
tbody tr:hover{background:#f5f9ff}
td.s-fail{background:var(--fail-bg);color:var(--fail);font-weight:700}td.s-warn{background:var(--warn-bg);color:var(--warn);font-weight:600}
td.s-error{background:var(--error-bg);color:var(--error);font-weight:600}td.s-pass{color:var(--ok)}td.s-skip{color:#999}
span.s-fail,span.s-warn,span.s-error,span.s-pass,span.s-skip{padding:0 4px;border-radius:3px}span.s-fail{background:var(--fail-bg);color:var(--fail)}span.s-warn{background:var(--warn-bg);color:var(--warn)}span.s-error{background:var(--error-bg);color:var(--error)}span.s-pass{color:var(--ok)}span.s-skip{color:#999}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12.5px;white-space:nowrap;background:#eceff1}
.badge.o-ok,.badge.o-unchanged,.badge.o-updated,.badge.o-installed,.badge.o-uninstalled{background:var(--ok-bg);color:var(--ok)}
.badge.o-failed{background:var(--fail);color:#fff}.badge.o-rolled-back{background:#ef6c00;color:#fff}.badge.o-refused{background:var(--warn-bg);color:var(--warn)}
.badge.o-unreachable{background:var(--error-bg);color:var(--error)}.badge.o-would-change{background:#e3f2fd;color:#0d47a1}
tr.o-failed td.host,tr.o-rolled-back td.host{box-shadow:inset 3px 0 var(--fail)}tr.o-refused td.host{box-shadow:inset 3px 0 #e0a800}tr.o-unreachable td.host{box-shadow:inset 3px 0 var(--error)}
td.x{width:28px;padding:2px 4px}button.x{border:0;background:none;cursor:pointer;font-size:14px;color:#555;width:22px}button.x[aria-expanded=true]{color:#1565c0}
tr.det>td{background:#f7f9fc;padding:8px 14px 12px 40px}.det h3{font-size:13px;margin:6px 0 4px}.det ol,.det ul{margin:0;padding-left:22px}
.det table{width:auto;border:0;background:none;margin:0}.det td{border:0;padding:1px 10px 1px 0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px}
.det .bad{color:var(--fail);font-weight:700}.det pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font-size:12.5px}
footer{margin-top:10px;color:var(--muted);font-size:12.5px}.empty{color:var(--muted)}
`;

/* The page's script: plain ES2017, no globals, no markup parsing (rows' text via textContent only). */
const SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var table = document.getElementById('hosts');
  var tbody = table.tBodies[0];
  var rows = [];
  Array.prototype.forEach.call(tbody.rows, function (r) { rows[+r.getAttribute('data-i')] = r; });
  var ncols = table.tHead.rows[0].cells.length;
  var fo = document.getElementById('f-outcome'), fc = document.getElementById('f-check');
  var fq = document.getElementById('f-q'), fs = document.getElementById('f-sort');
  var shown = document.getElementById('shown');
  var tiles = document.querySelectorAll('#tiles .tile');
  var texts = null, open = {}, sortedBy = 'outcome', timer = 0;
  var st = { outcome: '', check: '', q: '', sort: 'outcome' };

  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ''));
    st.outcome = p.get('outcome') || ''; st.check = p.get('check') || '';
    st.q = p.get('q') || ''; st.sort = p.get('sort') || 'outcome';
    fo.value = st.outcome; fc.value = st.check; fq.value = st.q; fs.value = st.sort;
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (st.outcome) p.set('outcome', st.outcome);
    if (st.check) p.set('check', st.check);
    if (st.q) p.set('q', st.q);
    if (st.sort !== 'outcome') p.set('sort', st.sort);
    var h = p.toString();
    try { history.replaceState(null, '', h ? '#' + h : location.pathname + location.search); } catch (e) { /* file: URLs in some browsers */ }
  }
  function sortRows() {
    if (sortedBy === st.sort) return;
    var list = rows.slice();
    if (st.sort === 'name') {
      var coll = new Intl.Collator(undefined, { numeric: true });
      var names = rows.map(function (r) { return r.cells[1].textContent; });
      list.sort(function (a, b) { return coll.compare(names[+a.getAttribute('data-i')], names[+b.getAttribute('data-i')]); });
    } else if (st.sort === 'outcome') {
      list.sort(function (a, b) { return (+a.getAttribute('data-r')) - (+b.getAttribute('data-r')) || (+a.getAttribute('data-i')) - (+b.getAttribute('data-i')); });
    }
    var frag = document.createDocumentFragment();
    list.forEach(function (r) { frag.appendChild(r); var d = open[r.getAttribute('data-i')]; if (d) frag.appendChild(d); });
    tbody.appendChild(frag);
    sortedBy = st.sort;
  }
  function apply() {
    var q = st.q.trim().toLowerCase(), check = ' ' + st.check + ' ', n = 0;
    if (q && !texts) texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
    for (var k = 0; k < rows.length; k++) {
      var r = rows[k];
      var ok = (!st.outcome || (st.outcome === 'problems' ? r.hasAttribute('data-problem') : r.getAttribute('data-o') === st.outcome)) &&
        (!st.check || (' ' + r.getAttribute('data-f') + ' ').indexOf(check) >= 0) &&
        (!q || texts[k].indexOf(q) >= 0);
      if (r.hidden === ok) r.hidden = !ok;
      if (open[k]) open[k].hidden = !ok;
      if (ok) n++;
    }
    for (var t = 0; t < tiles.length; t++) tiles[t].setAttribute('aria-pressed', String(tiles[t].getAttribute('data-outcome') === st.outcome));
    shown.textContent = n + ' of ' + rows.length + ' hosts shown';
    sortRows();
  }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text != null) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function section(box, title) { box.appendChild(el('h3', title)); }
  function buildDetails(i) {
    var d = data[i], tr = el('tr', null, 'det'), td = el('td');
    tr.setAttribute('data-for', String(i)); td.colSpan = ncols; tr.appendChild(td);
    if (d.plan) {
      section(td, 'plan: ' + d.plan.kind);
      td.appendChild(el('pre', d.plan.reason));
      if (d.plan.steps.length) { var ol = el('ol'); d.plan.steps.forEach(function (s) { ol.appendChild(el('li', s)); }); td.appendChild(ol); }
    }
    if (d.steps.length) {
      section(td, 'steps');
      var t = el('table'), total = 0;
      d.steps.forEach(function (s) { total += s[1]; var r = t.insertRow(); r.appendChild(el('td', s[0])); r.appendChild(el('td', s[1] + ' ms')); r.appendChild(el('td', s[2] ? 'ok' : 'FAILED', s[2] ? '' : 'bad')); });
      var r = t.insertRow(); r.appendChild(el('td', 'total')); r.appendChild(el('td', total + ' ms'));
      td.appendChild(t);
    }
    if (d.checks.length) {
      section(td, 'checks');
      var c = el('table');
      d.checks.forEach(function (x) { var r = c.insertRow(); r.appendChild(el('td', x[0])); r.appendChild(el('td', x[1], 's-' + x[1])); r.appendChild(el('td', x[2])); });
      td.appendChild(c);
    }
    if (d.findings.length) { section(td, 'plug-in findings'); var ul = el('ul'); d.findings.forEach(function (f) { ul.appendChild(el('li', f)); }); td.appendChild(ul); }
    if (d.txn) { section(td, 'transaction'); td.appendChild(el('pre', d.txn)); }
    if (d.error) { section(td, 'error'); td.appendChild(el('pre', d.error)); }
    section(td, 'connection'); td.appendChild(el('pre', d.transport + (d.arch ? ', ' + d.arch : '')));
    return tr;
  }
  function toggle(r) {
    var i = +r.getAttribute('data-i'), b = r.querySelector('button.x');
    if (open[i]) { open[i].remove(); delete open[i]; b.setAttribute('aria-expanded', 'false'); b.textContent = '\\u25b8'; return; }
    open[i] = buildDetails(i); open[i].hidden = r.hidden; r.after(open[i]);
    b.setAttribute('aria-expanded', 'true'); b.textContent = '\\u25be';
  }
  tbody.addEventListener('click', function (ev) {
    var b = ev.target.closest && ev.target.closest('button.x');
    if (b) toggle(b.closest('tr'));
  });
  function changed() { st.outcome = fo.value; st.check = fc.value; st.q = fq.value; st.sort = fs.value; writeHash(); apply(); }
  fo.addEventListener('change', changed); fc.addEventListener('change', changed); fs.addEventListener('change', changed);
  fq.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(changed, 120); });
  Array.prototype.forEach.call(tiles, function (t) {
    t.addEventListener('click', function () {
      var o = t.getAttribute('data-outcome');
      st.outcome = st.outcome === o ? '' : o;
      if (fo.querySelector('option[value="' + CSS.escape(st.outcome) + '"]')) fo.value = st.outcome;
      writeHash(); apply();
    });
  });
  window.addEventListener('hashchange', function () { readHash(); apply(); });
  readHash();
  apply();
  // #open=NAME (repeatable) opens those hosts' details, so a link can point at one host's plan and steps.
  new URLSearchParams(location.hash.replace(/^#/, '')).getAll('open').forEach(function (name) {
    rows.forEach(function (r) { if (r.cells[1].textContent === name && !open[r.getAttribute('data-i')]) toggle(r); });
  });
  document.documentElement.setAttribute('data-ready', '');
})();
`;
