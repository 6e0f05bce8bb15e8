// The timeline: one lane per server across virtual time. Bands show each
// server's role, coloured by term; marks show elections, votes, commits,
// crashes, partitions — and safety violations, in red with the rule's name.
// Dragging scrubs back in time (the server re-runs the run to that moment).

import { fmtTime } from './model.js';
import { termColor, textOn } from './colors.js';

export class TimelineView {
  // onSeek(t) asks for virtual time t; onLive() for the present. A watcher's
  // timeline has neither: it only shows.
  constructor(canvas, model, onSeek, onLive) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.model = model;
    this.onSeek = onSeek;
    this.onLive = onLive;
    this.enabled = true;
    this.windowSec = 0; // 0: the whole run
    this.drag = null;   // virtual time under the pointer while dragging
    this.large = false;
    canvas.addEventListener('pointerdown', e => {
      if (!this.enabled) return;
      canvas.setPointerCapture(e.pointerId);
      this.drag = this.timeAt(e.clientX);
    });
    // Keys, for those who do not drag: ← and → go back and forth by a
    // fiftieth of what is shown (Shift: a tenth), End returns to live.
    canvas.addEventListener('keydown', e => {
      if (!this.enabled) return;
      const [t0, t1] = this.lastRange || [0, 1];
      const step = (t1 - t0) / (e.shiftKey ? 10 : 50);
      let t = null;
      if (e.key === 'ArrowLeft') t = this.model.t - step;
      else if (e.key === 'ArrowRight') t = this.model.t + step;
      else if (e.key === 'Home') t = 0;
      else if (e.key === 'End') { e.preventDefault(); e.stopPropagation(); this.onLive(); return; }
      if (t === null) return;
      e.preventDefault();
      e.stopPropagation();
      this.onSeek(Math.max(0, Math.min(Math.round(t), this.model.horizon.t)));
    });
    canvas.addEventListener('pointermove', e => { if (this.drag !== null) this.drag = this.timeAt(e.clientX); });
    canvas.addEventListener('pointerup', e => {
      if (this.drag === null) return;
      const t = this.timeAt(e.clientX);
      this.drag = null;
      this.onSeek(Math.max(0, Math.round(t)));
    });
  }

  range(vt) {
    const m = this.model;
    const end = Math.max(m.horizon.t, vt, 1e9);
    if (this.windowSec > 0) {
      const w = this.windowSec * 1e9;
      // In the past, keep the cursor in view.
      const right = m.live ? end : Math.min(end, Math.max(m.t + w / 2, w));
      return [Math.max(0, right - w), Math.max(right, w)];
    }
    return [0, end];
  }

  timeAt(clientX) {
    const r = this.canvas.getBoundingClientRect();
    const [t0, t1] = this.lastRange || [0, 1];
    const x = Math.max(0, Math.min(1, (clientX - r.left - this.left) / Math.max(1, r.width - this.left - 8)));
    return t0 + (t1 - t0) * x;
  }

  draw(vt) {
    const c = this.canvas, ctx = this.ctx, m = this.model;
    const large = this.large;
    const rect = c.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    // Lanes shrink with many servers, so that the timeline keeps to about
    // a quarter of the window.
    const fit = Math.floor((window.innerHeight * 0.27 - 30) / Math.max(1, m.nodes.length));
    const lane = Math.max(10, Math.min(large ? 22 : 18, fit));
    const top = large ? 22 : 18;
    const height = top + lane * Math.max(1, m.nodes.length) + 8;
    if (Math.abs(rect.height - height) > 1) c.style.height = height + 'px';
    if (c.width !== Math.round(rect.width * dpr) || c.height !== Math.round(height * dpr)) {
      c.width = Math.round(rect.width * dpr);
      c.height = Math.round(height * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, rect.width, height);
    const font = large ? 15 : 12;
    ctx.font = `${font}px system-ui, sans-serif`;
    this.left = large ? 44 : 34;
    const left = this.left, right = rect.width - 8, w = right - left;
    const [t0, t1] = this.range(vt);
    this.lastRange = [t0, t1];
    const X = t => left + ((t - t0) / (t1 - t0)) * w;

    // Time axis.
    ctx.fillStyle = '#555';
    ctx.textBaseline = 'top';
    const step = niceStep((t1 - t0) / 1e9 / 8) * 1e9;
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const x = X(t);
      ctx.fillRect(x, top - 4, 1, 4);
      ctx.fillText(fmtTime(t).replace(/\.?0+s$/, 's'), x + 2, 2);
    }

    // Lanes: role bands.
    m.nodes.forEach((n, i) => {
      const y = top + i * lane;
      ctx.fillStyle = '#333';
      ctx.textBaseline = 'middle';
      ctx.fillText('n' + n.id, 4, y + lane / 2);
      ctx.fillStyle = '#f3f3f3';
      ctx.fillRect(left, y + 2, w, lane - 4);
      for (const s of m.segments[i] || []) {
        const end = s.to === undefined ? Math.max(vt, m.horizon.t) : s.to;
        if (end < t0 || s.from > t1) continue;
        const x0 = Math.max(left, X(s.from)), x1 = Math.min(right, X(end));
        if (x1 - x0 < 0.5) continue;
        if (s.role === 'leader') {
          ctx.fillStyle = termColor(s.term);
          ctx.fillRect(x0, y + 2, x1 - x0, lane - 4);
          const label = 'leader T' + s.term;
          if (x1 - x0 > ctx.measureText(label).width + 6) {
            ctx.fillStyle = textOn(termColor(s.term));
            ctx.fillText(label, x0 + 3, y + lane / 2);
          }
        } else if (s.role === 'candidate') {
          ctx.fillStyle = termColor(s.term, true);
          ctx.fillRect(x0, y + lane * 0.25, x1 - x0, lane * 0.5);
          ctx.strokeStyle = termColor(s.term);
          ctx.setLineDash([3, 2]);
          ctx.strokeRect(x0, y + lane * 0.25, x1 - x0, lane * 0.5);
          ctx.setLineDash([]);
        } else if (s.role === 'down') {
          ctx.fillStyle = '#777';
          ctx.fillRect(x0, y + lane * 0.4, x1 - x0, lane * 0.2);
        } else {
          ctx.fillStyle = termColor(s.term, true);
          ctx.fillRect(x0, y + lane * 0.42, x1 - x0, lane * 0.16);
        }
      }
    });

    // Marks, at most one of a kind per pixel column per lane.
    const seen = new Set();
    const labels = [];
    for (const mk of m.marks) {
      if (mk.t < t0 || mk.t > t1) continue;
      const x = X(mk.t);
      const key = mk.kind + ':' + mk.node + ':' + Math.round(x);
      if (seen.has(key) && mk.kind !== 'violation') continue;
      seen.add(key);
      const y = mk.node ? top + (mk.node - 1) * lane : top;
      switch (mk.kind) {
        case 'election':
          tri(ctx, x, y + 4, 5, termColor(mk.term));
          break;
        case 'vote':
          ctx.fillStyle = '#e8710a';
          ctx.fillRect(x - 0.5, y + lane - 8, 1.5, 6);
          break;
        case 'commit':
          ctx.fillStyle = '#2ca02c';
          ctx.fillRect(x - 0.5, y + lane - 5, 1.5, 4);
          break;
        case 'crash':
          cross(ctx, x, y + lane / 2, 5, '#000');
          break;
        case 'restart':
          ctx.strokeStyle = '#000';
          ctx.beginPath(); ctx.arc(x, y + lane / 2, 4, 0, 1.6 * Math.PI); ctx.stroke();
          break;
        case 'timeout':
          tri(ctx, x, y + 4, 4, '#000');
          break;
        case 'propose':
          ctx.fillStyle = '#1f6fd1';
          ctx.beginPath(); ctx.moveTo(x, y + 3); ctx.lineTo(x + 4, y + 7); ctx.lineTo(x, y + 11); ctx.lineTo(x - 4, y + 7); ctx.fill();
          break;
        case 'partition':
        case 'network': {
          ctx.strokeStyle = '#555';
          ctx.setLineDash([4, 3]);
          ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, height - 6); ctx.stroke();
          ctx.setLineDash([]);
          const text = mk.kind === 'partition'
            ? (mk.groups.length > 1 ? 'split ' + mk.groups.map(g => g.join(',')).join(' | ') : 'healed')
            : `${mk.knob}=${mk.value}`;
          labels.push({ x, text, color: '#444' });
          break;
        }
        case 'violation':
          ctx.fillStyle = '#d62728';
          ctx.fillRect(x - 1, top, 3, height - top - 4);
          labels.push({ x, text: '⚠ ' + mk.rule, color: '#d62728', bold: true });
          break;
      }
    }
    ctx.textBaseline = 'top';
    for (const l of labels) {
      ctx.font = `${l.bold ? 'bold ' : ''}${font}px system-ui, sans-serif`;
      const tw = ctx.measureText(l.text).width;
      const x = Math.min(l.x + 3, right - tw);
      ctx.fillStyle = 'rgba(255,255,255,0.85)';
      ctx.fillRect(x - 1, height - font - 8, tw + 2, font + 4);
      ctx.fillStyle = l.color;
      ctx.fillText(l.text, x, height - font - 6);
    }

    // The future, when showing the past, is dimmed; the cursor marks now.
    const now = this.drag !== null ? this.drag : m.live ? vt : m.t;
    const xn = X(now);
    if (!m.live || this.drag !== null) {
      ctx.fillStyle = 'rgba(255,255,255,0.55)';
      ctx.fillRect(xn, top, right - xn, height - top);
    }
    ctx.fillStyle = this.drag !== null ? '#1f6fd1' : '#000';
    ctx.fillRect(xn - 1, top - 6, 2, height - top + 4);
  }
}

function tri(ctx, x, y, s, color) {
  ctx.fillStyle = color;
  ctx.beginPath(); ctx.moveTo(x, y + s); ctx.lineTo(x - s, y - s / 2); ctx.lineTo(x + s, y - s / 2); ctx.fill();
}

function cross(ctx, x, y, s, color) {
  ctx.strokeStyle = color; ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(x - s, y - s); ctx.lineTo(x + s, y + s); ctx.moveTo(x + s, y - s); ctx.lineTo(x - s, y + s); ctx.stroke();
  ctx.lineWidth = 1;
}

function niceStep(x) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(x, 1e-6))));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}
