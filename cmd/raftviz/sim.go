package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// simFlags are the options of a headless run.
type simFlags struct {
	impl      string
	seed      uint64
	seeds     int
	nodes     int
	duration  time.Duration
	loss      float64
	dup       float64
	reorder   float64
	propose   float64
	churn     bool
	tracePath string
}

func simCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f simFlags
	fs := newFlags("sim", "sim [-impl NAME] [-seed N] [-seeds K] [-nodes N] [-for D] [-loss P] [-propose R] [-churn] [-trace FILE]", stderr)
	implOf := implFlag(fs, "solutions", "implementation to run")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the run; the same seed and flags give the same run")
	fs.IntVar(&f.seeds, "seeds", 1, "run this many seeds, from -seed on, and stop at the first violation")
	fs.IntVar(&f.nodes, "nodes", 5, "number of servers")
	fs.DurationVar(&f.duration, "for", 60*time.Second, "virtual time to run for")
	fs.Float64Var(&f.loss, "loss", 0, "probability that the network loses a message")
	fs.Float64Var(&f.dup, "dup", 0, "probability that the network duplicates a message")
	fs.Float64Var(&f.reorder, "reorder", 0, "probability that a message overtakes others on its link")
	fs.Float64Var(&f.propose, "propose", 5, "commands proposed to the leader per second of virtual time")
	fs.BoolVar(&f.churn, "churn", false, "crash, restart and cut off random servers every few seconds")
	fs.StringVar(&f.tracePath, "trace", "", "write every event to this file (JSON lines); one seed only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	impl, err := implOf()
	if err != nil {
		return err
	}
	f.impl = impl.Name
	if err := checkNodes(f.nodes); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", f.loss}, {"dup", f.dup}, {"reorder", f.reorder}} {
		if err := checkProbability(p.name, p.v); err != nil {
			return err
		}
	}
	switch {
	case f.duration <= 0:
		return usagef("-for %v: the run must last a positive time", f.duration)
	case f.seeds < 1:
		return usagef("-seeds %d: run at least one seed", f.seeds)
	case !(f.propose >= 0 && f.propose <= 10000): // NaN too
		return usagef("-propose %v: between 0 and 10000 commands per second", f.propose)
	case f.seed+uint64(f.seeds-1) < f.seed:
		return usagef("-seed %d -seeds %d: the seeds would go past the largest seed, %d", f.seed, f.seeds, uint64(math.MaxUint64))
	case f.tracePath != "" && f.seeds > 1:
		return usagef("-trace writes one run: use it with -seeds 1")
	}
	if f.seeds > 1 {
		return simSeeds(ctx, impl, f, stdout)
	}
	sum, err := simOnce(ctx, impl, f, f.seed)
	if err != nil {
		return err
	}
	sum.write(stdout)
	if len(sum.violations) > 0 {
		return exitError{1}
	}
	return nil
}

// simSeeds runs many seeds and reports the first one that breaks a rule.
func simSeeds(ctx context.Context, impl lab.Implementation, f simFlags, stdout io.Writer) error {
	start := time.Now()
	var events uint64
	for k := range f.seeds {
		seed := f.seed + uint64(k)
		sum, err := simOnce(ctx, impl, f, seed)
		if err != nil {
			var ie interruptedError
			if errors.As(err, &ie) {
				err = interrupted("%s, after %d clean seeds", ie.where, k)
			}
			return err
		}
		events += sum.stats.Events
		if len(sum.violations) > 0 {
			sum.write(stdout)
			fmt.Fprintf(stdout, "\nseed %d broke a rule (after %d clean seeds); write its trace with:\n  raftviz sim %s -seed %d -trace run.jsonl\n",
				seed, k, strings.Join(simArgs(f), " "), seed)
			return exitError{1}
		}
	}
	fmt.Fprintf(stdout, "%d seeds (%d to %d) of %v each on %s: no violation (%d events, %.1fs of wall time)\n",
		f.seeds, f.seed, f.seed+uint64(f.seeds)-1, f.duration, impl.Name, events, time.Since(start).Seconds())
	return nil
}

