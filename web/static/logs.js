// The logs view: one row per server, one cell per entry, coloured by term,
// with the command's text. The commit point, the applied entries and the
// entries that differ from the leader's are marked, and on each follower's
// row the leader's nextIndex (▸) and matchIndex (▾) for it. All rows are one
// CSS grid, so that each index stands over its cells. The cells are built
// once for a given size and then only updated, on every change of the model.

import { termColor, textOn } from './colors.js';
import { cmd, snapshotText } from './words.js';

export class LogsView {
  constructor(root, model) {
    this.root = root;
    this.model = model;
    this.drawnVersion = -1;
    this.shape = '';
  }

  // relayout builds the grid again on the next update (the text size changed).
  relayout() { this.shape = ''; this.drawnVersion = -1; }

  // columns is how many entries fit across the view.
  columns() {
    const w = this.root.clientWidth || 600;
    const em = parseFloat(getComputedStyle(this.root).fontSize) || 12;
    return Math.max(4, Math.floor((w - 6 * em - 14 * em) / (3.3 * em + 2)));
  }

  build(nodes, cols) {
    this.root.replaceChildren();
    this.root.style.gridTemplateColumns = `5.8em repeat(${cols}, minmax(0, 1fr)) 14em`;
    const add = (cls, text = '', role = 'cell') => {
      const d = document.createElement('div');
      d.className = cls;
      d.textContent = text;
      d.setAttribute('role', role);
      this.root.appendChild(d);
      return d;
    };
    this.head = [];
    add('who', 'index', 'columnheader');
    for (let c = 0; c < cols; c++) this.head.push(add('idx', '', 'columnheader'));
    add('meta', '', 'columnheader');
    this.rows = [];
    for (let i = 0; i < nodes; i++) {
      const row = { who: add('who', '', 'rowheader'), cells: [], meta: null };
      for (let c = 0; c < cols; c++) row.cells.push(add('cell empty'));
      row.meta = add('meta');
      this.rows.push(row);
    }
  }

  update() {
    const m = this.model;
    if (m.version === this.drawnVersion) return;
    this.drawnVersion = m.version;
    const cols = this.columns();
    const shape = `${m.nodes.length}x${cols}`;
    if (shape !== this.shape) { this.shape = shape; this.build(m.nodes.length, cols); }
    let longest = 0;
    for (const n of m.nodes) longest = Math.max(longest, n.log.length);
    const leader = m.leader();
    // Show the newest entries, one spare column for the next index.
    const from = Math.max(1, longest + 2 - cols);
    for (let c = 0; c < cols; c++) this.head[c].textContent = from + c <= longest + 1 ? String(from + c) : '';
    const progress = new Map();
    if (leader) for (const p of leader.progress || []) progress.set(p.id, p);
    m.nodes.forEach((n, i) => {
      const row = this.rows[i];
      const isLeader = leader === n;
      row.who.textContent = `n${n.id}${!n.up ? ' down' : isLeader ? ' leader' : ''}`;
      row.who.classList.toggle('down', !n.up);
      const p = !isLeader && progress.get(n.id);
      // A compacted prefix is one block, "snapshot ≤ N, term T", before the
      // first entry kept: its first column spans the compacted ones shown.
      const snap = n.snapshotIndex || 0;
      const spanned = Math.min(cols, Math.max(0, snap - from + 1));
      for (let c = 0; c < cols; c++) {
        const idx = from + c;
        const cell = row.cells[c];
        const e = n.log[idx - 1];
        const cls = ['cell'];
        cell.style.gridColumn = '';
        cell.style.display = '';
        if (idx <= snap) {
          if (c > 0) { cell.style.display = 'none'; continue; }
          cls.push('snapshot', 'committed'); // a snapshot holds committed entries only
          if (!n.up) cls.push('down');
          cell.className = cls.join(' ');
          cell.style.gridColumn = `span ${spanned}`;
          cell.style.backgroundColor = '';
          cell.style.borderColor = termColor(n.snapshotTerm);
          cell.style.color = '';
          cell.textContent = snapshotText(n);
          cell.title = `${snapshotText(n)}: entries 1 to ${snap} are compacted into the state machine's snapshot (lastIncludedIndex ${snap}, lastIncludedTerm ${n.snapshotTerm})`;
          continue;
        }
        if (!n.up) cls.push('down');
        if (p && p.nextIndex === idx) cls.push('next-point');
        if (!e) {
          cls.push('empty');
          if (p && p.matchIndex === idx) cls.push('match-point');
          cell.className = cls.join(' ');
          cell.textContent = '';
          cell.style.backgroundColor = '';
          cell.style.borderColor = '';
          cell.style.color = '';
          cell.removeAttribute('title');
          continue;
        }
        if (idx <= n.commitIndex) cls.push('committed');
        if (idx === n.commitIndex) cls.push('commit-point');
        if (idx <= n.lastApplied) cls.push('applied');
        if (p && p.matchIndex === idx) cls.push('match-point');
        if (leader && !isLeader && differs(e, idx, leader)) cls.push('diverged');
        cell.className = cls.join(' ');
        const bg = termColor(e.term, true);
        cell.style.backgroundColor = bg;
        cell.style.borderColor = termColor(e.term);
        cell.style.color = textOn(bg);
        const text = cmd(e);
        cell.replaceChildren();
        const t = document.createElement('span');
        t.className = 't';
        t.textContent = e.term;
        cell.append(t, text);
        cell.title = `index ${idx}, term ${e.term}: ${text || '(empty)'}`;
      }
      // A snapshot that ends before the entries shown is named here.
      row.meta.textContent = (snap && snap < from ? snapshotText(n) + ' · ' : '') +
        (n.up ? `commit ${n.commitIndex} · applied ${n.lastApplied}` : 'down') +
        (p ? ` · ▸${p.nextIndex} ▾${p.matchIndex}` : '');
      row.meta.title = p ? `nextIndex ${p.nextIndex}, matchIndex ${p.matchIndex}` : '';
    });
  }
}

// differs tells whether entry e, at index idx of a follower's log, differs
// from the leader's: the leader has no entry there, or one of another term.
// Where the leader's entry is compacted into its snapshot (or left out of a
// state frame's window) the page does not know it: it says "differs" only
// where it knows, and of a snapshot it knows the last entry's term.
function differs(e, idx, leader) {
  const snap = leader.snapshotIndex || 0;
  if (idx < snap) return false;
  if (idx === snap) return e.term !== leader.snapshotTerm;
  const le = leader.log[idx - 1];
  return le ? le.term !== e.term : idx > leader.log.length;
}
