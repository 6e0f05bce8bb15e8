package raft

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFileStoreSnapshotSurvivesReopen: a snapshot and the log after it come
// back from the file, the compacted prefix has left the file, and saves below
// the snapshot or of an older snapshot are refused.
func TestFileStoreSnapshotSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n1.store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 3, VotedFor: 2}))
	big := string(make([]byte, 1000))
	require.NoError(t, s.SaveLog(1, entriesFrom(1, 2, big, big, big, big, big, big, "g", "h")))
	full := s.Size()
	snap := Snapshot{LastIncludedIndex: 6, LastIncludedTerm: 2, Data: []byte("state through 6")}
	require.NoError(t, s.SaveSnapshot(snap))
	require.Equal(t, s.liveSize(), s.Size(), "a snapshot rewrites the file to just the live state")
	require.Less(t, s.Size(), full-5000, "the six 1,000-byte entries the snapshot covers left the file")
	require.NoError(t, s.SaveLog(9, entriesFrom(9, 3, "i")))
	require.ErrorContains(t, s.SaveLog(6, entriesFrom(6, 3, "x")), "entries up to 6 are compacted into the snapshot")
	require.ErrorContains(t, s.SaveSnapshot(Snapshot{LastIncludedIndex: 5, LastIncludedTerm: 2}), "never be replaced by an older one")
	require.NoError(t, s.Close())

	s2, err := OpenFileStore(path)
	require.NoError(t, err)
	got, err := s2.Load()
	require.NoError(t, err)
	require.Equal(t, HardState{CurrentTerm: 3, VotedFor: 2}, got.HardState)
	require.Equal(t, snap, got.Snapshot)
	require.Equal(t, append(entriesFrom(7, 2, "g", "h"), entriesFrom(9, 3, "i")...), got.Log)

	// A snapshot past the log (InstallSnapshot to a follower behind):
	// Figure 13 rule 7, the whole log goes; the next entry follows it.
	later := Snapshot{LastIncludedIndex: 20, LastIncludedTerm: 4, Data: []byte("state through 20")}
	require.NoError(t, s2.SaveSnapshot(later))
	require.NoError(t, s2.SaveLog(21, entriesFrom(21, 4, "u")))
	require.NoError(t, s2.Close())
	s3, err := OpenFileStore(path)
	require.NoError(t, err)
	got, _ = s3.Load()
	require.Equal(t, later, got.Snapshot)
	require.Equal(t, entriesFrom(21, 4, "u"), got.Log)
	require.NoError(t, s3.Close())
	_, err = os.Stat(path + compactSuffix)
	require.True(t, os.IsNotExist(err), "no temporary file is left behind")
}

