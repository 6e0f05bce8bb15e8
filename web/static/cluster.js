// The cluster view: servers on a ring (SVG, one group per server, with its
// role by shape and label as well as colour), and the messages in flight
// drawn on a canvas above it. It reads the model and never writes to it.

import { termColor, textOn } from './colors.js';

const SVGNS = 'http://www.w3.org/2000/svg';
const RING = 330;
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

export class ClusterView {
  // onPick(pick) is called when a server or a message is picked:
  // {kind:'node', id} or {kind:'msg', key, item}.
  constructor(svg, canvas, model, onPick) {
    this.svg = svg;
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.model = model;
    this.onPick = onPick;
    this.count = -1;
    this.drawnVersion = -1;
    this.large = false;
    this.picked = null;        // {kind:'node', id} or {kind:'msg', key}
    this.positions = [];       // last drawn messages, for clicks: {x, y, key, item}
    this.partitionPick = null; // Set of ids while picking a partition
    this.maxAnimatedSpeed = 2; // above this, messages are too fast to follow
    canvas.addEventListener('click', e => this.click(e));
    svg.addEventListener('click', e => this.click(e));
  }

  // setPicked, setPartitionPick and setLarge change what the view shows; it
  // redraws on the next frame.
  setPicked(p) { this.picked = p; this.drawnVersion = -1; }
  setPartitionPick(set) { this.partitionPick = set; this.drawnVersion = -1; }
  setLarge(on) { this.large = on; this.count = -1; this.drawnVersion = -1; }

