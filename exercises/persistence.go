package exercises

import (
	"github.com/raftlab/raftlab/raft"
)

// Stage 3: persistence (Figure 2, "persistent state on all servers").
//
// currentTerm, votedFor and the log must survive a crash, and must be stored
// before any message that depends on them leaves the server: a vote granted
// and then forgotten lets the server vote twice in one term; an entry
// acknowledged and then lost can undo a commit. The runtime carries out a
// server's actions in the order it makes them, so saving before sending is
// enough.
//
// Start with STAGE3.md.

// persistHardState saves currentTerm and votedFor. Call it whenever either changes.
func (r *Raft) persistHardState() {
	// TODO(stage 3): Figure 2, persistent state on all servers: currentTerm
	// and votedFor, "updated on stable storage before responding to RPCs" —
	// with r.env.SaveHardState.
	r.todo(3)
}

// persistLog saves the log from index from to its end, replacing whatever the
// stored log held from there on. Call it whenever entries are added or deleted,
// with the first index that changed.
func (r *Raft) persistLog(from uint64) {
	// TODO(stage 3): Figure 2, persistent state on all servers: log[] — save
	// the entries from index from on with r.env.SaveLog.
	r.todo(3)
}

// restore reloads the persistent state saved before a crash. The volatile state
// — commitIndex, lastApplied, nextIndex, matchIndex — is not saved: it starts
// from zero and is learned again from the leader.
func (r *Raft) restore(saved raft.Saved) {
	// TODO(stage 3): set currentTerm, votedFor and the log from saved. The
	// volatile state (commitIndex, lastApplied) starts at 0.
	r.todo(3)
}
