package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
	"github.com/raftlab/raftlab/visualizer"
	"github.com/raftlab/raftlab/web"
)

// These tests drive the page in a real browser — Debian's chromium, started
// headless — against a real server and session. Each saves a screenshot in
// its temporary folder. They skip when no chromium is installed, except in
// the project's CI (RAFTLAB_CI set), where .ci/run installs it and they must run.

func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RAFTLAB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("RAFTLAB_CI") != "" {
		t.Fatal("no chromium found: CI must install it (apt-get install chromium) so that the browser tests run")
	}
	t.Skip("no chromium found: install it (apt-get install chromium) to run the browser tests")
	return ""
}

// page is one browser tab on one raftviz session.
type page struct {
	t       testing.TB
	ctx     context.Context
	session *visualizer.Session
	url     string
	mu      sync.Mutex
	errors  []string // uncaught exceptions and console errors
}

func openPage(t testing.TB, opts visualizer.SessionOptions) *page {
	t.Helper()
	return openPageWith(t, opts, pageOptions{})
}

// pageOptions are how a test opens the page: the server's control token,
// the address's query, the window's size.
type pageOptions struct {
	token, query  string
	width, height int
}

func openPageWith(t testing.TB, opts visualizer.SessionOptions, po pageOptions) *page {
	t.Helper()
	chromiumPath(t) // skips before a session is made, if there is no chromium
	if opts.Impl.New == nil {
		opts.Impl = lab.Implementation{Name: "solutions", New: solutions.New}
	}
	session, err := visualizer.NewSession(opts)
	require.NoError(t, err)
	sctx, stop := context.WithCancel(context.Background())
	go session.Run(sctx)
	srv := httptest.NewServer(visualizer.NewHandler(visualizer.ServerOptions{Session: session, Static: web.Static(), Token: po.token}))
	t.Cleanup(func() {
		srv.Close()
		stop()
		<-session.Done()
	})
	p := openBrowser(t, srv.URL, po)
	p.session = session
	return p
}

// openBrowser opens the page at url (a raftviz server's address, without
// its path) in a new headless chromium.
func openBrowser(t testing.TB, url string, po pageOptions) *page {
	t.Helper()
	if po.width == 0 {
		po.width, po.height = 1600, 900
	}
	exe := chromiumPath(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(po.width, po.height),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	p := &page{t: t, ctx: ctx}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			p.mu.Lock()
			d := e.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			p.errors = append(p.errors, fmt.Sprintf("%s (%s:%d)", text, d.URL, d.LineNumber+1))
			p.mu.Unlock()
		}
	}))
	p.url = url
	// The viewport is the page's whole window, as on a projector.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(po.width), int64(po.height))))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url+"/"+po.query)))
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		require.Empty(t, p.errors, "the page threw exceptions")
	})
	return p
}

// pollLimit bounds one wait for the page. It is generous on purpose: on a
// shared 2-core machine a page and its session can be starved for tens of
// seconds, and a condition that does hold must not fail for that; one that
// never holds fails a little later, with the same message.
const pollLimit = 2 * time.Minute

// poll waits (at most pollLimit) until the JavaScript expression is truthy, and returns it.
func poll[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(pollLimit)))
	require.NoError(p.t, err, "waiting for %s", expr)
	return v
}

func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	require.NoError(p.t, err, "evaluating %s", expr)
	return v
}

// frames waits for n animation frames of the page: its own clock, not a sleep.
func (p *page) frames(n int) {
	p.t.Helper()
	expr := fmt.Sprintf(`new Promise(r => { let n = 0; const f = () => (++n >= %d) ? r(true) : requestAnimationFrame(f); requestAnimationFrame(f); })`, n)
	_, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
	require.NoError(p.t, err)
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	require.NoError(p.t, chromedp.Do(p.ctx, actions...))
}

func (p *page) click(sel string) { p.t.Helper(); p.do(chromedp.Click(chromedp.CSS(sel))) }

func (p *page) key(k string) { p.t.Helper(); p.do(chromedp.KeyEvent(k)) }

