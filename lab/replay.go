package lab

import (
	"bytes"
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

// Step does one unit of work — applying a recorded command, or the
// simulator's next unit — due by virtual time limit; false if there is none.
func (r *Replayer) Step(limit time.Duration) (bool, error) {
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
// would pass limit; false if none was.
func (r *Replayer) StepEvent(limit time.Duration) (bool, error) {
	start := r.Sim.seq
	for r.Sim.seq == start {
		ok, err := r.Step(limit)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// RunUntilSeq replays until event number seq has been emitted.
func (r *Replayer) RunUntilSeq(seq uint64) error {
	for r.Sim.seq < seq {
		ok, err := r.Step(maxTime)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("lab: replay: the run stopped at event %d before reaching %d", r.Sim.seq, seq)
		}
	}
	return nil
}

// RunUntil replays until virtual time t, applying the commands due by then.
func (r *Replayer) RunUntil(t time.Duration) error {
	for {
		ok, err := r.Step(t)
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

// Verify runs the trace again with the implementation in opts.New and reports
// the first event that differs, if any.
func Verify(t *Trace, newNode raft.Constructor) error {
	opts := t.Header.Options()
	opts.New = newNode
	var got [][]byte
	opts.Sink = func(e *raft.Event) { got = append(got, e.AppendJSON(nil)) }
	r, err := NewReplayer(opts, t.Commands())
	if err != nil {
		return err
	}
	var last uint64
	if n := len(t.Events); n > 0 {
		last = t.Events[n-1].Seq
	}
	if err := r.RunUntilSeq(last); err != nil {
		return err
	}
	for i := range t.Events {
		want := t.Events[i].AppendJSON(nil)
		if !bytes.Equal(got[i], want) {
			return fmt.Errorf("lab: replay differs at event %d (trace line %d):\n  trace:  %s\n  replay: %s", i+1, i+2, want, got[i])
		}
	}
	return nil
}
