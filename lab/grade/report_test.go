package grade

import (
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
