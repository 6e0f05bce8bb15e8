package visualizer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlab/raftlab/lab"
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
	// MaxViewers bounds the viewers of the session (default 200); one more is
	// refused.
	MaxViewers int
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
	if o.MaxViewers == 0 {
		o.MaxViewers = 200
	}
}

// Session is one simulated cluster with its controls, its recording and the
// viewers watching it. One goroutine (Run) owns it all; viewers talk to it
// through channels, and it never waits for a viewer. Its parts:
//
//	course   the run: the cluster, the recording, the timeline; seek and branch (course.go)
//	pace     virtual time in step with the wall clock (pacing.go)
//	fan      the viewers, and sending them frames without waiting (fanout.go)
//	handlers what each command does (commands.go)
//	frames   what viewers are told (frames.go)
type Session struct {
	opts     SessionOptions
	requests chan request
	joins    chan *viewer
	leaves   chan *viewer
	resyncs  chan *viewer
	queries  chan func()
	done     chan struct{}
	runOnce  sync.Once
	// viewers counts the viewers connected or connecting, against MaxViewers.
	viewers chan struct{}

	// Owned by the Run goroutine.
	course   course
	pace     pacer
	fan      fanout
	scenario *scenarioRun
	// statusDue: a command changed what the status frame says; send it with
	// the next frame rather than once per command.
	statusDue bool
	// frames counts the session's frames (ticks of its clock), the unit of
	// the viewers' command rate limit; read by tests.
	frames atomic.Uint64
	// warning, if set, is told to every viewer on arrival: the recording
	// does not replay the same way.
	warning string
}

// NewSession sets up a session; Run starts it.
func NewSession(opts SessionOptions) (*Session, error) {
	return NewSessionContext(context.Background(), opts)
}

