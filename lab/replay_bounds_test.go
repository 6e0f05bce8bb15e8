package lab

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// The work of a replay is bounded per event, counted in units of work and in
// bytes allocated, never in wall time (issue 14, item 5).

// TestStepEventGivesUpOnAQuietRun: one server that leads alone sends
// nothing, so "step to the next event" has none to find. It once ticked for
// ever (the page's step button hung the session); it now gives up, saying
// so, within maxIdleSteps units of work.
func TestStepEventGivesUpOnAQuietRun(t *testing.T) {
	r, err := NewReplayer(Options{Nodes: 1, Seed: 1, New: solutions.New, Impl: "solutions"}, nil)
	require.NoError(t, err)
	r.Sim.RunFor(time.Second)
	role, _ := r.Sim.View().Leader()
	require.Equal(t, raft.NodeID(1), role, "the lone server should lead after a second")
	start := r.Sim.Steps()
	ok, err := r.StepEvent(Forever)
	require.False(t, ok)
	require.ErrorContains(t, err, "went quiet")
	require.LessOrEqual(t, r.Sim.Steps()-start, uint64(maxIdleSteps+2), "units of work done looking for an event")
}

// TestReplayRefusesACommandAQuietRunNeverReaches: a crafted trace may record
// a command at a step a quiet run would take for ever to reach. Running the
// recording to its end (the page's "live") once did exactly that; it now
// gives up within maxIdleSteps units of work without an event.
func TestReplayRefusesACommandAQuietRunNeverReaches(t *testing.T) {
	tr, err := ReadTrace(strings.NewReader(craftedTraces["far-command"]), "far-command")
	require.NoError(t, err)
	opts := tr.Header.Options()
	opts.New = solutions.New
	r, err := NewReplayer(opts, tr.Commands())
	require.NoError(t, err)
	units := 0
	for r.Future() > 0 {
		ok, err := r.Advance(Forever)
		if err != nil {
			require.ErrorContains(t, err, "went quiet")
			require.ErrorContains(t, err, "command #1 is due at step")
			break
		}
		if units++; !ok || units > 2*maxIdleSteps {
			// Events come at the start (an election); after that, none.
			t.Fatalf("after %d units of work waiting for the command: ok=%v", units, ok)
		}
	}
	require.Equal(t, 1, r.Future(), "the command is never applied")
}

// TestCompactedLogCostsNoMorePerUnit: a node that reports a snapshot once
// had its whole log copied on every call (the view's copy of the compacted
// prefix, then its log) — work per unit in proportion to the log, so a
// trace with many proposals made every tick slower (a fuzzed trace stalled
// for seconds). Counted in bytes allocated per unit of work: a log ten times
// longer must not cost more per unit.
func TestCompactedLogCostsNoMorePerUnit(t *testing.T) {
	perUnit := func(proposals int) float64 {
		s, err := New(Options{Nodes: 3, Seed: 3, New: solutions.New, Impl: "solutions", SnapshotEvery: 8})
		require.NoError(t, err)
		s.RunFor(time.Second)
		for i := range proposals {
			_, _, _, err := s.ProposeToLeader([]byte{byte(i)})
			require.NoError(t, err)
			s.RunFor(5 * time.Millisecond)
		}
		s.RunFor(time.Second)
		require.Empty(t, s.Violations())
		for id := raft.NodeID(1); id <= 3; id++ {
			st, ok := s.Status(id)
			require.True(t, ok)
			require.Greater(t, st.SnapshotIndex, uint64(proposals/2), "%v should have compacted most of its log", id)
		}
		const units = 3000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range units {
			require.True(t, s.next(Forever))
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / units
	}
	short, long := perUnit(100), perUnit(1000)
	t.Logf("bytes allocated per unit of work: %.0f with a log of 100 entries, %.0f with 1000", short, long)
	require.Less(t, long, 2*short+256, "a unit of work costs more the longer the compacted log")
}
