package visualizer

import (
	"encoding/json"
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

// What a state frame carries, so that it stays under MaxStateFrameBytes
// whatever the length of the run and of the logs: each node's newest
// logWindow entries (the page shows the newest; the commit point and the
// lengths are numbers), and the newest timeline events that fit in
// historyBytes. A frame holds at most MaxNodes windows of logWindow entries
// of at most MaxProposalBytes of command each in the worst case; in practice
// commands are a few bytes.
const (
	logWindow    = 64
	historyBytes = 96 << 10
	// MaxStateFrameBytes is the size a state frame stays under, however long
	// the run, with commands of ordinary length.
	MaxStateFrameBytes = 256 << 10
	// logFrameBytes bounds the command bytes one log frame carries.
	logFrameBytes = 128 << 10
)

// nodeStates reads every node's view and timers, each log cut to its window.
func (s *Session) nodeStates() []nodeState {
	view := s.course.sim().View()
	out := make([]nodeState, len(view.Nodes))
	for i, n := range view.Nodes {
		out[i] = windowState(n, s.timers(n.ID))
	}
	return out
}

// logFrame answers a log command with part of one node's log.
func (s *Session) logFrame(c Command) []byte {
	view := s.course.sim().View()
	n := view.Node(c.Node)
	if n == nil {
		return errorFrameFor(c, fmt.Errorf("there is no node n%d: the nodes are n1 to n%d", c.Node, len(view.Nodes)))
	}
	count := c.Count
	if count == 0 {
		count = MaxLogEntries
	}
	return encode(logFrameOf(c, view.Seq, n, count))
}

// windowState is node n as a state frame shows it: its log cut to the newest
// logWindow entries (none of its snapshot's: those are compacted).
func windowState(n lab.NodeView, t timers) nodeState {
	ns := nodeState{NodeView: n, timers: t, LogLen: n.LastIndex()}
	from := max(n.LogBase, n.LastIndex()-min(n.LastIndex(), logWindow))
	ns.Log, ns.LogFrom = slices.Clone(n.Log[from-n.LogBase:]), from+1
	return ns
}

// logFrameOf answers log command c with node n's entries from c.From on (or
// from the first its log holds: those its snapshot covers are compacted), at
// most count and about logFrameBytes of commands.
func logFrameOf(c Command, seq uint64, n *lab.NodeView, count int) logFrame {
	from := max(*c.From, n.LogBase+1)
	f := logFrame{Type: "log", ID: c.ID, Node: c.Node, Seq: seq, From: from, LogLen: n.LastIndex(), Entries: []raft.Entry{}}
	bytes := 0
	for i := from; i <= n.LastIndex() && len(f.Entries) < count && bytes < logFrameBytes; i++ {
		en, _ := n.Entry(i)
		f.Entries = append(f.Entries, en)
		bytes += len(en.Command)
	}
	return f
}

// historyJSON writes the newest events that fit in about budget bytes, oldest
// first, as a JSON array.
func historyJSON(events []raft.Event, budget int) json.RawMessage {
	first, size := len(events), 0
	var one []byte
	for first > 0 {
		one = events[first-1].AppendJSON(one[:0])
		if size+len(one)+1 > budget {
			break
		}
		size += len(one) + 1
		first--
	}
	return eventsJSON(events[first:])
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
		History: historyJSON(s.course.history, historyBytes), Leader: leaderMarkOf(view),
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
