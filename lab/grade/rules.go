package grade

import (
	"fmt"
	"slices"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// Rule tests: one deterministic scenario per rule of Figure 2 that random
// schedules reach only by luck. Each forces its interleaving with the lab's
// message-level control — hold a message, deliver it late, duplicate it,
// deliver a reply from an earlier term — so that an implementation that drops
// or inverts the rule fails on the first seed. They are strategy-neutral: they
// wait "until a condition, or a generous bound", never a number of ticks, and
// they rely on nothing Figure 2 calls optional. The README's table "Rules and
// the tests that guard them" maps each rule to its test and broken variant.
//
// The tests join their stage's suite here, after the stage's own tests.
func init() {
	stage1Tests = append(stage1Tests, rules1Tests...)
	stage2Tests = append(stage2Tests, rules2Tests...)
}

// settle carries out what the last command or delivery set off, without
// letting virtual time pass.
func (h *Harness) settle() {
	h.sim.RunUntil(h.Now())
	h.checkSafety()
}

// holdWhere holds every message match accepts as it is sent, until
// holdWhere(nil).
func (h *Harness) holdWhere(match func(m *raft.Message) bool) { h.sim.HoldMatching(match) }

// heldWhere lists the held messages match accepts, in the order they were held.
func (h *Harness) heldWhere(match func(m *raft.Message) bool) []lab.InFlight {
	return slices.DeleteFunc(h.sim.Held(), func(f lab.InFlight) bool { return !match(f.Msg) })
}

// awaitHeld lets the cluster run, a millisecond at a time, until at least n
// held messages match, for up to bound. It returns them.
func (h *Harness) awaitHeld(match func(m *raft.Message) bool, n int, bound time.Duration) []lab.InFlight {
	end := h.Now() + bound
	for {
		h.settle()
		if got := h.heldWhere(match); len(got) >= n || h.Now() >= end {
			return got
		}
		h.Run(time.Millisecond)
	}
}

// release delivers a held message now, and carries out what it sets off.
func (h *Harness) release(f lab.InFlight) {
	if err := h.sim.Release(f.Sent); err != nil {
		h.Fatalf("harness", "%v", err)
	}
	h.settle()
}

// duplicate delivers a copy of a held message now.
func (h *Harness) duplicate(f lab.InFlight) {
	if err := h.sim.Duplicate(f.Sent); err != nil {
		h.Fatalf("harness", "%v", err)
	}
	h.settle()
}

// releaseAll stops holding and lets every held message go on its way.
func (h *Harness) releaseAll() {
	h.holdWhere(nil)
	for _, f := range h.sim.Held() {
		h.release(f)
	}
}

// runUntil lets the cluster run until cond holds, for up to bound, and
// reports whether it came to hold.
func (h *Harness) runUntil(cond func() bool, bound time.Duration) bool {
	end := h.Now() + bound
	for !cond() {
		if h.Now() >= end {
			return false
		}
		h.Run(time.Millisecond)
	}
	return true
}

// msgIs matches messages of type t from one server to another (None: any).
func msgIs(t raft.MessageType, from, to raft.NodeID) func(m *raft.Message) bool {
	return func(m *raft.Message) bool {
		return m.Type == t && (from == raft.None || m.From == from) && (to == raft.None || m.To == to)
	}
}

func anyOf(fs ...func(m *raft.Message) bool) func(m *raft.Message) bool {
	return func(m *raft.Message) bool {
		for _, f := range fs {
			if f(m) {
				return true
			}
		}
		return false
	}
}

// candidateIn makes id's election timer expire and checks that it became a
// candidate in term: Figure 2, on conversion to candidate, increment
// currentTerm.
func (h *Harness) candidateIn(id raft.NodeID, term uint64) {
	h.forceTimeout(id)
	h.settle()
	if st := h.Status(id); st.Role != raft.Candidate || st.Term != term {
		h.Fatalf("candidate", "%v's election timer expired in term %d, and it is now %v in term %d. Figure 2, rules for candidates: "+
			"on conversion to candidate, increment currentTerm and start an election%s", id, term-1, st.Role, st.Term, h.describe())
	}
}

func (h *Harness) others(not ...raft.NodeID) []raft.NodeID {
	return slices.DeleteFunc(h.ids(), func(id raft.NodeID) bool { return slices.Contains(not, id) })
}

func nodes(ids []raft.NodeID) string { return fmt.Sprint(ids) }
