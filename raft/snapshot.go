package raft

import "fmt"

// Log compaction (section 7 of the Raft paper; stage 4 of the lab).
//
// The state machine side of a server — the service the log feeds — decides
// when to compact: it takes a snapshot of its state after applying every entry
// up to some index, and hands it to its node through Compactor.Snapshot. The
// node then discards its log up to that index and keeps only the index and
// term of the last entry the snapshot covers (lastIncludedIndex,
// lastIncludedTerm), which the consistency check of AppendEntries still needs.
//
// A follower too far behind — whose next entry the leader has already
// discarded — receives the leader's snapshot in InstallSnapshot (Figure 13).
// This lab sends the whole snapshot in one message: Figure 13's offset is
// always 0 and done always true, so neither is a field of Message.
//
// Both halves are optional, so that a node written for stages 1–3 works
// unchanged: a runtime asks a node for compaction only if the node implements
// Compactor, and a node saves or restores snapshots only through an Env that
// implements SnapshotEnv.

// Snapshot is the state machine's state after applying every entry up to
// LastIncludedIndex, which has term LastIncludedTerm (Figure 12).
type Snapshot struct {
	LastIncludedIndex uint64 `json:"lastIncludedIndex"`
	LastIncludedTerm  uint64 `json:"lastIncludedTerm"`
	Data              []byte `json:"data,omitempty"`
}

// IsEmpty reports whether s is no snapshot at all (nothing compacted yet).
func (s Snapshot) IsEmpty() bool { return s.LastIncludedIndex == 0 }

// Compactor is implemented by a Node that can compact its log (stage 4).
type Compactor interface {
	// Snapshot tells the node that the state machine has taken snapshot data
	// of its state after applying every entry up to index. The node discards
	// its log through index, keeps lastIncludedIndex = index and
	// lastIncludedTerm = the term of that entry, and saves the snapshot with
	// SnapshotEnv.SaveSnapshot. An index the node has not applied yet, or at
	// or below its current snapshot, is ignored.
	Snapshot(index uint64, data []byte)
}

// SnapshotEnv is the Env of a runtime that supports log compaction.
type SnapshotEnv interface {
	Env
	// SaveSnapshot stores snap durably, with the hard state and the log: the
	// stored log keeps the entries after snap.LastIncludedIndex if it holds
	// that entry with term snap.LastIncludedTerm, and is emptied otherwise
	// (Figure 13, receiver rules 6 and 7). A snapshot never replaces a later one.
	SaveSnapshot(snap Snapshot)
	// RestoreSnapshot resets the state machine to snap (Figure 13, receiver
	// rule 8). Entries after snap.LastIncludedIndex are then applied with
	// Env.Apply as usual, from snap.LastIncludedIndex+1 on.
	RestoreSnapshot(snap Snapshot)
}

// SnapshotStorage is a Storage that keeps a snapshot too. Load returns it in
// Saved.Snapshot, with Saved.Log holding only the entries after it.
type SnapshotStorage interface {
	Storage
	// SaveSnapshot stores snap as SnapshotEnv.SaveSnapshot says.
	SaveSnapshot(snap Snapshot) error
}

// SaveSnapshot stores snap and compacts the stored log.
func (s *InmemStore) SaveSnapshot(snap Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.LastIncludedIndex < s.snap.LastIncludedIndex {
		return fmt.Errorf("raft: SaveSnapshot through index %d, but a snapshot through %d is stored: a snapshot must never be replaced by an older one", snap.LastIncludedIndex, s.snap.LastIncludedIndex)
	}
	if snap.LastIncludedIndex == 0 {
		return fmt.Errorf("raft: SaveSnapshot with lastIncludedIndex 0: a snapshot covers at least entry 1")
	}
	s.log = compactLog(s.snap, s.log, snap.LastIncludedIndex, snap.LastIncludedTerm)
	snap.Data = append([]byte(nil), snap.Data...)
	s.snap = snap
	return nil
}

// Snapshot returns the stored snapshot.
func (s *InmemStore) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}
