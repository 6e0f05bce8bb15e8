package lab

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

// puppetRun is a cluster of puppets that a test moves by hand.
type puppetRun struct {
	t  *testing.T
	s  *Sim
	ps puppets
}

func newPuppetRun(t *testing.T, nodes int) *puppetRun {
	t.Helper()
	ps := puppets{}
	s, err := New(Options{Nodes: nodes, Seed: 1, New: ps.newPuppet})
	require.NoError(t, err)
	return &puppetRun{t: t, s: s, ps: ps}
}

// act makes node id do f on its next tick, and lets that tick happen.
func (r *puppetRun) act(id raft.NodeID, f func(p *puppet)) {
	r.t.Helper()
	p := r.ps.get(id)
	p.do = f
	for i := 0; i < 30 && p.do != nil; i++ {
		r.s.RunFor(time.Millisecond)
	}
	require.Nil(r.t, p.do, "%v did not act within 30ms of virtual time", id)
}

// requireViolation asserts that the run broke exactly rule, first.
func (r *puppetRun) requireViolation(rule, text string) {
	r.t.Helper()
	vs := r.s.Violations()
	require.NotEmpty(r.t, vs, "the checker missed a broken %q", rule)
	require.Equal(r.t, rule, vs[0].Rule, "first violation: %v", vs[0])
	require.Contains(r.t, vs[0].Text, text)
	require.Contains(r.t, vs[0].String(), Rules[rule], "a violation states its rule")
	require.NotZero(r.t, vs[0].Cause)
}

func (r *puppetRun) requireClean() {
	r.t.Helper()
	require.Empty(r.t, r.s.Violations())
}

func lead(term uint64) func(p *puppet) {
	return func(p *puppet) { p.st.Role, p.st.Term, p.st.Leader = raft.Leader, term, p.id }
}

func TestCheckerElectionSafety(t *testing.T) {
	r := newPuppetRun(t, 3)
	before := r.s.Seq()
	r.act(1, lead(1))
	after := r.s.Seq()
	r.act(2, func(p *puppet) { p.st.Term = 1 })
	r.requireClean()
	r.act(2, lead(1))
	r.requireViolation(RuleElectionSafety, "n2 became leader of term 1, but n1 was already elected leader of term 1, at event #")
	// The report names where the first leader was elected, not only where
	// the second was (the violation's cause).
	var at uint64
	_, err := fmt.Sscanf(r.s.Violations()[0].Text[strings.LastIndex(r.s.Violations()[0].Text, "#"):], "#%d", &at)
	require.NoError(t, err)
	require.True(t, at > before && at <= after, "n1 was elected between events #%d and #%d, not at #%d", before+1, after, at)
}

func TestCheckerLeaderAppendOnly(t *testing.T) {
	r := newPuppetRun(t, 3)
	r.act(1, lead(1))
	r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a", "b") })
	r.requireClean()
	r.act(1, func(p *puppet) { p.st.Log = p.st.Log[:1] })
	r.requireViolation(RuleLeaderAppendOnly, "n1, leader of term 1, deleted entries 2..2")
}

func TestCheckerLogMatching(t *testing.T) {
	t.Run("same index and term, different command", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a") })
		r.act(2, func(p *puppet) { p.st.Log = entries(1, 1, "b") })
		r.requireViolation(RuleLogMatching, `n2 holds entry 1/1 "b", but n1 holds 1/1 with command "a"`)
	})
	t.Run("same entry, different entries before it", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = append(entries(1, 1, "a"), entries(2, 2, "c")...) })
		r.act(2, func(p *puppet) { p.st.Log = append(entries(3, 1, "x"), entries(2, 2, "c")...) })
		r.requireViolation(RuleLogMatching, "n2 holds entry 2/2 after an entry of term 3, but on n1 it follows an entry of term 1")
	})
	t.Run("a committed entry rewritten in place", func(t *testing.T) {
		// A node that rewrites a committed entry without changing its log's
		// length is caught too, by the periodic comparison of whole logs.
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a", "b", "c"); p.st.CommitIndex = 3 })
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a", "X", "c") })
		for range 10 {
			r.s.RunFor(10 * time.Millisecond)
		}
		r.requireViolation(RuleLogMatching, `n1 holds entry 2/1 "X", but n1 holds 2/1 with command "b"`)
	})
}

