package lab

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// The safety rules the checker enforces after every event. The first five are
// the properties of Figure 3 of the Raft paper; the rest are rules of Figure 2
// whose breaking leads to the first five breaking later, reported where they
// first go wrong.
const (
	RuleElectionSafety      = "Election Safety"
	RuleLeaderAppendOnly    = "Leader Append-Only"
	RuleLogMatching         = "Log Matching"
	RuleLeaderCompleteness  = "Leader Completeness"
	RuleStateMachineSafety  = "State Machine Safety"
	RuleTermNeverDecreases  = "Term Never Decreases"
	RuleOneVotePerTerm      = "One Vote Per Term"
	RuleCommitNeverDecrease = "Commit Never Decreases"
	RuleCommitWithinLog     = "Commit Within Log"
	RuleApplyInOrder        = "Apply In Order"
	RuleApplyOnlyCommitted  = "Apply Only Committed"
	RuleLogIndexes          = "Log Indexes"
	RuleRestoreState        = "Restore Persistent State"
	RuleVolatileReset       = "Volatile State Starts Empty"
	RuleStorageUse          = "Storage Use"
	RuleNoPanic             = "No Panic"
)

// Rules states each rule in the words of the Raft paper.
var Rules = map[string]string{
	RuleElectionSafety:      "At most one leader can be elected in a given term (Figure 3).",
	RuleLeaderAppendOnly:    "A leader never overwrites or deletes entries in its log; it only appends new entries (Figure 3).",
	RuleLogMatching:         "If two logs contain an entry with the same index and term, then the logs are identical in all entries up through the given index (Figure 3).",
	RuleLeaderCompleteness:  "If a log entry is committed in a given term, then that entry will be present in the logs of the leaders for all higher-numbered terms (Figure 3).",
	RuleStateMachineSafety:  "If a server has applied a log entry at a given index to its state machine, no other server will ever apply a different log entry for the same index (Figure 3).",
	RuleTermNeverDecreases:  "currentTerm increases monotonically, in memory and in storage (Figure 2).",
	RuleOneVotePerTerm:      "Each server will vote for at most one candidate in a given term, on a first-come-first-served basis; votedFor is persistent, so this holds across crashes (section 5.2, Figure 2).",
	RuleCommitNeverDecrease: "commitIndex increases monotonically while a server runs (Figure 2).",
	RuleCommitWithinLog:     "Committed entries are never removed, and commitIndex never passes the last entry: commitIndex = min(leaderCommit, index of last new entry) (Figure 2).",
	RuleApplyInOrder:        "If commitIndex > lastApplied: increment lastApplied, apply log[lastApplied] to the state machine — entries in index order, each once (Figure 2).",
	RuleApplyOnlyCommitted:  "Only committed entries are applied to the state machine (Figure 2, section 5.3).",
	RuleLogIndexes:          "The entry at position i of a log has index i; indexes start at 1 (Figure 2).",
	RuleRestoreState:        "A server restarts with the currentTerm, votedFor and log it persisted before it crashed (Figure 2, persistent state).",
	RuleVolatileReset:       "commitIndex and lastApplied are volatile: a server restarts with both at 0 (Figure 2).",
	RuleStorageUse:          "The stored log has no gaps: SaveLog starts at most one past the stored log's last index.",
	RuleNoPanic:             "A server handles every input without panicking.",
}

// Violation is a safety rule broken in a run.
type Violation struct {
	Rule string        `json:"rule"`
	Time time.Duration `json:"t"`
	Node raft.NodeID   `json:"node"`
	// Cause is the number of the event that broke the rule.
	Cause uint64 `json:"cause"`
	Seed  uint64 `json:"seed"`
	// Text says what happened, in one line.
	Text string `json:"text"`
}

// String gives the violation in one line, with the rule's statement.
func (v Violation) String() string {
	return fmt.Sprintf("%s broken at %s on %v (event #%d, seed %d): %s. Rule: %s",
		v.Rule, raft.FormatTime(v.Time), v.Node, v.Cause, v.Seed, v.Text, Rules[v.Rule])
}

func (v Violation) Error() string { return "lab: " + v.String() }

