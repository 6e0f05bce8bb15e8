package solutions

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
)

// The reference under faults, twice with the same seed and commands: the
// traces must be identical, byte for byte; with another seed, different.
// This is what lets every failure and browser session be replayed.
func TestReferenceRunsAreReplayable(t *testing.T) {
	run := func(seed uint64) []byte {
		var buf bytes.Buffer
		opts := lab.Options{Nodes: 5, Seed: seed, New: New, Impl: "solutions", Network: lab.UnreliableNetwork()}
		tw, err := lab.NewTraceWriter(&buf, lab.HeaderFor(opts))
		require.NoError(t, err)
		opts.Sink = tw.Write
		s, err := lab.New(opts)
		require.NoError(t, err)
		for i := range 40 {
			s.RunFor(97 * time.Millisecond)
			// With no leader at the moment (an election under way), the
			// proposal is refused: that is part of the run too.
			_, _, _, _ = s.ProposeToLeader([]byte(fmt.Sprint("c", i)))
			switch i % 10 {
			case 3:
				require.NoError(t, s.Isolate(2))
			case 5:
				require.NoError(t, s.Crash(4))
			case 7:
				s.Heal()
				require.NoError(t, s.Restart(4))
			}
		}
		s.RunFor(2 * time.Second)
		require.Empty(t, s.Violations())
		require.NoError(t, tw.Flush())
		return buf.Bytes()
	}
	a, b := run(11), run(11)
	require.Greater(t, bytes.Count(a, []byte("\n")), 2000)
	require.True(t, bytes.Equal(a, b), "the same seed and commands gave different traces")
	require.False(t, bytes.Equal(a, run(12)), "another seed gave the same trace")

	tr, err := lab.ReadTrace(bytes.NewReader(a), "run")
	require.NoError(t, err)
	require.NoError(t, lab.Verify(tr, New), "the trace replays from its commands")
}
