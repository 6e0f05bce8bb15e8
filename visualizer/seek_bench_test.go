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
// It also reports the rewinder's policy in units of work, which a shared
// machine cannot blur: the run's speed (units/s, measured in this run), the
// checkpoints kept and their total bytes, the widest gap a seek re-runs
// (worst-rerun-units) and the time that implies at this speed
// (worst-rerun-s), and what an hour at this speed comes to (hour-units, and
// the checkpoints and MiB it would keep at the bytes per checkpoint seen).
//
// RAFTLAB_SEEK_LONG=1 is the long run: it skips the runs from the seed
// (each as long as the run itself) and defaults to 100M units of work.
//
//	go test -run '^$' -bench SeekAfterLongRun -benchtime 1x ./visualizer/
//	RAFTLAB_SEEK_LONG=1 RAFTLAB_SEEK_UNITS=100000000 go test -run '^$' -bench SeekAfterLongRun -benchtime 1x -timeout 2h ./visualizer/
func BenchmarkSeekAfterLongRun(b *testing.B) {
	units := uint64(8_000_000)
	long := os.Getenv("RAFTLAB_SEEK_LONG") == "1"
	if long {
		units = 100_000_000
	}
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
		w := &c.rewinder
		steps := c.r.Sim.Steps()
		perSecond := float64(steps) / (running - inPassed).Seconds()
		worst := w.maxRerun(steps)
		hour := perSecond * 3600
		perCheckpoint := float64(w.bytes) / float64(max(1, len(w.cps)))
		b.ReportMetric(perSecond, "units/s")
		b.ReportMetric(float64(len(w.cps)), "checkpoints")
		b.ReportMetric(float64(w.bytes)/(1<<20), "checkpoint-MiB")
		b.ReportMetric(float64(w.interval), "interval-units")
		b.ReportMetric(float64(worst), "worst-rerun-units")
		b.ReportMetric(float64(worst)/perSecond, "worst-rerun-s")
		b.ReportMetric(hour, "hour-units")
		b.ReportMetric(hour/float64(w.interval), "hour-checkpoints")
		b.ReportMetric(hour/float64(w.interval)*perCheckpoint/(1<<20), "hour-MiB")
		mid, end := horizon.Seq/2, horizon.Seq
		afterMid, afterEnd := fromCheckpoint(mid), fromCheckpoint(end)
		b.ReportMetric(float64(horizon.Seq), "events")
		b.ReportMetric(afterMid.Seconds(), "cp-mid-s")
		b.ReportMetric(afterEnd.Seconds(), "cp-end-s")
		b.ReportMetric(100*inPassed.Seconds()/running.Seconds(), "%checkpointing")
		if !long {
			beforeMid, beforeEnd := fromSeed(mid), fromSeed(end)
			b.ReportMetric(beforeMid.Seconds(), "seed-mid-s")
			b.ReportMetric(beforeEnd.Seconds(), "seed-end-s")
			b.ReportMetric(beforeEnd.Seconds()/afterEnd.Seconds(), "end-speedup")
			b.ReportMetric(beforeMid.Seconds()/afterMid.Seconds(), "mid-speedup")
		}
	}
}
