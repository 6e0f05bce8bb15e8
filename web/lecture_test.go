package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/visualizer"
)

// These tests try the page as an instructor uses it in front of a room: real
// mouse presses of human length, a projector's screen sizes, colours read
// from across the room, a watching class.

// Every button of a server's panel takes effect when pressed as a person
// presses it — mouse down, about 200 ms, mouse up — at 1× and at top speed,
// while the cluster keeps changing what the panel shows.
func TestPanelButtonsTakeHumanClicks(t *testing.T) {
	for _, speed := range []float64{1, visualizer.MaxSpeed} {
		t.Run(fmt.Sprintf("speed-%g", speed), func(t *testing.T) {
			p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 21, Speed: speed})
			leader, _ := p.leader(0, 0)
			follower := leader%5 + 1
			hold := func(i int) time.Duration { return time.Duration(150+50*(i%3)) * time.Millisecond }
			step := 0
			act := func(button, effect string) {
				t.Helper()
				p.press(fmt.Sprintf(`#node-view button[data-act=%s]:not(:disabled)`, button), hold(step))
				step++
				poll[bool](p, effect)
			}
			p.clickNode(follower)
			// A command took effect when the session recorded it: the
			// recording holds every command carried out, whatever the page
			// has had time to draw at top speed.
			recorded := func(kind raft.EventKind) int {
				_, cmds, _, err := p.session.Recording(context.Background())
				require.NoError(t, err)
				n := 0
				for _, c := range cmds {
					if c.Kind == kind && int(c.Node) == follower {
						n++
					}
				}
				return n
			}
			waitRecorded := func(kind raft.EventKind, n int) {
				t.Helper()
				deadline := time.Now().Add(30 * time.Second)
				for recorded(kind) <= n {
					require.True(t, time.Now().Before(deadline), "the %v press never took effect", kind)
					p.frames(1)
				}
			}
			timeouts := recorded(raft.EvTimeout)
			p.press(`#node-view button[data-act=timeout]:not(:disabled)`, hold(step))
			step++
			waitRecorded(raft.EvTimeout, timeouts)
			proposals := recorded(raft.EvPropose)
			p.press(`#node-view button[data-act=propose]:not(:disabled)`, hold(step))
			step++
			waitRecorded(raft.EvPropose, proposals)
			act("isolate", fmt.Sprintf(`raftviz.model.groups.some(g => g.length === 1 && g[0] === %d)`, follower))
			p.press(`#btn-heal`, hold(step))
			poll[bool](p, `raftviz.model.groups.length === 1`)
			act("crash", fmt.Sprintf(`raftviz.model.node(%d).up === false`, follower))
			act("restart", fmt.Sprintf(`raftviz.model.node(%d).up === true`, follower))
			p.press(`#btn-pause`, hold(step))
			poll[bool](p, `raftviz.model.paused || (raftviz.stats.errors.length && raise(raftviz.stats.errors))`)
			seq := eval[int](p, `raftviz.model.seq`)
			p.press(`#btn-step`, hold(step))
			poll[bool](p, fmt.Sprintf(`raftviz.model.seq === %d`, seq+1))
			p.press(`#btn-pause`, hold(step))
			poll[bool](p, `!raftviz.model.paused`)
			require.Empty(t, eval[[]string](p, `raftviz.stats.errors`), "no command was refused")
		})
	}
}

// box is an element's place on the screen.
type box struct{ Left, Top, Right, Bottom float64 }

func (b box) inside(w, h float64) bool {
	return b.Left >= -0.5 && b.Top >= -0.5 && b.Right <= w+0.5 && b.Bottom <= h+0.5
}

func (b box) overlaps(o box) bool {
	return b.Left < o.Right-0.5 && o.Left < b.Right-0.5 && b.Top < o.Bottom-0.5 && o.Top < b.Bottom-0.5
}

const boxJS = `(e => (r => ({Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom}))(e.getBoundingClientRect()))`

// layoutParts are the parts of the page TestOneScreen places on the screen.
var layoutParts = []string{"#ring", "#logs-box", "#timeline", "#btn-pause", "#btn-live", "#speed", "#legend", "#last-event"}

// layoutShot is where the page's parts, its servers and its last log row are,
// measured in one evaluation so that all come from the same layout. Only the
// parts must hold still; a server's box may change as its timer arc turns.
type layoutShot struct {
	Parts   map[string]box
	Servers []box
	LastRow box
}