func TestCheckerLeaderCompleteness(t *testing.T) {
	r := newPuppetRun(t, 3)
	r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a"); p.st.CommitIndex = 1 })
	r.act(2, lead(2))
	r.requireViolation(RuleLeaderCompleteness, `n2 became leader of term 2, but its log ends at 0 and misses committed entry 1/1 "a" (committed by n1)`)
}

// The checker keeps count of where each log differs from what was committed,
// as logs change and entries commit, instead of reading every committed
// entry at each election. These runs move that count every way it moves.
func TestCheckerLeaderCompletenessBookkeeping(t *testing.T) {
	ab := entries(1, 1, "a", "b")
	ay := append(entries(1, 1, "a"), entries(2, 2, "y")...)
	commitAB := func(p *puppet) { p.st.Log = ab; p.st.CommitIndex = 2 }
	const holdsY = `n2 became leader of term 3, but its log holds 2/2 "y" at index 2 where 2/1 "b" was committed (by n1)`
	for _, tc := range []struct {
		name  string
		steps []func(r *puppetRun)
		want  string // "" for no violation
	}{
		{"log differs, then the entry commits", []func(r *puppetRun){
			func(r *puppetRun) { r.act(2, func(p *puppet) { p.st.Log = ay }) },
			func(r *puppetRun) { r.act(1, commitAB) },
		}, holdsY},
		{"entry commits, then the log differs", []func(r *puppetRun){
			func(r *puppetRun) { r.act(1, commitAB) },
			func(r *puppetRun) { r.act(2, func(p *puppet) { p.st.Log = ay }) },
		}, holdsY},
		{"the log differs, then is repaired", []func(r *puppetRun){
			func(r *puppetRun) { r.act(1, commitAB) },
			func(r *puppetRun) { r.act(2, func(p *puppet) { p.st.Log = ay }) },
			func(r *puppetRun) { r.act(2, func(p *puppet) { p.st.Log = ab }) },
		}, ""},
		{"the log differs, then is cut short", []func(r *puppetRun){
			func(r *puppetRun) { r.act(1, commitAB) },
			func(r *puppetRun) { r.act(2, func(p *puppet) { p.st.Log = ay }) },
			func(r *puppetRun) { r.act(2, func(p *puppet) { p.st.Log = ab[:1] }) },
		}, `n2 became leader of term 3, but its log ends at 1 and misses committed entry 2/1 "b" (committed by n1)`},
		{"the log differs, then the server restarts with the right log", []func(r *puppetRun){
			func(r *puppetRun) { r.act(1, commitAB) },
			func(r *puppetRun) { r.act(2, func(p *puppet) { p.st.Log = ay }) },
			func(r *puppetRun) {
				require.NoError(r.t, r.s.Crash(2))
				require.NoError(r.t, r.s.Restart(2))
				r.act(2, func(p *puppet) { p.st.Log = ab })
			},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPuppetRun(t, 3)
			for _, step := range tc.steps {
				step(r)
			}
			r.requireClean()
			r.act(2, lead(3))
			if tc.want == "" {
				r.requireClean()
				require.Zero(t, r.s.check.walks, "a complete leader was checked by reading every committed entry: the bookkeeping is off")
			} else {
				r.requireViolation(RuleLeaderCompleteness, tc.want)
			}
		})
	}
}

