// The page's model of the cluster: a state frame, then every event folded in
// order — the same fold as lab.View.Fold in Go (web/fold_test.go feeds both
// the same golden event files and compares the states). The fold must live
// here too: the server streams events, not states, so that thirty frames a
// second stay small and every message can be drawn on its way.
//
// Only the controller writes to the model (load, apply, status, branch,
// expire); views only read it.

// Limits that keep memory bounded over a long run: the timeline keeps the
// newest segments and marks, older ones are dropped.
const MAX_SEGMENTS = 4000; // per server
const MAX_MARKS = 20000;   // all servers together
const MAX_INFLIGHT = 2000;
const MAX_RECENT = 40;
// A real message on one machine takes about a millisecond: in real time
// (raftviz cluster) each is drawn on its way for this long, to be seen.
const LIVE_FLIGHT = 400e6;

export class Model {
  constructor() {
    this.reset();
  }

  reset() {
    this.t = 0;              // virtual time (ns) of the last event or status
    this.statusT = 0;        // virtual time of the last timers the server sent
    this.seq = 0;
    this.paused = false;
    this.speed = 0.02;
    this.live = true;
    this.horizon = { t: 0, seq: 0 };
    this.impl = '';
    this.seed = 0;
    this.realtime = null;    // real processes (raftviz cluster): what is unavailable, and why
    this.nodes = [];
    this.groups = [];
    this.network = {};
    this.config = {};
    this.leaderMark = { id: 0, term: 0 }; // who leads, as the server says (lab.View.Leader)
    this.inflight = new Map(); // message key (its send event's seq) → {key, msg, say, sent, arrive, held, heldAt}
    this.drops = [];           // recent drops, for the animation: {msg, t, wall}
    this.votes = new Map();    // candidate id → {term, from: Set of ids}: votes granted to it
    this.recent = [];          // the last events, newest last
    this.violations = [];
    this.segments = [];        // per node: [{from, to, role, term}]
    this.marks = [];           // [{t, kind, node, text, ...}]
    this.scenario = '';
    this.version = 0;          // bumped on every change, for views that redraw on change
  }

  // load replaces everything with a state frame.
  load(st) {
    const keepMarks = st.reason === 'seek' || st.reason === 'live' || st.reason === 'resync';
    this.t = st.t; this.statusT = st.t; this.seq = st.seq; this.paused = st.paused; this.speed = st.speed;
    this.live = st.live; this.horizon = st.horizon; this.impl = st.impl; this.seed = st.seed;
    this.config = st.config; this.network = st.network; this.groups = st.groups;
    this.nodes = st.nodes.map(n => ({ ...n, log: windowed(n), progress: n.progress || [] }));
    this.violations = st.violations || [];
    this.scenario = st.scenario || '';
    this.leaderMark = st.leader || { id: 0, term: 0 };
    this.inflight = new Map();
    for (const f of st.inflight || []) {
      this.inflight.set(keyOf(f.key || f.sent, f.msg, f.arrive), { key: f.key || f.sent, msg: f.msg, say: f.say, sent: Math.max(0, f.arrive - 10e6), arrive: f.arrive, held: !!f.held, heldAt: null });
    }
    this.drops = [];
    this.votes = new Map();
    this.recent = [];
    if (!keepMarks || this.segments.length !== this.nodes.length) {
      // Rebuild the timeline from the history the server keeps.
      this.segments = this.nodes.map(() => []);
      this.marks = [];
      const replay = this.nodes.map(n => ({ id: n.id, role: 'follower', term: 0, up: true }));
      for (const e of st.history || []) this.timelineEvent(e, replay);
    }
    this.version++;
  }

  node(id) { return this.nodes[id - 1]; }

