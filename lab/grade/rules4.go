package grade

import (
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Rule tests of stage 4, log compaction (section 7, Figure 13).

var rules4Tests = []*Test{
	{Stage: 4, Name: "StaleTermInstall", Points: 4, Nodes: 3, SnapshotEvery: snapshotEvery, Seeds: 10, Run: testStaleTermInstall,
		What: "a follower down while the others compact is caught up by InstallSnapshot — stored before its reply, commitIndex and lastApplied moved to the snapshot — and an InstallSnapshot from a deposed leader, delivered late, is refused"},
}

// testStaleTermInstall: a follower f is down while the leader compacts (down,
// not cut off: a server cut off times out again and again, and its higher
// term would depose the leader when it returns). When f restarts, the
// leader's first InstallSnapshot to it is held (one sent while it was down
// and still on its way, or else the first sent after); f is
// caught up anyway, the leader is deposed, and f moves on to the new
// leader's term. Then the held InstallSnapshot arrives.
func testStaleTermInstall(h *Harness) {
	old := h.firstLeader()
	term := h.CheckTerms()
	f, g := follower(h, old, 1), follower(h, old, 2)
	h.Crash(f)
	for i := range 2*snapshotEvery + 5 {
		h.One(cmd("s", i), 2, true)
	}
	compacted := h.Status(old).SnapshotIndex
	isInstall := msgIs(raft.InstallSnapshot, old, f)
	// A leader may have sent f an InstallSnapshot while it was down (one
	// that resends with every heartbeat does): still on its way, it would
	// reach f after the restart. The first one on its way is the one held.
	taken := false
	for _, m := range h.sim.InFlight() {
		if isInstall(m.Msg) {
			if err := h.sim.Hold(m.Sent); err != nil {
				h.setupRefused("hold the InstallSnapshot "+sentAt(m), err)
			}
			taken = true
			break
		}
	}
	h.holdWhere(func(m *raft.Message) bool {
		if !taken && isInstall(m) {
			taken = true
			return true
		}
		return false
	})
	h.Restart(f)
	ends := h.Status(f).LastIndex()
	stale := h.awaitHeld(isInstall, 1, 2*h.ElectionTimeout())
	h.holdWhere(nil)
	if len(stale) == 0 {
		h.Fatalf("install", "%v, leader of term %d, has compacted its log through index %d, and %v, whose log ends at %d, was restarted: in %v no InstallSnapshot was sent to it. "+
			"Section 7: the leader must occasionally send snapshots to followers that lag behind — when the entries a follower needs next have been discarded (Figure 13)%s",
			old, term, compacted, f, ends, 2*h.ElectionTimeout(), h.describe())
	}
	// f is caught up by the leader's other messages. The first
	// InstallSnapshot that reaches it is checked as it is handled: Figure
	// 13's rule 8, and the snapshot stored before the reply leaves.
	h.checkInstalled(f, 2*h.ElectionTimeout())
	// Then the leader is deposed and f follows g in a later term.
	h.runUntil(func() bool { return h.Status(f).CommitIndex >= stale[0].Msg.LastIncludedIndex }, 2*h.ElectionTimeout())
	h.Disconnect(old)
	h.CheckOneLeader()
	if !h.runUntil(func() bool {
		st := h.Status(f)
		return st.Term > term && st.Leader != raft.None && st.CommitIndex >= stale[0].Msg.LastIncludedIndex
	}, 4*h.ElectionTimeout()) {
		h.Fatalf("higher term", "%v and %v elected a leader after %v was cut off, but %v is in term %d with commitIndex %d, not yet caught up past index %d%s",
			f, g, old, f, h.Status(f).Term, h.Status(f).CommitIndex, stale[0].Msg.LastIncludedIndex, h.describe())
	}
	before := h.Status(f)
	h.holdWhere(msgIs(raft.InstallSnapshotReply, f, old))
	h.Connect(old)
	at := h.release(stale[0])
	if st := h.Status(f); st.Leader == old {
		h.Fatalf("stale term", "%v, in term %d, took %v for the leader of its term after an InstallSnapshot of term %d from it (%s, delivered at event #%d). "+
			"Figure 13, InstallSnapshot receiver 1: reply immediately if term < currentTerm — the sender is a deposed leader",
			f, st.Term, old, term, sentAt(stale[0]), at)
	}
	replies := h.awaitHeld(msgIs(raft.InstallSnapshotReply, f, old), 1, h.sim.Options().Config.HeartbeatTimeout)
	if len(replies) == 0 {
		h.Fatalf("respond to RPCs", "%v, in term %d, received an InstallSnapshot of term %d from %v, a deposed leader (%s, delivered at event #%d), and sent no reply within %v. "+
			"Figure 13, InstallSnapshot receiver 1: reply immediately if term < currentTerm — the reply carries currentTerm, and that is how a deposed leader learns that it must step down",
			f, before.Term, term, old, sentAt(stale[0]), at, h.sim.Options().Config.HeartbeatTimeout)
	}
	if r := replies[0]; r.Msg.Term < before.Term {
		h.Fatalf("stale term", "%v, in term %d, answered an InstallSnapshot of term %d with a reply of term %d (%s). The reply carries currentTerm (Figure 13, results: term, for leader to update itself)",
			f, before.Term, term, r.Msg.Term, sentAt(r))
	}
	h.releaseAll()
	h.One("stale-term-end", h.N(), true)
}

// checkInstalled lets the cluster run, for up to bound, until an
// InstallSnapshot that holds entries f has not committed reaches f; then it
// checks that f stores the snapshot before its reply leaves (Figure 2:
// persistent state is updated on stable storage before responding to RPCs)
// and that f's commitIndex and lastApplied are at least the snapshot's last
// included index once it has handled it (Figure 13, rule 8).
func (h *Harness) checkInstalled(f raft.NodeID, bound time.Duration) {
	committed := h.Status(f).CommitIndex
	var inst raft.Message
	delivered := ""
	h.RunUntilEvent(func(e *raft.Event) bool {
		if e.Kind == raft.EvDeliver && e.Node == f && e.Msg.Type == raft.InstallSnapshot && e.Msg.LastIncludedIndex > committed {
			inst, delivered = *e.Msg, e.String()
			return true
		}
		return false
	}, bound)
	if delivered == "" {
		return
	}
	replied := ""
	var stored uint64
	h.sim.RunUntilEvent(func(e *raft.Event) bool {
		if e.Kind == raft.EvSend && e.Node == f && e.Msg.Type == raft.InstallSnapshotReply {
			replied = e.String()
			if saved, ok := h.sim.Stored(f); ok {
				stored = saved.Snapshot.LastIncludedIndex
			}
			return true
		}
		return false
	}, h.Now())
	if replied != "" && stored < inst.LastIncludedIndex && h.sim.Up(f) {
		h.Fatalf("persist before reply", "%v installed an InstallSnapshot through index %d (%s) and replied (%s) while its storage held a snapshot through %d only. "+
			"Figure 2: persistent state is updated on stable storage before responding to RPCs — the leader counts the snapshot's entries as stored here; save it (SaveSnapshot) before the reply",
			f, inst.LastIncludedIndex, delivered, replied, stored)
	}
	h.settle()
	if !h.sim.Up(f) {
		return
	}
	if st := h.Status(f); st.SnapshotIndex >= inst.LastIncludedIndex && (st.LastApplied < inst.LastIncludedIndex || st.CommitIndex < inst.LastIncludedIndex) {
		h.Fatalf("InstallSnapshot", "%v installed an InstallSnapshot through index %d (%s), and now has commitIndex %d and lastApplied %d. "+
			"Figure 13, InstallSnapshot receiver 8: reset state machine using snapshot contents — the snapshot's entries are committed and applied, so commitIndex and lastApplied move to lastIncludedIndex",
			f, inst.LastIncludedIndex, delivered, st.CommitIndex, st.LastApplied)
	}
}
