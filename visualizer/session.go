package visualizer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade"
	"github.com/raftlab/raftlab/raft"
)

// SessionOptions configure a session: the cluster it simulates and how fast.
type SessionOptions struct {
	Impl  lab.Implementation
	Nodes int
	Seed  uint64
	// Config and Network are the cluster's; zero values mean raft.DefaultConfig
	// and DefaultNetwork (with latencies long enough to watch).
	Config  raft.Config
	Network lab.Network
	// Speed is virtual seconds per wall second (default DefaultSpeed).
	Speed  float64
	Paused bool
	// Recording, if set, is a trace to replay: its header sets up the
	// cluster and its commands are applied again at their steps. The session
	// starts paused at time 0, and the timeline shows the whole recording.
	Recording *lab.Trace
	// FrameInterval is how often the session advances and sends events (default 33ms).
	FrameInterval time.Duration
	// MaxEventsPerFrame bounds the work of one frame; at high speeds the
	// cluster then runs slower than asked (default 5000).
	MaxEventsPerFrame int
	// HistoryLimit bounds the timeline events kept for new viewers (default 50000).
	HistoryLimit int
}

// DefaultSpeed runs the cluster at 1/50 of real time: election timeouts of
// 7.5–15s and messages that take a quarter to three quarters of a second,
// easy to follow on a projector.
const DefaultSpeed = 0.02

// DefaultNetwork is the network of a session: the lab's default with
// latencies of 5–15ms, so that messages are seen to travel.
func DefaultNetwork() lab.Network {
	n := lab.DefaultNetwork()
	n.MinLatency, n.MaxLatency = 5*time.Millisecond, 15*time.Millisecond
	return n
}

func (o *SessionOptions) fill() {
	if o.Nodes == 0 {
		o.Nodes = 5
	}
	if o.Speed == 0 {
		o.Speed = DefaultSpeed
	}
	if o.Network == (lab.Network{}) {
		o.Network = DefaultNetwork()
	}
	if o.FrameInterval == 0 {
		o.FrameInterval = 33 * time.Millisecond
	}
	if o.MaxEventsPerFrame == 0 {
		o.MaxEventsPerFrame = 5000
	}
	if o.HistoryLimit == 0 {
		o.HistoryLimit = 50000
	}
}

// Session is one simulated cluster with its controls, its recording and the
// viewers watching it. One goroutine (Run) owns the cluster; viewers talk to
// it through channels, and it never waits for a viewer.
type Session struct {
	opts     SessionOptions
	requests chan request
	joins    chan *viewer
	leaves   chan *viewer
	resyncs  chan *viewer
	queries  chan func()
	done     chan struct{}
	runOnce  sync.Once

	// Owned by the Run goroutine.
	simOpts  lab.Options
	r        *lab.Replayer
	paused   bool
	speed    float64
	batch    []raft.Event
	history  []raft.Event // timeline events up to the horizon, oldest dropped past HistoryLimit
	horizon  mark
	viewers  map[*viewer]bool
	lastWall time.Time
	scenario *scenarioRun
	// quiet: events are not batched for viewers (while seeking).
	quiet bool
	sent  sentMessages
}

// request is a command from a viewer.
type request struct {
	v   *viewer
	cmd Command
}

// timelineKinds are the events kept for the timeline of new viewers.
var timelineKinds = map[raft.EventKind]bool{
	raft.EvTerm: true, raft.EvRole: true, raft.EvVote: true, raft.EvCommit: true,
	raft.EvCrash: true, raft.EvRestart: true, raft.EvTimeout: true, raft.EvPartition: true,
	raft.EvNetwork: true, raft.EvPropose: true, raft.EvViolation: true, raft.EvNote: true,
}