  // apply folds one event in. It returns false for an event already seen.
  apply(e) {
    if (e.seq <= this.seq) return false;
    this.seq = e.seq;
    this.t = Math.max(this.t, e.t);
    if (e.seq > this.horizon.seq) this.horizon = { t: e.t, seq: e.seq };
    const n = e.node ? this.node(e.node) : null;
    switch (e.kind) {
      case 'term': n.term = e.term; break;
      case 'vote': n.votedFor = e.vote; break;
      case 'role':
        n.role = e.role; n.leader = e.leader;
        if (e.role === 'candidate') this.votes.set(n.id, { term: e.term, from: new Set() });
        break;
      // A log event with a term replaces the whole log: it now follows a
      // snapshot whose last entry is index-1 of that term (as lab.View).
      case 'log': n.log = splice(e.term ? [] : n.log, e.index, e.entries || []); break;
      case 'commit': n.commitIndex = e.index; break;
      case 'apply': n.lastApplied = e.index; break;
      // Stage 4, as lab.View: the snapshot's last entry, and a restore.
      case 'snapshot': n.snapshotIndex = e.index; n.snapshotTerm = e.term; break;
      case 'restore':
        n.lastApplied = e.index;
        n.snapshotIndex = Math.max(n.snapshotIndex || 0, e.index); n.snapshotTerm = e.term;
        break;
      case 'save-state': n.savedTerm = e.term; n.savedVote = e.vote; break;
      case 'save-log': n.savedLog = e.index - 1 + (e.entries || []).length; break;
      case 'send':
        if (this.inflight.size < MAX_INFLIGHT) {
          // In real time a send's arrival is not known: the message is
          // drawn on its way for LIVE_FLIGHT, and its deliver marks it.
          const arrive = e.arrive || e.t + LIVE_FLIGHT;
          this.inflight.set(keyOf(e.key, e.msg, arrive), { key: e.key, msg: e.msg, say: e.say, sent: e.t, arrive, held: false, heldAt: null });
        }
        break;
      case 'deliver': {
        const f = this.realtime && this.inflight.get(keyOf(e.key, e.msg, e.t));
        if (f) f.delivered = e.t; // it finishes its drawn way, then goes
        else if (e.text !== 'duplicate') this.inflight.delete(keyOf(e.key, e.msg, e.t));
        const m = e.msg, v = this.votes.get(m.to);
        if (m.type === 'RequestVoteReply' && m.voteGranted && v && v.term === m.term) v.from.add(m.from);
        break;
      }
      case 'drop':
        this.inflight.delete(keyOf(e.key, e.msg, e.t));
        this.drops.push({ msg: e.msg, t: e.t, why: e.text, wall: performance.now() });
        if (this.drops.length > 200) this.drops.splice(0, 100);
        break;
      case 'hold': case 'release': {
        // A held message waits where it was, past its arrival time, until
        // a release (a deliver or drop follows) or a discard (a drop follows).
        const f = this.inflight.get(keyOf(e.cause));
        if (f) { f.held = e.kind === 'hold'; f.heldAt = f.held ? e.t : null; }
        break;
      }
      case 'crash': n.up = false; break;
      case 'restart':
        // As lab.View: a restarted server begins from nothing but what it saved.
        Object.assign(n, { up: true, role: 'follower', term: 0, votedFor: 0, leader: 0, commitIndex: 0, lastApplied: 0, log: [], snapshotIndex: 0, snapshotTerm: 0 });
        break;
      case 'partition': this.groups = e.groups || []; break;
      case 'network': this.network = withKnob(this.network, e.knob, e.value); break;
      case 'violation': this.violations.push({ rule: e.rule, t: e.t, node: e.node, cause: e.cause, text: e.text, seq: e.seq }); break;
    }
    this.recent.push(e);
    if (this.recent.length > MAX_RECENT) this.recent.shift();
    this.timelineEvent(e, this.nodes);
    this.version++;
    return true;
  }

  // setLeader records who leads, as the server decided it.
  setLeader(l) {
    if (!l) return;
    if (l.id !== this.leaderMark.id || l.term !== this.leaderMark.term) this.version++;
    this.leaderMark = l;
  }

  // timelineEvent records what the timeline draws. nodes gives each node's
  // role and term just before e (the live nodes, or a replay of the history).
  timelineEvent(e, nodes) {
    const mark = (kind, extra) => {
      this.marks.push({ t: e.t, kind, node: e.node || 0, seq: e.seq, ...extra });
      if (this.marks.length > MAX_MARKS) this.marks.splice(0, MAX_MARKS / 10);
    };
    const n = e.node ? nodes[e.node - 1] : null;
    const newSegment = (role, term) => {
      const segs = this.segments[e.node - 1];
      if (!segs) return;
      const last = segs[segs.length - 1];
      if (last && last.to === undefined) last.to = e.t;
      segs.push({ from: e.t, role, term });
      if (segs.length > MAX_SEGMENTS) segs.splice(0, MAX_SEGMENTS / 10);
    };
    switch (e.kind) {
      case 'role':
        if (nodes !== this.nodes) { n.role = e.role; n.term = e.term; }
        newSegment(e.role, e.term);
        if (e.role === 'candidate') mark('election', { term: e.term });
        break;
      case 'vote': if (e.vote && e.vote !== e.node) mark('vote', { vote: e.vote, term: e.term }); break;
      case 'commit': mark('commit', { index: e.index }); break;
      case 'crash': newSegment('down', 0); mark('crash', { text: e.text || '' }); break;
      case 'restart': newSegment('follower', 0); mark('restart'); break;
      case 'timeout': mark('timeout'); break;
      case 'partition': mark('partition', { groups: e.groups }); break;
      case 'network': mark('network', { knob: e.knob, value: e.value }); break;
      case 'propose': mark('propose', { text: (e.entries && e.entries[0] && e.entries[0].cmd) || '', index: e.index }); break;
      case 'violation': mark('violation', { rule: e.rule, text: e.text }); break;
      case 'note': mark('note', { text: e.text }); break;
    }
  }

