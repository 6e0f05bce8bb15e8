package visualizer

import (
	"fmt"
	"strings"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// Scenarios are scripted demonstrations an instructor plays on demand. Each
// is a list of steps; a step waits (in virtual time) until the cluster is
// ready for it, then acts through the same commands a viewer has, so the
// run is recorded and can be scrubbed and replayed like any other.

type scenario struct {
	title, what string
	minNodes    int
	steps       func(run *scenarioRun) []scenarioStep
}

type scenarioStep struct {
	say  string      // narration, shown while the step waits and after it acts
	wait func() bool // nil: act at once
	do   func() error
}

type scenarioRun struct {
	name  string
	s     *Session
	steps []scenarioStep
	i     int
	since time.Duration // when the current step began waiting
	said  string
	ids   map[string]raft.NodeID
}

var scenarioOrder = []string{"leader-crash", "split-vote", "partition", "figure8", "lossy"}

var scenarios = map[string]*scenario{
	"leader-crash": {title: "Crash the leader", minNodes: 3,
		what:  "The leader crashes; the followers time out, elect a new leader, and the old one returns as a follower.",
		steps: leaderCrash},
	"split-vote": {title: "Split vote", minNodes: 3,
		what:  "Every follower times out at once and votes for itself; randomized timeouts break the tie (section 5.2).",
		steps: splitVote},
	"partition": {title: "Partition the leader", minNodes: 3,
		what:  "The leader is cut off with a minority: it cannot commit, the majority elects a new leader, and healing replaces the old leader's entries.",
		steps: partitionLeader},
	"figure8": {title: "Figure 8", minNodes: 5,
		what:  "The scenario of Figure 8 of the paper: why a leader never commits an entry of an earlier term by counting replicas.",
		steps: figure8},
	"lossy": {title: "Lossy network", minNodes: 3,
		what:  "For ten seconds the network loses 30% of messages, duplicates 10% and reorders 30%, while clients keep proposing.",
		steps: lossy},
}

func scenarioNames() string { return strings.Join(scenarioOrder, ", ") }

func (s *Session) startScenario(name string) (string, error) {
	sc := scenarios[name]
	if n := len(s.r.Sim.View().Nodes); n < sc.minNodes {
		return "", fmt.Errorf("the %s scenario needs at least %d nodes; this cluster has %d: reset it with more", name, sc.minNodes, n)
	}
	s.branch()
	run := &scenarioRun{name: name, s: s, since: s.r.Sim.Now(), ids: map[string]raft.NodeID{}}
	run.steps = sc.steps(run)
	s.scenario = run
	s.paused = false
	s.lastWall = time.Now()
	s.runScenario()
	return sc.what, nil
}

// runScenario carries out every step of the scenario that is ready.
func (s *Session) runScenario() {
	run := s.scenario
	for run != nil && run.i < len(run.steps) {
		st := run.steps[run.i]
		run.said = st.say
		if st.wait != nil && !st.wait() {
			return
		}
		if st.do != nil {
			if err := st.do(); err != nil {
				s.scenario = nil
				s.broadcast(encode(errorFrame{Type: "error", Op: "scenario", Error: fmt.Sprintf("the %s scenario stopped: %v", run.name, err)}))
				return
			}
		}
		run.i++
		run.since = s.r.Sim.Now()
	}
	if run != nil && s.r.Sim.Now()-run.since > 3*time.Second {
		s.scenario = nil // finished a while ago: clear the narration
	}
}

func (run *scenarioRun) narration() string {
	sc := scenarios[run.name]
	if run.i >= len(run.steps) {
		return fmt.Sprintf("%s — done. %s", sc.title, run.said)
	}
	return fmt.Sprintf("%s — step %d of %d: %s", sc.title, run.i+1, len(run.steps), run.said)
}

// Helpers for steps.

func (run *scenarioRun) sim() *lab.Sim { return run.s.r.Sim }

// leader returns the leader as View.Leader decides it, or None.
func (run *scenarioRun) leader() raft.NodeID {
	id, _ := run.sim().View().Leader()
	return id
}

func (run *scenarioRun) term(id raft.NodeID) uint64 { return run.sim().View().Node(id).Term }

func (run *scenarioRun) after(d time.Duration) func() bool {
	return func() bool { return run.sim().Now()-run.since >= d }
}

func (run *scenarioRun) hasLeader() bool { return run.leader() != raft.None }

func (run *scenarioRun) record(err error) error { return run.s.record(err) }

func (run *scenarioRun) propose(id raft.NodeID, cmd string) error {
	_, _, _, err := run.sim().Propose(id, []byte(cmd))
	return run.record(err)
}

// others returns every node but the given ones, in ID order.
func (run *scenarioRun) others(not ...raft.NodeID) []raft.NodeID {
	var out []raft.NodeID
	for _, n := range run.sim().View().Nodes {
		skip := false
		for _, x := range not {
			skip = skip || n.ID == x
		}
		if !skip {
			out = append(out, n.ID)
		}
	}
	return out
}

func leaderCrash(run *scenarioRun) []scenarioStep {
	return []scenarioStep{
		{say: "waiting for a leader", wait: run.hasLeader, do: func() error {
			run.ids["old"] = run.leader()
			return run.record(run.sim().Crash(run.ids["old"]))
		}},
		{say: "the leader has crashed: its followers hear no heartbeat, time out, and elect a new leader in a higher term",
			wait: func() bool { l := run.leader(); return l != raft.None && l != run.ids["old"] }},
		{say: "a new leader is elected; the old one will restart in a second", wait: run.after(time.Second), do: func() error {
			return run.record(run.sim().Restart(run.ids["old"]))
		}},
		{say: "the old leader restarts as a follower, learns the new term from the leader's heartbeat, and follows it",
			wait: run.after(time.Second)},
	}
}

func splitVote(run *scenarioRun) []scenarioStep {
	return []scenarioStep{
		{say: "waiting for a leader", wait: run.hasLeader, do: func() error {
			for _, id := range run.others(run.leader()) {
				if !run.sim().Up(id) {
					continue
				}
				if err := run.record(run.sim().ForceTimeout(id)); err != nil {
					return err
				}
			}
			return nil
		}},
		{say: "every follower's election timer ran out at the same moment: each became a candidate, voted for itself, and the vote split",
			wait: run.after(50 * time.Millisecond)},
		{say: "the candidates wait a new random timeout; the first to time out again asks for votes before the others and wins",
			wait: run.hasLeader},
	}
}

func partitionLeader(run *scenarioRun) []scenarioStep {
	return []scenarioStep{
		{say: "waiting for a leader", wait: run.hasLeader, do: func() error {
			old := run.leader()
			run.ids["old"] = old
			rest := run.others(old)
			minority := append([]raft.NodeID{old}, rest[:(len(rest)+1)/2-1]...)
			return run.record(run.sim().Partition(minority, run.others(minority...)))
		}},
		{say: "the leader is cut off with a minority; a client sends it a command", do: func() error {
			return run.propose(run.ids["old"], "x=1 (to the old leader)")
		}},
		{say: "the old leader appends x=1 but cannot reach a majority, so it never commits; the majority times out and elects a new leader",
			wait: func() bool {
				l := run.leader()
				return l != raft.None && l != run.ids["old"] && run.term(l) > run.term(run.ids["old"])
			}, do: func() error {
				run.ids["new"] = run.leader()
				return run.propose(run.ids["new"], "y=2 (to the new leader)")
			}},
		{say: "the new leader commits y=2 with its majority; two servers believe they lead, in different terms",
			wait: run.after(2 * time.Second), do: func() error {
				run.sim().Heal()
				return run.record(nil)
			}},
		{say: "healed: the old leader sees the higher term, steps down, and its uncommitted x=1 is replaced by the new leader's log",
			wait: run.after(2 * time.Second)},
	}
}

func figure8(run *scenarioRun) []scenarioStep {
	var s1, s2, s5, s3, s4 raft.NodeID
	part := func(groups ...[]raft.NodeID) error { return run.record(run.sim().Partition(groups...)) }
	return []scenarioStep{
		{say: "waiting for a leader", wait: run.hasLeader, do: func() error {
			s1 = run.leader()
			rest := run.others(s1)
			s2 = rest[0]
			return run.propose(s1, "first")
		}},
		{say: "(a) the leader s1 replicates an entry to everyone", wait: run.after(300 * time.Millisecond), do: func() error {
			rest := run.others(s1, s2)
			if err := part([]raft.NodeID{s1, s2}, rest); err != nil {
				return err
			}
			return run.propose(s1, "x (term of s1)")
		}},
		{say: "(a) cut off with one follower, s1 takes x at the next index and replicates it to s2 only; the other three elect a new leader",
			wait: func() bool { l := run.leader(); return l != raft.None && l != s1 && l != s2 }, do: func() error {
				s5 = run.leader()
				rest := run.others(s1, s2, s5)
				s3, s4 = rest[0], rest[1]
				if err := part([]raft.NodeID{s5}, []raft.NodeID{s1, s2}, []raft.NodeID{s3}, []raft.NodeID{s4}); err != nil {
					return err
				}
				return run.propose(s5, "y (term of s5)")
			}},
		{say: "(b) s5, elected by the other three, takes y at the same index and is cut off before sending it",
			wait: run.after(200 * time.Millisecond), do: func() error {
				return part([]raft.NodeID{s1, s2, s3}, []raft.NodeID{s5}, []raft.NodeID{s4})
			}},
		{say: "(c) s1 or s2 is elected again with s3's vote and replicates x to s3: x, from an old term, is on a majority — but must NOT be committed",
			wait: func() bool { l := run.leader(); return (l == s1 || l == s2) && run.term(l) > run.term(s5) }},
		{say: "(c) x sits on three of five servers, uncommitted", wait: run.after(500 * time.Millisecond), do: func() error {
			return part([]raft.NodeID{s5, s3, s4}, []raft.NodeID{s1}, []raft.NodeID{s2})
		}},
		{say: "(d) s5's last entry has a later term than x, so s3 and s4 vote for it; it becomes leader",
			wait: func() bool { return run.leader() == s5 && run.term(s5) > run.term(s1) }, do: func() error {
				return run.propose(s5, "z (commits y)")
			}},
		{say: "(d) s5 overwrites x with y on s3, and commits y with z. Had x been committed in (c), it would now be lost: that is Figure 8",
			wait: run.after(time.Second), do: func() error {
				run.sim().Heal()
				return run.record(nil)
			}},
		{say: "healed: s1 and s2 step down and have x replaced by y", wait: run.after(time.Second)},
	}
}

func lossy(run *scenarioRun) []scenarioStep {
	var before lab.Network
	n := 0
	proposeTick := func() bool {
		if run.sim().Now()-run.since < 500*time.Millisecond*time.Duration(n+1) {
			return false
		}
		n++
		if l := run.leader(); l != raft.None {
			_ = run.propose(l, fmt.Sprintf("lossy-%d", n))
		}
		return n >= 20
	}
	return []scenarioStep{
		{say: "the network turns bad", do: func() error {
			before = run.sim().Network()
			bad := before
			bad.Loss, bad.Duplicate, bad.Reorder = 0.3, 0.1, 0.3
			return run.record(run.sim().SetNetwork(bad))
		}},
		{say: "30% of messages are lost, 10% duplicated, 30% reordered, while a client proposes a command every half second",
			wait: proposeTick, do: func() error { return run.record(run.sim().SetNetwork(before)) }},
		{say: "the network is reliable again: every committed command is on every server, in the same order",
			wait: run.after(2 * time.Second)},
	}
}