// NewSession sets up a session; Run starts it.
func NewSession(opts SessionOptions) (*Session, error) {
	opts.fill()
	s := &Session{
		opts:     opts,
		requests: make(chan request, 64),
		joins:    make(chan *viewer),
		leaves:   make(chan *viewer, 16),
		resyncs:  make(chan *viewer, 16),
		queries:  make(chan func()),
		done:     make(chan struct{}),
		viewers:  map[*viewer]bool{},
		paused:   opts.Paused,
		speed:    opts.Speed,
	}
	simOpts := lab.Options{Nodes: opts.Nodes, Seed: opts.Seed, New: opts.Impl.New, Impl: opts.Impl.Name,
		Config: opts.Config, Network: opts.Network}
	var cmds []raft.Event
	if rec := opts.Recording; rec != nil {
		simOpts = rec.Header.Options()
		simOpts.New, simOpts.Impl = opts.Impl.New, opts.Impl.Name
		cmds = rec.Commands()
		s.paused = true
	}
	if err := s.start(simOpts, cmds); err != nil {
		return nil, err
	}
	if rec := opts.Recording; rec != nil && len(rec.Events) > 0 {
		// Run the whole recording once to know its timeline; then go back to 0.
		last := rec.Events[len(rec.Events)-1].Seq
		s.quiet = true
		if err := s.r.RunUntilSeq(last); err != nil {
			return nil, err
		}
		s.quiet = false
		s.horizon = mark{Time: s.r.Sim.Now(), Seq: s.r.Sim.Seq()}
		if err := s.start(s.simOpts, cmds); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// start builds a fresh cluster from its seed that will replay cmds.
func (s *Session) start(opts lab.Options, cmds []raft.Event) error {
	opts.Sink = s.sink
	r, err := lab.NewReplayer(opts, cmds)
	if err != nil {
		return err
	}
	s.simOpts, s.r = opts, r
	s.batch = s.batch[:0]
	return nil
}

// sink receives every event of the cluster.
func (s *Session) sink(e *raft.Event) {
	s.sent.note(e)
	if !s.quiet {
		s.batch = append(s.batch, *e)
	}
	if e.Seq > s.horizon.Seq {
		s.horizon = mark{Time: e.Time, Seq: e.Seq}
		if timelineKinds[e.Kind] {
			s.history = append(s.history, *e)
			if over := len(s.history) - s.opts.HistoryLimit; over > 0 {
				s.history = slices.Delete(s.history, 0, over+s.opts.HistoryLimit/10)
			}
		}
	}
}

// live reports whether the session is at the end of its recording.
func (s *Session) live() bool { return s.r.Sim.Seq() >= s.horizon.Seq && s.r.Future() == 0 }

// Done is closed when Run returns.
func (s *Session) Done() <-chan struct{} { return s.done }

// Run runs the session until ctx is done.
func (s *Session) Run(ctx context.Context) {
	s.runOnce.Do(func() { s.run(ctx) })
}

func (s *Session) run(ctx context.Context) {
	defer close(s.done)
	defer func() {
		for v := range s.viewers {
			v.close()
		}
	}()
	tick := time.NewTicker(s.opts.FrameInterval)
	defer tick.Stop()
	s.lastWall = time.Now()
	lastStatus := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case v := <-s.joins:
			s.viewers[v] = true
			s.send(v, encode(s.hello(v)))
			s.send(v, s.stateFrame("hello"))
		case v := <-s.leaves:
			delete(s.viewers, v)
		case v := <-s.resyncs:
			if s.viewers[v] && v.stale.Load() {
				v.stale.Store(false)
				s.send(v, s.stateFrame("resync"))
			}
		case q := <-s.queries:
			q()
		case req := <-s.requests:
			s.handle(req)
			s.flush()
			s.broadcast(s.statusFrame())
		case now := <-tick.C:
			s.frame(now)
			if now.Sub(lastStatus) >= 100*time.Millisecond {
				lastStatus = now
				s.broadcast(s.statusFrame())
			}
		}
	}
}

// frame advances the cluster by the wall time since the last frame, at the
// session's speed or as a scenario paces it, and moves the scenario on.
func (s *Session) frame(now time.Time) {
	dt := now.Sub(s.lastWall)
	s.lastWall = now
	if !s.paused {
		speed, hold := s.speed, false
		if s.scenario != nil {
			speed, hold = s.scenario.pace(dt, s.speed)
		}
		if !hold {
			s.advance(time.Duration(float64(dt) * speed))
		}
	}
	s.runScenario()
	s.flush()
}

