// The cluster view: servers on a ring (SVG, one group per server, with its
// role by shape and label as well as colour), and the messages in flight
// drawn on a canvas above it.

import { termColor, describeMsg } from './model.js';

const SVGNS = 'http://www.w3.org/2000/svg';
const RING = 330;

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

export class ClusterView {
  constructor(svg, canvas, model, onPick) {
    this.svg = svg;
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.model = model;
    this.onPick = onPick;
    this.count = -1;
    this.drawnVersion = -1;
    this.picked = null;       // {kind:'node', id} or {kind:'msg', key}
    this.positions = [];      // last drawn messages, for clicks: {x, y, key, item}
    this.partitionPick = null; // Set of ids while picking a partition
    this.maxAnimatedSpeed = 2; // above this, messages are too fast to follow
    canvas.addEventListener('click', e => this.click(e));
    svg.addEventListener('click', e => this.click(e));
  }

  layout() {
    const n = this.model.nodes.length;
    this.count = n;
    this.svg.replaceChildren();
    this.r = Math.max(22, Math.min(62, RING * Math.sin(Math.PI / Math.max(n, 2)) * 0.62));
    this.centers = [];
    this.links = el('g', { class: 'links' }, this.svg);
    this.groups = [];
    for (let i = 0; i < n; i++) {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      const c = n === 1 ? { x: 0, y: 0 } : { x: RING * Math.cos(a), y: RING * Math.sin(a) };
      this.centers.push(c);
      const id = i + 1;
      const g = el('g', { class: 'node', 'data-id': id, transform: `translate(${c.x} ${c.y})`, tabindex: 0, role: 'button' }, this.svg);
      const r = this.r;
      const timer = el('path', { class: 'timer' }, g);
      const halo = el('circle', { class: 'halo', r: r + 14 }, g);
      const shapes = {
        follower: el('circle', { class: 'shape', r }, g),
        candidate: el('polygon', { class: 'shape', points: `0,${-r * 1.15} ${r * 1.15},0 0,${r * 1.15} ${-r * 1.15},0` }, g),
        leader: el('rect', { class: 'shape', x: -r, y: -r, width: 2 * r, height: 2 * r, rx: r * 0.18 }, g),
      };
      const name = el('text', { class: 'name', y: -r * 0.12 }, g);
      name.textContent = 'n' + id;
      const term = el('text', { class: 'term', y: r * 0.45 }, g);
      const role = el('text', { class: 'role', y: r + 30 }, g);
      const vote = el('text', { class: 'vote', y: r + 56 }, g);
      g.addEventListener('keydown', e => { if (e.key === 'Enter') this.pickNode(id); });
      this.groups.push({ g, timer, halo, shapes, term, role, vote });
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
      v.g.setAttribute('aria-label', `n${n.id}: ${n.up ? n.role : 'crashed'}, term ${n.term}`);
      for (const [k, s] of Object.entries(v.shapes)) {
        const shown = k === (n.role || 'follower');
        s.setAttribute('visibility', shown ? 'visible' : 'hidden');
        if (shown) {
          s.setAttribute('fill', n.up ? termColor(n.term, n.role !== 'leader') : '#d0d0d0');
          s.setAttribute('stroke', n.up ? termColor(n.term) : '#777');
        }
      }
      v.term.textContent = n.up ? `term ${n.term}` : 'crashed';
      v.role.textContent = n.up ? (n.role === 'leader' ? '★ LEADER' : n.role === 'candidate' ? 'CANDIDATE' : 'follower') : 'down';
      const cut = m.groupOf(n.id) !== main;
      v.vote.textContent = !n.up ? '' : cut && m.groups.length > 1 ? '✂ cut off'
        : n.role === 'leader' ? '' : n.votedFor ? `voted n${n.votedFor}` : '';
      v.g.classList.toggle('cut', cut && m.groups.length > 1);
      v.g.classList.toggle('picked', this.picked && this.picked.kind === 'node' && this.picked.id === n.id);
      v.g.classList.toggle('pick-a', !!(this.partitionPick && this.partitionPick.has(n.id)));
    });
    this.drawLinks(main);
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
    m.nodes.forEach((n, i) => {
      const v = this.groups[i];
      if (!v) return;
      if (!n.up || n.role === 'leader' || !n.electionTimeout) {
        v.timer.setAttribute('d', '');
        return;
      }
      const extra = m.paused ? 0 : Math.max(0, (vt - m.statusT) / tick);
      const frac = Math.min(1, (n.electionElapsed + extra) / n.electionTimeout);
      v.timer.setAttribute('d', arc(this.r + 8, frac));
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
      ctx.fillStyle = '#666';
      ctx.textAlign = 'center';
      ctx.fillText('messages are not drawn above ' + this.maxAnimatedSpeed + '× — slow down to see them', 0, -470);
      return;
    }
    let drawn = 0;
    for (const [key, f] of m.inflight) {
      if (f.arrive < vt - 1e6) { m.inflight.delete(key); continue; } // its arrival was not seen
      if (drawn++ > 400) break;
      const p = this.pointOf(f.msg, f.sent, f.arrive, vt);
      if (!p) continue;
      this.drawMessage(ctx, f.msg, p.x, p.y, this.picked && this.picked.key === key);
      this.positions.push({ x: p.x, y: p.y, key, item: f });
    }
    // Dropped messages fall and fade for a short while (in wall time).
    const now = performance.now();
    for (const d of m.drops) {
      if (!d.wall) d.wall = now;
      const age = (now - d.wall) / 700;
      if (age > 1) continue;
      const p = this.pointOf(d.msg, 0, 1, 0.92);
      if (!p) continue;
      ctx.globalAlpha = 1 - age;
      ctx.strokeStyle = '#d62728';
      ctx.lineWidth = 5;
      const y = p.y + age * 40, s = 11;
      ctx.beginPath();
      ctx.moveTo(p.x - s, y - s); ctx.lineTo(p.x + s, y + s);
      ctx.moveTo(p.x + s, y - s); ctx.lineTo(p.x - s, y + s);
      ctx.stroke();
      ctx.globalAlpha = 1;
    }
  }

