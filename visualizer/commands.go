package visualizer

import (
	"errors"
	"fmt"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Commands: what each operation a viewer sends does to the session. Decoding
// and checking a command's own fields is in protocol.go; checks that need the
// cluster (does node n3 exist?) are here or in lab, each in one place.

// request is a command from a viewer.
type request struct {
	v   *viewer
	cmd Command
}

// handler carries out one operation; the text, if any, is shown to the
// viewer that sent it.
type handler struct {
	do func(s *Session, c Command) (string, error)
	// branches: the operation changes the run, so given in the past it starts
	// a new course from there.
	branches bool
}

var handlers = map[string]handler{
	"pause":     {do: (*Session).pause},
	"resume":    {do: (*Session).resume},
	"speed":     {do: (*Session).setSpeed},
	"step":      {do: (*Session).step},
	"seek":      {do: (*Session).seek},
	"live":      {do: (*Session).toLive},
	"reset":     {do: (*Session).reset},
	"scenario":  {do: func(s *Session, c Command) (string, error) { return s.startScenario(c.Name) }},
	"crash":     {do: nodeOp(func(s *Session, id raft.NodeID) error { return s.course.sim().Crash(id) }), branches: true},
	"restart":   {do: nodeOp(func(s *Session, id raft.NodeID) error { return s.course.sim().Restart(id) }), branches: true},
	"timeout":   {do: nodeOp(func(s *Session, id raft.NodeID) error { return s.course.sim().ForceTimeout(id) }), branches: true},
	"isolate":   {do: nodeOp(func(s *Session, id raft.NodeID) error { return s.course.sim().Isolate(id) }), branches: true},
	"heal":      {do: (*Session).heal, branches: true},
	"partition": {do: (*Session).partition, branches: true},
	"network":   {do: (*Session).setNetwork, branches: true},
	"propose":   {do: (*Session).propose, branches: true},
	"hold":      {do: (*Session).msgOp, branches: true}, // msgcontrol.go
	"release":   {do: (*Session).msgOp, branches: true},
	"discard":   {do: (*Session).msgOp, branches: true},
	"duplicate": {do: (*Session).msgOp, branches: true},
}

// errWatchOnly refuses a control command from a viewer without the token.
var errWatchOnly = errors.New("this page is watch-only: only the machine running raftviz (or a page opened with its token) can control the cluster")

// handle carries out one viewer command and answers its sender. A refused
// command, or a request for state, concerns its sender alone: nobody else
// hears of it, so no viewer can raise another's traffic by sending
// commands. What an accepted command changed reaches everyone in the next
// frame's events and status.
func (s *Session) handle(req request) {
	c := req.cmd
	if c.Op == "state" {
		s.flush()
		s.fan.send(req.v, s.stateFrame("asked"))
		return
	}
	if c.Op == "log" {
		s.flush()
		s.fan.send(req.v, s.logFrame(c))
		return
	}
	if !req.v.control {
		s.fan.send(req.v, errorFrameFor(c, errWatchOnly))
		return
	}
	text, err := s.do(c)
	if err != nil {
		s.fan.send(req.v, errorFrameFor(c, err))
		return
	}
	s.statusDue = true
	s.flush()
	s.fan.send(req.v, ackFrameFor(c, text))
}

// do carries out an accepted command.
func (s *Session) do(c Command) (string, error) {
	h, ok := handlers[c.Op]
	if !ok {
		return "", fmt.Errorf("unknown command %q", c.Op)
	}
	if n := len(s.course.sim().View().Nodes); c.Node != 0 && (c.Node < 1 || int(c.Node) > n) {
		return "", fmt.Errorf("there is no node n%d: the nodes are n1 to n%d", c.Node, n)
	}
	if h.branches {
		s.branch()
	}
	return h.do(s, c)
}

// nodeOp is a command on one node that the course records.
func nodeOp(op func(s *Session, id raft.NodeID) error) func(*Session, Command) (string, error) {
	return func(s *Session, c Command) (string, error) {
		return "", s.course.record(op(s, c.Node))
	}
}

func (s *Session) pause(Command) (string, error) {
	s.pace.pause()
	return "", nil
}

func (s *Session) resume(Command) (string, error) {
	s.pace.resume(time.Now())
	return "", nil
}

func (s *Session) setSpeed(c Command) (string, error) {
	s.pace.speed = *c.Value
	return "", nil
}

func (s *Session) step(c Command) (string, error) {
	s.pace.pause()
	return "", s.course.step(max(c.Count, 1))
}

func (s *Session) heal(Command) (string, error) {
	s.course.sim().Heal()
	return "", s.course.record(nil)
}

func (s *Session) partition(c Command) (string, error) {
	return "", s.course.record(s.course.sim().Partition(c.Groups...))
}

// setNetwork changes one setting; lab validates the result (Network.Validate,
// called by SetNetwork), the one place a network is checked.
func (s *Session) setNetwork(c Command) (string, error) {
	sim := s.course.sim()
	n, err := sim.Network().WithKnob(c.Knob, *c.Value)
	if err != nil {
		return "", err
	}
	return "", s.course.record(sim.SetNetwork(n))
}

// proposalOverhead is what an entry costs beyond its text, counted against
// the run's bound on proposals.
const proposalOverhead = 64

func (s *Session) propose(c Command) (string, error) {
	sim := s.course.sim()
	id := c.Node
	if id == 0 {
		if id, _ = sim.View().Leader(); id == raft.None {
			return "", errors.New("there is no leader to propose to right now: wait for an election, or pick a node")
		}
	}
	// Each entry costs more than its text (its index, term, and a place in
	// every log and state frame): charged proposalOverhead bytes on top, so
	// that a run of one-byte commands is bounded too.
	if err := s.course.allowProposal(len(c.Text) + proposalOverhead); err != nil {
		return "", err
	}
	index, term, ok, err := sim.Propose(id, []byte(c.Text))
	if err := s.course.record(err); err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("n%d refused %q: it is not the leader", id, c.Text), nil
	}
	return fmt.Sprintf("n%d took %q at index %d in term %d", id, c.Text, index, term), nil
}

