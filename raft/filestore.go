package raft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// FileStore is a Storage in one file, safe against crashes: every save is
// appended as a record with a length and a checksum, and synced to disk before
// the call returns. A crash can only tear the last record; OpenFileStore finds
// a torn record at the end and cuts it off, so the store comes back with the
// last whole state. A damaged record anywhere else is refused with an error
// that names the file and the offset: never read as valid state.
//
// The file is rewritten in full (to a temporary file, synced, then renamed over
// the old one) when it grows to several times the size of what it holds.
//
// The file's layout:
//
//	header: "RAFTLAB\x00" version(1 byte = 1)
//	record: length (uint32, of type+payload) | crc32c of the length (uint32) | crc32c of type+payload (uint32) | type (1 byte) | payload
//
// A crash writes a prefix of a record: a short header, or a whole header and
// a short body, or a whole header and a body with garbage (or zeros) at its
// end. Each shows as a torn last record. A whole header whose own checksum
// fails, or a bad body with records after it, is damage.
//
//	type 1, hard state: currentTerm (uvarint) votedFor (uvarint)
//	type 2, log:        from (uvarint) count (uvarint) then per entry: term (uvarint) len (uvarint) command
type FileStore struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64 // bytes in the file
	hs   HardState
	log  []Entry
	live int64 // bytes a fresh file holding just the current state would take
}

