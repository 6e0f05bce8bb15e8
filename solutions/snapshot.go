package solutions

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

// Snapshot is raft.Compactor: the state machine has a snapshot, data, of every
// entry through index. Section 7: each server takes snapshots independently,
// covering just the committed entries in its log.
func (r *Raft) Snapshot(index uint64, data []byte) {
	if index <= r.snapshotIndex || index > r.lastApplied {
		return // older than the snapshot we hold, or not applied yet
	}
	r.compact(index, r.termAt(index), data)
	r.persistSnapshot()
}

// compact replaces the log through index, of term term, with the snapshot
// data, keeping the entries after index (a fresh array, so that the
// discarded ones can be freed).
func (r *Raft) compact(index, term uint64, data []byte) {
	if index <= r.lastLogIndex() && r.termAt(index) == term {
		r.log = append([]raft.Entry(nil), r.log[index-r.snapshotIndex:]...)
	} else {
		r.log = nil
	}
	r.snapshotIndex, r.snapshotTerm, r.snapshotData = index, term, data
}

// persistSnapshot saves the snapshot with the hard state and the log; the
// runtime compacts the stored log the same way.
func (r *Raft) persistSnapshot() {
	if env, ok := r.env.(raft.SnapshotEnv); ok {
		env.SaveSnapshot(raft.Snapshot{LastIncludedIndex: r.snapshotIndex, LastIncludedTerm: r.snapshotTerm, Data: r.snapshotData})
	}
}

// restoreSnapshot takes up the snapshot saved before a crash: its entries
// were committed and applied, and the runtime has restored the state machine
// from it, so commitIndex and lastApplied start there, not at 0.
func (r *Raft) restoreSnapshot(snap raft.Snapshot) {
	if snap.IsEmpty() {
		return
	}
	r.snapshotIndex, r.snapshotTerm, r.snapshotData = snap.LastIncludedIndex, snap.LastIncludedTerm, snap.Data
	r.commitIndex, r.lastApplied = snap.LastIncludedIndex, snap.LastIncludedIndex
}

// sendInstallSnapshot sends peers[i] the leader's snapshot (Figure 13), when
// the entries it needs next have been discarded.
func (r *Raft) sendInstallSnapshot(i int) {
	r.send(raft.Message{
		Type:              raft.InstallSnapshot,
		To:                r.peers[i],
		LastIncludedIndex: r.snapshotIndex,
		LastIncludedTerm:  r.snapshotTerm,
		Data:              r.snapshotData,
	})
	// As with AppendEntries, count the snapshot as sent; a refusal or a
	// lost reply brings nextIndex back.
	r.nextIndex[i] = r.snapshotIndex + 1
}

// handleInstallSnapshot is the InstallSnapshot receiver of Figure 13.
func (r *Raft) handleInstallSnapshot(m raft.Message) {
	reply := raft.Message{Type: raft.InstallSnapshotReply, To: m.From}
	// 1. Reply immediately if term < currentTerm.
	if m.Term < r.currentTerm {
		r.send(reply)
		return
	}
	r.becomeFollower(m.Term, m.From)
	r.resetElectionTimer()
	reply.LastIncludedIndex = m.LastIncludedIndex
	// A snapshot that holds nothing we have not already committed is late or
	// duplicated: installing it would roll the log and the state machine back.
	if m.LastIncludedIndex <= r.commitIndex {
		r.send(reply)
		return
	}
	// 6. If existing log entry has same index and term as snapshot's last
	// included entry, retain log entries following it and reply;
	// 7. otherwise discard the entire log (compact does both).
	r.compact(m.LastIncludedIndex, m.LastIncludedTerm, m.Data)
	r.persistSnapshot() // before the reply: the leader counts these entries as stored here
	// 8. Reset state machine using snapshot contents.
	r.commitIndex, r.lastApplied = m.LastIncludedIndex, m.LastIncludedIndex
	if env, ok := r.env.(raft.SnapshotEnv); ok {
		env.RestoreSnapshot(raft.Snapshot{LastIncludedIndex: r.snapshotIndex, LastIncludedTerm: r.snapshotTerm, Data: r.snapshotData})
	}
	r.send(reply)
}

// handleInstallSnapshotReply: the follower now holds every entry through the
// snapshot's last one.
func (r *Raft) handleInstallSnapshotReply(m raft.Message) {
	if r.role != raft.Leader || m.Term != r.currentTerm {
		return
	}
	i := r.peerIndex(m.From)
	if i < 0 || m.LastIncludedIndex == 0 {
		return
	}
	r.matchIndex[i] = max(r.matchIndex[i], m.LastIncludedIndex)
	r.nextIndex[i] = max(r.nextIndex[i], r.matchIndex[i]+1)
	r.advanceCommitIndex()
	if r.nextIndex[i] <= r.lastLogIndex() {
		r.sendAppendEntries(i)
	}
}

// skipCompacted trims from an AppendEntries the entries this server has
// already compacted into its snapshot: they are committed, so they match the
// leader's (Log Matching), and the check starts at the snapshot's last entry.
func (r *Raft) skipCompacted(m raft.Message) raft.Message {
	if m.PrevLogIndex >= r.snapshotIndex {
		return m
	}
	skip := min(uint64(len(m.Entries)), r.snapshotIndex-m.PrevLogIndex)
	m.Entries = m.Entries[skip:]
	m.PrevLogIndex, m.PrevLogTerm = r.snapshotIndex, r.snapshotTerm
	if len(m.Entries) > 0 {
		m.PrevLogIndex, m.PrevLogTerm = m.Entries[0].Index-1, r.termAt(m.Entries[0].Index-1)
	}
	return m
}
