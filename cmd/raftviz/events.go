package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// A real server's events use the simulator's vocabulary (raft.Event), seen
// the way the simulator sees them: by wrapping the node's Env (send, save,
// apply, note) and comparing its Status after each call (term, vote, role,
// commit). Each is stamped with wall time and numbered in the process, so
// that the streams of several processes can be merged into one timeline.

// wallEvent is one line of a node's event stream.
type wallEvent struct {
	// Wall is when it happened, in Unix nanoseconds.
	Wall int64 `json:"wall"`
	// Boot is when this process started, in Unix nanoseconds: with the
	// event's Seq it names the event uniquely across restarts.
	Boot  int64      `json:"boot"`
	Event raft.Event `json:"event"`
}

// eventHub numbers a process's events and streams them to subscribers. It
// encodes nothing while nobody listens, so a server without viewers pays
// almost nothing; a subscriber that falls behind is dropped, never waited for.
type eventHub struct {
	node  raft.NodeID
	boot  time.Time
	seq   atomic.Uint64
	nsubs atomic.Int32
	// fresh is set when a subscriber comes: the node then reports its
	// whole state once (tracedNode.changes), so that a viewer who joins
	// late — or after a restart — sees it, not only what changes after.
	fresh atomic.Bool

	mu   sync.Mutex
	subs map[chan []byte]bool
	buf  []byte
}

const subscriberBuffer = 4096

func newEventHub(node raft.NodeID) *eventHub {
	return &eventHub{node: node, boot: time.Now(), subs: map[chan []byte]bool{}}
}

// active says whether anyone listens: the node's wrapper skips its work if not.
func (h *eventHub) active() bool { return h.nsubs.Load() > 0 }

// emit numbers ev, stamps it and sends it to every subscriber.
func (h *eventHub) emit(ev raft.Event) {
	now := time.Now()
	ev.Seq = h.seq.Add(1)
	ev.Time = now.Sub(h.boot)
	ev.Node = h.node
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		return
	}
	b := h.buf[:0]
	b = append(b, `{"wall":`...)
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	b = append(b, `,"boot":`...)
	b = strconv.AppendInt(b, h.boot.UnixNano(), 10)
	b = append(b, `,"event":`...)
	b = ev.AppendJSON(b)
	b = append(b, "}\n"...)
	h.buf = b
	for c := range h.subs {
		select {
		case c <- append([]byte(nil), b...):
		default: // too slow: dropped, so the server never waits for a viewer
			delete(h.subs, c)
			close(c)
			h.nsubs.Add(-1)
		}
	}
}

