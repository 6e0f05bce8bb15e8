package raft

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// FileStore is a Storage in one file, safe against crashes and misuse.
//
// Every save is appended as a record with a length and checksums, and synced
// to disk before the call returns. The file's header keeps a mark of how many
// bytes were synced: it is moved on at every SaveHardState (so a vote, once
// saved, is always below it) and whenever the records past it pass a
// sixteenth of the file (or 4 KiB), so moving it costs O(1) per save.
//
// OpenFileStore reads the file back and decides, record by record:
//
//   - below the mark, every record must be whole and pass its checksum; a
//     file shorter than the mark was truncated: refused, saying how much is
//     missing. So truncating a file anywhere below its last mark is caught,
//     and at most the last sixteenth of the file (or 4 KiB) could be cut off
//     unseen — by a cut that also looks like a crash.
//   - past the mark, a last record that is torn by a crash (see tornTail: cut
//     short, or its last sector zeros) is cut off: the save that wrote it
//     never returned, so nothing relied on it. A record that fails its
//     checksum with records after it, or a whole last record that fails its
//     checksum with data in its last sector, is damage, not a crash.
//   - damage is refused with an error naming the file and the offset: never
//     read as valid state.
//   - a file holding only a prefix of a new store's header was being created
//     when the machine stopped: it is rewritten as an empty store. Any other
//     short or unknown header is refused.
//
// One process at a time: OpenFileStore takes an exclusive lock (flock) on
// path+".lock", holding the locker's process ID, and a second open of the
// same store — from this process or another — fails naming that process.
// Close releases it; so does the process's end, even by kill -9.
//
// The file is rewritten in full (to a temporary file, synced, then renamed
// over the old one, and the folder synced) when it grows past 4× the size of
// what it holds (and 1 MiB), so it stays within 4× of the live state.
//
// FileStore is a SnapshotStorage (stage 4): SaveSnapshot rewrites the file
// the same way, holding the hard state, the snapshot and the log entries after
// it, so the log prefix the snapshot covers leaves the file at once. A crash
// before the rename leaves the old file whole (the unfinished temporary file,
// path+".compact", is removed at the next open); after it, the new one.
type FileStore struct {
	mu   sync.Mutex
	path string
	f    *os.File
	lock *os.File
	size int64 // bytes in the file
	mark mark  // the newest mark in the header
	hs   HardState
	snap Snapshot // the log's compacted prefix (stage 4); log follows it
	log  []Entry  // log[i] holds index snap.LastIncludedIndex+1+i
	// logBytes is the bytes the log's entries take in a record, kept as
	// entries come and go so that no save has to measure the whole log.
	logBytes int64
	buf      []byte // reused for each record
}

const compactMinBytes = 1 << 20

