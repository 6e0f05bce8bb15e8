package lab

import (
	"slices"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// View is the state of a cluster as its events describe it: fold every event of
// a run into an empty View, in order, and you get the View the simulator had at
// that point. The simulator, the checker and the browser keep one each.
type View struct {
	Time time.Duration `json:"t"`
	// Seq is the number of the last event folded in.
	Seq   uint64     `json:"seq"`
	Nodes []NodeView `json:"nodes"`
	// Groups is the network partition: nodes in different groups cannot
	// exchange messages. One group holding everyone means no partition.
	Groups  [][]raft.NodeID `json:"groups"`
	Network Network         `json:"network"`
}

// NodeView is one node as its events describe it.
type NodeView struct {
	ID     raft.NodeID `json:"id"`
	Up     bool        `json:"up"`
	Role   raft.Role   `json:"role"`
	Term   uint64      `json:"term"`
	Vote   raft.NodeID `json:"votedFor"`
	Leader raft.NodeID `json:"leader"`
	Commit uint64      `json:"commitIndex"`
	// Applied is the index of the last entry applied since the node last started.
	Applied uint64       `json:"lastApplied"`
	Log     []raft.Entry `json:"log"`
	// Saved is what the node persisted: its storage survives a crash.
	SavedTerm uint64      `json:"savedTerm"`
	SavedVote raft.NodeID `json:"savedVote"`
	SavedLog  uint64      `json:"savedLog"` // index of the last stored entry
	// SnapshotIndex and SnapshotTerm are the last entry of the node's
	// snapshot (stage 4): Log up to there is the compacted prefix.
	SnapshotIndex uint64 `json:"snapshotIndex,omitempty"`
	SnapshotTerm  uint64 `json:"snapshotTerm,omitempty"`
}

// NewView returns the View of a fresh cluster of n nodes, connected, at time 0.
func NewView(n int, net Network) *View {
	v := &View{Nodes: make([]NodeView, n), Network: net}
	all := make([]raft.NodeID, n)
	for i := range v.Nodes {
		v.Nodes[i] = NodeView{ID: raft.NodeID(i + 1), Up: true}
		all[i] = raft.NodeID(i + 1)
	}
	v.Groups = [][]raft.NodeID{all}
	return v
}

// Node returns the view of node id, or nil if there is no such node.
func (v *View) Node(id raft.NodeID) *NodeView {
	if id < 1 || int(id) > len(v.Nodes) {
		return nil
	}
	return &v.Nodes[id-1]
}

// Leader is who leads the cluster as a viewer sees it: of the running servers
// that believe they lead, the one with the highest term (a server cut off from
// the others may still believe it leads an older term; a client should not go
// there). It returns None and 0 when no running server believes it leads. Two
// leaders in one term break Election Safety; then the lower ID is returned, so
// the answer stays deterministic.
//
// This is the one place the lab decides who leads: the simulator, the
// scenarios, the server's commands, raftviz sim and the page all ask it.
func (v *View) Leader() (id raft.NodeID, term uint64) {
	for _, n := range v.Nodes {
		if n.Up && n.Role == raft.Leader && (id == raft.None || n.Term > term) {
			id, term = n.ID, n.Term
		}
	}
	return id, term
}

// Connected reports whether a and b are in the same partition group.
func (v *View) Connected(a, b raft.NodeID) bool {
	return groupOf(v.Groups, a) == groupOf(v.Groups, b)
}

func groupOf(groups [][]raft.NodeID, id raft.NodeID) int {
	for i, g := range groups {
		if slices.Contains(g, id) {
			return i
		}
	}
	return -1
}

// Clone returns a deep copy of v (log entries' commands are shared).
func (v *View) Clone() *View {
	c := *v
	c.Nodes = slices.Clone(v.Nodes)
	for i := range c.Nodes {
		c.Nodes[i].Log = slices.Clone(c.Nodes[i].Log)
	}
	c.Groups = cloneGroups(v.Groups)
	return &c
}

func cloneGroups(gs [][]raft.NodeID) [][]raft.NodeID {
	c := make([][]raft.NodeID, len(gs))
	for i, g := range gs {
		c[i] = slices.Clone(g)
	}
	return c
}

// Fold folds one event into v. Events about nodes v does not have are ignored.
func (v *View) Fold(e *raft.Event) {
	v.Time, v.Seq = e.Time, e.Seq
	switch e.Kind {
	case raft.EvPartition:
		v.Groups = cloneGroups(e.Groups)
		return
	case raft.EvNetwork:
		if n, err := v.Network.WithKnob(e.Knob, e.Value); err == nil {
			v.Network = n
		}
		return
	}
	n := v.Node(e.Node)
	if n == nil {
		return
	}
	switch e.Kind {
	case raft.EvTerm:
		n.Term = e.Term
	case raft.EvVote:
		n.Vote = e.Vote
	case raft.EvRole:
		n.Role, n.Leader = e.Role, e.Leader
	case raft.EvLog:
		n.Log = spliceLog(n.Log, e.Index, e.Entries)
	case raft.EvCommit:
		n.Commit = e.Index
	case raft.EvApply:
		n.Applied = e.Index
	case raft.EvSnapshot:
		n.SnapshotIndex, n.SnapshotTerm = e.Index, e.Term
	case raft.EvRestore:
		n.Applied = e.Index
		n.SnapshotIndex, n.SnapshotTerm = max(n.SnapshotIndex, e.Index), e.Term
	case raft.EvSaveState:
		n.SavedTerm, n.SavedVote = e.Term, e.Vote
	case raft.EvSaveLog:
		n.SavedLog = e.Index - 1 + uint64(len(e.Entries))
	case raft.EvCrash:
		n.Up = false
	case raft.EvRestart:
		// A restarted node begins from nothing; the events that follow show
		// what it restored from storage.
		*n = NodeView{ID: n.ID, Up: true, SavedTerm: n.SavedTerm, SavedVote: n.SavedVote, SavedLog: n.SavedLog}
	}
}

// spliceLog returns log with everything from index from on replaced by entries.
// The result never shares memory with entries.
func spliceLog(log []raft.Entry, from uint64, entries []raft.Entry) []raft.Entry {
	if from < 1 {
		from = 1
	}
	if keep := from - 1; keep < uint64(len(log)) {
		clear(log[keep:])
		log = log[:keep]
	}
	return append(log, entries...)
}

// logArena holds, in one array, the logs of a cluster's servers as the
// simulator keeps them twice each — the view's copy of each server's log and
// each server's storage — for as long as they agree (issue 12, memory). In a
// healthy run every server's log is a prefix of one history (Log Matching),
// so ten logs of L entries cost one array of L entries instead of ten.
//
// Each log is a holder: a stretch arr[lo:hi] of slots, slot i holding the
// entry at index i+1, shared with the others. A holder writes its entries into
// the array only where no other holder has a different entry at the same
// slot; when one would, the writer leaves the arena and keeps its own copy, as
// before the arena (the view its own NodeView.Log; the store its own slice),
// and comes back when its log starts again from its first slot (a server
// restarting; a storage rewritten from its start or discarded by a snapshot).
// Entries are values and their commands are never written to, so a slot
// written once with an entry serves every holder that has that entry there.
type logArena struct {
	arr     []raft.Entry
	holders []logHolder
}

// logHolder is one log in the arena: arr[lo:hi] while shared.
type logHolder struct {
	shared bool
	lo, hi int
}

// The holders of node id: its view's log and its store.
func viewHolder(id raft.NodeID) int  { return 2 * int(id-1) }
func storeHolder(id raft.NodeID) int { return 2*int(id-1) + 1 }

func newLogArena(nodes int) *logArena {
	a := &logArena{holders: make([]logHolder, 2*nodes)}
	for i := range a.holders {
		a.holders[i].shared = true
	}
	return a
}

// slice returns holder h's log (h shared), capped so that an append to it
// copies instead of writing into the arena.
func (a *logArena) slice(h int) []raft.Entry {
	x := a.holders[h]
	return a.arr[x.lo:x.hi:x.hi]
}

// reset makes holder h an empty shared log whose first slot is lo. Every
// shared holder's stretch lies within the array: it grows to lo if shorter
// (the array may have been dropped when every holder left).
func (a *logArena) reset(h, lo int) {
	if lo > len(a.arr) {
		a.arr = slices.Grow(a.arr, lo-len(a.arr))[:lo]
	}
	a.holders[h] = logHolder{shared: true, lo: lo, hi: lo}
}

// leave takes holder h out of the arena; when no holder is left, the array is
// dropped.
func (a *logArena) leave(h int) {
	a.holders[h] = logHolder{}
	for _, x := range a.holders {
		if x.shared {
			return
		}
	}
	a.arr = nil
}

// write makes holder h's log its slots up to p followed by entries, and
// reports whether it could do so in the arena: h is shared, p is within its
// stretch (lo <= p <= hi), and no other holder has a different entry at a slot
// entries cover. If not, it leaves h out of the arena (the caller keeps the
// log itself) and returns false.
func (a *logArena) write(h, p int, entries []raft.Entry) bool {
	x := a.holders[h]
	if !x.shared || p < x.lo || p > x.hi {
		a.leave(h)
		return false
	}
	end := p + len(entries)
	for o, y := range a.holders {
		if o == h || !y.shared {
			continue
		}
		for j := max(p, y.lo); j < min(end, y.hi); j++ {
			if !identical(&a.arr[j], &entries[j-p]) {
				a.leave(h)
				return false
			}
		}
	}
	if end > len(a.arr) {
		a.arr = slices.Grow(a.arr, end-len(a.arr))[:end]
	}
	copy(a.arr[p:end], entries)
	a.holders[h].hi = end
	return true
}

// identical reports whether two entries are the same value, down to a nil
// command being nil in both (which a trace tells apart from an empty one).
func identical(a, b *raft.Entry) bool {
	return sameEntry(a, b) && (a.Command == nil) == (b.Command == nil)
}