// settledLayout measures the page until two measurements a few frames apart
// agree: the page resizes its ring when a row's height changes, and a test
// that read one part before that and another after would see an overlap the
// page never showed. A layout that never settles is a failure of its own.
func settledLayout(t *testing.T, p *page, name string, parts []string) layoutShot {
	t.Helper()
	sels, _ := json.Marshal(parts)
	js := fmt.Sprintf(`(() => { const b = %s; const parts = {};
		for (const s of %s) parts[s] = b(document.querySelector(s));
		return {Parts: parts, Servers: [...document.querySelectorAll('#cluster .node')].map(b),
			LastRow: b([...document.querySelectorAll('#logs [role=rowheader]')].pop())}; })()`, boxJS, sels)
	last := eval[layoutShot](p, js)
	for range 100 {
		p.frames(2)
		now := eval[layoutShot](p, js)
		if reflect.DeepEqual(now.Parts, last.Parts) {
			return now
		}
		last = now
	}
	t.Fatalf("%s: the page's layout keeps moving: after 100 measurements two frames apart it has not settled (last: %+v)", name, last)
	return last
}

// One screen: at a projector's sizes, for 3 to 9 servers, in normal and
// large mode, the ring, the logs and the timeline are all inside the window
// with nothing to scroll, none covers another, the legend covers no server,
// and the run's controls are on screen. Large mode draws the servers larger.
func TestOneScreen(t *testing.T) {
	for _, size := range [][2]int{{1280, 720}, {1600, 900}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			w, h := float64(size[0]), float64(size[1])
			p := openPageWith(t, visualizer.SessionOptions{Nodes: 3, Seed: 22, Speed: 0.5}, pageOptions{width: size[0], height: size[1]})
			p.leader(0, 0)
			widths := map[string]float64{}
			for _, nodes := range []int{3, 5, 9} {
				p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`raftviz.send({op: 'reset', nodes: %d, seed: 22})`, nodes)))
				poll[bool](p, fmt.Sprintf(`raftviz.model.nodes.length === %d && document.querySelectorAll('#cluster .node').length === %d && document.querySelectorAll('#logs [role=rowheader]').length === %d`, nodes, nodes, nodes))
				for _, large := range []bool{false, true} {
					if large != eval[bool](p, `document.body.classList.contains('large')`) {
						p.press(`#btn-large`, 100*time.Millisecond)
						poll[bool](p, fmt.Sprintf(`document.body.classList.contains('large') === %v`, large))
					}
					p.frames(4)
					name := fmt.Sprintf("%d servers, large %v", nodes, large)
					require.LessOrEqual(t, eval[float64](p, `document.documentElement.scrollHeight`), h, "%s: the page scrolls", name)
					require.LessOrEqual(t, eval[float64](p, `document.documentElement.scrollWidth`), w, "%s: the page scrolls sideways", name)
					shot := settledLayout(t, p, name, layoutParts)
					parts := shot.Parts
					for _, sel := range layoutParts {
						require.True(t, parts[sel].inside(w, h), "%s: %s is not inside the %vx%v window: %+v", name, sel, w, h, parts[sel])
					}
					for _, pair := range [][2]string{{"#ring", "#logs-box"}, {"#ring", "#timeline"}, {"#logs-box", "#timeline"}, {"#legend", "#timeline"}, {"#last-event", "#timeline"}} {
						require.False(t, parts[pair[0]].overlaps(parts[pair[1]]), "%s: %s and %s overlap: %+v %+v", name, pair[0], pair[1], parts[pair[0]], parts[pair[1]])
					}
					// Every server, with its labels, is inside the ring's box and
					// off the legend; the logs' last row and the timeline's last
					// lane are on screen.
					servers := shot.Servers
					for i, b := range servers {
						require.True(t, b.inside(w, h) && !b.overlaps(parts["#legend"]) && !b.overlaps(parts["#logs-box"]), "%s: n%d at %+v leaves the ring %+v", name, i+1, b, parts["#ring"])
					}
					lastRow := shot.LastRow
					require.True(t, lastRow.inside(w, h) && lastRow.Bottom <= parts["#logs-box"].Bottom+0.5, "%s: the last log row is cut off: %+v", name, lastRow)
					widths[fmt.Sprintf("%d-%v", nodes, large)] = servers[0].Right - servers[0].Left
				}
				p.press(`#btn-large`, 100*time.Millisecond) // back to normal for the next count
				poll[bool](p, `!document.body.classList.contains('large')`)
			}
			require.Greater(t, widths["5-true"], 1.1*widths["5-false"], "large mode draws the servers larger")
			p.screenshot(fmt.Sprintf("one-screen-%dx%d", size[0], size[1]))
		})
	}
}

