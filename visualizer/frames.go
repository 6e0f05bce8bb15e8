package visualizer

import (
	"fmt"
	"slices"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade"
	"github.com/raftlab/raftlab/raft"
)

// Frame building: what a viewer is told, read from the session's course and
// pacer. The frame types are in protocol.go, next to the commands.

func (s *Session) helloFrame(v *viewer) helloFrame {
	h := helloFrame{Type: "hello", Version: ProtocolVersion, Impl: s.course.opts.Impl, Control: v.control, Warning: s.warning}
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
	view := s.course.sim().View()
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
	st, ok := s.course.sim().Status(id)
	if !ok {
		return timers{}
	}
	return timers{ElectionElapsed: st.ElectionElapsed, ElectionTimeout: st.ElectionTimeout, Progress: st.Progress}
}

func (s *Session) clock() clock {
	sim := s.course.sim()
	return clock{Time: sim.Now(), Seq: sim.Seq(), Paused: s.pace.paused, Speed: s.pace.speed, Live: s.course.live(), Horizon: s.course.horizon}
}

func (s *Session) stateFrame(reason string) []byte {
	sim := s.course.sim()
	view := sim.View()
	cfg := sim.Options().Config
	cfg.ID, cfg.Peers = 0, nil
	f := stateFrame{
		Type: "state", Reason: reason, Impl: s.course.opts.Impl, Seed: s.course.opts.Seed,
		clock: s.clock(), Config: cfg, Network: sim.Network(), Groups: view.Groups,
		Nodes: s.nodeStates(), InFlight: s.course.sent.inFlight(sim.InFlight()), Violations: sim.Violations(),
		History: eventsJSON(s.course.history), Leader: leaderMarkOf(view),
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
	f := statusFrame{Type: "status", clock: s.clock(), Leader: leaderMarkOf(s.course.sim().View())}
	for _, n := range s.course.sim().View().Nodes {
		f.Nodes = append(f.Nodes, nodeTimer{ID: n.ID, LastApplied: n.Applied, timers: s.timers(n.ID)})
	}
	if s.scenario != nil {
		f.Scenario = s.scenario.narration()
	}
	return encode(f)
}

func errorFrameFor(c Command, err error) []byte {
	return encode(errorFrame{Type: "error", ID: c.ID, Op: c.Op, Error: err.Error()})
}

func ackFrameFor(c Command, text string) []byte {
	return encode(ackFrame{Type: "ack", ID: c.ID, Op: c.Op, Text: text})
}
