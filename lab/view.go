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
	Applied uint64 `json:"lastApplied"`
	// Log is the node's log after LogBase: Log[i] holds the entry at index
	// LogBase+1+i. LogBase is 0 until the node compacts (stage 4); then the
	// view, like the node, keeps only what follows the snapshot (see Entry).
	Log     []raft.Entry `json:"log"`
	LogBase uint64       `json:"logBase,omitempty"`
	// Saved is what the node persisted: its storage survives a crash.
	SavedTerm uint64      `json:"savedTerm"`
	SavedVote raft.NodeID `json:"savedVote"`
	SavedLog  uint64      `json:"savedLog"` // index of the last stored entry
	// SnapshotIndex and SnapshotTerm are the last entry of the node's
	// snapshot (stage 4): Log up to there is the compacted prefix.
	SnapshotIndex uint64 `json:"snapshotIndex,omitempty"`
	SnapshotTerm  uint64 `json:"snapshotTerm,omitempty"`
}

// LastIndex is the index of the last entry of n's log (its snapshot's last
// index if the log after it is empty).
func (n *NodeView) LastIndex() uint64 { return n.LogBase + uint64(len(n.Log)) }

// Entry returns the entry at index, if n's log holds it: not compacted
// (index > LogBase) and not past the end.
func (n *NodeView) Entry(index uint64) (raft.Entry, bool) {
	if index <= n.LogBase || index > n.LastIndex() {
		return raft.Entry{}, false
	}
	return n.Log[index-n.LogBase-1], true
}

