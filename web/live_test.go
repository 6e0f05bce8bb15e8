package web_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
)

// syncBuffer collects a process's output from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLiveCluster builds raftviz and runs `raftviz cluster` with args: real
// server processes, the page in live mode. It returns the page's address;
// the cluster is stopped with Ctrl-C (SIGINT) at the end of the test.
func startLiveCluster(t *testing.T, args ...string) string {
	t.Helper()
	chromiumPath(t)
	if testing.Short() {
		t.Skip("starts real server processes; run without -short")
	}
	exe := filepath.Join(t.TempDir(), "raftviz")
	out, err := exec.Command("go", "build", "-o", exe, "github.com/raftlab/raftlab/cmd/raftviz").CombinedOutput()
	require.NoError(t, err, "building raftviz: %s", out)
	cmd := exec.Command(exe, append([]string{"cluster", "-nodes", "3", "-open=false", "-addr", "127.0.0.1:0", "-dir", t.TempDir()}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("raftviz cluster's errors:\n%s", stderr.String())
		}
	})
	lines := bufio.NewScanner(stdout)
	openRe := regexp.MustCompile(`open (http://\S+)/`)
	url := ""
	for url == "" && lines.Scan() {
		if m := openRe.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	go func() {
		for lines.Scan() {
		}
		_ = cmd.Wait()
		close(exited)
	}()
	require.NotEmpty(t, url, "raftviz cluster printed no address: %s", stderr.String())
	return url
}

