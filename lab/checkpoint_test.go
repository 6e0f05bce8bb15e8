package lab

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/exercises"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// liveRun is a run driven as a session drives one: a Replayer at the end of
// its recording, advanced a frame at a time, with commands given between
// units of work and recorded, and checkpoints taken along the way.
type liveRun struct {
	r      *Replayer
	events [][]byte // every event, as the trace writes it
	cmds   []raft.Event
	cps    []*Checkpoint
}

func (l *liveRun) sink(e *raft.Event) {
	l.events = append(l.events, e.AppendJSON(nil))
	if e.Kind.IsCommand() {
		l.cmds = append(l.cmds, *e)
	}
}

// record adds the commands just applied to the recording.
func (l *liveRun) record() {
	for _, c := range l.cmds {
		l.r.Record(c)
	}
	l.cmds = l.cmds[:0]
}

// drive runs a session-like course with crashes, restarts, partitions,
// proposals and an unreliable network, taking a checkpoint every
// cpEvery units of work (so some fall between the actions of one node call).
func drive(t *testing.T, opts Options, seed uint64, cpEvery uint64) *liveRun {
	t.Helper()
	l := &liveRun{}
	opts.Sink = l.sink
	r, err := NewReplayer(opts, nil)
	require.NoError(t, err)
	l.r = r
	s := r.Sim
	rng := rand.New(rand.NewPCG(seed, 99))
	lastCP := uint64(0)
	for frame := range 120 {
		target := s.Now() + time.Duration(10+rng.IntN(40))*time.Millisecond
		for {
			if s.Steps()-lastCP >= cpEvery {
				cp, err := r.Checkpoint()
				require.NoError(t, err)
				l.cps = append(l.cps, cp)
				lastCP = s.Steps()
			}
			ok, err := r.Advance(target)
			require.NoError(t, err)
			if !ok {
				break
			}
		}
		require.NoError(t, r.RunUntil(target))
		id := raft.NodeID(1 + rng.IntN(opts.Nodes))
		switch rng.IntN(8) {
		case 0:
			if s.Up(id) {
				_ = s.Crash(id)
			} else {
				_ = s.Restart(id)
			}
		case 1:
			_ = s.Isolate(id)
		case 2:
			s.Heal()
		case 3, 4:
			_, _, _, _ = s.ProposeToLeader([]byte(fmt.Sprintf("c%d", frame)))
		case 5:
			if leader, _ := s.View().Leader(); leader != raft.None {
				_ = s.Crash(leader)
			}
		}
		l.record()
	}
	return l
}

// snapshotOf says everything a viewer or a test can ask a run at one point.
func snapshotOf(t *testing.T, r *Replayer) string {
	t.Helper()
	s := r.Sim
	type nodeState struct {
		Up     bool
		Status raft.Status
		Stored raft.Saved
		Apply  []raft.Entry
	}
	var nodes []nodeState
	for i := range s.Options().Nodes {
		id := raft.NodeID(i + 1)
		st, _ := s.Status(id)
		stored, _ := s.Stored(id)
		nodes = append(nodes, nodeState{s.Up(id), st, stored, s.Applied(id)})
	}
	b, err := json.Marshal(struct {
		Now        time.Duration
		Seq, Steps uint64
		Future     int
		View       *View
		Nodes      []nodeState
		InFlight   []InFlight
		Violations []Violation
		Stats      Stats
		Committed  uint64
	}{s.Now(), s.Seq(), s.Steps(), r.Future(), s.View(), nodes, s.InFlight(), s.Violations(), s.Stats(), s.HighestCommitted()})
	require.NoError(t, err)
	return string(b)
}

// onward runs r until virtual time until and returns the events, as the
// trace writes them.
func onward(t *testing.T, r *Replayer, until time.Duration) []string {
	t.Helper()
	var out []string
	prev := r.Sim.opts.Sink
	r.Sim.opts.Sink = func(e *raft.Event) { out = append(out, string(e.AppendJSON(nil))) }
	defer func() { r.Sim.opts.Sink = prev }()
	require.NoError(t, r.RunUntil(until))
	return out
}

