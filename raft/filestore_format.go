package raft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The layout of a store file (version 2):
//
//	header, 64 bytes:
//	  "RAFTLAB\x00" | version (1 byte = 2) | 7 zero bytes | mark A (24 bytes) | mark B (24 bytes)
//	  mark: generation (uint64) | synced length (uint64) | crc32c of those 16 bytes (uint32) | 4 zero bytes
//	record:
//	  length (uint32, of type+payload) | crc32c of the length (uint32) | crc32c of type+payload (uint32) | type (1 byte) | payload
//	  type 1, hard state: currentTerm (uvarint) votedFor (uvarint)
//	  type 2, log:        from (uvarint) count (uvarint) then per entry: term (uvarint) len (uvarint) command
//	  type 3, snapshot:   lastIncludedIndex (uvarint) lastIncludedTerm (uvarint) then the snapshot's data
//
// A snapshot record (stage 4) compacts the log as SnapshotStorage.SaveSnapshot
// does: the entries after lastIncludedIndex are kept if the log holds that
// entry with that term, else the whole log is discarded; log records that
// follow it number their entries after lastIncludedIndex. FileStore writes a
// snapshot only into a fresh file (temporary file, synced, renamed over the
// store, folder synced), so a store file holds at most one, right after the
// hard state, and the log prefix it covers is gone from the file.
//
// Integers in the header and record headers are little-endian.
//
// The marks record how many bytes of the file were synced: every record
// before that length was whole on disk when a save returned. The two marks
// are written in turn, each with its own checksum, so a crash while one is
// rewritten leaves the other; the valid mark of the higher generation holds.
const (
	fileMagic      = "RAFTLAB\x00"
	fileVersion    = 2
	fileHeaderSize = 64
	markOffset     = 16
	markSize       = 24
	recordHeader   = 12
	recHardState   = 1
	recLog         = 2
	recSnapshot    = 3
	maxRecordSize  = 256 << 20 // a record larger than this is damage, not data
	sectorSize     = 512       // the unit in which a disk writes, or fails to
	minZeroTail    = 8         // see tornTail
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// mark is one of the header's two records of the synced length.
type mark struct{ generation, synced uint64 }

func (m mark) encode() []byte {
	b := make([]byte, markSize)
	binary.LittleEndian.PutUint64(b[0:], m.generation)
	binary.LittleEndian.PutUint64(b[8:], m.synced)
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], crcTable))
	return b
}

// decodeMark reads a mark; ok is false for a mark never written (all zero)
// or one whose checksum fails (torn while it was rewritten).
func decodeMark(b []byte) (m mark, ok bool) {
	if allZero(b) || crc32.Checksum(b[:16], crcTable) != binary.LittleEndian.Uint32(b[16:20]) {
		return mark{}, false
	}
	return mark{binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])}, true
}

// markAt is where the mark of generation g lives: marks alternate between
// the two slots (A for even generations, B for odd), so writing the next one
// never overwrites the newest.
func markAt(g uint64) int { return markOffset + markSize*int(g%2) }

// freshHeader is the header of an empty store: its first mark (generation 1,
// in slot B) says the 64 header bytes are synced; slot A was never written,
// and the next mark (generation 2) goes there, leaving this one whole if the
// machine stops while it is written. (Stores of earlier versions of this
// code held generation 1 in slot A; they read the same.)
func freshHeader() []byte {
	h := make([]byte, fileHeaderSize)
	copy(h, fileMagic)
	h[len(fileMagic)] = fileVersion
	copy(h[markAt(1):], mark{generation: 1, synced: fileHeaderSize}.encode())
	return h
}

// errTornHeader says the file holds only a prefix of a fresh header: it was
// being created when the machine stopped, so nothing was ever saved in it.
var errTornHeader = errors.New("the header was cut short while the store was being created")

// decodeHeader checks the header and returns the newest valid mark.
func decodeHeader(data []byte) (mark, error) {
	if len(data) < fileHeaderSize {
		if bytes.HasPrefix(freshHeader(), data) {
			return mark{}, errTornHeader
		}
		if len(data) >= len(fileMagic) && string(data[:len(fileMagic)]) == fileMagic {
			return mark{}, fmt.Errorf("the file is %d bytes long, shorter than its %d-byte header, and not a store being created: it was truncated; restore it from a backup, or remove it to restart this server empty",
				len(data), fileHeaderSize)
		}
		return mark{}, fmt.Errorf("not a raftlab store (it is %d bytes long and lacks the header)", len(data))
	}
	if string(data[:len(fileMagic)]) != fileMagic {
		return mark{}, errors.New("not a raftlab store: the file does not start with the store's header")
	}
	if v := data[len(fileMagic)]; v != fileVersion {
		return mark{}, fmt.Errorf("store format version %d; this raftlab reads version %d (remove the file to restart this server empty; it will catch up from the leader)", v, fileVersion)
	}
	a, okA := decodeMark(data[markOffset : markOffset+markSize])
	b, okB := decodeMark(data[markOffset+markSize : markOffset+2*markSize])
	switch {
	case okA && (!okB || a.generation > b.generation):
		return a, nil
	case okB:
		return b, nil
	}
	return mark{}, errors.New("both records of the synced length in the header fail their checksums: the header is damaged; restore the file from a backup, or remove it to restart this server empty")
}