// TestFileStoreMatchesInmemStore runs the same random saves — hard states,
// appends, overwrites, snapshots inside and past the log — on a FileStore and
// an InmemStore, reopening the file store now and then: both hold the same
// state after every save.
func TestFileStoreMatchesInmemStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	path := filepath.Join(t.TempDir(), "store")
	fs, err := OpenFileStore(path)
	require.NoError(t, err)
	defer func() { fs.Close() }()
	mem := NewInmemStore()
	term := uint64(1)
	for step := range 600 {
		memSaved, _ := mem.Load()
		first, last := memSaved.Snapshot.LastIncludedIndex+1, mem.LastIndex()
		var fsErr, memErr error
		switch op := rng.IntN(10); {
		case op == 0:
			term += uint64(rng.IntN(2))
			hs := HardState{CurrentTerm: term, VotedFor: NodeID(rng.IntN(4))}
			fsErr, memErr = fs.SaveHardState(hs), mem.SaveHardState(hs)
		case op <= 6:
			from := last + 1
			if rng.IntN(4) == 0 && last >= first {
				from = first + uint64(rng.IntN(int(last-first+1)))
			}
			var cmds []string
			for range rng.IntN(4) {
				cmds = append(cmds, fmt.Sprintf("cmd-%d", rng.IntN(1000)))
			}
			es := entriesFrom(from, term, cmds...)
			fsErr, memErr = fs.SaveLog(from, es), mem.SaveLog(from, es)
		case op <= 8 && last >= first:
			// A snapshot inside the log, of that entry's term.
			i := first + uint64(rng.IntN(int(last-first+1)))
			snap := Snapshot{LastIncludedIndex: i, LastIncludedTerm: memSaved.Log[i-first].Term, Data: fmt.Appendf(nil, "through %d", i)}
			fsErr, memErr = fs.SaveSnapshot(snap), mem.SaveSnapshot(snap)
		default:
			// A snapshot past the log, or of another term (rule 7).
			snap := Snapshot{LastIncludedIndex: last + uint64(rng.IntN(3)), LastIncludedTerm: term + 1, Data: []byte{byte(step)}}
			fsErr, memErr = fs.SaveSnapshot(snap), mem.SaveSnapshot(snap)
		}
		require.Equal(t, memErr == nil, fsErr == nil, "step %d: in memory %v, in the file %v", step, memErr, fsErr)
		if rng.IntN(20) == 0 {
			require.NoError(t, fs.Close())
			fs, err = OpenFileStore(path)
			require.NoError(t, err)
		}
		want, _ := mem.Load()
		got, _ := fs.Load()
		require.True(t, equalSaved(want, got), "step %d: the file holds %+v, memory %+v", step, got, want)
	}
}

// TestFileStoreSnapshotTornWrite cuts the snapshot's write at every byte,
// as a crash would: before the rename, the old file is whole and used (the
// unfinished temporary file removed); after it, the new one. Then it cuts
// each log record saved after the snapshot at every byte: the state is the
// snapshot with the log before that save.
func TestFileStoreSnapshotTornWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 2, VotedFor: 1}))
	require.NoError(t, s.SaveLog(1, entriesFrom(1, 2, "a", "b", "c", "d")))
	before, _ := s.Load()
	fileBefore, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveSnapshot(Snapshot{LastIncludedIndex: 3, LastIncludedTerm: 2, Data: []byte("abc")}))
	snapped, _ := s.Load()
	fileSnapped, err := os.ReadFile(path)
	require.NoError(t, err)
	// Two log records after the snapshot.
	require.NoError(t, s.SaveLog(5, entriesFrom(5, 2, "e")))
	oneMore, _ := s.Load()
	fileOneMore, _ := os.ReadFile(path)
	require.NoError(t, s.SaveLog(4, entriesFrom(4, 3, "D", "E", "F")))
	after, _ := s.Load()
	require.NoError(t, s.Close())
	fileAfter, _ := os.ReadFile(path)

	open := func(p string) Saved {
		t.Helper()
		got, err := OpenFileStore(p)
		require.NoError(t, err)
		defer got.Close()
		st, _ := got.Load()
		return st
	}
	for cut := 0; cut <= len(fileSnapped); cut++ {
		sub := filepath.Join(dir, fmt.Sprintf("snap-%d", cut))
		require.NoError(t, os.Mkdir(sub, 0o700))
		p := filepath.Join(sub, "store")
		require.NoError(t, os.WriteFile(p, fileBefore, 0o600))
		require.NoError(t, os.WriteFile(p+compactSuffix, fileSnapped[:cut], 0o600))
		require.True(t, equalSaved(before, open(p)), "the snapshot's file cut at byte %d, not renamed", cut)
		_, err := os.Stat(p + compactSuffix)
		require.True(t, os.IsNotExist(err), "the unfinished rewrite is removed at open (cut at %d)", cut)
	}
	p := filepath.Join(dir, "renamed")
	require.NoError(t, os.WriteFile(p, fileSnapped, 0o600))
	require.True(t, equalSaved(snapped, open(p)))

	// The log records that follow, each cut at every byte.
	for _, step := range []struct {
		before, after []byte
		want, whole   Saved
	}{{fileSnapped, fileOneMore, snapped, oneMore}, {fileOneMore, fileAfter, oneMore, after}} {
		for cut := len(step.before); cut <= len(step.after); cut++ {
			p := filepath.Join(dir, fmt.Sprintf("log-%d", cut))
			require.NoError(t, os.WriteFile(p, crashImage(step.before, step.after, int64(cut)), 0o600))
			want := step.want
			if cut == len(step.after) {
				want = step.whole
			}
			require.True(t, equalSaved(want, open(p)), "a log record after the snapshot cut at byte %d of %d", cut, len(step.after))
		}
	}
}

