package grade

import (
	"cmp"
	"fmt"
	"github.com/raftlab/raftlab/lab"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Kind is the kind of points a test gives.
type Kind int

const (
	// Correctness: is it Raft? Safety (the checker's rules, on every event)
	// and liveness (a leader is elected, commands commit) under the faults the
	// test makes. Pass or fail, and never dependent on an optimisation the
	// paper calls optional, on the exact tick an election starts, or on how
	// the reference happens to pace its messages.
	Correctness Kind = iota
	// Efficiency: is it frugal? Messages, bytes or round trips measured
	// against a budget derived from the configuration by a formula written in
	// exercises/GRADING.md, with at least MIT 6.5840's slack, and met by a
	// plain Figure 2 implementation that sends nothing needless.
	Efficiency
)

func (k Kind) String() string {
	if k == Efficiency {
		return "efficiency"
	}
	return "correctness"
}

// Test is one graded test: a behaviour a student can name, checked at many
// seeds with the safety checker on.
type Test struct {
	Stage  int
	Name   string
	What   string // what it checks, in a sentence
	Kind   Kind
	Points int
	// Nodes is the cluster size; Seeds how many seeds it runs at (DefaultSeeds if 0).
	Nodes int
	Seeds int
	// lab.Network is the network at the start (lab.DefaultNetwork if zero).
	Network lab.Network
	// SyncTicks starts every clock ticking at the same instants.
	SyncTicks bool
	// SnapshotEvery: the state machine hands its node a snapshot every so many
	// applied entries (lab.Options.SnapshotEvery; stage 4).
	SnapshotEvery int
	Run           func(h *Harness)
}

// DefaultSeeds is how many seeds each test runs at.
const DefaultSeeds = 50

// ID names a test as stage/Name, e.g. "1/InitialElection".
func (t *Test) ID() string { return fmt.Sprintf("%d/%s", t.Stage, t.Name) }

// SeedsToRun is how many seeds t runs at: t.Seeds, or DefaultSeeds, times the
// whole number in $RAFTLAB_SEEDS_FACTOR if it is set (for longer bug hunts).
func (t *Test) SeedsToRun() int {
	n := t.Seeds
	if n == 0 {
		n = DefaultSeeds
	}
	if f, err := strconv.Atoi(os.Getenv("RAFTLAB_SEEDS_FACTOR")); err == nil && f > 1 {
		n *= f
	}
	return n
}

// Seed is the seed of a test's k-th run (k from 0). Each test has its own
// seeds, so that tests don't all share their first schedules.
func (t *Test) Seed(k int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(t.ID()))
	return h.Sum64()%1_000_000*1000 + uint64(k) + 1
}

// Stages names the stages, in order.
var Stages = []struct {
	Number int
	Name   string
	File   string // the file of the exercise where the stage's stubs are
}{
	{1, "leader election", "election.go"},
	{2, "log replication", "replication.go"},
	{3, "persistence", "persistence.go"},
	{4, "log compaction", "snapshot.go"},
}

// StageName names stage n.
func StageName(n int) string {
	for _, s := range Stages {
		if s.Number == n {
			return s.Name
		}
	}
	return "stage " + fmt.Sprint(n)
}

// Tests returns the graded tests of stage n, or nil if there is no such stage.
func Tests(stage int) []*Test {
	switch stage {
	case 1:
		return stage1Tests
	case 2:
		return stage2Tests
	case 3:
		return stage3Tests
	case 4:
		return stage4Tests
	}
	return nil
}

// FindTest finds a test by its ID ("1/InitialElection") or its name.
func FindTest(name string) (*Test, error) {
	var names []string
	for _, st := range Stages {
		for _, t := range Tests(st.Number) {
			if t.ID() == name || t.Name == name {
				return t, nil
			}
			names = append(names, t.ID())
		}
	}
	return nil, fmt.Errorf("lab: there is no test %q; the tests are: %s", name, strings.Join(names, ", "))
}

