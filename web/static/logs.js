// The logs view: one row per server, one cell per entry, coloured by term.
// The commit point, the applied entries and the entries that differ from the
// leader's are marked, so that divergence is seen at a glance.

import { termColor } from './model.js';

const WINDOW = 40; // entries shown: the last WINDOW indexes of the longest log

export class LogsView {
  constructor(root, model) {
    this.root = root;
    this.model = model;
    this.drawn = -1;
    this.lastDraw = 0;
  }

  update(force) {
    const m = this.model;
    const now = performance.now();
    if (!force && (m.logVersion === this.drawn || now - this.lastDraw < 200)) return;
    this.drawn = m.logVersion;
    this.lastDraw = now;
    let longest = 0;
    for (const n of m.nodes) longest = Math.max(longest, n.log.length);
    const from = Math.max(1, longest - WINDOW + 1);
    const leader = m.leader();
    const rows = [];
    const head = ['<div class="log-row head"><span class="who">index</span>'];
    if (from > 1) head.push('<span class="more">…</span>');
    for (let i = from; i <= longest; i++) head.push(`<span class="idx">${i}</span>`);
    head.push('</div>');
    rows.push(head.join(''));
    for (const n of m.nodes) {
      const cells = [`<div class="log-row${n.up ? '' : ' down'}" data-node="${n.id}"><span class="who">n${n.id}${n.role === 'leader' && n.up ? ' ★' : ''}</span>`];
      if (from > 1) cells.push('<span class="more">…</span>');
      for (let i = from; i <= longest; i++) {
        const e = n.log[i - 1];
        if (!e) { cells.push('<span class="cell empty"></span>'); continue; }
        const cls = ['cell'];
        if (i <= n.commitIndex) cls.push('committed');
        if (i === n.commitIndex) cls.push('commit-point');
        if (i <= n.lastApplied) cls.push('applied');
        if (leader && leader !== n) {
          const le = leader.log[i - 1];
          if (!le || le.term !== e.term) cls.push('diverged');
        }
        const title = `index ${i}, term ${e.term}: ${escapeHTML(e.cmd ?? '(binary)')}`;
        cells.push(`<span class="${cls.join(' ')}" data-term="${e.term}" title="${title}">${e.term}</span>`);
      }
      const tail = ` <span class="log-meta">len ${n.log.length} · commit ${n.commitIndex} · applied ${n.lastApplied}</span>`;
      cells.push(tail, '</div>');
      rows.push(cells.join(''));
    }
    this.root.innerHTML = rows.join('');
    // Colours by term, set through the DOM (the page's security policy
    // forbids inline style attributes).
    for (const c of this.root.querySelectorAll('.cell[data-term]')) {
      c.style.backgroundColor = termColor(+c.dataset.term, true);
      c.style.borderColor = termColor(+c.dataset.term);
    }
  }
}

export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, ch => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch]));
}
