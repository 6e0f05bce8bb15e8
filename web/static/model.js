// The page's model of the cluster: a state frame, then every event folded in
// order — the same fold as lab.View.Apply in Go. Views only read it.

// Limits that keep memory bounded over a long run: the timeline keeps the
// newest segments and marks, older ones are dropped.
const MAX_SEGMENTS = 4000; // per server
const MAX_MARKS = 20000;   // all servers together
const MAX_INFLIGHT = 2000;

export class Model {
  constructor() {
    this.reset();
  }

  reset() {
    this.t = 0;              // virtual time (ns) of the last event or status
    this.seq = 0;
    this.paused = false;
    this.speed = 0.02;
    this.live = true;
    this.horizon = { t: 0, seq: 0 };
    this.impl = '';
    this.seed = 0;
    this.nodes = [];
    this.groups = [];
    this.network = {};
    this.config = {};
    this.inflight = new Map(); // key → {msg, sent, arrive, lost, dup}
    this.drops = [];           // recent drops, for the animation: {msg, t}
    this.violations = [];
    this.segments = [];        // per node: [{from, to, role, term}]
    this.marks = [];           // [{t, kind, node, text, ...}]
    this.scenario = '';
    this.version = 0;          // bumped on every change, for views that redraw on change
    this.logVersion = 0;       // bumped when a log, commit or applied index changes
  }

  // load replaces everything with a state frame.
  load(st) {
    const keepMarks = st.reason === 'seek' || st.reason === 'live' || st.reason === 'resync';
    this.t = st.t; this.seq = st.seq; this.paused = st.paused; this.speed = st.speed;
    this.live = st.live; this.horizon = st.horizon; this.impl = st.impl; this.seed = st.seed;
    this.config = st.config; this.network = st.network; this.groups = st.groups;
    this.nodes = st.nodes.map(n => ({ ...n, log: n.log || [], progress: n.progress || [] }));
    this.violations = st.violations || [];
    this.scenario = st.scenario || '';
    this.inflight = new Map();
    for (const f of st.inflight || []) {
      this.inflight.set(msgKey(f.msg, f.arrive), { msg: f.msg, sent: Math.max(0, f.arrive - 10e6), arrive: f.arrive, lost: f.lost, dup: f.dup });
    }
    this.drops = [];
    if (!keepMarks || this.segments.length !== this.nodes.length) {
      // Rebuild the timeline from the history the server keeps.
      this.segments = this.nodes.map(() => []);
      this.marks = [];
      const saved = { nodes: this.nodes, seq: this.seq, t: this.t };
      const replay = this.nodes.map(n => ({ id: n.id, role: 'follower', term: 0, up: true }));
      for (const e of st.history || []) this.timelineEvent(e, replay);
      this.nodes = saved.nodes;
    }
    this.version++; this.logVersion++;
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
      case 'role': n.role = e.role; n.leader = e.leader; break;
      case 'log': n.log = splice(n.log, e.index, e.entries || []); this.logVersion++; break;
      case 'commit': n.commitIndex = e.index; this.logVersion++; break;
      case 'apply': n.lastApplied = e.index; this.logVersion++; break;
      case 'save-state': n.savedTerm = e.term; n.savedVote = e.vote; break;
      case 'save-log': n.savedLog = e.index - 1 + (e.entries || []).length; break;
      case 'send':
        if (this.inflight.size < MAX_INFLIGHT) {
          this.inflight.set(msgKey(e.msg, e.arrive), { msg: e.msg, sent: e.t, arrive: e.arrive });
        }
        break;
      case 'deliver': this.inflight.delete(msgKey(e.msg, e.t)); break;
      case 'drop':
        this.inflight.delete(msgKey(e.msg, e.t));
        this.drops.push({ msg: e.msg, t: e.t, why: e.text });
        if (this.drops.length > 200) this.drops.splice(0, 100);
        break;
      case 'crash': n.up = false; break;
      case 'restart':
        Object.assign(n, { up: true, role: 'follower', term: 0, votedFor: 0, leader: 0, commitIndex: 0, lastApplied: 0, log: [] });
        this.logVersion++;
        break;
      case 'partition': this.groups = e.groups; break;
      case 'network': this.network = withKnob(this.network, e.knob, e.value); break;
      case 'violation': this.violations.push({ rule: e.rule, t: e.t, node: e.node, cause: e.cause, text: e.text, seq: e.seq }); break;
    }
    this.timelineEvent(e, this.nodes);
    this.version++;
    return true;
  }

  // timelineEvent records what the timeline draws. nodes gives each node's
  // role and term just before e (the live nodes, or a replay of the history).
  timelineEvent(e, nodes) {
    const mark = (kind, extra) => {
      this.marks.push({ t: e.t, kind, node: e.node || 0, seq: e.seq, ...extra });
      if (this.marks.length > MAX_MARKS) this.marks.splice(0, MAX_MARKS / 10);
    };
    const n = e.node ? nodes[e.node - 1] : null;
    switch (e.kind) {
      case 'role': {
        if (nodes !== this.nodes) { n.role = e.role; n.term = e.term; }
        const segs = this.segments[e.node - 1];
        if (!segs) return;
        const last = segs[segs.length - 1];
        if (last && last.to === undefined) last.to = e.t;
        segs.push({ from: e.t, role: e.role, term: e.term });
        if (segs.length > MAX_SEGMENTS) segs.splice(0, MAX_SEGMENTS / 10);
        if (e.role === 'candidate') mark('election', { term: e.term });
        break;
      }
      case 'vote': if (e.vote && e.vote !== e.node) mark('vote', { vote: e.vote, term: e.term }); break;
      case 'commit': mark('commit', { index: e.index }); break;
      case 'crash': {
        const segs = this.segments[e.node - 1];
        if (segs) {
          const last = segs[segs.length - 1];
          if (last && last.to === undefined) last.to = e.t;
          segs.push({ from: e.t, role: 'down', term: 0 });
        }
        mark('crash', { text: e.text || '' });
        break;
      }
      case 'restart': {
        const segs = this.segments[e.node - 1];
        if (segs) {
          const last = segs[segs.length - 1];
          if (last && last.to === undefined) last.to = e.t;
          segs.push({ from: e.t, role: 'follower', term: 0 });
        }
        mark('restart');
        break;
      }
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
    this.paused = s.paused; this.speed = s.speed; this.live = s.live; this.horizon = s.horizon;
    this.scenario = s.scenario || '';
    for (const x of s.nodes || []) {
      const n = this.node(x.id);
      if (!n) continue;
      n.electionElapsed = x.electionElapsed; n.electionTimeout = x.electionTimeout;
      n.progress = x.progress || [];
    }
    this.version++;
  }

  leader() {
    let best = null;
    for (const n of this.nodes) if (n.up && n.role === 'leader' && (!best || n.term > best.term)) best = n;
    return best;
  }

  groupOf(id) {
    for (let i = 0; i < this.groups.length; i++) if (this.groups[i].includes(id)) return i;
    return -1;
  }
}