// checker watches events for broken safety rules. It keeps what it needs
// across crashes: which leader each term had, which vote each server granted
// in each term, and which entry each index committed.
//
// With log compaction (stage 4) it forgets, like the servers, what lies far
// below every server's snapshot (forget): the committed entries up to base,
// keeping their state machine's digest and the digest at each snapshot any
// server took, so that a long run costs memory for what its logs still hold.
type checker struct {
	seed    uint64
	leaders map[uint64]elected
	votes   map[voteKey]raft.NodeID
	// committed[i-base-1]: the entry committed at index i, for i > base.
	committed []committedEntry
	// base is the last index forgotten; baseTerm the term of its entry, and
	// baseDigest the state machine after entries 1..base (baseKnown: every
	// one of them was seen committed).
	base       uint64
	baseTerm   uint64
	baseDigest stateMachine
	baseKnown  bool
	// cursor is the last digest digestThrough computed.
	cursor stateMachine
	// snapDigests is the state machine at the index of each snapshot a server
	// saved, for a restore of one whose entries are forgotten.
	snapDigests map[uint64]uint64
	// window is how many committed entries below every server's log are
	// kept: checkerWindow (tests make it small).
	window uint64
	ids    map[[2]uint64]logID // (index, term) → the one entry that may have it
	// differs counts, for each server, the indexes where its log (as the
	// view has it) holds an entry other than the one committed there. It is
	// kept up to date as logs change and entries commit, so that Leader
	// Completeness costs O(1) per election whatever the log's length: a new
	// leader is complete when it differs nowhere and its log reaches the
	// highest committed index.
	differs map[raft.NodeID]int
	// walks counts the elections whose check had to read every committed
	// entry: only those that break Leader Completeness should.
	walks int
	found []Violation
}

type voteKey struct {
	node raft.NodeID
	term uint64
}

type committedEntry struct {
	entry raft.Entry
	by    raft.NodeID
}

// logID is what Log Matching pins down about an entry (index, term): its
// command, and the term of the entry before it.
type logID struct {
	cmd      []byte
	prevTerm uint64
	node     raft.NodeID
}

func newChecker(seed uint64) *checker {
	return &checker{
		seed:    seed,
		leaders: make(map[uint64]elected),
		votes:   make(map[voteKey]raft.NodeID),
		ids:     make(map[[2]uint64]logID),
		differs: make(map[raft.NodeID]int),

		baseKnown:   true,
		snapDigests: make(map[uint64]uint64),
		window:      checkerWindow,
	}
}

// last is the highest index the checker has seen committed.
func (c *checker) last() uint64 { return c.base + uint64(len(c.committed)) }

// checkerWindow is how many committed entries below every server's log the
// checker keeps (forget): far more than a graded test looks back, so that
// what a test asks of the run (Sim.Committed, Sim.AppliedAt) is still known.
const checkerWindow = 8192

// forget drops the committed entries far below every server's log (each
// server's log starts after its snapshot: NodeView.LogBase), once there are
// a window's worth of them past the window, keeping their digest. Servers that
// never compact keep base at 0: nothing is forgotten before stage 4.
func (c *checker) forget(v *View) {
	floor := v.Nodes[0].LogBase
	for i := range v.Nodes {
		floor = min(floor, v.Nodes[i].LogBase)
	}
	if floor < c.base+2*c.window {
		return
	}
	target := floor - c.window
	for _, ce := range c.committed[:target-c.base] {
		if ce.entry.Index == 0 {
			c.baseKnown = false
		} else if c.baseKnown {
			c.baseDigest.apply(ce.entry)
		}
	}
	last := c.committed[target-c.base-1].entry
	c.baseTerm = last.Term
	c.committed = slices.Clone(c.committed[target-c.base:])
	c.base = target
}

// check looks at event e, about to be folded into v, and returns the rules it
// breaks. It must be called for every event, in order.
func (c *checker) check(e *raft.Event, v *View) []Violation {
	c.found = c.found[:0]
	n := v.Node(e.Node)
	if n == nil {
		return nil
	}
	switch e.Kind {
	case raft.EvTerm:
		if e.Term < n.Term {
			c.report(e, RuleTermNeverDecreases, "%v's currentTerm went from %d back to %d", e.Node, n.Term, e.Term)
		}
	case raft.EvRole:
		if e.Role == raft.Leader {
			c.checkNewLeader(e, n)
		}
	case raft.EvLog:
		c.checkLog(e, n)
		c.trackLog(e, n)
	case raft.EvRestart:
		c.differs[e.Node] = 0 // the view starts the node's log afresh
	case raft.EvCommit:
		c.checkCommit(e, v, n)
	case raft.EvApply:
		c.checkApply(e, v, n)
	case raft.EvSnapshot:
		c.checkSnapshot(e, n)
		c.trackCompaction(e, n)
	case raft.EvRestore:
		c.checkRestore(e, n)
		c.trackCompaction(e, n)
	case raft.EvSend:
		if m := e.Msg; m != nil && m.Type == raft.RequestVoteReply && m.VoteGranted {
			c.checkVote(e, m)
		}
	case raft.EvSaveState:
		if e.Term < n.SavedTerm {
			c.report(e, RuleTermNeverDecreases, "%v saved currentTerm %d after saving %d: the stored term must never go back", e.Node, e.Term, n.SavedTerm)
		} else if e.Term == n.SavedTerm && n.SavedVote != raft.None && e.Vote != n.SavedVote {
			c.report(e, RuleOneVotePerTerm, "%v saved votedFor %v in term %d after saving votedFor %v in that term: after a crash it could vote twice", e.Node, e.Vote, e.Term, n.SavedVote)
		}
	}
	return c.found
}