// TestFileStoreSnapshotRefusesDamage: a rewritten file with a snapshot whose
// bytes are cut short or flipped (damage the write, sync and rename protocol
// does not leave) is refused, naming the file and the record's offset —
// never read as a state.
func TestFileStoreSnapshotRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 2, VotedFor: 1}))
	require.NoError(t, s.SaveLog(1, entriesFrom(1, 2, "a", "b", "c")))
	require.NoError(t, s.SaveSnapshot(Snapshot{LastIncludedIndex: 2, LastIncludedTerm: 2, Data: []byte("the state through 2")}))
	require.NoError(t, s.Close())
	whole, _ := os.ReadFile(path)

	// The records' offsets: hard state, snapshot, log.
	var starts []int
	for off := fileHeaderSize; off < len(whole); {
		starts = append(starts, off)
		n := int(whole[off]) | int(whole[off+1])<<8 | int(whole[off+2])<<16 | int(whole[off+3])<<24
		off += recordHeader + n
	}
	require.Len(t, starts, 3)
	require.Equal(t, byte(recSnapshot), whole[starts[1]+recordHeader])
	recordAt := func(off int) int {
		r := starts[0]
		for _, s := range starts {
			if s <= off {
				r = s
			}
		}
		return r
	}
	for off := fileHeaderSize; off < len(whole); off++ {
		bad := bytes.Clone(whole)
		bad[off] ^= 0x10
		p := filepath.Join(dir, fmt.Sprintf("flip-%d", off))
		require.NoError(t, os.WriteFile(p, bad, 0o600))
		_, err := OpenFileStore(p)
		require.Error(t, err, "a flipped byte at %d must not be read as valid state", off)
		require.Contains(t, err.Error(), p)
		require.Contains(t, err.Error(), fmt.Sprintf("offset %d", recordAt(off)), "flip at %d", off)
	}
	for cut := fileHeaderSize; cut < len(whole); cut++ {
		p := filepath.Join(dir, fmt.Sprintf("cut-%d", cut))
		require.NoError(t, os.WriteFile(p, whole[:cut], 0o600))
		_, err := OpenFileStore(p)
		require.Error(t, err, "the rewritten file cut at %d must not be read as valid state", cut)
		require.Contains(t, err.Error(), p)
		require.Contains(t, err.Error(), "truncated")
	}
}

// TestFileStoreSnapshotsBoundTheFile: a long run of appends with a snapshot
// every 250 entries keeps the file within 4× of what it holds (or under the
// 1 MiB below which it is not rewritten) — by bytes — and right after each
// snapshot the file is exactly its live size.
func TestFileStoreSnapshotsBoundTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	defer s.Close()
	cmd := make([]byte, 400)
	maxSize := int64(0)
	for i := uint64(1); i <= 4_000; i++ {
		require.NoError(t, s.SaveLog(i, []Entry{{Index: i, Term: 1, Command: cmd}}))
		if i%250 == 0 {
			require.NoError(t, s.SaveSnapshot(Snapshot{LastIncludedIndex: i, LastIncludedTerm: 1, Data: make([]byte, 1000)}))
			require.Equal(t, s.liveSize(), s.Size(), "after the snapshot through %d", i)
		}
		require.LessOrEqual(t, s.Size(), max(4*s.liveSize(), compactMinBytes+500), "after entry %d", i)
		maxSize = max(maxSize, s.Size())
	}
	// 4,000 entries of 400 bytes are 1.6 MB; the file never held more than
	// 250 of them and a snapshot.
	require.Less(t, maxSize, int64(120_000), "the file reached %d bytes", maxSize)
	t.Logf("4,000 entries of 400 bytes, a snapshot every 250: the file peaked at %d bytes", maxSize)
}

