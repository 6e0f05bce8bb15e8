// raftviz: connects to the session's websocket, keeps the model up to date
// with its frames, draws the views on each animation frame, and turns clicks
// and keys into commands. See visualizer/PROTOCOL.md.

import { Model, fmtTime, describeMsg, termColor } from './model.js';
import { ClusterView } from './cluster.js';
import { LogsView, escapeHTML } from './logs.js';
import { TimelineView } from './timeline.js';

const $ = id => document.getElementById(id);
const model = new Model();
model.statusT = 0;

// Virtual time moves on between frames at the session's speed; the page
// extrapolates from the last time the server told it.
let clock = { vt: 0, wall: performance.now() };
function setClock(vt) { clock = { vt, wall: performance.now() }; }
function virtualNow() {
  if (model.paused || !model.live) return model.t;
  const vt = clock.vt + (performance.now() - clock.wall) * 1e6 * model.speed;
  // Never run far ahead of what the server has said (it may be capping work).
  return Math.min(vt, model.t + 200e6 * Math.max(model.speed, 0.001));
}

const stats = { frames: 0, events: 0, errors: [], acks: 0, states: 0, fps: 0, framesAt: [] };
let hello = null;
let control = true;
let ws = null;
let nextID = 1;
const pending = new Map(); // command id → op, for answers

// ---- connection ---------------------------------------------------------

function connect(delay = 0) {
  setTimeout(() => {
    const token = new URLSearchParams(location.search).get('token');
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + (token ? '?token=' + encodeURIComponent(token) : '');
    ws = new WebSocket(url);
    ws.onmessage = e => onFrame(JSON.parse(e.data));
    ws.onopen = () => setInfo();
    ws.onclose = () => {
      $('run-info').textContent = 'disconnected from raftviz — reconnecting…';
      document.body.classList.add('offline');
      connect(Math.min(5000, delay * 2 + 500));
    };
  }, delay);
}

function send(cmd) {
  if (!ws || ws.readyState !== WebSocket.OPEN) { toast('not connected to raftviz', true); return; }
  cmd.id = nextID++;
  pending.set(cmd.id, cmd.op);
  ws.send(JSON.stringify(cmd));
}

function onFrame(f) {
  switch (f.type) {
    case 'hello':
      hello = f; control = f.control;
      document.body.classList.toggle('watch-only', !control);
      document.body.classList.remove('offline');
      fillScenarios(f.scenarios || []);
      showTodo(f.todo || []);
      if (!control) toast(f.watchers, false);
      break;
    case 'state':
      stats.states++;
      model.load(f);
      model.statusT = f.t;
      setClock(f.t);
      $('seed').value = f.seed;
      $('nodes').value = f.nodes.length;
      if (model.violations.length) violationBanner(); else $('banner').classList.add('hidden');
      syncControls();
      break;
    case 'events':
      for (const e of f.events) {
        if (e.seq > model.seq + 1 && model.seq > 0) {
          // A gap: the server dropped frames for us. Ask for a fresh state.
          send({ op: 'state' });
          break;
        }
        if (model.apply(e)) stats.events++;
        if (e.kind === 'violation') violationBanner();
      }
      setClock(model.t);
      break;
    case 'status':
      model.status(f);
      model.statusT = f.t;
      setClock(f.t);
      syncControls();
      break;
    case 'branch':
      model.branch(f.seq, f.t);
      toast('a new course from ' + fmtTime(f.t) + ': what came after is forgotten', false);
      break;
    case 'ack':
      stats.acks++;
      pending.delete(f.id);
      if (f.text) toast(f.text, false);
      break;
    case 'error':
      pending.delete(f.id);
      stats.errors.push(f.error);
      toast(f.error, true);
      break;
  }
}

// ---- views ---------------------------------------------------------------