// Failure says why a test failed at one seed.
type Failure struct {
	Impl string        `json:"impl"`
	Test string        `json:"test"`
	Seed uint64        `json:"seed"`
	Time time.Duration `json:"t"`
	// Rule is the safety rule broken, or the check that failed ("one leader").
	Rule string `json:"rule"`
	// Kind is Efficiency when a budget was exceeded, else Correctness.
	Kind Kind `json:"kind"`
	// Message says what happened.
	Message string `json:"message"`
	// Scene, for a server that panicked, says what the trace shows it was
	// doing (the message or command, its state before) and the rules that
	// apply to it, in lines (report_panic.go).
	Scene string `json:"scene,omitempty"`
	// lab.Violation is set when a safety rule broke.
	Violation *lab.Violation `json:"violation,omitempty"`
	// lab.Trace is the file the run was written to, if it could be.
	Trace string `json:"trace,omitempty"`
	// TraceError says, when no trace could be written, where it would have
	// gone and why it was not written.
	TraceError string `json:"traceError,omitempty"`
	// Recent lists the last events of the run, for context.
	Recent []string `json:"recent,omitempty"`
	// Nondeterministic is set when running the same seed again did not fail
	// the same way.
	Nondeterministic bool `json:"nondeterministic,omitempty"`
}

// Result is the outcome of one test at one seed.
type Result struct {
	Seed    uint64
	Failure *Failure
	Events  uint64
	Elapsed time.Duration
	Stats   lab.Stats
}

// RunTest runs test t on impl at one seed. A failure is written to a trace
// file under traceDir (unless traceDir is "") so that it can be replayed.
func RunTest(impl lab.Implementation, t *Test, seed uint64, traceDir string) Result {
	start := time.Now()
	res := runOnce(impl, t, seed, nil)
	res.Elapsed = time.Since(start)
	if res.Failure != nil {
		res.Failure.Impl = impl.Name
	}
	if res.Failure != nil && traceDir != "" {
		writeFailureTrace(impl, t, seed, traceDir, res.Failure)
	}
	return res
}

// Options are the simulator options test t runs with at seed, on impl.
func (t *Test) Options(impl lab.Implementation, seed uint64) lab.Options {
	nodes := t.Nodes
	if nodes == 0 {
		nodes = 3
	}
	net := t.Network
	if net == (lab.Network{}) {
		net = lab.DefaultNetwork()
	}
	return lab.Options{Nodes: nodes, Seed: seed, New: impl.New, Impl: impl.Name, Network: net, SyncTicks: t.SyncTicks, SnapshotEvery: t.SnapshotEvery}
}

func runOnce(impl lab.Implementation, t *Test, seed uint64, sink func(*raft.Event)) (res Result) {
	res.Seed = seed
	opts := t.Options(impl, seed)
	h := &Harness{
		seed:      seed,
		rng:       rand.New(rand.NewPCG(seed, 0x7e57)),
		connected: make([]bool, opts.Nodes),
		maxEvents: 5_000_000,
		maxTime:   10 * time.Minute,
	}
	opts.Sink = func(e *raft.Event) {
		h.observe(e)
		if sink != nil {
			sink(e)
		}
	}
	sim, err := lab.New(opts)
	if err != nil {
		res.Failure = &Failure{Test: t.ID(), Seed: seed, Rule: "setup", Message: err.Error()}
		return res
	}
	h.sim = sim
	for i := range h.connected {
		h.connected[i] = true
	}
	defer func() {
		res.Events = sim.Stats().Events
		res.Stats = sim.Stats()
		r := recover()
		if vs := sim.Violations(); len(vs) > 0 {
			// A broken rule is the root of whatever the test tripped on
			// after it (a server that panicked has no Status to check).
			r = vs[0]
		}
		switch f := r.(type) {
		case nil:
		case failure:
			res.Failure = &Failure{Test: t.ID(), Seed: seed, Time: sim.Now(), Rule: f.check, Kind: f.kind, Message: f.msg}
		case lab.Violation:
			res.Failure = &Failure{Test: t.ID(), Seed: seed, Time: f.Time, Rule: f.Rule, Message: f.Text, Scene: h.panicStory(f), Violation: &f}
		default:
			// A panic outside the servers (the simulator turns theirs into
			// No Panic violations): the checker or the test tripped on
			// something. It is reported like any failure, with where it
			// happened, and the grade goes on with the other seeds and tests.
			site, fn := panicSite()
			res.Failure = &Failure{Test: t.ID(), Seed: seed, Time: sim.Now(), Rule: "lab error in " + fn,
				Message: fmt.Sprintf("the lab panicked at %s (%s): %v. "+
					"Your servers did something the lab did not expect; the events below lead up to it. "+
					"Please report this with the command that replays it", site, fn, r)}
		}
	}()
	t.Run(h)
	h.checkSafety()
	return res
}

