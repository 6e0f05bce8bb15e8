package exercises

import (
	"github.com/raftlab/raftlab/raft"
)

// Stage 4: log compaction (section 7 of the Raft paper, Figures 12 and 13).
//
// The state machine side of the server takes a snapshot of everything it has
// applied and hands it over (Snapshot); the server then discards its log up to
// there, keeping lastIncludedIndex and lastIncludedTerm for the consistency
// check. A follower that needs entries the leader has discarded receives the
// leader's snapshot in InstallSnapshot, whole, in one message.
//
// From this stage on, r.log holds only the entries after the snapshot:
// log[i-1] holds index snapshotIndex+i. lastLogIndex and termAt already know;
// every place of stages 2 and 3 that turns an index into a position in r.log
// must subtract r.snapshotIndex too. Start with STAGE4.md.

// Snapshot is raft.Compactor: the state machine has a snapshot, data, of every
// entry through index. Section 7: each server takes snapshots independently,
// covering just the committed entries in its log.
func (r *Raft) Snapshot(index uint64, data []byte) {
	// TODO(stage 4): ignore an index at or below snapshotIndex, or above
	// lastApplied; otherwise compact through index (with the term of that
	// entry) and persist the snapshot.
	r.todo(4)
}

// compact replaces the log through index, of term term, with the snapshot
// data, keeping the entries after index (a fresh array, so that the
// discarded ones can be freed).
func (r *Raft) compact(index, term uint64, data []byte) {
	// TODO(stage 4): Figure 13, rule 6: if the existing log entry has the same
	// index and term as the snapshot's last included entry, retain the log
	// entries following it; rule 7: otherwise discard the entire log. Then
	// set snapshotIndex, snapshotTerm and snapshotData.
	r.todo(4)
}

// persistSnapshot saves the snapshot with the hard state and the log; the
// runtime compacts the stored log the same way.
func (r *Raft) persistSnapshot() {
	// TODO(stage 4): if r.env is a raft.SnapshotEnv, save a raft.Snapshot of
	// snapshotIndex, snapshotTerm and snapshotData with SaveSnapshot.
	r.todo(4)
}

// restoreSnapshot takes up the snapshot saved before a crash: its entries
// were committed and applied, and the runtime has restored the state machine
// from it, so commitIndex and lastApplied start there, not at 0.
func (r *Raft) restoreSnapshot(snap raft.Snapshot) {
	// TODO(stage 4): unless snap is empty, set the snapshot fields from it,
	// and commitIndex and lastApplied to its lastIncludedIndex. Call this
	// from restore (stage 3): saved.Log holds the entries after the snapshot.
	r.todo(4)
}

// sendInstallSnapshot sends peers[i] the leader's snapshot (Figure 13), when
// the entries it needs next have been discarded.
func (r *Raft) sendInstallSnapshot(i int) {
	// TODO(stage 4): send InstallSnapshot with lastIncludedIndex,
	// lastIncludedTerm and the data. Call this from sendAppendEntries when
	// nextIndex-1 is below snapshotIndex. You may count the snapshot as sent
	// (nextIndex past it) or wait for the reply, as for AppendEntries.
	r.todo(4)
}

// handleInstallSnapshot is the InstallSnapshot receiver of Figure 13.
func (r *Raft) handleInstallSnapshot(m raft.Message) {
	// TODO(stage 4): 1. Reply immediately if term < currentTerm. Then, as
	// for AppendEntries, recognise the leader and reset the election timer.
	// A snapshot through an index at or below commitIndex is late or
	// duplicated: reply, and change nothing (never go back). Otherwise
	// compact (6. retain the log entries following the snapshot's last
	// included entry if the log holds it with the same term; 7. else
	// discard the entire log), persist before replying, set commitIndex and
	// lastApplied to lastIncludedIndex, and 8. reset the state machine using
	// the snapshot's contents (raft.SnapshotEnv.RestoreSnapshot) — after
	// rule 6 too: its entries are not all applied yet, and no longer in the
	// log. The reply carries lastIncludedIndex (0 when refused).
	r.todo(4)
}

// handleInstallSnapshotReply: the follower now holds every entry through the
// snapshot's last one.
func (r *Raft) handleInstallSnapshotReply(m raft.Message) {
	// TODO(stage 4): only a leader, and only a reply of its current term: as
	// for a successful AppendEntriesReply, raise matchIndex to the reply's
	// lastIncludedIndex and nextIndex past it (never lower them), advance
	// the commit index, and send what follows if there is more.
	r.todo(4)
}

// skipCompacted trims from an AppendEntries the entries this server has
// already compacted into its snapshot: they are committed, so they match the
// leader's (Log Matching), and the check starts at the snapshot's last entry.
func (r *Raft) skipCompacted(m raft.Message) raft.Message {
	// TODO(stage 4): if prevLogIndex is below snapshotIndex, drop the entries
	// at or below snapshotIndex and check from the snapshot's last entry:
	// prevLogIndex = snapshotIndex, prevLogTerm = snapshotTerm (the entry
	// just before the first one kept, if any are). Call this first thing in
	// appendEntries (stage 2).
	r.todo(4)
	return m
}
