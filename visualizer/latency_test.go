package visualizer

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestWatcherFloodDoesNotDelayOthers: a watch-only viewer (no token) sends
// commands as fast as its connection takes them. A controller proposes
// commands one at a time, and a well-behaved viewer watches for each
// proposal's event. The delay from sending a proposal to the watcher
// holding its event is counted in frames of the session (its clock ticks),
// not in milliseconds, so the figure is the same on a slow machine as on a
// fast one; so is the count of frames the watcher was sent meanwhile, which
// a flood that reached other viewers would raise. Both are compared with a
// quiet run of the same session: the flood may not double them (issue 14:
// one hostile viewer cannot raise another viewer's latency beyond 2×).
//
// The figures, for the README:
//
//	go test -v -run WatcherFloodDoesNotDelayOthers ./visualizer/
func TestWatcherFloodDoesNotDelayOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("two runs of 40 proposals")
	}
	ts := startServer(t, SessionOptions{Seed: 4, Speed: 1, Nodes: 5, FrameInterval: 5 * time.Millisecond}, "s3cret")
	ctl := ts.dial("?token=s3cret")
	ctl.next("state")
	w := watchProposals(t, ts)
	for { // wait for a leader to propose to
		id := ctl.send(map[string]any{"op": "propose", "command": "first"})
		if ctl.answer(id).Type == "ack" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	const rounds = 40
	measure := func(phase string) (delays, between []int) {
		for i := range rounds {
			// Within the controller's own rate limit: one command per
			// creditEvery frames.
			for due := ts.session.frames.Load() + creditEvery; ts.session.frames.Load() < due; {
				time.Sleep(time.Millisecond)
			}
			cmd := fmt.Sprintf("%s-%d", phase, i)
			start, framesBefore := ts.session.frames.Load(), w.count()
			id := ctl.send(map[string]any{"op": "propose", "command": cmd})
			at, seen := w.wait(t, cmd)
			require.Equal(t, "ack", ctl.answer(id).Type, "the controller's proposal %s", cmd)
			delays = append(delays, int(at-start))
			between = append(between, seen-framesBefore)
		}
		return delays, between
	}
	quietDelay, quietFrames := measure("quiet")

	hostile := ts.dialRaw()   // no token: watch-only
	var answered atomic.Int64 // the hostile's commands the session answered
	go func() {
		for {
			_, data, err := hostile.ReadMessage()
			if err != nil {
				return
			}
			if bytes.HasPrefix(data, []byte(`{"type":"error"`)) || bytes.Contains(data, []byte(`"reason":"asked"`)) || bytes.HasPrefix(data, []byte(`{"type":"log"`)) {
				answered.Add(1)
			}
		}
	}()
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		cmds := []string{`{"op":"pause"}`, `{"op":"resume"}`, `{"op":"state"}`, `{"op":"seek","t":0}`, `{"op":"step","count":50}`,
			`{"op":"propose","command":"x"}`, `{"op":"reset","seed":9}`, `{"op":"crash","node":1}`, `{"op":"log","node":1}`}
		n := 0
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			_ = hostile.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			if hostile.WriteMessage(websocket.TextMessage, []byte(cmds[n%len(cmds)])) == nil {
				n++
			}
		}
	}()
	floodDelay, floodFrames := measure("flood")
	close(stop)
	n := <-sent
	handled := answered.Load()

	med := func(xs []int) int { xs = slices.Clone(xs); slices.Sort(xs); return xs[len(xs)/2] }
	t.Logf("frames of the session from a proposal to the watcher holding its event, median (max) of %d: quiet %d (%d); flooded %d (%d), while a watch-only viewer wrote %d commands, of which the session (rate-limited) took %d",
		rounds, med(quietDelay), slices.Max(quietDelay), med(floodDelay), slices.Max(floodDelay), n, handled)
	t.Logf("frames the watcher was sent meanwhile, median (max): quiet %d (%d), flooded %d (%d)",
		med(quietFrames), slices.Max(quietFrames), med(floodFrames), slices.Max(floodFrames))
	// The delay is 0 frames in a quiet run (the proposal's event is sent as
	// the session takes it): one frame of slack for a loaded machine.
	require.LessOrEqual(t, med(floodDelay), 2*med(quietDelay)+1, "a watch-only viewer's commands delayed another viewer's frames")
	require.LessOrEqual(t, med(floodFrames), 2*med(quietFrames), "a watch-only viewer's commands made frames for another viewer")
}

// proposalWatcher is a well-behaved viewer that notes, for each proposal it
// sees, the session's frame count when its event arrived, and counts the
// frames it was sent.
type proposalWatcher struct {
	ts     *testServer
	mu     sync.Mutex
	frames int
	seen   []proposalSeen
	notify chan struct{}
}

type proposalSeen struct {
	data   []byte // the events frame
	at     uint64 // the session's frame count when it arrived
	frames int    // frames received up to it
}

func watchProposals(t *testing.T, ts *testServer) *proposalWatcher {
	w := &proposalWatcher{ts: ts, notify: make(chan struct{}, 1)}
	conn := ts.dialRaw()
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			at := ts.session.frames.Load()
			w.mu.Lock()
			w.frames++
			if bytes.HasPrefix(data, []byte(`{"type":"events"`)) && bytes.Contains(data, []byte(`"kind":"propose"`)) {
				w.seen = append(w.seen, proposalSeen{data: data, at: at, frames: w.frames})
			}
			w.mu.Unlock()
			select {
			case w.notify <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

func (w *proposalWatcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.frames
}

// wait returns when the frame holding the proposal of cmd arrived, and how
// many frames the watcher had been sent by then.
func (w *proposalWatcher) wait(t *testing.T, cmd string) (at uint64, frames int) {
	t.Helper()
	want := []byte(`"cmd":"` + cmd + `"`)
	timeout := time.After(20 * time.Second)
	for {
		w.mu.Lock()
		for _, s := range w.seen {
			if bytes.Contains(s.data, want) {
				w.mu.Unlock()
				return s.at, s.frames
			}
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-timeout:
			t.Fatalf("the watcher never saw the proposal %q", cmd)
		}
	}
}
