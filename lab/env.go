package lab

import (
	"fmt"
	"math/rand/v2"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/raftlab/raftlab/raft"
)

// nodeEnv is the raft.Env the simulator hands a node. Each action becomes a
// pending unit, carried out — and emitted as an event — in the order the node
// made it, after the node's call returns.
type nodeEnv struct {
	s   *Sim
	n   *simNode
	inc uint32
}

// active reports whether the node is inside a call from the simulator; a node
// acts only then.
func (e *nodeEnv) active() bool { return e.s.calling == e.n && e.inc == e.n.inc }

func (e *nodeEnv) add(ev raft.Event) {
	ev.Node = e.n.id
	e.s.callBuf = append(e.s.callBuf, unit{ev: ev, node: e.n, inc: e.inc})
}

func (e *nodeEnv) Send(m raft.Message) {
	if !e.active() {
		return
	}
	m.From = e.n.id
	switch {
	case m.To == e.n.id:
		e.add(raft.Event{Kind: raft.EvNote, Text: fmt.Sprintf("tried to send %v to itself; the message was discarded", m.Type)})
		return
	case e.s.node(m.To) == nil:
		e.add(raft.Event{Kind: raft.EvNote, Text: fmt.Sprintf("tried to send %v to %v, which is not in the cluster; the message was discarded", m.Type, m.To)})
		return
	case m.Type < raft.RequestVote || m.Type > raft.InstallSnapshotReply:
		e.add(raft.Event{Kind: raft.EvNote, Text: fmt.Sprintf("tried to send a message of unknown type %d; it was discarded", m.Type)})
		return
	}
	mm := m.Clone()
	e.add(raft.Event{Kind: raft.EvSend, Msg: &mm})
}

func (e *nodeEnv) SaveHardState(hs raft.HardState) {
	if e.active() {
		e.add(raft.Event{Kind: raft.EvSaveState, Term: hs.CurrentTerm, Vote: hs.VotedFor})
	}
}

func (e *nodeEnv) SaveLog(from uint64, entries []raft.Entry) {
	if e.active() {
		e.add(raft.Event{Kind: raft.EvSaveLog, Index: from, Entries: append([]raft.Entry{}, entries...)})
	}
}

func (e *nodeEnv) Apply(en raft.Entry) {
	if e.active() {
		e.add(raft.Event{Kind: raft.EvApply, Index: en.Index, Entries: []raft.Entry{en}})
	}
}

func (e *nodeEnv) Rand() *rand.Rand { return e.s.rng }

func (e *nodeEnv) Logf(format string, args ...any) {
	if e.active() {
		e.add(raft.Event{Kind: raft.EvNote, Text: fmt.Sprintf(format, args...)})
	}
}

// protect runs f, and if the node panics, halts the node and reports it.
// doing says what the node was asked to do, for the report.
func (s *Sim) protect(n *simNode, doing string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.panicked(n, doing, r)
			ok = false
		}
	}()
	f()
	return true
}

// panicked halts a node whose code panicked with r, and reports where. It
// must be called from the deferred function that recovered.
func (s *Sim) panicked(n *simNode, doing string, r any) {
	s.calling = nil
	s.callBuf = s.callBuf[:0]
	msg := fmt.Sprint(r)
	if doing != "" {
		msg = doing + ": " + msg
	}
	s.halt(n, "panicked "+msg+panicSite())
}

// halt stops a node that failed, as a crash, and reports why.
func (s *Sim) halt(n *simNode, why string) {
	n.impl = nil
	n.inc++
	s.emit(&raft.Event{Kind: raft.EvCrash, Node: n.id, Text: why})
	s.violate(Violation{Rule: RuleNoPanic, Node: n.id, Text: fmt.Sprintf("%v %s", n.id, why)})
}

