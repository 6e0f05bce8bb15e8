package raft

import (
	"fmt"
	"sync"
)

// Storage keeps what a server must not lose in a crash: its HardState and its
// log (Figure 2, "persistent state on all servers"). A runtime writes to it when
// the node calls Env.SaveHardState and Env.SaveLog, in the order the node made
// the calls, and reads it back with Load when the node starts.
//
// NewInmemStore keeps state in memory, which survives a crash simulated by the
// lab but not the end of the process; OpenFileStore keeps it in a file.
type Storage interface {
	// Load returns everything saved so far.
	Load() (Saved, error)
	// SaveHardState stores hs, replacing what was stored.
	SaveHardState(hs HardState) error
	// SaveLog makes the stored log from index from on equal to entries: the
	// stored entries at from and after are deleted, then entries appended.
	// from must be between 1 and one past the stored log's last index, and
	// entries must be numbered from, from+1, ….
	SaveLog(from uint64, entries []Entry) error
}

// InmemStore is a Storage in memory. It is safe for concurrent use.
type InmemStore struct {
	mu   sync.Mutex
	hs   HardState
	snap Snapshot // the log's compacted prefix (stage 4); log follows it
	log  []Entry  // log[i] holds index snap.LastIncludedIndex+1+i
}

// NewInmemStore returns an empty in-memory store.
func NewInmemStore() *InmemStore { return &InmemStore{} }

// Load returns a copy of what is stored.
func (s *InmemStore) Load() (Saved, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Saved{HardState: s.hs, Log: append([]Entry(nil), s.log...), Snapshot: s.snap}, nil
}

// SaveHardState stores hs.
func (s *InmemStore) SaveHardState(hs HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hs = hs
	return nil
}

// SaveLog replaces the stored log from index from on with entries.
func (s *InmemStore) SaveLog(from uint64, entries []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.snap.LastIncludedIndex + 1
	if err := CheckSaveLog(first-1+uint64(len(s.log)), from, entries); err != nil {
		return err
	}
	if from < first {
		return fmt.Errorf("raft: SaveLog from index %d, but entries up to %d are compacted into the snapshot: save from %d on", from, first-1, first)
	}
	s.log = append(s.log[:from-first], entries...)
	return nil
}

// LastIndex is the index of the last stored entry, or 0.
func (s *InmemStore) LastIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap.LastIncludedIndex + uint64(len(s.log))
}

// HardState returns the stored hard state.
func (s *InmemStore) HardState() HardState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs
}

// CheckSaveLog reports whether SaveLog(from, entries) is valid on a stored log
// whose last index is last: no gap before from, entries numbered from on.
func CheckSaveLog(last, from uint64, entries []Entry) error {
	if from < 1 || from > last+1 {
		return fmt.Errorf("raft: SaveLog from index %d, but the stored log ends at %d: from must be between 1 and %d", from, last, last+1)
	}
	for i, e := range entries {
		if want := from + uint64(i); e.Index != want {
			return fmt.Errorf("raft: SaveLog from index %d: entry %d of the batch has index %d, want %d", from, i, e.Index, want)
		}
	}
	return nil
}