func (c *checker) report(e *raft.Event, rule, format string, args ...any) {
	c.found = append(c.found, Violation{
		Rule: rule, Time: e.Time, Node: e.Node, Cause: e.Seq, Seed: c.seed,
		Text: fmt.Sprintf(format, args...),
	})
}

// elected is the leader of a term, and the event at which it became leader.
type elected struct {
	node raft.NodeID
	seq  uint64
}

func (c *checker) checkNewLeader(e *raft.Event, n *NodeView) {
	if other, ok := c.leaders[e.Term]; ok && other.node != e.Node {
		c.report(e, RuleElectionSafety, "%v became leader of term %d, but %v was already elected leader of term %d, at event #%d", e.Node, e.Term, other.node, e.Term, other.seq)
	} else {
		c.leaders[e.Term] = elected{e.Node, e.Seq}
	}
	if c.differs[e.Node] == 0 && n.LastIndex() >= c.last() {
		return // complete: see differs
	}
	// Something is missing: find the first committed entry the leader lacks.
	// Those its snapshot covers are in it (checkSnapshot, checkRestore).
	c.walks++
	for i, ce := range c.committed {
		index := c.base + uint64(i+1)
		if ce.entry.Index == 0 || index <= n.LogBase {
			continue // not known to be committed (a gap in what the checker saw), or in the snapshot
		}
		if index > n.LastIndex() {
			c.report(e, RuleLeaderCompleteness, "%v became leader of term %d, but its log ends at %d and misses committed entry %s (committed by %v)",
				e.Node, e.Term, n.LastIndex(), ce.entry, ce.by)
			return
		}
		if got, _ := n.Entry(index); !got.Equal(ce.entry) {
			c.report(e, RuleLeaderCompleteness, "%v became leader of term %d, but its log holds %s at index %d where %s was committed (by %v)",
				e.Node, e.Term, got, index, ce.entry, ce.by)
			return
		}
	}
}

// trackLog keeps differs up to date for a log event about to be folded into
// n: the entries it removes or replaces no longer count, the ones it brings
// are compared with what was committed at their indexes. The work is the
// size of the change.
func (c *checker) trackLog(e *raft.Event, n *NodeView) {
	from := max(e.Index, 1)
	if logEventAfresh(n, e) {
		from = n.LogBase + 1 // the whole log is replaced
	}
	c.untrack(e.Node, n, from, n.LastIndex())
	for k, en := range e.Entries {
		if c.differsAt(max(e.Index, 1)+uint64(k), en) {
			c.differs[e.Node]++
		}
	}
}

// untrack takes the entries from..to of n's log (as the view has it) out of
// differs: they leave the log.
func (c *checker) untrack(id raft.NodeID, n *NodeView, from, to uint64) {
	for i := max(from, n.LogBase+1); i <= to; i++ {
		if en, _ := n.Entry(i); c.differsAt(i, en) {
			c.differs[id]--
		}
	}
}

// trackCompaction keeps differs up to date for a snapshot or restore event
// about to be folded into n: the view drops the entries it covers
// (compactLog).
func (c *checker) trackCompaction(e *raft.Event, n *NodeView) {
	if e.Index > n.LogBase {
		c.untrack(e.Node, n, n.LogBase+1, min(e.Index, n.LastIndex()))
	}
}

// differsAt reports whether en, held at index i of a log, is not the entry
// known to be committed there.
func (c *checker) differsAt(i uint64, en raft.Entry) bool {
	ce, ok := c.committedAt(i)
	return ok && !ce.Equal(en)
}

