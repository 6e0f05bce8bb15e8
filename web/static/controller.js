// The controller: the one writer of the model. It folds the session's frames
// into the model, and turns clicks and keys into commands to the session.

import { fmtTime } from './model.js';
import { escapeHTML } from './words.js';

const $ = id => document.getElementById(id);

export class Controller {
  constructor({ model, conn, cluster, panel, timeline, logs }) {
    Object.assign(this, { model, conn, cluster, panel, timeline, logs });
    this.hello = null;
    this.control = false;
    this.lastCrashed = 0;
    this.proposing = '';       // the text of a proposal awaiting its answer
    this.stats = { frames: 0, events: 0, errors: [], acks: 0, states: 0, fps: 0 };
  }

  send(cmd) {
    if (!this.conn.send(cmd)) { this.toast('not connected to raftviz', true); return false; }
    return true;
  }

  // ---- frames --------------------------------------------------------------

  onFrame(f) {
    const m = this.model;
    switch (f.type) {
      case 'hello':
        this.hello = f;
        this.control = f.control;
        this.realtime = f.realTime || null;
        m.realtime = this.realtime;
        document.body.classList.toggle('watch-only', !f.control);
        document.body.classList.remove('offline');
        this.timeline.enabled = f.control && !this.realtime;
        if (this.realtime) this.showRealTime(this.realtime);
        this.fillScenarios(f.scenarios || []);
        this.showTodo(f.todo || []);
        $('watching').textContent = f.control ? '' : watchOnlyNote(f.watchers);
        $('watching').classList.toggle('hidden', f.control);
        break;
      case 'state':
        this.stats.states++;
        m.load(f);
        this.forgetStalePicks(f.reason === 'reset' ? 0 : Infinity);
        // Real processes have no seed: the box stays empty, never "0".
        $('seed').value = this.realtime ? '' : f.seed;
        $('nodes').value = f.nodes.length;
        if (m.violations.length) this.violationBanner(); else $('banner').classList.add('hidden');
        this.syncControls();
        break;
      case 'events':
        for (const e of f.events) {
          if (e.seq > m.seq + 1 && m.seq > 0) {
            // A gap: the server dropped frames for us. Ask for a fresh state.
            this.send({ op: 'state' });
            break;
          }
          if (m.apply(e)) this.stats.events++;
          if (e.kind === 'crash') this.lastCrashed = e.node;
          if (e.kind === 'violation') this.violationBanner();
        }
        m.setLeader(f.leader);
        break;
      case 'status':
        m.status(f);
        this.syncControls();
        break;
      case 'branch':
        m.branch(f.seq, f.t);
        this.forgetStalePicks(f.seq);
        this.toast('a new course from ' + fmtTime(f.t) + ': what came after is forgotten', false);
        break;
      case 'ack':
        this.stats.acks++;
        if (f.op === 'propose' && this.proposing) {
          // Taken: the box is ready for the next command.
          if ($('propose-text').value.trim() === this.proposing) $('propose-text').value = '';
          this.proposing = '';
        }
        if (f.text) this.toast(f.text, false);
        break;
      case 'error':
        if (f.op === 'propose') this.proposing = '';
        this.stats.errors.push(f.error);
        this.toast(f.error, true);
        break;
    }
  }

  // tick runs once an animation frame, at virtual time vt.
  tick(vt) { this.model.expire(vt); }

  onOpen() { this.panel.info(this.model.t, this.hello); }

  onClose() {
    $('run-info').textContent = 'disconnected from raftviz — reconnecting…';
    document.body.classList.add('offline');
  }

  syncControls() {
    const m = this.model;
    $('btn-pause').textContent = m.paused ? 'Resume' : 'Pause';
    $('btn-live').disabled = m.live;
    const sp = $('speed');
    if (this.realtime) $('btn-live').disabled = true;
    else if (document.activeElement !== sp) {
      let best = sp.options[0];
      for (const o of sp.options) if (Math.abs(Math.log(+o.value / m.speed)) < Math.abs(Math.log(+best.value / m.speed))) best = o;
      if (sp.value !== best.value) sp.value = best.value;
    }
    const loss = m.network.loss || 0;
    if (document.activeElement !== $('loss')) $('loss').value = loss;
    $('loss-out').textContent = Math.round(loss * 100) + '%';
  }