// screenshot saves the page in the test's temporary folder, and returns the file.
func (p *page) screenshot(name string) string {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	require.NoError(p.t, err)
	path := filepath.Join(p.t.TempDir(), name+".png")
	require.NoError(p.t, os.WriteFile(path, png, 0o644))
	p.t.Logf("screenshot: %s", path)
	if dir := os.Getenv("RAFTLAB_SCREENSHOTS"); dir != "" { // to keep them after the test
		require.NoError(p.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	}
	return path
}

// leader waits for a live leader on the page and returns its id and term.
func (p *page) leader(notID int, aboveTerm int) (int, int) {
	p.t.Helper()
	expr := fmt.Sprintf(`(() => { const l = [...document.querySelectorAll('#cluster .node[data-role=leader]')]
		.find(n => +n.dataset.id !== %d && +n.dataset.term > %d); return l ? [+l.dataset.id, +l.dataset.term] : null; })()`, notID, aboveTerm)
	v := poll[[]int](p, expr)
	return v[0], v[1]
}

// clickCenter scrolls the element into view and clicks its centre, as a
// person would (SVG shapes have no box of their own for chromedp.Click).
func (p *page) clickCenter(sel string) {
	p.t.Helper()
	p.do(chromedp.ScrollIntoView(chromedp.CSS(sel)))
	xy := eval[[]float64](p, fmt.Sprintf(`(r => [r.left + r.width / 2, r.top + r.height / 2])(document.querySelector('%s').getBoundingClientRect())`, sel))
	p.do(chromedp.MouseClickXY(xy[0], xy[1]))
}

// clickNode clicks server id on the ring, and waits for its details. As a
// person does, it clicks where the server is once it stands still: the
// page's columns settle while its first text arrives, moving the ring.
func (p *page) clickNode(id int) {
	p.t.Helper()
	p.settled(fmt.Sprintf(`#cluster .node[data-id="%d"] .halo`, id))
	p.clickCenter(fmt.Sprintf(`#cluster .node[data-id="%d"] .halo`, id))
	poll[bool](p, fmt.Sprintf(`!document.getElementById('node-view').classList.contains('hidden') && document.getElementById('nv-name').textContent === 'n%d'`, id))
}

// settled waits until the element sel has kept its place and size for 5
// animation frames in a row.
func (p *page) settled(sel string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`new Promise(done => {
		let last = '', same = 0;
		const f = () => {
			const e = document.querySelector('%s'), r = e && e.getBoundingClientRect();
			const k = r ? [r.left, r.top, r.width, r.height].join(',') : '';
			same = k && k === last ? same + 1 : 0; last = k;
			if (same >= 5) done(true); else requestAnimationFrame(f);
		};
		requestAnimationFrame(f);
	})`, sel), chromedp.EvalAwaitPromise))
	require.NoError(p.t, err, "waiting for %s to stand still", sel)
}

// press presses the mouse on the centre of the element sel and releases it
// after hold, as a person clicks: the press and the release land wherever
// the page has put things by then.
func (p *page) press(sel string, hold time.Duration) {
	p.t.Helper()
	xy := poll[[]float64](p, fmt.Sprintf(`(e => e && e.offsetParent !== null && (r => [r.left + r.width / 2, r.top + r.height / 2])(e.getBoundingClientRect()))(document.querySelector('%s'))`, sel))
	p.do(
		chromedp.MouseEvent("mouseMoved", xy[0], xy[1]),
		chromedp.MouseEvent(chromedp.MousePressed, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.Sleep(hold),
		chromedp.MouseEvent(chromedp.MouseReleased, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
}

func TestPageShowsClusterAndLeader(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 1, Speed: 0.5})
	require.Equal(t, 5, poll[int](p, `document.querySelectorAll('#cluster .node').length === 5 && 5`))
	require.Equal(t, 5, poll[int](p, `(n => n === 5 && n)(document.querySelectorAll('#logs [role=rowheader]').length)`))
	id, term := p.leader(0, 0)
	require.GreaterOrEqual(t, term, 1)
	info := poll[string](p, fmt.Sprintf(`(t => t.includes('leader n%d, term %d') && t)(document.getElementById('run-info').textContent)`, id, term))
	require.Contains(t, info, "solutions")
	// The leader is told apart by shape and label as well as by colour.
	require.Equal(t, "visible", eval[string](p, fmt.Sprintf(`document.querySelector('#cluster .node[data-id="%d"] rect.shape').getAttribute('visibility')`, id)))
	require.Contains(t, eval[string](p, fmt.Sprintf(`document.querySelector('#cluster .node[data-id="%d"] .role').textContent`, id)), "LEADER")
	p.screenshot("cluster")
}

func TestCrashLeaderFromPage(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 2, Speed: 0.5})
	old, term := p.leader(0, 0)
	p.clickNode(old)
	p.click(`#details button[data-act=crash]`)
	poll[bool](p, fmt.Sprintf(`document.querySelector('#cluster .node[data-id="%d"]').dataset.up === 'false'`, old))
	id, newTerm := p.leader(old, term)
	require.NotEqual(t, old, id)
	require.Greater(t, newTerm, term)
	p.screenshot("new-leader")
	if out := os.Getenv("RAFTLAB_SCREENSHOT"); out != "" {
		// For the README: the cluster after a crash, a little later. The
		// picture is made with
		//   RAFTLAB_SCREENSHOT=$PWD/web/screenshot.png go test -run TestCrashLeaderFromPage ./web/
		p.do(chromedp.EmulateViewport(1600, 900))
		p.do(chromedp.Evaluate[chromedp.Void](`raftviz.send({op: 'propose', command: 'x=1'}); raftviz.send({op: 'propose', command: 'y=2'})`))
		poll[bool](p, `raftviz.model.nodes.filter(n => n.up && n.commitIndex >= 2).length >= 4`)
		p.clickNode(id)
		poll[bool](p, `document.querySelectorAll('#toasts .toast').length === 0`) // they would cover the timeline
		// Paused at a moment with messages on their way, so that they show.
		p.do(chromedp.Evaluate[chromedp.Void](`raftviz.send({op: 'pause'})`))
		poll[bool](p, `raftviz.model.paused`)
		for eval[int](p, `raftviz.cluster.positions.length`) < 3 {
			seq := eval[int](p, `raftviz.model.seq`)
			p.do(chromedp.Evaluate[chromedp.Void](`raftviz.send({op: 'step'})`))
			poll[bool](p, fmt.Sprintf(`raftviz.model.seq > %d`, seq))
			p.frames(2)
		}
		png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(out, png, 0o644))
	}
}