func (c *checker) checkLog(e *raft.Event, n *NodeView) {
	for k, en := range e.Entries {
		if want := e.Index + uint64(k); en.Index != want {
			c.report(e, RuleLogIndexes, "%v's log holds an entry with index %d at position %d", e.Node, en.Index, want)
			return
		}
	}
	oldLen := n.LastIndex()
	from := max(e.Index, 1)
	newLen := from - 1 + uint64(len(e.Entries))
	afresh := logEventAfresh(n, e)
	if n.Role == raft.Leader {
		if at, ok := firstChange(n, e, afresh); ok {
			what := "deleted entries " + strconv.FormatUint(at, 10) + ".." + strconv.FormatUint(oldLen, 10)
			if at <= newLen {
				old, _ := n.Entry(at)
				what = "replaced entry " + old.String() + " with " + e.Entries[at-from].String()
			}
			c.report(e, RuleLeaderAppendOnly, "%v, leader of term %d, %s", e.Node, n.Term, what)
		}
	}
	if newLen < n.Commit {
		c.report(e, RuleCommitWithinLog, "%v's log now ends at %d, below its commitIndex %d: it removed committed entries", e.Node, newLen, n.Commit)
	}
	// The term of the entry before the first: Log Matching is checked on the
	// pair. Unknown (an event that brings back entries the view had dropped
	// as compacted) leaves the first entry unchecked.
	prevTerm, prevKnown := n.TermAt(from - 1)
	switch {
	case afresh && e.Term != 0:
		prevTerm, prevKnown = e.Term, true // the snapshot's last entry
	case afresh:
		prevTerm, prevKnown = 0, from == 1
	}
	for _, en := range e.Entries {
		if !prevKnown {
			prevTerm, prevKnown = en.Term, true
			continue
		}
		key := [2]uint64{en.Index, en.Term}
		id, seen := c.ids[key]
		if !seen {
			id, seen = c.committedID(en.Index, en.Term)
		}
		switch {
		case !seen:
			c.ids[key] = logID{cmd: en.Command, prevTerm: prevTerm, node: e.Node}
		case !bytes.Equal(id.cmd, en.Command):
			c.report(e, RuleLogMatching, "%v holds entry %s, but %v holds %d/%d with command %q", e.Node, en, id.node, en.Index, en.Term, id.cmd)
			return
		case id.prevTerm != prevTerm:
			c.report(e, RuleLogMatching, "%v holds entry %d/%d after an entry of term %d, but on %v it follows an entry of term %d: the logs differ before an entry they share",
				e.Node, en.Index, en.Term, prevTerm, id.node, id.prevTerm)
			return
		}
		prevTerm = en.Term
	}
}

func (c *checker) checkCommit(e *raft.Event, v *View, n *NodeView) {
	if e.Index < n.Commit {
		c.report(e, RuleCommitNeverDecrease, "%v's commitIndex went from %d back to %d", e.Node, n.Commit, e.Index)
		return
	}
	if last := n.LastIndex(); e.Index > last {
		c.report(e, RuleCommitWithinLog, "%v set commitIndex to %d, but its log ends at %d", e.Node, e.Index, last)
		return
	}
	// Entries the node's snapshot holds are committed already (checkSnapshot).
	for i := max(n.Commit, n.LogBase) + 1; i <= e.Index; i++ {
		en, _ := n.Entry(i)
		if !c.commit(e, v, en, "committed") {
			return
		}
	}
}

// commit records that node e.Node committed (or applied) en, and reports it if
// another entry was committed at that index before. v is the view the event is
// about to be folded into: each server's log is compared with a newly
// committed entry once, for differs.
func (c *checker) commit(e *raft.Event, v *View, en raft.Entry, verb string) bool {
	if en.Index <= c.base {
		return true // forgotten: far below every server's snapshot
	}
	for c.last() < en.Index {
		c.committed = append(c.committed, committedEntry{})
	}
	ce := &c.committed[en.Index-c.base-1]
	if ce.entry.Index == 0 {
		*ce = committedEntry{entry: en, by: e.Node}
		c.forgetID(en)
		if next, ok := c.committedAt(en.Index + 1); ok {
			c.forgetID(next) // committed before this one: its record waited for it
		}
		for i := range v.Nodes {
			if held, ok := v.Nodes[i].Entry(en.Index); ok && !held.Equal(en) {
				c.differs[v.Nodes[i].ID]++
			}
		}
		return true
	}
	if !ce.entry.Equal(en) {
		c.report(e, RuleStateMachineSafety, "%v %s %s at index %d, but %v had committed %s there", e.Node, verb, en, en.Index, ce.by, ce.entry)
		return false
	}
	return true
}

// committedID is what Log Matching pins down about the committed entry at
// index, if it has term: the checker keeps it once, in committed, rather
// than in ids too.
func (c *checker) committedID(index, term uint64) (logID, bool) {
	en, ok := c.committedAt(index)
	if !ok || en.Term != term {
		return logID{}, false
	}
	prevTerm := uint64(0)
	switch {
	case index-1 == c.base:
		prevTerm = c.baseTerm
	case index >= 2:
		prev, ok := c.committedAt(index - 1)
		if !ok {
			return logID{}, false
		}
		prevTerm = prev.Term
	}
	return logID{cmd: en.Command, prevTerm: prevTerm, node: c.committed[index-c.base-1].by}, true
}

