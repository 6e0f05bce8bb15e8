package grade

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// A failure's event window ends at the event that broke the rule, includes
// it and the delivery that led to it even when that was a heartbeat, and
// keeps the crash that set the scene even when it fell out of the window.
func TestEventWindowShowsCauseAndSetup(t *testing.T) {
	w := newEventWindow(4, 20)
	hb := &raft.Message{Type: raft.AppendEntries, From: 1, To: 2, Term: 3}
	w.see(&raft.Event{Seq: 1, Kind: raft.EvCrash, Node: 3})
	for seq := uint64(2); seq < 19; seq++ {
		w.see(&raft.Event{Seq: seq, Kind: raft.EvTerm, Node: 1, Term: seq})
	}
	w.see(&raft.Event{Seq: 19, Kind: raft.EvDeliver, Node: 2, Msg: hb}) // routine: left out, unless it leads to the cause
	w.see(&raft.Event{Seq: 20, Kind: raft.EvCommit, Node: 2, Index: 7})
	w.see(&raft.Event{Seq: 21, Kind: raft.EvViolation, Node: 2, Rule: "Commit Within Log"})
	w.see(&raft.Event{Seq: 22, Kind: raft.EvTerm, Node: 1, Term: 9}) // after the cause: never shown
	lines := w.lines()
	require.Len(t, lines, 6, strings.Join(lines, "\n"))
	require.True(t, strings.HasPrefix(lines[0], "#1 "), "the crash that set the scene comes first: %q", lines[0])
	require.True(t, strings.HasPrefix(lines[3], "#19 "), "the delivery that led to the cause: %q", lines[3])
	require.True(t, strings.HasPrefix(lines[4], "#20 "), "the cause: %q", lines[4])
	require.True(t, strings.HasPrefix(lines[5], "#21 "), "its violation: %q", lines[5])
}

// A panic in the lab's own code during a test is a failure that names where
// it happened, and the grade goes on with the other seeds.
func TestPanicIsAFailure(t *testing.T) {
	var nothing []int
	test := &Test{Stage: 9, Name: "Panics", Nodes: 3, Run: func(h *Harness) {
		h.Run(10 * time.Millisecond)
		_ = nothing[h.N()] // index out of range, as a checker bug would be
	}}
	impl := lab.Implementation{Name: "idle", New: func(cfg raft.Config, _ raft.Saved, env raft.Env) raft.Node { return &idle{id: cfg.ID} }}
	g := RunSeeds(impl, test, 3, false, "")
	require.Len(t, g.Failures, 3, "every seed runs and fails")
	f := g.Failures[0]
	require.Equal(t, Correctness, f.Kind)
	require.Contains(t, f.Rule, "lab error in grade.TestPanicIsAFailure")
	require.Contains(t, f.Message, "grade/report_test.go:")
	require.Contains(t, f.Message, "index out of range")
	require.NotContains(t, f.Report(), "goroutine ")
}

// idle is a server that does nothing.
type idle struct{ id raft.NodeID }

func (n *idle) Tick()                                 {}
func (n *idle) Step(raft.Message)                     {}
func (n *idle) Propose([]byte) (uint64, uint64, bool) { return 0, 0, false }
func (n *idle) Status() raft.Status                   { return raft.Status{ID: n.id} }

