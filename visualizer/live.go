package visualizer

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/gorilla/websocket"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// LiveCluster is a cluster of real server processes that the page controls
// (raftviz cluster). Each method carries out one control and says what it did.
type LiveCluster interface {
	Crash(id raft.NodeID) (string, error)   // kill -9 the server's process
	Restart(id raft.NodeID) (string, error) // start it again from its folder
	// Partition cuts the network into groups (nil heals it), in the
	// transports of the processes.
	Partition(groups [][]raft.NodeID) (string, error)
	// Propose sends a client request (to the leader, or to node if not 0).
	Propose(ctx context.Context, node raft.NodeID, command string) (string, error)
}

// LiveOptions configure a Live session.
type LiveOptions struct {
	Impl    string
	Config  raft.Config // the servers' timings and peers
	Cluster LiveCluster
	// Lag is how long an event is held so that events of other processes
	// from the same moment can be placed before it (default 150ms).
	Lag time.Duration
}

// Live shows a cluster of real processes on the page: it merges their
// event streams (Add) into one timeline in wall time, folds it into a
// lab.View as the simulator's session does, and speaks the page's protocol
// (PROTOCOL.md). What cannot apply to real time — seek, step, speed,
// scenarios, network knobs — is refused with a sentence saying so; pause
// stops the page's timeline, not the processes.
type Live struct {
	opts  LiveOptions
	start time.Time

	mu       sync.Mutex
	merge    *merger
	view     *lab.View
	history  []raft.Event
	paused   bool
	pausedAt time.Duration // the timeline's time when it was paused
	viewers  map[*liveViewer]bool
	flights  liveFlights
	sent     sentMessages
}

// liveHistory bounds the timeline kept for new viewers.
const liveHistory = 50_000

// NewLive makes a live session; run it with Run.
func NewLive(opts LiveOptions) *Live {
	if opts.Lag <= 0 {
		opts.Lag = 150 * time.Millisecond
	}
	now := time.Now()
	view := lab.NewView(len(opts.Config.Peers), DefaultNetwork())
	return &Live{opts: opts, start: now, merge: newMerger(now, opts.Lag), view: view, viewers: map[*liveViewer]bool{}}
}

// Add queues an event of the process of server src.
func (l *Live) Add(src raft.NodeID, e WallEvent) {
	switch e.Event.Kind {
	case raft.EvPartition, raft.EvRestart:
		// Partitions and restarts are reported by the cluster as a whole
		// (Note): a process's own start comes before anyone listens to it.
		return
	case raft.EvSend, raft.EvDeliver, raft.EvDrop:
		if e.Event.Msg == nil {
			return
		}
	}
	e.Event.Node = src
	l.mu.Lock()
	defer l.mu.Unlock()
	l.merge.push(int(src), e)
}

// Note adds an event of the cluster itself (a crash, a partition), now.
func (l *Live) Note(e raft.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.merge.push(0, WallEvent{Wall: time.Now().UnixNano(), Event: e})
}

// Run merges and sends events until ctx ends.
func (l *Live) Run(ctx context.Context) {
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	status := 0
	for {
		select {
		case <-ctx.Done():
			l.mu.Lock()
			for v := range l.viewers {
				v.close()
			}
			l.mu.Unlock()
			return
		case now := <-tick.C:
			l.mu.Lock()
			evs := l.flights.match(l.merge.pop(now), now)
			for i := range evs {
				l.sent.note(&evs[i])
				l.view.Fold(&evs[i])
				if timelineKinds[evs[i].Kind] {
					l.history = append(l.history, evs[i])
				}
			}
			if over := len(l.history) - liveHistory; over > 0 {
				l.history = slices.Delete(l.history, 0, over+liveHistory/10)
			}
			if len(evs) > 0 && !l.paused {
				l.broadcast(l.eventsFrame(evs))
			}
			if status++; status%3 == 0 {
				l.broadcast(l.statusFrame())
			}
			l.mu.Unlock()
		}
	}
}

func (l *Live) eventsFrame(evs []raft.Event) []byte {
	return eventsFrame(evs, &l.sent, leaderMarkOf(l.view))
}

// now is the timeline's present: the wall time up to which the merged
// events are placed (Lag behind the wall clock), or the time of the pause.
func (l *Live) now() time.Duration {
	if l.paused {
		return l.pausedAt
	}
	return max(0, time.Since(l.start)-l.opts.Lag)
}

