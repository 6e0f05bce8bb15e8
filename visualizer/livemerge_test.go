package visualizer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

// The merge orders events by wall time across processes, keeps each
// process's own order (its Seq) even where its wall clock went back, holds
// events for the lag, and numbers the timeline from 1.
func TestMergeOrdersByWallTimeKeepingEachProcessOrder(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(ms int) int64 { return start.Add(time.Duration(ms) * time.Millisecond).UnixNano() }
	ev := func(node raft.NodeID, seq uint64, ms int) WallEvent {
		return WallEvent{Wall: at(ms), Event: raft.Event{Node: node, Seq: seq, Kind: raft.EvNote}}
	}
	m := newMerger(start, 100*time.Millisecond)
	m.push(1, ev(1, 1, 10))
	m.push(1, ev(1, 2, 30))
	m.push(1, ev(1, 3, 25)) // its clock went back: still after seq 2
	m.push(1, ev(1, 4, 300))
	m.push(2, ev(2, 1, 20))
	m.push(2, ev(2, 2, 40))
	m.push(3, ev(3, 1, 5))

	require.Empty(t, m.pop(start.Add(104*time.Millisecond)), "held for the lag")
	got := m.pop(start.Add(200 * time.Millisecond))
	for i, e := range got {
		require.Equal(t, uint64(i+1), e.Seq, "the timeline is numbered from 1")
	}
	var nodes []raft.NodeID
	var times []time.Duration
	for _, e := range got {
		nodes = append(nodes, e.Node)
		times = append(times, e.Time)
	}
	// n3@5, n1@10, n2@20, n1@30, n1@25 (after its seq 2), n2@40.
	require.Equal(t, []raft.NodeID{3, 1, 2, 1, 1, 2}, nodes)
	require.Equal(t, []time.Duration{5, 10, 20, 30, 25, 40}, scale(times))

	// A late event of another process is placed when it comes.
	m.push(2, ev(2, 3, 35))
	late := m.pop(start.Add(400 * time.Millisecond))
	require.Len(t, late, 2)
	require.Equal(t, raft.NodeID(2), late[0].Node)
	require.Equal(t, uint64(7), late[0].Seq)
	require.Equal(t, raft.NodeID(1), late[1].Node)
}

func scale(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d / time.Millisecond
	}
	return out
}