// panicSite names the function and file:line where the panic being
// recovered was raised, from inside the deferred call that recovers it.
func panicSite() (site, fn string) {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" {
			panicking = true
		} else if panicking && !strings.HasPrefix(f.Function, "runtime.") {
			name := f.Function[strings.LastIndex(f.Function, "/")+1:]
			return fmt.Sprintf("%s:%d", filepath.Join(filepath.Base(filepath.Dir(f.File)), filepath.Base(f.File)), f.Line), name
		}
		if !more {
			return "an unknown place", "unknown"
		}
	}
}

// writeFailureTrace runs the failing seed again, writing every event to a
// trace file, and checks that it fails the same way.
func writeFailureTrace(impl lab.Implementation, t *Test, seed uint64, dir string, f *Failure) {
	name := fmt.Sprintf("%s-stage%d-%s-seed%d.jsonl", impl.Name, t.Stage, t.Name, seed)
	path := filepath.Join(dir, name)
	file, err := lab.CreateTraceFile(dir, name) // private folder, no symbolic links followed
	if err != nil {
		f.TraceError = fmt.Sprintf("No trace was written (it would have gone to %s): %v", path, err)
		return
	}
	defer file.Close()
	hdr := lab.HeaderFor(t.Options(impl, seed))
	hdr.Test = t.ID()
	tw, err := lab.NewTraceWriter(file, hdr)
	if err != nil {
		f.TraceError = fmt.Sprintf("No trace was written (to %s): %v", path, err)
		return
	}
	var cause uint64 // the event that broke the rule: the window ends there
	if f.Violation != nil {
		cause = f.Violation.Cause
	}
	w := newEventWindow(16, cause)
	again := runOnce(impl, t, seed, func(e *raft.Event) {
		tw.Write(e)
		w.see(e)
	})
	if err := tw.Flush(); err != nil {
		f.TraceError = fmt.Sprintf("No trace was written in full (to %s): %v", path, err)
		return
	}
	f.Trace = path
	f.Recent = w.lines()
	if again.Failure == nil || again.Failure.Rule != f.Rule || again.Failure.Time != f.Time || again.Failure.Kind != f.Kind {
		f.Nondeterministic = true
	}
}

// eventWindow keeps the events a failure report shows: the last n that are
// not routine up to the event that broke the rule (never after it), that
// event itself, the message delivery that led to it, and the last crash,
// restart, partition or other command that set the scene, even if it
// happened long before.
type eventWindow struct {
	n     int
	cause uint64 // 0: the window runs to the end of the run
	shown []raft.Event
	// lastIn is the last delivery to each server, routine or not; setup
	// the last command from outside (crash, restart, partition, network, hold ...).
	lastIn map[raft.NodeID]raft.Event
	// setups holds the last command from outside of each kind for each
	// server (crash, restart, timeout, hold ...; partition and network
	// settings under server 0).
	setups map[setupKey]raft.Event
}

type setupKey struct {
	kind raft.EventKind
	node raft.NodeID
}

func newEventWindow(n int, cause uint64) *eventWindow {
	return &eventWindow{n: n, cause: cause, lastIn: map[raft.NodeID]raft.Event{}, setups: map[setupKey]raft.Event{}}
}

func (w *eventWindow) see(e *raft.Event) {
	if w.cause != 0 && e.Seq > w.cause {
		if e.Kind == raft.EvViolation && len(w.shown) > 0 && w.shown[len(w.shown)-1].Seq == w.cause {
			w.keep(*e) // the violation the cause raised, right after it
		}
		return
	}
	if e.Kind.IsCommand() && e.Kind != raft.EvPropose {
		node := e.Node
		if e.Kind == raft.EvPartition || e.Kind == raft.EvNetwork {
			node = 0
		}
		w.setups[setupKey{e.Kind, node}] = *e
	}
	if e.Seq == w.cause {
		// The input that led to the cause: the last delivery to its server.
		if in, ok := w.lastIn[e.Node]; ok && (len(w.shown) == 0 || w.shown[len(w.shown)-1].Seq < in.Seq) {
			w.keep(in)
		}
		w.keep(*e)
		return
	}
	if e.Kind == raft.EvDeliver {
		w.lastIn[e.Node] = *e
	}
	if !routine(e) {
		w.keep(*e)
	}
}

