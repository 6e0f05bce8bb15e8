package lab

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Replayer runs a recorded list of commands again, each at the step where it
// first applied. Driven forward with its methods, its Sim goes through the
// same events as the original run.
type Replayer struct {
	Sim  *Sim
	cmds []raft.Event
	next int
	// idle counts the units of work done since event seen was emitted; past
	// maxIdleSteps, a replay waiting for something gives up (see quiet).
	idle int
	seen uint64
}

// NewReplayer starts a run with opts that will apply cmds at their steps.
func NewReplayer(opts Options, cmds []raft.Event) (*Replayer, error) {
	for i, c := range cmds {
		if !c.Kind.IsCommand() {
			return nil, fmt.Errorf("lab: replay: event #%d (%v) is not a command", c.Seq, c.Kind)
		}
		if i > 0 && (c.Step < cmds[i-1].Step || c.Time < cmds[i-1].Time) {
			return nil, fmt.Errorf("lab: replay: command #%d (step %d, %v) comes before the command before it (step %d, %v)",
				c.Seq, c.Step, c.Time, cmds[i-1].Step, cmds[i-1].Time)
		}
	}
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	return &Replayer{Sim: s, cmds: slices.Clone(cmds)}, nil
}

// Future counts the recorded commands not yet applied: the run has not yet
// reached the end of its recording.
func (r *Replayer) Future() int { return len(r.cmds) - r.next }

// Branch forgets the recorded commands not yet applied, so that the run can
// take a new course from here.
func (r *Replayer) Branch() { r.cmds = r.cmds[:r.next:r.next] }

// Record adds a command just applied to the Sim directly to the recording.
// The run must be at the end of its recording (see Branch).
func (r *Replayer) Record(cmd raft.Event) {
	r.cmds = append(r.cmds[:r.next:r.next], cmd)
	r.next++
}

// Commands returns the recording: every command, applied or not.
func (r *Replayer) Commands() []raft.Event { return r.cmds }

// Advance does one unit of work — applying a recorded command, or the
// simulator's next unit — due by virtual time limit; false if there is none.
// While a recorded command is still to come, it gives up with an error once
// the run has gone quiet (maxIdleSteps units of work without an event): a
// crafted trace may ask for a command at a step a quiet run would take
// without end to reach.
func (r *Replayer) Advance(limit time.Duration) (bool, error) {
	ok, err := r.advance(limit)
	if s := r.Sim; s.seq != r.seen {
		r.idle, r.seen = 0, s.seq
	} else if ok {
		r.idle++
	}
	if err == nil && ok && r.idle > maxIdleSteps && r.next < len(r.cmds) && r.cmds[r.next].Step > r.Sim.steps {
		c := &r.cmds[r.next]
		return false, fmt.Errorf("%w, and command #%d is due at step %d, %d units of work on", r.quiet(), c.Seq, c.Step, c.Step-r.Sim.steps)
	}
	return ok, err
}

// quiet says where the run went quiet.
func (r *Replayer) quiet() error {
	return fmt.Errorf("lab: replay: the run went quiet at event %d (%v of virtual time): %d units of work without an event", r.Sim.seq, r.Sim.now, r.idle)
}

func (r *Replayer) advance(limit time.Duration) (bool, error) {
	s := r.Sim
	if r.next < len(r.cmds) {
		c := &r.cmds[r.next]
		switch {
		case c.Step < s.steps:
			return false, fmt.Errorf("lab: replay: command #%d was due at step %d, but the run is at step %d; the run has diverged from the trace", c.Seq, c.Step, s.steps)
		case c.Step == s.steps:
			// The command came before the next unit of work: nothing else
			// happens until it is applied.
			if c.Time > limit {
				return false, nil
			}
			r.next++
			s.now = max(s.now, c.Time)
			if err := s.Do(c); err != nil {
				return false, fmt.Errorf("lab: replay: command #%d (%v) failed: %w; the run has diverged from the trace", c.Seq, c.Kind, err)
			}
			return true, nil
		}
	}
	return s.next(limit), nil
}

// StepEvent does work until at least one event has been emitted, or time
// would pass limit; false if none was. It gives up with an error when the
// run has gone quiet (maxIdleSteps units of work without an event): one
// server that leads alone sends nothing, and would tick for ever.
func (r *Replayer) StepEvent(limit time.Duration) (bool, error) {
	start := r.Sim.seq
	for r.Sim.seq == start {
		ok, err := r.Advance(limit)
		if err != nil || !ok {
			return false, err
		}
		if r.idle > maxIdleSteps {
			return false, r.quiet()
		}
	}
	return true, nil
}

// maxIdleSteps bounds the work a replay does without emitting an event. A
// run that goes quiet (one server that leads alone sends nothing; a crafted
// trace may ask for an event that never comes) would otherwise tick forever.
// 4 million ticks is over eleven hours of virtual time at the default tick.
const maxIdleSteps = 1 << 22

