package visualizer

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

// TestStateFrameBounded grows a cluster's log to 100,000 committed entries
// (20,000 under the race detector, which is several times slower) and checks that a state frame stays under MaxStateFrameBytes: each log is
// a window with its length, and the rest is there for the asking, one part
// at a time, to the viewer that asks.
func TestStateFrameBounded(t *testing.T) {
	entries := 100_000
	if raceEnabled {
		entries = 20_000
	}
	s, err := NewSession(SessionOptions{Impl: reference, Seed: 1})
	require.NoError(t, err)
	sim := s.course.sim()
	sim.RunFor(2 * time.Second)
	leader, _ := sim.View().Leader()
	require.NotZero(t, leader, "no leader after 2s")
	atFirst := 0 // the frame's size at 1,000 entries
	for done := 0; done < entries; {
		if done == 1024 {
			sim.RunFor(time.Second)
			atFirst = len(s.stateFrame("asked"))
		}
		var last uint64
		for k := 0; k < 256 && done < entries; k++ {
			index, _, ok, err := sim.Propose(leader, []byte(strconv.Itoa(done)))
			require.True(t, ok && err == nil, "proposal %d refused: %v", done, err)
			last, done = index, done+1
		}
		committed := func(e *raft.Event) bool { return e.Kind == raft.EvCommit && e.Node == leader && e.Index >= last }
		require.True(t, sim.RunUntilEvent(committed, sim.Now()+time.Minute), "entry %d was not committed", last)
	}
	sim.RunFor(time.Second) // let every follower catch up
	require.Empty(t, sim.Violations())

	frame := s.stateFrame("asked")
	require.Less(t, len(frame), MaxStateFrameBytes, "a state frame at %d entries", entries)
	t.Logf("state frame: %d bytes at 1,024 entries, %d bytes at %d entries (ratio %.2f)", atFirst, len(frame), entries, float64(len(frame))/float64(atFirst))
	var st struct {
		Nodes []struct {
			Log     []raft.Entry `json:"log"`
			LogFrom uint64       `json:"logFrom"`
			LogLen  uint64       `json:"logLen"`
			Commit  uint64       `json:"commitIndex"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(frame, &st))
	for _, n := range st.Nodes {
		require.GreaterOrEqual(t, n.LogLen, uint64(entries))
		require.Equal(t, n.LogLen, n.LogFrom+uint64(len(n.Log))-1, "the window ends at the log's end")
		require.Equal(t, n.LogFrom, n.Log[0].Index)
	}

	// The rest of a log, on demand.
	from := uint64(12345)
	frame = s.logFrame(Command{Op: "log", Node: 2, From: &from, Count: 3})
	var lf logFrame
	require.NoError(t, json.Unmarshal(frame, &lf))
	want, _, _ := sim.Committed(from)
	require.Equal(t, "log", lf.Type)
	require.Len(t, lf.Entries, 3)
	require.True(t, lf.Entries[0].Equal(want), "entry %d: got %v, want %v", from, lf.Entries[0], want)
	require.Equal(t, from+2, lf.Entries[2].Index)
	require.Equal(t, st.Nodes[1].LogLen, lf.LogLen)
}

// TestEventsFrameBoundedOnRestart: a server restarted with a long log
// restores it in one log event; viewers are sent its newest logWindow
// entries at their indexes (the page keeps the rest as holes, as with a state
// frame's window), so the events frame stays small, and a page folding the
// frames holds, at every index it knows, the entry the run has there.
func TestEventsFrameBoundedOnRestart(t *testing.T) {
	const entries = 10_000
	s, err := NewSession(SessionOptions{Impl: reference, Seed: 2})
	require.NoError(t, err)
	c := &s.course
	sim := c.sim()
	sim.RunFor(2 * time.Second)
	leader, _ := sim.View().Leader()
	require.NotZero(t, leader, "no leader after 2s")
	for done := 0; done < entries; {
		var last uint64
		for k := 0; k < 256 && done < entries; k++ {
			index, _, ok, err := sim.Propose(leader, []byte(strconv.Itoa(done)))
			require.True(t, ok && err == nil, "proposal %d refused: %v", done, err)
			last, done = index, done+1
		}
		committed := func(e *raft.Event) bool { return e.Kind == raft.EvCommit && e.Node == leader && e.Index >= last }
		require.True(t, sim.RunUntilEvent(committed, sim.Now()+time.Minute), "entry %d was not committed", last)
		c.takeBatch()
	}
	sim.RunFor(time.Second)
	c.takeBatch()

	// The page as a state frame leaves it: every log, as far as it goes.
	page := make([][]raft.Entry, len(sim.View().Nodes))
	for i, n := range sim.View().Nodes {
		page[i] = slices.Clone(n.Log)
	}
	follower := raft.NodeID(1)
	if follower == leader {
		follower = 2
	}
	require.NoError(t, c.record(sim.Crash(follower)))
	require.NoError(t, c.record(sim.Restart(follower)))
	never := func(time.Time, int, int) bool { return false }
	restartFrame, cut := 0, false
	for i := range 11 {
		// First the restart and the few events after it (what the
		// restarted server restored), then on while it catches up.
		if i == 0 {
			require.NoError(t, c.step(10))
		} else {
			require.NoError(t, c.advance(100*time.Millisecond, never))
		}
		batch := c.takeBatch()
		if i == 0 {
			restartFrame = len(eventsFrame(batch, &c.sent, leaderMarkOf(sim.View())))
		}
		for _, e := range batch {
			n := &page[e.Node-1]
			switch e.Kind {
			case raft.EvRestart:
				*n = nil
			case raft.EvLog:
				require.LessOrEqual(t, len(e.Entries), logWindow, "a log event of %d entries was sent", len(e.Entries))
				cut = cut || (e.Node == follower && e.Index > 1 && len(*n) == 0)
				keep := min(uint64(len(*n)), e.Index-1)
				*n = append(append((*n)[:keep:keep], make([]raft.Entry, e.Index-1-keep)...), e.Entries...) // holes: zero entries
			}
		}
	}
	require.True(t, cut, "the restarted server's log came as a window")
	require.Less(t, restartFrame, 64<<10, "the events frame of the restart")
	t.Logf("the events frame of a restart with %d entries: %d bytes", entries, restartFrame)
	for i, n := range sim.View().Nodes {
		require.Len(t, page[i], len(n.Log), "n%d's log on the page", i+1)
		for j, e := range page[i] {
			if e.Index != 0 {
				require.Equal(t, n.Log[j], e, "n%d's entry %d on the page", i+1, j+1)
			}
		}
		require.NotZero(t, page[i][len(page[i])-1].Index, "n%d: the page has the newest entry", i+1)
	}
}
