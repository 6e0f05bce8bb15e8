package grade

import (
	"slices"

	"github.com/raftlab/raftlab/raft"
)

// Rule tests of stage 2, log replication (sections 5.3 and 5.4, Figure 2).

var rules2Tests = []*Test{
	{Stage: 2, Name: "LateAppendEntries", Points: 3, Nodes: 3, Seeds: 10, Run: testLateAppendEntries,
		What: "an AppendEntries delivered late and twice, after later entries committed, neither shortens the follower's log nor lowers its commitIndex"},
	{Stage: 2, Name: "ConflictingEntries", Points: 3, Nodes: 5, Seeds: 10, Run: testConflictingEntries,
		What: "a follower holding three entries of a deposed leader is repaired by a leader that committed two others at those indexes: the consistency check refuses, the conflicting entries and all after them are deleted"},
	{Stage: 2, Name: "CommitNeedsMajority", Points: 3, Nodes: 3, Seeds: 10, Run: testCommitNeedsMajority,
		What: "an entry is committed only once a majority stores it: matchIndex comes from the follower's reply, not from what was sent"},
	{Stage: 2, Name: "UpToDateVote", Points: 3, Nodes: 3, Seeds: 10, Run: testUpToDateVote,
		What: "a server refuses its vote to a candidate whose log is less up-to-date than its own (section 5.4.1)"},
}

// carries matches AppendEntries from one server to another that carry an
// entry at index at or after from.
func carries(leader, to raft.NodeID, from uint64) func(m *raft.Message) bool {
	return func(m *raft.Message) bool {
		return m.Type == raft.AppendEntries && m.From == leader && m.To == to &&
			slices.ContainsFunc(m.Entries, func(e raft.Entry) bool { return e.Index >= from })
	}
}

// testLateAppendEntries holds the first AppendEntries that carries a new
// entry to a follower, lets three more entries commit everywhere, then
// delivers the held message twice. Its entries are all in the follower's log
// already, and its leaderCommit is old.
func testLateAppendEntries(h *Harness) {
	h.One("first", h.N(), true)
	leader := h.CheckOneLeader()
	f := follower(h, leader, 1)
	next := h.Status(leader).LastIndex() + 1
	taken := false
	late := carries(leader, f, next)
	h.holdWhere(func(m *raft.Message) bool {
		if !taken && late(m) {
			taken = true
			return true
		}
		return false
	})
	index, _, ok := h.Propose(leader, "late-1")
	if !ok {
		h.Fatalf("leader", "%v refused a command although it was leader a moment ago", leader)
	}
	held := h.awaitHeld(late, 1, 2*h.ElectionTimeout())
	h.holdWhere(nil)
	if len(held) == 0 {
		h.Fatalf("replication", "%v took a command at index %d but sent no AppendEntries carrying it to %v within %v. Figure 2, rules for leaders: "+
			"if last log index ≥ nextIndex for a follower, send AppendEntries RPC with log entries starting at nextIndex", leader, index, f, 2*h.ElectionTimeout())
	}
	for i := range 3 {
		h.One(cmd("late-after-", i), h.N(), true)
	}
	if !h.runUntil(func() bool { return h.Status(f).CommitIndex >= index+3 }, 2*h.ElectionTimeout()) {
		h.Fatalf("commit", "%v applied index %d but its commitIndex is %d%s", f, index+3, h.Status(f).CommitIndex, h.describe())
	}
	before := h.Status(f)
	// The checker stops the test if the follower's commitIndex goes back, or
	// its log drops a committed entry.
	at := h.duplicate(held[0])
	if st := h.Status(f); st.LastIndex() < before.LastIndex() {
		h.Fatalf("late AppendEntries", "a late AppendEntries (%s, delivered at event #%d) carrying entries %v already had shortened its log from %d to %d entries. Figure 2, AppendEntries receiver 3 and 4: "+
			"delete an existing entry only if it conflicts with a new one (same index, different terms); append any new entries not already in the log", sentAt(held[0]), at, f, before.LastIndex(), st.LastIndex())
	}
	at = h.release(held[0])
	if st := h.Status(f); st.LastIndex() < before.LastIndex() {
		h.Fatalf("late AppendEntries", "a late AppendEntries (%s, delivered again at event #%d) carrying entries %v already had shortened its log from %d to %d entries. Figure 2, AppendEntries receiver 3 and 4: "+
			"delete an existing entry only if it conflicts with a new one (same index, different terms); append any new entries not already in the log", sentAt(held[0]), at, f, before.LastIndex(), st.LastIndex())
	}
	h.One("late-end", h.N(), true)
}

// testCommitNeedsMajority: of three servers one is cut off. Two commands are
// proposed together; every AppendEntries that carries the second to the
// remaining follower is held. The leader may commit the first, never the
// second.
func testCommitNeedsMajority(h *Harness) {
	h.One("first", h.N(), true)
	leader := h.CheckOneLeader()
	f1, f2 := follower(h, leader, 1), follower(h, leader, 2)
	h.Disconnect(f2)
	k := h.Status(leader).LastIndex()
	h.holdWhere(carries(leader, f1, k+2))
	i1, _, ok1 := h.Propose(leader, "majority-1")
	i2, _, ok2 := h.Propose(leader, "majority-2")
	if !ok1 || !ok2 || i2 != i1+1 {
		h.Fatalf("leader", "%v refused a command, or put two commands proposed together at %d and %d", leader, i1, i2)
	}
	committed := ""
	h.RunUntilEvent(func(e *raft.Event) bool {
		if e.Kind == raft.EvCommit && e.Index >= i2 {
			committed = e.String()
			return true
		}
		return false
	}, 2*h.ElectionTimeout())
	st := h.Status(leader)
	n, _ := h.NCommitted(i2)
	if committed != "" || st.CommitIndex >= i2 || n > 0 {
		h.Fatalf("commit", "%v committed index %d (%s; commitIndex %d, applied by %d servers), which only it stores: %v never received it and %v is cut off. "+
			"Figure 2, rules for leaders: set commitIndex = N only if a majority of matchIndex[i] ≥ N — and matchIndex is what a follower's success reply confirms, not what was sent",
			leader, i2, committed, st.CommitIndex, n, f1, f2)
	}
	h.releaseAll()
	h.Connect(f2)
	h.One("majority-end", h.N(), true)
}