// advance runs the cluster for d of virtual time, within the frame's budget.
func (s *Session) advance(d time.Duration) {
	target := s.r.Sim.Now() + d
	start := time.Now()
	for n := 0; ; n++ {
		ok, err := s.r.Step(target)
		if err != nil {
			s.fail(err)
			return
		}
		if !ok {
			break
		}
		if len(s.batch) >= s.opts.MaxEventsPerFrame || (n%256 == 255 && time.Since(start) > s.opts.FrameInterval/2) {
			return // too much for one frame: virtual time falls behind
		}
	}
	if err := s.r.RunUntil(target); err != nil {
		s.fail(err)
	}
}

// fail reports an error of the session itself and pauses it.
func (s *Session) fail(err error) {
	s.paused = true
	s.broadcast(encode(errorFrame{Type: "error", Error: "the session stopped: " + err.Error()}))
}

// flush sends the events gathered since the last flush to every viewer.
func (s *Session) flush() {
	if len(s.batch) == 0 {
		return
	}
	frame := eventsFrame(s.batch, &s.sent, leaderMarkOf(s.r.Sim.View()))
	s.batch = s.batch[:0]
	s.broadcast(frame)
}

func (s *Session) broadcast(frame []byte) {
	for v := range s.viewers {
		s.send(v, frame)
	}
}

// send queues a frame for a viewer without ever waiting. A viewer whose
// queue is full has its queue emptied and is marked stale: it gets no more
// frames until it has written what it had and asks for a fresh state.
func (s *Session) send(v *viewer, frame []byte) {
	if v.stale.Load() {
		return
	}
	// A frame is queued if it fits, or if the queue is empty: a state frame
	// may be larger than the whole allowance.
	if q := v.queued.Load(); q == 0 || q+int64(len(frame)) <= sendBytes {
		v.queued.Add(int64(len(frame)))
		select {
		case v.send <- frame:
			return
		default:
			v.queued.Add(-int64(len(frame)))
		}
	}
	// Too much is waiting: drop it all, and resync the viewer once it has
	// caught up.
	v.stale.Store(true)
	v.resyncCount.Add(1)
	for {
		select {
		case f := <-v.send:
			v.queued.Add(-int64(len(f)))
			continue
		default:
		}
		break
	}
}

func (s *Session) hello(v *viewer) helloFrame {
	h := helloFrame{Type: "hello", Version: ProtocolVersion, Impl: s.simOpts.Impl, Control: v.control}
	if !v.control {
		h.Watchers = "this page is watch-only: the cluster is controlled from the machine running raftviz"
	}
	if src := s.opts.Impl.Source; src != nil {
		if stubs, err := grade.FindStubs(src); err == nil {
			for _, st := range stubs {
				h.Todo = append(h.Todo, fmt.Sprintf("stage %d: %s (%s:%d)", st.Stage, st.Func, st.File, st.Line))
			}
		}
	}
	for _, name := range scenarioOrder {
		sc := scenarios[name]
		h.Scenarios = append(h.Scenarios, scenarioInfo{Name: name, Title: sc.title, What: sc.what})
	}
	return h
}

// nodeStates reads every node's view and timers.
func (s *Session) nodeStates() []nodeState {
	view := s.r.Sim.View()
	out := make([]nodeState, len(view.Nodes))
	for i, n := range view.Nodes {
		ns := nodeState{NodeView: n, timers: s.timers(n.ID)}
		ns.Log = slices.Clone(n.Log)
		out[i] = ns
	}
	return out
}

// timers reads a node's timers; a node that is down has none.
func (s *Session) timers(id raft.NodeID) timers {
	st, ok := s.r.Sim.Status(id)
	if !ok {
		return timers{}
	}
	return timers{ElectionElapsed: st.ElectionElapsed, ElectionTimeout: st.ElectionTimeout, Progress: st.Progress}
}

func (s *Session) clock() clock {
	return clock{Time: s.r.Sim.Now(), Seq: s.r.Sim.Seq(), Paused: s.paused, Speed: s.speed, Live: s.live(), Horizon: s.horizon}
}

