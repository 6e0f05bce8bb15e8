//go:build unix

package lab

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTraceFileRefusesSymlinks: a symbolic link planted where a failure
// trace will be written is not followed (its target stays as it was), nor
// is a trace folder that is a link; a new folder is private.
func TestTraceFileRefusesSymlinks(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "precious")
	require.NoError(t, os.WriteFile(victim, []byte("keep me"), 0o600))

	dir := filepath.Join(base, "traces")
	f, err := CreateTraceFile(dir, "a.jsonl")
	require.NoError(t, err)
	f.Close()
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "a new trace folder is private")

	require.NoError(t, os.Symlink(victim, filepath.Join(dir, "b.jsonl")))
	_, err = CreateTraceFile(dir, "b.jsonl")
	require.Error(t, err, "a planted symbolic link must not be followed")

	linked := filepath.Join(base, "linked")
	require.NoError(t, os.Symlink(dir, linked))
	_, err = CreateTraceFile(linked, "c.jsonl")
	require.ErrorContains(t, err, "not a folder")

	got, err := os.ReadFile(victim)
	require.NoError(t, err)
	require.Equal(t, "keep me", string(got))

	require.Contains(t, DefaultTraceDir(), "raftlab-traces-", "the default folder is the user's own")
}

// TestTraceFolderOfAnotherUserRefused needs root, to make a folder that
// belongs to someone else.
func TestTraceFolderOfAnotherUserRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a folder to another user")
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chown(dir, 12345, 12345))
	_, err := CreateTraceFile(dir, "a.jsonl")
	require.ErrorContains(t, err, "belongs to user 12345")
}
