package grade

import (
	"github.com/raftlab/raftlab/lab"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Stage 3, persistence (Figure 2, persistent state). At least as demanding
// as part 3C of MIT 6.5840's lab, in virtual time, with the checker on —
// which also checks, at every restart, that a server restores what it saved
// and starts its volatile state from zero.

var stage3Tests = []*Test{
	{Stage: 3, Name: "RestartAll", Points: 4, Nodes: 3, Run: testRestartAll,
		What: "servers crashed and restarted, all together and one by one, keep their logs and agree"},
	{Stage: 3, Name: "RestartMany", Points: 4, Nodes: 5, Run: testRestartMany,
		What: "leaders and followers crashed in many orders, with majorities coming and going"},
	{Stage: 3, Name: "PartitionedLeaderCrash", Points: 4, Nodes: 3, Run: testPartitionedLeaderCrash,
		What: "a cut-off follower, a crashed leader and follower: the restarted leader and the follower agree"},
	{Stage: 3, Name: "VoteSurvivesCrash", Points: 4, Nodes: 5, Run: testVoteSurvivesCrash,
		What: "a server that crashes just before or just after its vote leaves never votes twice in that term"},
	{Stage: 3, Name: "EntriesSurviveCrash", Points: 4, Nodes: 3, Run: testEntriesSurviveCrash,
		What: "a follower that crashes just after acknowledging entries still has them when it restarts"},
	{Stage: 3, Name: "Figure8", Points: 4, Nodes: 5, Run: testFigure8,
		What: "leaders crash over and over while proposing (Figure 8 of the paper); committed entries survive"},
	{Stage: 3, Name: "Figure8Unreliable", Points: 4, Nodes: 5, Network: lab.UnreliableNetwork(), Run: testFigure8Unreliable,
		What: "leaders are cut off over and over on a lossy, reordering network; committed entries survive"},
	{Stage: 3, Name: "ReliableChurn", Points: 4, Nodes: 5, Run: func(h *Harness) { testChurn(h, false) },
		What: "random crashes, restarts and cuts while clients propose; at the end every server agrees"},
	{Stage: 3, Name: "UnreliableChurn", Points: 4, Nodes: 5, Network: lab.UnreliableNetwork(), Run: func(h *Harness) { testChurn(h, true) },
		What: "the same churn on a lossy, reordering network"},
}

func testRestartAll(h *Harness) {
	h.One("11", h.N(), true)

	// Everyone crashes and restarts.
	for _, id := range h.ids() {
		h.Crash(id)
	}
	for _, id := range h.ids() {
		h.Restart(id)
	}
	h.One("12", h.N(), true)

	// The leader crashes and restarts.
	leader1 := h.CheckOneLeader()
	h.Crash(leader1)
	h.Restart(leader1)
	h.One("13", h.N(), true)

	// The leader crashes; the others go on; it returns.
	leader2 := h.CheckOneLeader()
	h.Crash(leader2)
	h.One("14", h.N()-1, true)
	h.Restart(leader2)
	h.WaitCommitted(4, h.N(), 0)

	// A follower crashes; the others go on; it returns.
	i3 := follower(h, h.CheckOneLeader(), 1)
	h.Crash(i3)
	h.One("15", h.N()-1, true)
	h.Restart(i3)
	h.One("16", h.N(), true)
}

func testRestartMany(h *Harness) {
	index := 1
	next := func() string { index++; return cmd("many-", index) }
	for range 5 {
		h.One(next(), h.N(), true)
		leader1 := h.CheckOneLeader()

		h.Crash(follower(h, leader1, 1))
		h.Crash(follower(h, leader1, 2))
		h.One(next(), h.N()-2, true)

		h.Crash(leader1)
		h.Crash(follower(h, leader1, 3))
		h.Crash(follower(h, leader1, 4))
		h.Restart(follower(h, leader1, 1))
		h.Restart(follower(h, leader1, 2))
		h.Run(h.ElectionTimeout())
		h.Restart(follower(h, leader1, 3))
		h.One(next(), h.N()-2, true)

		h.Restart(follower(h, leader1, 4))
		h.Restart(leader1)
	}
	h.One("1000", h.N(), true)
}

func testPartitionedLeaderCrash(h *Harness) {
	h.One("101", h.N(), true)
	leader := h.CheckOneLeader()
	h.Disconnect(follower(h, leader, 2))
	h.One("102", 2, true)

	h.Crash(leader)
	h.Crash(follower(h, leader, 1))
	h.Connect(follower(h, leader, 2))
	h.Restart(leader)
	h.One("103", 2, true)

	h.Restart(follower(h, leader, 1))
	h.One("104", h.N(), true)
}

// testVoteSurvivesCrash: a voter crashes the moment it grants a vote —
// first before the reply leaves, then right after — and restarts. Asked by
// another candidate of the same term, it must refuse: its vote was saved
// before the reply was sent.
func testVoteSurvivesCrash(h *Harness) {
	for round, afterSend := range []bool{false, true} {
		leader := h.CheckOneLeader()
		h.Run(100 * time.Millisecond)
		term := h.CheckTerms()
		a, b, x := follower(h, leader, 1), follower(h, leader, 2), follower(h, leader, 3)

		// a asks x alone for its vote in term+1.
		h.Partition([]raft.NodeID{a, x}, []raft.NodeID{b}, []raft.NodeID{leader}, []raft.NodeID{follower(h, leader, 4)})
		h.forceTimeout(a)
		granted := func(e *raft.Event) bool {
			return e.Node == x && e.Kind == raft.EvSend && e.Msg.Type == raft.RequestVoteReply && e.Msg.VoteGranted
		}
		saved := func(e *raft.Event) bool { return e.Node == x && e.Kind == raft.EvSaveState && e.Vote == a }
		match := granted
		if !afterSend {
			// Stop at whichever comes first: the vote saved, or the reply sent.
			match = func(e *raft.Event) bool { return saved(e) || granted(e) }
		}
		if !h.RunUntilEvent(match, time.Second) {
			h.Fatalf("vote", "round %d: %v did not grant its vote to %v, a candidate in term %d whose log is as up-to-date as its own%s",
				round+1, x, a, term+1, h.describe())
		}
		h.Crash(x)
		h.Restart(x)

		// b, also a candidate in term+1, asks x. x already voted in this term.
		h.Partition([]raft.NodeID{b, x}, []raft.NodeID{a}, []raft.NodeID{leader}, []raft.NodeID{follower(h, leader, 4)})
		h.forceTimeout(b)
		h.Run(100 * time.Millisecond) // the checker stops the test if x votes for b too

		h.Partition(h.ids())
		h.One(cmd("after-", round), h.N(), true)
	}
}

// testEntriesSurviveCrash: a follower crashes the moment its acknowledgement
// of an entry leaves, and restarts. The leader may have counted it and
// committed the entry, so the follower must still hold it.
func testEntriesSurviveCrash(h *Harness) {
	h.One("first", h.N(), true)
	leader := h.CheckOneLeader()
	f1, f2 := follower(h, leader, 1), follower(h, leader, 2)

	h.Partition([]raft.NodeID{leader, f1}, []raft.NodeID{f2})
	index, _, ok := h.Propose(leader, "x")
	if !ok {
		h.Fatalf("leader", "%v refused a command although it was leader a moment ago", leader)
	}
	acked := func(e *raft.Event) bool {
		return e.Node == f1 && e.Kind == raft.EvSend && e.Msg.Type == raft.AppendEntriesReply && e.Msg.Success && e.Msg.MatchIndex >= index
	}
	if !h.RunUntilEvent(acked, time.Second) {
		h.Fatalf("agreement", "%v never acknowledged entry %d%s", f1, index, h.describe())
	}
	h.Crash(f1)
	h.Run(100 * time.Millisecond) // the leader may commit x, counting f1
	h.Restart(f1)

	// The leader is cut off; f1 and f2 elect a leader from what they stored.
	h.Partition([]raft.NodeID{f1, f2}, []raft.NodeID{leader})
	h.One("y", 2, true)
	h.Partition(h.ids())
	h.One("z", h.N(), true)
}

// figure8Pause waits as MIT's Figure 8 tests do: usually a few milliseconds,
// sometimes up to half an election timeout.
func figure8Pause(h *Harness) {
	if h.Rand().Float64() < 0.1 {
		h.Run(time.Duration(h.Rand().Int64N(int64(h.ElectionTimeout()/2))) + time.Millisecond)
	} else {
		h.Run(time.Duration(h.Rand().Int64N(int64(13*time.Millisecond))) + time.Millisecond)
	}
}

func testFigure8(h *Harness) {
	rnd := func() string { return cmd("f", h.Rand().IntN(1_000_000)) }
	h.One(rnd(), 1, true)
	up := h.N()
	for range 1000 {
		leader := raft.None
		for _, id := range h.ids() {
			if h.sim.Up(id) {
				if _, _, ok := h.Propose(id, rnd()); ok {
					leader = id
				}
			}
		}
		figure8Pause(h)
		if leader != raft.None {
			h.Crash(leader)
			up--
		}
		if up < 3 {
			if s := raft.NodeID(h.Rand().IntN(h.N()) + 1); !h.sim.Up(s) {
				h.Restart(s)
				up++
			}
		}
	}
	for _, id := range h.ids() {
		if !h.sim.Up(id) {
			h.Restart(id)
		}
	}
	h.OneAfterHeal(rnd(), h.N())
}

func testFigure8Unreliable(h *Harness) {
	rnd := func() string { return cmd("u", h.Rand().IntN(1_000_000)) }
	h.One(rnd(), 1, true)
	connected := h.N()
	for range 1000 {
		leader := raft.None
		for _, id := range h.ids() {
			if _, _, ok := h.Propose(id, rnd()); ok && h.Connected(id) {
				leader = id
			}
		}
		figure8Pause(h)
		if leader != raft.None && h.Rand().Float64() < 0.5 {
			h.Disconnect(leader)
			connected--
		}
		if connected < 3 {
			if s := raft.NodeID(h.Rand().IntN(h.N()) + 1); !h.Connected(s) {
				h.Connect(s)
				connected++
			}
		}
	}
	for _, id := range h.ids() {
		h.Connect(id)
	}
	h.SetNetwork(lab.DefaultNetwork())
	h.OneAfterHeal(rnd(), h.N())
}

// testChurn crashes, restarts, cuts off and reconnects servers at random
// while clients keep proposing, then heals everything and checks that every
// server holds and applied the same log, with every entry anyone had applied.
func testChurn(h *Harness, unreliable bool) {
	next := 0
	propose := func() {
		for range 3 { // three clients, each offering a command to a random server
			id := raft.NodeID(h.Rand().IntN(h.N()) + 1)
			if h.sim.Up(id) {
				next++
				h.Propose(id, cmd("churn-", next))
			}
		}
	}
	for range 20 {
		if h.Rand().Float64() < 0.2 {
			h.Disconnect(raft.NodeID(h.Rand().IntN(h.N()) + 1))
		}
		if h.Rand().Float64() < 0.5 {
			id := raft.NodeID(h.Rand().IntN(h.N()) + 1)
			if !h.sim.Up(id) {
				h.Restart(id)
			}
			h.Connect(id)
		}
		if h.Rand().Float64() < 0.2 {
			if id := raft.NodeID(h.Rand().IntN(h.N()) + 1); h.sim.Up(id) {
				h.Crash(id)
			}
		}
		// Clients propose every few milliseconds for 0.7 election timeouts
		// (MIT's churn waits 0.7 of its own, longer, timeout).
		for end := h.Now() + 7*h.ElectionTimeout()/10; h.Now() < end; {
			propose()
			h.Run(time.Duration(h.Rand().IntN(20)+1) * time.Millisecond)
		}
	}

	if unreliable {
		h.SetNetwork(lab.DefaultNetwork())
	}
	for _, id := range h.ids() {
		if !h.sim.Up(id) {
			h.Restart(id)
		}
		h.Connect(id)
	}
	h.Run(h.ElectionTimeout())
	last := h.OneAfterHeal("final", h.N())
	h.CheckLogsAgree(last)
}

// CheckLogsAgree checks that every server has applied entries 1..last, and
// the same ones, and that they include every entry that was ever committed.
func (h *Harness) CheckLogsAgree(last uint64) {
	ref := h.sim.Applied(1)
	for _, id := range h.ids() {
		applied := h.sim.Applied(id)
		if uint64(len(applied)) < last {
			h.Fatalf("agreement", "%v applied %d entries; every server should have applied %d%s", id, len(applied), last, h.describe())
		}
		for i := range last {
			if !applied[i].Equal(ref[i]) {
				h.Fatalf("agreement", "%v applied %s at index %d, n1 applied %s", id, applied[i], i+1, ref[i])
			}
		}
	}
	for i := uint64(1); i <= min(last, h.sim.HighestCommitted()); i++ {
		if en, by, ok := h.sim.Committed(i); ok && !ref[i-1].Equal(en) {
			h.Fatalf("agreement", "entry %s was committed by %v but the final log holds %s at index %d", en, by, ref[i-1], i)
		}
	}
}
