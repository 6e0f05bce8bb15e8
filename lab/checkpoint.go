package lab

import (
	"fmt"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Checkpoints: going back in a run without running it again from the start.
//
// A Checkpoint is a frozen copy of a whole run at one point between two units
// of work: every node — the implementation's own memory, opaque to the lab,
// included —, its storage, the network and the messages on their way, the
// queue, the random source, the checker, the view, the statistics, and the
// replay's place in its commands. Resume makes a fresh copy of it that runs on
// exactly as the original did from that point: the same events, byte for
// byte, for as long as it is given the same commands.
//
// The copy is a copy of the memory graph (checkpoint_copy.go): everything
// reachable from the run through pointers, slices, maps and interfaces, with
// its shape kept — two references to one object stay two references to one
// copy, slices that share an array share its copy — so a node that keeps
// pointers into its own state, or slices of its log, behaves the same in the
// copy. A node's Env is the simulator's, inside that graph, so the copy of a
// node talks to the copy of the simulator: nothing is rebuilt, restarted or
// asked of the implementation, and its volatile state (its role, its timers,
// nextIndex, votes) is kept as it was.
//
// What a graph copy cannot reproduce, it refuses: a node that holds a
// function value (a closure's variables are out of reach), a channel or an
// unsafe.Pointer, or a pointer into the middle of another value of a
// different type. Checkpoint then returns an error, and the caller runs from
// the seed instead, which is always exact. State a node keeps outside itself
// (a package-level variable) is not copied either; the lab's rule that a node
// acts only through its Env already excludes it.
type Checkpoint struct {
	r *Replayer // frozen: only ever copied
	// Seq, Steps and Time are where the run stood: its last event, its units
	// of work, its virtual time.
	Seq   uint64
	Steps uint64
	Time  time.Duration
	// Bytes is the memory the checkpoint holds: what its copy of the run
	// allocated (strings, immutable, are shared with the run, not counted).
	Bytes int64
	// next counts the commands already applied.
	next int
	// newNode and holdIf are the driver's, set aside from the frozen copy.
	newNode raft.Constructor
	holdIf  func(*raft.Message) bool
}

// Checkpoint takes a frozen copy of the run as it stands. It costs time and
// memory in proportion to the run's state (its logs, its messages on the
// way), not to its length.
func (r *Replayer) Checkpoint() (*Checkpoint, error) {
	s := r.Sim
	if s.calling != nil || s.watch != nil {
		return nil, fmt.Errorf("lab: a run is checkpointed between units of work, not inside one")
	}
	cp, n, err := freeze(r)
	if err != nil {
		return nil, err
	}
	return &Checkpoint{r: cp, Seq: s.seq, Steps: s.steps, Time: s.now, Bytes: n, next: r.next, newNode: s.opts.New, holdIf: s.holdIf}, nil
}

// Commands counts the recorded commands the run had applied at the checkpoint.
func (c *Checkpoint) Commands() int { return c.next }

// Resume returns a new run standing where the checkpoint stands, which will
// apply cmds from there on: cmds is the whole recording, whose first
// c.Commands() commands are those the run had applied by the checkpoint.
// sink receives its events (Options.Sink). A checkpoint can be resumed any
// number of times, from several goroutines at once.
func (c *Checkpoint) Resume(cmds []raft.Event, sink func(*raft.Event)) (*Replayer, error) {
	if len(cmds) < c.next {
		return nil, fmt.Errorf("lab: the recording holds %d commands, but the checkpoint had applied %d", len(cmds), c.next)
	}
	r, err := copyGraph(c.r)
	if err != nil {
		return nil, fmt.Errorf("lab: cannot resume the checkpoint: %w", err)
	}
	r.Sim.opts.New, r.Sim.holdIf = c.newNode, c.holdIf
	r.Sim.opts.Sink = sink
	r.cmds = cmds[:len(cmds):len(cmds)]
	return r, nil
}

// freeze copies r with the driver's functions set aside: the constructor,
// the sink and the hold predicate belong to whoever drives the run, not to
// its state (the Checkpoint keeps the constructor and the hold predicate for
// the runs it resumes). The frozen copy holds no function value, so copying
// it again only reads it.
func freeze(r *Replayer) (*Replayer, int64, error) {
	s := r.Sim
	newNode, sink, holdIf, cmds := s.opts.New, s.opts.Sink, s.holdIf, r.cmds
	s.opts.New, s.opts.Sink, s.holdIf, r.cmds = nil, nil, nil, nil
	cp, n, err := copyGraphBytes(r)
	s.opts.New, s.opts.Sink, s.holdIf, r.cmds = newNode, sink, holdIf, cmds
	if err != nil {
		return nil, 0, fmt.Errorf("lab: cannot checkpoint this run exactly (a seek then runs from the seed): %w", err)
	}
	return cp, n, nil
}
