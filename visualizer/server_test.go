package visualizer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

var reference = lab.Implementation{Name: "solutions", New: solutions.New}

// testServer runs a session behind an httptest server.
type testServer struct {
	t       testing.TB
	session *Session
	srv     *httptest.Server
	cancel  context.CancelFunc
}

func startServer(t testing.TB, opts SessionOptions, token string) *testServer {
	t.Helper()
	if opts.Impl.New == nil {
		opts.Impl = reference
	}
	s, err := NewSession(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	static := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>raftviz</title>")}}
	srv := httptest.NewServer(NewHandler(ServerOptions{Session: s, Static: static, Token: token}))
	ts := &testServer{t: t, session: s, srv: srv, cancel: cancel}
	t.Cleanup(ts.close)
	return ts
}

func (ts *testServer) close() {
	ts.cancel()
	<-ts.session.Done()
	ts.srv.Close()
}

// frame is one frame from the server, its type read and the rest kept.
type frame struct {
	Type string
	raw  []byte
}

func (f frame) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(f.raw, v), "frame %s", f.raw)
}

// client is a viewer that reads every frame into a channel.
type client struct {
	t      testing.TB
	conn   *websocket.Conn
	frames chan frame
	id     uint64
	// backlog holds frames read while waiting for an answer, for next.
	backlog []frame
}

// dialRaw opens a websocket to the server with nothing reading it.
func (ts *testServer) dialRaw() *websocket.Conn {
	ts.t.Helper()
	url := "ws" + strings.TrimPrefix(ts.srv.URL, "http") + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {ts.srv.URL}})
	require.NoError(ts.t, err)
	ts.t.Cleanup(func() { conn.Close() })
	return conn
}

func (ts *testServer) dial(query string) *client {
	ts.t.Helper()
	url := "ws" + strings.TrimPrefix(ts.srv.URL, "http") + "/ws" + query
	conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {ts.srv.URL}})
	require.NoError(ts.t, err)
	c := &client{t: ts.t, conn: conn, frames: make(chan frame, 4096)}
	go func() {
		defer close(c.frames)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var head struct{ Type string }
			_ = json.Unmarshal(data, &head)
			c.frames <- frame{Type: head.Type, raw: data}
		}
	}()
	ts.t.Cleanup(func() { conn.Close() })
	return c
}

// next returns the next frame of one of the given types, skipping others.
func (c *client) next(types ...string) frame {
	c.t.Helper()
	for len(c.backlog) > 0 {
		f := c.backlog[0]
		c.backlog = c.backlog[1:]
		if slices.Contains(types, f.Type) {
			return f
		}
	}
	return c.read(types...)
}

// read reads frames until one of the given types, skipping others.
func (c *client) read(types ...string) frame {
	c.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			require.True(c.t, ok, "the connection closed while waiting for %v", types)
			if slices.Contains(types, f.Type) {
				return f
			}
		case <-timeout:
			c.t.Fatalf("no %v frame within 20s", types)
		}
	}
}

// send sends a command and returns its id.
func (c *client) send(cmd map[string]any) uint64 {
	c.t.Helper()
	c.id++
	cmd["id"] = c.id
	b, err := json.Marshal(cmd)
	require.NoError(c.t, err)
	require.NoError(c.t, c.conn.WriteMessage(websocket.TextMessage, b))
	return c.id
}

// answer waits for the ack or error of command id, and returns it. The
// frames that come before it are kept for next.
func (c *client) answer(id uint64) frame {
	c.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			require.True(c.t, ok, "the connection closed while waiting for the answer to command %d", id)
			if f.Type == "ack" || f.Type == "error" {
				var a struct{ ID uint64 }
				f.decode(c.t, &a)
				if a.ID == id {
					return f
				}
			}
			c.backlog = append(c.backlog, f)
		case <-timeout:
			c.t.Fatalf("no answer to command %d within 20s", id)
		}
	}
}

// do sends a command and requires it to be acknowledged.
func (c *client) do(cmd map[string]any) {
	c.t.Helper()
	f := c.answer(c.send(cmd))
	require.Equal(c.t, "ack", f.Type, "%v was refused: %s", cmd, f.raw)
}