// simArgs rebuilds the flags of f, except the seed, for a command to print.
func simArgs(f simFlags) []string {
	args := []string{"-impl", f.impl, "-nodes", fmt.Sprint(f.nodes), "-for", f.duration.String()}
	if f.loss > 0 {
		args = append(args, "-loss", fmt.Sprint(f.loss))
	}
	if f.dup > 0 {
		args = append(args, "-dup", fmt.Sprint(f.dup))
	}
	if f.reorder > 0 {
		args = append(args, "-reorder", fmt.Sprint(f.reorder))
	}
	if f.propose != 5 {
		args = append(args, "-propose", fmt.Sprint(f.propose))
	}
	if f.churn {
		args = append(args, "-churn")
	}
	return args
}

// simSummary is what a headless run found.
type simSummary struct {
	impl       string
	flags      simFlags
	seed       uint64
	wall       time.Duration
	leaders    map[uint64]raft.NodeID
	maxTerm    uint64
	stats      lab.Stats
	proposed   int
	committed  uint64
	view       *lab.View
	violations []lab.Violation
	traceFile  string
}

func simOnce(ctx context.Context, impl lab.Implementation, f simFlags, seed uint64) (*simSummary, error) {
	net := lab.DefaultNetwork()
	net.Loss, net.Duplicate, net.Reorder = f.loss, f.dup, f.reorder
	opts := lab.Options{Nodes: f.nodes, Seed: seed, New: impl.New, Impl: impl.Name, Network: net}
	sum := &simSummary{impl: impl.Name, flags: f, seed: seed, leaders: map[uint64]raft.NodeID{}}
	var tw *lab.TraceWriter
	if f.tracePath != "" {
		file, err := os.Create(f.tracePath)
		if err != nil {
			return nil, fmt.Errorf("cannot write the trace: %w", err)
		}
		defer file.Close()
		if tw, err = lab.NewTraceWriter(file, lab.HeaderFor(opts)); err != nil {
			return nil, err
		}
		sum.traceFile = f.tracePath
	}
	opts.Sink = func(e *raft.Event) {
		if e.Kind == raft.EvRole && e.Role == raft.Leader {
			sum.leaders[e.Term] = e.Node
		}
		if e.Kind == raft.EvTerm {
			sum.maxTerm = max(sum.maxTerm, e.Term)
		}
		if tw != nil {
			tw.Write(e)
		}
	}
	start := time.Now()
	s, err := lab.New(opts)
	if err != nil {
		return nil, err
	}
	// The workload's own choices come from a source seeded apart from the
	// cluster's, so the run is still a function of the seed and the flags.
	rng := rand.New(rand.NewPCG(seed, 0x5151))
	const step = 10 * time.Millisecond
	var owed float64
	nextChurn := 3 * time.Second
	var down []raft.NodeID
	for s.Now() < f.duration {
		if ctx.Err() != nil {
			return nil, interrupted("at seed %d, %v of %v of virtual time (%d events)", seed, s.Now(), f.duration, s.Seq())
		}
		s.RunFor(step)
		owed += f.propose * step.Seconds()
		for ; owed >= 1; owed-- {
			if leader, _ := s.View().Leader(); leader != raft.None {
				sum.proposed++
				if _, _, _, err := s.Propose(leader, []byte(fmt.Sprintf("cmd-%d", sum.proposed))); err != nil {
					return nil, err
				}
			}
		}
		if f.churn && s.Now() >= nextChurn {
			nextChurn += time.Duration(1+rng.IntN(3)) * time.Second
			churn(s, rng, &down)
		}
	}
	sum.wall = time.Since(start)
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return nil, err
		}
	}
	sum.stats = s.Stats()
	sum.view = s.View()
	sum.violations = s.Violations()
	for _, n := range sum.view.Nodes {
		sum.committed = max(sum.committed, n.Commit)
	}
	return sum, nil
}