// DecodeStore reads the contents of a store file: the state it holds, and
// how many bytes of it are whole records (the rest is a torn last record).
// It is what OpenFileStore uses, exposed for tools and tests.
func DecodeStore(data []byte) (Saved, int64, error) {
	st, good, _, err := decodeStore(data)
	return st.saved(), good, err
}

// storeState is what a store file holds: the hard state, the snapshot (stage
// 4) and the log after it, log[i] holding index snap.LastIncludedIndex+1+i.
type storeState struct {
	hs   HardState
	snap Snapshot
	log  []Entry
}

func (st storeState) saved() Saved {
	return Saved{HardState: st.hs, Log: st.log, Snapshot: st.snap}
}

// lastIndex is the index of the last entry the state holds, or 0.
func (st storeState) lastIndex() uint64 {
	return st.snap.LastIncludedIndex + uint64(len(st.log))
}

// decodeStore replays the records of data. It tells a torn last record (cut
// off: the save that wrote it never returned) from damage (refused): see
// tornTail for the rule. It returns the state, the length of the whole
// records, and the newest mark.
func decodeStore(data []byte) (st storeState, good int64, m mark, err error) {
	if m, err = decodeHeader(data); err != nil {
		return st, 0, m, err
	}
	size := int64(len(data))
	if m.synced < fileHeaderSize {
		return st, 0, m, fmt.Errorf("the header says %d bytes were synced, which no store writes: the header is damaged; restore the file from a backup, or remove it to restart this server empty", m.synced)
	}
	if size < int64(m.synced) {
		return st, 0, m, fmt.Errorf("the file is %d bytes long, but %d bytes had been synced to it (its header says so): it was truncated and saved state is lost; restore it from a backup, or remove it to restart this server empty (it will catch up from the leader)",
			size, m.synced)
	}
	off := int64(fileHeaderSize)
	damaged := func(format string, args ...any) error {
		return fmt.Errorf("the record at offset %d %s: the file is damaged, not torn by a crash; restore it from a backup, or remove it to restart this server empty (it will catch up from the leader)",
			off, fmt.Sprintf(format, args...))
	}
	// bad is a record that does not read: torn if the rule allows, else damage.
	bad := func(format string, args ...any) (storeState, int64, mark, error) {
		if off >= int64(m.synced) && tornTail(data, off) {
			return st, off, m, nil
		}
		return st, off, m, damaged(format, args...)
	}
	for off < size {
		rest := data[off:]
		if len(rest) < recordHeader {
			return bad("is cut short inside its header")
		}
		n := int64(binary.LittleEndian.Uint32(rest[0:4]))
		if crc32.Checksum(rest[0:4], crcTable) != binary.LittleEndian.Uint32(rest[4:8]) {
			return bad("has a header that fails its checksum")
		}
		if n < 1 || n > maxRecordSize {
			return bad("claims %d bytes", n)
		}
		if int64(len(rest)-recordHeader) < n {
			return bad("is cut short: it claims %d bytes and the file ends after %d", n, len(rest)-recordHeader)
		}
		body := rest[recordHeader : recordHeader+n]
		if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(rest[8:12]) {
			if off+recordHeader+n < size {
				return st, off, m, damaged("fails its checksum, and records follow it")
			}
			return bad("fails its checksum")
		}
		if err = st.applyRecord(body); err != nil {
			return st, off, m, fmt.Errorf("the record at offset %d: %w", off, err)
		}
		off += recordHeader + n
	}
	return st, off, m, nil
}

