package visualizer

import (
	"time"

	"github.com/raftlab/raftlab/raft"
)

// WallEvent is one event of a real server, as `raftviz node` streams it on
// /events: the simulator's event, stamped with wall time.
type WallEvent struct {
	// Wall is when it happened, in Unix nanoseconds.
	Wall int64 `json:"wall"`
	// Boot is when the server's process started, in Unix nanoseconds.
	Boot  int64      `json:"boot"`
	Event raft.Event `json:"event"`
}

// merger merges the event streams of several processes into one timeline
// in wall time. Each process's events keep their own order (their Seq): a
// stream is a queue, and the merge takes, among the heads of the queues, the
// one with the earliest wall time. An event is held for lag after its wall
// time, so that an event of another process from the same moment, still on
// its way, can be placed before it; one that comes later than that is placed
// when it comes. The merged events are numbered 1, 2, … and timed from start.
type merger struct {
	lag    time.Duration
	start  time.Time
	queues map[int][]WallEvent // by source
	order  []int               // sources in the order first seen: ties go to the earlier
	seq    uint64
}

func newMerger(start time.Time, lag time.Duration) *merger {
	return &merger{lag: lag, start: start, queues: map[int][]WallEvent{}}
}

// push queues e from source src, after the source's earlier events.
func (m *merger) push(src int, e WallEvent) {
	if _, ok := m.queues[src]; !ok {
		m.order = append(m.order, src)
	}
	m.queues[src] = append(m.queues[src], e)
}

// pop returns, in merged order, the events whose wall time is at least lag
// before now, numbered and timed for the timeline.
func (m *merger) pop(now time.Time) []raft.Event {
	limit := now.Add(-m.lag).UnixNano()
	var out []raft.Event
	for {
		best := -1
		for _, src := range m.order {
			q := m.queues[src]
			if len(q) > 0 && q[0].Wall <= limit && (best < 0 || q[0].Wall < m.queues[best][0].Wall) {
				best = src
			}
		}
		if best < 0 {
			return out
		}
		e := m.queues[best][0]
		m.queues[best] = m.queues[best][1:]
		m.seq++
		ev := e.Event
		ev.Seq = m.seq
		ev.Time = time.Duration(e.Wall - m.start.UnixNano())
		out = append(out, ev)
	}
}
