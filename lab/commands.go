package lab

import (
	"errors"
	"fmt"
	"slices"

	"github.com/raftlab/raftlab/raft"
)

// Commands change a running cluster from outside: crash and restart nodes,
// cut the network, propose commands. Each is recorded as an event carrying
// the step at which it applied, so that replaying the commands of a trace
// against the same seed gives the same run.

// command emits a command's event, stamped with the current step.
func (s *Sim) command(ev raft.Event) {
	ev.Step = s.steps
	s.emit(&ev)
}

func (s *Sim) nodeErr(id raft.NodeID) (*simNode, error) {
	n := s.node(id)
	if n == nil {
		return nil, fmt.Errorf("lab: there is no node %v: nodes are n1 to n%d", id, len(s.nodes))
	}
	return n, nil
}

// Crash stops node id at once. Its volatile state is gone; its storage stays.
// Whatever the node's last step did that has not happened yet — messages not
// yet sent, state not yet saved — never happens.
func (s *Sim) Crash(id raft.NodeID) error {
	n, err := s.nodeErr(id)
	if err != nil {
		return err
	}
	if n.impl == nil {
		return fmt.Errorf("lab: %v is already down", id)
	}
	n.impl = nil
	n.inc++
	s.command(raft.Event{Kind: raft.EvCrash, Node: id})
	return nil
}

// Restart starts a fresh instance of node id from what it stored.
func (s *Sim) Restart(id raft.NodeID) error {
	n, err := s.nodeErr(id)
	if err != nil {
		return err
	}
	if n.impl != nil {
		return fmt.Errorf("lab: %v is running: crash it before restarting it", id)
	}
	saved, _ := n.store.Load()
	s.command(raft.Event{Kind: raft.EvRestart, Node: id})
	restored := raft.Saved{HardState: saved.HardState, Log: slices.Clone(saved.Log), Snapshot: saved.Snapshot}
	if st, ok := s.boot(n, restored); ok {
		cause := raft.Event{Seq: s.seq, Time: s.now, Node: id}
		for _, v := range s.check.checkRestart(&cause, st, saved) {
			s.violate(v)
		}
	}
	return nil
}

// Propose asks node id to add cmd to the log, as a client would. It returns
// what the node's Propose returned.
func (s *Sim) Propose(id raft.NodeID, cmd []byte) (index, term uint64, isLeader bool, err error) {
	n, err := s.nodeErr(id)
	if err != nil {
		return 0, 0, false, err
	}
	if n.impl == nil {
		return 0, 0, false, fmt.Errorf("lab: %v is down", id)
	}
	cmd = slices.Clone(cmd)
	s.drain()
	steps := s.steps
	s.proposed.cmd = cmd
	s.call(n, callPropose, nil)
	index, term, isLeader = s.proposed.index, s.proposed.term, s.proposed.ok
	s.proposed.cmd, s.proposed.index, s.proposed.term, s.proposed.ok = nil, 0, 0, false
	ev := raft.Event{Kind: raft.EvPropose, Node: id, Index: index, Term: term,
		Entries: []raft.Entry{{Index: index, Term: term, Command: cmd}}}
	if !isLeader {
		ev.Text = "refused: not the leader"
	}
	// The command event goes before the events of the call it caused, which
	// are still pending.
	ev.Step = steps
	s.emit(&ev)
	return index, term, isLeader, nil
}

// ProposeToLeader offers cmd to the leader (View.Leader: the highest term among
// servers that believe they lead), as a client that knows the leader would. It returns the leader, or an error if no
// running node believes it leads.
func (s *Sim) ProposeToLeader(cmd []byte) (leader raft.NodeID, index, term uint64, err error) {
	best, _ := s.view.Leader()
	if best == raft.None {
		return raft.None, 0, 0, errors.New("lab: no node believes it is the leader right now")
	}
	index, term, ok, err := s.Propose(best, cmd)
	if err == nil && !ok {
		err = fmt.Errorf("lab: %v refused the command: it is no longer the leader", best)
	}
	return best, index, term, err
}

// ForceTimeout makes node id's election timer expire now, by ticking it until
// it does: a follower or candidate starts an election.
func (s *Sim) ForceTimeout(id raft.NodeID) error {
	n, err := s.nodeErr(id)
	if err != nil {
		return err
	}
	if n.impl == nil {
		return fmt.Errorf("lab: %v is down", id)
	}
	st, ok := s.status(n)
	if !ok {
		return fmt.Errorf("lab: %v failed to report its status", id)
	}
	if st.Role == raft.Leader {
		return fmt.Errorf("lab: %v is the leader: a leader has no election timer", id)
	}
	ticks := max(st.ElectionTimeout-st.ElectionElapsed, 1)
	if ticks > 2*n.cfg.ElectionTicks()+2 {
		ticks = 2*n.cfg.ElectionTicks() + 2
	}
	s.drain()
	s.command(raft.Event{Kind: raft.EvTimeout, Node: id})
	s.timeoutTicks = ticks
	s.call(n, callTimeout, nil)
	return nil
}