func (l *Live) clock() clock {
	t := l.now()
	return clock{Time: t, Seq: l.view.Seq, Paused: l.paused, Speed: 1, Live: true, Horizon: mark{Time: t, Seq: l.view.Seq}}
}

func (l *Live) timers() timers {
	return timers{ElectionTimeout: l.opts.Config.ElectionTicks()}
}

func (l *Live) stateFrame(reason string) []byte {
	cfg := l.opts.Config
	cfg.ID, cfg.Peers = 0, nil
	nodes := make([]nodeState, len(l.view.Nodes))
	for i, n := range l.view.Nodes {
		// The newest logWindow entries, as the simulator's state frames.
		nodes[i] = windowState(n, l.timers())
	}
	return encode(stateFrame{
		Type: "state", Reason: reason, Impl: l.opts.Impl, clock: l.clock(), Config: cfg,
		Network: l.view.Network, Groups: l.view.Groups, Nodes: nodes, InFlight: []inFlight{},
		Violations: []lab.Violation{}, History: eventsJSON(l.history), Leader: leaderMarkOf(l.view),
	})
}

func (l *Live) statusFrame() []byte {
	f := statusFrame{Type: "status", clock: l.clock(), Leader: leaderMarkOf(l.view)}
	for _, n := range l.view.Nodes {
		f.Nodes = append(f.Nodes, nodeTimer{ID: n.ID, LastApplied: n.Applied, timers: l.timers()})
	}
	return encode(f)
}

// broadcast queues frame for every viewer; called with l.mu held.
func (l *Live) broadcast(frame []byte) {
	for v := range l.viewers {
		v.queue(frame)
	}
}

// errRealTime is the answer to a control that only a simulation has.
func errRealTime(what string) error {
	return fmt.Errorf("%s is unavailable in real time: these are real processes on the wall clock (run raftviz without cluster for a simulated cluster you can %s)", what, what)
}

// realTimeOps are the commands a live session refuses, each with the
// words of its refusal (errRealTime); "message" stands for hold, release,
// discard and duplicate.
var realTimeOps = []struct{ op, what string }{
	{"step", "stepping one event"},
	{"seek", "going back in time"},
	{"speed", "changing the speed"},
	{"timeout", "forcing a timeout"},
	{"network", "changing the simulated network"},
	{"reset", "a reset with a seed"},
	{"scenario", "playing a scenario"},
	{"message", "controlling one message"},
}

// liveHello is the hello of a live session: the simulator's, and RealTime,
// which tells the page that it shows real processes, and why each control
// of a simulation is unavailable (the server's own refusal, word for word).
type liveHello struct {
	helloFrame
	RealTime *realTime `json:"realTime"`
}

type realTime struct {
	// Unavailable: for each refused command, the error it gets.
	Unavailable map[string]string `json:"unavailable"`
	// Pause says what pause does here.
	Pause string `json:"pause"`
	// Messages says how the messages drawn are chosen.
	Messages string `json:"messages"`
}

const livePauseText = "the timeline is paused; the servers run on"

func realTimeInfo() *realTime {
	rt := &realTime{Unavailable: map[string]string{}, Pause: livePauseText,
		Messages: "real servers exchange tens of messages a second: each server reports, of each kind of message on each link, the first of every 250 ms, and the page draws those on their way (slowed to be seen: a message on one machine takes about a millisecond)"}
	for _, o := range realTimeOps {
		rt.Unavailable[o.op] = errRealTime(o.what).Error()
	}
	return rt
}

// do carries out one command of the page.
func (l *Live) do(ctx context.Context, c Command) (string, error) {
	cl := l.opts.Cluster
	n := len(l.opts.Config.Peers)
	checkNode := func() error {
		if c.Node < 1 || int(c.Node) > n {
			return fmt.Errorf("there is no server %v: the servers are n1 to n%d", c.Node, n)
		}
		return nil
	}
	switch c.Op {
	case "crash", "restart", "isolate":
		if err := checkNode(); err != nil {
			return "", err
		}
	}
	switch c.Op {
	case "pause", "resume":
		l.mu.Lock()
		if c.Op == "pause" && !l.paused {
			l.pausedAt = l.now()
		}
		l.paused = c.Op == "pause"
		if !l.paused {
			for v := range l.viewers {
				v.queue(l.stateFrame("live"))
			}
		}
		l.mu.Unlock()
		if c.Op == "pause" {
			return livePauseText, nil
		}
		return "", nil
	case "crash":
		return cl.Crash(c.Node)
	case "restart":
		return cl.Restart(c.Node)
	case "isolate":
		var rest []raft.NodeID
		for id := raft.NodeID(1); int(id) <= n; id++ {
			if id != c.Node {
				rest = append(rest, id)
			}
		}
		return cl.Partition([][]raft.NodeID{{c.Node}, rest})
	case "partition":
		return cl.Partition(c.Groups)
	case "heal":
		return cl.Partition(nil)
	case "propose":
		return cl.Propose(ctx, c.Node, c.Text)
	case "seek", "live":
		return "", refusedInRealTime("seek")
	case "step", "speed", "timeout", "network", "reset", "scenario":
		return "", refusedInRealTime(c.Op)
	default:
		return "", refusedInRealTime("message")
	}
}