func TestCheckerStateMachineSafety(t *testing.T) {
	t.Run("commit", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a"); p.st.CommitIndex = 1 })
		r.act(2, func(p *puppet) { p.st.Log = entries(2, 1, "b"); p.st.CommitIndex = 1 })
		r.requireViolation(RuleStateMachineSafety, `n2 committed 1/2 "b" at index 1, but n1 had committed 1/1 "a" there`)
	})
	t.Run("apply", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) {
			p.st.Log = entries(1, 1, "a")
			p.st.CommitIndex = 1
			p.env.Apply(p.st.Log[0])
		})
		r.requireClean()
		// n2's log diverges without being committed, then it applies anyway.
		r.act(2, func(p *puppet) { p.st.Log = entries(2, 1, "b") })
		r.act(2, func(p *puppet) { p.st.CommitIndex = 1; p.env.Apply(p.st.Log[0]) })
		r.requireViolation(RuleStateMachineSafety, `n2 committed 1/2 "b" at index 1, but n1 had committed 1/1 "a" there`)
	})
}

func TestCheckerTermNeverDecreases(t *testing.T) {
	t.Run("in memory", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Term = 3 })
		r.act(1, func(p *puppet) { p.st.Term = 2 })
		r.requireViolation(RuleTermNeverDecreases, "n1's currentTerm went from 3 back to 2")
	})
	t.Run("in storage", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.env.SaveHardState(raft.HardState{CurrentTerm: 3}) })
		r.act(1, func(p *puppet) { p.env.SaveHardState(raft.HardState{CurrentTerm: 2}) })
		r.requireViolation(RuleTermNeverDecreases, "n1 saved currentTerm 2 after saving 3")
	})
}

func grant(to raft.NodeID, term uint64) func(p *puppet) {
	return func(p *puppet) {
		p.env.Send(raft.Message{Type: raft.RequestVoteReply, To: to, Term: term, VoteGranted: true})
	}
}

func TestCheckerOneVotePerTerm(t *testing.T) {
	t.Run("twice in a row", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, grant(2, 4))
		r.act(1, grant(2, 4)) // the same vote again is fine
		r.requireClean()
		r.act(1, grant(3, 4))
		r.requireViolation(RuleOneVotePerTerm, "n1 granted its vote in term 4 to n3, after granting it to n2 in the same term")
	})
	t.Run("across a crash", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, grant(2, 4))
		require.NoError(t, r.s.Crash(1))
		require.NoError(t, r.s.Restart(1))
		r.act(1, grant(3, 4))
		r.requireViolation(RuleOneVotePerTerm, "n1 granted its vote in term 4 to n3, after granting it to n2 in the same term")
	})
	t.Run("stored vote changed", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.env.SaveHardState(raft.HardState{CurrentTerm: 4, VotedFor: 2}) })
		r.act(1, func(p *puppet) { p.env.SaveHardState(raft.HardState{CurrentTerm: 4, VotedFor: 3}) })
		r.requireViolation(RuleOneVotePerTerm, "n1 saved votedFor n3 in term 4 after saving votedFor n2 in that term")
	})
}

func TestCheckerCommitRules(t *testing.T) {
	t.Run("commit goes back", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a", "b"); p.st.CommitIndex = 2 })
		r.act(1, func(p *puppet) { p.st.CommitIndex = 1 })
		r.requireViolation(RuleCommitNeverDecrease, "n1's commitIndex went from 2 back to 1")
	})
	t.Run("commit past the log", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a"); p.st.CommitIndex = 3 })
		r.requireViolation(RuleCommitWithinLog, "n1 set commitIndex to 3, but its log ends at 1")
	})
	t.Run("committed entry deleted", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a", "b"); p.st.CommitIndex = 2 })
		r.act(1, func(p *puppet) { p.st.Log = p.st.Log[:1] })
		r.requireViolation(RuleCommitWithinLog, "n1's log now ends at 1, below its commitIndex 2")
	})
}

