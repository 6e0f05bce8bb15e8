package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGradeSaysWhyNoTraceWasWritten: when the trace folder is refused (here
// a symbolic link planted in its place), the failure report says in one
// sentence where the trace would have gone and why it was not written,
// instead of leaving the "Watch it in the browser" line out silently; the
// exit status is still that of a failed test.
func TestGradeSaysWhyNoTraceWasWritten(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.Mkdir(real, 0o700))
	link := filepath.Join(dir, "traces")
	require.NoError(t, os.Symlink(real, link))
	t.Setenv("RAFTLAB_TRACES", link)

	code, out, _ := raftviz(t, "grade", "-impl", "exercises", "-test", "1/InitialElection", "-seed", "1")
	require.Equal(t, 1, code, "a failed test exits 1, trace or no trace")
	require.NotContains(t, out, "Watch it in the browser")
	var said []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "No trace was written") {
			said = append(said, line)
		}
	}
	require.Len(t, said, 1, "one sentence says why:\n%s", out)
	want := filepath.Join(link, "exercises-stage1-InitialElection-seed1.jsonl")
	require.Contains(t, said[0], want, "it names where the trace would have gone")
	require.Contains(t, said[0], "symbolic link", "it says why it was not written")
	entries, err := os.ReadDir(real)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing was written through the link")
}