// testUpToDateVote: an entry is committed on the leader and one follower
// while the other follower is cut off. The leader is cut off, the behind
// follower returns and starts an election: the up-to-date follower must
// refuse it.
func testUpToDateVote(h *Harness) {
	h.One("first", h.N(), true)
	leader := h.CheckOneLeader()
	f1, f2 := follower(h, leader, 1), follower(h, leader, 2)
	h.Disconnect(f2)
	h.One("up-to-date", 2, true)
	h.Disconnect(leader)
	h.Connect(f2)
	h.holdWhere(msgIs(raft.RequestVoteReply, f1, f2))
	behind, ahead := h.Status(f2), h.Status(f1)
	h.candidateIn(f2, behind.Term+1)
	for _, r := range h.awaitHeld(msgIs(raft.RequestVoteReply, f1, f2), 1, h.sim.Options().Config.HeartbeatTimeout) {
		if r.Msg.VoteGranted {
			h.Fatalf("up-to-date", "%v granted its vote to %v (%s), whose last entry is %d/%d (index/term), while its own is %d/%d. "+
				"Figure 2, RequestVote receiver 2: grant only if the candidate's log is at least as up-to-date as the receiver's (section 5.4.1)",
				f1, f2, sentAt(r), behind.LastIndex(), behind.LastTerm(), ahead.LastIndex(), ahead.LastTerm())
		}
	}
	h.releaseAll()
	h.Connect(leader)
	h.One("up-to-date-end", h.N(), true)
}

// testConflictingEntries: the leader and one follower f are cut off with
// the leader taking three commands, which reach f only. The three others
// elect a leader and commit two commands at the same indexes. Then f
// rejoins them: the new leader's AppendEntries meets f's conflicting
// entries — first in the consistency check (prevLogIndex falls on an entry
// of the old term), then in receiver rule 3 (two new entries against three
// old ones: the third must go too).
func testConflictingEntries(h *Harness) {
	h.One("first", h.N(), true)
	old := h.CheckOneLeader()
	f := follower(h, old, 1)
	rest := []raft.NodeID{follower(h, old, 2), follower(h, old, 3), follower(h, old, 4)}
	k := h.Status(old).LastIndex() + 1
	h.Partition(rest, []raft.NodeID{old, f})
	for i := range 3 {
		if _, _, ok := h.Propose(old, cmd("deposed-", i)); !ok {
			h.Fatalf("leader", "%v refused a command although it was leader a moment ago", old)
		}
	}
	if !h.runUntil(func() bool { return h.Status(f).LastIndex() >= k+2 }, 2*h.ElectionTimeout()) {
		h.Fatalf("replication", "%v took three commands at indexes %d..%d, and %v, its follower, stores only %d entries after %v. Figure 2, rules for leaders: "+
			"if last log index ≥ nextIndex for a follower, send AppendEntries RPC with log entries starting at nextIndex%s", old, k, k+2, f, h.Status(f).LastIndex(), 2*h.ElectionTimeout(), h.describe())
	}
	h.One("kept-1", len(rest), true)
	h.One("kept-2", len(rest), true)
	h.Partition(append(rest, f), []raft.NodeID{old})
	// Let the new leader repair f before anything else is proposed.
	newLeader := h.CheckOneLeader()
	// Back up one entry per refusal, even at one AppendEntries per
	// heartbeat, and the repair takes a few heartbeats: the bound is
	// generous.
	bound := 4 * h.ElectionTimeout()
	if !h.runUntil(func() bool {
		lf, ll := h.Status(f).Log, h.Status(newLeader).Log
		return uint64(len(lf)) > k && uint64(len(ll)) > k && lf[k].Term == ll[k].Term
	}, bound) {
		lf, ll := h.Status(f).Log, h.Status(newLeader).Log
		if uint64(len(lf)) > k && uint64(len(ll)) > k && h.Status(newLeader).Role == raft.Leader {
			h.Fatalf("repair", "%v, leader of term %d, did not repair %v's log in %v: at index %d, %v still holds %v, written by the deposed leader %v, where %v holds %v. "+
				"Figure 2, rules for leaders: if AppendEntries fails because of log inconsistency, decrement nextIndex and retry — until prevLogIndex reaches an entry both logs share; "+
				"then AppendEntries receiver 3 deletes the conflicting entries and all that follow them (the refusals are in the events below)%s",
				newLeader, h.Status(newLeader).Term, f, bound, k+1, f, lf[k], old, newLeader, ll[k], h.describe())
		}
	}
	h.One("repaired", len(rest)+1, true)
	h.Partition(h.ids())
	h.One("all", h.N(), true)
}