  pointOf(msg, sent, arrive, vt) {
    const a = this.centers[msg.from - 1], b = this.centers[msg.to - 1];
    if (!a || !b) return null;
    const f = Math.max(0, Math.min(1, (vt - sent) / Math.max(1, arrive - sent)));
    // Offset the two directions of a link so that requests and replies pass.
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    const off = 10;
    const ox = (-dy / len) * off, oy = (dx / len) * off;
    const start = this.r + 4;
    const x = a.x + (dx / len) * start + (dx - (2 * start * dx) / len) * f + ox;
    const y = a.y + (dy / len) * start + (dy - (2 * start * dy) / len) * f + oy;
    return { x, y };
  }

  drawMessage(ctx, m, x, y, picked) {
    const refused = (m.type === 'RequestVoteReply' && !m.voteGranted) || (m.type === 'AppendEntriesReply' && !m.success);
    const vote = m.type === 'RequestVote' || m.type === 'RequestVoteReply';
    const reply = m.type.endsWith('Reply');
    const heartbeat = m.type === 'AppendEntries' && !(m.entries && m.entries.length);
    const color = vote ? '#e8710a' : heartbeat ? '#8a8a8a' : '#1f6fd1';
    ctx.lineWidth = 4;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    const s = heartbeat ? 7 : 11;
    ctx.beginPath();
    if (vote) ctx.arc(x, y, s, 0, 2 * Math.PI);
    else if (heartbeat && !reply) ctx.arc(x, y, s, 0, 2 * Math.PI);
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
      ctx.fillStyle = refused ? '#d62728' : '#2ca02c';
      ctx.fillText(refused ? '✕' : '✓', x, y + 1);
      if (refused && m.reject) {
        ctx.font = '15px system-ui, sans-serif';
        ctx.fillStyle = '#b0201f';
        ctx.fillText(m.reject, x, y + 26);
      }
    } else if (m.type === 'AppendEntries' && !heartbeat) {
      ctx.fillStyle = '#fff';
      ctx.fillText(String(m.entries.length), x, y + 1);
    }
  }

  click(e) {
    // A message under the pointer wins over a server.
    if (this.rect && this.scale) {
      const px = ((e.clientX - this.rect.left) * this.dpr - (this.rect.width * this.dpr) / 2) / this.scale;
      const py = ((e.clientY - this.rect.top) * this.dpr - (this.rect.height * this.dpr) / 2) / this.scale;
      let best = null, bestD = 22;
      for (const p of this.positions) {
        const d = Math.hypot(p.x - px, p.y - py);
        if (d < bestD) { best = p; bestD = d; }
      }
      if (best) {
        this.picked = { kind: 'msg', key: best.key, msg: best.item.msg };
        this.onPick(this.picked);
        return;
      }
      for (let i = 0; i < this.centers.length; i++) {
        const c = this.centers[i];
        if (Math.hypot(c.x - px, c.y - py) < this.r + 16) { this.pickNode(i + 1); return; }
      }
    }
  }

  pickNode(id) {
    if (this.partitionPick) {
      if (this.partitionPick.has(id)) this.partitionPick.delete(id); else this.partitionPick.add(id);
    } else {
      this.picked = { kind: 'node', id };
      this.onPick(this.picked);
    }
    this.drawnVersion = -1;
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

export { describeMsg };
