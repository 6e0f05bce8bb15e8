package lab

import (
	"github.com/raftlab/raftlab/raft"
)

// Purpose-built nodes for testing the simulator and the checker before (and
// apart from) any real Raft implementation.

// pingNode sends a heartbeat-sized AppendEntries to every peer every few ticks
// and answers each one: the cheapest node that still exercises the network.
type pingNode struct {
	cfg   raft.Config
	env   raft.Env
	ticks int
	every int
	peers []raft.NodeID
	got   int
}

func newPingNode(cfg raft.Config, _ raft.Saved, env raft.Env) raft.Node {
	n := &pingNode{cfg: cfg, env: env, every: cfg.HeartbeatTicks()}
	for _, id := range cfg.PeerIDs() {
		if id != cfg.ID {
			n.peers = append(n.peers, id)
		}
	}
	return n
}

func (n *pingNode) Tick() {
	n.ticks++
	if n.ticks%n.every != 0 {
		return
	}
	for _, p := range n.peers {
		n.env.Send(raft.Message{Type: raft.AppendEntries, To: p, Term: 1})
	}
}

func (n *pingNode) Step(m raft.Message) {
	n.got++
	if m.Type == raft.AppendEntries {
		n.env.Send(raft.Message{Type: raft.AppendEntriesReply, To: m.From, Term: 1, Success: true})
	}
}

func (n *pingNode) Propose([]byte) (uint64, uint64, bool) { return 0, 0, false }

func (n *pingNode) Status() raft.Status {
	return raft.Status{ID: n.cfg.ID, Term: 1, ElectionTimeout: 1}
}

// puppet is a node whose every move a test dictates. The test sets its state
// directly and queues actions; the puppet carries them out on its next call,
// so that each rule of the checker can be broken on purpose in a real run.
type puppet struct {
	id  raft.NodeID
	env raft.Env
	st  raft.Status
	// do runs on the next call (Tick, Step or Propose), then is cleared.
	do    func(p *puppet)
	saved raft.Saved
	// onStep, if set, handles every message.
	onStep func(p *puppet, m raft.Message)
}

// puppets remembers every puppet built, by node, latest instance last.
type puppets map[raft.NodeID][]*puppet

func (ps puppets) newPuppet(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
	p := &puppet{id: cfg.ID, env: env, saved: saved}
	p.st = raft.Status{ID: cfg.ID, Term: saved.HardState.CurrentTerm, VotedFor: saved.HardState.VotedFor,
		Log: append([]raft.Entry(nil), saved.Log...), ElectionTimeout: 1000}
	ps[cfg.ID] = append(ps[cfg.ID], p)
	return p
}

func (ps puppets) get(id raft.NodeID) *puppet { l := ps[id]; return l[len(l)-1] }

func (p *puppet) run() {
	if f := p.do; f != nil {
		p.do = nil
		f(p)
	}
}

func (p *puppet) Tick() { p.run() }

func (p *puppet) Step(m raft.Message) {
	if p.onStep != nil {
		p.onStep(p, m)
	}
	p.run()
}

func (p *puppet) Propose(cmd []byte) (uint64, uint64, bool) {
	p.run()
	if p.st.Role != raft.Leader {
		return 0, p.st.Term, false
	}
	e := raft.Entry{Index: uint64(len(p.st.Log)) + 1, Term: p.st.Term, Command: cmd}
	p.st.Log = append(p.st.Log, e)
	return e.Index, e.Term, true
}

func (p *puppet) Status() raft.Status { return p.st }

func entries(term uint64, from uint64, cmds ...string) []raft.Entry {
	var es []raft.Entry
	for i, c := range cmds {
		es = append(es, raft.Entry{Index: from + uint64(i), Term: term, Command: []byte(c)})
	}
	return es
}
