package visualizer

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// course is the run a session shows: the cluster (a lab.Replayer, which
// applies the recorded commands again at their steps), the recording, and the
// timeline up to the horizon — the furthest point the run has reached. The
// session can stand anywhere on the course: at the horizon it is live; behind
// it, it shows the past exactly, and a command given there starts a new course
// (branch). Owned by the session's Run goroutine.
type course struct {
	opts lab.Options // the run's options; Sink is the course's own
	r    *lab.Replayer
	// history holds the timeline events up to the horizon, oldest dropped
	// past historyLimit.
	history      []raft.Event
	historyLimit int
	horizon      mark
	// batch gathers the events viewers have not been sent yet; quiet stops
	// it (while seeking, when viewers get a state instead).
	batch []raft.Event
	quiet bool
	// observe, if set, is shown every event (to check a recording as it
	// replays).
	observe func(*raft.Event)
	// rewinder produces the state at a past point (see seek).
	rewinder rewinder
	// sent keys each message by its send event (see messages.go).
	sent sentMessages
	// proposed counts the bytes of the commands proposed on this course, which
	// every node keeps in its log: bounded by maxProposedBytes.
	proposed int
}

// timelineKinds are the events kept for the timeline of new viewers.
var timelineKinds = map[raft.EventKind]bool{
	raft.EvTerm: true, raft.EvRole: true, raft.EvVote: true, raft.EvCommit: true,
	raft.EvCrash: true, raft.EvRestart: true, raft.EvTimeout: true, raft.EvPartition: true,
	raft.EvNetwork: true, raft.EvPropose: true, raft.EvViolation: true, raft.EvNote: true,
}

// start builds a fresh cluster from its seed that will replay cmds.
func (c *course) start(opts lab.Options, cmds []raft.Event) error {
	opts.Sink = c.sink
	r, err := lab.NewReplayer(opts, cmds)
	if err != nil {
		return err
	}
	c.opts, c.r = opts, r
	c.batch = c.batch[:0]
	return nil
}

// sink receives every event of the cluster.
func (c *course) sink(e *raft.Event) {
	c.sent.note(e)
	if c.observe != nil {
		c.observe(e)
	}
	if !c.quiet {
		c.batch = append(c.batch, *e)
	}
	if e.Seq > c.horizon.Seq {
		c.horizon = mark{Time: e.Time, Seq: e.Seq}
		if timelineKinds[e.Kind] {
			c.history = append(c.history, *e)
			if over := len(c.history) - c.historyLimit; over > 0 {
				c.history = slices.Delete(c.history, 0, over+c.historyLimit/10)
			}
		}
	}
}

func (c *course) sim() *lab.Sim { return c.r.Sim }

// live reports whether the run stands at its horizon, with nothing recorded
// ahead of it.
func (c *course) live() bool { return c.r.Sim.Seq() >= c.horizon.Seq && c.r.Future() == 0 }

// takeBatch returns the events gathered since the last call.
func (c *course) takeBatch() []raft.Event {
	b := c.batch
	c.batch = c.batch[:0]
	return b
}

// advance runs the cluster for d of virtual time, or until over says the
// frame has done enough (then virtual time falls behind).
func (c *course) advance(d time.Duration, over func(start time.Time, events, units int) bool) error {
	target := c.r.Sim.Now() + d
	start := time.Now()
	for n := 0; ; n++ {
		ok, err := c.r.Advance(target)
		if err != nil || !ok {
			if err != nil {
				return err
			}
			break
		}
		if over(start, len(c.batch), n) {
			return nil
		}
	}
	return c.r.RunUntil(target)
}

// step runs n events (fewer if the run has none left).
func (c *course) step(n int) error {
	for range n {
		ok, err := c.r.StepEvent(lab.Forever)
		if err != nil || !ok {
			return err
		}
	}
	return nil
}

// branch makes the run take a new course from here: the recorded future is
// forgotten, and the timeline's with it. It returns the branch frame to
// send, or nil if the run was live (nothing to forget).
func (c *course) branch() *branchFrame {
	if c.live() {
		return nil
	}
	c.r.Branch()
	seq := c.r.Sim.Seq()
	c.history = slices.DeleteFunc(c.history, func(e raft.Event) bool { return e.Seq > seq })
	c.horizon = mark{Time: c.r.Sim.Now(), Seq: seq}
	c.rewinder.forget(seq)
	return &branchFrame{Type: "branch", Seq: seq, Time: c.r.Sim.Now()}
}

