package lab

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/raftlab/raftlab/raft"
)

// Log compaction in the simulator (stage 4).
//
// Every simulated server has a state machine: a running digest of every
// command it applied, in order. A snapshot of it is 16 bytes — the index of
// the last entry applied and the digest — so a snapshot has content, and a
// server restored from a wrong snapshot (or one that applies an entry twice,
// or skips one) ends up with a digest that differs from the one the checker
// computes from the committed entries.
//
// The simulator plays the service: with Options.SnapshotEvery = N, whenever a
// server's state machine has applied N entries past its last snapshot, the
// simulator hands the node a snapshot (raft.Compactor). Tests can also ask for
// one at a chosen moment with Sim.TakeSnapshot. A node that does not implement
// raft.Compactor never sees a snapshot.

// stateMachine is the lab's replicated state machine: a digest of the applied commands.
type stateMachine struct {
	applied uint64 // index of the last entry applied
	digest  uint64
}

func (sm *stateMachine) apply(e raft.Entry) {
	h := fnv.New64a()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], sm.digest)
	binary.BigEndian.PutUint64(b[8:], e.Index)
	h.Write(b[:])
	h.Write(e.Command)
	sm.digest = h.Sum64()
	sm.applied = e.Index
}

func (sm stateMachine) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[:8], sm.applied)
	binary.BigEndian.PutUint64(b[8:], sm.digest)
	return b
}

func decodeStateMachine(b []byte) (stateMachine, error) {
	if len(b) != 16 {
		return stateMachine{}, fmt.Errorf("the snapshot holds %d bytes, not the 16 of the lab's state machine", len(b))
	}
	return stateMachine{applied: binary.BigEndian.Uint64(b[:8]), digest: binary.BigEndian.Uint64(b[8:])}, nil
}

func snapshotEntry(snap raft.Snapshot) []raft.Entry {
	return []raft.Entry{{Index: snap.LastIncludedIndex, Term: snap.LastIncludedTerm, Command: slices.Clone(snap.Data)}}
}

// SaveSnapshot makes nodeEnv a raft.SnapshotEnv.
func (e *nodeEnv) SaveSnapshot(snap raft.Snapshot) {
	if e.active() {
		e.add(raft.Event{Kind: raft.EvSnapshot, Index: snap.LastIncludedIndex, Term: snap.LastIncludedTerm, Entries: snapshotEntry(snap)})
	}
}

// RestoreSnapshot resets the node's state machine to snap.
func (e *nodeEnv) RestoreSnapshot(snap raft.Snapshot) {
	if e.active() {
		e.add(raft.Event{Kind: raft.EvRestore, Index: snap.LastIncludedIndex, Term: snap.LastIncludedTerm, Entries: snapshotEntry(snap)})
	}
}

// TakeSnapshot has node id's state machine hand the node a snapshot of
// everything it has applied, now, as a service compacting its log would. It
// reports false if the node is down, does not compact (no raft.Compactor), or
// has applied nothing since starting.
func (s *Sim) TakeSnapshot(id raft.NodeID) (index uint64, ok bool, err error) {
	n, err := s.nodeErr(id)
	if err != nil {
		return 0, false, err
	}
	s.drain()
	s.command(raft.Event{Kind: raft.EvCompact, Node: id})
	if n.impl == nil || n.sm.applied == 0 {
		return 0, false, nil
	}
	if _, ok := n.impl.(raft.Compactor); !ok {
		return 0, false, nil
	}
	index = n.sm.applied
	return index, s.call(n, callSnapshot, nil), nil
}

// snapshotDue notes, after node n applied an entry, whether the service
// should compact now (Options.SnapshotEvery).
func (s *Sim) snapshotDue(n *simNode) {
	if every := uint64(s.opts.SnapshotEvery); every > 0 && n.sm.applied >= n.lastSnap+every && !slices.Contains(s.snapDue, n) {
		s.snapDue = append(s.snapDue, n)
	}
}

// takeDueSnapshot hands one due snapshot to its node; false if none is due.
func (s *Sim) takeDueSnapshot() bool {
	if len(s.snapDue) == 0 {
		return false
	}
	n := s.snapDue[0]
	s.snapDue = s.snapDue[1:]
	if n.impl != nil {
		if _, ok := n.impl.(raft.Compactor); ok {
			s.call(n, callSnapshot, nil)
		}
	}
	return true
}

// invokeSnapshot is the call itself: the state machine's snapshot, handed over.
func (s *Sim) invokeSnapshot(n *simNode) {
	c, ok := n.impl.(raft.Compactor)
	if !ok {
		return
	}
	n.lastSnap = n.sm.applied
	c.Snapshot(n.sm.applied, n.sm.encode())
}

// restoreStateMachine resets n's state machine to the snapshot of event ev
// (EvRestore), and records the entries it covers as applied: they are the
// committed ones (the checker makes sure of it), so AppliedAt reads them from
// the checker.
func (s *Sim) restoreStateMachine(n *simNode, ev *raft.Event) {
	sm, err := decodeStateMachine(ev.Entries[0].Command)
	if err != nil {
		return // the checker reports it
	}
	n.sm = sm
	n.lastSnap = max(n.lastSnap, sm.applied)
	for i := range n.appliedOdd {
		if i <= ev.Index {
			delete(n.appliedOdd, i)
		}
	}
	n.appliedLen = max(n.appliedLen, ev.Index)
}

