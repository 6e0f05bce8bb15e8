package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/visualizer"
)

// snapshotRows checks every log row of a server with a snapshot: one block
// "snapshot ≤ N, term T", placed after the row's name and before the first
// entry kept, under the index header of the first compacted index shown.
// It returns how many rows show one.
func (p *page) snapshotRows() int {
	p.t.Helper()
	bad := eval[string](p, `(() => {
		const m = raftviz.model, lv = raftviz.logs;
		let shown = 0;
		for (let i = 0; i < m.nodes.length; i++) {
			const n = m.nodes[i], row = lv.rows[i];
			const blocks = row.cells.filter(c => c.classList.contains('snapshot') && c.style.display !== 'none');
			if (!n.snapshotIndex) { if (blocks.length) return 'n' + n.id + ' has no snapshot but shows one'; continue; }
			if (blocks.length !== 1) return 'n' + n.id + ' shows ' + blocks.length + ' snapshot blocks';
			const b = blocks[0], want = 'snapshot ≤ ' + n.snapshotIndex + ', term ' + n.snapshotTerm;
			if (b.textContent !== want) return 'n' + n.id + ': ' + JSON.stringify(b.textContent) + ', want ' + JSON.stringify(want);
			const r = b.getBoundingClientRect();
			if (r.left < row.who.getBoundingClientRect().right) return 'n' + n.id + ': the block covers the row name';
			const next = row.cells.find(c => c.title && c.title.startsWith('index ' + (n.snapshotIndex + 1) + ','));
			if (next && r.right > next.getBoundingClientRect().left + 1) return 'n' + n.id + ': the block is not before entry ' + (n.snapshotIndex + 1);
			if (Math.abs(r.left - lv.head[0].getBoundingClientRect().left) > 1) return 'n' + n.id + ': the block does not start under the first index shown';
			shown++;
		}
		return String(shown);
	})()`)
	var n int
	_, err := fmt.Sscan(bad, &n)
	require.NoError(p.t, err, "%s", bad)
	return n
}

