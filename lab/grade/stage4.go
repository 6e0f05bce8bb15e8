package grade

import (
	"fmt"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// Stage 4, log compaction (section 7, Figures 12 and 13). At least MIT
// 6.5840's part 3D (basic snapshots, install, install unreliable, install with
// crashes, all crash, init after restart), in virtual time, with the checker
// on — which also checks every snapshot against the committed entries, every
// restored state machine against the digest of the committed entries, and
// that no state machine ever goes back. The deterministic tests force the
// interleavings of section 7 that random schedules rarely reach: an
// InstallSnapshot delivered late or twice, a snapshot taken while an
// AppendEntries is on its way.

// snapshotEvery is how often the lab's state machine hands its node a
// snapshot in stage 4, in applied entries.
const snapshotEvery = 10

var stage4Tests = []*Test{
	{Stage: 4, Name: "SnapshotBasic", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Run: testSnapshotBasic,
		What: "servers that snapshot every 10 entries keep agreeing, and their logs stay short"},
	{Stage: 4, Name: "Install", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Run: func(h *Harness) { testSnapshotInstall(h, false) },
		What: "a follower cut off while the others compact is caught up by InstallSnapshot"},
	{Stage: 4, Name: "InstallUnreliable", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Network: lab.UnreliableNetwork(), Run: func(h *Harness) { testSnapshotInstall(h, false) },
		What: "the same on a lossy, reordering network"},
	{Stage: 4, Name: "InstallCrash", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Run: func(h *Harness) { testSnapshotInstall(h, true) },
		What: "a follower crashed while the others compact restarts and is caught up by InstallSnapshot"},
	{Stage: 4, Name: "AllCrash", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Run: testSnapshotAllCrash,
		What: "every server crashes and restarts from its snapshot and log suffix, again and again"},
	{Stage: 4, Name: "InitAfterRestart", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Run: testSnapshotInit,
		What: "a server restarted from a snapshot starts with commitIndex and lastApplied at its last included index"},
	{Stage: 4, Name: "StaleInstall", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Seeds: 10, Run: func(h *Harness) { testStaleInstallSnapshot(h, false) },
		What: "an InstallSnapshot delivered after the follower has moved past it changes nothing (never roll back)"},
	{Stage: 4, Name: "DuplicateInstall", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Seeds: 10, Run: func(h *Harness) { testStaleInstallSnapshot(h, true) },
		What: "an InstallSnapshot delivered twice, the second time after more entries, changes nothing"},
	{Stage: 4, Name: "SnapshotDuringAppend", Points: 4, Nodes: 3, Seeds: 10, Run: testSnapshotDuringAppend,
		What: "a follower that compacts while an AppendEntries for entries it has compacted is on its way handles it"},
	{Stage: 4, Name: "CompactionChurn", Points: 4, Nodes: 5, SnapshotEvery: snapshotEvery, Network: lab.UnreliableNetwork(), Run: testSnapshotChurn,
		What: "random crashes, restarts and cuts while clients propose and servers compact; at the end every server agrees"},
	{Stage: 4, Name: "InstallKeepsSuffix", Points: 4, Nodes: 3, Seeds: 10, Run: testInstallKeepsSuffix,
		What: "an InstallSnapshot whose last included entry the follower holds, with entries after it: the follower keeps them (Figure 13, step 6)"},
	{Stage: 4, Name: "InstallDiscardsLog", Points: 4, Nodes: 3, Seeds: 10, Run: testInstallDiscardsLog,
		What: "an InstallSnapshot whose last included entry the follower holds with another term: the follower discards its whole log (step 7)"},
	{Stage: 4, Name: "InstallCount", Kind: Efficiency, Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Run: testInstallCount,
		What: "a leader sends InstallSnapshot only to a follower that needs it, about once per catch-up"},
}

// checkLogsShort fails if a running server's log holds far more entries than
// it applied since its last snapshot: a server must discard what it compacts.
func checkLogsShort(h *Harness) {
	for _, id := range h.ids() {
		if !h.sim.Up(id) {
			continue
		}
		st := h.Status(id)
		if saved, ok := h.sim.Stored(id); ok && st.SnapshotIndex > 0 && saved.Snapshot.LastIncludedIndex < st.SnapshotIndex {
			h.Fatalf("Log Compaction", "%v compacted its log through index %d, but its storage holds a snapshot through %d only: a snapshot is saved (SnapshotEnv.SaveSnapshot) with the hard state and the log, so that a restart finds it", id, st.SnapshotIndex, saved.Snapshot.LastIncludedIndex)
		}
		if limit := 3*snapshotEvery + 2*st.ElectionTimeout + 50; len(st.Log) > limit && st.SnapshotIndex == 0 {
			h.Fatalf("Log Compaction", "%v holds %d log entries and has never compacted: after the state machine hands over a snapshot, the log up through it must be discarded (section 7)", id, len(st.Log))
		}
	}
}

func testSnapshotBasic(h *Harness) {
	for i := range 4 * snapshotEvery {
		h.One(cmd("b", i), h.N(), true)
	}
	checkLogsShort(h)
	for _, id := range h.ids() {
		if st := h.Status(id); st.SnapshotIndex == 0 {
			h.Fatalf("Log Compaction", "%v applied %d entries and was handed snapshots, but reports no snapshot (Status.SnapshotIndex 0)", id, st.LastApplied)
		}
	}
}

func testSnapshotInstall(h *Harness, crash bool) {
	h.One("i0", h.N(), true)
	for round := range 3 {
		leader := h.CheckOneLeader()
		victim := raft.NodeID(int(leader)%h.N() + 1)
		if crash {
			h.Crash(victim)
		} else {
			h.Disconnect(victim)
		}
		for i := range 3 * snapshotEvery {
			h.One(cmd("i", round*100+i), h.N()-1, true)
		}
		if crash {
			h.Restart(victim)
		} else {
			h.Connect(victim)
		}
		h.One(cmd("i", round*100+99), h.N(), true)
	}
	checkLogsShort(h)
}

func testSnapshotAllCrash(h *Harness) {
	for round := range 4 {
		for i := range snapshotEvery + 3 {
			h.One(cmd("a", round*100+i), h.N(), true)
		}
		for _, id := range h.ids() {
			h.Crash(id)
		}
		for _, id := range h.ids() {
			h.Restart(id)
		}
		index := h.One(cmd("a", round*100+99), h.N(), true)
		if want := uint64((round+1)*(snapshotEvery+4) + 1); index < want-3 {
			h.Fatalf("agreement", "after the restart the new entry got index %d; the log before it held at least %d entries", index, want-4)
		}
	}
}

func testSnapshotInit(h *Harness) {
	for i := range snapshotEvery + 1 {
		h.One(cmd("s", i), h.N(), true)
	}
	for _, id := range h.ids() {
		h.Crash(id)
	}
	for _, id := range h.ids() {
		h.Restart(id) // the checker compares commitIndex and lastApplied with the snapshot
	}
	h.One("s-after", h.N(), true)
	for _, id := range h.ids() {
		h.Crash(id)
	}
	for _, id := range h.ids() {
		h.Restart(id)
	}
	h.One("s-after2", h.N(), true)
}

// testStaleInstallSnapshot holds the first InstallSnapshot sent to a
// rejoining follower, lets the follower catch up by a later one and move
// further on, then delivers the held one (or a second copy of one it already
// had): Figure 13's receiver must not roll the log or the state machine back.
func testStaleInstallSnapshot(h *Harness, duplicate bool) {
	h.One("d0", h.N(), true)
	leader := h.CheckOneLeader()
	victim := raft.NodeID(int(leader)%h.N() + 1)
	h.Disconnect(victim)
	for i := range 3 * snapshotEvery {
		h.One(cmd("d", i), h.N()-1, true)
	}
	s := h.Sim()
	var first uint64
	s.HoldMatching(func(m *raft.Message) bool {
		return first == 0 && m.Type == raft.InstallSnapshot && m.To == victim
	})
	h.Connect(victim)
	for wait := h.Now() + 5*time.Second; h.Now() < wait && first == 0; {
		h.Run(10 * time.Millisecond)
		for _, f := range s.Held() {
			first = f.Sent
		}
	}
	s.HoldMatching(nil)
	if first == 0 {
		// The leader caught the follower up without a snapshot; nothing to test.
		h.One("d-end", h.N(), true)
		return
	}
	if duplicate {
		// A copy arrives now and is installed; the original stays held.
		if err := s.Duplicate(first); err != nil {
			h.refused("duplicate message", fmt.Sprintf("delivering a second copy of the InstallSnapshot held back on its way to %v (a network may duplicate a message)", victim), err)
		}
	}
	// The follower catches up (by another InstallSnapshot if the first is
	// still held) and goes further.
	for i := range 2 * snapshotEvery {
		h.One(cmd("e", i), h.N(), true)
	}
	// Now the held InstallSnapshot arrives: late, and out of date.
	if err := s.Release(first); err != nil {
		h.refused("late message", fmt.Sprintf("delivering, late, the InstallSnapshot held back on its way to %v", victim), err)
	}
	h.Run(50 * time.Millisecond)
	h.One("d-end", h.N(), true)
}

// testSnapshotDuringAppend: a follower takes a snapshot through entries that an
// AppendEntries still on its way carries; when it arrives, the follower must
// accept it (the entries it compacted are committed and match) without
// growing its log back or failing.
func testSnapshotDuringAppend(h *Harness) {
	leader := h.CheckOneLeader()
	victim := raft.NodeID(int(leader)%h.N() + 1)
	s := h.Sim()
	// Hold the first AppendEntries that carry entries to the follower —
	// the very first carries index 1, after prevLogIndex 0.
	var held []uint64
	s.HoldMatching(func(m *raft.Message) bool {
		return m.Type == raft.AppendEntries && m.To == victim && len(m.Entries) > 0 && len(held) < 3
	})
	for i := range 5 {
		h.Propose(leader, cmd("p", i))
		h.Run(5 * time.Millisecond)
		held = held[:0]
		for _, f := range s.Held() {
			held = append(held, f.Sent)
		}
	}
	s.HoldMatching(nil)
	// The leader's retries bring the follower up to date; then it compacts
	// through everything it applied.
	h.WaitCommitted(5, h.N(), 0)
	takeSnapshot(h, victim)
	h.checkSafety()
	// Now the held AppendEntries arrive: every entry they carry is compacted.
	for _, sent := range held {
		_ = s.Release(sent)
		h.checkSafety()
	}
	h.One("p-end", h.N(), true)
}

func testSnapshotChurn(h *Harness) {
	for i := range 120 {
		if h.Rand().IntN(5) == 0 {
			id := raft.NodeID(h.Rand().IntN(h.N()) + 1)
			if h.sim.Up(id) {
				h.Crash(id)
			} else {
				h.Restart(id)
			}
		}
		_ = i
		for _, id := range h.ids() {
			if h.sim.Up(id) {
				if _, _, ok := h.Propose(id, cmd("c", i)); ok {
					break
				}
			}
		}
		h.Run(time.Duration(h.Rand().IntN(60)) * time.Millisecond)
	}
	// Heal everything, the network too, before the last command, as stage 3's
	// churn and MIT's do. Raft promises progress once messages get through,
	// not under a network that keeps losing them: a leader that counts its
	// AppendEntries as delivered when it sends them (nextIndex = last sent +
	// 1) and backs up one entry per refusal starts its backup again from the
	// top after every lost message, so on a lossy network it may never reach
	// a follower 60 entries behind, though it is correct Raft and gets there
	// in 60 round trips once the network is reliable. Safety was checked on
	// every event of the churn all the same.
	h.SetNetwork(lab.DefaultNetwork())
	for _, id := range h.ids() {
		if !h.sim.Up(id) {
			h.Restart(id)
		}
	}
	h.Run(h.ElectionTimeout())
	h.OneAfterHeal("c-end", h.N()) // a leader may still be backing up one entry per refusal: slow, not wrong
}

// installRounds is how many times InstallCount catches a follower up.
const installRounds = 3

// installBudget is how many InstallSnapshot messages InstallCount allows
// (exercises/GRADING.md): 4 × (catch-ups + (N−1) × ⌈commands committed while
// measured / snapshotEvery⌉). A catch-up needs one InstallSnapshot; and a
// follower whose reply is still on its way when the leader compacts may
// legitimately need one for each snapshot the leader takes — four times
// over, for resends while a reply is on its way and for a leader that
// backs up one entry per refusal with several AppendEntries in flight.
func installBudget(nodes, catchUps, commands int) uint64 {
	snapshots := (commands + snapshotEvery - 1) / snapshotEvery
	return uint64(4 * (catchUps + (nodes-1)*snapshots))
}

// testInstallCount counts the InstallSnapshot messages a leader sends while
// it catches up a follower that was cut off while the others compacted
// (three times, each from the reconnection until the follower applied a new
// command), and while 2 × snapshotEvery commands commit with every follower
// keeping up, then a second with nothing to do. What is not counted: while
// the follower is cut off, a leader may resend to it as often as Figure 2
// resends AppendEntries — it cannot tell a cut-off server from a slow one.
func testInstallCount(h *Harness) {
	h.One("w", h.N(), true)
	installs := func() uint64 { return h.sim.Stats().Sent[raft.InstallSnapshot] }
	var sent uint64
	for round := range installRounds {
		leader := h.CheckOneLeader()
		victim := follower(h, leader, 1+round%(h.N()-1))
		h.Disconnect(victim)
		for i := range 3 * snapshotEvery {
			h.One(cmd("k", round*100+i), h.N()-1, true)
		}
		before := installs()
		h.Connect(victim)
		h.One(cmd("k", round*100+99), h.N(), true)
		sent += installs() - before
	}
	before := installs()
	const steady = 2 * snapshotEvery
	for i := range steady {
		h.One(cmd("s", i), h.N(), true)
	}
	h.Run(time.Second)
	sent += installs() - before
	if limit := installBudget(h.N(), installRounds, installRounds+steady); sent > limit {
		h.OverBudget("install count", "the leader sent %d InstallSnapshot messages while it caught up a follower %d times and while %d commands "+
			"committed with every follower keeping up; the budget is %d = 4 × (catch-ups (%d) + (N−1) × ⌈commands (%d) / %d⌉): one InstallSnapshot "+
			"per catch-up, and one per follower for each snapshot the leader takes, four times over. A leader sends InstallSnapshot only to a "+
			"follower that needs entries it has discarded (Figure 13, section 7), not with every heartbeat",
			sent, installRounds, steady, limit, installRounds, installRounds+steady, snapshotEvery)
	}
}

// entryAt returns the entry at index in st's log (after its snapshot).
func entryAt(st raft.Status, index uint64) (raft.Entry, bool) {
	if index <= st.SnapshotIndex || index > st.LastIndex() {
		return raft.Entry{}, false
	}
	return st.Log[index-st.SnapshotIndex-1], true
}

// waitHeld runs the cluster for up to d until a held message satisfies
// match, and returns it.
func waitHeld(h *Harness, d time.Duration, match func(*raft.Message) bool) (lab.InFlight, bool) {
	for end := h.Now() + d; ; {
		for _, f := range h.Sim().Held() {
			if match(f.Msg) {
				return f, true
			}
		}
		if h.Now() >= end {
			return lab.InFlight{}, false
		}
		h.Run(10 * time.Millisecond)
	}
}

// discardHeld drops every message still held, and holds no more.
func discardHeld(h *Harness) {
	s := h.Sim()
	s.HoldMatching(nil)
	for _, f := range s.Held() {
		_ = s.Discard(f.Sent)
	}
}

// reached, in the lab's own tests, records that a test set up its scene
// and made its check; nil otherwise.
var reachedHook func(test string)

func reached(test string) {
	if reachedHook != nil {
		reachedHook(test)
	}
}

// takeSnapshot has id's state machine hand it a snapshot of everything it
// applied, and returns its last included index.
func takeSnapshot(h *Harness, id raft.NodeID) uint64 {
	index, ok, err := h.Sim().TakeSnapshot(id)
	if err != nil {
		h.refused("snapshot", fmt.Sprintf("having %v's state machine hand it a snapshot of everything it applied (section 7)", id), err)
	}
	if !ok {
		h.Fatalf("Log Compaction", "the lab could not hand %v a snapshot of the %d entries it applied: a stage-4 server takes the snapshots "+
			"its state machine hands it (Snapshot, raft.Compactor; section 7)", id, h.Status(id).LastApplied)
	}
	return index
}

// releaseHeld delivers the held message m now.
func releaseHeld(h *Harness, m lab.InFlight) {
	if err := h.Sim().Release(m.Sent); err != nil {
		h.refused("late message", fmt.Sprintf("delivering, late, the %v held back on its way to %v", m.Msg.Type, m.Msg.To), err)
	}
}

// testInstallKeepsSuffix is Figure 13's receiver, step 6: an InstallSnapshot
// arrives at a follower whose log holds the snapshot's last included entry
// (same index and term) and entries after it; the follower keeps those.
//
// The scene: follower f is down while a majority commits entries A, and the
// AppendEntries the leader sends it meanwhile are held. Then the leader, cut
// off from that majority, appends entries B that cannot commit; those
// AppendEntries to f are held too. The leader compacts through A; f
// restarts, and since it lacks A, the leader sends it InstallSnapshot, which
// is held. Now the held AppendEntries arrive, and f's log holds A and B. f
// crashes and restarts again (commitIndex 0, log and term kept), and the
// held InstallSnapshot arrives: f must keep B. (f is down, not cut off,
// while its AppendEntries are held: a down server has no election timer, so
// that a leader of any pace keeps its term.) A scene that does not come
// about (a new leader, a leader that sends its entries some other way)
// leaves nothing to test, and the test passes.
func testInstallKeepsSuffix(h *Harness) {
	s := h.Sim()
	h.One("w", h.N(), true)
	leader := h.CheckOneLeader()
	f, g := follower(h, leader, 1), follower(h, leader, 2)
	h.Crash(f)
	s.HoldMatching(func(m *raft.Message) bool {
		return m.To == f && ((m.Type == raft.AppendEntries && len(m.Entries) > 0) || m.Type == raft.InstallSnapshot)
	})
	defer discardHeld(h)
	for i := range 3 {
		h.One(cmd("a", i), h.N()-1, true)
	}
	if h.CheckOneLeader() != leader {
		return // a new leader: not the scene this test sets; nothing to test
	}
	h.Disconnect(g)
	var last uint64
	for i := range 3 {
		index, _, ok := h.Propose(leader, cmd("b", i))
		if !ok {
			return
		}
		last = index
	}
	// Wait until an AppendEntries carrying the last of B is on its way to f.
	if _, ok := waitHeld(h, 2*time.Second, func(m *raft.Message) bool {
		return m.Type == raft.AppendEntries && m.Entries[len(m.Entries)-1].Index == last
	}); !ok {
		return
	}
	snap := takeSnapshot(h, leader)
	// From now on only InstallSnapshot is held: the AppendEntries the leader
	// sends to find where f's log ends reach f, and are refused (f lacks
	// everything before them), so that any leader — one that backs up one
	// entry per refusal too — comes to send it InstallSnapshot.
	s.HoldMatching(func(m *raft.Message) bool { return m.To == f && m.Type == raft.InstallSnapshot })
	h.Restart(f)
	install, ok := waitHeld(h, 5*time.Second, func(m *raft.Message) bool { return m.Type == raft.InstallSnapshot })
	if !ok {
		h.Fatalf("InstallSnapshot", "%v, the leader, discarded entries through index %d in a snapshot, and %v lacks them, "+
			"but in 5 seconds the leader sent it no InstallSnapshot: section 7, the leader sends InstallSnapshot to a follower that needs entries it has discarded%s",
			leader, snap, f, h.describe())
	}
	// The AppendEntries held while f was down arrive, in the order they were
	// sent, and f saves what they carry.
	for _, m := range s.Held() {
		if m.Msg.Type == raft.AppendEntries {
			releaseHeld(h, m)
		}
	}
	s.RunUntil(h.Now())
	h.checkSafety()
	h.Crash(f)
	h.Restart(f)
	before, in := h.Status(f), install.Msg
	at, ok := entryAt(before, in.LastIncludedIndex)
	if !ok || at.Term != in.LastIncludedTerm || before.LastIndex() <= in.LastIncludedIndex || before.Term > in.Term {
		return // f's log does not hold the snapshot's last entry and more, or f is in a later term; nothing to test
	}
	releaseHeld(h, install)
	reached("InstallKeepsSuffix")
	after := h.Status(f)
	if after.LastIndex() < before.LastIndex() || after.LastTerm() != before.LastTerm() {
		h.Fatalf("InstallSnapshot", "%v's log held index %d with term %d and entries after it, through index %d; an InstallSnapshot through index %d, term %d, "+
			"arrived, and now its last entry is %d (term %d): Figure 13, step 6 — if an existing log entry has the same index and term as the "+
			"snapshot's last included entry, retain the log entries following it",
			f, in.LastIncludedIndex, at.Term, before.LastIndex(), in.LastIncludedIndex, in.LastIncludedTerm, after.LastIndex(), after.LastTerm())
	}
	discardHeld(h)
	h.Connect(g)
	h.OneAfterHeal("k-end", h.N())
}

// testInstallDiscardsLog is Figure 13's receiver, step 7: an InstallSnapshot
// arrives at a follower whose log reaches past the snapshot's last included
// index, but with another term there; the follower discards its whole log.
//
// The scene: the leader is cut off and appends entries of its term that
// never commit; the others elect a new leader, commit other entries at the
// same indexes and compact them. Back, the old leader is caught up by
// InstallSnapshot (held, then delivered): none of its old entries may stay
// after the snapshot.
func testInstallDiscardsLog(h *Harness) {
	s := h.Sim()
	h.One("w", h.N(), true)
	old := h.CheckOneLeader()
	h.Disconnect(old)
	for i := range 10 {
		if _, _, ok := h.Propose(old, cmd("x", i)); !ok {
			return // no longer leader: not the scene this test sets; nothing to test
		}
	}
	h.Run(10 * time.Millisecond)
	for i := range 3 {
		h.One(cmd("y", i), h.N()-1, true)
	}
	leader := h.CheckOneLeader()
	takeSnapshot(h, leader)
	s.HoldMatching(func(m *raft.Message) bool { return m.To == old && m.Type == raft.InstallSnapshot })
	defer discardHeld(h)
	h.Connect(old)
	// The first InstallSnapshot that old, in its term, must take.
	for try := 0; ; try++ {
		install, ok := waitHeld(h, 5*time.Second, func(*raft.Message) bool { return true })
		if !ok {
			if try > 0 {
				return
			}
			h.Fatalf("InstallSnapshot", "%v, the leader, discarded the entries %v lacks in a snapshot, "+
				"but in 5 seconds the leader sent it no InstallSnapshot: section 7, the leader sends InstallSnapshot to a follower that needs entries it has discarded%s",
				leader, old, h.describe())
		}
		before, in := h.Status(old), install.Msg
		if before.Term > in.Term {
			_ = s.Discard(install.Sent) // rightly refused (Figure 13, step 1): wait for the next
			continue
		}
		at, ok := entryAt(before, in.LastIncludedIndex)
		if !ok || at.Term == in.LastIncludedTerm || before.LastIndex() <= in.LastIncludedIndex {
			return // old's log does not reach past the snapshot with another term there; nothing to test
		}
		releaseHeld(h, install)
		reached("InstallDiscardsLog")
		after := h.Status(old)
		for _, e := range after.Log {
			if mine, ok := entryAt(before, e.Index); ok && e.Index > in.LastIncludedIndex && mine.Term == e.Term {
				h.Fatalf("InstallSnapshot", "%v's log held index %d with term %d, and entries after it; an InstallSnapshot through index %d, term %d, arrived, "+
					"and %v kept its old entry %d (term %d) after the snapshot: Figure 13, steps 6 and 7 — the entries following the snapshot's "+
					"last included entry are retained only if an existing entry has its index and term; otherwise, discard the entire log",
					old, in.LastIncludedIndex, at.Term, in.LastIncludedIndex, in.LastIncludedTerm, old, e.Index, e.Term)
			}
		}
		break
	}
	discardHeld(h)
	h.OneAfterHeal("x-end", h.N())
}