func TestPauseFreezesAndStepAdvancesOne(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 3, Speed: 0.5})
	p.leader(0, 0)
	p.click(`#btn-pause`)
	poll[bool](p, `raftviz.model.paused && document.getElementById('btn-pause').textContent === 'Resume'`)
	p.frames(5)
	seq := eval[int](p, `raftviz.model.seq`)
	shot := eval[string](p, `document.getElementById('timeline').toDataURL()`)
	p.frames(30)
	require.Equal(t, seq, eval[int](p, `raftviz.model.seq`), "no event while paused")
	require.Equal(t, shot, eval[string](p, `document.getElementById('timeline').toDataURL()`), "the timeline is frozen while paused")

	// → steps exactly one event.
	p.key(kb.ArrowRight)
	got := poll[int](p, fmt.Sprintf(`raftviz.model.seq > %d && raftviz.model.seq`, seq))
	require.Equal(t, seq+1, got)
	p.frames(10)
	require.Equal(t, seq+1, eval[int](p, `raftviz.model.seq`), "one step, one event")
	p.screenshot("paused")
}

func TestScrubBackShowsEarlierState(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 4, Speed: 1})
	old, term := p.leader(0, 0)
	// Let the leader settle, then pause and remember the cluster.
	poll[bool](p, `raftviz.model.t > 1.2e9`)
	p.click(`#btn-pause`)
	poll[bool](p, `raftviz.model.paused`)
	p.frames(3)
	snapshot := `JSON.stringify([...document.querySelectorAll('#cluster .node')].map(n => [n.dataset.role, n.dataset.term]))`
	before := eval[string](p, snapshot)
	t1 := eval[float64](p, `raftviz.model.t`)

	// Crash the leader; a new leader in a higher term takes over.
	p.click(`#btn-pause`)
	poll[bool](p, `!raftviz.model.paused`)
	p.clickNode(old)
	p.click(`#details button[data-act=crash]`)
	p.leader(old, term)
	poll[bool](p, fmt.Sprintf(`raftviz.model.t > %f + 1.5e9`, t1))
	require.NotEqual(t, before, eval[string](p, snapshot))

	// Pause (so that the timeline's scale holds still), then drag its
	// cursor back to the moment remembered.
	p.click(`#btn-pause`)
	poll[bool](p, `raftviz.model.paused`)
	p.do(chromedp.ScrollIntoView(chromedp.CSS(`#timeline`)))
	p.frames(2)
	xy := eval[[]float64](p, fmt.Sprintf(`(() => { const tl = raftviz.timeline, c = document.getElementById('timeline').getBoundingClientRect();
		const [a, b] = tl.lastRange; return [c.left + tl.left + (%f - a) / (b - a) * (c.width - tl.left - 8), c.top + 40]; })()`, t1))
	p.do(
		chromedp.MouseEvent(chromedp.MousePressed, xy[0]+120, xy[1], chromedp.ButtonLeft),
		chromedp.MouseEvent("mouseMoved", xy[0]+60, xy[1], chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, xy[0], xy[1], chromedp.ButtonLeft),
	)
	seeked := poll[float64](p, `!raftviz.model.live && raftviz.model.t`)
	window := eval[[]float64](p, `raftviz.timeline.lastRange`)
	pixel := (window[1] - window[0]) / 1000
	require.InDelta(t, t1, seeked, 3*pixel, "the seek lands where the cursor was dropped")
	p.frames(3)
	require.Equal(t, before, eval[string](p, snapshot), "scrubbing back shows the cluster as it was then")
	p.screenshot("scrubbed")

	// Live returns to the present.
	p.click(`#btn-live`)
	poll[bool](p, `raftviz.model.live`)
	p.frames(3)
	require.NotEqual(t, before, eval[string](p, snapshot))
}