func TestCheckerApplyRules(t *testing.T) {
	t.Run("gap", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a", "b"); p.st.CommitIndex = 2; p.env.Apply(p.st.Log[1]) })
		r.requireViolation(RuleApplyInOrder, "n1 applied index 2 right after index 0")
	})
	t.Run("twice", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a"); p.st.CommitIndex = 1; p.env.Apply(p.st.Log[0]) })
		r.act(1, func(p *puppet) { p.env.Apply(p.st.Log[0]) })
		r.requireViolation(RuleApplyInOrder, "n1 applied index 1 right after index 1")
	})
	t.Run("not committed", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) { p.st.Log = entries(1, 1, "a"); p.env.Apply(p.st.Log[0]) })
		r.requireViolation(RuleApplyOnlyCommitted, "n1 applied index 1, but its commitIndex is 0")
	})
	t.Run("not its own entry", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) {
			p.st.Log = entries(1, 1, "a")
			p.st.CommitIndex = 1
			p.env.Apply(raft.Entry{Index: 1, Term: 1, Command: []byte("z")})
		})
		r.requireViolation(RuleApplyInOrder, `n1 applied 1/1 "z", which is not the entry its log holds at index 1`)
	})
}

func TestCheckerLogIndexes(t *testing.T) {
	r := newPuppetRun(t, 3)
	r.act(1, func(p *puppet) { p.st.Log = entries(1, 5, "a") })
	r.requireViolation(RuleLogIndexes, "n1's log holds an entry with index 5 at position 1")
}

func TestCheckerRestartRules(t *testing.T) {
	t.Run("state not restored", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.act(1, func(p *puppet) {
			p.st.Term = 3
			p.env.SaveHardState(raft.HardState{CurrentTerm: 3, VotedFor: 2})
		})
		require.NoError(t, r.s.Crash(1))
		// A puppet restores what it is given; this one is given nothing, as if
		// its constructor ignored what was saved.
		r.s.opts.New = func(cfg raft.Config, _ raft.Saved, env raft.Env) raft.Node {
			return r.ps.newPuppet(cfg, raft.Saved{}, env)
		}
		require.NoError(t, r.s.Restart(1))
		r.requireViolation(RuleRestoreState, "n1 restarted with currentTerm 0, but it had saved currentTerm 3")
	})
	t.Run("volatile state restored", func(t *testing.T) {
		r := newPuppetRun(t, 3)
		r.s.opts.New = func(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
			p := r.ps.newPuppet(cfg, saved, env).(*puppet)
			p.st.CommitIndex = uint64(len(saved.Log)) // as if commitIndex were durable
			return p
		}
		r.act(1, func(p *puppet) {
			p.st.Log = entries(1, 1, "a")
			p.env.SaveLog(1, p.st.Log)
		})
		require.NoError(t, r.s.Crash(1))
		require.NoError(t, r.s.Restart(1))
		r.requireViolation(RuleVolatileReset, "n1 restarted with commitIndex 1 and lastApplied 0")
	})
}

func TestCheckerStorageUse(t *testing.T) {
	r := newPuppetRun(t, 3)
	r.act(1, func(p *puppet) { p.env.SaveLog(3, entries(1, 3, "c")) })
	r.requireViolation(RuleStorageUse, "SaveLog from index 3, but the stored log ends at 0")
}

func TestCheckerNoPanic(t *testing.T) {
	r := newPuppetRun(t, 3)
	r.act(2, func(p *puppet) {
		var log []raft.Entry
		_ = log[p.st.Term+4] // index out of range
	})
	r.requireViolation(RuleNoPanic, "n2 panicked while ticking: runtime error: index out of range [4] with length 0 at lab/checker_test.go:")
	require.False(t, r.s.Up(2), "a node that panicked is halted")
	require.True(t, r.s.Up(1), "the others go on")
	r.s.RunFor(time.Second)
	require.NoError(t, r.s.Restart(2), "a halted node can be restarted")
}