// refused sends a command and requires an error that contains want.
func (c *client) refused(cmd map[string]any, want string) {
	c.t.Helper()
	f := c.answer(c.send(cmd))
	require.Equal(c.t, "error", f.Type, "%v should have been refused", cmd)
	var e errorFrame
	f.decode(c.t, &e)
	require.Contains(c.t, e.Error, want)
}

// events waits for the next events frame and returns its events.
func (c *client) events() []raft.Event {
	c.t.Helper()
	events, _ := decodePageEvents(c.t, c.next("events"))
	return events
}

// decodePageEvents reads an events frame: the trace's events, and the key
// the page is given for each message (0 for none). It checks that each
// message comes with its server-made text form.
func decodePageEvents(t testing.TB, f frame) ([]raft.Event, []uint64) {
	t.Helper()
	var ef struct{ Events []map[string]json.RawMessage }
	f.decode(t, &ef)
	events := make([]raft.Event, len(ef.Events))
	keys := make([]uint64, len(ef.Events))
	for i, fields := range ef.Events {
		var say string
		if raw, ok := fields["say"]; ok {
			require.NoError(t, json.Unmarshal(raw, &say))
		}
		if raw, ok := fields["key"]; ok {
			require.NoError(t, json.Unmarshal(raw, &keys[i]))
		}
		delete(fields, "say")
		delete(fields, "key")
		raw, err := json.Marshal(fields)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &events[i]))
		if m := events[i].Msg; m != nil {
			require.Equal(t, m.String(), say, "a message's text is raft.Message.String")
		}
	}
	return events, keys
}

// waitEvent reads events until match returns true, and returns that event.
// A wait that events keep coming to without a match fails after two minutes
// (a bound, not a measurement: any test's event comes long before).
func (c *client) waitEvent(match func(raft.Event) bool) raft.Event {
	c.t.Helper()
	give := time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(give) {
			c.t.Fatalf("the awaited event did not come in two minutes of events")
		}
		for _, e := range c.events() {
			if match(e) {
				return e
			}
		}
	}
}

func (c *client) state() stateFrame {
	c.t.Helper()
	var st stateFrame
	c.next("state").decode(c.t, &st)
	return st
}

func TestViewerSeesElectionsAndCrash(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 3, Speed: 5, Paused: true}, "")
	c := ts.dial("")
	var hello helloFrame
	c.next("hello").decode(t, &hello)
	require.Equal(t, ProtocolVersion, hello.Version)
	require.True(t, hello.Control)
	st := c.state()
	// Paused until this viewer has its state: the first election is then
	// in its events, not already over when it connects.
	c.do(map[string]any{"op": "resume"})
	require.Len(t, st.Nodes, 5)

	isLeader := func(e raft.Event) bool { return e.Kind == raft.EvRole && e.Role == raft.Leader }
	first := c.waitEvent(isLeader)
	c.do(map[string]any{"op": "crash", "node": first.Node})
	second := c.waitEvent(isLeader)
	require.NotEqual(t, first.Node, second.Node, "the crashed leader cannot lead again while down")
	require.Greater(t, second.Term, first.Term, "a new leader is elected in a higher term")
}

