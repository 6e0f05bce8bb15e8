package visualizer

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRewinderBoundsRerun drives a session's course as frames do and checks
// the rewinder's policy in units of work, never in time: with room in the
// budget it keeps every checkpoint, so a seek anywhere re-runs at most one
// interval (plus the frame that crossed it); with a budget of a few
// checkpoints it keeps their total bytes within the budget, and thins them
// evenly, so the widest gap is at most twice the average one. Each seek
// re-runs no more than the widest gap.
func TestRewinderBoundsRerun(t *testing.T) {
	const interval = 200
	for _, tiny := range []bool{false, true} {
		s, err := NewSession(SessionOptions{Impl: reference, Seed: 7})
		require.NoError(t, err)
		c := &s.course
		w := &c.rewinder
		w.interval = interval
		var frameMax uint64
		never := func(time.Time, int, int) bool { return false }
		for frame := 0; c.r.Sim.Steps() < 60*interval; frame++ {
			before := c.r.Sim.Steps()
			require.NoError(t, c.advance(7*time.Millisecond, never))
			frameMax = max(frameMax, c.r.Sim.Steps()-before)
			w.passed(c.r)
			if tiny && len(w.cps) == 1 && w.budget == checkpointBudget {
				w.budget = 6 * w.cps[0].Bytes // room for about six
			}
			c.takeBatch()
		}
		steps := c.r.Sim.Steps()
		var total int64
		for _, cp := range w.cps {
			require.Positive(t, cp.Bytes, "a checkpoint counts the bytes it holds")
			total += cp.Bytes
		}
		require.Equal(t, total, w.bytes, "the rewinder's total is its checkpoints' bytes")
		widest := w.maxRerun(steps)
		if !tiny {
			require.GreaterOrEqual(t, len(w.cps), 50, "within the budget every checkpoint is kept")
			require.LessOrEqual(t, widest, interval+frameMax, "a seek re-runs at most one interval (and a frame)")
		} else {
			require.LessOrEqual(t, w.bytes, w.budget, "the checkpoints stay within the budget")
			require.GreaterOrEqual(t, len(w.cps), 2, "thinning keeps checkpoints across the run")
			require.Less(t, len(w.cps), 50, "over the budget, checkpoints are dropped")
			bound := 2*w.cps[len(w.cps)-1].Steps/uint64(len(w.cps)-1) + interval + frameMax
			require.LessOrEqual(t, widest, bound, "thinning widens the gaps evenly (%d checkpoints over %d units)", len(w.cps), steps)
		}

		// Seeks behind where the run stands re-run at most the widest gap.
		rng := rand.New(rand.NewPCG(7, 1))
		horizon := c.horizon
		p := make(syncPost, 1)
		for range 8 {
			to := seekTarget{BySeq: true, Seq: 1 + rng.Uint64N(horizon.Seq)}
			cp, err := w.start(c.r, to)
			require.NoError(t, err)
			from := uint64(0)
			if cp != nil {
				from = cp.Steps
			}
			var got error = errNotDone
			require.NoError(t, c.seek(to, p.post, func(err error) { got = err }))
			p.wait()
			require.NoError(t, got)
			require.LessOrEqual(t, c.r.Sim.Steps()-from, widest, "the seek to event %d re-ran from unit %d", to.Seq, from)
		}
	}
}