// A command the server refuses shows the server's own sentence. The page
// is driven through what must hold — the scenario list filled in, the error
// toast shown — never through timing: chromedp finds each element when it
// is there.
func TestBadCommandShowsServerError(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 3, Seed: 5, Speed: 0.5})
	p.leader(0, 0)
	// Figure 8 needs five servers; this cluster has three: the server refuses.
	poll[bool](p, `[...document.querySelectorAll('#scenario option')].some(o => o.value === 'figure8')`)
	p.do(chromedp.SetValue(chromedp.CSS(`#scenario`), "figure8"))
	p.press(`#btn-scenario`, 50*time.Millisecond)
	msg := poll[string](p, `(document.querySelector('#toasts .toast.error') || {}).textContent`)
	require.Contains(t, msg, "the figure8 scenario needs at least 5 nodes; this cluster has 3")
	// Restart is offered only for a server that is down: on a running one
	// the page does not offer a command that can only fail.
	p.clickNode(2)
	require.True(t, poll[bool](p, `document.querySelector('#node-view button[data-act=restart]').disabled`))
	p.screenshot("error")
}

func TestLargeTextHelpAndPartition(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 6, Speed: 0.5})
	p.leader(0, 0)
	p.key("l")
	poll[bool](p, `document.body.classList.contains('large')`)
	p.key("?")
	poll[bool](p, `!document.getElementById('help').classList.contains('hidden')`)
	p.screenshot("help")
	p.key(kb.Escape)
	poll[bool](p, `document.getElementById('help').classList.contains('hidden')`)

	// Partition by picking servers: n1 and n2 on one side.
	p.click(`#btn-partition`)
	p.clickCenter(`#cluster .node[data-id="1"] .halo`)
	p.clickCenter(`#cluster .node[data-id="2"] .halo`)
	p.click(`#btn-cut`)
	groups := poll[[][]int](p, `raftviz.model.groups.length === 2 && raftviz.model.groups`)
	require.Equal(t, [][]int{{1, 2}, {3, 4, 5}}, groups)
	poll[bool](p, `document.querySelectorAll('#cluster .node.cut').length === 2`)
	p.screenshot("large-partitioned")
	p.click(`#btn-heal`)
	poll[bool](p, `raftviz.model.groups.length === 1`)

	// A reset to fewer servers forgets what the page held of the old
	// cluster: the panel of n5, which is gone, and n5 as the last server
	// crashed (R would restart it).
	p.clickNode(5)
	p.press(`#node-view button[data-act=crash]:not(:disabled)`, 180*time.Millisecond)
	poll[bool](p, `raftviz.model.node(5).up === false`)
	p.do(chromedp.SetValue(chromedp.CSS(`#nodes`), "3"))
	p.press(`#reset-form button[type=submit]`, 170*time.Millisecond)
	poll[bool](p, `raftviz.model.nodes.length === 3`)
	p.frames(2)
	require.True(t, eval[bool](p, `document.getElementById('node-view').classList.contains('hidden') && !document.getElementById('pick-hint').classList.contains('hidden')`),
		"the panel of n5 is closed: n5 is gone")
	p.key("r")
	require.Contains(t, poll[string](p, `(e => e && e.textContent)([...document.querySelectorAll('#toasts .toast.error')].pop())`),
		"no crashed server to restart")
	require.Empty(t, eval[[]string](p, `raftviz.stats.errors`), "nothing was sent for a server that is gone")
}