func TestPauseStepSeek(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 5, Speed: 2, Paused: true}, "")
	c := ts.dial("")
	c.next("state")
	// Paused until this viewer has its state: the first election is then
	// in its events, not already over when it connects.
	c.do(map[string]any{"op": "resume"})
	c.waitEvent(func(e raft.Event) bool { return e.Kind == raft.EvRole && e.Role == raft.Leader })

	// Pause, and take the state: the reference point for the seek.
	c.do(map[string]any{"op": "pause"})
	c.send(map[string]any{"op": "state"})
	before := c.state()
	require.True(t, before.Paused)

	// Step: exactly one event, the one right after the paused state. Had
	// anything run while paused, the event's number would have jumped.
	c.do(map[string]any{"op": "step"})
	stepped := c.events()
	require.Len(t, stepped, 1, "one step, one event")
	require.Equal(t, before.Seq+1, stepped[0].Seq)
	c.do(map[string]any{"op": "step", "count": 5})
	five := c.events()
	require.Len(t, five, 5)
	require.Equal(t, before.Seq+2, five[0].Seq)

	// Let it run on, with a command, then seek back to the paused point.
	c.do(map[string]any{"op": "resume"})
	c.do(map[string]any{"op": "propose", "command": "x=1"})
	c.waitEvent(func(e raft.Event) bool { return e.Seq > before.Seq+200 })
	c.do(map[string]any{"op": "seek", "t": int64(before.Time)})
	after := c.state()
	require.Equal(t, "seek", after.Reason)
	require.False(t, after.Live, "after seeking back the session is in the past")
	require.Greater(t, after.Horizon.Seq, before.Seq+200)
	require.Equal(t, before.Time, after.Time)
	require.Equal(t, before.Seq, after.Seq)
	require.Equal(t, before.Nodes, after.Nodes, "the state at a time is the state first seen then")
	require.Equal(t, before.InFlight, after.InFlight)
	require.Equal(t, before.Groups, after.Groups)

	// Seek to an event: the state just after it, as events describe it.
	c.do(map[string]any{"op": "seek", "seq": before.Seq})
	atEvent := c.state()
	require.Equal(t, before.Seq, atEvent.Seq)
	require.LessOrEqual(t, atEvent.Time, before.Time)
	for i := range before.Nodes {
		require.Equal(t, before.Nodes[i].NodeView, atEvent.Nodes[i].NodeView)
	}

	// Back to live: the proposal made after the paused point is there again.
	c.do(map[string]any{"op": "live"})
	live := c.state()
	require.True(t, live.Live)
	found := false
	for _, n := range live.Nodes {
		for _, e := range n.Log {
			found = found || string(e.Command) == "x=1"
		}
	}
	require.True(t, found, "the recorded proposal is replayed on the way back to live")
}

func TestCommandFromThePastBranches(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 6, Speed: 5, Paused: true}, "")
	c := ts.dial("")
	c.next("state")
	// Paused until this viewer has its state: the first election is then
	// in its events, not already over when it connects.
	c.do(map[string]any{"op": "resume"})
	c.waitEvent(func(e raft.Event) bool { return e.Kind == raft.EvRole && e.Role == raft.Leader })
	c.do(map[string]any{"op": "pause"})
	c.send(map[string]any{"op": "state"})
	mid := c.state()
	c.do(map[string]any{"op": "resume"})
	c.do(map[string]any{"op": "propose", "command": "later"})
	c.waitEvent(func(e raft.Event) bool { return e.Seq > mid.Seq+100 })
	c.do(map[string]any{"op": "seek", "seq": mid.Seq})
	c.state()

	// A command in the past starts a new course: the recorded future is gone.
	c.do(map[string]any{"op": "crash", "node": 1})
	var br struct{ Seq uint64 }
	c.next("branch").decode(t, &br)
	require.Equal(t, mid.Seq, br.Seq)
	c.send(map[string]any{"op": "state"})
	st := c.state()
	require.True(t, st.Live)
	require.False(t, st.Nodes[0].Up)
	for _, n := range st.Nodes {
		for _, e := range n.Log {
			require.NotEqual(t, "later", string(e.Command), "the proposal of the forgotten future must not come back")
		}
	}
}