// churn crashes or cuts off one random server, or brings one back.
func churn(s *lab.Sim, rng *rand.Rand, down *[]raft.NodeID) {
	n := len(s.View().Nodes)
	if len(*down) > 0 && (rng.IntN(2) == 0 || 2*len(*down) >= n-1) {
		id := (*down)[0]
		*down = (*down)[1:]
		if !s.Up(id) {
			_ = s.Restart(id)
		}
		s.Heal()
		return
	}
	id := raft.NodeID(rng.IntN(n) + 1)
	if !s.Up(id) {
		return
	}
	if rng.IntN(2) == 0 {
		_ = s.Crash(id)
	} else {
		_ = s.Isolate(id)
	}
	*down = append(*down, id)
}

func (sum *simSummary) write(w io.Writer) {
	f := sum.flags
	fmt.Fprintf(w, "raftviz sim: %s, %d nodes, seed %d, %v of virtual time in %.2fs of wall time\n",
		sum.impl, f.nodes, sum.seed, f.duration, sum.wall.Seconds())
	fmt.Fprintf(w, "network:     latency 1–10ms, loss %g, duplicate %g, reorder %g%s\n", f.loss, f.dup, f.reorder, map[bool]string{true: ", churn on", false: ""}[f.churn])

	terms := make([]uint64, 0, len(sum.leaders))
	for t := range sum.leaders {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i] < terms[j] })
	var parts []string
	for _, t := range terms {
		parts = append(parts, fmt.Sprintf("%d:%v", t, sum.leaders[t]))
	}
	leaderless := int(sum.maxTerm) - len(terms)
	fmt.Fprintf(w, "leaders:     %s", strings.Join(limit(parts, 12), " "))
	if len(terms) == 0 {
		fmt.Fprint(w, "none elected")
	}
	fmt.Fprintf(w, "  (terms reached: %d; %d without a leader)\n", sum.maxTerm, max(leaderless, 0))
	fmt.Fprintf(w, "elections:   %d started\n", sum.stats.Elections)
	st := sum.stats
	fmt.Fprintf(w, "messages:    %d sent (RequestVote %d, AppendEntries %d, replies %d), %d delivered, %d dropped\n",
		st.Messages(), st.Sent[raft.RequestVote], st.Sent[raft.AppendEntries],
		st.Sent[raft.RequestVoteReply]+st.Sent[raft.AppendEntriesReply], st.Delivered, st.Dropped)
	fmt.Fprintf(w, "commands:    %d proposed, %d committed\n", sum.proposed, sum.committed)
	var state []string
	for _, n := range sum.view.Nodes {
		s := fmt.Sprintf("%v %v t%d log=%d commit=%d", n.ID, n.Role, n.Term, n.LastIndex(), n.Commit)
		if !n.Up {
			s = fmt.Sprintf("%v down", n.ID)
		}
		state = append(state, s)
	}
	fmt.Fprintf(w, "at the end:  %s\n", strings.Join(state, " | "))
	fmt.Fprintf(w, "events:      %d\n", st.Events)
	if sum.traceFile != "" {
		fmt.Fprintf(w, "trace:       %s (watch it with: raftviz replay %s)\n", sum.traceFile, sum.traceFile)
	}
	if len(sum.violations) == 0 {
		fmt.Fprintln(w, "violations:  none")
		return
	}
	fmt.Fprintf(w, "violations:  %d\n", len(sum.violations))
	for i, v := range sum.violations {
		if i == 5 {
			fmt.Fprintf(w, "  … and %d more\n", len(sum.violations)-5)
			break
		}
		fmt.Fprintf(w, "  %s\n", v.String())
	}
}

func limit(parts []string, n int) []string {
	if len(parts) <= n {
		return parts
	}
	return append(parts[:n:n], fmt.Sprintf("… (%d more)", len(parts)-n))
}