// Readable: every term's colour, as the page renders it behind a server's
// name and behind a log entry's text, contrasts at least 4.5:1 (WCAG AA)
// with the text on it, for the first 20 terms; and any 12 consecutive terms
// have 12 colours that are told apart. The ratio is computed here from the
// rendered colours, not taken from the page.
func TestTermColoursAreReadableAndDistinct(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 3, Seed: 23, Speed: 0.5})
	p.leader(0, 0)
	p.press(`#btn-pause`, 100*time.Millisecond)
	poll[bool](p, `raftviz.model.paused`)
	type swatch struct{ Fill, Ink, CellBg, CellInk string }
	var strong []string
	lowest := math.Inf(1)
	for term := 1; term <= 20; term++ {
		// Paint the servers in this term, as the model would after an election.
		sw := eval[swatch](p, fmt.Sprintf(`(() => {
			const m = raftviz.model;
			Object.assign(m.nodes[0], {up: true, role: 'leader', term: %[1]d});
			Object.assign(m.nodes[1], {up: true, role: 'follower', term: %[1]d, log: [{index: 1, term: %[1]d, cmd: 'x=%[1]d'}]});
			m.version++;
			raftviz.cluster.update(); raftviz.logs.update();
			const g = document.querySelector('#cluster .node[data-id="1"]');
			const cell = document.querySelector('#logs .cell:not(.empty)');
			const cs = getComputedStyle(cell);
			return {Fill: getComputedStyle(g.querySelector('rect.shape')).fill, Ink: getComputedStyle(g.querySelector('.name')).fill,
				CellBg: cs.backgroundColor, CellInk: cs.color};
		})()`, term))
		for _, pair := range [][2]string{{sw.Fill, sw.Ink}, {sw.CellBg, sw.CellInk}} {
			r := contrastRatio(parseRGB(t, pair[0]), parseRGB(t, pair[1]))
			lowest = math.Min(lowest, r)
			require.GreaterOrEqual(t, r, 4.5, "term %d: text %s on %s has a contrast of %.2f:1", term, pair[1], pair[0], r)
		}
		strong = append(strong, sw.Fill)
	}
	t.Logf("lowest contrast over 20 terms: %.2f:1", lowest)
	for i := range strong {
		for j := i + 1; j < len(strong) && j < i+12; j++ {
			d := colourDistance(parseRGB(t, strong[i]), parseRGB(t, strong[j]))
			require.Greater(t, d, 40.0, "terms %d and %d look alike: %s and %s", i+1, j+1, strong[i], strong[j])
		}
	}
	p.screenshot("colours")
}

func parseRGB(t *testing.T, s string) [3]float64 {
	t.Helper()
	var c [3]float64
	_, err := fmt.Sscanf(strings.ReplaceAll(s, " ", ""), "rgb(%g,%g,%g)", &c[0], &c[1], &c[2])
	require.NoError(t, err, "colour %q", s)
	return c
}