// NewSessionContext is NewSession that stops checking a recording (which
// runs it once, whole) when ctx is done, with a *lab.InterruptedError.
func NewSessionContext(ctx context.Context, opts SessionOptions) (*Session, error) {
	opts.fill()
	s := &Session{
		opts:     opts,
		requests: make(chan request, 64),
		joins:    make(chan *viewer),
		leaves:   make(chan *viewer, 16),
		resyncs:  make(chan *viewer, 16),
		queries:  make(chan func()),
		done:     make(chan struct{}),
		viewers:  make(chan struct{}, opts.MaxViewers),
		fan:      newFanout(),
		pace: pacer{paused: opts.Paused, speed: opts.Speed,
			frame: opts.FrameInterval, maxEvents: opts.MaxEventsPerFrame},
		course: course{historyLimit: opts.HistoryLimit},
	}
	simOpts := lab.Options{Nodes: opts.Nodes, Seed: opts.Seed, New: opts.Impl.New, Impl: opts.Impl.Name,
		Config: opts.Config, Network: opts.Network}
	if rec := opts.Recording; rec != nil {
		return s, s.openRecording(ctx, rec)
	}
	if err := s.course.start(simOpts, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// openRecording sets the session up to replay a trace: it runs the whole
// recording once, checking each event against the trace, to know its
// timeline; then goes back to time 0, paused. A trace that does not replay
// the same way is still shown — as it runs now — with a warning.
func (s *Session) openRecording(ctx context.Context, rec *lab.Trace) error {
	simOpts := rec.Header.Options()
	simOpts.New, simOpts.Impl = s.opts.Impl.New, s.opts.Impl.Name
	s.pace.paused = true
	cmds := rec.Commands()
	if err := s.course.start(simOpts, cmds); err != nil {
		return err
	}
	if len(rec.Events) > 0 {
		check := lab.NewTraceChecker(rec)
		s.course.observe, s.course.quiet = check.Check, true
		err := check.Run(ctx, s.course.r)
		s.course.observe, s.course.quiet = nil, false
		var ie *lab.InterruptedError
		if errors.As(err, &ie) {
			return err
		}
		if err != nil {
			s.warning = fmt.Sprintf("this recording does not replay the same way with %s: %v; the page shows the run as it goes now", s.opts.Impl.Name, err)
		}
		s.course.horizon = mark{Time: s.course.sim().Now(), Seq: s.course.sim().Seq()}
		if err := s.course.start(s.course.opts, cmds); err != nil {
			return err
		}
	}
	return nil
}

// Warning says why the recording the session replays does not replay the
// same way, or "" if it does (or there is none).
func (s *Session) Warning() string { return s.warning }

// flush sends the events gathered since the last flush to every viewer.
func (s *Session) flush() {
	if b := s.course.takeBatch(); len(b) > 0 {
		s.fan.broadcast(eventsFrame(b, &s.course.sent, leaderMarkOf(s.course.sim().View())))
	}
}

// fail reports an error of the session itself and pauses it.
func (s *Session) fail(err error) {
	s.pace.pause()
	s.fan.broadcast(encode(errorFrame{Type: "error", Error: "the session stopped: " + err.Error()}))
}

// credit gives every viewer one more command it may send (see creditEvery).
func (s *Session) credit() {
	for v := range s.fan.viewers {
		select {
		case v.credits <- struct{}{}:
		default: // full: the viewer has its whole burst
		}
	}
}

// Done is closed when Run returns.
func (s *Session) Done() <-chan struct{} { return s.done }

// Run runs the session until ctx is done.
func (s *Session) Run(ctx context.Context) {
	s.runOnce.Do(func() { s.run(ctx) })
}

func (s *Session) run(ctx context.Context) {
	defer close(s.done)
	defer s.fan.closeAll()
	tick := time.NewTicker(s.opts.FrameInterval)
	defer tick.Stop()
	s.pace.lastWall = time.Now()
	lastStatus := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case v := <-s.joins:
			s.fan.join(v)
			s.fan.send(v, encode(s.helloFrame(v)))
			s.fan.send(v, s.stateFrame("hello"))
		case v := <-s.leaves:
			s.fan.leave(v)
		case v := <-s.resyncs:
			if s.fan.watching(v) && v.stale.Load() {
				v.stale.Store(false)
				s.fan.send(v, s.stateFrame("resync"))
			}
		case q := <-s.queries:
			q()
		case req := <-s.requests:
			s.handle(req)
		case now := <-tick.C:
			if s.frames.Add(1)%creditEvery == 0 {
				s.credit()
			}
			s.frame(now)
			if s.statusDue || now.Sub(lastStatus) >= 100*time.Millisecond {
				s.statusDue, lastStatus = false, now
				s.fan.broadcast(s.statusFrame())
			}
		}
	}
}

// frame advances the cluster by the wall time since the last frame, at the
// session's speed or as a scenario paces it, moves the scenario on, and
// sends what happened.
func (s *Session) frame(now time.Time) {
	if dt, running := s.pace.elapsed(now); running {
		speed, hold := s.pace.speed, false
		if s.scenario != nil {
			speed, hold = s.scenario.pace(dt, s.pace.speed)
		}
		if !hold {
			if err := s.course.advance(time.Duration(float64(dt)*speed), s.pace.overBudget); err != nil {
				s.fail(err)
			}
			s.course.rewinder.passed(s.course.r)
		}
	}
	s.runScenario()
	s.flush()
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
		opts := s.course.opts
		opts.Sink = nil
		ch <- rec{opts, slices.Clone(s.course.r.Commands()), s.course.horizon.Seq}
	}
	select {
	case s.queries <- q:
	case <-ctx.Done():
		return lab.Options{}, nil, 0, ctx.Err()
	case <-s.done:
		return lab.Options{}, nil, 0, errSessionEnded
	}
	r := <-ch
	return r.opts, r.cmds, r.seq, nil
}

// errTooManyViewers refuses a viewer past MaxViewers.
var errTooManyViewers = errors.New("raftviz: this session has as many viewers as it takes; try again later")