// TermAt returns the term of the entry at index, if the view knows it: an
// entry of the log, the last entry of the snapshot the log follows, or 0 for
// index 0.
func (n *NodeView) TermAt(index uint64) (uint64, bool) {
	switch {
	case index == 0:
		return 0, true
	case index == n.LogBase && n.SnapshotIndex == n.LogBase:
		return n.SnapshotTerm, true
	}
	en, ok := n.Entry(index)
	return en.Term, ok
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
		if logEventAfresh(n, e) {
			clear(n.Log)
			n.Log, n.LogBase = append(n.Log[:0], e.Entries...), max(e.Index, 1)-1
		} else {
			n.Log = spliceLog(n.Log, n.LogBase, e.Index, e.Entries)
		}
	case raft.EvCommit:
		n.Commit = e.Index
	case raft.EvApply:
		n.Applied = e.Index
	case raft.EvSnapshot:
		n.SnapshotIndex, n.SnapshotTerm = e.Index, e.Term
		n.Log, n.LogBase = compactLog(n.Log, n.LogBase, e.Index)
	case raft.EvRestore:
		n.Applied = e.Index
		n.SnapshotIndex, n.SnapshotTerm = max(n.SnapshotIndex, e.Index), e.Term
		n.Log, n.LogBase = compactLog(n.Log, n.LogBase, e.Index)
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

// logEventAfresh reports whether log event e replaces n's whole log and
// where it starts: an event whose Term is set (the node's log now follows a
// snapshot whose last entry is Index-1 of that term: a node that installed a
// snapshot its log did not reach), or one that starts at or below LogBase (a
// node that holds again entries the view had dropped as compacted) or past
// the end of the log.
func logEventAfresh(n *NodeView, e *raft.Event) bool {
	from := max(e.Index, 1)
	return e.Term != 0 || from <= n.LogBase || from > n.LastIndex()+1
}

// firstChange is the first index at which log event e changes n's log — an
// entry replaced, or deleted — if it changes any entry the log holds. A log
// event starts where the log changes (Sim.diffLog), unless it replaces the
// whole log (afresh); then it is looked for.
func firstChange(n *NodeView, e *raft.Event, afresh bool) (uint64, bool) {
	from := max(e.Index, 1)
	if !afresh {
		return from, from <= n.LastIndex()
	}
	newLast := from - 1 + uint64(len(e.Entries))
	for i := max(n.LogBase, from-1) + 1; i <= n.LastIndex(); i++ {
		if old, _ := n.Entry(i); i > newLast || !sameEntry(&old, &e.Entries[i-from]) {
			return i, true
		}
	}
	return 0, false
}

// spliceLog returns log (the entries after base) with everything from index
// from on replaced by entries (base < from <= base+len(log)+1). The result
// never shares memory with entries.
func spliceLog(log []raft.Entry, base, from uint64, entries []raft.Entry) []raft.Entry {
	if keep := from - 1 - base; keep < uint64(len(log)) {
		clear(log[keep:])
		log = log[:keep]
	}
	return append(log, entries...)
}

// compactLog drops the entries of log (the entries after base) up to index,
// as a node does when it takes or installs a snapshot through index (section
// 7): what follows stays (Figure 13, step 6); if the log does not reach
// index, nothing does, and the events that follow say what the node holds. A
// snapshot at or below base changes nothing.
func compactLog(log []raft.Entry, base, index uint64) ([]raft.Entry, uint64) {
	if index <= base {
		return log, base
	}
	drop := min(index-base, uint64(len(log)))
	if log != nil {
		log = log[drop:]
	}
	return log, index
}

// logArena holds, in one array, the logs of a cluster's servers as the
// simulator keeps them twice each — the view's copy of each server's log and
// each server's storage — for as long as they agree (issue 12, memory). In a
// healthy run every server's log is a prefix of one history (Log Matching),
// so ten logs of L entries cost one array of L entries instead of ten.
//
// Each log is a holder: a stretch of slots [lo, hi), slot i holding the entry
// at index i+1, shared with the others. A holder writes its entries into the
// array only where no other holder has a different entry at the same slot;
// when one would, the writer leaves the arena and keeps its own copy, as
// before the arena (the view its own NodeView.Log; the store its own slice),
// and comes back when its log starts again empty (a server restarting; a
// storage rewritten from its start or discarded by a snapshot). An empty
// holder may start at any slot the array holds or can grow to.
//
// The array holds slots from off on: once every shared holder starts well
// past off (their logs are compacted, stage 4), the slots before the first
// are dropped (trim), so a long run with snapshots keeps only what its logs
// still hold.
//
// Entries are values and their commands are never written to, so a slot
// written once with an entry serves every holder that has that entry there.
type logArena struct {
	arr     []raft.Entry
	off     int // the slot arr[0] holds
	holders []logHolder
}

// logHolder is one log in the arena: slots [lo, hi) while shared.
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
// copies instead of writing into the arena. An empty holder's log is empty
// and nil only when the array is.
func (a *logArena) slice(h int) []raft.Entry {
	x := a.holders[h]
	if x.lo == x.hi {
		return a.arr[:0:0]
	}
	return a.arr[x.lo-a.off : x.hi-a.off : x.hi-a.off]
}

// reset makes holder h an empty shared log whose first slot is lo.
func (a *logArena) reset(h, lo int) {
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
	a.arr, a.off = nil, 0
}

// write makes holder h's log its slots up to p followed by entries, and
// reports whether it could do so in the arena: h is shared, p is within its
// stretch (lo <= p <= hi, or any slot if h is empty), the array can hold slot
// p, and no other holder has a different entry at a slot entries cover. If
// not, it leaves h out of the arena (the caller keeps the log itself) and
// returns false.
func (a *logArena) write(h, p int, entries []raft.Entry) bool {
	x := a.holders[h]
	if x.shared && x.lo == x.hi {
		if !a.anyData() {
			a.arr, a.off = a.arr[:0], p // nothing is held: the array starts where this log does
		}
		x.lo, x.hi = p, p // an empty log may start anywhere
	}
	if !x.shared || p < x.lo || p > x.hi || p < a.off {
		a.leave(h)
		return false
	}
	end := p + len(entries)
	for o, y := range a.holders {
		if o == h || !y.shared {
			continue
		}
		for j := max(p, y.lo); j < min(end, y.hi); j++ {
			if !identical(&a.arr[j-a.off], &entries[j-p]) {
				a.leave(h)
				return false
			}
		}
	}
	if n := end - a.off; n > len(a.arr) {
		a.arr = slices.Grow(a.arr, n-len(a.arr))[:n]
	}
	copy(a.arr[p-a.off:end-a.off], entries)
	x.hi = end
	a.holders[h] = x
	return true
}

// anyData reports whether a shared holder holds an entry.
func (a *logArena) anyData() bool {
	for _, y := range a.holders {
		if y.shared && y.lo < y.hi {
			return true
		}
	}
	return false
}

// trim drops the slots before the first one a shared holder holds, when they
// are at least half the array (so the copy is paid for by the appends that
// made them): a long run with snapshots keeps the array the size of what its
// logs still hold. It reports whether the array moved (the caller points the
// view's logs at the new one).
func (a *logArena) trim() bool {
	first := -1
	for _, y := range a.holders {
		if y.shared && y.lo < y.hi && (first < 0 || y.lo < first) {
			first = y.lo
		}
	}
	if first < 0 {
		first = a.off + len(a.arr) // no shared entry: every slot may go
	}
	drop := first - a.off
	if drop < 1024 || 2*drop < len(a.arr) {
		return false
	}
	a.arr = slices.Clone(a.arr[drop:])
	a.off = first
	return true
}

// identical reports whether two entries are the same value, down to a nil
// command being nil in both (which a trace tells apart from an empty one).
func identical(a, b *raft.Entry) bool {
	return sameEntry(a, b) && (a.Command == nil) == (b.Command == nil)
}
