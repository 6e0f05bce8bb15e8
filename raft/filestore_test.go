package raft

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func entriesFrom(from uint64, term uint64, cmds ...string) []Entry {
	var es []Entry
	for i, c := range cmds {
		es = append(es, Entry{Index: from + uint64(i), Term: term, Command: []byte(c)})
	}
	return es
}

func TestFileStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n1.store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 3, VotedFor: 2}))
	require.NoError(t, s.SaveLog(1, entriesFrom(1, 1, "a", "b", "c")))
	require.NoError(t, s.SaveLog(3, entriesFrom(3, 3, "C", "d"))) // replace from 3
	require.NoError(t, s.SaveLog(5, nil))                         // delete 5..
	require.NoError(t, s.Close())

	s2, err := OpenFileStore(path)
	require.NoError(t, err)
	got, err := s2.Load()
	require.NoError(t, err)
	require.Equal(t, HardState{CurrentTerm: 3, VotedFor: 2}, got.HardState)
	require.Equal(t, append(entriesFrom(1, 1, "a", "b"), entriesFrom(3, 3, "C", "d")...), got.Log)
	require.ErrorContains(t, s2.SaveLog(9, entriesFrom(9, 3, "x")), "SaveLog from index 9, but the stored log ends at 4")
}

// TestFileStoreTornWrite cuts the last record short at every byte offset,
// as a crash during the write would, and reopens: the store comes back with
// the state before that save (or after it, when it was whole) — never
// anything else, and never an error.
func TestFileStoreTornWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 2, VotedFor: 1}))
	require.NoError(t, s.SaveLog(1, entriesFrom(1, 2, "first", "second")))
	before, _ := s.Load()
	sizeBefore := s.Size()
	fileBefore, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveLog(2, entriesFrom(2, 4, "replaced", "third")))
	after, _ := s.Load()
	require.NoError(t, s.Close())
	whole, err := os.ReadFile(path)
	require.NoError(t, err)

	for cut := sizeBefore; cut <= int64(len(whole)); cut++ {
		p := filepath.Join(dir, fmt.Sprintf("cut-%d", cut))
		require.NoError(t, os.WriteFile(p, crashImage(fileBefore, whole, cut), 0o600))
		got, err := OpenFileStore(p)
		require.NoError(t, err, "cut at byte %d", cut)
		state, _ := got.Load()
		want := before
		if cut == int64(len(whole)) {
			want = after
		}
		require.Equal(t, want, state, "cut at byte %d of %d", cut, len(whole))
		// The torn record is gone from the file: a new save lands cleanly.
		require.NoError(t, got.SaveHardState(HardState{CurrentTerm: 9}))
		require.NoError(t, got.Close())
		again, err := OpenFileStore(p)
		require.NoError(t, err)
		state, _ = again.Load()
		require.Equal(t, HardState{CurrentTerm: 9}, state.HardState)
		require.Equal(t, want.Log, state.Log)
		require.NoError(t, again.Close())
	}
}

// TestFileStoreTornHardState does the same for a hard-state record: a vote
// half written is no vote.
func TestFileStoreTornHardState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 5}))
	size := s.Size()
	fileBefore, _ := os.ReadFile(path)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 5, VotedFor: 3}))
	require.NoError(t, s.Close())
	whole, _ := os.ReadFile(path)
	for cut := size; cut < int64(len(whole)); cut++ {
		p := filepath.Join(dir, fmt.Sprintf("cut-%d", cut))
		require.NoError(t, os.WriteFile(p, crashImage(fileBefore, whole, cut), 0o600))
		got, err := OpenFileStore(p)
		require.NoError(t, err)
		st, _ := got.Load()
		require.Equal(t, HardState{CurrentTerm: 5}, st.HardState, "cut at byte %d", cut)
		got.Close()
	}
}

// TestFileStoreRefusesDamage flips one byte in a record that is not the
// last: that is damage, not a torn write, and must be refused, naming the
// file and the offset.
func TestFileStoreRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 1}))
	second := s.Size()
	require.NoError(t, s.SaveLog(1, entriesFrom(1, 1, "a")))
	third := s.Size()
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 2}))
	require.NoError(t, s.Close())
	whole, _ := os.ReadFile(path)

	// Every byte of the middle record: its length, both checksums, its body.
	for off := second; off < third; off++ {
		bad := append([]byte(nil), whole...)
		bad[off] ^= 0x40
		p := filepath.Join(dir, fmt.Sprintf("bad-%d", off))
		require.NoError(t, os.WriteFile(p, bad, 0o600))
		_, err := OpenFileStore(p)
		require.Error(t, err, "a flipped byte at %d must not be read as valid state", off)
		require.Contains(t, err.Error(), p)
		require.Contains(t, err.Error(), fmt.Sprintf("offset %d", second))
	}

	// A tail of zeros (a file extended but not written when the machine
	// stopped) is a torn write, not damage.
	p := filepath.Join(dir, "zeros")
	require.NoError(t, os.WriteFile(p, append(append([]byte(nil), whole...), make([]byte, 100)...), 0o600))
	z, err := OpenFileStore(p)
	require.NoError(t, err)
	st, _ := z.Load()
	require.Equal(t, HardState{CurrentTerm: 2}, st.HardState)
	z.Close()

	p = filepath.Join(dir, "not-a-store")
	require.NoError(t, os.WriteFile(p, []byte("hello, world: definitely not a store"), 0o600))
	_, err = OpenFileStore(p)
	require.ErrorContains(t, err, "not a raftlab store")
}

