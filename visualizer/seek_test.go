package visualizer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// courseState is what a viewer is shown of a run at one point, and more:
// the view, each node's status, the messages on the way with their keys,
// violations and where the run stands.
func courseState(t *testing.T, r *lab.Replayer, sent *sentMessages) string {
	t.Helper()
	s := r.Sim
	var status []raft.Status
	for i := range s.Options().Nodes {
		st, _ := s.Status(raft.NodeID(i + 1))
		status = append(status, st)
	}
	b, err := json.Marshal(struct {
		Now         time.Duration
		Seq, Steps  uint64
		View        *lab.View
		Status      []raft.Status
		InFlight    []inFlight
		Violations  []lab.Violation
		Stats       lab.Stats
		Future      int
		CommandsLen int
	}{s.Now(), s.Seq(), s.Steps(), s.View(), status, sent.inFlight(s.InFlight()), s.Violations(), s.Stats(), r.Future(), len(r.Commands())})
	require.NoError(t, err)
	return string(b)
}

// syncPost runs what a seek posts at once, on the test's goroutine, once
// wait is called.
type syncPost chan func()

func (p syncPost) post(f func()) bool { p <- f; return true }
func (p syncPost) wait()              { (<-p)() }

// TestSeekMatchesStraightRun drives a session's course as frames do — with
// crashes, partitions and proposals, checkpoints every few hundred units of
// work — then seeks (by event and by time, back and forth, so that seeks
// start from checkpoints, from where the run stands, and from the seed) and
// checks that each lands exactly where a straight run from the seed lands:
// the same state, the same messages with the same keys, and the same events
// frames from there on, byte for byte.
func TestSeekMatchesStraightRun(t *testing.T) {
	defer func(n uint64) { checkpointInterval = n }(checkpointInterval)
	checkpointInterval = 100
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			s, err := NewSession(SessionOptions{Impl: reference, Seed: seed, Network: lab.UnreliableNetwork()})
			require.NoError(t, err)
			c := &s.course
			rng := rand.New(rand.NewPCG(seed, 3))
			never := func(time.Time, int, int) bool { return false }
			for frame := range 150 {
				require.NoError(t, c.advance(time.Duration(5+rng.IntN(30))*time.Millisecond, never))
				c.rewinder.passed(c.r)
				sim := c.sim()
				id := raft.NodeID(1 + rng.IntN(5))
				switch rng.IntN(8) {
				case 0:
					if sim.Up(id) {
						require.NoError(t, c.record(sim.Crash(id)))
					} else {
						require.NoError(t, c.record(sim.Restart(id)))
					}
				case 1:
					require.NoError(t, c.record(sim.Isolate(id)))
				case 2:
					sim.Heal()
					require.NoError(t, c.record(nil))
				case 3:
					_, _, _, _ = sim.ProposeToLeader([]byte(fmt.Sprint("x", frame))) // refused when nobody leads
					require.NoError(t, c.record(nil))
				}
				c.takeBatch()
			}
			require.GreaterOrEqual(t, len(c.rewinder.cps), 4, "checkpoints were taken")
			horizon := c.horizon
			opts := c.opts
			cmds := c.r.Commands()
			p := make(syncPost, 1)
			for i := range 24 {
				to := seekTarget{BySeq: i%2 == 0, Seq: 1 + rng.Uint64N(horizon.Seq), Time: time.Duration(rng.Int64N(int64(horizon.Time)))}
				if i%6 == 1 { // just past a checkpoint
					cp := c.rewinder.cps[rng.IntN(len(c.rewinder.cps))]
					to.BySeq, to.Seq = true, cp.Seq+uint64(i%3)
				}
				var got error = errNotDone
				require.NoError(t, c.seek(to, p.post, func(err error) { got = err }))
				p.wait()
				require.NoError(t, got)

				// The straight run from the seed, with its own message keys.
				var sent sentMessages
				var straightEvents []raft.Event
				o := opts
				o.Sink = func(e *raft.Event) { sent.note(e); straightEvents = append(straightEvents, *e) }
				straight, err := lab.NewReplayer(o, cmds)
				require.NoError(t, err)
				if to.BySeq {
					require.NoError(t, straight.RunUntilSeq(to.Seq))
				} else {
					require.NoError(t, straight.RunUntil(to.Time))
				}
				require.Equal(t, courseState(t, straight, &sent), courseState(t, c.r, &c.sent), "seek to %+v", to)

				// On from there: the same events frames.
				straightEvents = straightEvents[:0]
				c.takeBatch()
				d := 50 * time.Millisecond
				require.NoError(t, c.advance(d, never))
				require.NoError(t, straight.RunUntil(straight.Sim.Now()+d))
				got1 := eventsFrame(c.takeBatch(), &c.sent, leaderMarkOf(c.sim().View()))
				want := eventsFrame(straightEvents, &sent, leaderMarkOf(straight.Sim.View()))
				require.Equal(t, string(want), string(got1), "events after the seek to %+v", to)
				require.Equal(t, horizon, c.horizon, "the horizon stays where the run reached")
			}
		})
	}
}

var errNotDone = fmt.Errorf("the seek did not call done")

// TestSeekKeepsServing holds a seek in its goroutine and checks that the
// session goes on meanwhile: a request for state is answered (with the run
// where it stands, not yet the seek's), pause is acknowledged, status
// frames keep coming; a second seek cancels the first; once released, the
// one state frame of the seek shows the second seek's target.
func TestSeekKeepsServing(t *testing.T) {
	held, release := make(chan struct{}, 2), make(chan struct{})
	hook := func() { held <- struct{}{}; <-release }
	seekHook.Store(&hook)
	defer seekHook.Store(nil)

	ts := startServer(t, SessionOptions{Seed: 8, Speed: 5, Paused: true}, "")
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // before the server's cleanup: a failing test still ends
	c := ts.dial("")
	c.next("state")
	// Paused until this viewer has its state: the first election is then
	// in its events, not already over when it connects.
	c.do(map[string]any{"op": "resume"})
	first := c.waitEvent(func(e raft.Event) bool { return e.Kind == raft.EvRole && e.Role == raft.Leader })
	c.waitEvent(func(e raft.Event) bool { return e.Seq > first.Seq+300 })

	c.do(map[string]any{"op": "seek", "seq": first.Seq})
	<-held // the seek is in its goroutine, and stays there
	c.send(map[string]any{"op": "state"})
	asked := c.state()
	require.Equal(t, "asked", asked.Reason, "a request for state is answered while a seek runs")
	require.Greater(t, asked.Seq, first.Seq, "the session still shows the run where it stood")
	c.do(map[string]any{"op": "pause"})
	c.next("status")
	c.next("status")

	c.do(map[string]any{"op": "seek", "seq": first.Seq + 100})
	<-held
	let()
	seek := c.state()
	require.Equal(t, "seek", seek.Reason)
	require.Equal(t, first.Seq+100, seek.Seq, "the newer seek is the one shown")
	c.send(map[string]any{"op": "state"})
	for {
		st := c.state()
		require.NotEqual(t, "seek", st.Reason, "the cancelled seek was shown after all")
		if st.Reason == "asked" {
			require.Equal(t, first.Seq+100, st.Seq)
			break
		}
	}
}
