package lab

import (
	"bytes"
	"fmt"
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
		if i > 0 && c.Step < cmds[i-1].Step {
			return nil, fmt.Errorf("lab: replay: command #%d applies at step %d, before the command before it (step %d)", c.Seq, c.Step, cmds[i-1].Step)
		}
	}
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	r := &Replayer{Sim: s, cmds: cmds}
	if err := r.applyDue(); err != nil {
		return nil, err
	}
	return r, nil
}

// applyDue applies every command due at the current step.
func (r *Replayer) applyDue() error {
	s := r.Sim
	for r.next < len(r.cmds) && r.cmds[r.next].Step == s.steps {
		c := &r.cmds[r.next]
		r.next++
		if c.Time > s.now {
			s.now = c.Time
		}
		if err := s.Do(c); err != nil {
			return fmt.Errorf("lab: replay: command #%d (%v) failed: %w; the run has diverged from the trace", c.Seq, c.Kind, err)
		}
	}
	return nil
}

// step does one unit of work, then applies the commands due.
func (r *Replayer) step(limit time.Duration) (bool, error) {
	s := r.Sim
	if r.next < len(r.cmds) {
		c := &r.cmds[r.next]
		if c.Step < s.steps {
			return false, fmt.Errorf("lab: replay: command #%d was due at step %d, but the run is at step %d; the run has diverged from the trace", c.Seq, c.Step, s.steps)
		}
		// A command recorded after the clock moved on without work (RunUntil)
		// applies at its own time; nothing before it may pass that time.
		if c.Step == s.steps {
			limit = min(limit, c.Time)
		}
	}
	if !s.next(limit) {
		return false, nil
	}
	return true, r.applyDue()
}

// RunUntilSeq replays until event number seq has been emitted.
func (r *Replayer) RunUntilSeq(seq uint64) error {
	for r.Sim.seq < seq {
		ok, err := r.step(maxTime)
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
		ok, err := r.step(t)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
	}
	if r.next < len(r.cmds) && r.cmds[r.next].Step == r.Sim.steps && r.cmds[r.next].Time <= t {
		r.Sim.now = max(r.Sim.now, r.cmds[r.next].Time)
		if err := r.applyDue(); err != nil {
			return err
		}
		return r.RunUntil(t)
	}
	if t > r.Sim.now {
		r.Sim.now = t
	}
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
