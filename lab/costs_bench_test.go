package lab

import (
	"strconv"
	"testing"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// BenchmarkElectionCheck measures what the checker does when a server becomes
// leader of a cluster whose log holds L committed entries: Leader
// Completeness asks that the new leader holds every one of them, and the
// checker must not re-read them all to know it (issue 12).
//
//	go test -run '^$' -bench ElectionCheck ./lab/
func BenchmarkElectionCheck(b *testing.B) {
	for _, l := range []int{1_000, 1_000_000} {
		b.Run("L="+strconv.Itoa(l), func(b *testing.B) {
			v := NewView(5, DefaultNetwork())
			c := newChecker(1)
			log := make([]raft.Entry, l)
			for i := range log {
				log[i] = raft.Entry{Index: uint64(i + 1), Term: 1, Command: []byte("x")}
			}
			for i := range v.Nodes {
				ev := raft.Event{Kind: raft.EvLog, Node: raft.NodeID(i + 1), Index: 1, Entries: log}
				c.check(&ev, v)
				v.Fold(&ev)
				ev = raft.Event{Kind: raft.EvCommit, Node: raft.NodeID(i + 1), Index: uint64(l)}
				c.check(&ev, v)
				v.Fold(&ev)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ev := raft.Event{Kind: raft.EvRole, Node: raft.NodeID(i%5 + 1), Term: uint64(i + 2), Role: raft.Leader}
				if found := c.check(&ev, v); len(found) > 0 {
					b.Fatal(found[0])
				}
			}
		})
	}
}

// BenchmarkProposeUncommitted measures what the simulator does around one
// proposal to a leader holding U uncommitted entries: the call, the diff of
// the leader's log against the view, the events and the checker. The leader
// is a puppet whose own Propose is O(1), so that only the simulator is
// measured (the reference's advanceCommitIndex walks its uncommitted entries
// on every proposal: that cost is the implementation's). The cost should not
// depend on U (issue 12). Run it with a fixed count so that U stays near its
// label:
//
//	go test -run '^$' -bench ProposeUncommitted -benchtime 2000x ./lab/
func BenchmarkProposeUncommitted(b *testing.B) {
	for _, u := range []int{1_000, 50_000} {
		b.Run("U="+strconv.Itoa(u), func(b *testing.B) {
			ps := puppets{}
			s, err := New(Options{Nodes: 3, Seed: 1, New: ps.newPuppet})
			if err != nil {
				b.Fatal(err)
			}
			ps.get(1).do = lead(1)
			s.RunFor(10 * time.Millisecond)
			cmd := []byte("x")
			for range u {
				if _, _, ok, err := s.Propose(1, cmd); !ok || err != nil {
					b.Fatalf("proposal refused: %v", err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, _, ok, err := s.Propose(1, cmd); !ok || err != nil {
					b.Fatalf("proposal refused: %v", err)
				}
			}
			b.StopTimer()
			if len(s.Violations()) > 0 {
				b.Fatal(s.Violations()[0])
			}
		})
	}
}