  // branch forgets what came after seq: the run took a new course.
  branch(seq, t) {
    this.marks = this.marks.filter(m => m.seq <= seq);
    for (const segs of this.segments) {
      while (segs.length && segs[segs.length - 1].from > t) segs.pop();
      if (segs.length) delete segs[segs.length - 1].to;
    }
    this.violations = this.violations.filter(v => v.cause <= seq);
    this.horizon = { t, seq };
    this.version++;
  }

  // status updates the timers and the clock.
  status(s) {
    this.t = Math.max(this.t, s.t);
    this.statusT = s.t;
    this.paused = s.paused; this.speed = s.speed; this.live = s.live; this.horizon = s.horizon;
    this.scenario = s.scenario || '';
    this.setLeader(s.leader);
    for (const x of s.nodes || []) {
      const n = this.node(x.id);
      if (!n) continue;
      n.electionElapsed = x.electionElapsed; n.electionTimeout = x.electionTimeout;
      n.progress = x.progress || [];
    }
    this.version++;
  }

  // expire forgets messages whose arrival was not seen by virtual time vt
  // (their deliver came before this viewer joined, or was never sent).
  expire(vt) {
    for (const [key, f] of this.inflight) if (!f.held && f.arrive < vt - 1e6) this.inflight.delete(key);
  }

  // leader is the server that leads, as the server decided it, or null.
  leader() {
    const n = this.leaderMark.id ? this.node(this.leaderMark.id) : null;
    return n && n.up && n.role === 'leader' ? n : null;
  }

  // votesFor returns the votes candidate id holds in its term, itself included.
  votesFor(id) {
    const n = this.node(id), v = this.votes.get(id);
    if (!n || n.role !== 'candidate') return [];
    const from = new Set(v && v.term === n.term ? v.from : []);
    if (n.votedFor === id) from.add(id);
    return [...from].sort((a, b) => a - b);
  }

  groupOf(id) {
    for (let i = 0; i < this.groups.length; i++) if (this.groups[i].includes(id)) return i;
    return -1;
  }
}

// keyOf is a message's key: the number of the event that sent it. Only a
// message whose send the server no longer remembers has none; it is then
// known by its link and arrival time.
function keyOf(key, m, arrive) {
  return key ? 'k' + key : m ? `${m.from}>${m.to}@${arrive}:${m.type}` : '';
}

// windowed puts a state frame's window of a log (entries logFrom on; the
// server sends only the newest of a long log) at their indexes. The entries
// before it are holes: the page shows the newest entries only.
function windowed(n) {
  const log = n.log || [];
  if (!(n.logFrom > 1)) return log;
  const out = new Array(n.logFrom - 1);
  for (const e of log) out.push(e);
  return out;
}

function splice(log, from, entries) {
  const keep = Math.max(0, Math.min(log.length, from - 1));
  const out = log.slice(0, keep);
  out.length = Math.max(keep, from - 1); // entries not known before from are holes
  return out.concat(entries);
}

function withKnob(n, knob, v) {
  const out = { ...n };
  const ms = v * 1e6;
  switch (knob) {
    case 'loss': out.loss = v; break;
    case 'duplicate': out.duplicate = v; break;
    case 'reorder': out.reorder = v; break;
    case 'long-delay': out.longDelay = v; break;
    case 'min-latency-ms': out.minLatency = ms; break;
    case 'max-latency-ms': out.maxLatency = ms; break;
    case 'max-long-delay-ms': out.maxLongDelay = ms; break;
  }
  return out;
}

export function fmtTime(ns) {
  return (ns / 1e9).toFixed(3) + 's';
}