func TestBadInputGetsAnError(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 1, Speed: 1}, "")
	c := ts.dial("")
	c.next("state")
	raw := func(s string, want string) {
		t.Helper()
		require.NoError(t, c.conn.WriteMessage(websocket.TextMessage, []byte(s)))
		var e errorFrame
		c.next("error").decode(t, &e)
		require.Contains(t, e.Error, want)
	}
	raw(`{"op":`, "malformed command")
	raw(`[1,2]`, "malformed command")
	raw(`{"op":"explode"}`, `unknown command "explode"`)
	raw(`{"op":"crash","node":2,"bogus":1}`, `unknown field "bogus"`)
	c.refused(map[string]any{"op": "crash", "node": 9}, "there is no node n9: the nodes are n1 to n5")
	c.refused(map[string]any{"op": "crash"}, "say which node")
	c.refused(map[string]any{"op": "speed", "value": 1e9}, "out of range")
	c.refused(map[string]any{"op": "network", "knob": "loss", "value": 2}, "lab: Loss (2) must be a probability between 0 and 1")
	c.refused(map[string]any{"op": "network", "knob": "gravity", "value": 1}, `unknown network setting "gravity" (want loss,`)
	c.refused(map[string]any{"op": "network", "knob": "max-latency-ms", "value": 1e9}, "out of range: a delay is 0 to 60000 ms")
	c.refused(map[string]any{"op": "network", "knob": "min-latency-ms", "value": 50}, "MaxLatency (15ms) must be at least MinLatency (50ms)")
	c.refused(map[string]any{"op": "partition", "groups": [][]int{{1, 2}, {2, 3}}}, "partition puts n2 in two groups")
	c.refused(map[string]any{"op": "restart", "node": 2}, "n2 is running")
	c.refused(map[string]any{"op": "propose", "command": strings.Repeat("x", 2000)}, "at most 1024")
	c.refused(map[string]any{"op": "reset", "nodes": 99}, "out of range")
	c.refused(map[string]any{"op": "seek"}, `give either "t"`)
	c.refused(map[string]any{"op": "scenario", "name": "nope"}, "unknown scenario")
	// A frame over the size limit ends the connection (gorilla's read limit).
	// The session goes on for everyone else.
	d := ts.dial("")
	d.next("state")
	require.NoError(t, d.conn.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), MaxCommandBytes+1)))
	c.do(map[string]any{"op": "pause"})
	c.do(map[string]any{"op": "step"})
	require.Len(t, c.events(), 1)
}

func TestWatchOnlyWithoutToken(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 1, Speed: 1}, "s3cret")
	watcher := ts.dial("")
	var hello helloFrame
	watcher.next("hello").decode(t, &hello)
	require.False(t, hello.Control)
	watcher.refused(map[string]any{"op": "crash", "node": 1}, "watch-only")
	watcher.send(map[string]any{"op": "state"})
	watcher.next("state")

	wrong := ts.dial("?token=guess")
	wrong.refused(map[string]any{"op": "pause"}, "watch-only")

	owner := ts.dial("?token=s3cret")
	owner.next("hello").decode(t, &hello)
	require.True(t, hello.Control)
	owner.do(map[string]any{"op": "crash", "node": 1})
}

func TestCrossOriginRefused(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 1}, "")
	url := "ws" + strings.TrimPrefix(ts.srv.URL, "http") + "/ws"
	_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"http://evil.example"}})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestTraceDownloadReplays(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 9, Speed: 5, Paused: true}, "")
	c := ts.dial("")
	c.next("state")
	// Paused until this viewer has its state: the first election is then
	// in its events, not already over when it connects.
	c.do(map[string]any{"op": "resume"})
	leader := c.waitEvent(func(e raft.Event) bool { return e.Kind == raft.EvRole && e.Role == raft.Leader })
	c.do(map[string]any{"op": "crash", "node": leader.Node})
	c.waitEvent(func(e raft.Event) bool { return e.Kind == raft.EvRole && e.Role == raft.Leader })
	c.do(map[string]any{"op": "propose", "command": "hello"})
	c.waitEvent(func(e raft.Event) bool { return e.Kind == raft.EvCommit })

	resp, err := http.Get(ts.srv.URL + "/trace.jsonl")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tr, err := lab.ReadTrace(resp.Body, "download")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(tr.Commands()), 2)
	require.NoError(t, lab.Verify(tr, solutions.New), "a downloaded run replays exactly")
}

