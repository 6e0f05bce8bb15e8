package lab

import (
	"time"

	"github.com/raftlab/raftlab/raft"
)

type itemKind uint8

const (
	itemTick   itemKind = iota + 1 // a node's clock ticks
	itemArrive                     // a message reaches its destination
)

// item is one thing scheduled to happen at a virtual time. Items at the same
// time happen in the order they were scheduled (seq), so a run is a pure
// function of its seed and its commands.
type item struct {
	at   time.Duration
	seq  uint64
	kind itemKind
	node raft.NodeID
	inc  uint32 // itemTick: the node incarnation the tick belongs to
	dup  bool   // itemArrive: the second copy of a duplicated message
	lost bool   // itemArrive: the network lost this message on the way
	msg  *raft.Message
	// sent (itemArrive) is the number of the message's send event: how
	// commands name a message in flight (Sim.Hold and the others).
	sent uint64
}

// queue is a binary min-heap of items ordered by (at, seq).
type queue struct {
	items []item
	seq   uint64
}

func (q *queue) len() int { return len(q.items) }

func (q *queue) less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (q *queue) push(it item) {
	q.seq++
	it.seq = q.seq
	q.items = append(q.items, it)
	i := len(q.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
}

// peek returns the earliest item; the queue must not be empty.
func (q *queue) peek() *item { return &q.items[0] }

func (q *queue) pop() item {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items[last] = item{}
	q.items = q.items[:last]
	i, n := 0, last
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
	return top
}

// remove takes item i out of the queue, keeping the heap in order.
func (q *queue) remove(i int) item {
	it := q.items[i]
	last := len(q.items) - 1
	q.items[i] = q.items[last]
	q.items[last] = item{}
	q.items = q.items[:last]
	if i == last {
		return it
	}
	// The item moved into i may belong above or below it.
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
	for {
		l := 2*i + 1
		if l >= last {
			break
		}
		m := l
		if r := l + 1; r < last && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
	return it
}