// TestCheckpointResumesExactly: a seek to event k by way of a checkpoint —
// the latest one before k, resumed and run to k — stands exactly where a
// straight run from the seed to k stands (view, every node's status, storage
// and applied entries, messages on the way, violations, statistics), and
// goes on from there with the same events, byte for byte, as the original
// run did. Over many seeds, on the reference and on the exercise as shipped,
// with crashes, restarts, partitions, proposals, an unreliable network and
// compaction, at targets just before, at and just after checkpoints and at
// random.
func TestCheckpointResumesExactly(t *testing.T) {
	impls := []struct {
		name string
		new  raft.Constructor
	}{{"solutions", solutions.New}, {"exercises", exercises.New}}
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	for _, impl := range impls {
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", impl.name, seed), func(t *testing.T) {
				opts := Options{Nodes: 5, Seed: seed, New: impl.new, Impl: impl.name, Network: UnreliableNetwork()}
				if seed%3 == 0 {
					opts.SnapshotEvery = 5
				}
				l := drive(t, opts, seed, 61+seed*13)
				require.GreaterOrEqual(t, len(l.cps), 4, "the run is long enough for several checkpoints")
				cmds := l.r.Commands()
				opts.Sink = nil
				total := uint64(len(l.events))
				rng := rand.New(rand.NewPCG(seed, 7))
				var targets []uint64
				for _, cp := range l.cps {
					targets = append(targets, cp.Seq, cp.Seq+1, cp.Seq+2)
					if cp.Seq > 1 {
						targets = append(targets, cp.Seq-1)
					}
				}
				for range 8 {
					targets = append(targets, 1+rng.Uint64N(total))
				}
				for _, k := range targets {
					if k < 1 || k > total {
						continue
					}
					var from *Checkpoint
					for _, cp := range l.cps {
						if cp.Seq < k {
							from = cp
						}
					}
					if from == nil {
						continue
					}
					straight, err := NewReplayer(opts, cmds)
					require.NoError(t, err)
					require.NoError(t, straight.RunUntilSeq(k))
					resumed, err := from.Resume(cmds, nil)
					require.NoError(t, err)
					require.NoError(t, resumed.RunUntilSeq(k))
					require.Equal(t, snapshotOf(t, straight), snapshotOf(t, resumed),
						"the run at event %d, resumed from the checkpoint at event %d, differs from the straight run", k, from.Seq)
					// On past the end of the recording, to where the run goes by itself.
					until := l.r.Sim.Now() + 200*time.Millisecond
					a, b := onward(t, straight, until), onward(t, resumed, until)
					require.GreaterOrEqual(t, uint64(len(a)), total-k)
					require.Equal(t, a, b, "the events after %d differ (checkpoint at %d)", k, from.Seq)
					for i := range min(len(a), int(total-k)) {
						require.Equal(t, string(l.events[k+uint64(i)]), a[i], "the replay differs from the original run at event %d", k+uint64(i)+1)
					}
				}
			})
		}
	}
}

// TestCheckpointIsIndependent: running a resumed copy leaves the checkpoint,
// and the run it was taken from, untouched — two resumes of one checkpoint
// give the same events, and the original goes on as if nothing happened.
func TestCheckpointIsIndependent(t *testing.T) {
	opts := Options{Nodes: 3, Seed: 4, New: solutions.New, Impl: "solutions", Network: UnreliableNetwork()}
	r, err := NewReplayer(opts, nil)
	require.NoError(t, err)
	require.NoError(t, r.RunUntil(500*time.Millisecond))
	cp, err := r.Checkpoint()
	require.NoError(t, err)
	before := snapshotOf(t, r)
	first, err := cp.Resume(nil, nil)
	require.NoError(t, err)
	a := onward(t, first, 2*time.Second)
	require.Equal(t, before, snapshotOf(t, r), "running the copy changed the original")
	second, err := cp.Resume(nil, nil)
	require.NoError(t, err)
	require.Equal(t, a, onward(t, second, 2*time.Second), "two resumes of one checkpoint went different ways")
	require.Equal(t, a, onward(t, r, 2*time.Second), "the original went another way than its copy")
}

// closureNode is a node that keeps a function value: its captured state
// cannot be copied, so a checkpoint must refuse the run.
type closureNode struct {
	raft.Node
	next func() int
}

func TestCheckpointRefusesWhatItCannotCopy(t *testing.T) {
	opts := Options{Nodes: 3, Seed: 1, Impl: "closure", New: func(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
		n := 0
		return &closureNode{Node: solutions.New(cfg, saved, env), next: func() int { n++; return n }}
	}}
	r, err := NewReplayer(opts, nil)
	require.NoError(t, err)
	require.NoError(t, r.RunUntil(100*time.Millisecond))
	_, err = r.Checkpoint()
	require.ErrorContains(t, err, "func")
	require.ErrorContains(t, err, "next")
}

// TestGraphCopyKeepsShape: slices that share an array, a pointer into an
// array, two pointers to one object and a map reached twice are copied so
// that a write through one is seen through the other, as in the original.
func TestGraphCopyKeepsShape(t *testing.T) {
	type obj struct{ n int }
	type graph struct {
		all    []int
		head   []int
		tail   []int
		elem   *int
		a, b   *obj
		m1, m2 map[int]*obj
		iface  any
	}
	arr := make([]int, 8, 10)
	o := &obj{1}
	m := map[int]*obj{1: o}
	g := &graph{all: arr, head: arr[:3], tail: arr[5:], elem: &arr[6], a: o, b: o, m1: m, m2: m, iface: o}
	c, err := copyGraph(g)
	require.NoError(t, err)
	c.head[1] = 7
	require.Equal(t, 7, c.all[1])
	c.tail = append(c.tail, 9) // within capacity: the array's 9th element
	require.Equal(t, 9, c.all[:9][8])
	*c.elem = 5
	require.Equal(t, 5, c.all[6])
	require.Equal(t, 5, c.tail[1])
	c.a.n = 3
	require.Equal(t, 3, c.b.n)
	require.Equal(t, 3, c.m1[1].n)
	require.Same(t, c.a, c.m2[1])
	require.Same(t, c.a, c.iface.(*obj))
	c.m1[2] = &obj{}
	require.Len(t, c.m2, 2)
	// The original is untouched.
	require.Equal(t, []int{0, 0, 0, 0, 0, 0, 0, 0}, g.all)
	require.Equal(t, 1, o.n)
	require.Len(t, m, 1)
}