// record adds the commands a control just applied — the command events in
// the batch newer than the recording — to the recording.
func (c *course) record(err error) error {
	if err != nil {
		return err
	}
	last := c.lastRecorded()
	for _, e := range c.batch {
		if e.Kind.IsCommand() && e.Seq > last {
			c.r.Record(e)
		}
	}
	return nil
}

func (c *course) lastRecorded() uint64 {
	cmds := c.r.Commands()
	if len(cmds) == 0 {
		return 0
	}
	return cmds[len(cmds)-1].Seq
}

// maxProposedBytes bounds the commands proposed on one course: every node
// keeps each in its log, and every state frame carries every log, so without
// a bound one fast client could grow the server and every viewer's page
// without end. A reset starts a new course.
const maxProposedBytes = 256 << 10

// errTooManyProposals refuses a proposal past maxProposedBytes.
var errTooManyProposals = fmt.Errorf("this run has taken %d KiB of proposed commands, as much as one run keeps: reset the cluster to start a new run", maxProposedBytes>>10)

// allowProposal counts a proposal of n bytes against the course's bound.
func (c *course) allowProposal(n int) error {
	if c.proposed+n > maxProposedBytes {
		return errTooManyProposals
	}
	c.proposed += n
	return nil
}

// seekTarget is a point of the run to show: an event number (BySeq) or a
// virtual time.
type seekTarget struct {
	BySeq bool
	Seq   uint64
	Time  time.Duration
}

// seek shows the run as it was at the target (at most the horizon).
func (c *course) seek(to seekTarget) error {
	to.Seq, to.Time = min(to.Seq, c.horizon.Seq), min(to.Time, c.horizon.Time)
	c.quiet = true
	defer func() { c.quiet = false }()
	r, err := c.rewinder.rewind(c.opts, c.r.Commands(), to, c.horizon)
	if err != nil {
		return err
	}
	c.r = r
	c.batch = c.batch[:0]
	return nil
}

// toLive runs to the horizon and past every recorded command.
func (c *course) toLive() error {
	c.quiet = true
	defer func() { c.quiet = false }()
	if err := c.r.RunUntilSeq(c.horizon.Seq); err != nil {
		return err
	}
	for c.r.Future() > 0 {
		if ok, err := c.r.Advance(lab.Forever); err != nil || !ok {
			return err
		}
	}
	return nil
}

// reset starts a new course: a new cluster with nothing recorded.
func (c *course) reset(opts lab.Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := c.start(opts, nil); err != nil {
		return err
	}
	c.history, c.horizon, c.proposed = c.history[:0], mark{}, 0
	c.rewinder.forget(0)
	return nil
}

// rewinder produces the state of the run at a point of its past. It is the
// one place that does: today it builds the cluster again from its seed and
// replays the recorded commands up to the target, which costs time in
// proportion to the target's distance from the start. Checkpoint-based
// seeking goes here: passed is shown the run as it advances (to take
// checkpoints), rewind starts from the latest checkpoint at or before the
// target instead of from the seed, and forget drops the checkpoints past a
// branch point (the future they belong to is gone).
type rewinder struct{}

// rewind returns a replayer of cmds, standing at the target. opts.Sink
// receives the events it runs through.
func (rewinder) rewind(opts lab.Options, cmds []raft.Event, to seekTarget, horizon mark) (*lab.Replayer, error) {
	r, err := lab.NewReplayer(opts, cmds)
	if err != nil {
		return nil, err
	}
	if to.BySeq {
		err = r.RunUntilSeq(to.Seq)
	} else {
		err = r.RunUntil(to.Time)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot show the run at %v: %w", describeTarget(to), err)
	}
	return r, nil
}

// passed is shown the run after each frame of advance.
func (rewinder) passed(*lab.Replayer) {}

// forget drops what the rewinder knows of the run after event seq.
func (rewinder) forget(uint64) {}

func describeTarget(to seekTarget) string {
	if to.BySeq {
		return fmt.Sprintf("event %d", to.Seq)
	}
	return to.Time.String()
}

var errSessionEnded = errors.New("the session has ended")