// OpenFileStore opens the store in path, creating it if it does not exist,
// and locks it for this process. A torn last record (from a crash during a
// save) is cut off; any other damage is an error naming the file and the
// offset.
func OpenFileStore(path string) (*FileStore, error) {
	lock, err := lockStore(path)
	if err != nil {
		return nil, err
	}
	s, err := openLocked(path)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func openLocked(path string) (*FileStore, error) {
	// A rewrite that never reached its rename left its temporary file: the
	// store itself is the old file, whole. (We hold the lock: no one else
	// is writing it.)
	if err := os.Remove(path + compactSuffix); err == nil {
		if err := syncDir(path); err != nil {
			return nil, err
		}
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("raft: store %s: removing an unfinished rewrite: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("raft: opening the store: %w", err)
	}
	s := &FileStore{path: path, f: f}
	fail := func(format string, args ...any) (*FileStore, error) {
		f.Close()
		return nil, fmt.Errorf("raft: store %s: "+format, append([]any{path}, args...)...)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fail("reading it: %w", err)
	}
	st, good, m, err := decodeStore(data)
	if errors.Is(err, errTornHeader) {
		// Created, never saved to: write the header again, whole.
		if err := s.writeFreshHeader(); err != nil {
			f.Close()
			return nil, err
		}
		return s, nil
	}
	if err != nil {
		return fail("%w", err)
	}
	if good < int64(len(data)) {
		// The last save was torn by a crash: it never returned, so nothing
		// relied on it. Cut it off.
		if err := f.Truncate(good); err != nil {
			return fail("cutting off a torn record at offset %d: %w", good, err)
		}
		if err := f.Sync(); err != nil {
			return fail("%w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return fail("%w", err)
	}
	s.size, s.mark, s.hs, s.snap, s.log = good, m, st.hs, st.snap, st.log
	for _, e := range s.log {
		s.logBytes += entrySize(e)
	}
	return s, nil
}

func (s *FileStore) writeFreshHeader() error {
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("raft: writing the store %s: %w", s.path, err)
	}
	hdr := freshHeader()
	if _, err := s.f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("raft: writing the store %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("raft: syncing the store %s: %w", s.path, err)
	}
	if _, err := s.f.Seek(int64(len(hdr)), io.SeekStart); err != nil {
		return fmt.Errorf("raft: writing the store %s: %w", s.path, err)
	}
	s.size = int64(len(hdr))
	s.mark = mark{generation: 1, synced: uint64(len(hdr))}
	return syncDir(s.path)
}

// append writes one record, built by fill, and syncs it.
func (s *FileStore) append(fill func([]byte) []byte) error {
	if s.f == nil {
		return fmt.Errorf("raft: store %s is closed; open it again with OpenFileStore", s.path)
	}
	s.buf = appendFramed(s.buf[:0], fill)
	if _, err := s.f.Write(s.buf); err != nil {
		// Cut off whatever part was written, so the file stays whole.
		_ = s.f.Truncate(s.size)
		_, _ = s.f.Seek(s.size, io.SeekStart)
		return fmt.Errorf("raft: writing the store %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("raft: syncing the store %s: %w", s.path, err)
	}
	s.size += int64(len(s.buf))
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep a large record's buffer for every small one after
	}
	return nil
}

// moveMark records in the header that the whole file is synced, in the mark
// not holding the newest one, and syncs it.
func (s *FileStore) moveMark() error {
	next := mark{generation: s.mark.generation + 1, synced: uint64(s.size)}
	at := int64(markAt(next.generation))
	if _, err := s.f.WriteAt(next.encode(), at); err != nil {
		return fmt.Errorf("raft: writing the store %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("raft: syncing the store %s: %w", s.path, err)
	}
	s.mark = next
	return nil
}

// Load returns a copy of what is stored.
func (s *FileStore) Load() (Saved, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Saved{HardState: s.hs, Log: append([]Entry(nil), s.log...), Snapshot: s.snap}, nil
}

// SaveHardState stores hs durably before it returns, and moves the mark past
// it: a saved vote is never taken for a torn write.
func (s *FileStore) SaveHardState(hs HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.append(func(b []byte) []byte { return appendHardStateRecord(b, hs) }); err != nil {
		return err
	}
	s.hs = hs
	if err := s.moveMark(); err != nil {
		return err
	}
	return s.maybeCompact()
}

// SaveLog stores the log from index from on durably before it returns.
func (s *FileStore) SaveLog(from uint64, entries []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.snap.LastIncludedIndex + 1
	if err := CheckSaveLog(first-1+uint64(len(s.log)), from, entries); err != nil {
		return err
	}
	if from < first {
		return fmt.Errorf("raft: SaveLog from index %d, but entries up to %d are compacted into the snapshot: save from %d on", from, first-1, first)
	}
	if err := s.append(func(b []byte) []byte { return appendLogRecord(b, from, entries) }); err != nil {
		return err
	}
	// Each entry is counted in once and out at most once: O(1) amortised.
	for _, e := range s.log[from-first:] {
		s.logBytes -= entrySize(e)
	}
	clear(s.log[from-first:]) // let the replaced commands go
	s.log = append(s.log[:from-first], entries...)
	for _, e := range entries {
		s.logBytes += entrySize(e)
	}
	if unmarked := s.size - int64(s.mark.synced); unmarked > max(4<<10, s.size/16) {
		if err := s.moveMark(); err != nil {
			return err
		}
	}
	return s.maybeCompact()
}

// SaveSnapshot stores snap durably with the hard state and the log, as
// SnapshotStorage says: the log keeps the entries after
// snap.LastIncludedIndex if it holds that entry with term
// snap.LastIncludedTerm, and is emptied otherwise. The file is rewritten to
// hold just that (see FileStore), so the compacted prefix leaves it. An
// older snapshot than the stored one is refused.
func (s *FileStore) SaveSnapshot(snap Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("raft: store %s is closed; open it again with OpenFileStore", s.path)
	}
	if snap.LastIncludedIndex < s.snap.LastIncludedIndex {
		return fmt.Errorf("raft: SaveSnapshot through index %d, but a snapshot through %d is stored: a snapshot must never be replaced by an older one", snap.LastIncludedIndex, s.snap.LastIncludedIndex)
	}
	if snap.LastIncludedIndex == 0 {
		return fmt.Errorf("raft: SaveSnapshot with lastIncludedIndex 0: a snapshot covers at least entry 1")
	}
	if n := snapshotRecordSize(snap); n > maxRecordSize {
		return fmt.Errorf("raft: SaveSnapshot of %d bytes: a store keeps snapshots of at most %d bytes", len(snap.Data), maxRecordSize-(n-int64(len(snap.Data))))
	}
	snap.Data = append([]byte(nil), snap.Data...)
	log := compactLog(s.snap, s.log, snap.LastIncludedIndex, snap.LastIncludedTerm)
	var logBytes int64
	for _, e := range log {
		logBytes += entrySize(e)
	}
	if err := s.rewrite(s.hs, snap, log, logBytes); err != nil {
		return err
	}
	clear(s.log) // let the compacted commands go
	s.snap, s.log, s.logBytes = snap, log, logBytes
	return nil
}

// Snapshot returns the stored snapshot (empty before any).
func (s *FileStore) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

// liveSize is the size of a fresh file holding just the current state.
func (s *FileStore) liveSize() int64 {
	return liveSize(s.hs, s.snap, uint64(len(s.log)), s.logBytes)
}

func liveSize(hs HardState, snap Snapshot, entries uint64, logBytes int64) int64 {
	hsRecord := 1 + uvarintLen(hs.CurrentTerm) + uvarintLen(uint64(hs.VotedFor))
	logRecord := 1 + uvarintLen(snap.LastIncludedIndex+1) + uvarintLen(entries)
	size := int64(fileHeaderSize+2*recordHeader+hsRecord+logRecord) + logBytes
	if !snap.IsEmpty() {
		size += recordHeader + snapshotRecordSize(snap)
	}
	return size
}

// maybeCompact rewrites the file when most of it is history.
func (s *FileStore) maybeCompact() error {
	if s.size < compactMinBytes || s.size < 4*s.liveSize() {
		return nil
	}
	return s.rewrite(s.hs, s.snap, s.log, s.logBytes)
}

// compactSuffix names the temporary file of a rewrite, beside the store.
const compactSuffix = ".compact"

// rewrite writes a new file holding hs, snap and log (logBytes being the
// bytes its entries take), and renames it over the old one: at every moment,
// one of the two files is whole. The caller updates the store's state once
// it returns nil.
func (s *FileStore) rewrite(hs HardState, snap Snapshot, log []Entry, logBytes int64) error {
	tmp := s.path + compactSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("raft: rewriting the store %s: %w", s.path, err)
	}
	data := make([]byte, 0, liveSize(hs, snap, uint64(len(log)), logBytes))
	data = append(data, freshHeader()...)
	data = appendFramed(data, func(b []byte) []byte { return appendHardStateRecord(b, hs) })
	if !snap.IsEmpty() {
		data = appendFramed(data, func(b []byte) []byte { return appendSnapshotRecord(b, snap) })
	}
	data = appendFramed(data, func(b []byte) []byte { return appendLogRecord(b, snap.LastIncludedIndex+1, log) })
	m := mark{generation: 1, synced: uint64(len(data))}
	copy(data[markAt(m.generation):], m.encode())
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("raft: rewriting the store %s: %w", s.path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fail(err)
	}
	if err := syncDir(s.path); err != nil {
		f.Close()
		return err
	}
	s.f.Close()
	s.f, s.size, s.mark = f, int64(len(data)), m
	return nil
}

// Close closes the file and releases the lock.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	return err
}

// Size is the file's size in bytes.
func (s *FileStore) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// syncDir syncs the folder of path, so that a created or renamed file survives a crash.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("raft: syncing the folder of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("raft: syncing the folder of %s: %w", path, err)
	}
	return nil
}