// bootStateMachine gives a starting node the state machine its stored
// snapshot holds (a crash loses the state machine's memory, like the node's),
// and queues the restore event.
func (s *Sim) bootStateMachine(n *simNode, saved raft.Saved) {
	n.sm, n.lastSnap = stateMachine{}, 0
	if saved.Snapshot.IsEmpty() {
		return
	}
	if sm, err := decodeStateMachine(saved.Snapshot.Data); err == nil {
		n.sm, n.lastSnap = sm, sm.applied
	}
	ev := raft.Event{Kind: raft.EvRestore, Node: n.id, Index: saved.Snapshot.LastIncludedIndex, Term: saved.Snapshot.LastIncludedTerm, Entries: snapshotEntry(saved.Snapshot)}
	s.pending = append(s.pending, unit{ev: ev, node: n, inc: n.inc})
}

// committedAt returns the entry committed at index, if the checker knows it
// (not forgotten: see checker.forget).
func (c *checker) committedAt(index uint64) (raft.Entry, bool) {
	if index <= c.base || index > c.last() || c.committed[index-c.base-1].entry.Index == 0 {
		return raft.Entry{}, false
	}
	return c.committed[index-c.base-1].entry, true
}

// digestThrough is the state machine's digest after applying the committed
// entries 1..index; false if the checker does not know them all. Below base
// it knows it only at the index of a snapshot a server saved.
func (c *checker) digestThrough(index uint64) (uint64, bool) {
	if index < c.base {
		d, ok := c.snapDigests[index]
		return d, ok
	}
	if !c.baseKnown {
		return 0, false
	}
	sm := c.baseDigest
	if c.cursor.applied >= c.base && c.cursor.applied <= index {
		sm = c.cursor // snapshots come in index order: start where the last one ended
	}
	for i := sm.applied + 1; i <= index; i++ {
		en, ok := c.committedAt(i)
		if !ok {
			return 0, false
		}
		sm.apply(en)
	}
	c.cursor = sm
	return sm.digest, true
}

// checkSnapshot: a snapshot covers committed entries only, and its last
// entry is the committed one (Log Matching over the compacted prefix).
func (c *checker) checkSnapshot(e *raft.Event, n *NodeView) {
	if len(e.Entries) != 1 {
		return
	}
	if e.Index > n.Commit {
		c.report(e, RuleApplyOnlyCommitted, "%v saved a snapshot through index %d, but its commitIndex is %d: a snapshot holds only committed entries", e.Node, e.Index, n.Commit)
		return
	}
	if en, ok := c.committedAt(e.Index); ok && en.Term != e.Term {
		c.report(e, RuleLogMatching, "%v saved a snapshot whose last entry is %d/%d, but %s was committed at index %d (by %v)", e.Node, e.Index, e.Term, en, e.Index, c.committed[e.Index-c.base-1].by)
		return
	}
	if _, ok := c.snapDigests[e.Index]; !ok && e.Index > c.base {
		if d, ok := c.digestThrough(e.Index); ok {
			c.snapDigests[e.Index] = d
		}
	}
}

// checkRestore: a state machine restored from a snapshot holds exactly the
// committed entries up to its index (State Machine Safety), and never goes
// back past what it already applied (no entry applied twice).
func (c *checker) checkRestore(e *raft.Event, n *NodeView) {
	if len(e.Entries) != 1 {
		return
	}
	if e.Index > n.Commit {
		c.report(e, RuleApplyOnlyCommitted, "%v reset its state machine to a snapshot through index %d, but its commitIndex is %d: a snapshot's entries are committed, so commitIndex moves up to lastIncludedIndex with it (Figure 13)", e.Node, e.Index, n.Commit)
		return
	}
	if e.Index < n.Applied {
		c.report(e, RuleApplyInOrder, "%v reset its state machine to a snapshot through index %d after applying up to %d: the state machine went back, and entries %d..%d will be applied twice", e.Node, e.Index, n.Applied, e.Index+1, n.Applied)
		return
	}
	sm, err := decodeStateMachine(e.Entries[0].Command)
	if err != nil {
		c.report(e, RuleStateMachineSafety, "%v restored a snapshot through index %d that is not one the state machine took: %v", e.Node, e.Index, err)
		return
	}
	if sm.applied != e.Index {
		c.report(e, RuleStateMachineSafety, "%v restored, as a snapshot through index %d, the state machine's snapshot through index %d", e.Node, e.Index, sm.applied)
		return
	}
	if want, ok := c.digestThrough(e.Index); ok && want != sm.digest {
		c.report(e, RuleStateMachineSafety, "%v restored a state machine through index %d that differs from the committed entries 1..%d", e.Node, e.Index, e.Index)
	}
}