  // showRealTime shows the page of a cluster of real processes: each control
  // of a simulation is disabled, with the server's own sentence saying why —
  // as its tooltip, as its accessible description, and in the note above.
  showRealTime(rt) {
    document.body.classList.add('realtime');
    const why = rt.unavailable || {};
    const box = $('why');
    const off = (el, op) => {
      const text = why[op] || 'unavailable in real time';
      let d = document.getElementById('why-' + op);
      if (!d) {
        d = document.createElement('span');
        d.id = 'why-' + op;
        box.appendChild(d);
      }
      d.textContent = text;
      if (el.tagName === 'A') {
        el.removeAttribute('href');
        el.setAttribute('role', 'link');
        el.setAttribute('aria-disabled', 'true');
      } else {
        el.disabled = true;
      }
      el.title = text;
      el.setAttribute('aria-describedby', 'why-' + op);
    };
    off($('btn-step'), 'step');
    const real = document.createElement('option');
    real.value = 'real'; real.textContent = 'real time';
    $('speed').appendChild(real);
    $('speed').value = 'real';
    off($('speed'), 'speed');
    off($('btn-live'), 'seek');
    off($('scenario'), 'scenario');
    off($('btn-scenario'), 'scenario');
    off($('seed'), 'reset');
    off($('nodes'), 'reset');
    off(document.querySelector('#reset-form button[type=submit]'), 'reset');
    off($('loss'), 'network');
    off(document.querySelector('#node-view button[data-act=timeout]'), 'timeout');
    for (const b of document.querySelectorAll('#msg-view button[data-msg-act]')) off(b, 'message');
    why.trace = 'a run of real processes is not recorded as a trace: it cannot be replayed event for event (the simulator\'s runs can)';
    off($('btn-trace'), 'trace');
    off($('timeline'), 'seek');
    $('timeline').setAttribute('aria-label', 'Timeline of the real servers, in wall time. ' + (why.seek || ''));
    $('seed').placeholder = '—';
    $('btn-pause').title = 'Pause or resume the timeline view (Space): ' + (rt.pause || 'the servers run on');
    const title = (sel, t) => { const b = document.querySelector(sel); if (b) b.title = t; };
    title('#node-view button[data-act=crash]', 'kill -9 this server\'s process (C: the leader\'s)');
    title('#node-view button[data-act=restart]', 'Start its process again from its folder (R)');
    title('#node-view button[data-act=isolate]', 'Cut it off from the others, in the servers\' transports');
    title('#btn-partition', 'Pick the servers of one side, then Cut: the links are cut in the servers\' transports');
    const note = $('realtime');
    note.replaceChildren();
    const b = document.createElement('b');
    b.textContent = 'Real processes on the wall clock. ';
    note.append(b, 'Pause stops this timeline view, not the servers: they run on. ' +
      'The simulator\'s controls are shown unavailable (hover one to read why); Crash is kill -9. ');
    const small = document.createElement('span');
    small.className = 'hint';
    small.textContent = 'Messages drawn: a sample, slowed to be seen.';
    small.title = rt.messages || '';
    note.append(small);
    note.classList.remove('hidden');
  }

  // refuseHere says why a key's control is unavailable in real time.
  refuseHere(op) {
    this.toast((this.realtime.unavailable || {})[op] || 'unavailable in real time', true);
  }

  // ---- picking ---------------------------------------------------------------

  // forgetStalePicks drops what the page holds of a run that is gone: after
  // a reset (upTo 0) or a new course from event upTo, a message sent later
  // is another message under the same key (a seek keeps the course: upTo
  // Infinity), a server may no longer exist (a reset with fewer servers),
  // and the last crash is of another run.
  forgetStalePicks(upTo) {
    const m = this.model, p = this.cluster.picked;
    if (p && (p.kind === 'node' ? !m.node(p.id) : !upTo || p.item.key > upTo)) this.pick(null);
    const side = this.cluster.partitionPick;
    if (side && [...side].some(id => !m.node(id))) this.cancelCut();
    if (!upTo || !m.node(this.lastCrashed)) this.lastCrashed = 0;
  }

  pick(p) {
    if (p && p.kind === 'node' && this.cluster.partitionPick) {
      const set = new Set(this.cluster.partitionPick);
      if (set.has(p.id)) set.delete(p.id); else set.add(p.id);
      this.cluster.setPartitionPick(set);
      return;
    }
    this.cluster.setPicked(p);
    this.panel.pick(p);
  }

  // ---- commands --------------------------------------------------------------

  nodeAction(act, id) {
    if (act === 'propose') {
      const text = $('propose-text').value.trim() || `cmd-${Math.floor(Math.random() * 1000)}`;
      if (this.send({ op: 'propose', node: id, command: text })) this.proposing = text;
    } else {
      this.send({ op: act, node: id });
    }
  }

  propose() {
    const text = $('propose-text').value.trim();
    if (!text) { this.toast('type a command to propose, e.g. x=1', true); return; }
    if (this.send({ op: 'propose', command: text })) this.proposing = text;
  }

