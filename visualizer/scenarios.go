package visualizer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// Scenarios are scripted demonstrations an instructor plays on demand. Each
// is a list of steps. A step is paced in wall time, as a lecturer would pace
// it: its narration is shown with the cluster held still for as long as it
// takes to read; then the cluster moves until it is ready for the step's
// action (a condition on the cluster, in virtual time); then the step acts,
// through the same commands a viewer has, so that the run is recorded and
// can be scrubbed and replayed like any other. While nothing but election
// timers move, a wait fast-forwards, so that a full telling takes one to two
// minutes at the default speed.

type scenario struct {
	title, what string
	minNodes    int
	steps       func(run *scenarioRun) []scenarioStep
}

type scenarioStep struct {
	// say is the narration of the step: what is happening and what comes
	// next. {name} stands for a value the scenario set (run.set), such as
	// the name of a server on the screen.
	say string
	// wait, if set, holds the step's action until the cluster is ready.
	wait func() bool
	// brisk fast-forwards the wait while no vote is asked or given: only
	// election timers are running down, and heartbeats go to and fro.
	brisk bool
	// news, if set, is added to the narration while the step waits: what
	// the cluster is doing right now (e.g. the votes a candidate holds).
	news func() string
	// runFor lets the cluster run this much wall time after the wait
	// before the step acts.
	runFor time.Duration
	do     func() error
}

// Pacing of a telling, in wall time.
const (
	readMin   = 3 * time.Second // the shortest hold of a narration
	readMax   = 8 * time.Second // the longest
	wordsRead = 3.5             // words read per second, off a projector
	doneShown = 8 * time.Second // the closing narration stays this long
)

// readTime is how long a narration holds the cluster still.
func readTime(text string) time.Duration {
	d := time.Second + time.Duration(float64(len(strings.Fields(text)))/wordsRead*float64(time.Second))
	return min(max(d, readMin), readMax)
}

type scenarioRun struct {
	name  string
	s     *Session
	steps []scenarioStep
	i     int
	// clock is the wall time the telling has run, not counting pauses;
	// shown is when the current step's narration appeared, ready when
	// its wait was over (-1: not yet).
	clock, shown, ready time.Duration
	vars                map[string]string
	ids                 map[string]raft.NodeID
}

var scenarioOrder = []string{"leader-crash", "split-vote", "partition", "figure8", "lossy", "install-snapshot"}

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
		what:  "The network loses 30% of messages, duplicates 10% and reorders 30%, while a client keeps proposing; the logs still agree.",
		steps: lossy},
	"install-snapshot": {title: "Catch up by snapshot", minNodes: 3,
		what:  "A follower is cut off while the others commit and compact their logs (stage 4); when it returns, the leader no longer holds the entries it lacks and sends it InstallSnapshot (section 7, Figure 13).",
		steps: installSnapshot},
}

func scenarioNames() string { return strings.Join(scenarioOrder, ", ") }

func (s *Session) startScenario(name string) (string, error) {
	sc := scenarios[name]
	if n := len(s.course.sim().View().Nodes); n < sc.minNodes {
		return "", fmt.Errorf("the %s scenario needs at least %d nodes; this cluster has %d: reset it with more", name, sc.minNodes, n)
	}
	s.branch()
	run := &scenarioRun{name: name, s: s, ready: -1, vars: map[string]string{}, ids: map[string]raft.NodeID{}}
	run.steps = sc.steps(run)
	s.scenario = run
	s.pace.resume(time.Now())
	s.runScenario()
	return sc.what, nil
}

// pace moves the telling's clock on by dt of wall time and says how the
// cluster runs meanwhile: at what speed, and whether it is held still
// while a narration is read.
func (run *scenarioRun) pace(dt time.Duration, speed float64) (float64, bool) {
	run.clock += dt
	if run.i >= len(run.steps) {
		return speed, false
	}
	st := run.steps[run.i]
	if run.clock-run.shown < readTime(run.resolve(st.say)) {
		return speed, true
	}
	if st.brisk && run.ready < 0 && !run.votesInFlight() {
		return max(speed, run.briskSpeed()), false
	}
	return speed, false
}