func (s *Session) stateFrame(reason string) []byte {
	sim := s.r.Sim
	view := sim.View()
	cfg := sim.Options().Config
	cfg.ID, cfg.Peers = 0, nil
	f := stateFrame{
		Type: "state", Reason: reason, Impl: s.simOpts.Impl, Seed: s.simOpts.Seed,
		clock: s.clock(), Config: cfg, Network: sim.Network(), Groups: view.Groups,
		Nodes: s.nodeStates(), InFlight: s.sent.inFlight(sim.InFlight()), Violations: sim.Violations(),
		History: eventsJSON(s.history), Leader: leaderMarkOf(view),
	}
	if f.Violations == nil {
		f.Violations = []lab.Violation{}
	}
	if s.scenario != nil {
		f.Scenario = s.scenario.narration()
	}
	return encode(f)
}

func (s *Session) statusFrame() []byte {
	f := statusFrame{Type: "status", clock: s.clock(), Leader: leaderMarkOf(s.r.Sim.View())}
	for _, n := range s.r.Sim.View().Nodes {
		f.Nodes = append(f.Nodes, nodeTimer{ID: n.ID, LastApplied: n.Applied, timers: s.timers(n.ID)})
	}
	if s.scenario != nil {
		f.Scenario = s.scenario.narration()
	}
	return encode(f)
}

// errWatchOnly refuses a control command from a viewer without the token.
var errWatchOnly = errors.New("this page is watch-only: only the machine running raftviz (or a page opened with its token) can control the cluster")

// handle carries out one viewer command and answers it.
func (s *Session) handle(req request) {
	c := req.cmd
	if ops[c.Op] && !req.v.control {
		s.send(req.v, encode(errorFrame{Type: "error", ID: c.ID, Op: c.Op, Error: errWatchOnly.Error()}))
		return
	}
	if c.Op == "state" {
		s.flush()
		s.send(req.v, s.stateFrame("asked"))
		return
	}
	text, err := s.do(c)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "lab: ")
		s.send(req.v, encode(errorFrame{Type: "error", ID: c.ID, Op: c.Op, Error: msg}))
		return
	}
	s.send(req.v, encode(ackFrame{Type: "ack", ID: c.ID, Op: c.Op, Text: text}))
}

// do carries out a command; the text, if any, is shown to the viewer.
func (s *Session) do(c Command) (string, error) {
	sim := s.r.Sim
	if c.Node != 0 && (c.Node < 1 || int(c.Node) > len(sim.View().Nodes)) {
		return "", fmt.Errorf("there is no node n%d: the nodes are n1 to n%d", c.Node, len(sim.View().Nodes))
	}
	switch c.Op {
	case "pause":
		s.paused = true
		return "", nil
	case "resume":
		s.paused = false
		s.lastWall = time.Now()
		return "", nil
	case "speed":
		s.speed = *c.Value
		return "", nil
	case "step":
		s.paused = true
		n := max(c.Count, 1)
		for range n {
			ok, err := s.r.StepEvent(maxTime)
			if err != nil {
				return "", err
			}
			if !ok {
				break
			}
		}
		return "", nil
	case "seek":
		return "", s.seek(c)
	case "live":
		return "", s.toLive()
	case "reset":
		return s.reset(c)
	case "scenario":
		return s.startScenario(c.Name)
	}
	// The rest change the run: from the past, they start a new course.
	s.branch()
	switch c.Op {
	case "crash":
		return "", s.record(sim.Crash(c.Node))
	case "restart":
		return "", s.record(sim.Restart(c.Node))
	case "timeout":
		return "", s.record(sim.ForceTimeout(c.Node))
	case "isolate":
		return "", s.record(sim.Isolate(c.Node))
	case "heal":
		sim.Heal()
		return "", s.record(nil)
	case "partition":
		return "", s.record(sim.Partition(c.Groups...))
	case "network":
		n, err := sim.Network().WithKnob(c.Knob, *c.Value)
		if err == nil {
			err = n.Validate()
		}
		if err != nil {
			return "", err
		}
		return "", s.record(sim.SetNetwork(n))
	case "propose":
		return s.propose(c)
	}
	return "", fmt.Errorf("unknown command %q", c.Op)
}

const maxTime = time.Duration(1<<63 - 1)