const cluster = new ClusterView($('cluster'), $('messages'), model, pick => showDetails(pick));
const logs = new LogsView($('logs'), model);
const timeline = new TimelineView($('timeline'), model, t => send({ op: 'seek', t }));
let picked = null;

function loop(now) {
  stats.frames++;
  stats.framesAt.push(now);
  while (stats.framesAt.length && stats.framesAt[0] < now - 1000) stats.framesAt.shift();
  stats.fps = stats.framesAt.length;
  const vt = virtualNow();
  cluster.update();
  cluster.frame(vt);
  logs.update();
  timeline.draw(vt, document.body.classList.contains('large'));
  if (stats.frames % 6 === 0) { setInfo(vt); refreshDetails(); }
  requestAnimationFrame(loop);
}

function setInfo(vt = virtualNow()) {
  if (!hello) return;
  const parts = [
    `<b>${escapeHTML(model.impl)}</b> · seed ${model.seed} · ${model.nodes.length} nodes`,
    `<span id="clock">${fmtTime(vt)}</span>`,
    model.live ? (model.paused ? '<span class="tag paused">paused</span>' : `<span class="tag live">live ${model.speed}×</span>`)
      : `<span class="tag past">past · ${fmtTime(model.t)} of ${fmtTime(model.horizon.t)}</span>`,
  ];
  const l = model.leader();
  parts.push(l ? `leader <b>n${l.id}</b>, term ${l.term}` : 'no leader');
  if (model.violations.length) parts.push(`<span class="tag bad">${model.violations.length} violation${model.violations.length > 1 ? 's' : ''}</span>`);
  $('run-info').innerHTML = parts.join(' · ');
  const line = $('scenario-line');
  line.textContent = model.scenario;
  line.classList.toggle('hidden', !model.scenario);
}

function syncControls() {
  $('btn-pause').textContent = model.paused ? 'Resume' : 'Pause';
  $('btn-live').disabled = model.live;
  const sp = $('speed');
  if (document.activeElement !== sp) {
    let best = sp.options[0];
    for (const o of sp.options) if (Math.abs(Math.log(+o.value / model.speed)) < Math.abs(Math.log(+best.value / model.speed))) best = o;
    sp.value = best.value;
  }
  const loss = model.network.loss || 0;
  if (document.activeElement !== $('loss')) $('loss').value = loss;
  $('loss-out').textContent = Math.round(loss * 100) + '%';
}

// ---- details panel ---------------------------------------------------------

function showDetails(p) {
  picked = p;
  refreshDetails();
}

let detailsHTML = '';
function setDetails(html) {
  // Rebuilt only when it changed, so that a click never lands on a button
  // that is being replaced.
  if (html === detailsHTML) return;
  detailsHTML = html;
  const box = $('details');
  box.innerHTML = html;
  for (const c of box.querySelectorAll('.chip[data-term]')) c.style.backgroundColor = termColor(+c.dataset.term, true);
}