// greedyNode runs elections but grants every vote it is asked for: the
// checker must catch it electing two leaders in one term.
type greedyNode struct {
	cfg      raft.Config
	env      raft.Env
	role     raft.Role
	term     uint64
	votes    int
	elapsed  int
	timeout  int
	leader   raft.NodeID
	votedFor raft.NodeID
}

func newGreedyNode(cfg raft.Config, _ raft.Saved, env raft.Env) raft.Node {
	g := &greedyNode{cfg: cfg, env: env}
	g.timeout = cfg.ElectionTicks() + env.Rand().IntN(cfg.ElectionTicks())
	return g
}

func (g *greedyNode) broadcast(m raft.Message) {
	for _, p := range g.cfg.PeerIDs() {
		if p != g.cfg.ID {
			m.To = p
			g.env.Send(m)
		}
	}
}

func (g *greedyNode) Tick() {
	g.elapsed++
	if g.role == raft.Leader {
		if g.elapsed >= g.cfg.HeartbeatTicks() {
			g.elapsed = 0
			g.broadcast(raft.Message{Type: raft.AppendEntries, Term: g.term})
		}
		return
	}
	if g.elapsed >= g.timeout {
		g.elapsed = 0
		g.term++
		g.role, g.votes, g.leader, g.votedFor = raft.Candidate, 1, raft.None, g.cfg.ID
		g.broadcast(raft.Message{Type: raft.RequestVote, Term: g.term})
	}
}

func (g *greedyNode) Step(m raft.Message) {
	if m.Term > g.term {
		g.term, g.role, g.leader, g.votedFor = m.Term, raft.Follower, raft.None, raft.None
	}
	switch m.Type {
	case raft.RequestVote: // the bug: no check of votedFor
		g.votedFor = m.From
		g.env.Send(raft.Message{Type: raft.RequestVoteReply, To: m.From, Term: g.term, VoteGranted: true})
	case raft.RequestVoteReply:
		if g.role == raft.Candidate && m.Term == g.term && m.VoteGranted {
			g.votes++
			if g.votes > len(g.cfg.Peers)/2 {
				g.role, g.leader = raft.Leader, g.cfg.ID
				g.broadcast(raft.Message{Type: raft.AppendEntries, Term: g.term})
			}
		}
	case raft.AppendEntries:
		if m.Term == g.term {
			g.role, g.leader, g.elapsed = raft.Follower, m.From, 0
		}
	}
}

func (g *greedyNode) Propose([]byte) (uint64, uint64, bool) { return 0, g.term, false }

func (g *greedyNode) Status() raft.Status {
	return raft.Status{ID: g.cfg.ID, Role: g.role, Term: g.term, Leader: g.leader, VotedFor: g.votedFor,
		ElectionElapsed: g.elapsed, ElectionTimeout: g.timeout}
}

func TestCheckerCatchesGreedyVoter(t *testing.T) {
	caught := 0
	for seed := range uint64(10) {
		s, err := New(Options{Nodes: 5, Seed: seed, New: newGreedyNode, SyncTicks: true})
		require.NoError(t, err)
		found := func() *Violation {
			for _, v := range s.Violations() {
				if v.Rule == RuleElectionSafety {
					return &v
				}
			}
			return nil
		}
		// Crash whoever leads every second, so that there are many elections.
		for s.Now() < time.Minute && found() == nil {
			s.RunFor(time.Second)
			var leaders []raft.NodeID // every server that believes it leads, not only View.Leader
			for _, n := range s.View().Nodes {
				if n.Up && n.Role == raft.Leader {
					leaders = append(leaders, n.ID)
				}
			}
			for _, id := range leaders {
				require.NoError(t, s.Crash(id))
				s.RunFor(300 * time.Millisecond)
				require.NoError(t, s.Restart(id))
			}
		}
		if v := found(); v != nil {
			require.Equal(t, seed, v.Seed)
			require.Contains(t, v.Text, "became leader of term")
			caught++
		}
	}
	require.GreaterOrEqual(t, caught, 8, "a node that grants every vote elects two leaders in a term sooner or later")
}
