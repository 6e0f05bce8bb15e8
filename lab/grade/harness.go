package grade

import (
	"bytes"
	"fmt"
	"github.com/raftlab/raftlab/lab"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Harness is what a graded test drives: a simulated cluster and verbs a
// student can name — check one leader, disconnect, crash, restart, agree on a
// command. Time is virtual: waiting a second costs microseconds.
//
// A check that fails stops the test with a message saying what was expected
// and what happened instead.
type Harness struct {
	sim       *lab.Sim
	seed      uint64
	rng       *rand.Rand // the test's own choices (which node to cut off), apart from the cluster's
	connected []bool
	// maxEvents and maxTime stop a run that produces events without end (a
	// message storm) or a test that waits without end.
	maxEvents uint64
	maxTime   time.Duration
	// elections lists every election started in the run, in order: the
	// facts a failure's story is told from.
	elections []election
	// probes, while OneAfterHeal waits, holds the lowest prevLogIndex each
	// leader has sent each follower in each term; probed is when one was
	// last lowered: a leader backing up.
	probes map[probe]uint64
	probed time.Duration
	// campaigns lists, in order, each server asking for votes in a term
	// (its first RequestVote of that term): candidacies as the trace shows
	// them, also when a candidate stays a candidate into the next term.
	campaigns []election
	asked     map[campaign]bool
	// panics keeps what a server that panics was doing (report_panic.go);
	// heartbeats the last AppendEntries between each two servers
	// (report_election.go).
	panics     panicWatch
	heartbeats heartbeatWatch
	// links counts what each server sent each other one (report_lag.go).
	links linkWatch
}

type campaign struct {
	node raft.NodeID
	term uint64
}

type probe struct {
	from, to raft.NodeID
	term     uint64
}

// election is one server becoming a candidate.
type election struct {
	node raft.NodeID
	term uint64
	at   time.Duration
}

// observe sees every event of the run as it happens.
func (h *Harness) observe(e *raft.Event) {
	h.notePanics(e)
	h.noteHeartbeats(e)
	h.noteLinks(e)
	if h.probes != nil && e.Kind == raft.EvSend && e.Msg.Type == raft.AppendEntries {
		p := probe{e.Msg.From, e.Msg.To, e.Msg.Term}
		if low, ok := h.probes[p]; ok && e.Msg.PrevLogIndex < low {
			h.probed = e.Time
		}
		if low, ok := h.probes[p]; !ok || e.Msg.PrevLogIndex < low {
			h.probes[p] = e.Msg.PrevLogIndex
		}
	}
	if e.Kind == raft.EvSend && e.Msg.Type == raft.RequestVote {
		c := campaign{e.Msg.From, e.Msg.Term}
		if !h.asked[c] {
			if h.asked == nil {
				h.asked = map[campaign]bool{}
			}
			h.asked[c] = true
			h.campaigns = append(h.campaigns, election{node: c.node, term: c.term, at: e.Time})
		}
	}
	if e.Kind == raft.EvRole && e.Role == raft.Candidate {
		h.elections = append(h.elections, election{node: e.Node, term: e.Term, at: e.Time})
	}
}

// electionsSince lists the elections started at or after time t, in
// words, e.g. "n3 started an election for term 4 at 1.230s".
func (h *Harness) electionsSince(t time.Duration) string {
	var parts []string
	for _, e := range h.elections {
		if e.at >= t {
			parts = append(parts, fmt.Sprintf("%v started an election for term %d at %s", e.node, e.term, raft.FormatTime(e.at)))
		}
	}
	if len(parts) == 0 {
		return "no server started an election"
	}
	if len(parts) > 4 {
		parts = append(parts[:4], fmt.Sprintf("and %d more", len(parts)-4))
	}
	return strings.Join(parts, "; ")
}

// failure stops a test; the runner recovers it.
type failure struct {
	check string // what was being checked, e.g. "one leader"
	msg   string
	kind  Kind // Efficiency for a budget exceeded, else Correctness
}

// Fatalf stops the test: check names what was being checked. It is a
// correctness failure: safety or liveness, Raft or not Raft.
func (h *Harness) Fatalf(check, format string, args ...any) {
	panic(failure{check: check, msg: fmt.Sprintf(format, args...)})
}

// refused stops the test because the lab refused what the test asked of it:
// check names the step ("crash"), doing says what the test was doing, in
// the paper's words, and err is the lab's refusal. The student's servers did
// not cause it (a server that panics is reported as such, before this), so
// the report says so, and how to pass it on.
func (h *Harness) refused(check, doing string, err error) {
	h.Fatalf(check, "the test was %s, and the lab refused: %v. "+
		"This is a mistake of the test, not of your servers: please report it, with the command below that replays it",
		doing, strings.TrimPrefix(err.Error(), "lab: "))
}

// connectedOrNot lists the servers whose connected flag is want.
func connectedOrNot(connected []bool, want bool) []raft.NodeID {
	var ids []raft.NodeID
	for i, c := range connected {
		if c == want {
			ids = append(ids, raft.NodeID(i+1))
		}
	}
	return ids
}

// OverBudget stops the test because a cost (messages, bytes, round trips)
// went over its budget: an efficiency failure, which costs the test's
// efficiency points and says nothing against correctness. The message should
// give the formula of the budget, as exercises/GRADING.md writes it.
func (h *Harness) OverBudget(check, format string, args ...any) {
	panic(failure{check: check, msg: fmt.Sprintf(format, args...), kind: Efficiency})
}

// lab.Sim is the simulated cluster, for tests that need more than the verbs.
func (h *Harness) Sim() *lab.Sim { return h.sim }

// N is the number of servers.
func (h *Harness) N() int { return h.sim.Options().Nodes }

// Rand is the test's own random source, seeded by the test's seed.
func (h *Harness) Rand() *rand.Rand { return h.rng }

// Now is the virtual time.
func (h *Harness) Now() time.Duration { return h.sim.Now() }

// ElectionTimeout is the configured (shortest) election timeout.
func (h *Harness) ElectionTimeout() time.Duration { return h.sim.Options().Config.ElectionTimeout }

// Run lets the cluster run for d of virtual time, then checks that no safety
// rule broke.
func (h *Harness) Run(d time.Duration) {
	end := h.sim.Now() + d
	for h.sim.Now() < end {
		h.sim.RunUntil(min(end, h.sim.Now()+100*time.Millisecond))
		h.checkSafety()
	}
}

// RunUntilEvent lets the cluster run until an event matching match happens,
// for up to d, and reports whether it did. It stops right after the event,
// before the rest of what the same node did at that step: crashing the node
// now loses it (messages not yet sent, state not yet saved).
func (h *Harness) RunUntilEvent(match func(*raft.Event) bool, d time.Duration) bool {
	ok := h.sim.RunUntilEvent(match, h.Now()+d)
	h.checkSafety()
	return ok
}

// checkSafety stops the test at the first broken safety rule.
func (h *Harness) checkSafety() {
	if vs := h.sim.Violations(); len(vs) > 0 {
		panic(vs[0])
	}
	if h.sim.Stats().Events > h.maxEvents {
		h.Fatalf("event budget", "the run produced more than %d events by %s of virtual time: something sends messages without end (a heartbeat or vote storm?)",
			h.maxEvents, raft.FormatTime(h.sim.Now()))
	}
	if h.sim.Now() > h.maxTime {
		h.Fatalf("time budget", "the test is still waiting after %s of virtual time: no graded test needs that long", raft.FormatTime(h.maxTime))
	}
}

// ids returns n1..nN.
func (h *Harness) ids() []raft.NodeID {
	ids := make([]raft.NodeID, h.N())
	for i := range ids {
		ids[i] = raft.NodeID(i + 1)
	}
	return ids
}

// live reports whether id is running and connected to the majority side.
func (h *Harness) live(id raft.NodeID) bool { return h.connected[id-1] && h.sim.Up(id) }

// Disconnect cuts server id off from the network; messages to and from it are lost.
func (h *Harness) Disconnect(id raft.NodeID) {
	h.connected[id-1] = false
	h.applyConnections()
}

// Connect joins server id back to the connected servers.
func (h *Harness) Connect(id raft.NodeID) {
	h.connected[id-1] = true
	h.applyConnections()
}

// Connected reports whether id is connected.
func (h *Harness) Connected(id raft.NodeID) bool { return h.connected[id-1] }

func (h *Harness) applyConnections() {
	var in []raft.NodeID
	var groups [][]raft.NodeID
	for i, c := range h.connected {
		if c {
			in = append(in, raft.NodeID(i+1))
		} else {
			groups = append(groups, []raft.NodeID{raft.NodeID(i + 1)})
		}
	}
	if err := h.sim.Partition(append([][]raft.NodeID{in}, groups...)...); err != nil {
		h.refused("network partition", fmt.Sprintf("cutting %v off from the other servers (a network partition: messages to and from them are lost)", connectedOrNot(h.connected, false)), err)
	}
}

// Partition splits the servers into groups that cannot talk to each other.
// The harness then counts the first group as the connected one.
func (h *Harness) Partition(groups ...[]raft.NodeID) {
	if err := h.sim.Partition(groups...); err != nil {
		h.refused("network partition", fmt.Sprintf("splitting the servers into groups %v that cannot talk to each other (a network partition)", groups), err)
	}
	for i := range h.connected {
		h.connected[i] = len(groups) > 0 && slices.Contains(groups[0], raft.NodeID(i+1))
	}
}

// Crash crashes server id: its volatile state is lost, its storage kept.
func (h *Harness) Crash(id raft.NodeID) {
	if err := h.sim.Crash(id); err != nil {
		h.refused("crash", fmt.Sprintf("crashing %v (it loses its volatile state and keeps its persistent state: currentTerm, votedFor and log, Figure 2)", id), err)
	}
}

// Restart starts server id again from what it stored.
func (h *Harness) Restart(id raft.NodeID) {
	if err := h.sim.Restart(id); err != nil {
		h.refused("restart", fmt.Sprintf("restarting %v from its persistent state (currentTerm, votedFor and log, Figure 2)", id), err)
	}
	h.checkSafety()
}

// SetNetwork changes the network's behaviour.
func (h *Harness) SetNetwork(n lab.Network) {
	if err := h.sim.SetNetwork(n); err != nil {
		h.refused("network", fmt.Sprintf("changing how the network delivers messages (latency %v to %v, %.0f%% lost)", n.MinLatency, n.MaxLatency, 100*n.Loss), err)
	}
}

// Status returns server id's Status; the server must be up.
func (h *Harness) Status(id raft.NodeID) raft.Status {
	st, ok := h.sim.Status(id)
	if !ok {
		h.refused("server state", fmt.Sprintf("reading %v's state (currentTerm, votedFor, log, commitIndex)", id),
			fmt.Errorf("%v is down: a crashed server has no state to read until it restarts", id))
	}
	return st
}

// Leaders returns the connected, running servers that believe they lead, with
// their terms.
func (h *Harness) leaders() map[uint64][]raft.NodeID {
	byTerm := map[uint64][]raft.NodeID{}
	for _, id := range h.ids() {
		if !h.live(id) {
			continue
		}
		if st := h.Status(id); st.Role == raft.Leader {
			byTerm[st.Term] = append(byTerm[st.Term], id)
		}
	}
	return byTerm
}

// forceTimeout makes server id's election timer run out now, and reports
// whether id then started an election. It ticks id's clock until id leaves
// the term it is in, however its timer counts: it may compare
// electionElapsed with ">=" or ">", and draw its timeout from [n, 2n) or
// [n+1, 2n] — Figure 2 fixes none of that, and neither does a test. It
// reports false, doing nothing, if id is down or the leader (a leader has no
// election timer). A server whose clock runs past twice ElectionTimeout
// without an election fails the test: that is a rule of Figure 2.
func (h *Harness) forceTimeout(id raft.NodeID) bool {
	if !h.sim.Up(id) {
		return false
	}
	st := h.Status(id)
	if st.Role == raft.Leader {
		return false
	}
	limit := 2*h.sim.Options().Config.ElectionTicks() + 2
	for ticked := 0; ticked <= limit; {
		ticked += max(min(st.ElectionTimeout-st.ElectionElapsed, limit), 1)
		if err := h.sim.ForceTimeout(id); err != nil { // id is up and not the leader: the lab's own mistake
			h.refused("election timeout", fmt.Sprintf("making %v's election timeout elapse, as if it heard from no leader "+
				"(Figure 2: a follower that receives no AppendEntries and grants no vote converts to candidate)", id), err)
		}
		now := h.Status(id)
		if now.Term > st.Term || now.Role == raft.Leader {
			return true
		}
		st = now
	}
	h.Fatalf("election timeout", "%v's clock ran %d ticks — more than twice ElectionTimeout — with no heartbeat and no vote granted, "+
		"and it is still %v in term %d: Figure 2, a follower whose election timeout elapses without hearing from the leader "+
		"or granting a vote converts to candidate, increments currentTerm and starts an election%s",
		id, limit, st.Role, st.Term, h.describe())
	return false
}

// CheckOneLeader waits up to 5 seconds for the connected servers to have a
// leader, and returns the leader of the latest term. Two leaders in one term
// stop the test.
func (h *Harness) CheckOneLeader() raft.NodeID {
	start := h.Now()
	deadline := start + 5*time.Second
	for h.Now() < deadline {
		h.Run(10 * time.Millisecond)
		byTerm := h.leaders()
		if len(byTerm) == 0 {
			continue
		}
		var last uint64
		for term, ls := range byTerm {
			if len(ls) > 1 {
				h.Fatalf("one leader", "term %d has %d leaders: %v", term, len(ls), ls)
			}
			last = max(last, term)
		}
		return byTerm[last][0]
	}
	h.Fatalf("one leader", "no leader was elected within 5 seconds among the connected servers %v%s%s", h.connectedIDs(), h.splitVotes(start), h.describe())
	return raft.None
}

// splitVotes tells, from the candidacies since t, whether the votes kept
// splitting: several candidates in one term, none of them winning. It says
// nothing when they did not.
func (h *Harness) splitVotes(t time.Duration) string {
	byTerm := map[uint64]int{}
	var terms []uint64
	for _, e := range h.campaigns {
		if e.at < t {
			continue
		}
		if byTerm[e.term] == 0 {
			terms = append(terms, e.term)
		}
		byTerm[e.term]++
	}
	var split []string
	for _, term := range terms {
		if byTerm[term] > 1 {
			split = append(split, fmt.Sprintf("%d (%d candidates)", term, byTerm[term]))
		}
	}
	if len(split) < 2 || 2*len(split) < len(terms) {
		return ""
	}
	n := len(split)
	if n > 6 {
		split = append(split[:6], "…")
	}
	return fmt.Sprintf(". The votes kept splitting: in %d of the %d terms started since %s more than one server became a candidate "+
		"(terms %s), so none gathered a majority. Section 5.2: Raft uses randomized election timeouts — each server chooses its "+
		"timeout at random from a fixed interval, anew each time it restarts its timer — so that usually one server times out "+
		"first and wins before the others time out",
		n, len(terms), raft.FormatTime(t), strings.Join(split, ", "))
}

// CheckNoLeader checks that no connected server believes it is leader.
func (h *Harness) CheckNoLeader() {
	for _, id := range h.ids() {
		if h.live(id) && h.Status(id).Role == raft.Leader {
			h.Fatalf("no leader", "%v is leader, but only %v are connected: without a majority nobody can be elected%s",
				id, h.connectedIDs(), h.describe())
		}
	}
}

// CheckTerms waits up to a second for the connected servers to agree on the
// term, and returns it.
func (h *Harness) CheckTerms() uint64 {
	deadline := h.Now() + time.Second
	for {
		term, first, other, otherTerm := uint64(0), raft.None, raft.None, uint64(0)
		for _, id := range h.ids() {
			if !h.live(id) {
				continue
			}
			t := h.Status(id).Term
			if first == raft.None {
				term, first = t, id
			} else if t != term && other == raft.None {
				other, otherTerm = id, t
			}
		}
		if other == raft.None {
			return term
		}
		if h.Now() >= deadline {
			h.Fatalf("agree on term", "after a second, %v is in term %d but %v is in term %d%s", first, term, other, otherTerm, h.describe())
		}
		h.Run(10 * time.Millisecond)
	}
}

func (h *Harness) connectedIDs() []raft.NodeID {
	var ids []raft.NodeID
	for _, id := range h.ids() {
		if h.live(id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// describe summarises every server, for failure messages.
func (h *Harness) describe() string {
	var b bytes.Buffer
	b.WriteString("\n    servers now:")
	for _, id := range h.ids() {
		st, ok := h.sim.Status(id)
		state := "down"
		if ok {
			state = fmt.Sprintf("%v term=%d votedFor=%v log=%d commit=%d", st.Role, st.Term, st.VotedFor, len(st.Log), st.CommitIndex)
		}
		conn := ""
		if !h.connected[id-1] {
			conn = " (disconnected)"
		}
		fmt.Fprintf(&b, "\n      %v: %s%s", id, state, conn)
	}
	return b.String()
}

// Propose offers cmd to server id, as a client would.
func (h *Harness) Propose(id raft.NodeID, cmd string) (index, term uint64, isLeader bool) {
	h.panics.proposing = &cmd
	index, term, isLeader, err := h.sim.Propose(id, []byte(cmd))
	h.panics.proposing = nil
	if err != nil {
		h.refused("client request", fmt.Sprintf("offering the command %q to %v, as a client would (section 8)", cmd, id), err)
	}
	return index, term, isLeader
}

// NCommitted returns how many servers have applied an entry at index, and
// its command. The checker has already made sure they agree.
func (h *Harness) NCommitted(index uint64) (int, string) {
	count, cmd := 0, ""
	for _, id := range h.ids() {
		if en, ok := h.sim.AppliedAt(id, index); ok {
			count++
			cmd = string(en.Command)
		}
	}
	return count, cmd
}

// One submits cmd and waits until at least expected servers have applied it,
// as the client of section 8 would: offer it to each server in turn until a
// leader accepts it, then wait up to 2 seconds for agreement; try again (if
// retry) for up to 10 seconds in all. It returns the entry's index.
func (h *Harness) One(cmd string, expected int, retry bool) uint64 {
	return h.one(cmd, expected, retry, 10*time.Second)
}

// OneAfterHeal is One for the first command after faults heal, when logs
// may diverge by hundreds of entries. A leader that backs up one entry per
// refusal — Figure 2's own rule, slow but correct — needs a round trip per
// entry, so the wait goes on past 10 seconds for as long as a leader keeps
// backing up (sends a follower a lower prevLogIndex than before), up to 10 seconds plus one round trip and a heartbeat per
// entry of the longest log. How fast a leader backs up is an efficiency
// matter (2/FastBackup), not a correctness one.
func (h *Harness) OneAfterHeal(cmd string, expected int) uint64 {
	longest := 0
	for _, id := range h.ids() {
		if st, ok := h.sim.Status(id); ok {
			longest = max(longest, len(st.Log))
		}
	}
	cfg, net := h.sim.Options().Config, h.sim.Network()
	perEntry := 2*net.MaxLatency + cfg.HeartbeatTimeout
	h.probes, h.probed = map[probe]uint64{}, h.Now()
	defer func() { h.probes = nil }()
	return h.one(cmd, expected, true, 10*time.Second+time.Duration(longest)*perEntry)
}

// probing reports whether a leader backed up in a follower's log (sent a
// lower prevLogIndex than before) in the last 10 seconds, while OneAfterHeal
// waits.
func (h *Harness) probing() bool { return h.probes != nil && h.Now()-h.probed < 10*time.Second }

func (h *Harness) one(cmd string, expected int, retry bool, within time.Duration) uint64 {
	deadline := h.Now() + within
	start := 0
	var mark []linkCount // the messages sent until the last proposal
	lastIndex := uint64(0)
	for h.Now() < deadline {
		index := uint64(0)
		m := h.linkMark()
		for range h.N() {
			start = (start + 1) % h.N()
			id := raft.NodeID(start + 1)
			if !h.live(id) {
				continue
			}
			if i, _, ok := h.Propose(id, cmd); ok {
				index, mark, lastIndex = i, m, i
				break
			}
		}
		if index != 0 {
			for wait := h.Now() + 2*time.Second; h.Now() < wait; {
				h.Run(10 * time.Millisecond)
				if n, got := h.NCommitted(index); n >= expected && got == cmd {
					return index
				}
			}
			if !retry {
				n, got := h.NCommitted(index)
				h.Fatalf("agreement", "command %q, proposed at index %d, was applied by %d servers (%q) within 2 seconds; want at least %d%s%s",
					cmd, index, n, got, expected, h.lagStory(mark, index), h.describe())
			}
		} else {
			h.Run(50 * time.Millisecond)
		}
		if h.Now() >= deadline-within+10*time.Second && !h.probing() {
			break // 10 seconds, and no leader is backing up any more
		}
	}
	lag := ""
	if lastIndex != 0 {
		lag = h.lagStory(mark, lastIndex)
	}
	h.Fatalf("agreement", "command %q was not applied by %d servers within %s%s%s", cmd, expected, raft.FormatTime(h.Now()-(deadline-within)), lag, h.describe())
	return 0
}

// WaitCommitted waits until at least n servers have applied index, and
// returns its command. It gives up early if a leader of a term after
// startTerm exists (startTerm 0: never), returning "".
func (h *Harness) WaitCommitted(index uint64, n int, startTerm uint64) string {
	for wait := h.Now() + 5*time.Second; h.Now() < wait; {
		if got, cmd := h.NCommitted(index); got >= n {
			return cmd
		}
		h.Run(10 * time.Millisecond)
		if startTerm > 0 {
			for _, id := range h.ids() {
				if st, ok := h.sim.Status(id); ok && st.Term > startTerm {
					return ""
				}
			}
		}
	}
	got, _ := h.NCommitted(index)
	h.Fatalf("agreement", "only %d servers applied index %d within 5 seconds; want %d%s", got, index, n, h.describe())
	return ""
}

// cmd makes a distinct command for the i-th proposal of a test.
func cmd(prefix string, i int) string { return prefix + strconv.Itoa(i) }