export function msgKey(m, arrive) {
  return `${m.from}>${m.to}@${arrive}:${m.type}`;
}

function splice(log, from, entries) {
  const keep = Math.max(0, Math.min(log.length, from - 1));
  return log.slice(0, keep).concat(entries);
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

// termColor gives each term its own colour, the same everywhere.
export function termColor(term, light = false) {
  if (!term) return light ? '#e6e6e6' : '#9a9a9a';
  const hue = (term * 137.508) % 360;
  return light ? `hsl(${hue} 70% 85%)` : `hsl(${hue} 65% 45%)`;
}

export function fmtTime(ns) {
  return (ns / 1e9).toFixed(3) + 's';
}

export function describeMsg(m) {
  let s = `n${m.from}→n${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'RequestVote': s += ` last=${m.lastLogIndex}/${m.lastLogTerm}`; break;
    case 'RequestVoteReply': s += m.voteGranted ? ' granted' : ` refused${m.reject ? ': ' + m.reject : ''}`; break;
    case 'AppendEntries': {
      const es = m.entries || [];
      s += ` prev=${m.prevLogIndex}/${m.prevLogTerm}`;
      s += es.length ? ` entries=${es[0].index}..${es[es.length - 1].index}` : ' heartbeat';
      s += ` commit=${m.leaderCommit}`;
      break;
    }
    case 'AppendEntriesReply':
      s += m.success ? ` ok match=${m.matchIndex}` : ` refused${m.reject ? ': ' + m.reject : ''}`;
      if (m.conflictIndex || m.conflictTerm) s += ` conflict=${m.conflictIndex}/${m.conflictTerm}`;
      break;
  }
  return s;
}