// tornTail reports whether the bytes from off to the end of data can be the
// last record torn by a crash, rather than damage. Records are appended, and
// each save is synced before it returns, so a crash can only tear the save in
// progress: the file then ends with a prefix of that record (the rest never
// written), or — when the file's length reached the disk before its data —
// with the record's length filled by zeros in whole sectors. So the tail is
// torn when it is a prefix of a record (the file ends inside the record's
// header or inside the body its header claims), when it is all zeros, or when
// its last sector (from the last 512-byte boundary, or from off if later, to
// the end) is all zeros and at least minZeroTail bytes long. Anything else —
// a whole record whose checksum fails with data in its last sector — is
// damage: a bit flip, not a crash, and refused.
func tornTail(data []byte, off int64) bool {
	rest := data[off:]
	if allZero(rest) {
		return true
	}
	if len(rest) < recordHeader {
		return true
	}
	n := int64(binary.LittleEndian.Uint32(rest[0:4]))
	if crc32.Checksum(rest[0:4], crcTable) == binary.LittleEndian.Uint32(rest[4:8]) && int64(len(rest)-recordHeader) < n {
		return true // a whole header, and the file ends inside the body it claims
	}
	end := int64(len(data))
	lastSector := max(off, (end-1)/sectorSize*sectorSize)
	return end-lastSector >= minZeroTail && allZero(data[lastSector:])
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
func (st *storeState) applyRecord(body []byte) error {
	r := &reader{b: body[1:]}
	switch body[0] {
	case recHardState:
		term, vote := r.uvarint(), r.uvarint()
		if r.err != nil || len(r.b) != 0 {
			return errors.New("a hard-state record that does not decode")
		}
		if vote > 1<<31 {
			return fmt.Errorf("votedFor %d is not a node ID", vote)
		}
		st.hs = HardState{CurrentTerm: term, VotedFor: NodeID(vote)}
		return nil
	case recLog:
		from, count := r.uvarint(), r.uvarint()
		if r.err != nil {
			return errors.New("a log record that does not decode")
		}
		first := st.snap.LastIncludedIndex + 1
		if from < first || from > st.lastIndex()+1 {
			if from < first {
				return fmt.Errorf("a log record from index %d, but entries up to %d are in the snapshot", from, first-1)
			}
			return fmt.Errorf("a log record from index %d, but the log ends at %d", from, st.lastIndex())
		}
		if count > uint64(len(r.b)) { // every entry takes at least two bytes
			return fmt.Errorf("a log record of %d entries in %d bytes", count, len(r.b))
		}
		// Cut in place and append: replaying a file is O(its length), not a
		// copy of the log per record.
		st.log = st.log[:from-first]
		for i := uint64(0); i < count; i++ {
			term, n := r.uvarint(), r.uvarint()
			cmd := r.bytes(n)
			if r.err != nil {
				return fmt.Errorf("entry %d of a log record does not decode", from+i)
			}
			st.log = append(st.log, Entry{Index: from + i, Term: term, Command: cmd})
		}
		if len(r.b) != 0 {
			return errors.New("a log record with bytes left over")
		}
		return nil
	case recSnapshot:
		index, term := r.uvarint(), r.uvarint()
		if r.err != nil {
			return errors.New("a snapshot record that does not decode")
		}
		if index == 0 || index < st.snap.LastIncludedIndex {
			return fmt.Errorf("a snapshot through index %d, after one through %d", index, st.snap.LastIncludedIndex)
		}
		st.log = compactLog(st.snap, st.log, index, term)
		st.snap = Snapshot{LastIncludedIndex: index, LastIncludedTerm: term, Data: bytes.Clone(r.b)}
		return nil
	}
	return fmt.Errorf("an unknown record type %d", body[0])
}

// compactLog is the log after a snapshot through index, of term term, on a
// log that follows snap (Figure 13, receiver rules 6 and 7): the entries after
// index if the log holds that entry with that term, else none. The entries
// kept are in a fresh array, so the discarded ones can be freed.
func compactLog(snap Snapshot, log []Entry, index, term uint64) []Entry {
	k := index - snap.LastIncludedIndex // position past the kept entry, in log
	if k <= uint64(len(log)) && (k == 0 || log[k-1].Term == term) && (k > 0 || snap.LastIncludedTerm == term) {
		return append([]Entry(nil), log[k:]...) // rule 6: keep the entries that follow
	}
	return nil // rule 7: discard the entire log
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

func appendHardStateRecord(b []byte, hs HardState) []byte {
	b = append(b, recHardState)
	b = binary.AppendUvarint(b, hs.CurrentTerm)
	return binary.AppendUvarint(b, uint64(hs.VotedFor))
}

func appendSnapshotRecord(b []byte, snap Snapshot) []byte {
	b = append(b, recSnapshot)
	b = binary.AppendUvarint(b, snap.LastIncludedIndex)
	b = binary.AppendUvarint(b, snap.LastIncludedTerm)
	return append(b, snap.Data...)
}

// snapshotRecordSize is the bytes a snapshot record's body takes.
func snapshotRecordSize(snap Snapshot) int64 {
	return int64(1 + uvarintLen(snap.LastIncludedIndex) + uvarintLen(snap.LastIncludedTerm) + len(snap.Data))
}

func appendLogRecord(b []byte, from uint64, entries []Entry) []byte {
	b = append(b, recLog)
	b = binary.AppendUvarint(b, from)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = binary.AppendUvarint(b, e.Term)
		b = binary.AppendUvarint(b, uint64(len(e.Command)))
		b = append(b, e.Command...)
	}
	return b
}

// entrySize is the bytes e takes in a log record.
func entrySize(e Entry) int64 {
	return int64(uvarintLen(e.Term) + uvarintLen(uint64(len(e.Command))) + len(e.Command))
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// appendFramed appends body, framed as a record, to b. body must already sit
// at b[len(b)+recordHeader:], written there by fill.
func appendFramed(b []byte, fill func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, recordHeader)...)
	b = fill(b)
	body := b[start+recordHeader:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[start:start+4], crcTable))
	binary.LittleEndian.PutUint32(b[start+8:], crc32.Checksum(body, crcTable))
	return b
}
