package grade

import (
	"fmt"
	"slices"
	"strings"
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
	stage4Tests = append(stage4Tests, rules4Tests...)
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

// release delivers a held message now, and carries out what it sets off. It
// returns the number of the delivery event, for a report to cite.
func (h *Harness) release(f lab.InFlight) uint64 {
	seq, _ := h.releaseNoting(f, nil)
	return seq
}

// releaseNoting is release, and also returns the first event of what the
// delivery set off that match accepts, as a report shows it ("" if none).
func (h *Harness) releaseNoting(f lab.InFlight, match func(e *raft.Event) bool) (delivered uint64, noted string) {
	if err := h.sim.Release(f.Sent); err != nil {
		h.setupRefused("deliver the message it held, "+sentAt(f), err)
	}
	delivered = h.sim.Seq()
	return delivered, h.settleNoting(match)
}

// duplicate delivers a copy of a held message now, and returns the number of
// the delivery event.
func (h *Harness) duplicate(f lab.InFlight) uint64 {
	seq, _ := h.duplicateNoting(f, nil)
	return seq
}

// duplicateNoting is duplicate, and also returns the first event of what the
// copy set off that match accepts ("" if none).
func (h *Harness) duplicateNoting(f lab.InFlight, match func(e *raft.Event) bool) (delivered uint64, noted string) {
	if err := h.sim.Duplicate(f.Sent); err != nil {
		h.setupRefused("deliver a copy of the message it held, "+sentAt(f), err)
	}
	delivered = h.sim.Seq()
	return delivered, h.settleNoting(match)
}

// settleNoting is settle, and returns the first event it carried out that
// match accepts, as a report shows it ("" if none, or if match is nil).
func (h *Harness) settleNoting(match func(e *raft.Event) bool) string {
	noted := ""
	if match != nil {
		h.sim.RunUntilEvent(func(e *raft.Event) bool {
			if match(e) {
				noted = e.String()
				return true
			}
			return false
		}, h.Now())
	}
	h.settle()
	return noted
}

// setupRefused stops a test whose scenario the lab itself could not set up:
// doing says what the test was doing. It is never the student's servers'
// doing (they cannot make the lab refuse a command); the report says so.
func (h *Harness) setupRefused(doing string, err error) {
	h.Fatalf("test setup", "the test was about to %s, and the lab refused: %v. "+
		"Your servers did not cause this: it is a mistake in the test itself. Please report it with the command below, which replays this run%s", doing, err, h.describe())
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
	before := h.Status(id)
	func() {
		defer func() {
			// forceTimeout's own report speaks of a follower; a candidate
			// has a rule of its own.
			if r := recover(); r != nil {
				if f, ok := r.(failure); ok && f.check == "election timeout" && before.Role == raft.Candidate && len(h.sim.Violations()) == 0 {
					h.Fatalf("election timeout", "%v, a candidate in term %d with no reply to its RequestVotes, had its clock run more than twice ElectionTimeout and is still %v in term %d. "+
						"Figure 2, rules for candidates: if election timeout elapses: start new election — increment currentTerm, vote for self, reset the election timer, send RequestVote RPCs%s",
						id, before.Term, h.Status(id).Role, h.Status(id).Term, h.describe())
				}
				panic(r)
			}
		}()
		h.forceTimeout(id)
	}()
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

// firstLeader is CheckOneLeader at the start of a rule test. When no leader
// is elected, it looks for the cause in what Figure 2 asks of a candidate:
// it makes one server's election timer expire and checks that the server
// asks every other server for its vote.
func (h *Harness) firstLeader() raft.NodeID {
	var leader raft.NodeID
	func() {
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(failure); ok && f.check == "one leader" && len(h.sim.Violations()) == 0 {
					h.explainNoLeader(f.msg)
				}
				panic(r)
			}
		}()
		leader = h.CheckOneLeader()
	}()
	return leader
}

// explainNoLeader stops the test with the cause of a failed election when it
// is a candidate that does not send RequestVote to all other servers; else
// it returns, and the failure stands as it was.
func (h *Harness) explainNoLeader(failed string) {
	var id raft.NodeID
	for _, c := range h.ids() {
		if h.live(c) && h.Status(c).Role != raft.Leader {
			id = c
			break
		}
	}
	if id == raft.None {
		return
	}
	asks := msgIs(raft.RequestVote, id, raft.None)
	h.holdWhere(asks)
	if !h.forceTimeout(id) {
		return
	}
	held := h.awaitHeld(asks, h.N()-1, h.sim.Options().Config.HeartbeatTimeout)
	h.holdWhere(nil)
	if len(held) >= h.N()-1 {
		return
	}
	var to []raft.NodeID
	var sent []string
	for _, f := range held {
		to = append(to, f.Msg.To)
		sent = append(sent, sentAt(f))
	}
	h.Fatalf("candidate", "%s. To find out why, the test made %v's election timer expire: it became a candidate in term %d and sent RequestVote to %v only (%s), not to all %d other servers. "+
		"Figure 2, rules for candidates: on conversion to candidate, send RequestVote RPCs to all other servers — a candidate needs the votes of a majority of the whole cluster",
		strings.SplitN(failed, "\n", 2)[0], id, h.Status(id).Term, to, strings.Join(sent, "; "), h.N()-1)
}

// sentAt cites a held message by its send event, as the report's events
// show it: "event #92: n2->n1 RequestVoteReply term=3 granted".
func sentAt(f lab.InFlight) string { return fmt.Sprintf("event #%d: %v", f.Sent, f.Msg) }