// panicSite names the function and line that panicked, as package/file.go:line
// (func). It is called from the deferred recover, while the panicking frames
// are still on the stack: the first frame past runtime.gopanic that is not the
// runtime's own is the one that panicked.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			pkg := f.Function
			if i := strings.LastIndex(pkg, "/"); i >= 0 {
				pkg = pkg[i+1:]
			}
			fn := pkg
			if i := strings.Index(pkg, "."); i >= 0 {
				pkg, fn = pkg[:i], pkg[i+1:]
			}
			return fmt.Sprintf(" at %s/%s:%d (%s)", pkg, path.Base(f.File), f.Line, fn)
		}
		if !more {
			return ""
		}
	}
}

// simStore is a server's storage under the simulator: raft.InmemStore's
// behaviour (the same checks, the same errors), with the stored log kept in
// the cluster's logArena while it agrees with the other logs there, so that a
// server's storage and the view's copy of its log cost one array between them
// (issue 12, memory). Load returns a copy, as InmemStore's does.
type simStore struct {
	hs    raft.HardState
	snap  raft.Snapshot // the log's compacted prefix (stage 4); the log follows it
	arena *logArena
	h     int          // its holder in the arena
	own   []raft.Entry // the stored log while the store is out of the arena
}

// log returns the stored log: log[i] holds index snap.LastIncludedIndex+1+i.
func (s *simStore) log() []raft.Entry {
	if s.arena.holders[s.h].shared {
		return s.arena.slice(s.h)
	}
	return s.own
}

// Load returns a copy of what is stored.
func (s *simStore) Load() (raft.Saved, error) {
	return raft.Saved{HardState: s.hs, Log: append([]raft.Entry(nil), s.log()...), Snapshot: s.snap}, nil
}

// SaveHardState stores hs.
func (s *simStore) SaveHardState(hs raft.HardState) error {
	s.hs = hs
	return nil
}

// SaveLog replaces the stored log from index from on with entries.
func (s *simStore) SaveLog(from uint64, entries []raft.Entry) error {
	first := s.snap.LastIncludedIndex + 1
	cur := s.log()
	if err := raft.CheckSaveLog(first-1+uint64(len(cur)), from, entries); err != nil {
		return err
	}
	if from < first {
		return fmt.Errorf("raft: SaveLog from index %d, but entries up to %d are compacted into the snapshot: save from %d on", from, first-1, first)
	}
	if !s.arena.holders[s.h].shared && from == first {
		s.arena.reset(s.h, int(first-1)) // stored again from its start: back in the arena
	}
	if s.arena.holders[s.h].shared {
		if s.arena.write(s.h, int(from-1), entries) {
			s.own = nil
			return nil
		}
		s.own = slices.Clone(cur[:from-first])
	}
	s.own = append(s.own[:from-first], entries...)
	return nil
}

// SaveSnapshot stores snap and compacts the stored log (Figure 13, rules 6
// and 7), as InmemStore.SaveSnapshot does.
func (s *simStore) SaveSnapshot(snap raft.Snapshot) error {
	if snap.LastIncludedIndex < s.snap.LastIncludedIndex {
		return fmt.Errorf("raft: SaveSnapshot through index %d, but a snapshot through %d is stored: a snapshot must never be replaced by an older one", snap.LastIncludedIndex, s.snap.LastIncludedIndex)
	}
	if snap.LastIncludedIndex == 0 {
		return fmt.Errorf("raft: SaveSnapshot with lastIncludedIndex 0: a snapshot covers at least entry 1")
	}
	log := s.log()
	k := snap.LastIncludedIndex - s.snap.LastIncludedIndex // position past the kept entry, in log
	keep := k <= uint64(len(log)) && (k == 0 || log[k-1].Term == snap.LastIncludedTerm) && (k > 0 || s.snap.LastIncludedTerm == snap.LastIncludedTerm)
	switch {
	case keep && s.arena.holders[s.h].shared: // rule 6: keep the entries that follow
		s.arena.holders[s.h].lo = int(snap.LastIncludedIndex)
	case keep:
		s.own = slices.Clone(log[k:])
	default: // rule 7: discard the entire log
		s.own = nil
		s.arena.reset(s.h, int(snap.LastIncludedIndex))
	}
	snap.Data = append([]byte(nil), snap.Data...)
	s.snap = snap
	return nil
}