// TestDecodeStoreSnapshotAfterLog: FileStore writes a snapshot record only
// first in a fresh file, but the format reads one after log records too, and
// then compacts the log as SaveSnapshot does (Figure 13, rules 6 and 7).
func TestDecodeStoreSnapshotAfterLog(t *testing.T) {
	file := func(snaps ...Snapshot) []byte {
		data := freshHeader()
		data = appendFramed(data, func(b []byte) []byte { return appendLogRecord(b, 1, entriesFrom(1, 1, "a", "b", "c")) })
		for _, s := range snaps {
			data = appendFramed(data, func(b []byte) []byte { return appendSnapshotRecord(b, s) })
		}
		copy(data[markAt(1):], mark{generation: 1, synced: uint64(len(data))}.encode())
		return data
	}
	inside := Snapshot{LastIncludedIndex: 2, LastIncludedTerm: 1, Data: []byte("ab")}
	st, _, err := DecodeStore(file(inside))
	require.NoError(t, err)
	require.Equal(t, inside, st.Snapshot)
	require.Equal(t, entriesFrom(3, 1, "c"), st.Log, "rule 6: the entries after the snapshot's last one stay")

	otherTerm := Snapshot{LastIncludedIndex: 3, LastIncludedTerm: 2, Data: []byte("abC")}
	st, _, err = DecodeStore(file(inside, otherTerm))
	require.NoError(t, err)
	require.Equal(t, otherTerm, st.Snapshot)
	require.Empty(t, st.Log, "rule 7: a snapshot whose last entry the log does not hold discards the log")

	_, _, err = DecodeStore(file(otherTerm, inside))
	require.ErrorContains(t, err, "a snapshot through index 2, after one through 3")
}

// TestFileStoreFirstMarkAfterRewriteTorn: a snapshot rewrites the file with
// one mark; the next save moves the mark. A crash while that mark is written
// tears it: the file must still open, from the mark before, with every save
// that returned — not be refused because both marks fail. The same holds for
// the first mark of a new store.
func TestFileStoreFirstMarkAfterRewriteTorn(t *testing.T) {
	for _, snapshot := range []bool{true, false} {
		dir := t.TempDir()
		path := filepath.Join(dir, "store")
		s, err := OpenFileStore(path)
		require.NoError(t, err)
		if snapshot {
			require.NoError(t, s.SaveLog(1, entriesFrom(1, 1, "a", "b")))
			require.NoError(t, s.SaveSnapshot(Snapshot{LastIncludedIndex: 1, LastIncludedTerm: 1, Data: []byte("a")}))
		}
		first := s.mark
		require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 5, VotedFor: 2}))
		want, _ := s.Load()
		second := s.mark
		require.Equal(t, first.generation+1, second.generation)
		require.NoError(t, s.Close())
		whole, _ := os.ReadFile(path)
		for b := range markSize {
			torn := bytes.Clone(whole)
			torn[markAt(second.generation)+b] ^= 0xff
			p := filepath.Join(dir, fmt.Sprintf("torn-%d", b))
			require.NoError(t, os.WriteFile(p, torn, 0o600))
			got, err := OpenFileStore(p)
			require.NoError(t, err, "snapshot %v: the mark of generation %d torn at byte %d", snapshot, second.generation, b)
			st, _ := got.Load()
			require.True(t, equalSaved(want, st), "snapshot %v, torn at %d", snapshot, b)
			require.NoError(t, got.Close())
		}
	}
}