// branch makes the run take a new course from here: the recorded future is
// forgotten, and the timeline's with it.
func (s *Session) branch() {
	if s.live() {
		return
	}
	s.r.Branch()
	seq := s.r.Sim.Seq()
	s.history = slices.DeleteFunc(s.history, func(e raft.Event) bool { return e.Seq > seq })
	s.horizon = mark{Time: s.r.Sim.Now(), Seq: seq}
	s.broadcast(encode(map[string]any{"type": "branch", "seq": seq, "t": s.r.Sim.Now()}))
}

// record adds the commands a control just applied — the command events in
// the batch newer than the recording — to the recording.
func (s *Session) record(err error) error {
	if err != nil {
		return err
	}
	for _, e := range s.batch {
		if e.Kind.IsCommand() && e.Seq > s.lastRecorded() {
			s.r.Record(e)
		}
	}
	return nil
}

func (s *Session) lastRecorded() uint64 {
	cmds := s.r.Commands()
	if len(cmds) == 0 {
		return 0
	}
	return cmds[len(cmds)-1].Seq
}

func (s *Session) propose(c Command) (string, error) {
	sim := s.r.Sim
	id := c.Node
	if id == 0 {
		if id, _ = sim.View().Leader(); id == raft.None {
			return "", errors.New("there is no leader to propose to right now: wait for an election, or pick a node")
		}
	}
	index, term, ok, err := sim.Propose(id, []byte(c.Text))
	if err := s.record(err); err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("n%d refused %q: it is not the leader", id, c.Text), nil
	}
	return fmt.Sprintf("n%d took %q at index %d in term %d", id, c.Text, index, term), nil
}

// seek re-runs the recording from its start up to a time or an event.
func (s *Session) seek(c Command) error {
	s.paused = true
	cmds := s.r.Commands()
	if err := s.start(s.simOpts, cmds); err != nil {
		return err
	}
	s.quiet = true
	var err error
	if c.Seq != nil {
		err = s.r.RunUntilSeq(min(*c.Seq, s.horizon.Seq))
	} else {
		err = s.r.RunUntil(min(time.Duration(*c.Time), s.horizon.Time))
	}
	s.quiet = false
	if err != nil {
		return err
	}
	s.broadcast(s.stateFrame("seek"))
	return nil
}

// toLive runs to the end of the recording and carries on from there.
func (s *Session) toLive() error {
	s.quiet = true
	defer func() { s.quiet = false }()
	if err := s.r.RunUntilSeq(s.horizon.Seq); err != nil {
		return err
	}
	for s.r.Future() > 0 {
		if ok, err := s.r.Step(maxTime); err != nil || !ok {
			return err
		}
	}
	s.paused = false
	s.lastWall = time.Now()
	s.broadcast(s.stateFrame("live"))
	return nil
}

// reset starts a new cluster, with a new seed and node count if given.
func (s *Session) reset(c Command) (string, error) {
	opts := s.simOpts
	if c.Seed != nil {
		opts.Seed = *c.Seed
	}
	if c.Nodes != 0 {
		opts.Nodes = c.Nodes
	}
	opts.Network = s.opts.Network
	if err := opts.Validate(); err != nil {
		return "", err
	}
	s.history = s.history[:0]
	s.horizon = mark{}
	s.scenario = nil
	if err := s.start(opts, nil); err != nil {
		return "", err
	}
	s.batch = s.batch[:0]
	s.broadcast(s.stateFrame("reset"))
	return fmt.Sprintf("a new cluster of %d nodes, seed %d", opts.Nodes, opts.Seed), nil
}

// Recording returns the options and the commands of the run so far, and
// its last event: enough to write it out as a trace (see WriteTrace).
func (s *Session) Recording(ctx context.Context) (lab.Options, []raft.Event, uint64, error) {
	type rec struct {
		opts lab.Options
		cmds []raft.Event
		seq  uint64
	}
	ch := make(chan rec, 1)
	q := func() {
		opts := s.simOpts
		opts.Sink = nil
		ch <- rec{opts, slices.Clone(s.r.Commands()), s.horizon.Seq}
	}
	select {
	case s.queries <- q:
	case <-ctx.Done():
		return lab.Options{}, nil, 0, ctx.Err()
	case <-s.done:
		return lab.Options{}, nil, 0, errors.New("the session has ended")
	}
	r := <-ch
	return r.opts, r.cmds, r.seq, nil
}