const (
	fileMagic       = "RAFTLAB\x00"
	fileVersion     = 1
	fileHeaderSize  = len(fileMagic) + 1
	recordHeader    = 12
	recHardState    = 1
	recLog          = 2
	maxRecordSize   = 256 << 20 // a record larger than this is damage, not data
	compactMinBytes = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// OpenFileStore opens the store in path, creating it if it does not exist.
// A torn last record (from a crash during a save) is cut off; any other
// damage is an error naming the file and the offset.
func OpenFileStore(path string) (*FileStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("raft: opening the store: %w", err)
	}
	s := &FileStore{path: path, f: f}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("raft: reading the store %s: %w", path, err)
	}
	if len(data) == 0 {
		if err := s.writeHeader(); err != nil {
			f.Close()
			return nil, err
		}
		return s, nil
	}
	hs, log, good, err := decodeStore(data)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("raft: store %s: %w", path, err)
	}
	if good < int64(len(data)) {
		// The last save was torn by a crash: it never returned, so nothing
		// relied on it. Cut it off.
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("raft: store %s: cutting off a torn record at offset %d: %w", path, good, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("raft: store %s: %w", path, err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("raft: store %s: %w", path, err)
	}
	s.size, s.hs, s.log = good, hs, log
	s.live = s.liveSize()
	return s, nil
}

// DecodeStore reads the contents of a store file: the state it holds, and
// how many bytes of it are whole records (the rest is a torn last record).
// It is what OpenFileStore uses, exposed for tools and tests.
func DecodeStore(data []byte) (Saved, int64, error) {
	hs, log, good, err := decodeStore(data)
	return Saved{HardState: hs, Log: log}, good, err
}

func decodeStore(data []byte) (HardState, []Entry, int64, error) {
	var hs HardState
	var log []Entry
	if len(data) < fileHeaderSize {
		if bytes.HasPrefix([]byte(fileMagic), data) {
			return hs, nil, 0, nil // the header itself was torn: an empty store
		}
		return hs, nil, 0, fmt.Errorf("not a raftlab store (it is %d bytes long and lacks the header)", len(data))
	}
	if string(data[:len(fileMagic)]) != fileMagic {
		return hs, nil, 0, errors.New("not a raftlab store: the file does not start with the store's header")
	}
	if v := data[len(fileMagic)]; v != fileVersion {
		return hs, nil, 0, fmt.Errorf("store format version %d; this raftlab reads version %d", v, fileVersion)
	}
	off := int64(fileHeaderSize)
	damaged := func(format string, args ...any) error {
		return fmt.Errorf("the record at offset %d %s: the file is damaged, not torn by a crash; restore it from a backup, or remove it to restart this server empty (it will catch up from the leader)",
			off, fmt.Sprintf(format, args...))
	}
	for off < int64(len(data)) {
		rest := data[off:]
		if len(rest) < recordHeader || allZero(rest) {
			return hs, log, off, nil // torn: a short header, or a tail of zeros
		}
		n := int64(binary.LittleEndian.Uint32(rest[0:4]))
		if crc32.Checksum(rest[0:4], crcTable) != binary.LittleEndian.Uint32(rest[4:8]) {
			return hs, log, off, damaged("has a header that fails its checksum")
		}
		if n < 1 || n > maxRecordSize {
			return hs, log, off, damaged("claims %d bytes", n)
		}
		if int64(len(rest)-recordHeader) < n {
			return hs, log, off, nil // torn: the last record's body is short
		}
		body := rest[recordHeader : recordHeader+n]
		if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(rest[8:12]) {
			if off+recordHeader+n == int64(len(data)) {
				return hs, log, off, nil // torn: the last record's body was not all written
			}
			return hs, log, off, damaged("fails its checksum, and records follow it")
		}
		var err error
		hs, log, err = applyRecord(hs, log, body)
		if err != nil {
			return hs, log, off, fmt.Errorf("the record at offset %d: %w", off, err)
		}
		off += recordHeader + n
	}
	return hs, log, off, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// applyRecord applies one record's body to the state.
func applyRecord(hs HardState, log []Entry, body []byte) (HardState, []Entry, error) {
	r := &reader{b: body[1:]}
	switch body[0] {
	case recHardState:
		term, vote := r.uvarint(), r.uvarint()
		if r.err != nil || len(r.b) != 0 {
			return hs, log, errors.New("a hard-state record that does not decode")
		}
		if vote > 1<<31 {
			return hs, log, fmt.Errorf("votedFor %d is not a node ID", vote)
		}
		return HardState{CurrentTerm: term, VotedFor: NodeID(vote)}, log, nil
	case recLog:
		from, count := r.uvarint(), r.uvarint()
		if r.err != nil {
			return hs, log, errors.New("a log record that does not decode")
		}
		if from < 1 || from > uint64(len(log))+1 {
			return hs, log, fmt.Errorf("a log record from index %d, but the log ends at %d", from, len(log))
		}
		if count > uint64(len(r.b)) { // every entry takes at least two bytes
			return hs, log, fmt.Errorf("a log record of %d entries in %d bytes", count, len(r.b))
		}
		log = log[: from-1 : from-1]
		for i := uint64(0); i < count; i++ {
			term, n := r.uvarint(), r.uvarint()
			cmd := r.bytes(n)
			if r.err != nil {
				return hs, log, fmt.Errorf("entry %d of a log record does not decode", from+i)
			}
			log = append(log, Entry{Index: from + i, Term: term, Command: cmd})
		}
		if len(r.b) != 0 {
			return hs, log, errors.New("a log record with bytes left over")
		}
		return hs, log, nil
	}
	return hs, log, fmt.Errorf("an unknown record type %d", body[0])
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("short")
		return nil
	}
	out := bytes.Clone(r.b[:n])
	r.b = r.b[n:]
	return out
}

func (s *FileStore) writeHeader() error {
	hdr := append([]byte(fileMagic), fileVersion)
	if _, err := s.f.Write(hdr); err != nil {
		return fmt.Errorf("raft: writing the store %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("raft: syncing the store %s: %w", s.path, err)
	}
	s.size = int64(len(hdr))
	return syncDir(s.path)
}

func hardStateRecord(hs HardState) []byte {
	b := []byte{recHardState}
	b = binary.AppendUvarint(b, hs.CurrentTerm)
	return binary.AppendUvarint(b, uint64(hs.VotedFor))
}

func logRecord(from uint64, entries []Entry) []byte {
	b := []byte{recLog}
	b = binary.AppendUvarint(b, from)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = binary.AppendUvarint(b, e.Term)
		b = binary.AppendUvarint(b, uint64(len(e.Command)))
		b = append(b, e.Command...)
	}
	return b
}

func frame(body []byte) []byte {
	out := make([]byte, recordHeader, recordHeader+len(body))
	binary.LittleEndian.PutUint32(out[0:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(out[4:8], crc32.Checksum(out[0:4], crcTable))
	binary.LittleEndian.PutUint32(out[8:12], crc32.Checksum(body, crcTable))
	return append(out, body...)
}

// append writes one record and syncs it.
func (s *FileStore) append(body []byte) error {
	if s.f == nil {
		return fmt.Errorf("raft: store %s is closed", s.path)
	}
	rec := frame(body)
	if _, err := s.f.Write(rec); err != nil {
		// Cut off whatever part was written, so the file stays whole.
		_ = s.f.Truncate(s.size)
		_, _ = s.f.Seek(s.size, io.SeekStart)
		return fmt.Errorf("raft: writing the store %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("raft: syncing the store %s: %w", s.path, err)
	}
	s.size += int64(len(rec))
	return nil
}

// Load returns a copy of what is stored.
func (s *FileStore) Load() (Saved, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Saved{HardState: s.hs, Log: append([]Entry(nil), s.log...)}, nil
}

// SaveHardState stores hs durably before it returns.
func (s *FileStore) SaveHardState(hs HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.append(hardStateRecord(hs)); err != nil {
		return err
	}
	s.hs = hs
	s.live = s.liveSize()
	return s.maybeCompact()
}

// SaveLog stores the log from index from on durably before it returns.
func (s *FileStore) SaveLog(from uint64, entries []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := CheckSaveLog(uint64(len(s.log)), from, entries); err != nil {
		return err
	}
	if err := s.append(logRecord(from, entries)); err != nil {
		return err
	}
	s.log = append(s.log[:from-1], entries...)
	s.live = s.liveSize()
	return s.maybeCompact()
}

func (s *FileStore) liveSize() int64 {
	return int64(fileHeaderSize + 2*recordHeader + len(hardStateRecord(s.hs)) + len(logRecord(1, s.log)))
}

// maybeCompact rewrites the file when most of it is history.
func (s *FileStore) maybeCompact() error {
	if s.size < compactMinBytes || s.size < 4*s.live {
		return nil
	}
	return s.compact()
}

// compact writes the current state to a new file and renames it over the
// old one: at every moment, one of the two files is whole.
func (s *FileStore) compact() error {
	tmp := s.path + ".compact"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("raft: compacting the store %s: %w", s.path, err)
	}
	data := append([]byte(fileMagic), fileVersion)
	data = append(data, frame(hardStateRecord(s.hs))...)
	data = append(data, frame(logRecord(1, s.log))...)
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("raft: compacting the store %s: %w", s.path, err)
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
	s.f, s.size = f, int64(len(data))
	return nil
}

// Close closes the file.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
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
