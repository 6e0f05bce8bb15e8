package grade

import (
	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// Rule tests of stage 1, leader election (section 5.2, Figure 2).

var rules1Tests = []*Test{
	{Stage: 1, Name: "VoteOnce", Points: 3, Nodes: 5, Seeds: 10, Run: testVoteOnce,
		What: "two candidates ask in the same term: each server votes for at most one, a candidate for itself, and grants a duplicated request of the one it voted for again; a candidate that hears from the new leader returns to follower"},
	{Stage: 1, Name: "VotesOfThisTerm", Points: 3, Nodes: 5, Seeds: 10, Run: testVotesOfThisTerm,
		What: "a candidate becomes leader only with votes from a majority of servers in its term: a duplicated vote counts once, a vote of an earlier term not at all; a candidate that sees a higher term steps down"},
	{Stage: 1, Name: "StepDownOnReply", Points: 3, Nodes: 3, Seeds: 10, Run: testStepDownOnReply,
		What: "a deposed leader that hears the higher term only in replies steps down"},
	{Stage: 1, Name: "StaleCandidateRefused", Points: 3, Nodes: 3, Seeds: 10, Run: testStaleCandidateRefused,
		What: "a RequestVote of an earlier term, delivered late to a server that has not voted in its own term, is refused"},
	{Stage: 1, Name: "StaleLeaderRefused", Points: 3, Nodes: 3, Seeds: 10, Run: testStaleLeaderRefused,
		What: "an AppendEntries from a deposed leader, delivered late, is refused"},
}

// testVoteOnce: the leader is cut off and two followers, a and c, time out
// together in the same term. Their RequestVotes are held and delivered so
// that every server sees both: b and d hear a first; a and c hear each other.
func testVoteOnce(h *Harness) {
	leader := h.firstLeader()
	term := h.CheckTerms()
	h.Disconnect(leader)
	rest := h.others(leader)
	a, c, b, d := rest[0], rest[1], rest[2], rest[3]
	h.holdWhere(anyOf(msgIs(raft.RequestVote, raft.None, raft.None), msgIs(raft.RequestVoteReply, raft.None, raft.None)))
	h.candidateIn(a, term+1)
	h.candidateIn(c, term+1)
	toRest := func(m *raft.Message) bool { return m.Type == raft.RequestVote && m.To != leader }
	reqs := h.awaitHeld(toRest, 6, h.sim.Options().Config.HeartbeatTimeout)
	held := func(from, to raft.NodeID) lab.InFlight {
		for _, f := range reqs {
			if f.Msg.From == from && f.Msg.To == to {
				return f
			}
		}
		h.Fatalf("candidate", "%v became a candidate in term %d but sent no RequestVote to %v. Figure 2, rules for candidates: send RequestVote RPCs to all other servers%s",
			from, term+1, to, h.describe())
		return lab.InFlight{}
	}
	find := func(from, to raft.NodeID) { h.release(held(from, to)) }
	// First come, first served: b and d hear a first, then c; a and c hear
	// each other. b hears a twice (the network duplicated a's RequestVote):
	// a copy first, the original last.
	again := held(a, b)
	h.duplicate(again)
	find(a, d)
	find(c, b)
	find(c, d)
	find(c, a)
	find(a, c)
	at := h.release(again)
	// votedFor is a's: the same request is granted again (the first reply
	// may have been lost, and a can win only with it).
	if replies := h.heldWhere(msgIs(raft.RequestVoteReply, b, a)); len(replies) == 2 && replies[0].Msg.VoteGranted && !replies[1].Msg.VoteGranted {
		h.Fatalf("vote", "%v granted its vote to %v in term %d (%s), then refused the same RequestVote delivered again at event #%d (%s): the network duplicated it, and the first reply could as well have been lost. "+
			"Figure 2, RequestVote receiver 2: if votedFor is null or candidateId, and the candidate's log is at least as up-to-date as the receiver's log, grant vote",
			b, a, term+1, sentAt(replies[0]), at, sentAt(replies[1]))
	}
	// The checker has seen every granted vote as it left: b or d granting both
	// breaks One Vote Per Term at once. A candidate voted for itself.
	for _, f := range h.heldWhere(msgIs(raft.RequestVoteReply, raft.None, raft.None)) {
		if m := f.Msg; m.VoteGranted && (m.From == a || m.From == c) && m.Term == term+1 {
			h.Fatalf("one vote per term", "%v, a candidate in term %d, granted its vote to %v in that term (%s). Figure 2, rules for candidates: on conversion to candidate, vote for self — "+
				"votedFor is then taken for the term, and RequestVote receiver 2 refuses everyone else", m.From, term+1, m.To, sentAt(f))
		}
	}
	h.holdWhere(msgIs(raft.RequestVote, raft.None, raft.None)) // replies flow from now on
	// Watch for the new leader's first AppendEntries to every other server.
	told := map[raft.NodeID]bool{}
	elected := "" // the event of a becoming leader
	watch := func(e *raft.Event) bool {
		if e.Kind == raft.EvRole && e.Node == a && e.Role == raft.Leader && elected == "" {
			elected = e.String()
		}
		if e.Kind == raft.EvSend && e.Msg.Type == raft.AppendEntries && e.Msg.From == a {
			told[e.Msg.To] = true
		}
		return len(told) == h.N()-1
	}
	for _, f := range h.heldWhere(msgIs(raft.RequestVoteReply, raft.None, raft.None)) {
		if err := h.sim.Release(f.Sent); err != nil {
			h.setupRefused("deliver the vote it held, "+sentAt(f), err)
		}
		h.RunUntilEvent(watch, 0)
	}
	if st := h.Status(a); st.Role != raft.Leader {
		h.Fatalf("election", "%v, a candidate in term %d, received votes from %v and %v (a majority of %d with its own) and is %v in term %d. Figure 2, rules for candidates: if votes received from a majority of servers, become leader%s",
			a, term+1, b, d, h.N(), st.Role, st.Term, h.describe())
	}
	// Upon election it tells every server at once (a tick or two of slack).
	tick := h.sim.Options().Config.TickInterval
	if len(told) < h.N()-1 && !h.RunUntilEvent(watch, 2*tick) {
		h.Fatalf("heartbeat", "%v became leader of term %d (%s) and sent AppendEntries to only %d of the %d other servers within %v. Figure 2, rules for leaders: "+
			"upon election, send initial empty AppendEntries RPCs (heartbeat) to each server — a candidate of the same term is waiting to hear of the leader",
			a, term+1, elected, len(told), h.N()-1, 2*tick)
	}
	// c, still a candidate in term+1, hears from the leader of its term.
	heard := ""
	isHeartbeat := func(e *raft.Event) bool {
		if e.Kind == raft.EvDeliver && e.Msg.Type == raft.AppendEntries && e.Msg.From == a && e.Msg.To == c {
			heard = e.String()
			return true
		}
		return false
	}
	if h.RunUntilEvent(isHeartbeat, 2*h.ElectionTimeout()) {
		h.settle()
		if st := h.Status(c); st.Term == term+1 && st.Role != raft.Follower {
			h.Fatalf("candidate steps down", "%v, a candidate in term %d, received AppendEntries from %v, the leader of term %d (%s), and is still %v. Figure 2, rules for candidates: "+
				"if AppendEntries RPC received from new leader: convert to follower", c, term+1, a, term+1, heard, st.Role)
		}
	}
	h.releaseAll()
	h.Connect(leader)
	h.CheckOneLeader()
}

// testVotesOfThisTerm: candidate a gets two grants, held. One is delivered
// three times; then a starts a new election and the grants of the old one
// arrive. Neither makes a majority of its term. Last, a RequestVote of a
// higher term reaches a, still a candidate: it steps down.
func testVotesOfThisTerm(h *Harness) {
	leader := h.firstLeader()
	term := h.CheckTerms()
	h.Disconnect(leader)
	rest := h.others(leader)
	a, b, d := rest[0], rest[1], rest[2]
	h.holdWhere(anyOf(msgIs(raft.RequestVote, a, raft.None), msgIs(raft.RequestVoteReply, raft.None, a), msgIs(raft.RequestVote, b, a)))
	h.candidateIn(a, term+1)
	reqs := h.awaitHeld(func(m *raft.Message) bool { return m.Type == raft.RequestVote && m.From == a && m.To != leader }, 3, h.sim.Options().Config.HeartbeatTimeout)
	// No reply yet: a third of the shortest election timeout later, a is
	// still a candidate of the same term.
	wait := h.ElectionTimeout() / 3
	newTerm := ""
	h.RunUntilEvent(func(e *raft.Event) bool {
		if e.Kind == raft.EvTerm && e.Node == a {
			newTerm = e.String()
			return true
		}
		return false
	}, wait)
	if st := h.Status(a); st.Term != term+1 {
		h.Fatalf("election timer", "%v became a candidate in term %d and, before any reply and less than %v later, moved on to term %d (%s); the shortest election timeout is %v. "+
			"Figure 2, rules for candidates: on conversion to candidate, reset the election timer", a, term+1, wait, st.Term, newTerm, h.ElectionTimeout())
	}
	for _, f := range reqs {
		if f.Msg.To == b || f.Msg.To == d {
			h.release(f)
		}
	}
	var rb, rd []int
	replies := h.heldWhere(msgIs(raft.RequestVoteReply, raft.None, a))
	for i, f := range replies {
		if f.Msg.VoteGranted && f.Msg.Term == term+1 {
			switch f.Msg.From {
			case b:
				rb = append(rb, i)
			case d:
				rd = append(rd, i)
			}
		}
	}
	if len(rb) == 0 || len(rd) == 0 {
		h.Fatalf("vote", "%v and %v, followers in term %d that had not voted, were asked for their vote by %v in term %d, whose log is as up-to-date as theirs, and did not both grant it. "+
			"Figure 2, RequestVote receiver 2: if votedFor is null or candidateId, and the candidate's log is at least as up-to-date as the receiver's, grant vote%s",
			b, d, term, a, term+1, h.describe())
	}
	becameLeader := func(e *raft.Event) bool { return e.Kind == raft.EvRole && e.Node == a && e.Role == raft.Leader }
	fb, fd := replies[rb[0]], replies[rd[0]]
	for _, times := range []string{"once", "twice"} {
		if _, won := h.duplicateNoting(fb, becameLeader); won != "" || h.Status(a).Role == raft.Leader {
			h.Fatalf("majority of votes", "%v became leader of term %d (%s) with votes from itself and %v only: %v's grant (%s) had been delivered %s. "+
				"A majority of %d servers is %d different servers — Figure 2, rules for candidates: if votes received from a majority of servers, become leader; count each voter once",
				a, term+1, won, b, b, sentAt(fb), times, h.N(), h.N()/2+1)
		}
	}
	h.candidateIn(a, term+2)
	_, won := h.releaseNoting(fb, becameLeader)
	if won == "" {
		_, won = h.releaseNoting(fd, becameLeader)
	} else {
		h.release(fd)
	}
	if st := h.Status(a); st.Role == raft.Leader {
		h.Fatalf("majority of votes", "%v became leader of term %d (%s) when the votes %v and %v granted it in term %d arrived late; nobody voted for it in term %d. "+
			"Figure 2, rules for candidates: if votes received from a majority of servers, become leader — votes of this election only: a reply whose term is not currentTerm is not a vote for it",
			a, st.Term, won, b, d, term+1, st.Term)
	}
	// a, a candidate in term+2, hears of a higher term: b, twice timed
	// out, asks for its vote in term+3.
	h.candidateIn(b, term+2)
	h.candidateIn(b, term+3)
	ask := h.awaitHeld(func(m *raft.Message) bool {
		return m.Type == raft.RequestVote && m.From == b && m.To == a && m.Term == term+3
	}, 1, h.sim.Options().Config.HeartbeatTimeout)
	if len(ask) == 0 {
		h.Fatalf("candidate", "%v became a candidate in term %d but sent no RequestVote to %v. Figure 2, rules for candidates: send RequestVote RPCs to all other servers", b, term+3, a)
	}
	at := h.release(ask[0])
	if st := h.Status(a); st.Term < term+3 {
		h.Fatalf("higher term", "%v, a candidate in term %d, received a RequestVote of term %d from %v (event #%d) and is still %v in term %d. "+
			"Figure 2, rules for all servers: if an RPC request or response contains term T > currentTerm: set currentTerm = T, convert to follower",
			a, term+2, term+3, b, at, st.Role, st.Term)
	}
	h.releaseAll()
	h.Connect(leader)
	h.CheckOneLeader()
}

// testStepDownOnReply: the leader is cut off while the others elect a new
// one. When it returns, everything sent to it except replies is held: it
// learns of the higher term only from the replies to its own heartbeats.
func testStepDownOnReply(h *Harness) {
	old := h.CheckOneLeader()
	h.Disconnect(old)
	h.CheckOneLeader()
	newTerm := h.CheckTerms()
	toOld := func(m *raft.Message) bool { return m.To == old && !m.Type.IsReply() }
	h.holdWhere(toOld)
	for _, f := range h.sim.InFlight() { // sent while it was cut off, still on their way
		if !f.Held && toOld(f.Msg) {
			if err := h.sim.Hold(f.Sent); err != nil {
				h.setupRefused("hold a message sent to "+old.String()+" while it was cut off, "+sentAt(f)+", so that it learns of the new term only from replies", err)
			}
		}
	}
	oldTerm := h.Status(old).Term
	h.Connect(old)
	heard := ""
	h.RunUntilEvent(func(e *raft.Event) bool {
		if e.Kind == raft.EvDeliver && e.Node == old && e.Msg.Type.IsReply() && e.Msg.Term >= newTerm {
			heard = e.String()
			return true
		}
		return false
	}, 2*h.ElectionTimeout())
	if heard == "" {
		h.Fatalf("heartbeat", "%v, leader of term %d, was connected again and in %v received no reply at all: it sent no AppendEntries. "+
			"Figure 2, rules for leaders: repeat AppendEntries during idle periods to prevent election timeouts%s", old, oldTerm, 2*h.ElectionTimeout(), h.describe())
	}
	h.settle()
	if st := h.Status(old); st.Role == raft.Leader && st.Term < newTerm {
		h.Fatalf("step down", "%v, leader of term %d, received a reply carrying term %d (%s) and is still leader in term %d. "+
			"Figure 2, rules for all servers: if an RPC request or response contains term T > currentTerm: set currentTerm = T, convert to follower%s",
			old, oldTerm, newTerm, heard, st.Term, h.describe())
	}
	h.releaseAll()
	h.CheckOneLeader()
}

// testStaleLeaderRefused: one heartbeat of the leader to a follower is held;
// the leader is deposed, and the heartbeat is delivered after the follower
// has moved on to the new leader's term.
func testStaleLeaderRefused(h *Harness) {
	old := h.CheckOneLeader()
	term := h.CheckTerms()
	f := follower(h, old, 1)
	taken := false
	h.holdWhere(func(m *raft.Message) bool {
		if !taken && m.Type == raft.AppendEntries && m.From == old && m.To == f {
			taken = true
			return true
		}
		return false
	})
	stale := h.awaitHeld(msgIs(raft.AppendEntries, old, f), 1, 2*h.ElectionTimeout())
	h.holdWhere(nil)
	if len(stale) == 0 {
		h.Fatalf("heartbeat", "%v, leader of term %d, sent no AppendEntries to %v in %v. Figure 2, rules for leaders: repeat AppendEntries during idle periods to prevent election timeouts",
			old, term, f, 2*h.ElectionTimeout())
	}
	h.Disconnect(old)
	newLeader := h.CheckOneLeader()
	if !h.runUntil(func() bool { st := h.Status(f); return st.Term > term }, 2*h.ElectionTimeout()) {
		h.Fatalf("higher term", "%v is still in term %d although %v leads term %d%s", f, term, newLeader, h.Status(newLeader).Term, h.describe())
	}
	before := h.Status(f)
	h.holdWhere(msgIs(raft.AppendEntriesReply, f, old))
	h.Connect(old)
	at := h.release(stale[0])
	if st := h.Status(f); st.Term == before.Term && st.Leader == old && before.Leader != old {
		h.Fatalf("stale term", "%v, in term %d, took %v for the leader of its term after an AppendEntries of term %d from it (%s, delivered at event #%d). Figure 2, AppendEntries receiver 1: reply false if term < currentTerm",
			f, st.Term, old, term, sentAt(stale[0]), at)
	}
	replies := h.awaitHeld(msgIs(raft.AppendEntriesReply, f, old), 1, h.sim.Options().Config.HeartbeatTimeout)
	if len(replies) == 0 {
		h.Fatalf("respond to RPCs", "%v, in term %d, received an AppendEntries of term %d from %v, a deposed leader (%s, delivered at event #%d), and sent no reply within %v. "+
			"Figure 2, AppendEntries receiver 1: reply false if term < currentTerm; rules for followers: respond to RPCs from candidates and leaders — "+
			"the reply carries currentTerm, and that is how a deposed leader learns that it must step down",
			f, before.Term, term, old, sentAt(stale[0]), at, h.sim.Options().Config.HeartbeatTimeout)
	}
	for _, r := range replies {
		if r.Msg.Success {
			h.Fatalf("stale term", "%v, in term %d, accepted an AppendEntries of term %d from %v, a deposed leader (delivered at event #%d; the reply: %s). Figure 2, AppendEntries receiver 1: reply false if term < currentTerm",
				f, before.Term, term, old, at, sentAt(r))
		}
	}
	h.releaseAll()
	h.CheckOneLeader()
}

// testStaleCandidateRefused: c's RequestVote to r is held while c wins term
// t+1 with the old leader's vote; then the old leader wins term t+2 with c's
// vote, its RequestVote to r held too. r hears of both terms from the leaders'
// heartbeats and votes in neither. Then c's RequestVote of term t+1 arrives.
func testStaleCandidateRefused(h *Harness) {
	old := h.CheckOneLeader()
	term := h.CheckTerms()
	c, r := follower(h, old, 1), follower(h, old, 2)
	h.holdWhere(anyOf(msgIs(raft.RequestVote, raft.None, r), msgIs(raft.RequestVoteReply, r, raft.None)))
	elected := func(leader raft.NodeID, t uint64) {
		if !h.runUntil(func() bool {
			return h.Status(leader).Role == raft.Leader && h.Status(r).Term == t && h.Status(r).Leader == leader
		}, 2*h.ElectionTimeout()) {
			h.Fatalf("election", "%v became a candidate in term %d with every server but %v connected, and within %v it was not a leader known to %v. "+
				"Figure 2, rules for candidates: if votes received from a majority of servers, become leader; rules for leaders: upon election, send initial empty AppendEntries RPCs (heartbeat) to each server%s",
				leader, t, r, 2*h.ElectionTimeout(), r, h.describe())
		}
	}
	h.candidateIn(c, term+1)
	stale := h.awaitHeld(msgIs(raft.RequestVote, c, r), 1, h.sim.Options().Config.HeartbeatTimeout)
	elected(c, term+1)
	h.candidateIn(old, term+2)
	elected(old, term+2)
	if len(stale) == 0 {
		h.Fatalf("candidate", "%v became a candidate in term %d but sent no RequestVote to %v. Figure 2, rules for candidates: send RequestVote RPCs to all other servers", c, term+1, r)
	}
	rTerm := h.Status(r).Term
	at := h.release(stale[0])
	replies := h.awaitHeld(msgIs(raft.RequestVoteReply, r, c), 1, h.sim.Options().Config.HeartbeatTimeout)
	if len(replies) == 0 {
		h.Fatalf("respond to RPCs", "%v, in term %d, received a RequestVote of term %d from %v that arrived late (%s, delivered at event #%d), and sent no reply within %v. "+
			"Figure 2, RequestVote receiver 1: reply false if term < currentTerm; rules for followers: respond to RPCs from candidates and leaders — "+
			"the reply carries currentTerm, and that is how a candidate of an earlier term learns that its election is over",
			r, rTerm, term+1, c, sentAt(stale[0]), at, h.sim.Options().Config.HeartbeatTimeout)
	}
	for _, f := range replies {
		if f.Msg.VoteGranted {
			h.Fatalf("stale term", "%v, in term %d, granted its vote to %v for a RequestVote of term %d that arrived late (delivered at event #%d; the reply: %s). Figure 2, RequestVote receiver 1: reply false if term < currentTerm",
				r, rTerm, c, term+1, at, sentAt(f))
		}
	}
	h.releaseAll()
	h.CheckOneLeader()
}