// When the lab refuses what a test asks of it, the report says what the test
// was doing and what the lab refused, and never blames the student's servers
// or says only "harness".
func TestRefusalsSayWhatTheTestWasDoing(t *testing.T) {
	ref := lab.Implementation{Name: "solutions", New: solutions.New}
	cases := []struct {
		name string
		run  func(h *Harness)
		want []string
	}{
		{"crash twice", func(h *Harness) { h.Crash(2); h.Crash(2) },
			[]string{"Check failed: crash", "the test was crashing n2", "persistent state", "n2 is already down"}},
		{"restart a running server", func(h *Harness) { h.Restart(1) },
			[]string{"Check failed: restart", "the test was restarting n1", "n1 is running"}},
		{"propose to a down server", func(h *Harness) { h.Crash(3); h.Propose(3, "x") },
			[]string{"Check failed: client request", `offering the command "x" to n3`, "n3 is down"}},
		{"status of a down server", func(h *Harness) { h.Crash(3); h.Status(3) },
			[]string{"Check failed: server state", "reading n3's state", "a crashed server has no state"}},
		{"partition naming no server", func(h *Harness) { h.Partition([]raft.NodeID{1, 9}) },
			[]string{"Check failed: network partition", "splitting the servers into groups", "n9"}},
	}
	for _, c := range cases {
		test := &Test{Stage: 1, Name: "Refusal", Nodes: 3, Run: c.run}
		r := runOnce(ref, test, 1, nil)
		require.NotNil(t, r.Failure, c.name)
		report := r.Failure.Report()
		for _, w := range c.want {
			require.Contains(t, report, w, c.name)
		}
		require.Contains(t, report, "a mistake of the test, not of your servers", c.name)
		require.NotContains(t, report, "harness", c.name)
		require.NotContains(t, report, "lab: ", c.name)
	}
}

// compactedPanic is the reference, except that a leader panics on the first
// successful AppendEntriesReply it handles once it has compacted its log and
// appended an entry after the snapshot — as a stage-4 server that forgot an
// offset does. It records the leader's state just before.
type compactedPanic struct {
	raft.Node
	was *raft.Status
}

func (n *compactedPanic) Snapshot(index uint64, data []byte) {
	n.Node.(raft.Compactor).Snapshot(index, data)
}

func (n *compactedPanic) Step(m raft.Message) {
	if st := n.Status(); m.Type == raft.AppendEntriesReply && m.Success && st.Role == raft.Leader &&
		st.SnapshotIndex > 0 && st.LastIndex() > st.SnapshotIndex && n.was.ID == raft.None {
		*n.was = st
		panic("an index into the compacted log")
	}
	n.Node.Step(m)
}

// A panic in a compacted log is reported with the log's true last index,
// not the length of what follows the snapshot, and where the kept log starts.
func TestPanicReportInACompactedLog(t *testing.T) {
	var was raft.Status
	impl := lab.Implementation{Name: "compacted-panic", New: func(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
		return &compactedPanic{Node: solutions.New(cfg, saved, env), was: &was}
	}}
	test, err := FindTest("4/SnapshotBasic")
	require.NoError(t, err)
	r := runOnce(impl, test, test.Seed(0), nil)
	require.NotNil(t, r.Failure)
	require.NotZero(t, was.SnapshotIndex, "the leader compacted and panicked")
	report := r.Failure.Report()
	require.Contains(t, report, fmt.Sprintf("its log through index %d (compacted through index %d, its snapshot's last included index: the first entry still in its log is index %d)",
		was.LastIndex(), was.SnapshotIndex, was.SnapshotIndex+1), report)
	require.Contains(t, report, "apply log[lastApplied] to state machine", report)
}

// stuckLeader is the reference, except that a leader ignores every refused
// AppendEntriesReply: it never moves nextIndex back.
type stuckLeader struct{ raft.Node }

func (n stuckLeader) Step(m raft.Message) {
	if m.Type == raft.AppendEntriesReply && !m.Success && m.Term == n.Status().Term {
		return
	}
	n.Node.Step(m)
}

// A follower left behind by a leader that never backs up is reported with
// the prevLogIndex the leader kept sending, and Figure 2's rule.
func TestLagReportNamesALeaderThatDoesNotBackUp(t *testing.T) {
	impl := lab.Implementation{Name: "stuck", New: func(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
		return stuckLeader{solutions.New(cfg, saved, env)}
	}}
	test, err := FindTest("2/Rejoin")
	require.NoError(t, err)
	r := runOnce(impl, test, test.Seed(0), nil)
	require.NotNil(t, r.Failure)
	report := r.Failure.Report()
	require.Contains(t, report, "Check failed: agreement", report)
	require.Regexp(t, `answered with \d+ refusals\. Yet the last \d+ of those AppendEntries all had prevLogIndex \d+\. `+
		`Figure 2, rules for leaders: if AppendEntries fails because of log inconsistency: decrement nextIndex and retry`, report)
}
