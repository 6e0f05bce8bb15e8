package grade

import (
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
	{Stage: 1, Name: "MessageBudget", Points: 5, Nodes: 5, Run: testMessageBudget,
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
	// another election while heartbeats arrive.
	h.Run(5 * time.Second)
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
		h.Run(time.Second)
		if now := h.CheckTerms(); now != term2 {
			h.Fatalf("stable term", "%v was elected leader in term %d, and within a second the term moved to %d with no failure: "+
				"a server should reset its election timer when it grants a vote, or it times out before the new leader's first heartbeat%s",
				leader2, term2, now, h.describe())
		}

		// The old leader rejoins: it learns of the new term and steps down,
		// and the new leader stays.
		h.Connect(leader1)
		h.Run(time.Second)
		if now := h.CheckOneLeader(); now != leader2 {
			h.Fatalf("old leader returns", "when the old leader %v rejoined, leadership moved from %v to %v: a returning server should step down on seeing the higher term, not start a new election%s",
				leader1, leader2, now, h.describe())
		}
		if now := h.CheckTerms(); now != term2 {
			h.Fatalf("old leader returns", "when the old leader %v rejoined, the term went from %d to %d%s", leader1, term2, now, h.describe())
		}
	}

	// With no majority, no leader.
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
	tested := 0
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
			h.Connect(old) // someone timed out on its own first: try again
			h.Run(time.Second)
			continue
		}
		tested++
		term := h.Status(a).Term
		h.forceTimeout(a)
		h.Run(500 * time.Millisecond)
		// b voted for a. Had it not restarted its timer then, it would
		// have timed out moments later and unseated a.
		if leader, now := h.CheckOneLeader(), h.CheckTerms(); leader != a || now != term+1 {
			h.Fatalf("stable term", "%v granted its vote to %v in term %d two ticks before its own election timer expired; "+
				"then %v led term %d. Figure 2: a follower converts to candidate only if its timeout elapses without hearing "+
				"from the leader or granting a vote — restart the timer when you grant one%s",
				b, a, term+1, leader, now, h.describe())
		}
		h.Connect(old)
		h.Run(time.Second)
	}
	if tested == 0 {
		h.Fatalf("harness", "in 10 tries no follower waited for its own timeout: the test could not set up its scenario")
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
		for _, id := range h.ids() {
			if h.Status(id).Role != raft.Leader {
				if err := h.sim.ForceTimeout(id); err != nil {
					h.Fatalf("harness", "%v", err)
				}
			}
		}
		h.Run(10 * time.Millisecond)
		leader := h.CheckOneLeader()
		if now := h.Status(leader).Term; now <= term {
			h.Fatalf("split vote", "round %d: after every follower timed out, %v still leads term %d: candidates should have started term %d",
				round+1, leader, now, term+1)
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
	if err := h.sim.ForceTimeout(y); err != nil {
		h.Fatalf("harness", "%v", err)
	}
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
			if h.Status(id).Role != raft.Leader {
				h.forceTimeout(id)
			}
		}
		h.Run(h.ElectionTimeout())
	}
	h.CheckOneLeader()
}

// messageBudget is how many messages per second a stable cluster may send:
// each follower's heartbeat and its reply every HeartbeatTimeout, with room
// for twice that.
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
			h.Fatalf("message budget", "%s, the cluster sent %.0f messages in %v, more than the %.0f allowed: a leader needs only one AppendEntries per follower per HeartbeatTimeout (%v), and a candidate one RequestVote per server per election",
				what, sent, d, limit, h.sim.Options().Config.HeartbeatTimeout)
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