  layout() {
    const n = this.model.nodes.length;
    this.count = n;
    this.svg.replaceChildren();
    // Large mode scales the servers, not only their text.
    const grow = this.large ? 1.4 : 1;
    const ring = n === 1 ? 0 : RING - (grow - 1) * 60;
    const room = n === 1 ? 200 : ring * Math.sin(Math.PI / n) * 0.85; // half the gap to a neighbour
    this.r = Math.min(room, Math.max(24, Math.min(66, RING * Math.sin(Math.PI / Math.max(n, 2)) * 0.6)) * grow);
    this.centers = [];
    this.links = el('g', { class: 'links' }, this.svg);
    this.groups = [];
    const fs = Math.min(1, this.r / 50) * grow; // text scale: smaller servers on a crowded ring
    for (let i = 0; i < n; i++) {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      const c = { x: ring * Math.cos(a), y: ring * Math.sin(a) };
      this.centers.push(c);
      const id = i + 1;
      const g = el('g', { class: 'node', 'data-id': id, transform: `translate(${c.x} ${c.y})`, tabindex: 0, role: 'button' }, this.svg);
      const r = this.r;
      const timer = el('path', { class: 'timer' }, g);
      const halo = el('circle', { class: 'halo', r: r + 16 }, g);
      const shapes = {
        follower: el('circle', { class: 'shape', r }, g),
        candidate: el('polygon', { class: 'shape', points: `0,${-r * 1.15} ${r * 1.15},0 0,${r * 1.15} ${-r * 1.15},0` }, g),
        leader: el('rect', { class: 'shape', x: -r, y: -r, width: 2 * r, height: 2 * r, rx: r * 0.18 }, g),
      };
      // Labels outside the shape go towards the outside of the ring, so
      // that they never cover a neighbour or the middle.
      const below = c.y >= -1;
      const off = (k) => (below ? r + 24 * fs * k : -(r + 24 * fs * k));
      const name = el('text', { class: 'name', y: -r * 0.14, 'font-size': 34 * fs }, g);
      name.textContent = 'n' + id;
      const term = el('text', { class: 'term', y: r * 0.45, 'font-size': 21 * fs }, g);
      const role = el('text', { class: 'role', y: below ? off(1.3) : off(2.3), 'font-size': 21 * fs }, g);
      const vote = el('text', { class: 'vote', y: below ? off(2.3) : off(1.3), 'font-size': 19 * fs }, g);
      const activate = () => this.pickNode(id);
      g.addEventListener('keydown', e => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); e.stopPropagation(); activate(); }
      });
      this.groups.push({ g, timer, halo, shapes, name, term, role, vote });
    }
  }

  // update redraws the servers when the model changed.
  update() {
    const m = this.model;
    if (m.nodes.length !== this.count) this.layout();
    if (m.version === this.drawnVersion) return;
    this.drawnVersion = m.version;
    const main = this.mainGroup();
    m.nodes.forEach((n, i) => {
      const v = this.groups[i];
      const role = n.up ? n.role : 'down';
      v.g.dataset.role = role;
      v.g.dataset.term = n.term;
      v.g.dataset.up = n.up;
      const votes = n.up && n.role === 'candidate' ? m.votesFor(n.id) : [];
      v.g.setAttribute('aria-label', `n${n.id}: ${n.up ? n.role : 'crashed'}, term ${n.term}` + (votes.length ? `, votes from ${votes.map(x => 'n' + x).join(', ')}` : ''));
      const fill = n.up ? termColor(n.term, n.role !== 'leader') : '#d6d6d6';
      for (const [k, s] of Object.entries(v.shapes)) {
        const shown = k === (n.role || 'follower');
        s.setAttribute('visibility', shown ? 'visible' : 'hidden');
        if (shown) {
          s.setAttribute('fill', fill);
          s.setAttribute('stroke', n.up ? termColor(n.term) : '#6b6b6b');
        }
      }
      // Text on the shape takes the colour that reads on its fill.
      const ink = textOn(fill);
      v.name.style.fill = ink;
      v.term.style.fill = ink;
      v.term.textContent = n.up ? `term ${n.term}` : 'down';
      v.role.textContent = n.up ? (n.role === 'leader' ? 'LEADER' : n.role === 'candidate' ? 'CANDIDATE' : 'follower') : 'crashed';
      const cut = m.groups.length > 1 && m.groupOf(n.id) !== main;
      const quorum = Math.floor(m.nodes.length / 2) + 1;
      v.vote.textContent = !n.up ? '' : cut ? '✂ cut off'
        : n.role === 'candidate' ? `votes ${votes.map(x => 'n' + x).join(' ')} (${votes.length}/${quorum})`
          : n.role === 'leader' ? '' : n.votedFor ? `voted n${n.votedFor}` : '';
      v.g.classList.toggle('cut', cut);
      v.g.classList.toggle('picked', !!(this.picked && this.picked.kind === 'node' && this.picked.id === n.id));
      v.g.classList.toggle('pick-a', !!(this.partitionPick && this.partitionPick.has(n.id)));
    });
    this.drawLinks();
  }

  // mainGroup is the partition group with the most servers (the one that can elect).
  mainGroup() {
    const gs = this.model.groups;
    let best = 0;
    for (let i = 1; i < gs.length; i++) if (gs[i].length > gs[best].length) best = i;
    return best;
  }

  drawLinks() {
    this.links.replaceChildren();
    const m = this.model;
    for (let a = 0; a < m.nodes.length; a++) {
      for (let b = a + 1; b < m.nodes.length; b++) {
        const same = m.groupOf(a + 1) === m.groupOf(b + 1);
        const ca = this.centers[a], cb = this.centers[b];
        el('line', { x1: ca.x, y1: ca.y, x2: cb.x, y2: cb.y, class: same ? 'link' : 'link cut' }, this.links);
      }
    }
  }

  // frame draws what moves: election timers and messages, at virtual time vt.
  frame(vt) {
    const m = this.model;
    const tick = (m.config && m.config.tickInterval) || 10e6;
    // Between two status frames the page guesses how far each timer ran, but
    // never past a heartbeat: a follower with a leader has its timer reset
    // by each one, and at high speed many come between two status frames.
    const cap = Math.max(1, ((m.config && m.config.heartbeatTimeout) || 50e6) / tick);
    m.nodes.forEach((n, i) => {
      const v = this.groups[i];
      if (!v) return;
      // Real processes do not report their timers: no arc is made up for them.
      if (!n.up || n.role === 'leader' || !n.electionTimeout || m.realtime) {
        v.timer.setAttribute('d', '');
        v.timer.dataset.frac = 0;
        return;
      }
      const extra = m.paused || !m.live ? 0 : Math.min(cap, Math.max(0, (vt - m.statusT) / tick));
      const frac = Math.min(1, (n.electionElapsed + extra) / n.electionTimeout);
      v.timer.setAttribute('d', arc(this.r + 8, frac));
      v.timer.dataset.frac = frac.toFixed(3);
      v.timer.classList.toggle('late', frac > 0.8);
    });
    this.drawMessages(vt);
  }

  drawMessages(vt) {
    const c = this.canvas, ctx = this.ctx, m = this.model;
    const rect = c.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(rect.width * dpr) || c.height !== Math.round(rect.height * dpr)) {
      c.width = Math.round(rect.width * dpr);
      c.height = Math.round(rect.height * dpr);
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, c.width, c.height);
    this.positions = [];
    // Map the SVG's viewBox (-500..500, aspect kept) onto the canvas.
    const size = Math.min(rect.width, rect.height);
    const scale = (size / 1000) * dpr;
    ctx.setTransform(scale, 0, 0, scale, (rect.width * dpr) / 2, (rect.height * dpr) / 2);
    this.scale = scale; this.dpr = dpr; this.rect = rect;
    if (m.speed > this.maxAnimatedSpeed) {
      ctx.font = '22px system-ui, sans-serif';
      ctx.fillStyle = '#444';
      ctx.textAlign = 'center';
      ctx.fillText('messages are not drawn above ' + this.maxAnimatedSpeed + '× — slow down to see them', 0, 0);
      return;
    }
    const still = reducedMotion.matches;
    const labels = []; // refusal reasons drawn, so that none covers another
    let drawn = 0;
    for (const [key, f] of m.inflight) {
      if (!f.held && f.arrive < vt - 1e6) continue; // its arrival was not seen
      if (drawn++ > 400) break;
      // With reduced motion, a message sits still halfway along its link; a
      // held one stays where it was held.
      const at = f.held ? (f.heldAt === null ? null : Math.min(f.heldAt, f.arrive)) : still ? null : vt;
      const p = this.pointOf(f.msg, f.sent, f.arrive, at);
      if (!p) continue;
      this.drawMessage(ctx, f.msg, p, this.picked && this.picked.key === key, labels);
      if (f.held) this.drawHeld(ctx, p);
      this.positions.push({ x: p.x, y: p.y, key, item: f });
    }
    if (still) return;
    // Lost messages fall and fade for a short while (in wall time).
    const now = performance.now();
    for (const d of m.drops) {
      const age = (now - d.wall) / 700;
      if (age > 1) continue;
      const p = this.pointOf(d.msg, 0, 1, 0.92);
      if (!p) continue;
      ctx.globalAlpha = 1 - age;
      ctx.strokeStyle = '#c62828';
      ctx.lineWidth = 5;
      const y = p.y + age * 40, s = 11;
      ctx.beginPath();
      ctx.moveTo(p.x - s, y - s); ctx.lineTo(p.x + s, y + s);
      ctx.moveTo(p.x + s, y - s); ctx.lineTo(p.x - s, y + s);
      ctx.stroke();
      ctx.globalAlpha = 1;
    }
  }

  // pointOf is where a message is at time vt (null: halfway), with f its
  // part of the way.
  pointOf(msg, sent, arrive, vt) {
    const a = this.centers[msg.from - 1], b = this.centers[msg.to - 1];
    if (!a || !b) return null;
    const f = vt === null ? 0.5 : Math.max(0, Math.min(1, (vt - sent) / Math.max(1, arrive - sent)));
    // Offset the two directions of a link so that requests and replies pass.
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    const off = 10;
    const ox = (-dy / len) * off, oy = (dx / len) * off;
    const start = this.r + 4;
    const x = a.x + (dx / len) * start + (dx - (2 * start * dx) / len) * f + ox;
    const y = a.y + (dy / len) * start + (dy - (2 * start * dy) / len) * f + oy;
    return { x, y, f };
  }

  drawMessage(ctx, m, p, picked, labels) {
    const { x, y } = p;
    const refused = (m.type === 'RequestVoteReply' && !m.voteGranted) || (m.type === 'AppendEntriesReply' && !m.success);
    const vote = m.type === 'RequestVote' || m.type === 'RequestVoteReply';
    const reply = m.type.endsWith('Reply');
    const heartbeat = m.type === 'AppendEntries' && !(m.entries && m.entries.length);
    // InstallSnapshot (stage 4) has its own shape: a wide purple block, "S".
    const snap = m.type === 'InstallSnapshot' || m.type === 'InstallSnapshotReply';
    const color = snap ? '#6a1b9a' : vote ? '#d96a00' : heartbeat ? '#7a7a7a' : '#1f5fbf';
    ctx.lineWidth = 4;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    const s = heartbeat ? 7 : 11;
    ctx.beginPath();
    if (snap) ctx.rect(x - 1.6 * s, y - s, 3.2 * s, 2 * s);
    else if (vote || (heartbeat && !reply)) ctx.arc(x, y, s, 0, 2 * Math.PI);
    else ctx.rect(x - s, y - s, 2 * s, 2 * s);
    if (reply) { ctx.fillStyle = '#fff'; ctx.fill(); ctx.stroke(); } else ctx.fill();
    if (picked) {
      ctx.strokeStyle = '#000'; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.arc(x, y, s + 7, 0, 2 * Math.PI); ctx.stroke();
    }
    ctx.font = 'bold 15px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    if (reply) {
      ctx.fillStyle = refused ? '#c62828' : '#2e7d32';
      ctx.fillText(refused ? '✕' : '✓', x, y + 1);
      // Why it was refused, while the reply is on its way — not near a
      // server, where it would cover the server's own labels — and never
      // over another reason.
      if (refused && m.reject && p.f > 0.15 && p.f < 0.8) {
        ctx.font = '15px system-ui, sans-serif';
        const w = ctx.measureText(m.reject).width + 6, h = 18;
        const box = { x: x - w / 2, y: y + 17, w, h };
        if (!labels.some(o => box.x < o.x + o.w && o.x < box.x + box.w && box.y < o.y + o.h && o.y < box.y + box.h)) {
          labels.push(box);
          ctx.fillStyle = 'rgba(255,255,255,0.9)';
          ctx.fillRect(box.x, box.y, box.w, box.h);
          ctx.fillStyle = '#9b1c1c';
          ctx.fillText(m.reject, x, y + 26);
        }
      }
    } else if (snap) {
      ctx.fillStyle = '#fff';
      ctx.fillText('S', x, y + 1);
    } else if (m.type === 'AppendEntries' && !heartbeat) {
      ctx.fillStyle = '#fff';
      ctx.fillText(String(m.entries.length), x, y + 1);
    }
  }

  // drawHeld marks a held message: two bars, as on a pause button.
  drawHeld(ctx, p) {
    ctx.fillStyle = '#111';
    ctx.fillRect(p.x + 15, p.y - 9, 4, 18);
    ctx.fillRect(p.x + 22, p.y - 9, 4, 18);
  }

  click(e) {
    // A message under the pointer wins over a server.
    // Where the ring is now, not at the last frame: the page's layout may
    // have moved since (its columns settle as text arrives), and on a busy
    // machine the next frame may be far off.
    if (!this.scale) return;
    const rect = this.canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    const scale = (Math.min(rect.width, rect.height) / 1000) * dpr;
    if (!scale) return;
    const px = ((e.clientX - rect.left) * dpr - (rect.width * dpr) / 2) / scale;
    const py = ((e.clientY - rect.top) * dpr - (rect.height * dpr) / 2) / scale;
    let best = null, bestD = 22;
    for (const p of this.positions) {
      const d = Math.hypot(p.x - px, p.y - py);
      if (d < bestD) { best = p; bestD = d; }
    }
    if (best) {
      this.onPick({ kind: 'msg', key: best.key, item: best.item });
      return;
    }
    for (let i = 0; i < this.centers.length; i++) {
      const c = this.centers[i];
      if (Math.hypot(c.x - px, c.y - py) < this.r + 16) { this.pickNode(i + 1); return; }
    }
  }

  pickNode(id) {
    this.onPick({ kind: 'node', id });
  }
}

// arc draws the part frac of a circle of radius r, clockwise from the top.
function arc(r, frac) {
  if (frac <= 0) return '';
  if (frac >= 1) frac = 0.9999;
  const a = -Math.PI / 2 + 2 * Math.PI * frac;
  const x = r * Math.cos(a), y = r * Math.sin(a);
  return `M 0 ${-r} A ${r} ${r} 0 ${frac > 0.5 ? 1 : 0} 1 ${x} ${y}`;
}
