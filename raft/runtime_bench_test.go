package raft_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// BenchmarkRuntimeFileStore runs 3 servers of the reference in real time on
// file stores (each save synced) over the in-memory network, and proposes
// 10,000 commands with up to 64 in flight. It reports commits per second at
// the leader over the first 2,000 commands and over the last 2,000 (8k–10k),
// and their ratio, measured in the same run: a store whose saves cost the
// same at any log length keeps it near 1. RAFTLAB_BENCH_DIR puts the stores
// elsewhere (say /dev/shm, without the disk's fsync).
func BenchmarkRuntimeFileStore(b *testing.B) {
	const commands, window, phase = 10_000, 64, 2_000
	for range b.N {
		dir := b.TempDir()
		if d := os.Getenv("RAFTLAB_BENCH_DIR"); d != "" {
			var err error
			if dir, err = os.MkdirTemp(d, "raftlab-bench-"); err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
		}
		c := newClusterIn(b, dir, 3, func(cfg *raft.Config) {
			// A long election timeout: a busy machine must not start an
			// election in the middle of the measurement.
			cfg.ElectionTimeout = 2 * time.Second
		})
		leader := c.servers[c.waitLeader().ID-1]
		at := make([]time.Time, commands+1)
		for i := range commands {
			if i >= window {
				leader.got.waitLen(b, i-window+1)
			}
			if i%phase == 0 || i == commands-phase {
				at[i] = time.Now()
			}
			index := c.propose(fmt.Sprintf("c%d", i))
			if index != uint64(i+1) {
				b.Fatalf("command %d went to index %d: a leader changed during the benchmark", i, index)
			}
		}
		leader.got.waitLen(b, commands)
		firstRate := float64(phase) / leader.got.appliedAt(phase-1).Sub(at[0]).Seconds()
		lastRate := float64(phase) / leader.got.appliedAt(commands-1).Sub(at[commands-phase]).Seconds()
		b.ReportMetric(firstRate, "commits/s@0-2k")
		b.ReportMetric(lastRate, "commits/s@8k-10k")
		b.ReportMetric(lastRate/firstRate, "ratio")
		c.stopAll()
	}
}