// Partition splits the network into groups: messages pass only between nodes
// of the same group. A node named in no group is cut off alone. Partition
// with one group of every node heals the network.
func (s *Sim) Partition(groups ...[]raft.NodeID) error {
	groupOf := make([]int, len(s.nodes))
	for i := range groupOf {
		groupOf[i] = -1
	}
	var norm [][]raft.NodeID
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		for _, id := range g {
			if s.node(id) == nil {
				return fmt.Errorf("lab: partition names %v, but nodes are n1 to n%d", id, len(s.nodes))
			}
			if groupOf[id-1] >= 0 {
				return fmt.Errorf("lab: partition puts %v in two groups", id)
			}
			groupOf[id-1] = len(norm)
		}
		norm = append(norm, slices.Clone(g))
	}
	for i, g := range groupOf {
		if g < 0 {
			norm = append(norm, []raft.NodeID{raft.NodeID(i + 1)})
		}
	}
	for _, g := range norm {
		slices.Sort(g)
	}
	slices.SortFunc(norm, func(a, b []raft.NodeID) int { return int(a[0] - b[0]) })
	for i, g := range norm {
		for _, id := range g {
			s.nodes[id-1].group = i
		}
	}
	s.command(raft.Event{Kind: raft.EvPartition, Groups: norm})
	return nil
}

// Isolate cuts node id off from every other node; the rest stay as they were.
func (s *Sim) Isolate(id raft.NodeID) error {
	if _, err := s.nodeErr(id); err != nil {
		return err
	}
	var groups [][]raft.NodeID
	for _, g := range s.view.Groups {
		groups = append(groups, slices.DeleteFunc(slices.Clone(g), func(x raft.NodeID) bool { return x == id }))
	}
	return s.Partition(append(groups, []raft.NodeID{id})...)
}

// Heal reconnects every node.
func (s *Sim) Heal() {
	all := make([]raft.NodeID, len(s.nodes))
	for i := range all {
		all[i] = raft.NodeID(i + 1)
	}
	_ = s.Partition(all) // one group of valid IDs: cannot fail
}

// SetNetwork changes how the network behaves from now on. Messages already
// on their way keep the fate they were given when sent.
func (s *Sim) SetNetwork(n Network) error {
	if err := n.Validate(); err != nil {
		return err
	}
	old, cur := s.net.knobs(), n.knobs()
	for i := range cur {
		if cur[i] != old[i] {
			if err := s.setKnob(cur[i].name, cur[i].value); err != nil {
				return err
			}
		}
	}
	return nil
}

// setKnob changes one network setting, as a network event records it.
func (s *Sim) setKnob(name string, v float64) error {
	n, err := s.net.WithKnob(name, v)
	if err != nil {
		return err
	}
	if err := n.Validate(); err != nil {
		return err
	}
	s.net = n
	s.command(raft.Event{Kind: raft.EvNetwork, Knob: name, Value: v})
	return nil
}

// ErrNotCommand is returned by Do for an event that is not a command.
var ErrNotCommand = errors.New("lab: not a command event")

// Do applies a recorded command event again, now.
func (s *Sim) Do(cmd *raft.Event) error {
	switch cmd.Kind {
	case raft.EvCrash:
		return s.Crash(cmd.Node)
	case raft.EvRestart:
		return s.Restart(cmd.Node)
	case raft.EvTimeout:
		return s.ForceTimeout(cmd.Node)
	case raft.EvPartition:
		return s.Partition(cmd.Groups...)
	case raft.EvNetwork:
		return s.setKnob(cmd.Knob, cmd.Value)
	case raft.EvHold:
		return s.Hold(cmd.Cause)
	case raft.EvRelease:
		return s.Release(cmd.Cause)
	case raft.EvDiscard:
		return s.Discard(cmd.Cause)
	case raft.EvDuplicate:
		return s.Duplicate(cmd.Cause)
	case raft.EvCompact:
		_, _, err := s.TakeSnapshot(cmd.Node)
		return err
	case raft.EvPropose:
		if len(cmd.Entries) != 1 {
			return fmt.Errorf("lab: propose event #%d has %d entries, want 1", cmd.Seq, len(cmd.Entries))
		}
		_, _, _, err := s.Propose(cmd.Node, cmd.Entries[0].Command)
		return err
	}
	return fmt.Errorf("%w: %v", ErrNotCommand, cmd.Kind)
}