// briskSpeed runs the longest election timeout in three seconds.
func (run *scenarioRun) briskSpeed() float64 {
	return float64(2*run.sim().Options().Config.ElectionTimeout) / float64(3*time.Second)
}

// runScenario moves the scenario on: at most one step acts per call, so
// that every step's narration is seen.
func (s *Session) runScenario() {
	run := s.scenario
	if run == nil {
		return
	}
	if run.i >= len(run.steps) {
		if run.clock-run.shown >= doneShown {
			s.scenario = nil
		}
		return
	}
	st := run.steps[run.i]
	if run.clock-run.shown < readTime(run.resolve(st.say)) {
		return
	}
	if run.ready < 0 {
		if st.wait != nil && !st.wait() {
			return
		}
		run.ready = run.clock
	}
	if run.clock-run.ready < st.runFor {
		return
	}
	if st.do != nil {
		if err := st.do(); err != nil {
			s.scenario = nil
			s.fan.broadcast(encode(errorFrame{Type: "error", Op: "scenario", Error: fmt.Sprintf("the %s scenario stopped: %v", run.name, err)}))
			return
		}
	}
	run.i++
	run.shown, run.ready = run.clock, -1
}

func (run *scenarioRun) narration() string {
	sc := scenarios[run.name]
	if run.i >= len(run.steps) {
		return fmt.Sprintf("%s — done. %s", sc.title, run.resolve(run.steps[len(run.steps)-1].say))
	}
	st := run.steps[run.i]
	text := fmt.Sprintf("%s — step %d of %d: %s", sc.title, run.i+1, len(run.steps), run.resolve(st.say))
	if st.news != nil && run.clock-run.shown >= readTime(run.resolve(st.say)) {
		if n := st.news(); n != "" {
			text += " — now: " + n
		}
	}
	return text
}

