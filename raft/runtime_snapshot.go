package raft

import (
	"errors"
	"fmt"
)

// Log compaction in the real-time runtime (stage 4).
//
// A Runtime without a StateMachine delivers committed entries on Applied and
// never compacts: it cannot know the state of a reader it does not call. With
// one (SetStateMachine), the runtime applies each committed entry to it in
// the server's goroutine, so it knows exactly which index the state machine's
// state reflects, and it plays the service of section 7: whenever the state
// machine has applied RuntimeOptions.SnapshotEvery entries past its last
// snapshot, the runtime takes the state machine's Snapshot and hands it to the
// node (Compactor.Snapshot), which discards its log through that index and
// saves the snapshot (SnapshotEnv.SaveSnapshot) into a SnapshotStorage. When
// the node installs a leader's snapshot (InstallSnapshot, Figure 13 rule 8),
// or starts from a stored one, the runtime Restores the state machine from it.

// StateMachine is the service a Runtime's log feeds when the runtime itself
// applies entries to it (SetStateMachine) — what a Runtime needs to compact
// its log. The runtime calls it from the server's goroutine only, one call at
// a time; calls from other goroutines (a service answering its clients) must
// be synchronised by the state machine.
type StateMachine interface {
	// Apply applies a committed entry. Entries come in index order, each once;
	// after a Restore, from the snapshot's LastIncludedIndex+1 on. Apply must
	// not wait on the server (Propose, Status): the server waits for it.
	Apply(e Entry)
	// Snapshot returns the state after every entry applied so far.
	Snapshot() ([]byte, error)
	// Restore replaces the state with snap's: the state after applying every
	// entry through snap.LastIncludedIndex.
	Restore(snap Snapshot) error
}

// SetStateMachine makes sm the server's state machine: committed entries go
// to sm.Apply in the server's goroutine instead of Applied, a stored snapshot
// is restored into it at Start, and with RuntimeOptions.SnapshotEvery the
// server compacts its log with sm's snapshots. Call it before Start.
func (r *Runtime) SetStateMachine(sm StateMachine) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.started:
		return errors.New("raft: SetStateMachine after Start: give the server its state machine before starting it")
	case r.sm != nil:
		return errors.New("raft: this server already has a state machine")
	case sm == nil:
		return errors.New("raft: SetStateMachine(nil)")
	}
	r.sm = sm
	return nil
}

// startStateMachine restores the state machine from the stored snapshot, if
// there is one, before the node starts.
func (r *Runtime) startStateMachine(saved Saved, env *runtimeEnv) error {
	if saved.Snapshot.IsEmpty() {
		return nil
	}
	if r.sm == nil {
		return fmt.Errorf("raft: the store holds a snapshot through index %d, and this server has no state machine to restore it into: give it one with SetStateMachine before Start", saved.Snapshot.LastIncludedIndex)
	}
	if err := r.sm.Restore(saved.Snapshot); err != nil {
		return fmt.Errorf("raft: restoring the state machine from the stored snapshot through index %d: %w", saved.Snapshot.LastIncludedIndex, err)
	}
	env.applied, env.lastSnap = saved.Snapshot.LastIncludedIndex, saved.Snapshot.LastIncludedIndex
	return nil
}

// SaveSnapshot makes runtimeEnv a SnapshotEnv: the snapshot goes to storage,
// which must be a SnapshotStorage.
func (e *runtimeEnv) SaveSnapshot(snap Snapshot) {
	if e.failed != nil {
		return
	}
	ss, ok := e.r.store.(SnapshotStorage)
	if !ok {
		e.fail(fmt.Errorf("the node saved a snapshot through index %d, but its storage (%T) keeps no snapshots: use NewInmemStore or OpenFileStore", snap.LastIncludedIndex, e.r.store))
		return
	}
	snap.Data = append([]byte(nil), snap.Data...)
	e.fail(ss.SaveSnapshot(snap))
}

// RestoreSnapshot resets the state machine to snap (Figure 13, rule 8).
func (e *runtimeEnv) RestoreSnapshot(snap Snapshot) {
	if e.failed != nil {
		return
	}
	if e.r.sm == nil {
		e.stop(fmt.Errorf("raft: %v stopped: the node installed a snapshot through index %d from its leader, and this server has no state machine to restore it into: in a cluster that compacts, give every server one (SetStateMachine)", e.r.cfg.ID, snap.LastIncludedIndex))
		return
	}
	snap.Data = append([]byte(nil), snap.Data...)
	if err := e.r.sm.Restore(snap); err != nil {
		e.stop(fmt.Errorf("raft: %v stopped: restoring the state machine from a snapshot through index %d: %w", e.r.cfg.ID, snap.LastIncludedIndex, err))
		return
	}
	e.applied = snap.LastIncludedIndex
	e.lastSnap = max(e.lastSnap, snap.LastIncludedIndex)
	e.r.restores.Add(1)
}

// maybeSnapshot hands the node a snapshot of the state machine when
// SnapshotEvery entries were applied since the last one. It runs between two
// of the node's steps.
func (e *runtimeEnv) maybeSnapshot(node Node) {
	every := e.r.snapshotEvery
	if every == 0 || e.r.sm == nil || e.failed != nil || e.applied < e.lastSnap+every {
		return
	}
	c, ok := node.(Compactor)
	if !ok {
		return
	}
	data, err := e.r.sm.Snapshot()
	if err != nil {
		e.stop(fmt.Errorf("raft: %v stopped: taking the state machine's snapshot through index %d: %w", e.r.cfg.ID, e.applied, err))
		return
	}
	e.lastSnap = e.applied
	c.Snapshot(e.applied, data)
	e.r.snapshots.Add(1)
}
