// The side panel and the header's words: the picked server or message, the
// run's line, the last event and the recent ones, and the announcements for
// screen readers. Every element is built once (in index.html) and only its
// text, classes and disabled state change: a button is never replaced while
// someone is pressing it.

import { fmtTime } from './model.js';
import { termColor, textOn } from './colors.js';
import { describeEvent, cmd, escapeHTML, snapshotText } from './words.js';

const $ = id => document.getElementById(id);

export class PanelView {
  constructor(model) {
    this.model = model;
    this.picked = null;
    this.recentSeq = -1;
    this.recentAt = 0;
    this.announced = '';
    this.chipsKey = '';
    this.progressRows = [];
  }

  pick(p) {
    this.picked = p;
    $('pick-hint').classList.toggle('hidden', !!p);
    $('node-view').classList.toggle('hidden', !p || p.kind !== 'node');
    $('msg-view').classList.toggle('hidden', !p || p.kind !== 'msg');
    if (p && p.kind === 'msg') this.showMessage(p.item);
    this.chipsKey = '';
    this.update(true);
  }

  // showMessage fills the message view once: a message does not change.
  showMessage(f) {
    const m = f.msg;
    $('mv-say').textContent = f.say || '';
    const table = $('mv-fields');
    table.replaceChildren();
    const row = (k, v) => {
      const tr = table.insertRow();
      const th = document.createElement('th');
      th.textContent = k;
      tr.appendChild(th);
      tr.insertCell().textContent = v;
    };
    for (const [k, v] of Object.entries(m)) {
      if (k === 'data') {
        const b64 = String(v), pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
        row('data', `${b64.length / 4 * 3 - pad} bytes (the state machine's snapshot)`);
      }
      else if (k !== 'entries') row(k, String(v));
    }
    if (m.entries) row('entries', m.entries.map(e => `${e.index}/${e.term} ${cmd(e)}`).join('\n') || '(none: heartbeat)');
    row('sent at', fmtTime(f.sent));
    if (this.model.realtime) {
      // A real network says when a message arrived only once it has.
      row('delivered', f.delivered !== undefined ? `at ${fmtTime(f.delivered)}, ${Math.max(0, (f.delivered - f.sent) / 1e6).toFixed(1)} ms after it was sent (drawn slowed down)` : 'not yet known: a real network tells only when it delivers');
    } else {
      row('arrives at', fmtTime(f.arrive));
    }
  }

  // update refreshes what the panel shows; cheap when nothing changed.
  update(force = false) {
    this.updateNode();
    this.updateMessage();
    this.updateEvents(force);
    this.announce();
  }

  updateNode() {
    const p = this.picked;
    if (!p || p.kind !== 'node') return;
    const m = this.model, n = m.node(p.id);
    if (!n) return;
    $('nv-name').textContent = 'n' + n.id;
    const role = $('nv-role');
    role.textContent = n.up ? n.role : 'down';
    role.classList.toggle('down', !n.up);
    // A crashed server has no live state: say so, and show only what it saved.
    const down = $('nv-down');
    down.classList.toggle('hidden', n.up);
    if (!n.up) down.textContent = `n${n.id} is down: it has crashed and does nothing until restarted. It keeps only what it saved.`;
    for (const tr of document.querySelectorAll('#node-view .live-only')) tr.classList.toggle('hidden', !n.up);
    $('nv-term').textContent = n.term;
    $('nv-vote').textContent = n.votedFor ? 'n' + n.votedFor : 'none';
    const votes = m.votesFor(n.id);
    $('nv-votes-row').classList.toggle('hidden', !(n.up && n.role === 'candidate'));
    $('nv-votes').textContent = `${votes.map(x => 'n' + x).join(', ') || 'none'} — ${votes.length} of the ${Math.floor(m.nodes.length / 2) + 1} needed`;
    $('nv-leader').textContent = n.leader ? 'n' + n.leader : 'unknown';
    this.updateChips(n);
    $('nv-commit').textContent = n.commitIndex;
    $('nv-applied').textContent = n.lastApplied;
    // Real processes do not report how far their timers ran: say so, never "0 of N".
    $('nv-timer').textContent = n.role === 'leader' ? '(a leader has none)'
      : m.realtime ? 'not known: real processes do not report their timers'
        : `${n.electionElapsed ?? 0} of ${n.electionTimeout ?? 0} ticks`;
    $('nv-saved').textContent = `term ${n.savedTerm}, votedFor ${n.savedVote ? 'n' + n.savedVote : 'none'}, log to index ${n.savedLog}`;
    this.updateProgress(n);
    for (const b of document.querySelectorAll('#node-view button[data-act]')) {
      const act = b.dataset.act;
      b.disabled = act === 'restart' ? n.up : !n.up || (act === 'timeout' && (n.role === 'leader' || !!m.realtime));
    }
  }

  // updateMessage says whether the picked message is still on its way, and
  // offers only what can be done to it now.
  updateMessage() {
    const p = this.picked;
    if (!p || p.kind !== 'msg') return;
    const f = this.model.inflight.get(p.key);
    const state = !f ? 'arrived or lost' : f.held ? 'held' : 'on its way';
    const tag = $('mv-state');
    if (tag.textContent !== state) tag.textContent = state;
    const can = { hold: !!f && !f.held, release: !!f && f.held, discard: !!f, duplicate: !!f };
    for (const b of document.querySelectorAll('#msg-view button[data-msg-act]')) {
      const off = !can[b.dataset.msgAct] || !f.key || !!this.model.realtime;
      if (b.disabled !== off) b.disabled = off;
    }
  }