// resolve fills in the {names} of a narration.
func (run *scenarioRun) resolve(text string) string {
	if !strings.Contains(text, "{") {
		return text
	}
	pairs := make([]string, 0, 2*len(run.vars))
	for k, v := range run.vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// set names a server for the narration ({key} becomes n3) and for the steps.
func (run *scenarioRun) set(key string, id raft.NodeID) raft.NodeID {
	run.ids[key] = id
	run.vars[key] = id.String()
	return id
}

// setText sets a {key} of the narration to a text.
func (run *scenarioRun) setText(key, text string) { run.vars[key] = text }

// Helpers for steps.

func (run *scenarioRun) sim() *lab.Sim { return run.s.course.sim() }

// leader returns the leader as View.Leader decides it, or None.
func (run *scenarioRun) leader() raft.NodeID {
	id, _ := run.sim().View().Leader()
	return id
}

func (run *scenarioRun) node(id raft.NodeID) *lab.NodeView { return run.sim().View().Node(id) }

func (run *scenarioRun) term(id raft.NodeID) uint64 { return run.node(id).Term }

func (run *scenarioRun) hasLeader() bool { return run.leader() != raft.None }

// newLeader waits for a leader other than the one named key, in a later term.
func (run *scenarioRun) newLeader(key string) func() bool {
	return func() bool {
		l := run.leader()
		return l != raft.None && l != run.ids[key] && run.term(l) > run.term(run.ids[key])
	}
}

// votesInFlight reports whether a RequestVote or its reply is on its way.
func (run *scenarioRun) votesInFlight() bool {
	for _, f := range run.sim().InFlight() {
		if f.Msg.Type == raft.RequestVote || f.Msg.Type == raft.RequestVoteReply {
			return true
		}
	}
	return false
}

func (run *scenarioRun) anyCandidate() bool {
	for _, n := range run.sim().View().Nodes {
		if n.Up && n.Role == raft.Candidate {
			return true
		}
	}
	return false
}

// candidate returns the candidate of the latest term, or None.
func (run *scenarioRun) candidate() raft.NodeID {
	best, term := raft.None, uint64(0)
	for _, n := range run.sim().View().Nodes {
		if n.Up && n.Role == raft.Candidate && n.Term >= term {
			best, term = n.ID, n.Term
		}
	}
	return best
}

// electionNews says who is standing for election and who has voted for
// them: each server's votedFor in the candidate's term.
func (run *scenarioRun) electionNews() string {
	v := run.sim().View()
	var parts []string
	for _, c := range v.Nodes {
		if !c.Up || c.Role != raft.Candidate {
			continue
		}
		var voters []string
		for _, n := range v.Nodes {
			if n.Term == c.Term && n.Vote == c.ID {
				voters = append(voters, n.ID.String())
			}
		}
		parts = append(parts, fmt.Sprintf("%v is a candidate for term %d with votes from %s (%d of %d needed)",
			c.ID, c.Term, strings.Join(voters, ", "), len(v.Nodes)/2+1, len(v.Nodes)))
	}
	if len(parts) == 0 {
		if l := run.leader(); l != raft.None {
			return fmt.Sprintf("%v leads term %d", l, run.term(l))
		}
		return "every election timer is running down"
	}
	return strings.Join(parts, "; ")
}

func (run *scenarioRun) record(err error) error { return run.s.record(err) }

func (run *scenarioRun) propose(id raft.NodeID, cmd string) (uint64, error) {
	index, _, _, err := run.sim().Propose(id, []byte(cmd))
	return index, run.record(err)
}

func (run *scenarioRun) partition(groups ...[]raft.NodeID) error {
	return run.record(run.sim().Partition(groups...))
}

// others returns every node but the given ones, in ID order.
func (run *scenarioRun) others(not ...raft.NodeID) []raft.NodeID {
	var out []raft.NodeID
	for _, n := range run.sim().View().Nodes {
		if !slices.Contains(not, n.ID) {
			out = append(out, n.ID)
		}
	}
	return out
}

// has reports whether node id holds, at index, an entry of the term of the
// entry that node from holds there.
func (run *scenarioRun) has(id raft.NodeID, index uint64, from raft.NodeID) bool {
	a, aok := run.node(id).TermAt(index)
	b, bok := run.node(from).TermAt(index)
	return index >= 1 && aok && bok && a == b
}

// catchUpNews says which servers do not yet hold the leader's log.
func (run *scenarioRun) catchUpNews() string {
	l := run.leader()
	if l == raft.None {
		return run.electionNews()
	}
	ln := run.node(l)
	var behind []raft.NodeID
	for _, n := range run.sim().View().Nodes {
		if n.Up && n.ID != l && (n.LastIndex() != ln.LastIndex() || n.Commit != ln.Commit || n.Leader != l) {
			behind = append(behind, n.ID)
		}
	}
	if len(behind) == 0 {
		return fmt.Sprintf("every server follows %v and holds its log", l)
	}
	verb := "do"
	if len(behind) == 1 {
		verb = "does"
	}
	return fmt.Sprintf("%s %s not yet hold %v's log and commit index %d", names(behind), verb, l, ln.Commit)
}

// agree reports whether every running node has the leader's log and commit.
func (run *scenarioRun) agree() bool {
	l := run.leader()
	if l == raft.None {
		return false
	}
	ln := run.node(l)
	for _, n := range run.sim().View().Nodes {
		if !n.Up {
			continue
		}
		nt, _ := n.TermAt(n.LastIndex())
		lt, _ := ln.TermAt(ln.LastIndex())
		if n.Commit != ln.Commit || n.LastIndex() != ln.LastIndex() || nt != lt {
			return false
		}
	}
	return true
}

func names(ids []raft.NodeID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	switch len(s) {
	case 0:
		return "no one"
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func (run *scenarioRun) setTerm(key string, id raft.NodeID) {
	run.setText(key, fmt.Sprint(run.term(id)))
}

func leaderCrash(run *scenarioRun) []scenarioStep {
	return []scenarioStep{
		{say: "waiting for the servers to elect a leader", wait: run.hasLeader, brisk: true, news: run.electionNews, do: func() error {
			run.setTerm("term", run.set("old", run.leader()))
			return nil
		}},
		{say: "{old} leads term {term}: its heartbeats keep the followers' election timers from running out. Now {old} crashes.", do: func() error {
			return run.record(run.sim().Crash(run.ids["old"]))
		}},
		{say: "{old} is down: no more heartbeats. Each follower's timer runs out at its own random time; the first to run out becomes a candidate.",
			wait: func() bool { return run.anyCandidate() || run.newLeader("old")() }, brisk: true, news: run.electionNews, do: func() error {
				if c := run.candidate(); c != raft.None {
					run.setTerm("cterm", run.set("cand", c))
				} else {
					run.setTerm("cterm", run.set("cand", run.leader()))
				}
				return nil
			}},
		{say: "{cand} timed out first: it starts term {cterm}, votes for itself and asks the others for their votes (RequestVote).",
			wait: run.newLeader("old"), brisk: true, news: run.electionNews, do: func() error {
				run.setTerm("nterm", run.set("new", run.leader()))
				return nil
			}},
		{say: "{new} has votes from a majority: it leads term {nterm} and sends heartbeats. Now {old} restarts.", do: func() error {
			return run.record(run.sim().Restart(run.ids["old"]))
		}},
		{say: "{old} restarts as a follower with only what it saved: its term, its vote and its log. The next heartbeat tells it of term {nterm}.",
			news: run.catchUpNews, wait: func() bool {
				n := run.node(run.ids["old"])
				return n.Up && n.Leader == run.ids["new"] && n.Term == run.term(run.ids["new"])
			}},
		{say: "{old} follows {new} in term {nterm}: the cluster lost its leader and recovered by itself."},
	}
}

func splitVote(run *scenarioRun) []scenarioStep {
	var t2 uint64 // the term the followers all stand for
	return []scenarioStep{
		{say: "waiting for the servers to elect a leader", wait: run.hasLeader, brisk: true, news: run.electionNews, do: func() error {
			run.setTerm("term", run.set("old", run.leader()))
			run.setText("followers", names(run.others(run.ids["old"])))
			return nil
		}},
		{say: "{old} leads term {term}. Now the election timers of {followers} all run out at the same moment, as if their random timeouts had come up equal.",
			do: func() error {
				for _, id := range run.others(run.ids["old"]) {
					if !run.sim().Up(id) {
						continue
					}
					if err := run.record(run.sim().ForceTimeout(id)); err != nil {
						return err
					}
				}
				t2 = run.term(run.ids["old"]) + 1
				run.setText("t2", fmt.Sprint(t2))
				return nil
			}},
		{say: "each became a candidate for term {t2} and voted for itself, so each refuses the others (already-voted): no one can reach a majority.",
			wait: func() bool {
				l, c := run.leader(), run.candidate()
				return (l != raft.None && run.term(l) >= t2 && l != run.ids["old"]) || (c != raft.None && run.term(c) > t2)
			}, news: run.electionNews, brisk: true},
		{say: "each candidate waits a new random election timeout; the first to run out starts the next term and asks before the others wake up.",
			wait: func() bool { l := run.leader(); return l != raft.None && run.term(l) >= t2 }, brisk: true, news: run.electionNews, do: func() error {
				run.setTerm("nterm", run.set("new", run.leader()))
				return nil
			}},
		{say: "{new} won term {nterm}: randomized timeouts broke the tie (section 5.2)."},
	}
}

func partitionLeader(run *scenarioRun) []scenarioStep {
	return []scenarioStep{
		{say: "waiting for the servers to elect a leader", wait: run.hasLeader, brisk: true, news: run.electionNews, do: func() error {
			old := run.set("old", run.leader())
			run.setTerm("term", old)
			rest := run.others(old)
			minority := append([]raft.NodeID{old}, rest[:(len(rest)+1)/2-1]...)
			run.setText("minority", names(minority))
			run.setText("majority", names(run.others(minority...)))
			run.vars["with"] = names(minority[1:])
			return nil
		}},
		{say: "{old} leads term {term}. Now the network splits: {minority} on one side, {majority} on the other.", do: func() error {
			old := run.ids["old"]
			rest := run.others(old)
			minority := append([]raft.NodeID{old}, rest[:(len(rest)+1)/2-1]...)
			return run.partition(minority, run.others(minority...))
		}},
		{say: "a client sends x=1 to {old}. {old} appends it, but only {with} can hear it: no majority, so x=1 is never committed.", do: func() error {
			_, err := run.propose(run.ids["old"], "x=1")
			return err
		}},
		{say: "on the other side, {majority} hear no heartbeat: their timers run out and they elect a new leader in a later term.",
			wait: run.newLeader("old"), brisk: true, news: run.electionNews, do: func() error {
				run.setTerm("nterm", run.set("new", run.leader()))
				return nil
			}},
		{say: "{new} leads term {nterm}, and a client sends it y=2. Two servers now believe they lead, in different terms.", do: func() error {
			i, err := run.propose(run.ids["new"], "y=2")
			run.ids["y"] = raft.NodeID(i)
			return err
		}},
		{say: "{new} replicates y=2 to its majority and commits it; {old} cannot commit x=1.",
			wait: func() bool { return run.node(run.ids["new"]).Commit >= uint64(run.ids["y"]) }},
		{say: "y=2 is committed on {new}'s side. Now the network heals.", do: func() error {
			run.sim().Heal()
			return run.record(nil)
		}},
		{say: "{old} hears of term {nterm}, steps down, and {new}'s log replaces its uncommitted x=1 with y=2.",
			news: run.catchUpNews, wait: func() bool { return run.leader() == run.ids["new"] && run.agree() }},
		{say: "every server holds {new}'s log: x=1, never committed, is gone; y=2 is on every server."},
	}
}

// figure8 plays Figure 8 of the paper. On more than five servers, S3 and
// S4 stand for groups: S3's is as large as S1 and S2 need for a majority,
// S4's holds the rest, so that every election of the figure can happen
// and no other.
func figure8(run *scenarioRun) []scenarioStep {
	var s1, s2, s5 raft.NodeID
	var s3, s4 []raft.NodeID
	var first, x, y, z uint64
	alone := func(ids ...[]raft.NodeID) [][]raft.NodeID { // each server of ids in a group of its own
		var out [][]raft.NodeID
		for _, g := range ids {
			for _, id := range g {
				out = append(out, []raft.NodeID{id})
			}
		}
		return out
	}
	all := func(ids []raft.NodeID, ok func(raft.NodeID) bool) bool {
		for _, id := range ids {
			if !ok(id) {
				return false
			}
		}
		return true
	}
	return []scenarioStep{
		{say: "waiting for the servers to elect a leader", wait: run.hasLeader, brisk: true, news: run.electionNews, do: func() error {
			s1 = run.set("s1", run.leader())
			s2 = run.set("s2", run.others(s1)[0])
			var err error
			first, err = run.propose(s1, "first")
			return err
		}},
		{say: "{s1} leads (S1 in the paper's figure) and replicates an entry, 'first', to every server.",
			wait: func() bool { return all(run.others(), func(id raft.NodeID) bool { return run.has(id, first, s1) }) },
			do: func() error {
				if err := run.partition([]raft.NodeID{s1, s2}, run.others(s1, s2)); err != nil {
					return err
				}
				var err error
				x, err = run.propose(s1, "x")
				return err
			}},
		{say: "(a) {s1} is cut off with {s2} and takes x at the next index; it reaches {s2} only. The others elect a new leader.",
			wait: func() bool { l := run.leader(); return l != raft.None && l != s1 && l != s2 }, brisk: true, news: run.electionNews,
			do: func() error {
				s5 = run.set("s5", run.leader())
				rest := run.others(s1, s2, s5)
				need := len(run.others())/2 + 1 - 2 // what S1 and S2 lack of a majority
				s3, s4 = rest[:need], rest[need:]
				run.setText("s3", names(s3))
				run.setText("s4", names(s4))
				groups := append([][]raft.NodeID{{s5}, {s1, s2}}, alone(s3, s4)...)
				if err := run.partition(groups...); err != nil {
					return err
				}
				var err error
				y, err = run.propose(s5, "y")
				return err
			}},
		{say: "(b) {s5} (S5 in the figure) was elected without {s1} and {s2}; it takes y at the same index as x, and is cut off before sending it.",
			do: func() error {
				groups := append([][]raft.NodeID{append([]raft.NodeID{s1, s2}, s3...), {s5}}, alone(s4)...)
				return run.partition(groups...)
			}},
		{say: "(c) {s1}, {s2} and {s3} can talk: one of {s1} and {s2} is elected again, with the vote of {s3}, in a later term than {s5}'s.",
			wait: func() bool { l := run.leader(); return (l == s1 || l == s2) && run.term(l) > run.term(s5) }, brisk: true, news: run.electionNews,
			do: func() error {
				run.set("l", run.leader())
				return nil
			}},
		{say: "(c) {l} replicates x to {s3}: x, from an older term, is now on a majority — yet it must NOT be committed.",
			wait: func() bool { return all(s3, func(id raft.NodeID) bool { return run.has(id, x, s1) }) }, do: func() error {
				groups := append([][]raft.NodeID{append(append([]raft.NodeID{s5}, s3...), s4...)}, alone([]raft.NodeID{s1, s2})...)
				return run.partition(groups...)
			}},
		{say: "(d) now {s5} can reach {s3} and {s4}. Its last entry, y, has a later term than x, so they vote for {s5}.",
			wait: func() bool { return run.leader() == s5 && run.term(s5) > run.term(s1) }, brisk: true, news: run.electionNews,
			do: func() error {
				var err error
				z, err = run.propose(s5, "z")
				return err
			}},
		{say: "(d) {s5} leads again and overwrites x with y on {s3}; a new entry z of its own term commits y.",
			wait: func() bool {
				return run.node(s5).Commit >= z && all(s3, func(id raft.NodeID) bool { return run.has(id, y, s5) })
			}, news: run.catchUpNews, do: func() error {
				run.sim().Heal()
				return run.record(nil)
			}},
		{say: "had x been committed in (c), it would now be lost: a leader commits only entries of its own term by counting replicas. Healed: {s1} and {s2} step down.",
			wait: func() bool { return run.leader() == s5 && run.agree() }, news: run.catchUpNews},
		{say: "every server now holds y and z where {s1} had x: Figure 8, told with the servers on the screen."},
	}
}

func lossy(run *scenarioRun) []scenarioStep {
	var before lab.Network
	propose := func(k int) func() error {
		return func() error {
			if l := run.leader(); l != raft.None {
				_, err := run.propose(l, fmt.Sprintf("c%d", k))
				return err
			}
			return nil // no leader to take it: the client would try again
		}
	}
	const proposals = 5
	steps := []scenarioStep{
		{say: "waiting for the servers to elect a leader", wait: run.hasLeader, brisk: true, news: run.electionNews},
		{say: "now the network turns bad: it loses 30% of messages, duplicates 10% and reorders 30%. A client proposes c1.", do: func() error {
			before = run.sim().Network()
			bad := before
			bad.Loss, bad.Duplicate, bad.Reorder = 0.3, 0.1, 0.3
			if err := run.record(run.sim().SetNetwork(bad)); err != nil {
				return err
			}
			return propose(1)()
		}},
		{say: "lost messages are sent again with the next heartbeat; duplicates and stale replies are recognised and ignored.",
			news: run.electionNews, runFor: 3 * time.Second, do: propose(2)},
	}
	for k := 2; k <= proposals; k++ {
		do := propose(k + 1)
		if k == proposals {
			do = func() error { return run.record(run.sim().SetNetwork(before)) }
		}
		steps = append(steps, scenarioStep{say: fmt.Sprintf("a client proposed c%d to the leader.", k), news: run.electionNews, runFor: 3 * time.Second, do: do})
	}
	return append(steps,
		scenarioStep{say: "the network is reliable again; the leader brings every server up to date.", wait: run.agree, brisk: true, news: run.catchUpNews},
		scenarioStep{say: "every committed command is on every server, in the same order: loss, duplication and reordering cost time, never safety."},
	)
}

// installSnapshot: a follower cut off while the others compact their logs
// is caught up by InstallSnapshot (stage 4).
func installSnapshot(run *scenarioRun) []scenarioStep {
	const commands = 4
	var last uint64
	compacted := func() bool {
		for _, id := range run.others(run.ids["far"]) {
			if n := run.node(id); n.Up && n.SnapshotIndex < last {
				return false
			}
		}
		return true
	}
	return []scenarioStep{
		{say: "waiting for the servers to elect a leader", wait: run.hasLeader, brisk: true, news: run.electionNews, do: func() error {
			l := run.set("leader", run.leader())
			run.set("far", run.others(l)[0])
			run.setText("rest", names(run.others(run.ids["far"])))
			return nil
		}},
		{say: "{leader} leads. Now {far} is cut off from the others.", do: func() error {
			far := run.ids["far"]
			return run.partition([]raft.NodeID{far}, run.others(far))
		}},
		{say: fmt.Sprintf("while {far} is away, a client sends %d commands to {leader}; {rest} commit them.", commands), do: func() error {
			for k := 1; k <= commands; k++ {
				i, err := run.propose(run.ids["leader"], fmt.Sprintf("s%d", k))
				if err != nil {
					return err
				}
				last = i
			}
			return nil
		}},
		{say: "{rest} commit the commands and apply them to their state machines.", news: run.catchUpNews,
			wait: func() bool {
				for _, id := range run.others(run.ids["far"]) {
					if n := run.node(id); n.Up && n.Applied < last {
						return false
					}
				}
				return true
			},
			do: func() error {
				run.setText("last", fmt.Sprint(last))
				for _, id := range run.others(run.ids["far"]) {
					_, ok, err := run.sim().TakeSnapshot(id)
					if err := run.record(err); err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("%v does not compact its log: this scenario needs stage 4 (raft.Compactor), which this implementation does not have yet", id)
					}
				}
				return nil
			}},
		{say: "their state machines take snapshots: {rest} discard their logs through index {last}, keeping only its index and term (section 7).",
			wait: compacted},
		{say: "the network heals. {leader} no longer holds the entries {far} lacks: it sends {far} its snapshot in InstallSnapshot (Figure 13).", do: func() error {
			run.sim().Heal()
			return run.record(nil)
		}},
		{say: "{far} installs the snapshot: its state machine is restored to index {last}, and it takes {leader}'s entries after it.",
			news: run.catchUpNews, // not brisk: InstallSnapshot is the story, at the speed of the page
			wait: func() bool { return run.node(run.ids["far"]).SnapshotIndex >= last && run.agree() }},
		{say: "{far} holds the snapshot through index {last} and the same log after it as {leader}: caught up without the entries that were discarded."},
	}
}