func (h *eventHub) subscribe() chan []byte {
	c := make(chan []byte, subscriberBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[c] = true
	h.nsubs.Add(1)
	h.fresh.Store(true)
	return c
}

func (h *eventHub) unsubscribe(c chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[c] {
		delete(h.subs, c)
		close(c)
		h.nsubs.Add(-1)
	}
}

// serveEvents streams the events as JSON lines until the client goes away
// or falls too far behind.
func (h *eventHub) serveEvents(w http.ResponseWriter, r *http.Request) {
	c := h.subscribe()
	defer h.unsubscribe(c)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	bw := bufio.NewWriter(w)
	if flusher != nil {
		flusher.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case line, ok := <-c:
			if !ok {
				return
			}
			if _, err := bw.Write(line); err != nil {
				return
			}
			// Write what else is waiting, then flush once.
			for more := true; more; {
				select {
				case line, ok := <-c:
					if !ok {
						_ = bw.Flush()
						return
					}
					_, _ = bw.Write(line)
				default:
					more = false
				}
			}
			if bw.Flush() != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// tracedNode wraps a node to report its events and cut it off from peers
// on request (the partition of the admin endpoint). It is called only from
// the runtime's goroutine, like the node itself.
type tracedNode struct {
	inner raft.Node
	env   *tracedEnv
	last  raft.Status
}

// tracedEnv is the node's Env as the tracedNode hands it over.
type tracedEnv struct {
	inner raft.Env
	hub   *eventHub
	cut   *cutSet
	// sent, received and dropped sample the message events (see msgSampler).
	sent, received, dropped msgSampler
}

// traced wraps newNode so that its nodes report to hub and honour cut.
func traced(newNode raft.Constructor, hub *eventHub, cut *cutSet) raft.Constructor {
	return func(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
		te := &tracedEnv{inner: env, hub: hub, cut: cut}
		inner := newNode(cfg, saved, te)
		if inner == nil {
			return nil
		}
		n := &tracedNode{inner: inner, env: te}
		n.last = inner.Status()
		n.last.Log = nil
		hub.emit(raft.Event{Kind: raft.EvRestart, Text: "process started from its store"})
		return n
	}
}

func (n *tracedNode) Tick() {
	n.inner.Tick()
	n.changes()
}

func (n *tracedNode) Step(m raft.Message) {
	if n.env.hub.active() && n.env.received.report(m.From, m, time.Now()) {
		mc := m.Clone()
		n.env.hub.emit(raft.Event{Kind: raft.EvDeliver, Msg: &mc})
	}
	n.inner.Step(m)
	n.changes()
}

func (n *tracedNode) Propose(cmd []byte) (index, term uint64, isLeader bool) {
	index, term, isLeader = n.inner.Propose(cmd)
	if n.env.hub.active() {
		ev := raft.Event{Kind: raft.EvPropose, Index: index, Entries: []raft.Entry{{Index: index, Term: term, Command: append([]byte(nil), cmd...)}}}
		if !isLeader {
			ev.Index, ev.Text = 0, "not the leader"
		}
		n.env.hub.emit(ev)
	}
	n.changes()
	return index, term, isLeader
}

func (n *tracedNode) Status() raft.Status { return n.inner.Status() }

// changes reports what changed in the node's Status since the last call,
// as the simulator does. The log is reported by its saves (EvLog with
// EvSaveLog): comparing whole logs on every tick would cost O(log) a tick.
func (n *tracedNode) changes() {
	if !n.env.hub.active() {
		return
	}
	st, old := n.inner.Status(), n.last
	if n.env.hub.fresh.Swap(false) {
		n.whole(st)
	}
	st.Log, st.Progress = nil, nil
	n.last = st
	emit := n.env.hub.emit
	if st.Term != old.Term {
		emit(raft.Event{Kind: raft.EvTerm, Term: st.Term})
	}
	if st.VotedFor != old.VotedFor {
		emit(raft.Event{Kind: raft.EvVote, Term: st.Term, Vote: st.VotedFor})
	}
	if st.Role != old.Role || st.Leader != old.Leader {
		emit(raft.Event{Kind: raft.EvRole, Term: st.Term, Role: st.Role, Leader: st.Leader})
	}
	if st.CommitIndex != old.CommitIndex {
		emit(raft.Event{Kind: raft.EvCommit, Index: st.CommitIndex})
	}
}

// maxWholeLog bounds the log reported to a new subscriber (with its
// compacted prefix): a longer one is not reported, only what is appended
// to it afterwards.
const maxWholeLog = 10_000

// whole reports the node's whole state, as events from an empty server.
func (n *tracedNode) whole(st raft.Status) {
	emit := n.env.hub.emit
	emit(raft.Event{Kind: raft.EvTerm, Term: st.Term})
	emit(raft.Event{Kind: raft.EvVote, Term: st.Term, Vote: st.VotedFor})
	emit(raft.Event{Kind: raft.EvRole, Term: st.Term, Role: st.Role, Leader: st.Leader})
	if st.SnapshotIndex > 0 {
		emit(raft.Event{Kind: raft.EvSnapshot, Index: st.SnapshotIndex, Term: st.SnapshotTerm})
	}
	// The log from index 1, as viewers fold logs (lab.View): the compacted
	// prefix as entries with no command (the page draws the snapshot over
	// them), the last one with the snapshot's term.
	if n := st.SnapshotIndex + uint64(len(st.Log)); n > 0 && n <= maxWholeLog {
		es := make([]raft.Entry, 0, n)
		for i := uint64(1); i <= st.SnapshotIndex; i++ {
			es = append(es, raft.Entry{Index: i})
		}
		if st.SnapshotIndex > 0 {
			es[st.SnapshotIndex-1].Term = st.SnapshotTerm
		}
		emit(raft.Event{Kind: raft.EvLog, Index: 1, Entries: append(es, cloneEntries(st.Log)...)})
	}
	emit(raft.Event{Kind: raft.EvCommit, Index: st.CommitIndex})
	if st.LastApplied > 0 {
		emit(raft.Event{Kind: raft.EvApply, Index: st.LastApplied})
	}
}

func (e *tracedEnv) Send(m raft.Message) {
	if e.cut.has(m.To) {
		if e.hub.active() && e.dropped.report(m.To, m, time.Now()) {
			mc := m.Clone()
			e.hub.emit(raft.Event{Kind: raft.EvDrop, Msg: &mc, Text: "cut off (admin endpoint)"})
		}
		return
	}
	if e.hub.active() && e.sent.report(m.To, m, time.Now()) {
		mc := m.Clone()
		e.hub.emit(raft.Event{Kind: raft.EvSend, Msg: &mc})
	}
	e.inner.Send(m)
}

func (e *tracedEnv) SaveHardState(hs raft.HardState) {
	if e.hub.active() {
		e.hub.emit(raft.Event{Kind: raft.EvSaveState, Term: hs.CurrentTerm, Vote: hs.VotedFor})
	}
	e.inner.SaveHardState(hs)
}

func (e *tracedEnv) SaveLog(from uint64, entries []raft.Entry) {
	if e.hub.active() {
		es := cloneEntries(entries)
		e.hub.emit(raft.Event{Kind: raft.EvSaveLog, Index: from, Entries: es})
		e.hub.emit(raft.Event{Kind: raft.EvLog, Index: from, Entries: es})
	}
	e.inner.SaveLog(from, entries)
}

func (e *tracedEnv) Apply(en raft.Entry) {
	if e.hub.active() {
		e.hub.emit(raft.Event{Kind: raft.EvApply, Index: en.Index, Entries: cloneEntries([]raft.Entry{en})})
	}
	e.inner.Apply(en)
}

// Snapshot hands a snapshot on to a node that compacts its log (stage 4;
// raft.RuntimeOptions.SnapshotEvery).
func (n *tracedNode) Snapshot(index uint64, data []byte) {
	if c, ok := n.inner.(raft.Compactor); ok {
		c.Snapshot(index, data)
		n.changes()
	}
}

// SaveSnapshot and RestoreSnapshot pass a compacting node's snapshot on to
// the runtime (stage 4), reported without its data, which may be large.
func (e *tracedEnv) SaveSnapshot(snap raft.Snapshot) {
	if e.hub.active() {
		e.hub.emit(raft.Event{Kind: raft.EvSnapshot, Index: snap.LastIncludedIndex, Term: snap.LastIncludedTerm, Text: fmt.Sprintf("%d bytes", len(snap.Data))})
	}
	if se, ok := e.inner.(raft.SnapshotEnv); ok {
		se.SaveSnapshot(snap)
	}
}

func (e *tracedEnv) RestoreSnapshot(snap raft.Snapshot) {
	if e.hub.active() {
		e.hub.emit(raft.Event{Kind: raft.EvRestore, Index: snap.LastIncludedIndex, Term: snap.LastIncludedTerm, Text: fmt.Sprintf("%d bytes", len(snap.Data))})
	}
	if se, ok := e.inner.(raft.SnapshotEnv); ok {
		se.RestoreSnapshot(snap)
	}
}

func (e *tracedEnv) Rand() *rand.Rand { return e.inner.Rand() }

func (e *tracedEnv) Logf(format string, args ...any) {
	if e.hub.active() {
		e.hub.emit(raft.Event{Kind: raft.EvNote, Text: fmt.Sprintf(format, args...)})
	}
	e.inner.Logf(format, args...)
}

// msgSampleEvery is the period of the message sample: of each kind of
// message on each link, the first one of every such period of wall time is
// reported (sent, delivered or dropped), the others are not.
const msgSampleEvery = 250 * time.Millisecond

// msgSampler bounds the message events a server reports, so that a fast
// cluster (a 1 ms heartbeat, a load of thousands of writes a second) cannot
// flood its event stream or the page: on each link, of each kind of message
// (RequestVote, its reply, a heartbeat, an AppendEntries with entries, a
// successful reply, a refused one, InstallSnapshot, its reply), only the
// first of each msgSampleEvery of wall time is reported. A server thus
// reports at most 8·(N−1)/0.25 s = 32·(N−1) sends a second, and as many
// deliveries. The sender and the receiver apply the same rule to the same
// message, a millisecond apart on one machine, so they mostly report the
// same one, which the page then draws on its way: a sample of the traffic,
// not all of it (a message's text still says exactly what it carried).
type msgSampler struct {
	last map[samplerKey]int64 // the period in which a message of the key was last reported
}

type samplerKey struct {
	peer raft.NodeID
	kind uint8
}

// report says whether m, to or from peer, is reported at now.
func (s *msgSampler) report(peer raft.NodeID, m raft.Message, now time.Time) bool {
	if s.last == nil {
		s.last = map[samplerKey]int64{}
	}
	kind := uint8(m.Type) << 1
	if (m.Type == raft.AppendEntries && len(m.Entries) > 0) || (m.Type == raft.AppendEntriesReply && !m.Success) {
		kind |= 1
	}
	k, period := samplerKey{peer, kind}, now.UnixNano()/int64(msgSampleEvery)
	if last, ok := s.last[k]; ok && last == period {
		return false
	}
	s.last[k] = period
	return true
}

func cloneEntries(es []raft.Entry) []raft.Entry {
	out := make([]raft.Entry, len(es))
	for i, en := range es {
		out[i] = raft.Entry{Index: en.Index, Term: en.Term, Command: append([]byte(nil), en.Command...)}
	}
	return out
}