function refreshDetails() {
  if (!picked) return;
  if (picked.kind === 'msg') {
    const m = picked.msg;
    const rows = Object.entries(m).filter(([k]) => k !== 'entries').map(([k, v]) => `<tr><th>${escapeHTML(k)}</th><td>${escapeHTML(v)}</td></tr>`);
    if (m.entries) rows.push(`<tr><th>entries</th><td>${m.entries.map(e => `${e.index}/${e.term} ${escapeHTML(e.cmd ?? '')}`).join('<br>') || '(none: heartbeat)'}</td></tr>`);
    setDetails(`<h2>Message</h2><p class="mono">${escapeHTML(describeMsg(m))}</p><table class="kv">${rows.join('')}</table>`);
    return;
  }
  const n = model.node(picked.id);
  if (!n) return;
  const prog = (n.progress || []).map(p => `<tr><td>n${p.id}</td><td>${p.nextIndex}</td><td>${p.matchIndex}</td></tr>`).join('');
  const last = n.log.slice(-8).map(e => `<span class="chip" data-term="${e.term}">${e.index}/${e.term} ${escapeHTML(e.cmd ?? '')}</span>`).join(' ');
  setDetails(`
    <h2>n${n.id} <span class="tag">${n.up ? escapeHTML(n.role) : 'crashed'}</span></h2>
    <table class="kv">
      <tr><th>currentTerm</th><td>${n.term}</td></tr>
      <tr><th>votedFor</th><td>${n.votedFor ? 'n' + n.votedFor : 'none'}</td></tr>
      <tr><th>leader</th><td>${n.leader ? 'n' + n.leader : 'unknown'}</td></tr>
      <tr><th>log</th><td>${n.log.length} entries ${n.log.length > 8 ? '(last 8)' : ''}<br>${last || '(empty)'}</td></tr>
      <tr><th>commitIndex</th><td>${n.commitIndex}</td></tr>
      <tr><th>lastApplied</th><td>${n.lastApplied}</td></tr>
      <tr><th>election timer</th><td>${!n.up ? '(down)' : n.role === 'leader' ? '(leaders have none)' : `${n.electionElapsed ?? 0} of ${n.electionTimeout ?? 0} ticks`}</td></tr>
      <tr><th>saved</th><td>term ${n.savedTerm}, votedFor ${n.savedVote ? 'n' + n.savedVote : 'none'}, log to ${n.savedLog}</td></tr>
    </table>
    ${prog ? `<table class="kv progress"><tr><th>peer</th><th>nextIndex</th><th>matchIndex</th></tr>${prog}</table>` : ''}
    <div class="row node-actions">
      <button data-act="crash" ${n.up ? '' : 'disabled'}>Crash</button>
      <button data-act="restart">Restart</button>
      <button data-act="timeout" ${n.up && n.role !== 'leader' ? '' : 'disabled'}>Force timeout</button>
      <button data-act="isolate" ${n.up ? '' : 'disabled'}>Cut off</button>
      <button data-act="propose" ${n.up ? '' : 'disabled'}>Propose here</button>
    </div>`);
}

$('details').addEventListener('click', e => {
  const act = e.target.dataset && e.target.dataset.act;
  if (!act || !picked || picked.kind !== 'node') return;
  if (act === 'propose') {
    const text = $('propose-text').value.trim() || `cmd-${Math.floor(Math.random() * 1000)}`;
    send({ op: 'propose', node: picked.id, command: text });
  } else {
    send({ op: act, node: picked.id });
  }
});

// ---- controls --------------------------------------------------------------

function togglePause() { send({ op: model.paused ? 'resume' : 'pause' }); }
$('btn-pause').onclick = togglePause;
$('btn-step').onclick = () => send({ op: 'step' });
$('btn-live').onclick = () => send({ op: 'live' });
$('speed').onchange = e => send({ op: 'speed', value: +e.target.value });
$('window').onchange = e => { timeline.windowSec = +e.target.value; };
$('btn-large').onclick = toggleLarge;
$('btn-help').onclick = () => $('help').classList.toggle('hidden');
$('btn-close-help').onclick = () => $('help').classList.add('hidden');
$('propose-form').onsubmit = e => {
  e.preventDefault();
  const text = $('propose-text').value.trim();
  if (!text) { toast('type a command to propose, e.g. x=1', true); return; }
  send({ op: 'propose', command: text });
};
let lossTimer = null;
$('loss').oninput = e => {
  $('loss-out').textContent = Math.round(+e.target.value * 100) + '%';
  clearTimeout(lossTimer);
  lossTimer = setTimeout(() => send({ op: 'network', knob: 'loss', value: +e.target.value }), 150);
};
$('btn-heal').onclick = () => send({ op: 'heal' });
$('btn-partition').onclick = () => {
  cluster.partitionPick = new Set();
  $('partition-help').classList.remove('hidden');
  cluster.drawnVersion = -1;
};
$('btn-cut').onclick = () => {
  const a = [...cluster.partitionPick].sort((x, y) => x - y);
  const b = model.nodes.map(n => n.id).filter(id => !cluster.partitionPick.has(id));
  cluster.partitionPick = null;
  $('partition-help').classList.add('hidden');
  cluster.drawnVersion = -1;
  if (!a.length || !b.length) { toast('pick some servers for side A, but not all of them', true); return; }
  send({ op: 'partition', groups: [a, b] });
};
$('btn-cancel-cut').onclick = () => {
  cluster.partitionPick = null;
  $('partition-help').classList.add('hidden');
  cluster.drawnVersion = -1;
};
$('btn-scenario').onclick = () => send({ op: 'scenario', name: $('scenario').value });
$('reset-form').onsubmit = e => {
  e.preventDefault();
  const seed = Number($('seed').value), nodes = Number($('nodes').value);
  if (!Number.isInteger(seed) || seed < 0) { toast('the seed is a whole number, 0 or more', true); return; }
  send({ op: 'reset', seed, nodes });
};