// forgetID drops the ids record of en, just committed, when committed says
// the same (committedID): each committed entry is then kept once, whatever
// the log's length (issue 12, memory). What Log Matching checks is
// unchanged: a record that says something else stays.
func (c *checker) forgetID(en raft.Entry) {
	key := [2]uint64{en.Index, en.Term}
	id, ok := c.ids[key]
	if !ok {
		return
	}
	if cid, ok := c.committedID(en.Index, en.Term); ok && bytes.Equal(id.cmd, cid.cmd) && id.prevTerm == cid.prevTerm {
		delete(c.ids, key)
	}
}

func (c *checker) checkApply(e *raft.Event, v *View, n *NodeView) {
	if len(e.Entries) != 1 {
		return
	}
	en := e.Entries[0]
	switch {
	case e.Index != n.Applied+1:
		c.report(e, RuleApplyInOrder, "%v applied index %d right after index %d", e.Node, e.Index, n.Applied)
	case en.Index != e.Index:
		c.report(e, RuleApplyInOrder, "%v applied an entry with index %d as index %d", e.Node, en.Index, e.Index)
	case e.Index > n.Commit:
		c.report(e, RuleApplyOnlyCommitted, "%v applied index %d, but its commitIndex is %d", e.Node, e.Index, n.Commit)
	case e.Index <= n.LogBase:
		c.report(e, RuleApplyInOrder, "%v applied %s, but its snapshot holds index %d already (through %d): the state machine has it", e.Node, en, e.Index, n.LogBase)
	case !c.holds(n, en):
		c.report(e, RuleApplyInOrder, "%v applied %s, which is not the entry its log holds at index %d", e.Node, en, e.Index)
	default:
		c.commit(e, v, en, "applied")
	}
}

// holds reports whether n's log holds en at its index.
func (c *checker) holds(n *NodeView, en raft.Entry) bool {
	held, ok := n.Entry(en.Index)
	return ok && held.Equal(en)
}

func (c *checker) checkVote(e *raft.Event, m *raft.Message) {
	key := voteKey{e.Node, m.Term}
	if prev, ok := c.votes[key]; ok && prev != m.To {
		c.report(e, RuleOneVotePerTerm, "%v granted its vote in term %d to %v, after granting it to %v in the same term", e.Node, m.Term, m.To, prev)
		return
	}
	c.votes[key] = m.To
}

// checkRestart compares a restarted node's state with what it had stored.
func (c *checker) checkRestart(e *raft.Event, st raft.Status, saved raft.Saved) []Violation {
	c.found = c.found[:0]
	hs := saved.HardState
	switch {
	case st.Term < hs.CurrentTerm:
		c.report(e, RuleRestoreState, "%v restarted with currentTerm %d, but it had saved currentTerm %d", e.Node, st.Term, hs.CurrentTerm)
	case st.Term == hs.CurrentTerm && st.VotedFor != hs.VotedFor:
		c.report(e, RuleRestoreState, "%v restarted in term %d with votedFor %v, but it had saved votedFor %v", e.Node, st.Term, st.VotedFor, hs.VotedFor)
	case st.SnapshotIndex != saved.Snapshot.LastIncludedIndex:
		c.report(e, RuleRestoreState, "%v restarted with a snapshot through index %d, but it had saved one through %d", e.Node, st.SnapshotIndex, saved.Snapshot.LastIncludedIndex)
	case len(st.Log) != len(saved.Log):
		c.report(e, RuleRestoreState, "%v restarted with %d log entries, but it had saved %d", e.Node, len(st.Log), len(saved.Log))
	}
	if k := saved.Snapshot.LastIncludedIndex; k > 0 && (st.CommitIndex != k || st.LastApplied != k) {
		c.report(e, RuleVolatileReset, "%v restarted from a snapshot through index %d with commitIndex %d and lastApplied %d: the snapshot holds committed, applied entries, so both start at %d", e.Node, k, st.CommitIndex, st.LastApplied, k)
	} else if k == 0 && (st.CommitIndex != 0 || st.LastApplied != 0) {
		c.report(e, RuleVolatileReset, "%v restarted with commitIndex %d and lastApplied %d: they are volatile and must start at 0", e.Node, st.CommitIndex, st.LastApplied)
	}
	return c.found
}
