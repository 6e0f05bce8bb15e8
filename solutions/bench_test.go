package solutions

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// BenchmarkCommit measures the reference under the simulator, with the
// safety checker on: 5 nodes, one proposal at a time — propose to the
// leader, run until the leader has committed it, propose the next. It
// reports committed entries and messages per second of wall time: the
// numbers to hold against etcd's raft core stepped in one loop with no
// network model (about 71,000 entries/s and 1.1 million messages/s on this
// machine, per the issue).
func BenchmarkCommit(b *testing.B) {
	s, err := lab.New(lab.Options{Nodes: 5, Seed: 1, New: New})
	require.NoError(b, err)
	s.RunFor(time.Second)
	leader, _ := s.View().Leader()
	cmd := []byte("x")
	msgs0 := s.Stats().Messages()
	events0 := s.Stats().Events
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		index, _, ok, err := s.Propose(leader, cmd)
		if err != nil || !ok {
			b.Fatalf("proposal %d refused: %v", i, err)
		}
		committed := func(e *raft.Event) bool {
			return e.Kind == raft.EvCommit && e.Node == leader && e.Index >= index
		}
		if !s.RunUntilEvent(committed, s.Now()+time.Second) {
			b.Fatalf("entry %d was not committed within a second of virtual time", index)
		}
	}
	b.StopTimer()
	require.Empty(b, s.Violations())
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "entries/s")
	b.ReportMetric(float64(s.Stats().Messages()-msgs0)/secs, "msgs/s")
	b.ReportMetric(float64(s.Stats().Events-events0)/float64(b.N), "events/entry")
}

// BenchmarkCommitBatched is the same with 64 proposals in flight at a time,
// as a busy client would make them.
func BenchmarkCommitBatched(b *testing.B) {
	s, err := lab.New(lab.Options{Nodes: 5, Seed: 1, New: New})
	require.NoError(b, err)
	s.RunFor(time.Second)
	leader, _ := s.View().Leader()
	msgs0 := s.Stats().Messages()
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		var last uint64
		for k := 0; k < 64 && done+k < b.N; k++ {
			last, _, _, _ = s.Propose(leader, []byte(strconv.Itoa(k)))
		}
		done += 64
		committed := func(e *raft.Event) bool { return e.Kind == raft.EvCommit && e.Node == leader && e.Index >= last }
		if !s.RunUntilEvent(committed, s.Now()+time.Second) {
			b.Fatalf("entry %d was not committed within a second", last)
		}
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "entries/s")
	b.ReportMetric(float64(s.Stats().Messages()-msgs0)/secs, "msgs/s")
}