function fillScenarios(list) {
  const sel = $('scenario');
  sel.replaceChildren();
  for (const s of list) {
    const o = document.createElement('option');
    o.value = s.name; o.textContent = s.title; o.title = s.what;
    sel.appendChild(o);
  }
}

function showTodo(todo) {
  const box = $('todo');
  if (!todo.length) { box.classList.add('hidden'); return; }
  box.innerHTML = `<details><summary>${todo.length} functions of your exercise are still stubs (<code>r.todo</code>): until they are written, your servers do nothing there.</summary><ul>${todo.map(t => `<li>${escapeHTML(t)}</li>`).join('')}</ul></details>`;
  box.classList.remove('hidden');
}

// violationBanner shows the first violation of the run — where things
// went wrong; the ones after it are often its consequences.
function violationBanner() {
  const first = model.violations[0];
  if (!first) return;
  const more = model.violations.length - 1;
  const b = $('banner');
  b.innerHTML = `⚠ <b>${escapeHTML(first.rule)}</b> broken at ${fmtTime(first.t)} on n${first.node}: ${escapeHTML(first.text)}` +
    (more ? ` <span class="hint">(and ${more} more after it)</span>` : '') +
    ` <button id="btn-goto-violation">Show the moment</button>`;
  b.classList.remove('hidden');
  $('btn-goto-violation').onclick = () => send({ op: 'seek', seq: first.seq });
}

function toggleLarge() {
  const on = document.body.classList.toggle('large');
  $('btn-large').setAttribute('aria-pressed', on);
  cluster.drawnVersion = -1;
  logs.update(true);
}

function toast(text, bad) {
  const t = document.createElement('div');
  t.className = 'toast' + (bad ? ' error' : '');
  t.textContent = text;
  t.setAttribute('role', bad ? 'alert' : 'status');
  $('toasts').appendChild(t);
  setTimeout(() => t.remove(), bad ? 8000 : 4000);
  while ($('toasts').children.length > 5) $('toasts').firstChild.remove();
}

document.addEventListener('keydown', e => {
  if (e.target.matches('input, select, textarea')) return;
  if (e.key === ' ') { e.preventDefault(); togglePause(); }
  else if (e.key === 'ArrowRight') { e.preventDefault(); send({ op: 'step' }); }
  else if (e.key === '?') $('help').classList.toggle('hidden');
  else if (e.key === 'l' || e.key === 'L') toggleLarge();
  else if (e.key === 'Escape') {
    $('help').classList.add('hidden');
    picked = null; cluster.picked = null;
    setDetails('<h2>Click a server or a message</h2><p class="hint">Its state, and what you can do with it, appear here.</p>');
    cluster.drawnVersion = -1;
  }
});

// For tests and the curious: the model and the page's own counters.
window.raftviz = { model, stats, send, cluster, timeline };

connect();
requestAnimationFrame(loop);