// On real processes the page offers what applies to real time and shows the
// rest unavailable, each with the server's reason: real presses on those do
// nothing, the keys say why, the run has no seed, and pause stops the view
// while the servers run on. Kill -9, restart, cut off, heal and propose
// work; messages are drawn on their way, each said in the server's text;
// the servers' snapshots (a snapshot every 2 entries) show on their rows.
func TestLivePageRealProcesses(t *testing.T) {
	url := startLiveCluster(t, "-snapshot-every", "2")
	p := openBrowser(t, url, pageOptions{})
	poll[bool](p, `document.body.classList.contains('realtime')`)
	lead, term := p.leader(0, 0)

	// The header names real processes, never a seed.
	info := poll[string](p, `(t => t.includes('real server processes') && t)(document.getElementById('run-info').textContent)`)
	require.NotContains(t, info, "seed")
	require.Empty(t, eval[string](p, `document.getElementById('seed').value`), "no seed in real time")
	note := poll[string](p, `(e => !e.classList.contains('hidden') && e.offsetParent !== null && e.textContent)(document.getElementById('realtime'))`)
	require.Contains(t, note, "Pause stops this timeline view, not the servers")

	// The processes do not report how far their election timers ran: a
	// follower's panel says so, and no timer arc is drawn (none is made up).
	p.clickNode(lead%3 + 1)
	p.frames(2)
	require.Equal(t, "not known: real processes do not report their timers", eval[string](p, `document.getElementById('nv-timer').textContent`))
	arcs, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`new Promise(r => { let n = 0, arcs = 0; const f = () => {
		arcs += [...document.querySelectorAll('#cluster .node .timer')].filter(e => e.getAttribute('d')).length;
		(++n >= 30) ? r(arcs) : requestAnimationFrame(f); }; requestAnimationFrame(f); })`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Zero(t, arcs, "timer arcs drawn in 30 frames")

	// Each control of a simulation is disabled and says why: as a tooltip
	// and as its accessible description, in the server's own words.
	why := map[string]string{
		`#btn-step`: "stepping one event", `#speed`: "changing the speed", `#btn-live`: "going back in time",
		`#scenario`: "playing a scenario", `#btn-scenario`: "playing a scenario", `#seed`: "a reset with a seed",
		`#nodes`: "a reset with a seed", `#reset-form button[type=submit]`: "a reset with a seed",
		`#loss`: "changing the simulated network", `#node-view button[data-act=timeout]`: "forcing a timeout",
		`#msg-view button[data-msg-act=hold]`: "controlling one message", `#timeline`: "going back in time",
	}
	for sel, what := range why {
		got := eval[[]any](p, fmt.Sprintf(`(e => [e.disabled === true || e.tagName === 'CANVAS', e.title,
			(document.getElementById(e.getAttribute('aria-describedby')) || {}).textContent || ''])(document.querySelector('%s'))`, sel))
		require.True(t, got[0].(bool), "%s is disabled", sel)
		require.Contains(t, got[1], what+" is unavailable in real time", "%s's tooltip", sel)
		require.Equal(t, got[1], got[2], "%s's accessible description is its tooltip", sel)
	}
	require.Equal(t, "true", eval[string](p, `document.getElementById('btn-trace').getAttribute('aria-disabled')`))

	// Real presses on them do nothing: nothing is sent. Commands are
	// answered in order, so once the pause pressed after them is answered,
	// an answer to any of them would have come.
	for i, sel := range []string{`#btn-step`, `#btn-live`, `#btn-scenario`, `#reset-form button[type=submit]`, `#speed`, `#btn-trace`} {
		p.press(sel, time.Duration(150+50*(i%3))*time.Millisecond)
	}
	tl := eval[[]float64](p, `(r => [r.left + r.width / 2, r.top + r.height / 2])(document.getElementById('timeline').getBoundingClientRect())`)
	p.do(
		chromedp.MouseEvent(chromedp.MousePressed, tl[0], tl[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.Sleep(100*time.Millisecond),
		chromedp.MouseEvent("mouseMoved", tl[0]-120, tl[1], chromedp.ButtonLeft),
		chromedp.Sleep(100*time.Millisecond),
		chromedp.MouseEvent(chromedp.MouseReleased, tl[0]-120, tl[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	p.press(`#btn-pause`, 200*time.Millisecond)
	poll[bool](p, `raftviz.model.paused && raftviz.stats.acks > 0`)
	require.Empty(t, eval[[]string](p, `raftviz.stats.errors`), "a disabled control sent a command")
	require.True(t, eval[bool](p, `raftviz.model.live`), "the page never left the present")
	// The keys of those controls say why instead.
	p.key(kb.ArrowRight)
	require.Contains(t, poll[string](p, `(e => e && e.textContent)(document.querySelector('#toasts .toast.error'))`),
		"stepping one event is unavailable in real time")
	require.Empty(t, eval[[]string](p, `raftviz.stats.errors`), "the key sent nothing")

	// Paused: the view holds still, the servers run on — a command commits.
	require.Contains(t, poll[string](p, `(t => t.includes('paused') && t)(document.getElementById('run-info').textContent)`), "the servers run on")
	seq := eval[int](p, `raftviz.model.seq`)
	p.do(chromedp.SetValue(chromedp.CSS(`#propose-text`), "paused=1"))
	p.press(`#propose-form button[type=submit]`, 180*time.Millisecond)
	require.Contains(t, poll[string](p, `(e => e && e.textContent)([...document.querySelectorAll('#toasts .toast')].find(e => e.textContent.includes('committed at index')))`),
		`put "paused"="1"`)
	require.Equal(t, seq, eval[int](p, `raftviz.model.seq`), "no event reaches a paused view")
	p.press(`#btn-pause`, 160*time.Millisecond)
	poll[bool](p, `!raftviz.model.paused && raftviz.model.nodes.some(n => n.log.some(e => e && (e.cmd || '').includes('"paused"')))`)

	// Messages are drawn on their way. Paused, they hold still: press one.
	var key string
	for try := 0; key == "" && try < 50; try++ {
		poll[bool](p, `raftviz.cluster.positions.some(q => q.item.key)`)
		p.press(`#btn-pause`, 150*time.Millisecond)
		poll[bool](p, `raftviz.model.paused`)
		p.frames(2)
		found := eval[[]any](p, `(() => { const c = raftviz.cluster, q = c.positions.find(q => q.item.key);
			return q ? [q.key, c.rect.left + (q.x * c.scale + c.rect.width * c.dpr / 2) / c.dpr, c.rect.top + (q.y * c.scale + c.rect.height * c.dpr / 2) / c.dpr] : null; })()`)
		if found != nil {
			key = found[0].(string)
			x, y := found[1].(float64), found[2].(float64)
			p.do(
				chromedp.MouseEvent("mouseMoved", x, y),
				chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
				chromedp.Sleep(180*time.Millisecond),
				chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
			)
			break
		}
		p.press(`#btn-pause`, 150*time.Millisecond)
		poll[bool](p, `!raftviz.model.paused`)
	}
	require.NotEmpty(t, key, "no message was drawn on its way")
	poll[bool](p, fmt.Sprintf(`!document.getElementById('msg-view').classList.contains('hidden') && raftviz.cluster.picked.key === %q`, key))
	say := eval[string](p, `document.getElementById('mv-say').textContent`)
	require.Regexp(t, `^n\d->n\d (RequestVote|AppendEntries|InstallSnapshot)`, say, "the message in the server's text")
	require.Equal(t, eval[string](p, fmt.Sprintf(`raftviz.model.inflight.get(%q).say`, key)), say)
	require.True(t, eval[bool](p, `[...document.querySelectorAll('#msg-view button[data-msg-act]')].every(b => b.disabled && b.title.includes('unavailable in real time'))`))
	p.screenshot("live-message")
	p.press(`#btn-pause`, 150*time.Millisecond)
	poll[bool](p, `!raftviz.model.paused`)

	// kill -9 the leader from its panel: another leader, in a later term.
	p.clickNode(lead)
	p.press(`#node-view button[data-act=crash]:not(:disabled)`, 200*time.Millisecond)
	poll[bool](p, fmt.Sprintf(`raftviz.model.node(%d).up === false`, lead))
	p.leader(lead, term)
	require.Contains(t, poll[string](p, `(e => e && e.textContent)([...document.querySelectorAll('#toasts .toast')].find(e => e.textContent.includes('kill -9')))`), "is down")
	p.press(`#node-view button[data-act=restart]:not(:disabled)`, 170*time.Millisecond)
	poll[bool](p, fmt.Sprintf(`raftviz.model.node(%d).up === true`, lead))

	// Cut a server off, in the processes' transports, and heal.
	cut := lead%3 + 1
	p.clickNode(cut)
	p.press(`#node-view button[data-act=isolate]:not(:disabled)`, 220*time.Millisecond)
	poll[bool](p, fmt.Sprintf(`raftviz.model.groups.some(g => g.length === 1 && g[0] === %d) && document.querySelectorAll('#cluster .node.cut').length === 1`, cut))
	p.press(`#btn-heal`, 190*time.Millisecond)
	poll[bool](p, `raftviz.model.groups.length <= 1 && document.querySelectorAll('#cluster .node.cut').length === 0`)

	// Propose from the box: committed by the leader, in every log.
	p.do(chromedp.SetValue(chromedp.CSS(`#propose-text`), "live=2"))
	p.press(`#propose-form button[type=submit]`, 200*time.Millisecond)
	poll[bool](p, `raftviz.model.nodes.filter(n => n.log.some(e => e && (e.cmd || '').includes('"live"'))).length === 3`)
	// Two entries applied: every server has compacted its log (-snapshot-every 2),
	// and its row shows the snapshot before the entries it keeps.
	poll[bool](p, `raftviz.model.nodes.every(n => n.snapshotIndex >= 2)`)
	p.frames(2)
	require.Equal(t, 3, p.snapshotRows())
	// A server restarted from its folder shows the snapshot it restored.
	p.clickNode(cut)
	p.press(`#node-view button[data-act=crash]:not(:disabled)`, 180*time.Millisecond)
	poll[bool](p, fmt.Sprintf(`raftviz.model.node(%d).up === false`, cut))
	p.press(`#node-view button[data-act=restart]:not(:disabled)`, 210*time.Millisecond)
	poll[bool](p, fmt.Sprintf(`(n => n.up && n.snapshotIndex >= 2 && n.log.length >= n.snapshotIndex)(raftviz.model.node(%d))`, cut))
	p.frames(2)
	require.Equal(t, 3, p.snapshotRows())
	require.Empty(t, eval[[]string](p, `raftviz.stats.errors`), "no command was refused")
	require.False(t, strings.Contains(eval[string](p, `document.body.textContent`), "seed 0"))
	p.screenshot("live")
}

// The page of real processes fits one screen as the simulator's does: at a
// projector's sizes, in normal and large mode, the note on real time leaves
// the ring, the logs, the timeline and the controls inside the window, none
// covering another.
func TestLivePageOneScreen(t *testing.T) {
	url := startLiveCluster(t)
	p := openBrowser(t, url, pageOptions{width: 1280, height: 720})
	poll[bool](p, `document.body.classList.contains('realtime')`)
	p.leader(0, 0)
	for _, size := range [][2]int{{1280, 720}, {1600, 900}} {
		w, h := float64(size[0]), float64(size[1])
		p.do(chromedp.EmulateViewport(int64(size[0]), int64(size[1])))
		for _, large := range []bool{false, true} {
			if large != eval[bool](p, `document.body.classList.contains('large')`) {
				p.press(`#btn-large`, 150*time.Millisecond)
				poll[bool](p, fmt.Sprintf(`document.body.classList.contains('large') === %v`, large))
			}
			p.frames(4)
			name := fmt.Sprintf("%vx%v, large %v", w, h, large)
			require.LessOrEqual(t, eval[float64](p, `document.documentElement.scrollHeight`), h, "%s: the page scrolls", name)
			sels := []string{"#realtime", "#ring", "#logs-box", "#timeline", "#btn-pause", "#legend", "#last-event"}
			parts := settledLayout(t, p, name, sels).Parts
			for _, sel := range sels {
				require.True(t, parts[sel].inside(w, h), "%s: %s is not inside the window: %+v", name, sel, parts[sel])
			}
			// The note stays short: the ring keeps most of the height.
			require.LessOrEqual(t, parts["#realtime"].Bottom-parts["#realtime"].Top, 0.12*h, "%s: the note on real time takes %v px", name, parts["#realtime"].Bottom-parts["#realtime"].Top)
			require.GreaterOrEqual(t, parts["#ring"].Bottom-parts["#ring"].Top, 0.45*h, "%s: the ring is squeezed to %v px", name, parts["#ring"].Bottom-parts["#ring"].Top)
			for _, pair := range [][2]string{{"#realtime", "#ring"}, {"#ring", "#logs-box"}, {"#ring", "#timeline"}, {"#logs-box", "#timeline"}, {"#legend", "#timeline"}} {
				require.False(t, parts[pair[0]].overlaps(parts[pair[1]]), "%s: %s and %s overlap", name, pair[0], pair[1])
			}
		}
		p.screenshot(fmt.Sprintf("live-one-screen-%dx%d", size[0], size[1]))
		p.press(`#btn-large`, 150*time.Millisecond)
		poll[bool](p, `!document.body.classList.contains('large')`)
	}
}