// TestFileStoreCompacts: saves that rewrite the same state keep the file
// within 4× of that state (once past the 1 MiB below which it never bothers).
func TestFileStoreCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	big := make([]byte, 20000)
	for i := range 200 {
		// Each save rewrites entry 1: the file grows, the state does not.
		require.NoError(t, s.SaveLog(1, []Entry{{Index: 1, Term: uint64(i + 1), Command: big}}))
		require.LessOrEqual(t, s.Size(), max(4*s.liveSize(), compactMinBytes+20100), "after save %d", i)
	}
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 200}))
	require.NoError(t, s.Close())
	s2, err := OpenFileStore(path)
	require.NoError(t, err)
	st, _ := s2.Load()
	require.Equal(t, uint64(200), st.HardState.CurrentTerm)
	require.Len(t, st.Log, 1)
	require.Equal(t, uint64(200), st.Log[0].Term)
	require.NoError(t, s2.Close())
	_, err = os.Stat(path + ".compact")
	require.True(t, os.IsNotExist(err), "no temporary file is left behind")
}

// FuzzDecodeStore: no file content makes the decoder panic; whatever it
// accepts is a state whose log follows its snapshot, index by index, and the
// whole records decode on their own to the same state. Its seeds include
// files with a snapshot (stage 4), before and after more log records.
func FuzzDecodeStore(f *testing.F) {
	valid := func(fill func(*FileStore)) []byte {
		path := filepath.Join(f.TempDir(), "seed")
		s, err := OpenFileStore(path)
		if err != nil {
			f.Fatal(err)
		}
		fill(s)
		s.Close()
		b, _ := os.ReadFile(path)
		return b
	}
	f.Add(valid(func(s *FileStore) {}))
	f.Add(valid(func(s *FileStore) {
		_ = s.SaveHardState(HardState{CurrentTerm: 7, VotedFor: 3})
		_ = s.SaveLog(1, entriesFrom(1, 7, "x", "yy", ""))
		_ = s.SaveLog(2, entriesFrom(2, 8, "z"))
	}))
	f.Add(valid(func(s *FileStore) {
		_ = s.SaveHardState(HardState{CurrentTerm: 2, VotedFor: 1})
		_ = s.SaveLog(1, entriesFrom(1, 2, "a", "b", "c"))
		_ = s.SaveSnapshot(Snapshot{LastIncludedIndex: 2, LastIncludedTerm: 2, Data: []byte("ab")})
	}))
	f.Add(valid(func(s *FileStore) {
		_ = s.SaveLog(1, entriesFrom(1, 1, "a", "b"))
		_ = s.SaveSnapshot(Snapshot{LastIncludedIndex: 9, LastIncludedTerm: 3, Data: []byte("nine")})
		_ = s.SaveLog(10, entriesFrom(10, 3, "j", "k"))
		_ = s.SaveLog(11, entriesFrom(11, 4, "K"))
		_ = s.SaveHardState(HardState{CurrentTerm: 4})
	}))
	f.Add([]byte(fileMagic))
	f.Add(freshHeader()[:20])
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		saved, good, err := DecodeStore(data)
		if err != nil {
			return
		}
		if good < 0 || good > int64(len(data)) {
			t.Fatalf("whole records end at %d, outside the %d bytes", good, len(data))
		}
		for i, e := range saved.Log {
			if want := saved.Snapshot.LastIncludedIndex + uint64(i+1); e.Index != want {
				t.Fatalf("entry at position %d has index %d, want %d (after a snapshot through %d)", i+1, e.Index, want, saved.Snapshot.LastIncludedIndex)
			}
		}
		// Decoding what remains after cutting off the torn tail gives the same state.
		again, good2, err := DecodeStore(data[:good])
		if err != nil || good2 != good || !equalSaved(saved, again) {
			t.Fatalf("the whole records decode differently on their own: %v", err)
		}
	})
}

// crashImage is the file a crash leaves while the save that turned before
// into after was under way, cut at byte cut: the records are after's, cut
// short, and the header is before's — a save moves the header's mark only
// once its record is synced.
func crashImage(before, after []byte, cut int64) []byte {
	img := append([]byte(nil), after[:cut]...)
	copy(img, before[:min(len(before), fileHeaderSize)])
	return img
}

func equalSaved(a, b Saved) bool {
	if a.HardState != b.HardState || len(a.Log) != len(b.Log) ||
		a.Snapshot.LastIncludedIndex != b.Snapshot.LastIncludedIndex || a.Snapshot.LastIncludedTerm != b.Snapshot.LastIncludedTerm ||
		!bytes.Equal(a.Snapshot.Data, b.Snapshot.Data) {
		return false
	}
	for i := range a.Log {
		if !a.Log[i].Equal(b.Log[i]) {
			return false
		}
	}
	return true
}