func TestReplaySessionShowsWholeRecording(t *testing.T) {
	// Record a run with a crash, then open it as a replay session.
	var buf bytes.Buffer
	opts := lab.Options{Nodes: 3, Seed: 4, New: solutions.New, Impl: "solutions"}
	tw, err := lab.NewTraceWriter(&buf, lab.HeaderFor(opts))
	require.NoError(t, err)
	opts.Sink = tw.Write
	sim, err := lab.New(opts)
	require.NoError(t, err)
	sim.RunFor(time.Second)
	require.NoError(t, sim.Crash(leaderOf(sim)))
	sim.RunFor(time.Second)
	require.NoError(t, tw.Flush())
	tr, err := lab.ReadTrace(&buf, "rec")
	require.NoError(t, err)

	ts := startServer(t, SessionOptions{Recording: tr, Impl: reference}, "")
	c := ts.dial("")
	st := c.state()
	require.True(t, st.Paused)
	require.Zero(t, st.Seq)
	require.Equal(t, tr.Events[len(tr.Events)-1].Seq, st.Horizon.Seq, "the timeline covers the whole recording")
	var history []raft.Event
	require.NoError(t, json.Unmarshal(st.History, &history))
	crashes := 0
	for _, e := range history {
		if e.Kind == raft.EvCrash {
			crashes++
		}
	}
	require.Equal(t, 1, crashes)
	c.do(map[string]any{"op": "seek", "seq": st.Horizon.Seq})
	end := c.state()
	last := tr.Events[len(tr.Events)-1]
	require.Equal(t, last.Time, end.Time, "playing the recording to its end reaches its last event")
	require.Equal(t, last.Seq, end.Seq)
}

// TestSlowViewers: viewers watch one session while one more never reads.
// What must hold at any machine speed: every viewer gets the events in
// order, and any event it misses is made up for by a fresh state (a resync)
// — never a silent gap; the one that never reads has its queue dropped
// instead of holding the session up; and every viewer gets to the end.
// (How many resyncs a reader needs depends on how fast it reads, so that is
// not asserted; the heap figure is BenchmarkSlowViewers'.)
func TestSlowViewers(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 26 connections")
	}
	viewers := 25
	if raceEnabled {
		viewers = 8
	}
	res := watchWithSlowViewer(t, viewers, 20000)
	require.Positive(t, res.stuckDropped, "the viewer that never reads should have had its queue dropped")
	for i, v := range res.viewers {
		require.Zero(t, v.gaps, "viewer %d missed events without being sent a fresh state", i)
		require.Zero(t, v.backwards, "viewer %d saw events out of order", i)
		require.GreaterOrEqual(t, v.last, res.target, "viewer %d stopped early", i)
	}
}

// BenchmarkSlowViewers: 100 viewers and one that never reads; reports the
// heap's growth while they watch 40,000 events, and the resyncs the readers
// needed (0 on an idle machine). The stuck viewer's queue is bounded, so
// the growth must not scale with the stream.
func BenchmarkSlowViewers(b *testing.B) {
	for range b.N {
		res := watchWithSlowViewer(b, 100, 40000)
		b.ReportMetric(float64(res.heapGrowth)/(1<<20), "heap-MB")
		resyncs := 0
		for _, v := range res.viewers {
			resyncs += v.resyncs
		}
		b.ReportMetric(float64(resyncs), "resyncs")
	}
}

type viewerResult struct {
	last                     uint64 // the last event number seen
	gaps, backwards, resyncs int
}

type slowViewersResult struct {
	viewers      []viewerResult
	target       uint64
	stuckDropped int64
	heapGrowth   int64
}

// watchWithSlowViewer has n viewers read events until each has seen event
// number (its first state's) + want, while one more viewer never reads.
func watchWithSlowViewer(tb testing.TB, n, want int) slowViewersResult {
	tb.Helper()
	ts := startServer(tb, SessionOptions{Seed: 2, Speed: 50, Paused: true}, "")
	// A viewer that never reads, with a small socket buffer so that it
	// backs up soon.
	stuckDialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetReadBuffer(4096)
		}
		return conn, err
	}}
	stuck, _, err := stuckDialer.Dial("ws"+strings.TrimPrefix(ts.srv.URL, "http")+"/ws", http.Header{"Origin": {ts.srv.URL}})
	require.NoError(tb, err)
	defer stuck.Close()

	conns := make([]*websocket.Conn, n)
	res := slowViewersResult{viewers: make([]viewerResult, n)}
	for i := range conns {
		c := ts.dialRaw()
		conns[i] = c
		for started := false; !started; {
			_, data, err := c.ReadMessage()
			require.NoError(tb, err)
			res.viewers[i].last, started = stateSeq(tb, data)
		}
	}
	res.target = res.viewers[0].last + uint64(want)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	require.NoError(tb, conns[0].WriteMessage(websocket.TextMessage, []byte(`{"op":"resume"}`)))

	// Each viewer checks each event number against the one before it; a
	// state frame (a resync) moves it on to the state's number.
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := &res.viewers[i]
			for v.last < res.target {
				_, data, err := conn.ReadMessage()
				if err != nil {
					return
				}
				if seq, ok := stateSeq(tb, data); ok {
					v.resyncs++
					v.last = seq
					continue
				}
				if !bytes.HasPrefix(data, []byte(`{"type":"events"`)) {
					continue
				}
				for _, seq := range scanSeqs(data) {
					switch {
					case seq <= v.last:
						v.backwards++
					case seq > v.last+1:
						v.gaps++
					}
					v.last = seq
				}
			}
		}()
	}
	wg.Wait()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.heapGrowth = int64(after.HeapInuse) - int64(before.HeapInuse)
	done := make(chan bool)
	ts.session.queries <- func() {
		for v := range ts.session.fan.viewers {
			res.stuckDropped = max(res.stuckDropped, v.resyncCount.Load())
		}
		close(done)
	}
	<-done
	return res
}