// refusedInRealTime is the refusal of command op (one of realTimeOps).
func refusedInRealTime(op string) error {
	for _, o := range realTimeOps {
		if o.op == op {
			return errRealTime(o.what)
		}
	}
	return errRealTime("this command")
}

// liveLogFrame answers a log command from the live session's view, as
// Session.logFrame does from the simulator's.
func liveLogFrame(view *lab.View, c Command) []byte {
	n := view.Node(c.Node)
	if n == nil {
		return errorFrameFor(c, fmt.Errorf("there is no server n%d: the servers are n1 to n%d", c.Node, len(view.Nodes)))
	}
	count := c.Count
	if count == 0 {
		count = MaxLogEntries
	}
	return encode(logFrameOf(c, view.Seq, n, count))
}

// NewLiveHandler returns the routes of a live session: the same page,
// /ws speaking the same protocol, and /healthz.
func NewLiveHandler(l *Live, static fs.FS) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(securityHeaders)
	r.Get("/", func(w http.ResponseWriter, req *http.Request) {
		http.ServeFileFS(w, req, static, "index.html")
	})
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(static)))
	upgrader := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 64 << 10}
	r.Get("/ws", func(w http.ResponseWriter, req *http.Request) {
		conn, err := upgrader.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		l.serveViewer(req.Context(), conn)
	})
	r.Get("/healthz", func(w http.ResponseWriter, req *http.Request) { fmt.Fprintln(w, "ok") })
	return r
}

// liveViewer is one page watching a live session: a reader of commands and
// a writer of frames with a bounded queue; a viewer that cannot keep up is
// disconnected, never waited for.
type liveViewer struct {
	conn   *websocket.Conn
	send   chan []byte
	closed chan struct{}
	once   sync.Once
}

func (v *liveViewer) close() {
	v.once.Do(func() {
		close(v.closed)
		v.conn.Close()
	})
}

func (v *liveViewer) queue(frame []byte) {
	select {
	case v.send <- frame:
	default:
		v.close() // too slow: it reconnects and gets a fresh state
	}
}

func (l *Live) serveViewer(ctx context.Context, conn *websocket.Conn) {
	v := &liveViewer{conn: conn, send: make(chan []byte, sendQueue), closed: make(chan struct{})}
	l.mu.Lock()
	v.queue(encode(liveHello{helloFrame: helloFrame{Type: "hello", Version: ProtocolVersion, Impl: l.opts.Impl, Control: true, Scenarios: []scenarioInfo{},
		Warning: "real processes: seek, step, speed and scenarios are unavailable in real time; pause stops the timeline, not the servers"},
		RealTime: realTimeInfo()}))
	v.queue(l.stateFrame("hello"))
	l.viewers[v] = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.viewers, v)
		l.mu.Unlock()
		v.close()
	}()
	go v.writeLoop()
	conn.SetReadLimit(MaxCommandBytes)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		cmd, err := DecodeCommand(data)
		if err == nil && (cmd.Op == "state" || cmd.Op == "log") {
			l.mu.Lock()
			if cmd.Op == "state" {
				v.queue(l.stateFrame("asked"))
			} else {
				v.queue(liveLogFrame(l.view, cmd))
			}
			l.mu.Unlock()
			continue
		}
		if err == nil {
			var text string
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			text, err = l.do(cctx, cmd)
			cancel()
			if err == nil {
				v.queue(ackFrameFor(cmd, text))
				continue
			}
		}
		v.queue(errorFrameFor(cmd, err))
	}
}

func (v *liveViewer) writeLoop() {
	defer v.close()
	writeFrames(v.conn, v.send, v.closed, nil, nil)
}
