package visualizer

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/raftlab/raftlab/lab"
)

// BenchmarkSeekAfterLongRun runs a session's course at top speed (frames of
// 5,000 events, as the session's budget allows) for RAFTLAB_SEEK_UNITS units
// of work (default 8M, about 3 minutes of a top-speed session), taking
// checkpoints as the session does, then seeks to the middle and to the end
// of the run two ways: re-running from the seed (how seek worked before) and
// from the checkpoints (how it works now). It reports each time and the
// ratios, and the share of the run's time spent taking checkpoints.
//
//	go test -run '^$' -bench SeekAfterLongRun -benchtime 1x ./visualizer/
func BenchmarkSeekAfterLongRun(b *testing.B) {
	units := uint64(8_000_000)
	if v, err := strconv.ParseUint(os.Getenv("RAFTLAB_SEEK_UNITS"), 10, 64); err == nil && v > 0 {
		units = v
	}
	for range b.N {
		s, err := NewSession(SessionOptions{Impl: reference, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		c := &s.course
		over := func(_ time.Time, events, _ int) bool { return events >= 5000 }
		var inPassed, running time.Duration
		for c.r.Sim.Steps() < units {
			t0 := time.Now()
			if err := c.advance(time.Second, over); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			c.rewinder.passed(c.r)
			inPassed += time.Since(t1)
			running += time.Since(t0)
			c.takeBatch()
		}
		horizon := c.horizon
		cmds := c.r.Commands()
		fromSeed := func(seq uint64) time.Duration {
			start := time.Now()
			r, err := lab.NewReplayer(c.opts, cmds)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.RunUntilSeq(seq); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}
		p := make(syncPost, 1)
		fromCheckpoint := func(seq uint64) time.Duration {
			start := time.Now()
			var got error
			if err := c.seek(seekTarget{BySeq: true, Seq: seq}, p.post, func(err error) { got = err }); err != nil {
				b.Fatal(err)
			}
			p.wait()
			if got != nil {
				b.Fatal(got)
			}
			return time.Since(start)
		}
		mid, end := horizon.Seq/2, horizon.Seq
		beforeMid, beforeEnd := fromSeed(mid), fromSeed(end)
		afterMid, afterEnd := fromCheckpoint(mid), fromCheckpoint(end)
		b.ReportMetric(float64(horizon.Seq), "events")
		b.ReportMetric(float64(len(c.rewinder.cps)), "checkpoints")
		b.ReportMetric(float64(c.rewinder.interval), "interval-units")
		b.ReportMetric(beforeMid.Seconds(), "seed-mid-s")
		b.ReportMetric(beforeEnd.Seconds(), "seed-end-s")
		b.ReportMetric(afterMid.Seconds(), "cp-mid-s")
		b.ReportMetric(afterEnd.Seconds(), "cp-end-s")
		b.ReportMetric(beforeEnd.Seconds()/afterEnd.Seconds(), "end-speedup")
		b.ReportMetric(beforeMid.Seconds()/afterMid.Seconds(), "mid-speedup")
		b.ReportMetric(100*inPassed.Seconds()/running.Seconds(), "%checkpointing")
	}
}