func (w *eventWindow) keep(e raft.Event) {
	if len(w.shown) == w.n {
		copy(w.shown, w.shown[1:])
		w.shown = w.shown[:w.n-1]
	}
	w.shown = append(w.shown, e)
}

// lines gives the window as text, oldest first. The commands that set the
// scene and fell out of it come first, marked off: the last four of the
// last partition, network change, and crash, restart or other command aimed
// at each server.
func (w *eventWindow) lines() []string {
	var early []raft.Event
	for _, e := range w.setups {
		if len(w.shown) == 0 || e.Seq < w.shown[0].Seq {
			early = append(early, e)
		}
	}
	slices.SortFunc(early, func(a, b raft.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(early) > 4 {
		early = early[len(early)-4:]
	}
	var out []string
	for i := range early {
		out = append(out, early[i].String())
	}
	if len(early) > 0 {
		out = append(out, "...")
	}
	for i := range w.shown {
		out = append(out, w.shown[i].String())
	}
	return out
}

// routine reports whether an event is everyday heartbeat traffic, left out
// of a failure's list of recent events (the trace has everything).
func routine(e *raft.Event) bool {
	m := e.Msg
	switch e.Kind {
	case raft.EvSend, raft.EvDeliver, raft.EvDrop:
		return m != nil && (m.IsHeartbeat() || (m.Type == raft.AppendEntriesReply && m.Success))
	case raft.EvSaveState, raft.EvSaveLog:
		return true
	}
	return false
}

// Report describes a failure for a student: the rule, the seed, what happened,
// the last events, and how to replay the run.
func (f *Failure) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed at seed %d, %s of virtual time.\n", f.Test, f.Seed, raft.FormatTime(f.Time))
	switch {
	case f.Violation != nil:
		fmt.Fprintf(&b, "  Safety rule broken: %s — %s\n", f.Rule, lab.Rules[f.Rule])
		fmt.Fprintf(&b, "  What happened: %s (the rule broke at event #%d)\n", f.Message, f.Violation.Cause)
		if f.Scene != "" {
			fmt.Fprintf(&b, "  %s\n", indent(f.Scene))
		}
	case f.Kind == Efficiency:
		fmt.Fprintf(&b, "  Efficiency budget exceeded: %s (this costs efficiency points only: the run was correct)\n  What happened: %s\n", f.Rule, indent(f.Message))
		b.WriteString("  The budgets and their formulas: exercises/GRADING.md\n")
	default:
		fmt.Fprintf(&b, "  Check failed: %s\n  What happened: %s\n", f.Rule, indent(f.Message))
	}
	if len(f.Recent) > 0 {
		b.WriteString("  The events that led to it (heartbeats left out; the trace has them all):\n")
		for _, e := range f.Recent {
			b.WriteString("      " + e + "\n")
		}
	}
	if f.Nondeterministic {
		b.WriteString("  Warning: running this seed again did not fail the same way. A node must be deterministic:\n" +
			"  no goroutines, no time.Now or timers, no global math/rand, no ranging over maps into messages.\n")
	}
	fmt.Fprintf(&b, "  Run it again:             go run ./cmd/raftviz grade -impl %s -test %s -seed %d\n", f.Impl, f.Test, f.Seed)
	if f.Trace != "" {
		fmt.Fprintf(&b, "  Watch it in the browser:  go run ./cmd/raftviz replay %s\n", f.Trace)
	}
	if f.TraceError != "" {
		fmt.Fprintf(&b, "  %s\n", f.TraceError)
	}
	return b.String()
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// TraceDir is where failing runs are written: $RAFTLAB_TRACES, or the
// user's own folder in the system's temporary directory (lab.DefaultTraceDir).
func TraceDir() string {
	if d := os.Getenv("RAFTLAB_TRACES"); d != "" {
		return d
	}
	return lab.DefaultTraceDir()
}