// stateSeq reads the seq of a state frame; ok is false for other frames.
func stateSeq(tb testing.TB, data []byte) (uint64, bool) {
	if !bytes.HasPrefix(data, []byte(`{"type":"state"`)) {
		return 0, false
	}
	var st stateFrame
	require.NoError(tb, json.Unmarshal(data, &st))
	return st.Seq, true
}

// scanSeqs reads the event numbers of an events frame without decoding it:
// every event object starts with {"seq":N.
func scanSeqs(frame []byte) []uint64 {
	var out []uint64
	key := []byte(`{"seq":`)
	for {
		i := bytes.Index(frame, key)
		if i < 0 {
			return out
		}
		frame = frame[i+len(key):]
		var n uint64
		for len(frame) > 0 && frame[0] >= '0' && frame[0] <= '9' {
			n = n*10 + uint64(frame[0]-'0')
			frame = frame[1:]
		}
		out = append(out, n)
	}
}

// BenchmarkStreamToOneViewer measures events per second of wall time that
// one viewer receives from a session running as fast as it can.
func BenchmarkStreamToOneViewer(b *testing.B) {
	ts := startServer(b, SessionOptions{Seed: 1, Speed: MaxSpeed, Nodes: 5}, "")
	c := ts.dial("")
	c.next("state")
	b.ResetTimer()
	got := 0
	for got < b.N {
		f := c.next("events")
		got += len(scanSeqs(f.raw))
	}
	b.StopTimer()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "events/s")
}

func leaderOf(sim *lab.Sim) raft.NodeID {
	id, _ := sim.View().Leader()
	return id
}

// TestProposeGoesToTheLeaderOfTheHighestTerm is the reproduction from the
// "who leads" issue: seed 1, 5 servers, the leader cut off. Two servers then
// believe they lead — the cut-off one in its old term, the new one in a higher
// term — and a proposal to "the leader" must go to the new one, where it can
// commit, not to the stale one, where it never can.
func TestProposeGoesToTheLeaderOfTheHighestTerm(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 1, Speed: 5}, "")
	c := ts.dial("")
	c.next("state")
	isLeader := func(e raft.Event) bool { return e.Kind == raft.EvRole && e.Role == raft.Leader }
	old := c.waitEvent(isLeader)
	c.do(map[string]any{"op": "isolate", "node": old.Node})
	second := c.waitEvent(isLeader)
	require.NotEqual(t, old.Node, second.Node)
	c.do(map[string]any{"op": "pause"})
	c.send(map[string]any{"op": "state"})
	st := c.state()
	stale := st.Nodes[old.Node-1]
	require.True(t, stale.Up && stale.Role == raft.Leader, "the cut-off server still believes it leads term %d", old.Term)

	f := c.answer(c.send(map[string]any{"op": "propose", "command": "to-the-leader"}))
	require.Equal(t, "ack", f.Type, "%s", f.raw)
	require.Contains(t, string(f.raw), fmt.Sprintf("n%d took", second.Node),
		"the proposal went to %v of term %d, not to the stale n%d of term %d", second.Node, second.Term, old.Node, old.Term)
}
