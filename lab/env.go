package lab

import (
	"fmt"
	"math/rand/v2"
	"path"
	"runtime"
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