// contrastRatio is WCAG 2's contrast ratio.
func contrastRatio(a, b [3]float64) float64 {
	lum := func(c [3]float64) float64 {
		var l [3]float64
		for i, v := range c {
			v /= 255
			if v <= 0.03928 {
				l[i] = v / 12.92
			} else {
				l[i] = math.Pow((v+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
	}
	x, y := lum(a), lum(b)
	return (math.Max(x, y) + 0.05) / (math.Min(x, y) + 0.05)
}

// colourDistance is a "redmean" weighted RGB distance, a cheap stand-in for
// perceived difference.
func colourDistance(a, b [3]float64) float64 {
	r := (a[0] + b[0]) / 2
	dr, dg, db := a[0]-b[0], a[1]-b[1], a[2]-b[2]
	return math.Sqrt((2+r/256)*dr*dr + 4*dg*dg + (2+(255-r)/256)*db*db)
}

// Nothing stale: when the leader crashes and another is elected, the logs
// table says so — the old leader's row down, the new one's marked leader —
// by the animation frame after the model learns it. And a crashed server's
// panel says it is down instead of showing its last live state.
func TestLogsFollowCrashAndNewLeaderWithinAFrame(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 24, Speed: 0.5})
	old, term := p.leader(0, 0)
	p.clickNode(old)
	// Watch every frame: the first frame in which the model knows of the
	// crash and of a new leader, and the first in which the logs show both.
	p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const w = window.watch = {modelAt: 0, domAt: 0, frame: 0};
		const rows = () => [...document.querySelectorAll('#logs [role=rowheader]')].map(e => e.textContent);
		const f = () => {
			w.frame++;
			const m = raftviz.model, l = m.leader();
			if (!w.modelAt && !m.node(%[1]d).up && l && l.id !== %[1]d && l.term > %[2]d) { w.modelAt = w.frame; w.leader = l.id; }
			const r = rows();
			if (!w.domAt && w.leader && r[%[1]d - 1] === 'n%[1]d down' && r[w.leader - 1] === 'n' + w.leader + ' leader') w.domAt = w.frame;
			if (!w.domAt) requestAnimationFrame(f);
		};
		requestAnimationFrame(f);
	})()`, old, term)))
	p.press(`#node-view button[data-act=crash]`, 150*time.Millisecond)
	type watch struct{ ModelAt, DomAt int }
	w := poll[watch](p, `window.watch.domAt > 0 && {ModelAt: window.watch.modelAt, DomAt: window.watch.domAt}`)
	require.LessOrEqual(t, w.DomAt, w.ModelAt+1, "the logs table lagged the model by %d frames", w.DomAt-w.ModelAt)
	// The crashed server's panel says it is down and hides its live state.
	require.True(t, poll[bool](p, `!document.getElementById('nv-down').classList.contains('hidden')`))
	require.Contains(t, eval[string](p, `document.getElementById('nv-down').textContent`), "is down")
	require.True(t, eval[bool](p, `[...document.querySelectorAll('#node-view .live-only')].every(r => r.offsetParent === null)`))
	require.Equal(t, "down", eval[string](p, `document.getElementById('nv-role').textContent`))
	// Index headers stand over their cells.
	off := eval[float64](p, `(() => { const h = document.querySelector('#logs .idx'), c = document.querySelectorAll('#logs [role=rowheader]')[0].nextElementSibling;
		const a = h.getBoundingClientRect(), b = c.getBoundingClientRect(); return Math.abs((a.left + a.right) / 2 - (b.left + b.right) / 2); })()`)
	require.Less(t, off, 1.0, "an index header is %v px off its cells", off)
}

// Timer arcs: at high speed a follower's election timer is reset by every
// heartbeat, so the page must not draw it running out between two status
// frames: with a stable leader, no follower shows a full arc.
func TestTimerArcsHoldAtHighSpeed(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 25, Speed: 2})
	p.leader(0, 0)
	worst := 0.0
	for range 20 {
		p.frames(3)
		f := eval[float64](p, `Math.max(...[...document.querySelectorAll('#cluster .node[data-role=follower] .timer')].map(e => +(e.dataset.frac || 0)))`)
		worst = math.Max(worst, f)
	}
	require.Less(t, worst, 0.99, "a follower of a live leader was drawn with its timer run out")
}

// Each step says what happened: the last event in words, a message in the
// server's own text form, and a list of recent events that can be opened.
func TestStepSaysWhatHappened(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 3, Seed: 26, Speed: 0.5})
	p.leader(0, 0)
	p.press(`#btn-pause`, 100*time.Millisecond)
	poll[bool](p, `raftviz.model.paused`)
	// Step until a message event, and check its words are the server's.
	for range 50 {
		seq := eval[int](p, `raftviz.model.seq`)
		p.press(`#btn-step`, 100*time.Millisecond)
		poll[bool](p, fmt.Sprintf(`raftviz.model.seq > %d`, seq))
		p.frames(2)
		if eval[bool](p, `!!raftviz.model.recent.at(-1).say`) {
			break
		}
	}
	say := eval[string](p, `raftviz.model.recent.at(-1).say`)
	require.Regexp(t, `^n\d->n\d (RequestVote|AppendEntries)`, say, "a message's text is raft.Message.String's")
	require.Contains(t, poll[string](p, `document.getElementById('last-event').textContent`), say)
	p.press(`#recent summary`, 100*time.Millisecond)
	items := poll[[]string](p, `(l => l.length >= 5 && l)([...document.querySelectorAll('#recent-list li')].map(e => e.textContent))`)
	require.Contains(t, items[0], say, "the newest event is first")
}