// RunUntilSeq replays until event number seq has been emitted. It gives up,
// with an error, when the run has no work left or has gone quiet for
// maxIdleSteps units of work before reaching seq.
func (r *Replayer) RunUntilSeq(seq uint64) error {
	return r.RunUntilSeqContext(context.Background(), seq)
}

// RunUntilSeqContext is RunUntilSeq that also stops when ctx is done, with
// an *InterruptedError saying how far it got.
func (r *Replayer) RunUntilSeqContext(ctx context.Context, seq uint64) error {
	for r.Sim.seq < seq {
		ok, err := r.Advance(Forever)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("lab: replay: the run stopped at event %d before reaching %d", r.Sim.seq, seq)
		}
		if r.idle > maxIdleSteps {
			return fmt.Errorf("%w, and never reached event %d", r.quiet(), seq)
		}
		if r.Sim.steps%4096 == 0 && ctx.Err() != nil {
			return &InterruptedError{Event: r.Sim.seq, Of: seq, Time: r.Sim.now}
		}
	}
	return nil
}

// RunUntil replays until virtual time t, applying the commands due by then.
func (r *Replayer) RunUntil(t time.Duration) error {
	for {
		ok, err := r.Advance(t)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
	}
	r.Sim.now = max(r.Sim.now, t)
	return nil
}

// Verify runs the trace again with the implementation newNode builds and
// reports the first event that differs, if any.
func Verify(t *Trace, newNode raft.Constructor) error {
	return VerifyContext(context.Background(), t, newNode)
}

// VerifyContext is Verify that also stops when ctx is done, with an
// *InterruptedError saying how far it got.
func VerifyContext(ctx context.Context, t *Trace, newNode raft.Constructor) error {
	opts := t.Header.Options()
	opts.New = newNode
	check := NewTraceChecker(t)
	opts.Sink = check.Check
	r, err := NewReplayer(opts, t.Commands())
	if err != nil {
		return err
	}
	return check.Run(ctx, r)
}

// TraceChecker compares the events of a run with a trace's as they are
// emitted, keeping only the first difference: memory stays that of the trace.
type TraceChecker struct {
	t    *Trace
	seen uint64 // events checked
	err  error
	buf  []byte
	want []byte
}

// NewTraceChecker checks a run against t; give its Check to the run as
// (part of) its Sink, and drive the run with Run.
func NewTraceChecker(t *Trace) *TraceChecker { return &TraceChecker{t: t} }

// Check compares one emitted event with the trace's.
func (c *TraceChecker) Check(e *raft.Event) {
	if c.err != nil {
		return
	}
	c.seen++
	if c.seen > uint64(len(c.t.Events)) {
		return // past the end of the trace: the run goes on, nothing to compare
	}
	c.buf = e.AppendJSON(c.buf[:0])
	c.want = c.t.Events[c.seen-1].AppendJSON(c.want[:0])
	if !bytes.Equal(c.buf, c.want) {
		c.err = fmt.Errorf("lab: replay differs at event %d (trace line %d): %s", c.seen, c.seen+1, lineDiff(c.want, c.buf))
	}
}

// Err is the first difference found, if any.
func (c *TraceChecker) Err() error { return c.err }

// Run drives r (whose Sink includes c.Check) to the trace's last event and
// returns the first difference. It stops at the first difference, when the
// run cannot reach the trace's end (no more work, or quiet for too long), or
// when ctx is done, saying where.
func (c *TraceChecker) Run(ctx context.Context, r *Replayer) error {
	n := len(c.t.Events)
	if n == 0 {
		return nil
	}
	last := c.t.Events[n-1]
	for r.Sim.seq < last.Seq && c.err == nil {
		ok, err := r.Advance(last.Time)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("lab: replay stopped at event %d (%v) before the trace's event %d (%v): the run has diverged from the trace",
				r.Sim.seq, r.Sim.now, last.Seq, last.Time)
		}
		if r.idle > maxIdleSteps {
			return fmt.Errorf("%w, and never reached the trace's event %d", r.quiet(), last.Seq)
		}
		if r.Sim.steps%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return &InterruptedError{Event: r.Sim.seq, Of: last.Seq, Time: r.Sim.now}
			}
		}
	}
	return c.err
}

// InterruptedError says how far a replay got before it was stopped.
type InterruptedError struct {
	Event, Of uint64
	Time      time.Duration
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("lab: replay interrupted at event %d of %d (%v of virtual time)", e.Event, e.Of, e.Time)
}

// lineDiff shows where two event lines differ, in bounded space: the common
// start is cut to a short lead-in, and each side shows a window of at most
// diffWindow bytes from the first byte that differs.
func lineDiff(want, got []byte) string {
	const lead, diffWindow = 40, 160
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(0, i-lead)
	cut := func(b []byte) string {
		end := min(len(b), i+diffWindow)
		s := string(b[from:end])
		if from > 0 {
			s = "…" + s
		}
		if end < len(b) {
			s += fmt.Sprintf("… (%d more bytes)", len(b)-end)
		}
		return s
	}
	return fmt.Sprintf("they differ from byte %d on:\n  trace:  %s\n  replay: %s", i+1, cut(want), cut(got))
}