  crashLeader() {
    const l = this.model.leader();
    if (!l) { this.toast('there is no leader to crash right now', true); return; }
    this.send({ op: 'crash', node: l.id });
  }

  restart() {
    const p = this.cluster.picked;
    const n = p && p.kind === 'node' ? this.model.node(p.id) : null;
    const id = n && !n.up ? n.id : this.lastCrashed && !this.model.node(this.lastCrashed)?.up ? this.lastCrashed : 0;
    if (!id) { this.toast('no crashed server to restart: pick one that is down', true); return; }
    this.send({ op: 'restart', node: id });
  }

  timeoutPicked() {
    const p = this.cluster.picked;
    if (!p || p.kind !== 'node') { this.toast('pick a server first (keys 1–9), then T', true); return; }
    this.send({ op: 'timeout', node: p.id });
  }

  startPartition() {
    this.cluster.setPartitionPick(new Set());
    $('partition-help').classList.remove('hidden');
  }

  cut() {
    const pick = this.cluster.partitionPick || new Set();
    const a = [...pick].sort((x, y) => x - y);
    const b = this.model.nodes.map(n => n.id).filter(id => !pick.has(id));
    this.cancelCut();
    if (!a.length || !b.length) { this.toast('pick some servers for side A, but not all of them', true); return; }
    this.send({ op: 'partition', groups: [a, b] });
  }

  cancelCut() {
    this.cluster.setPartitionPick(null);
    $('partition-help').classList.add('hidden');
  }

  reset() {
    const seed = Number($('seed').value), nodes = Number($('nodes').value);
    if (!Number.isInteger(seed) || seed < 0) { this.toast('the seed is a whole number, 0 or more', true); return; }
    this.send({ op: 'reset', seed, nodes });
  }

  // ---- wiring ----------------------------------------------------------------

  bind() {
    const on = (id, ev, f) => $(id).addEventListener(ev, f);
    on('btn-pause', 'click', () => this.togglePause());
    on('btn-step', 'click', () => this.send({ op: 'step' }));
    on('btn-live', 'click', () => this.send({ op: 'live' }));
    on('speed', 'change', e => this.send({ op: 'speed', value: +e.target.value }));
    on('window', 'change', e => { this.timeline.windowSec = +e.target.value; });
    on('btn-large', 'click', () => this.toggleLarge());
    on('btn-help', 'click', () => this.toggleHelp());
    on('btn-close-help', 'click', () => this.toggleHelp(false));
    on('propose-form', 'submit', e => { e.preventDefault(); this.propose(); });
    let lossTimer = null;
    on('loss', 'input', e => {
      $('loss-out').textContent = Math.round(+e.target.value * 100) + '%';
      clearTimeout(lossTimer);
      lossTimer = setTimeout(() => this.send({ op: 'network', knob: 'loss', value: +e.target.value }), 150);
    });
    on('btn-trace', 'click', e => { if (this.realtime) { e.preventDefault(); return; } this.downloadTrace(e); });
    on('btn-heal', 'click', () => this.send({ op: 'heal' }));
    on('btn-partition', 'click', () => this.startPartition());
    on('btn-cut', 'click', () => this.cut());
    on('btn-cancel-cut', 'click', () => this.cancelCut());
    on('btn-scenario', 'click', () => this.send({ op: 'scenario', name: $('scenario').value }));
    on('reset-form', 'submit', e => { e.preventDefault(); this.reset(); });
    on('recent', 'toggle', () => this.panel.update(true));
    // The node's buttons are fixed elements: one listener on their box.
    on('node-view', 'click', e => {
      const b = e.target.closest('button[data-act]');
      const p = this.cluster.picked;
      if (!b || b.disabled || !p || p.kind !== 'node') return;
      this.nodeAction(b.dataset.act, p.id);
    });
    on('msg-view', 'click', e => {
      const b = e.target.closest('button[data-msg-act]');
      const p = this.cluster.picked;
      if (!b || b.disabled || !p || p.kind !== 'msg') return;
      const f = this.model.inflight.get(p.key);
      if (f && f.key) this.send({ op: b.dataset.msgAct, seq: f.key });
    });
    document.addEventListener('keydown', e => this.key(e));
  }

