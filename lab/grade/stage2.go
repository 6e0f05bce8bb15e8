package grade

import (
	"github.com/raftlab/raftlab/lab"
	"strings"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Stage 2, log replication (sections 5.3 and 5.4 of the Raft paper). At
// least as demanding as part 3B of MIT 6.5840's lab, in virtual time, with the
// checker on: apply order, exactly-once application and agreement are checked
// on every event of every test.

var stage2Tests = []*Test{
	{Stage: 2, Name: "BasicAgree", Points: 4, Nodes: 3, Run: testBasicAgree,
		What: "commands proposed to the leader are applied by every server, at the indexes Propose returned"},
	{Stage: 2, Name: "PayloadBytes", Kind: Efficiency, Points: 4, Nodes: 3, Run: testPayloadBytes,
		What: "each entry's command crosses to each follower about once, not with every heartbeat"},
	{Stage: 2, Name: "FollowerFailure", Points: 4, Nodes: 3, Run: testFollowerFailure,
		What: "agreement continues with one follower cut off; nothing commits once both are"},
	{Stage: 2, Name: "LeaderFailure", Points: 4, Nodes: 3, Run: testLeaderFailure,
		What: "a new leader carries on agreement when the leader is cut off; nothing commits without a majority"},
	{Stage: 2, Name: "FailAgree", Points: 4, Nodes: 3, Run: testFailAgree,
		What: "a follower that was cut off catches up when it returns"},
	{Stage: 2, Name: "FailNoAgree", Points: 4, Nodes: 5, Run: testFailNoAgree,
		What: "no entry commits while a majority is cut off; agreement resumes when it returns"},
	{Stage: 2, Name: "ConcurrentProposals", Points: 4, Nodes: 3, Run: testConcurrentProposals,
		What: "many commands proposed at once are all committed, each at its own index"},
	{Stage: 2, Name: "Rejoin", Points: 4, Nodes: 3, Run: testRejoin,
		What: "an old leader with uncommitted entries rejoins and has its log repaired"},
	{Stage: 2, Name: "Backup", Points: 4, Nodes: 5, Run: testBackup,
		What: "a leader repairs followers whose logs diverge by many entries"},
	{Stage: 2, Name: "FastBackup", Kind: Efficiency, Points: 4, Nodes: 5, Run: testFastBackup,
		What: "repairing a follower costs a few round trips per conflicting term, not one per entry (end of section 5.3)"},
	{Stage: 2, Name: "MessageCount", Kind: Efficiency, Points: 4, Nodes: 3, Run: testMessageCount,
		What: "an election costs a few messages, and each committed entry about one AppendEntries and reply per follower"},
	{Stage: 2, Name: "OldTermEntries", Points: 4, Nodes: 5, Run: testOldTermEntries,
		What: "a leader never commits an entry of an earlier term by counting replicas (section 5.4.2, Figure 8)"},
	{Stage: 2, Name: "UnreliableAgree", Points: 4, Nodes: 5, Network: lab.UnreliableNetwork(), Run: testUnreliableAgree,
		What: "agreement despite lost, duplicated and reordered messages: a late AppendEntries never shortens a log"},
}

func testBasicAgree(h *Harness) {
	for index := 1; index <= 3; index++ {
		if n, _ := h.NCommitted(uint64(index)); n > 0 {
			h.Fatalf("agreement", "%d servers applied index %d before it was proposed", n, index)
		}
		if got := h.One(cmd("basic-", index), h.N(), false); got != uint64(index) {
			h.Fatalf("index", "the command proposed %s was committed at index %d, want %d: Propose must return the index the entry will have", ordinal(index), got, index)
		}
	}
}

func ordinal(i int) string {
	switch i {
	case 1:
		return "first"
	case 2:
		return "second"
	case 3:
		return "third"
	}
	return cmd("number ", i)
}

func testPayloadBytes(h *Harness) {
	h.One("warm-up", h.N(), false)
	before := h.sim.Stats().EntryBytes
	const n, size = 10, 5000
	for i := range n {
		payload := cmd("big-", i) + strings.Repeat("x", size-len(cmd("big-", i)))
		h.One(payload, h.N(), false)
	}
	sent := h.sim.Stats().EntryBytes - before
	need := uint64(n * size * (h.N() - 1))
	if limit := 2 * need; sent > limit {
		h.OverBudget("payload bytes", "the leader sent %d bytes of commands to replicate %d commands of %d bytes to %d followers; "+
			"the budget is %d = 2 × (N−1) × the commands' bytes (%d): each entry may reach each follower twice. "+
			"Heartbeats that carry entries already on their way cost bytes; entries are resent only when a reply says they are missing",
			sent, n, size, h.N()-1, limit, need)
	}
}

func testFollowerFailure(h *Harness) {
	h.One("101", h.N(), false)

	// One follower is cut off: the other two still agree.
	leader1 := h.CheckOneLeader()
	h.Disconnect(follower(h, leader1, 1))
	h.One("102", h.N()-1, false)
	h.Run(h.ElectionTimeout())
	h.One("103", h.N()-1, false)

	// Both followers are cut off: the leader alone commits nothing.
	leader2 := h.CheckOneLeader()
	h.Disconnect(follower(h, leader2, 1))
	h.Disconnect(follower(h, leader2, 2))
	index, _, ok := h.Propose(leader2, "104")
	if !ok {
		h.Fatalf("leader", "%v refused a command although it was leader a moment ago", leader2)
	}
	if index != 4 {
		h.Fatalf("index", "the leader put its 4th command at index %d", index)
	}
	h.Run(2 * h.ElectionTimeout())
	if n, _ := h.NCommitted(index); n > 0 {
		h.Fatalf("no majority", "%d servers applied index %d, which only the leader stored: an entry is committed only once a majority stores it", n, index)
	}
}

// follower returns the k-th server after id, in ring order.
func follower(h *Harness, id raft.NodeID, k int) raft.NodeID {
	return raft.NodeID((int(id)-1+k)%h.N() + 1)
}

func testLeaderFailure(h *Harness) {
	h.One("101", h.N(), false)
	leader1 := h.CheckOneLeader()
	h.Disconnect(leader1)

	// The remaining followers elect a new leader and carry on.
	h.One("102", h.N()-1, false)
	h.Run(h.ElectionTimeout())
	h.One("103", h.N()-1, false)

	// With the new leader gone too, nothing commits.
	leader2 := h.CheckOneLeader()
	h.Disconnect(leader2)
	for _, id := range h.ids() {
		h.Propose(id, "104")
	}
	h.Run(2 * h.ElectionTimeout())
	if n, _ := h.NCommitted(4); n > 0 {
		h.Fatalf("no majority", "%d servers applied index 4 with only one server connected", n)
	}
}

func testFailAgree(h *Harness) {
	h.One("101", h.N(), false)
	leader := h.CheckOneLeader()
	cut := follower(h, leader, 1)
	h.Disconnect(cut)

	// The leader and the remaining follower agree without it.
	h.One("102", h.N()-1, false)
	h.One("103", h.N()-1, false)
	h.Run(h.ElectionTimeout())
	h.One("104", h.N()-1, false)
	h.One("105", h.N()-1, false)

	// It returns and catches up on everything it missed.
	h.Connect(cut)
	h.One("106", h.N(), true)
	h.Run(h.ElectionTimeout())
	h.One("107", h.N(), true)
}

func testFailNoAgree(h *Harness) {
	h.One("10", h.N(), false)
	leader := h.CheckOneLeader()
	for k := 1; k <= 3; k++ {
		h.Disconnect(follower(h, leader, k))
	}
	index, _, ok := h.Propose(leader, "20")
	if !ok {
		h.Fatalf("leader", "%v refused a command although it was leader a moment ago", leader)
	}
	if index != 2 {
		h.Fatalf("index", "the leader put its second command at index %d, want 2", index)
	}
	h.Run(2 * h.ElectionTimeout())
	if n, _ := h.NCommitted(index); n > 0 {
		h.Fatalf("no majority", "%d servers applied index %d while 3 of 5 were cut off", n, index)
	}
	for k := 1; k <= 3; k++ {
		h.Connect(follower(h, leader, k))
	}
	// The old leader's uncommitted entry may survive or be replaced.
	leader2 := h.CheckOneLeader()
	index2, _, ok := h.Propose(leader2, "30")
	if !ok {
		h.Fatalf("leader", "%v refused a command although it was leader a moment ago", leader2)
	}
	if index2 < 2 || index2 > 3 {
		h.Fatalf("index", "after the cut healed, a new command went to index %d, want 2 or 3", index2)
	}
	h.One("1000", h.N(), true)
}

func testConcurrentProposals(h *Harness) {
	const n = 20
	for try := range 5 {
		leader := h.CheckOneLeader()
		_, term, ok := h.Propose(leader, cmd("start-", try))
		if !ok {
			continue // leadership moved: try again
		}
		var indexes []uint64
		want := map[string]bool{}
		moved := false
		for i := range n {
			c := cmd("concurrent-", try*100+i)
			index, t, ok := h.Propose(leader, c)
			if !ok || t != term {
				moved = true
				break
			}
			indexes = append(indexes, index)
			want[c] = true
			if i%5 == 4 {
				h.Run(time.Millisecond) // some proposals while others are on their way
			}
		}
		if moved {
			continue
		}
		for i, index := range indexes {
			if i > 0 && index != indexes[i-1]+1 {
				h.Fatalf("index", "proposals in one term got indexes %v: each must get the next index", indexes)
			}
		}
		got := map[string]bool{}
		for _, index := range indexes {
			c := h.WaitCommitted(index, h.N(), term)
			if c == "" {
				moved = true
				break
			}
			got[c] = true
		}
		if moved {
			continue
		}
		for c := range want {
			if !got[c] {
				h.Fatalf("agreement", "command %q was accepted by the leader in term %d but never applied", c, term)
			}
		}
		return
	}
	h.Fatalf("stable term", "the term changed in each of 5 tries at proposing %d commands: with no failures a leader should keep its office", n)
}

func testRejoin(h *Harness) {
	h.One("101", h.N(), true)

	// The leader is cut off and takes commands it can never commit.
	leader1 := h.CheckOneLeader()
	h.Disconnect(leader1)
	h.Propose(leader1, "102")
	h.Propose(leader1, "103")
	h.Propose(leader1, "104")

	// The others elect a new leader and commit in its term.
	h.One("103", 2, true)
	leader2 := h.CheckOneLeader()
	h.Disconnect(leader2)

	// The old leader returns: its uncommitted entries must be replaced.
	h.Connect(leader1)
	h.One("104", 2, true)

	h.Connect(leader2)
	h.One("105", h.N(), true)
}

func testBackup(h *Harness) {
	rnd := func() string { return cmd("r", h.Rand().IntN(1_000_000_000)) }
	h.One(rnd(), h.N(), true)

	// Leader and one follower are cut off from the other three; the leader
	// takes 50 commands it can't commit.
	leader1 := h.CheckOneLeader()
	for k := 2; k <= 4; k++ {
		h.Disconnect(follower(h, leader1, k))
	}
	for range 50 {
		h.Propose(leader1, rnd())
	}
	h.Run(h.ElectionTimeout() / 2)
	h.Disconnect(leader1)
	h.Disconnect(follower(h, leader1, 1))

	// The three elect a leader and commit 50 commands.
	for k := 2; k <= 4; k++ {
		h.Connect(follower(h, leader1, k))
	}
	for range 50 {
		h.One(rnd(), 3, true)
	}

	// Their leader and one follower are cut off; it takes 50 more it can't commit.
	leader2 := h.CheckOneLeader()
	other := follower(h, leader1, 2)
	if other == leader2 {
		other = follower(h, leader1, 3)
	}
	h.Disconnect(other)
	for range 50 {
		h.Propose(leader2, rnd())
	}
	h.Run(h.ElectionTimeout() / 2)

	// Everyone is cut off; then the first leader, its follower and other come back.
	for _, id := range h.ids() {
		h.Disconnect(id)
	}
	h.Connect(leader1)
	h.Connect(follower(h, leader1, 1))
	h.Connect(other)
	for range 50 {
		h.One(rnd(), 3, true)
	}

	// Everyone returns.
	for _, id := range h.ids() {
		h.Connect(id)
	}
	h.OneAfterHeal(rnd(), h.N())
}

func testFastBackup(h *Harness) {
	h.One("first", h.N(), true)
	leader1 := h.CheckOneLeader()
	f1 := follower(h, leader1, 1)
	majority := []raft.NodeID{follower(h, leader1, 2), follower(h, leader1, 3), follower(h, leader1, 4)}

	// The leader and f1 are cut off and store 200 entries nobody else sees.
	h.Partition([]raft.NodeID{leader1, f1}, majority)
	for i := range 200 {
		h.Propose(leader1, cmd("lost-", i))
	}
	h.Run(h.ElectionTimeout())

	// The other three elect a leader and commit 300 entries of a later term.
	h.Partition(majority, []raft.NodeID{leader1, f1})
	leader2 := h.CheckOneLeader()
	for i := range 300 {
		h.Propose(leader2, cmd("kept-", i))
		if i%20 == 19 {
			h.Run(5 * time.Millisecond)
		}
	}
	h.WaitCommitted(301, len(majority), 0)

	// leader2 is cut off, and leader1 and f1 join the other two: they elect
	// one of those two (only they hold the committed entries), whose
	// nextIndex for everyone starts past its 301st entry however it counts
	// nextIndex. It must back up over the 100 entries leader1 and f1 lack
	// and the 200 that contradict it, all of one term, to repair them.
	var rest []raft.NodeID
	for _, id := range majority {
		if id != leader2 {
			rest = append(rest, id)
		}
	}
	h.Partition(append([]raft.NodeID{leader1, f1}, rest...), []raft.NodeID{leader2})
	before := h.sim.Stats().AppendRefusals
	h.OneAfterHeal("after", h.N()-1)
	refusals := h.sim.Stats().AppendRefusals - before
	h.Partition(h.ids())
	h.One("healed", h.N(), true)
	if limit := fastBackupBudget(2, 1); refusals > limit {
		h.OverBudget("round trips", "repairing 2 followers whose logs are 100 entries short and contradict 200 entries of one term took %d refused AppendEntries; "+
			"the budget is %d = 4 × followers repaired (2) × (conflicting terms (1) + 1). Figure 2's one-entry-at-a-time backup is correct but "+
			"slow: a refusal can carry the term of the conflicting entry and the first index it stores for that term, so that the leader "+
			"skips a whole term at once, and a follower whose log is too short can say where it ends (end of section 5.3)",
			refusals, limit)
	}
}

// fastBackupBudget is how many refused AppendEntries repairing followers may
// take: 4 × followers × (conflicting terms + 1). The paper's optimisation
// (end of section 5.3) needs about one refusal per conflicting term per
// follower, and one more where a log is too short.
func fastBackupBudget(followers, terms int) uint64 { return uint64(4 * followers * (terms + 1)) }

func testMessageCount(h *Harness) {
	h.CheckOneLeader()
	elect := h.sim.Stats().Messages()
	if limit := uint64(15 * 2 * (h.N() - 1)); elect > limit {
		h.OverBudget("message count", "electing the first leader of %d servers took %d messages; the budget is %d = 15 × 2(N−1): "+
			"fifteen rounds of a RequestVote and a reply to every other server", h.N(), elect, limit)
	}
	for try := range 5 {
		leader := h.CheckOneLeader()
		_, term, ok := h.Propose(leader, cmd("count-start-", try))
		if !ok {
			continue
		}
		start, before := h.Now(), h.sim.Stats().Messages()
		const n = 20
		var last uint64
		for i := range n {
			index, t, ok := h.Propose(leader, cmd("count-", try*100+i))
			if !ok || t != term {
				break
			}
			last = index
			h.Run(2 * time.Millisecond) // one at a time, not batched
		}
		if last == 0 || h.WaitCommitted(last, h.N(), term) == "" {
			continue
		}
		sent := h.sim.Stats().Messages() - before
		elapsed := h.Now() - start
		if limit := messageCountBudget(h, n+1, elapsed); sent > limit {
			f := uint64(h.N() - 1)
			h.OverBudget("message count", "replicating %d entries one by one took %d messages in %v; the budget is %d = "+
				"3 × 2(N−1) × entries (%d) + 2 × 2(N−1) × ⌈time / HeartbeatTimeout⌉ (%d) + 4(N−1) (%d): an AppendEntries and a reply "+
				"per follower per entry, and per heartbeat, with room for three times the first and twice the second",
				n+1, sent, elapsed, limit, 3*2*f*uint64(n+1), limit-3*2*f*uint64(n+1)-4*f, 4*f)
		}
		return
	}
	h.Fatalf("stable term", "the term changed in each of 5 tries: with no failures a leader should keep its office")
}

// messageCountBudget is how many messages replicating entries one at a time
// over elapsed may take: 3 × 2(N−1) × entries + 2 × 2(N−1) × ⌈elapsed /
// HeartbeatTimeout⌉ + 4(N−1) (exercises/GRADING.md).
func messageCountBudget(h *Harness, entries int, elapsed time.Duration) uint64 {
	f := uint64(h.N() - 1)
	hb := h.sim.Options().Config.HeartbeatTimeout
	beats := uint64((elapsed + hb - 1) / hb)
	return 3*2*f*uint64(entries) + 2*2*f*beats + 4*f
}

// proposeAt proposes cmd to id, which leads and holds index-1 entries, and
// checks that it takes cmd at index.
func (h *Harness) proposeAt(id raft.NodeID, cmd string, index uint64) {
	st := h.Status(id)
	got, term, ok := h.Propose(id, cmd)
	if !ok {
		h.Fatalf("leader", "%v refused command %q; it was %v of term %d a moment before: a leader takes every command (section 5.3)%s",
			id, cmd, st.Role, st.Term, h.describe())
	}
	if got != index {
		h.Fatalf("index", "%v, leader of term %d with %d entries in its log, put command %q at index %d, want %d: "+
			"a leader appends the command to its log and Propose returns the index it will have%s", id, term, len(st.Log), cmd, got, index, h.describe())
	}
}

func lastTerm(log []raft.Entry) uint64 {
	if len(log) == 0 {
		return 0
	}
	return log[len(log)-1].Term
}

// testOldTermEntries plays Figure 8 of the Raft paper with network
// partitions: an entry from an earlier term, stored on a majority by a later
// leader, is still overwritten by a server with a later last term. A leader
// that commits it by counting replicas breaks State Machine Safety.
func testOldTermEntries(h *Harness) {
	h.One("first", h.N(), true)
	s1 := h.CheckOneLeader()
	s2 := follower(h, s1, 1)
	rest := []raft.NodeID{follower(h, s1, 2), follower(h, s1, 3), follower(h, s1, 4)}

	// (a) s1 leads and replicates x at index 2 to s2 only.
	h.Partition([]raft.NodeID{s1, s2}, rest)
	h.proposeAt(s1, "x", 2)
	h.Run(100 * time.Millisecond)

	// (b) The other three elect s5, which takes y at index 2 and is cut off
	// before it sends y to anyone.
	h.Partition(rest, []raft.NodeID{s1, s2})
	s5 := h.CheckOneLeader()
	var others []raft.NodeID
	for _, id := range rest {
		if id != s5 {
			others = append(others, id)
		}
	}
	h.Partition([]raft.NodeID{s5}, []raft.NodeID{s1, s2}, []raft.NodeID{others[0]}, []raft.NodeID{others[1]})
	h.proposeAt(s5, "y", 2)

	// (c) s1 or s2 is elected in a later term with the vote of s3, whose log
	// is behind theirs, and replicates x to s3: x, of an old term, is now on
	// a majority. It must not be committed by counting these replicas.
	s3 := others[0]
	h.Partition([]raft.NodeID{s1, s2, s3}, []raft.NodeID{s5}, []raft.NodeID{others[1]})
	leader := h.CheckOneLeader()
	if leader != s1 && leader != s2 {
		st, st1 := h.Status(leader), h.Status(s1)
		h.Fatalf("up-to-date vote", "%v, whose log ends at index %d in term %d, was elected leader of term %d by %v and %v, whose logs end at index %d in term %d: "+
			"section 5.4.1, a server denies its vote to a candidate whose log is not at least as up-to-date as its own (the later last term wins; "+
			"with equal last terms, the longer log)%s",
			leader, len(st.Log), lastTerm(st.Log), st.Term, s1, s2, len(st1.Log), lastTerm(st1.Log), h.describe())
	}
	h.Run(500 * time.Millisecond)

	// (d) That leader is cut off. s5, whose last entry has a later term than
	// x, is elected and overwrites x with y everywhere.
	h.Partition([]raft.NodeID{s5, s3, others[1]}, []raft.NodeID{s1}, []raft.NodeID{s2})
	h.One("z", 3, true)
	h.Partition(h.ids())
	h.One("last", h.N(), true)
}

func testUnreliableAgree(h *Harness) {
	// Commands trickle in while the network loses, duplicates and delays
	// messages; late AppendEntries arrive after newer ones.
	for i := range 100 {
		for _, id := range h.ids() {
			if h.Status(id).Role == raft.Leader {
				h.Propose(id, cmd("u-", i))
			}
		}
		h.Run(time.Duration(1+h.Rand().IntN(20)) * time.Millisecond)
	}
	h.SetNetwork(lab.DefaultNetwork())
	h.One("final", h.N(), true)
}