  // updateChips shows the newest entries the page knows (at most 8), never
  // one the snapshot holds: the simulator's view may still know a compacted
  // entry, but the server's log no longer does. A log may have holes — the
  // compacted prefix, or entries a state frame's window left out — so it
  // walks back from the end and stops at the snapshot or the first hole.
  updateChips(n) {
    const base = n.snapshotIndex || 0, count = Math.max(0, n.log.length - base);
    const last = [];
    for (let i = n.log.length - 1; i >= base && last.length < 8 && n.log[i]; i--) last.unshift(n.log[i]);
    const key = last.map(e => e.index + '/' + e.term).join(',') + ':' + n.log.length + ':' + base;
    if (key === this.chipsKey) return;
    this.chipsKey = key;
    const td = $('nv-log');
    const shown = last.length < count ? ` (last ${last.length})` : '';
    td.replaceChildren(`${base ? snapshotText(n) + ', then ' : ''}${count} ${count === 1 ? 'entry' : 'entries'}${shown}`, document.createElement('br'));
    if (!last.length) td.append('(empty)');
    for (const e of last) {
      const c = document.createElement('span');
      c.className = 'chip';
      const bg = termColor(e.term, true);
      c.style.backgroundColor = bg;
      c.style.color = textOn(bg);
      c.textContent = `${e.index}/${e.term} ${cmd(e)}`;
      td.append(c, ' ');
    }
  }

  updateProgress(n) {
    const table = $('nv-progress'), body = table.tBodies[0];
    const prog = n.up && n.role === 'leader' ? n.progress || [] : [];
    table.classList.toggle('hidden', !prog.length);
    while (this.progressRows.length < prog.length) {
      const tr = body.insertRow();
      this.progressRows.push([tr.insertCell(), tr.insertCell(), tr.insertCell()]);
    }
    while (this.progressRows.length > prog.length) { this.progressRows.pop(); body.deleteRow(-1); }
    prog.forEach((p, i) => {
      const [a, b, c] = this.progressRows[i];
      a.textContent = 'n' + p.id; b.textContent = p.nextIndex; c.textContent = p.matchIndex;
    });
  }

  // updateEvents shows the last event in words, and the recent ones when
  // their list is open. While the cluster runs fast it does so a few times a
  // second, which is as fast as anyone reads.
  updateEvents(force) {
    const m = this.model;
    if (m.seq === this.recentSeq && !force) return;
    const now = performance.now();
    if (!force && !m.paused && now - this.recentAt < 250) return;
    this.recentSeq = m.seq;
    this.recentAt = now;
    const last = m.recent[m.recent.length - 1];
    $('last-event').textContent = last ? `#${last.seq} ${fmtTime(last.t)} · ${describeEvent(last)}` : '';
    if (!$('recent').open) return;
    const list = $('recent-list');
    const items = m.recent.slice(-15).reverse();
    while (list.children.length < items.length) list.appendChild(document.createElement('li'));
    while (list.children.length > items.length) list.lastChild.remove();
    items.forEach((e, i) => { list.children[i].textContent = `#${e.seq} ${fmtTime(e.t)} ${describeEvent(e)}`; });
    list.start = items.length;
  }

  // info writes the run's line in the header. It is not a live region: it
  // changes ten times a second.
  info(vt, hello) {
    if (!hello) return;
    const m = this.model;
    const parts = m.realtime ? [
      `<b>${escapeHTML(m.impl)}</b> · ${m.nodes.length} real server processes`,
      `<span id="clock">${fmtTime(vt)}</span>`,
      m.paused ? '<span class="tag paused">view paused — the servers run on</span>' : '<span class="tag live">real time</span>',
    ] : [
      `<b>${escapeHTML(m.impl)}</b> · seed ${m.seed} · ${m.nodes.length} servers`,
      `<span id="clock">${fmtTime(vt)}</span>`,
      m.live ? (m.paused ? '<span class="tag paused">paused</span>' : `<span class="tag live">live ${m.speed}×</span>`)
        : `<span class="tag past">past · ${fmtTime(m.t)} of ${fmtTime(m.horizon.t)}</span>`,
    ];
    const l = m.leader();
    parts.push(l ? `leader <b>n${l.id}</b>, term ${l.term}` : 'no leader');
    if (m.violations.length) parts.push(`<span class="tag bad">${m.violations.length} violation${m.violations.length > 1 ? 's' : ''}</span>`);
    const html = parts.join(' · ');
    if (html !== this.infoHTML) { this.infoHTML = html; $('run-info').innerHTML = html; }
    const line = $('scenario-line');
    if (line.textContent !== m.scenario) line.textContent = m.scenario;
    line.classList.toggle('hidden', !m.scenario);
  }

  // announce tells screen readers when the leader or the term changes, and
  // nothing else.
  announce() {
    const l = this.model.leader();
    const text = l ? `n${l.id} leads term ${l.term}` : 'no leader';
    if (text === this.announced) return;
    this.announced = text;
    $('announce').textContent = text;
  }
}