// seek shows the run as it was at a time or an event, paused.
func (s *Session) seek(c Command) (string, error) {
	s.pace.pause()
	to := seekTarget{}
	if c.Seq != nil {
		to.BySeq, to.Seq = true, *c.Seq
	} else {
		to.Time = time.Duration(*c.Time)
	}
	// The seek runs off the session's goroutine (course.go); the state
	// frame follows the ack once the run stands at the target.
	return "", s.course.seek(to, s.post, func(err error) {
		if err != nil {
			s.fan.broadcast(errorFrameFor(c, err))
			return
		}
		s.fan.broadcast(s.stateFrame("seek"))
	})
}

// toLive runs to the end of the recording and carries on from there.
func (s *Session) toLive(c Command) (string, error) {
	// Off the session's goroutine, like a seek (course.go).
	return "", s.course.toLive(s.post, func(err error) {
		if err != nil {
			s.fan.broadcast(errorFrameFor(c, err))
			return
		}
		s.pace.resume(time.Now())
		s.fan.broadcast(s.stateFrame("live"))
	})
}

// reset starts a new cluster, with a new seed and node count if given.
func (s *Session) reset(c Command) (string, error) {
	opts := s.course.opts
	if c.Seed != nil {
		opts.Seed = *c.Seed
	}
	if c.Nodes != 0 {
		opts.Nodes = c.Nodes
	}
	opts.Network = s.opts.Network
	if err := s.course.reset(opts); err != nil {
		return "", err
	}
	s.scenario = nil
	s.fan.broadcast(s.stateFrame("reset"))
	return fmt.Sprintf("a new cluster of %d nodes, seed %d", opts.Nodes, opts.Seed), nil
}

// branch starts a new course from here if the run is in the past, and tells
// every viewer.
func (s *Session) branch() {
	if f := s.course.branch(); f != nil {
		s.fan.broadcast(encode(f))
	}
}

// record is the course's, for scenarios.
func (s *Session) record(err error) error { return s.course.record(err) }