// Stage 4 on the page, through the scenario a lecturer plays: the servers
// that compact show their snapshot as a block on their log row; the
// InstallSnapshot that catches the cut-off follower up is drawn on its way
// in its own shape, and said in the server's text when pressed; and the
// follower's row then shows the snapshot it installed.
func TestSnapshotsOnThePage(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 3, Seed: 41, Speed: visualizer.DefaultSpeed})
	p.leader(0, 0)
	// One entry every server holds, the cut-off one too.
	p.do(evalVoid(`raftviz.send({op: 'propose', command: 'x=1'})`))
	poll[bool](p, `raftviz.model.nodes.every(n => n.commitIndex >= 1)`)
	poll[bool](p, `[...document.querySelectorAll('#scenario option')].some(o => o.value === 'install-snapshot')`)
	p.do(chromedp.SetValue(chromedp.CSS(`#scenario`), "install-snapshot"))
	p.press(`#btn-scenario`, 200*time.Millisecond)

	// Two servers compact while the third is cut off: a moment when the
	// leader's log starts after its snapshot and the cut-off server still
	// holds entry 1, as it did (seen again at the end).
	compacted := poll[int](p, `(m => (l => l && l.snapshotIndex >= 2 && m.nodes.some(n => !n.snapshotIndex && n.log[0]) && m.seq)(m.leader()))(raftviz.model)`)
	poll[bool](p, `raftviz.model.nodes.filter(n => n.snapshotIndex > 0).length >= 2`)
	p.frames(2)
	require.GreaterOrEqual(t, p.snapshotRows(), 2)

	// The healed follower is sent InstallSnapshot. Paused, it is drawn
	// where it is; if it arrived meanwhile, the page goes back to its send.
	key := poll[float64](p, `(f => f && f.key)([...raftviz.model.inflight.values()].find(f => f.msg.type === 'InstallSnapshot'))`)
	p.press(`#btn-pause`, 180*time.Millisecond)
	poll[bool](p, `raftviz.model.paused`)
	k := fmt.Sprintf("k%d", int(key))
	if !eval[bool](p, fmt.Sprintf(`raftviz.model.inflight.has(%q)`, k)) {
		p.do(evalVoid(fmt.Sprintf(`raftviz.send({op: 'seek', seq: %d})`, int(key))))
		poll[bool](p, fmt.Sprintf(`!raftviz.model.live && raftviz.model.inflight.has(%q)`, k))
	}
	p.frames(2)
	xy := poll[[]float64](p, fmt.Sprintf(`(() => { const c = raftviz.cluster, q = c.positions.find(q => q.key === %q);
		return q && [c.rect.left + (q.x * c.scale + c.rect.width * c.dpr / 2) / c.dpr, c.rect.top + (q.y * c.scale + c.rect.height * c.dpr / 2) / c.dpr]; })()`, k))
	// Its own shape: a purple block wider than an AppendEntries' square.
	rgb := eval[[]float64](p, fmt.Sprintf(`(() => { const c = raftviz.cluster, q = c.positions.find(q => q.key === %q);
		const x = Math.round(((q.x + 14) * c.scale + c.rect.width * c.dpr / 2)), y = Math.round(q.y * c.scale + c.rect.height * c.dpr / 2);
		return [...c.ctx.getImageData(x, y, 1, 1).data].slice(0, 3); })()`, k))
	require.InDeltaSlice(t, []float64{0x6a, 0x1b, 0x9a}, rgb, 40, "InstallSnapshot is drawn as a wide purple block")
	p.do(
		chromedp.MouseEvent("mouseMoved", xy[0], xy[1]),
		chromedp.MouseEvent(chromedp.MousePressed, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.Sleep(190*time.Millisecond),
		chromedp.MouseEvent(chromedp.MouseReleased, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	poll[bool](p, fmt.Sprintf(`!document.getElementById('msg-view').classList.contains('hidden') && raftviz.cluster.picked.key === %q`, k))
	say := eval[string](p, `document.getElementById('mv-say').textContent`)
	require.Regexp(t, `^n\d->n\d InstallSnapshot term=\d+ last=\d+/\d+ bytes=16$`, say)
	require.Equal(t, eval[string](p, fmt.Sprintf(`raftviz.model.inflight.get(%q).say`, k)), say, "said in the server's text")
	require.Contains(t, eval[string](p, `document.getElementById('mv-fields').textContent`), "16 bytes (the state machine's snapshot)")
	p.screenshot("install-snapshot")

	// Back to the present: the follower installed the snapshot.
	if !eval[bool](p, `raftviz.model.live`) {
		p.press(`#btn-live`, 170*time.Millisecond)
		poll[bool](p, `raftviz.model.live`)
	}
	p.press(`#btn-pause`, 160*time.Millisecond)
	poll[bool](p, `!raftviz.model.paused`)
	poll[bool](p, `raftviz.model.nodes.every(n => n.snapshotIndex > 0)`)
	p.frames(2)
	require.Equal(t, 3, p.snapshotRows())
	require.Empty(t, eval[[]string](p, `raftviz.stats.errors`), "no command was refused")
	p.screenshot("snapshots")

	// Each server's panel names its snapshot and counts only the entries
	// after it; the follower that installed one may keep none at all.
	for id := 1; id <= 3; id++ {
		p.clickNode(id)
		poll[bool](p, fmt.Sprintf(`document.getElementById('nv-name').textContent === 'n%d'`, id))
		p.frames(2)
		text := eval[string](p, `document.getElementById('nv-log').textContent`)
		require.Regexp(t, `^snapshot ≤ \d+, term \d+, then \d+ (entry|entries)`, text, "n%d's panel", id)
		want := eval[string](p, fmt.Sprintf(`(n => 'then ' + (n.log.length - n.snapshotIndex) + ' ')(raftviz.model.node(%d))`, id))
		require.Contains(t, text, want, "n%d's panel counts the entries after its snapshot", id)
		// Its entries are the ones after the snapshot: the compacted ones,
		// which the page's model may still know, are not in its log.
		compacted := eval[[]string](p, fmt.Sprintf(`(n => [...document.querySelectorAll('#nv-log .chip')].map(c => c.textContent)
			.filter(t => +t.split('/')[0] <= n.snapshotIndex))(raftviz.model.node(%d))`, id))
		require.Empty(t, compacted, "n%d's panel lists entries its snapshot holds", id)
	}

	// Back at the moment the leader had compacted: a state frame sends each
	// log from its snapshot on, so the leader's compacted entries are not
	// known to the page. The cut-off server's entry 1, which the leader's
	// snapshot holds, does not differ from the leader's for that.
	p.do(evalVoid(fmt.Sprintf(`raftviz.send({op: 'seek', seq: %d})`, compacted)))
	poll[bool](p, fmt.Sprintf(`!raftviz.model.live && raftviz.model.seq === %d`, compacted))
	p.frames(2)
	require.True(t, eval[bool](p, `(l => !l.log[0] && raftviz.logs.rows.some(r => r.cells.some(c => c.title && c.title.startsWith('index 1,') && c.style.display !== 'none')))(raftviz.model.leader())`),
		"the leader's entry 1 is compacted and another server shows its own")
	require.Empty(t, eval[[]string](p, `raftviz.logs.rows.flatMap(r => r.cells.filter(c => c.classList.contains('diverged')).map(c => c.title))`),
		"no entry is marked as differing from the leader's")

	// The event of a log replaced after a snapshot (what a follower that
	// installs one reports: lab.Sim's logChange, a term set) is said as
	// that, not as a log cut after the snapshot's index, which would leave
	// the compacted entries in it.
	said, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`import('/static/words.js').then(w => [
		w.describeEvent({kind: 'log', node: 1, index: 5, term: 2, entries: []}),
		w.describeEvent({kind: 'log', node: 1, index: 5, term: 2, entries: [{index: 5, term: 3, cmd: 'y=2'}]})])`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, []string{
		"n1's whole log is replaced: it starts after its snapshot through index 4 (term 2), and holds no entry after it",
		"n1's whole log is replaced: it starts after its snapshot through index 4 (term 2), with 5/3 y=2",
	}, said)
}