// BenchmarkPageFrameRate measures the page at 9 nodes and top speed: the
// animation frames per second it holds, the events per second it takes in,
// and its JavaScript heap at the start and the end of the measured minute
// (the history it keeps is windowed, so the heap must level off).
func BenchmarkPageFrameRate(b *testing.B) {
	duration := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("RAFTLAB_FPS_DURATION")); err == nil {
		duration = d
	}
	p := openPage(b, visualizer.SessionOptions{Nodes: 9, Seed: 7, Speed: visualizer.MaxSpeed})
	p.leader(0, 0)
	p.frames(60) // warm up
	heap := func() float64 {
		r, err := chromedp.Call(p.ctx, runtime.GetHeapUsage, cdp.Empty{})
		require.NoError(b, err)
		return r.UsedSize / (1 << 20)
	}
	_, _ = chromedp.Call(p.ctx, heapprofiler.CollectGarbage, cdp.Empty{})
	heapStart := heap()
	b.ResetTimer()
	type sample struct{ Frames, Events float64 }
	read := func() sample {
		return eval[sample](p, `({Frames: raftviz.stats.frames, Events: raftviz.stats.events})`)
	}
	start, wall := read(), time.Now()
	minFPS := math.Inf(1)
	last, lastWall := start, wall
	for time.Since(wall) < duration {
		p.frames(60)
		s, now := read(), time.Now()
		minFPS = math.Min(minFPS, (s.Frames-last.Frames)/now.Sub(lastWall).Seconds())
		last, lastWall = s, now
	}
	end := read()
	secs := time.Since(wall).Seconds()
	b.StopTimer()
	_, _ = chromedp.Call(p.ctx, heapprofiler.CollectGarbage, cdp.Empty{})
	heapEnd := heap()
	b.ReportMetric((end.Frames-start.Frames)/secs, "fps")
	b.ReportMetric(minFPS, "min-fps")
	b.ReportMetric((end.Events-start.Events)/secs, "events/s")
	b.ReportMetric(heapStart, "heap-MB-start")
	b.ReportMetric(heapEnd, "heap-MB-end")
	if out := os.Getenv("RAFTLAB_FPS_JSON"); out != "" {
		j, _ := json.Marshal(map[string]float64{"fps": (end.Frames - start.Frames) / secs, "minFps": minFPS,
			"eventsPerSecond": (end.Events - start.Events) / secs, "heapStartMB": heapStart, "heapEndMB": heapEnd, "seconds": secs})
		_ = os.WriteFile(out, j, 0o644)
	}
	if strings.Contains(os.Getenv("RAFTLAB_FPS_SHOT"), ".png") {
		png, _ := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
		_ = os.WriteFile(os.Getenv("RAFTLAB_FPS_SHOT"), png, 0o644)
	}
}

// votesForAll is the reference, except that it grants every vote it is
// asked for: sooner or later two candidates win the same term.
func votesForAll(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
	return &votesForAllNode{Node: solutions.New(cfg, saved, env), env: env}
}

type votesForAllNode struct {
	raft.Node
	env raft.Env
}

func (n *votesForAllNode) Step(m raft.Message) {
	n.Node.Step(m)
	if m.Type == raft.RequestVote {
		n.env.Send(raft.Message{Type: raft.RequestVoteReply, To: m.From, Term: m.Term, VoteGranted: true})
	}
}

func TestViolationIsMarkedWhereItBroke(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 8, Speed: 2,
		Impl: lab.Implementation{Name: "votes-for-all", New: votesForAll}})
	p.leader(0, 0)
	// Play the split-vote scenario from the page: every follower becomes a
	// candidate at once, and these servers vote for all of them.
	p.do(chromedp.SetValue(chromedp.CSS(`#scenario`), "split-vote"))
	p.click(`#btn-scenario`)
	rule := poll[string](p, `(raftviz.model.violations[0] || {}).rule`)
	require.Contains(t, []string{lab.RuleOneVotePerTerm, lab.RuleElectionSafety}, rule)
	banner := poll[string](p, `(b => !b.classList.contains('hidden') && b.textContent)(document.getElementById('banner'))`)
	require.Contains(t, banner, rule+" broken at")
	require.Contains(t, poll[string](p, `(t => t.includes('violation') && t)(document.getElementById('run-info').textContent)`), "violation")
	// The timeline marks it with the rule's name, at its time.
	require.True(t, poll[bool](p, `raftviz.model.marks.some(m => m.kind === 'violation' && m.rule === raftviz.model.violations[0].rule)`))
	// "Show the moment" takes the page to the event that broke the rule.
	p.click(`#btn-goto-violation`)
	first := eval[float64](p, `raftviz.model.violations[0].seq`)
	require.Equal(t, first, poll[float64](p, `!raftviz.model.live && raftviz.model.seq`))
	p.do(chromedp.ScrollIntoView(chromedp.CSS(`#timeline`)))
	p.frames(5)
	p.screenshot("violation")
}
