package raft

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFileStoreLocks: a second open of a store fails while the first holds
// it, naming the process that does; Close lets the next one in.
func TestFileStoreLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n1.store")
	first, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, first.SaveHardState(HardState{CurrentTerm: 4, VotedFor: 1}))

	_, err = OpenFileStore(path)
	require.ErrorContains(t, err, fmt.Sprintf("raft: store %s is in use by process %d", path, os.Getpid()))
	// The first is untouched by the refused open.
	require.NoError(t, first.SaveLog(1, entriesFrom(1, 4, "a")))
	require.NoError(t, first.Close())

	second, err := OpenFileStore(path)
	require.NoError(t, err)
	st, _ := second.Load()
	require.Equal(t, HardState{CurrentTerm: 4, VotedFor: 1}, st.HardState)
	require.Len(t, st.Log, 1)
	require.NoError(t, second.Close())
}

// TestFileStoreRewritesATornHeader: a file holding any prefix of a new
// store's header (the machine stopped while it was created) opens as an
// empty store whose header is whole again, so saves made to it read back.
func TestFileStoreRewritesATornHeader(t *testing.T) {
	dir := t.TempDir()
	for cut := range fileHeaderSize {
		p := filepath.Join(dir, "torn-"+strconv.Itoa(cut))
		require.NoError(t, os.WriteFile(p, freshHeader()[:cut], 0o600))
		s, err := OpenFileStore(p)
		require.NoError(t, err, "header cut at %d", cut)
		require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 2, VotedFor: 1}))
		require.NoError(t, s.SaveLog(1, entriesFrom(1, 2, "x")))
		require.NoError(t, s.Close())
		again, err := OpenFileStore(p)
		require.NoError(t, err, "header cut at %d, then saved to", cut)
		st, _ := again.Load()
		require.Equal(t, HardState{CurrentTerm: 2, VotedFor: 1}, st.HardState)
		require.Equal(t, entriesFrom(1, 2, "x"), st.Log)
		require.NoError(t, again.Close())
	}
	// A short file that is not a new store's header is refused.
	p := filepath.Join(dir, "short")
	short := freshHeader()[:40]
	short[30] ^= 1
	require.NoError(t, os.WriteFile(p, short, 0o600))
	_, err := OpenFileStore(p)
	require.ErrorContains(t, err, "it was truncated")
}

// TestFileStoreRefusesADamagedVote: the last record holds a vote; a byte of
// it flipped (the file still its full length) is damage, not a torn write,
// and must not roll the vote back.
func TestFileStoreRefusesADamagedVote(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 7}))
	require.NoError(t, s.SaveLog(1, entriesFrom(1, 7, "a", "b")))
	last := s.Size()
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 7, VotedFor: 2}))
	require.NoError(t, s.Close())
	whole, _ := os.ReadFile(path)
	for off := last; off < int64(len(whole)); off++ {
		bad := append([]byte(nil), whole...)
		bad[off] ^= 0x01
		p := filepath.Join(dir, fmt.Sprintf("bad-%d", off))
		require.NoError(t, os.WriteFile(p, bad, 0o600))
		_, err := OpenFileStore(p)
		require.Error(t, err, "a flipped byte at %d of the vote's record rolled the vote back", off)
		require.ErrorContains(t, err, p)
		require.ErrorContains(t, err, fmt.Sprintf("offset %d", last))
	}
}

// TestFileStoreDamagedLastLogRecord: a whole last log record that fails its
// checksum is damage, unless its last sector is zeros — what a crash leaves
// when the file's length reached the disk before its data.
func TestFileStoreDamagedLastLogRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 3}))
	require.NoError(t, s.SaveLog(1, entriesFrom(1, 3, "a")))
	before, _ := s.Load()
	fileBefore, _ := os.ReadFile(path)
	last := s.Size()
	big := make([]byte, 1500)
	for i := range big {
		big[i] = 'x'
	}
	require.NoError(t, s.SaveLog(2, []Entry{{Index: 2, Term: 3, Command: big}}))
	require.NoError(t, s.Close())
	whole, _ := os.ReadFile(path)

	flipped := crashImage(fileBefore, whole, int64(len(whole)))
	flipped[last+100] ^= 0x01
	p := filepath.Join(dir, "flipped")
	require.NoError(t, os.WriteFile(p, flipped, 0o600))
	_, err = OpenFileStore(p)
	require.ErrorContains(t, err, fmt.Sprintf("the record at offset %d fails its checksum: the file is damaged", last))

	zeroed := crashImage(fileBefore, whole, int64(len(whole)))
	end := int64(len(zeroed))
	clear(zeroed[(end-1)/sectorSize*sectorSize:])
	p = filepath.Join(dir, "zeroed")
	require.NoError(t, os.WriteFile(p, zeroed, 0o600))
	z, err := OpenFileStore(p)
	require.NoError(t, err)
	st, _ := z.Load()
	require.Equal(t, before, st)
	require.NoError(t, z.Close())
}

// TestFileStoreRefusesTruncation: a file cut to half, or to any length below
// its header's mark, lost saves that had returned: refused, never read as a
// shorter log.
func TestFileStoreRefusesTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 1}))
	for i := uint64(1); i <= 600; i++ {
		require.NoError(t, s.SaveLog(i, entriesFrom(i, 1, fmt.Sprintf("command %d", i))))
	}
	synced := int64(s.mark.synced)
	require.NoError(t, s.Close())
	whole, _ := os.ReadFile(path)
	require.GreaterOrEqual(t, synced, int64(len(whole))*15/16-4096, "the mark stays close to the end")

	for _, cut := range []int64{int64(len(whole)) / 2, synced - 1, fileHeaderSize + 1} {
		p := filepath.Join(dir, fmt.Sprintf("cut-%d", cut))
		require.NoError(t, os.WriteFile(p, whole[:cut], 0o600))
		_, err := OpenFileStore(p)
		require.ErrorContains(t, err, fmt.Sprintf("the file is %d bytes long, but %d bytes had been synced to it", cut, synced), "cut at %d", cut)
	}
}

// TestFileStoreTornMark: a crash while a mark is rewritten leaves the other.
func TestFileStoreTornMark(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s, err := OpenFileStore(path)
	require.NoError(t, err)
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 1}))
	require.NoError(t, s.SaveHardState(HardState{CurrentTerm: 2}))
	newest := s.mark
	require.NoError(t, s.Close())
	whole, _ := os.ReadFile(path)
	at := markOffset + markSize*int(newest.generation%2)
	whole[at+3] ^= 0xff // the newest mark, torn
	require.NoError(t, os.WriteFile(path, whole, 0o600))
	again, err := OpenFileStore(path)
	require.NoError(t, err)
	st, _ := again.Load()
	require.Equal(t, HardState{CurrentTerm: 2}, st.HardState)
	require.NoError(t, again.Close())

	whole[at+markSize*(1-2*int(newest.generation%2))+3] ^= 0xff // and the other
	require.NoError(t, os.WriteFile(path, whole, 0o600))
	_, err = OpenFileStore(path)
	require.ErrorContains(t, err, "both records of the synced length in the header fail their checksums")
}