  key(e) {
    if (e.target.matches('input, select, textarea') || e.ctrlKey || e.metaKey || e.altKey) return;
    const help = !$('help').classList.contains('hidden');
    if (e.key === 'Escape') {
      if (help) this.toggleHelp(false);
      this.cancelCut();
      this.pick(null);
      return;
    }
    if (help) return;
    if (e.target.matches('button, a, summary') && (e.key === ' ' || e.key === 'Enter')) return; // the element's own press
    const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const controls = {
      ' ': () => this.togglePause(),
      ArrowRight: () => this.send({ op: 'step' }),
      c: () => this.crashLeader(),
      r: () => this.restart(),
      t: () => this.timeoutPicked(),
      p: () => $('propose-text').focus(),
    };
    if (this.realtime && this.control && (k === 'ArrowRight' || k === 't')) {
      this.refuseHere(k === 't' ? 'timeout' : 'step');
      e.preventDefault();
      return;
    }
    if (k === '?') this.toggleHelp();
    else if (k === 'l') this.toggleLarge();
    else if (/^[1-9]$/.test(k) && +k <= this.model.nodes.length) this.pick({ kind: 'node', id: +k });
    else if (controls[k] && this.control) controls[k]();
    else return;
    e.preventDefault();
  }

  // downloadTrace fetches the run with the control token, if the page has
  // one, and saves it: the token goes in the request, never into the page
  // (a link's address would show it to anyone reading the page).
  downloadTrace(e) {
    const token = this.conn.token;
    if (!token) return; // the link as it is
    e.preventDefault();
    fetch('/trace.jsonl?token=' + encodeURIComponent(token)).then(async r => {
      if (!r.ok) throw new Error((await r.text()).trim());
      const name = /filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '');
      const url = URL.createObjectURL(await r.blob());
      const a = document.createElement('a');
      a.href = url; a.download = name ? name[1] : 'raftviz.jsonl';
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    }).catch(err => this.toast('the run could not be downloaded: ' + err.message, true));
  }

  togglePause() { this.send({ op: this.model.paused ? 'resume' : 'pause' }); }

  toggleHelp(open) {
    const help = $('help');
    const show = open === undefined ? help.classList.contains('hidden') : open;
    if (show) {
      this.helpReturn = document.activeElement;
      help.classList.remove('hidden');
      $('btn-close-help').focus();
    } else if (!help.classList.contains('hidden')) {
      help.classList.add('hidden');
      if (this.helpReturn && this.helpReturn.focus) this.helpReturn.focus();
    }
  }

  toggleLarge() {
    const on = document.body.classList.toggle('large');
    $('btn-large').setAttribute('aria-pressed', on);
    this.cluster.setLarge(on);
    this.timeline.large = on;
    this.logs.relayout();
    window.dispatchEvent(new Event('resize'));
  }

  fillScenarios(list) {
    const sel = $('scenario');
    sel.replaceChildren();
    for (const s of list) {
      const o = document.createElement('option');
      o.value = s.name; o.textContent = s.title; o.title = s.what;
      sel.appendChild(o);
    }
  }

  showTodo(todo) {
    const box = $('todo');
    if (!todo.length) { box.classList.add('hidden'); return; }
    box.innerHTML = `<details><summary>${todo.length} functions of your exercise are still stubs (<code>r.todo</code>): until they are written, your servers do nothing there.</summary><ul>${todo.map(t => `<li>${escapeHTML(t)}</li>`).join('')}</ul></details>`;
    box.classList.remove('hidden');
  }

  // violationBanner shows the first violation of the run — where things
  // went wrong; the ones after it are often its consequences.
  violationBanner() {
    const first = this.model.violations[0];
    if (!first) return;
    const more = this.model.violations.length - 1;
    const b = $('banner');
    b.innerHTML = `⚠ <b>${escapeHTML(first.rule)}</b> broken at ${fmtTime(first.t)} on n${first.node}: ${escapeHTML(first.text)}` +
      (more ? ` <span class="hint">(and ${more} more after it)</span>` : '') +
      (this.control ? ' <button id="btn-goto-violation">Show the moment</button>' : '');
    b.classList.remove('hidden');
    const go = $('btn-goto-violation');
    if (go) go.onclick = () => this.send({ op: 'seek', seq: first.seq });
  }

  toast(text, bad) {
    const t = document.createElement('div');
    t.className = 'toast' + (bad ? ' error' : '');
    t.textContent = text;
    t.setAttribute('role', bad ? 'alert' : 'status');
    $('toasts').appendChild(t);
    setTimeout(() => t.remove(), bad ? 8000 : 4000);
    while ($('toasts').children.length > 5) $('toasts').firstChild.remove();
  }
}

// watchOnlyNote tells a watcher where control is. On the machine running
// raftviz itself, "control it from the machine running raftviz" would send
// its reader round in a circle: what it lacks is the token.
function watchOnlyNote(server) {
  const here = ['localhost', '127.0.0.1', '[::1]', '::1'].includes(location.hostname);
  if (!here) return server || 'This page is watch-only: the cluster is controlled from the machine running raftviz.';
  return 'This page is watch-only: it was opened without the control token. To control the cluster, open the address ' +
    'with ?token=… that raftviz printed when it started.';
}
