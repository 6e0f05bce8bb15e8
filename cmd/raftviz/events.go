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
	if n.env.hub.active() {
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

func (e *tracedEnv) Send(m raft.Message) {
	if e.cut.has(m.To) {
		if e.hub.active() {
			mc := m.Clone()
			e.hub.emit(raft.Event{Kind: raft.EvDrop, Msg: &mc, Text: "cut off (admin endpoint)"})
		}
		return
	}
	if e.hub.active() {
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

func (e *tracedEnv) Rand() *rand.Rand { return e.inner.Rand() }

func (e *tracedEnv) Logf(format string, args ...any) {
	if e.hub.active() {
		e.hub.emit(raft.Event{Kind: raft.EvNote, Text: fmt.Sprintf(format, args...)})
	}
	e.inner.Logf(format, args...)
}

func cloneEntries(es []raft.Entry) []raft.Entry {
	out := make([]raft.Entry, len(es))
	for i, en := range es {
		out[i] = raft.Entry{Index: en.Index, Term: en.Term, Command: append([]byte(nil), en.Command...)}
	}
	return out
}
