package lab

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// TestArenaKeepsLogsExact: the simulator keeps the view's logs and the
// servers' stored logs in one shared array while they agree (logArena). Over
// runs that make them disagree — lost and late messages, crashes and
// restarts, partitions, proposals, and stage-4 snapshots — its view must be
// exactly the View folded from its events (nil and empty logs told apart),
// its log of each running server exactly the server's (the entries after its
// snapshot), and each server's storage exactly an InmemStore given the same
// saves. The checker is made to forget all it can (checker.forget): it must
// report nothing in these runs of the reference, and what it keeps must still
// give each server's state machine.
func TestArenaKeepsLogsExact(t *testing.T) {
	forgot := 0 // runs in which the checker forgot entries
	defer func() {
		require.GreaterOrEqual(t, forgot, 3, "the checker forgot entries in too few runs to test forgetting")
	}()
	for seed := uint64(1); seed <= 6; seed++ {
		for _, every := range []int{0, 7} {
			t.Run(fmt.Sprintf("seed=%d/snapshotEvery=%d", seed, every), func(t *testing.T) {
				const nodes = 5
				folded := NewView(nodes, UnreliableNetwork())
				stores := make([]*raft.InmemStore, nodes)
				for i := range stores {
					stores[i] = raft.NewInmemStore()
				}
				sink := func(e *raft.Event) {
					folded.Fold(e)
					if e.Node < 1 || int(e.Node) > nodes {
						return
					}
					st := stores[e.Node-1]
					switch e.Kind {
					case raft.EvSaveState:
						_ = st.SaveHardState(raft.HardState{CurrentTerm: e.Term, VotedFor: e.Vote})
					case raft.EvSaveLog:
						_ = st.SaveLog(e.Index, e.Entries)
					case raft.EvSnapshot:
						_ = st.SaveSnapshot(raft.Snapshot{LastIncludedIndex: e.Index, LastIncludedTerm: e.Term, Data: e.Entries[0].Command})
					}
				}
				s, err := New(Options{Nodes: nodes, Seed: seed, New: solutions.New, Impl: "solutions", Network: UnreliableNetwork(), SnapshotEvery: every, Sink: sink})
				require.NoError(t, err)
				s.check.window = 4 // the checker forgets all it can (checker.forget): it must not see what did not happen
				rng := rand.New(rand.NewPCG(seed, 9))
				for step := range 400 {
					id := raft.NodeID(1 + rng.IntN(nodes))
					switch rng.IntN(10) {
					case 0:
						if s.Up(id) {
							require.NoError(t, s.Crash(id))
						} else {
							require.NoError(t, s.Restart(id))
						}
					case 1:
						require.NoError(t, s.Isolate(id))
					case 2:
						s.Heal()
					default:
						_, _, _, _ = s.ProposeToLeader([]byte(fmt.Sprint("c", step)))
					}
					s.RunFor(time.Duration(5+rng.IntN(60)) * time.Millisecond)
					if step%20 == 19 {
						for i := range nodes {
							require.Equal(t, folded.Nodes[i], s.View().Nodes[i], "step %d: the view of server %d", step, i+1)
							want, _ := stores[i].Load()
							got, _ := s.Stored(raft.NodeID(i + 1))
							require.Equal(t, want, got, "step %d: the storage of server %d", step, i+1)
							// The view's log is the server's: the entries after its snapshot.
							if st, ok := s.Status(raft.NodeID(i + 1)); ok {
								v := s.View().Nodes[i]
								require.Equal(t, st.SnapshotIndex, v.LogBase, "step %d: server %d's log starts after its snapshot", step, i+1)
								require.Equal(t, len(st.Log), len(v.Log), "step %d: server %d's log", step, i+1)
								for k := range st.Log {
									require.True(t, st.Log[k].Equal(v.Log[k]), "step %d: server %d's entry %d", step, i+1, st.Log[k].Index)
								}
							}
						}
					}
				}
				require.Empty(t, s.Violations())
				if every > 0 {
					if s.check.base > 0 {
						forgot++
					}
					// What it kept gives each running server's state machine.
					for _, n := range s.nodes {
						if n.impl != nil && n.sm.applied >= s.check.base {
							d, ok := s.check.digestThrough(n.sm.applied)
							require.True(t, ok)
							require.Equal(t, n.sm.digest, d, "n%d's state machine through %d", n.id, n.sm.applied)
						}
					}
				}
			})
		}
	}
}

// TestArenaSharesAgreeingLogs: in a healthy run, every view log and every
// stored log stays in the arena, so they cost one array between them.
func TestArenaSharesAgreeingLogs(t *testing.T) {
	var m heapMeter
	s := commitOnLab(t, 2_000, &m)
	for i, h := range s.arena.holders {
		require.True(t, h.shared, "holder %d (server %d's %s) left the arena", i, i/2+1, []string{"view log", "storage"}[i%2])
	}
	require.GreaterOrEqual(t, len(s.arena.arr), 2_000)
}

// TestArenaRejoinsPastItsEnd: a holder that comes back at a first slot past
// the array's end (a storage discarded by a snapshot after every log left the
// arena, which drops the array) finds an empty log there and can write on.
func TestArenaRejoinsPastItsEnd(t *testing.T) {
	a := newLogArena(1)
	e := func(i uint64) raft.Entry { return raft.Entry{Index: i, Term: 1, Command: []byte{byte(i)}} }
	require.True(t, a.write(0, 0, []raft.Entry{e(1), e(2)}))
	require.True(t, a.write(1, 0, []raft.Entry{e(1)}))
	require.False(t, a.write(1, 1, []raft.Entry{{Index: 2, Term: 2}}), "a different entry where the other log has one")
	require.False(t, a.write(0, 5, []raft.Entry{e(6)}), "a write past the log's end")
	require.Nil(t, a.arr, "no log left in the arena")
	a.reset(1, 40)
	require.Empty(t, a.slice(1))
	require.True(t, a.write(1, 40, []raft.Entry{e(41)}))
	require.Equal(t, []raft.Entry{e(41)}, a.slice(1))
}
