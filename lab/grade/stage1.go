package grade

import (
	"fmt"
	"github.com/raftlab/raftlab/lab"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Stage 1, leader election (section 5.2 of the Raft paper). At least as
// demanding as part 3A of MIT 6.5840's lab, in virtual time.

var stage1Tests = []*Test{
	{Stage: 1, Name: "InitialElection", Points: 5, Nodes: 3, Run: testInitialElection,
		What: "a leader is elected, all servers agree on its term, and with no failures the term stays put"},
	{Stage: 1, Name: "ReElection", Points: 5, Nodes: 3, Run: testReElection,
		What: "a new leader is elected when the leader is cut off; its return disturbs nothing; no leader without a majority"},
	{Stage: 1, Name: "VoteResetsTimer", Points: 5, Nodes: 3, Run: testVoteResetsTimer,
		What: "a follower that grants a vote restarts its election timer, so it does not unseat the leader it just elected"},
	{Stage: 1, Name: "ManyElections", Points: 5, Nodes: 7, Run: testManyElections,
		What: "a leader is elected again and again while random minorities are cut off"},
	{Stage: 1, Name: "SplitVote", Points: 5, Nodes: 5, SyncTicks: true, Run: testSplitVote,
		What: "when every server times out at once and the vote splits, randomized timeouts still elect a leader"},
	{Stage: 1, Name: "HigherTermWins", Points: 5, Nodes: 5, Run: testHigherTermWins,
		What: "a server that sees a higher term adopts it and steps down, candidates and leaders alike"},
	{Stage: 1, Name: "MessageBudget", Kind: Efficiency, Points: 5, Nodes: 5, Run: testMessageBudget,
		What: "a stable cluster sends about one heartbeat per follower per HeartbeatTimeout, and elections don't loop"},
	{Stage: 1, Name: "UnreliableElections", Points: 5, Nodes: 5, SyncTicks: true, Run: testUnreliableElections,
		Network: lab.Network{MinLatency: time.Millisecond, MaxLatency: 10 * time.Millisecond, Loss: 0.1, Duplicate: 0.3, Reorder: 0.3, LongDelay: 0.05, MaxLongDelay: 300 * time.Millisecond},
		What:    "split elections on a network that loses, duplicates and reorders votes still elect one leader per term"},
}

func testInitialElection(h *Harness) {
	leader := h.CheckOneLeader()
	h.Run(50 * time.Millisecond)
	term := h.CheckTerms()
	if term < 1 {
		h.Fatalf("term", "after an election the term is %d: a candidate increments currentTerm before it asks for votes (Figure 2)", term)
	}
	// With no failures the leader keeps its office: no server should start
	// another election while heartbeats arrive. The first server to move
	// past term stops the test there, so that the report shows that
	// election, the first, and what led to it.
	var rose seen
	var to raft.NodeID
	var moved uint64
	if h.RunUntilEvent(func(e *raft.Event) bool {
		if e.Kind == raft.EvTerm && e.Term > term {
			rose, to, moved = seen{at: e.Time, seq: e.Seq, ok: true}, e.Node, e.Term
			return true
		}
		return false
	}, 5*time.Second) {
		h.settle() // the rest of what it did then: its RequestVotes
		h.Fatalf("stable term", "%s%s", h.electionWhileLed(leader, term, to, rose, moved), h.describe())
	}
	if now := h.CheckTerms(); now != term {
		h.Fatalf("stable term", "the term went from %d to %d in 5 seconds with no failures: a server started an election while the leader was up. "+
			"Does the leader send AppendEntries every HeartbeatTimeout, and does a follower reset its election timer when it gets one or grants a vote?%s",
			term, now, h.describe())
	}
	if now := h.CheckOneLeader(); now != leader {
		h.Fatalf("stable leader", "the leader changed from %v to %v with no failures%s", leader, now, h.describe())
	}
}

func testReElection(h *Harness) {
	var leader2 raft.NodeID
	for range 5 {
		leader1 := h.CheckOneLeader()

		// If the leader disconnects, a new one is elected.
		h.Disconnect(leader1)
		leader2 = h.CheckOneLeader()
		term2 := h.CheckTerms()

		// The new leader keeps its office while nothing fails.
		since := h.Now()
		h.Run(time.Second)
		if now := h.CheckTerms(); now != term2 {
			h.Fatalf("stable term", "%v was elected leader in term %d, and within a second, with no failure, the term moved to %d: %s. "+
				"Figure 2: a follower converts to candidate only if its election timeout elapses without receiving AppendEntries "+
				"from the current leader or granting a vote — does it restart its timer on both?%s",
				leader2, term2, now, h.electionsSince(since), h.describe())
		}

		// The old leader rejoins: it learns of the new term and steps down.
		// Whether leadership then stays put is not a rule of Figure 2: a
		// returning server whose election timer ran out while it led may
		// start an election as soon as it is a follower, and win it.
		h.Connect(leader1)
		h.Run(time.Second)
		if st := h.Status(leader1); st.Role == raft.Leader && st.Term < h.Status(h.CheckOneLeader()).Term {
			h.Fatalf("step down", "the old leader %v rejoined and, a second later, still leads term %d although the cluster has moved on to term %d: "+
				"Figure 2, if an RPC request or response contains a term T > currentTerm, set currentTerm = T and convert to follower%s",
				leader1, st.Term, h.Status(h.CheckOneLeader()).Term, h.describe())
		}
		h.CheckTerms()
	}

	// With no majority, no leader. (Cut off the leader there is now:
	// leadership may have moved when the old one returned.)
	leader2 = h.CheckOneLeader()
	other := raft.NodeID(int(leader2)%h.N() + 1)
	h.Disconnect(leader2)
	h.Disconnect(other)
	h.Run(2 * time.Second)
	h.CheckNoLeader()

	// A majority returns: a leader again.
	h.Connect(other)
	h.CheckOneLeader()

	// Everyone returns: still one leader.
	h.Connect(leader2)
	h.CheckOneLeader()
}

func testVoteResetsTimer(h *Harness) {
	tick := h.sim.Options().Config.TickInterval
	remaining := func(id raft.NodeID) int {
		st := h.Status(id)
		return st.ElectionTimeout - st.ElectionElapsed
	}
	tested, why := 0, ""
	for round := 0; round < 10 && tested < 5; round++ {
		old := h.CheckOneLeader()
		h.Run(100 * time.Millisecond)
		h.Disconnect(old)
		// b is the follower whose election timer will expire first; wait
		// until it is two ticks away, then make a campaign instead.
		a, b := follower(h, old, 1), follower(h, old, 2)
		if remaining(a) < remaining(b) {
			a, b = b, a
		}
		for wait := h.Now() + 2*h.ElectionTimeout(); remaining(b) > 2 && h.Now() < wait &&
			h.Status(a).Role == raft.Follower && h.Status(b).Role == raft.Follower; {
			h.Run(tick / 10)
		}
		if remaining(b) > 2 || h.Status(a).Role != raft.Follower || h.Status(b).Role != raft.Follower {
			for _, id := range []raft.NodeID{a, b} {
				if st := h.Status(id); st.Role != raft.Follower {
					why = fmt.Sprintf("%v became %v in term %d before its Status showed its election timer within 2 ticks of expiring (it showed %d of %d ticks elapsed)",
						id, st.Role, st.Term, st.ElectionElapsed, st.ElectionTimeout)
				}
			}
			if why == "" {
				st := h.Status(b)
				why = fmt.Sprintf("for two election timeouts with no leader, %v's Status showed its election timer at %d of %d ticks and never within 2 ticks of expiring", b, st.ElectionElapsed, st.ElectionTimeout)
			}
			h.Connect(old) // someone timed out on its own first: try again
			h.Run(time.Second)
			continue
		}
		tested++
		term := h.Status(a).Term
		since := h.Now()
		h.forceTimeout(a)
		h.Run(500 * time.Millisecond)
		// b voted for a. Had it not restarted its timer then, it would
		// have timed out moments later and unseated a.
		if leader, now := h.CheckOneLeader(), h.CheckTerms(); leader != a || now != term+1 {
			h.Fatalf("stable term", "%v was asked for its vote by %v in term %d two ticks before its own election timer expired; "+
				"then %s, and %v led term %d. Figure 2: a follower converts to candidate only if its timeout elapses without hearing "+
				"from the leader or granting a vote — restart the timer when you grant one%s",
				b, a, term+1, h.electionsSince(since), leader, now, h.describe())
		}
		h.Connect(old)
		h.Run(time.Second)
	}
	if tested == 0 {
		h.Fatalf("timer in Status", "this test watches the election timers your servers report, and in 10 tries they never showed one about to expire; the last time, %s. "+
			"Status must report ElectionElapsed and ElectionTimeout in ticks, as the timer counts them (a follower starts an election when its timer reaches its timeout)%s", why, h.describe())
	}
}

func testManyElections(h *Harness) {
	h.CheckOneLeader()
	for range 10 {
		// Cut off three random servers; the four left are a majority of seven.
		cut := h.Rand().Perm(h.N())[:3]
		for _, i := range cut {
			h.Disconnect(raft.NodeID(i + 1))
		}
		h.CheckOneLeader()
		for _, i := range cut {
			h.Connect(raft.NodeID(i + 1))
		}
	}
	h.CheckOneLeader()
}

func testSplitVote(h *Harness) {
	for round := range 5 {
		h.CheckOneLeader()
		term := h.CheckTerms()
		// Every clock ticks at the same instants (SyncTicks), and every
		// follower's election timer expires now: each votes for itself and
		// the vote splits. Only randomized timeouts tell them apart again.
		var started []raft.NodeID
		for _, id := range h.ids() {
			if h.forceTimeout(id) {
				started = append(started, id)
			}
		}
		h.Run(10 * time.Millisecond)
		leader := h.CheckOneLeader()
		if now := h.Status(leader).Term; now <= term {
			h.Fatalf("split vote", "round %d: %v started elections in term %d or later, yet %v still leads term %d: "+
				"a leader that receives RequestVote with a higher term must adopt it and step down (Figure 2, rules for all servers)%s",
				round+1, started, term+1, leader, now, h.describe())
		}
	}
}

func testHigherTermWins(h *Harness) {
	leader := h.CheckOneLeader()
	term := h.CheckTerms()
	x := raft.NodeID(int(leader)%h.N() + 1)
	y := raft.NodeID(int(x)%h.N() + 1)

	// Cut off x: hearing no leader, it times out again and again, each time
	// in a higher term.
	h.Disconnect(x)
	h.Run(2 * time.Second)
	xTerm := h.Status(x).Term
	if xTerm <= term+1 {
		h.Fatalf("candidate", "%v was cut off from the leader for 2 seconds and is in term %d (the cluster was in %d): a server that hears from no leader becomes a candidate, increments its term and tries again each election timeout",
			x, xTerm, term)
	}

	// Let x talk only to y, and make y a candidate in a lower term. Figure 2:
	// a server that sees a higher term in any request or reply adopts it and
	// becomes a follower.
	h.Partition([]raft.NodeID{x, y})
	h.forceTimeout(y) // y, cut off from the leader with x, is a candidate or becomes one
	h.Run(2 * time.Second)
	if yTerm := h.Status(y).Term; yTerm < xTerm {
		h.Fatalf("higher term", "%v, a candidate in a lower term, talked with %v in term %d for 2 seconds but is still in term %d: a candidate must adopt a higher term it sees and step down",
			y, x, xTerm, yTerm)
	}

	// Heal: the old leader hears of the higher term, steps down, and the
	// cluster settles on one leader in a term at least as high as x's.
	h.Partition(h.ids())
	h.Run(time.Second)
	h.CheckOneLeader()
	h.Run(time.Second)
	if ls := h.leaders(); len(ls) != 1 {
		var all []raft.NodeID
		for _, l := range ls {
			all = append(all, l...)
		}
		h.Fatalf("step down", "%v all believe they are leader (in different terms): a leader that sees a higher term must step down%s", all, h.describe())
	}
	if now := h.CheckTerms(); now < xTerm {
		h.Fatalf("higher term", "the cluster settled in term %d, lower than the term %d %v reached", now, xTerm, x)
	}
}

func testUnreliableElections(h *Harness) {
	for range 20 {
		h.CheckOneLeader()
		// Everyone times out at once: the vote splits, and duplicated or
		// late replies must not make a candidate count a vote twice.
		for _, id := range h.ids() {
			h.forceTimeout(id)
		}
		h.Run(h.ElectionTimeout())
	}
	h.CheckOneLeader()
}

// messageBudget is how many messages per second a stable cluster may send:
// 2 × 2(N−1) / HeartbeatTimeout — an AppendEntries and its reply to each
// follower every HeartbeatTimeout, twice over (exercises/GRADING.md).
func messageBudget(h *Harness) float64 {
	perSecond := float64(time.Second) / float64(h.sim.Options().Config.HeartbeatTimeout)
	return 2 * 2 * float64(h.N()-1) * perSecond
}

func testMessageBudget(h *Harness) {
	h.CheckOneLeader()
	h.Run(time.Second)
	budget := messageBudget(h)
	measure := func(what string, d time.Duration, extra float64) {
		before := h.sim.Stats().Messages()
		h.Run(d)
		sent := float64(h.sim.Stats().Messages() - before)
		if limit := budget*d.Seconds() + extra; sent > limit {
			h.OverBudget("message budget", "%s, the cluster of %d sent %.0f messages in %v; the budget is %.0f = 2 × 2(N−1) × %v / HeartbeatTimeout (%v)%s. "+
				"A leader needs only one AppendEntries per follower per HeartbeatTimeout, and a candidate one RequestVote per server per election",
				what, h.N(), sent, d, limit, d, h.sim.Options().Config.HeartbeatTimeout, electionPart(extra))
		}
	}
	measure("with a stable leader", 10*time.Second, 0)
	// Re-elections cost a RequestVote and a reply per server, a few times over.
	for range 3 {
		leader := h.CheckOneLeader()
		h.Disconnect(leader)
		measure("while a new leader was elected", 2*time.Second, 10*2*float64(h.N()))
		h.Connect(leader)
	}
}

func electionPart(extra float64) string {
	if extra == 0 {
		return ""
	}
	return fmt.Sprintf(" + 10 × 2N (%.0f) for the election", extra)
}
