package raft_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/raft/kv"
	"github.com/raftlab/raftlab/solutions"
)

// These tests run the reference for real with log compaction (stage 4): the
// key/value service as each runtime's state machine, a snapshot every few
// entries (RuntimeOptions.SnapshotEvery), file stores. Like the other runtime
// tests they wait with generous deadlines and assert no durations.

// kvServer is one server of a kvCluster.
type kvServer struct {
	id     raft.NodeID
	rt     *raft.Runtime
	svc    *kv.Service
	store  *raft.FileStore
	cancel context.CancelFunc
}

// kvCluster is n servers of the reference on an in-memory network, each with
// the key/value service as its state machine and a file store in dir.
type kvCluster struct {
	t       testing.TB
	dir     string
	net     *raft.InmemNetwork
	peers   []raft.Peer
	every   uint64
	servers []*kvServer
	seq     uint64
}

func newKVCluster(t testing.TB, n int, every uint64) *kvCluster {
	c := &kvCluster{t: t, dir: t.TempDir(), net: raft.NewInmemNetwork(), every: every}
	for id := raft.NodeID(1); id <= raft.NodeID(n); id++ {
		c.peers = append(c.peers, raft.Peer{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", 9000+id)})
	}
	c.servers = make([]*kvServer, n)
	for id := raft.NodeID(1); id <= raft.NodeID(n); id++ {
		c.start(id)
	}
	t.Cleanup(c.stopAll)
	return c
}

func (c *kvCluster) start(id raft.NodeID) *kvServer {
	c.t.Helper()
	store, err := raft.OpenFileStore(filepath.Join(c.dir, fmt.Sprintf("n%d.store", id)))
	require.NoError(c.t, err)
	cfg := raft.DefaultConfig()
	cfg.ID, cfg.Peers = id, c.peers
	cfg.ElectionTimeout = 300 * time.Millisecond // fewer needless elections on a busy machine
	rt, err := raft.NewRaft(cfg, solutions.New, store, c.net.Transport(), raft.RuntimeOptions{SnapshotEvery: c.every})
	require.NoError(c.t, err)
	svc := kv.NewService(rt, id, c.peers, kv.ServiceOptions{Timeout: 2 * time.Second})
	c.net.Attach(id, rt)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(c.t, rt.Start(ctx))
	s := &kvServer{id: id, rt: rt, svc: svc, store: store, cancel: cancel}
	c.servers[id-1] = s
	return s
}

func (s *kvServer) stop() {
	s.cancel()
	<-s.rt.Done()
	s.store.Close()
}

func (c *kvCluster) stopAll() {
	for _, s := range c.servers {
		if s != nil {
			s.stop()
		}
	}
}

// put stores key=value through whichever server leads, retrying (with the
// same client seq) until it is applied.
func (c *kvCluster) put(key, value string) kv.Reply {
	c.t.Helper()
	c.seq++
	cmd := kv.Command{Op: kv.OpPut, Key: key, Value: value, Client: 7, Seq: c.seq}
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		for _, s := range c.servers {
			if s == nil || !s.rt.Leader().Self {
				continue
			}
			rep, err := s.svc.Do(context.Background(), cmd)
			if err == nil {
				return rep
			}
			var nl raft.ErrNotLeader
			if !errors.As(err, &nl) && s.rt.Err() != nil {
				c.t.Fatalf("%v stopped: %v", s.id, s.rt.Err())
			}
		}
		time.Sleep(10 * time.Millisecond) // an election is under way
	}
	c.t.Fatalf("put %s: not applied within %v", key, waitFor)
	return kv.Reply{}
}

// waitApplied waits until every running server's state machine has applied
// index, and returns their states (kv.Store snapshots) once all are at the
// same index.
func (c *kvCluster) waitSame(index uint64) map[raft.NodeID][]byte {
	c.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		states := map[raft.NodeID][]byte{}
		var at []uint64
		for _, s := range c.servers {
			_, applied := s.svc.Keys()
			state, err := s.svc.Snapshot()
			require.NoError(c.t, err)
			states[s.id] = state
			at = append(at, applied)
		}
		same := true
		for _, a := range at {
			same = same && a == at[0] && a >= index
		}
		if same {
			return states
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the servers applied up to %v, not all the same index at or past %d within %v", at, index, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *kvCluster) leader() *kvServer {
	for _, s := range c.servers {
		if s.rt.Leader().Self {
			return s
		}
	}
	return nil
}

// TestRuntimeSnapshotsInstallAndRestart: with a snapshot every 5 entries, a
// follower cut off while the others apply 40 commands is behind the leader's
// snapshot; healed, it receives InstallSnapshot, its key/value state is
// restored from it, and all three states end equal — the map and the client
// table. Then every server restarts from its file store: the state machine
// comes back from the snapshot plus the log suffix, before any new commit.
func TestRuntimeSnapshotsInstallAndRestart(t *testing.T) {
	c := newKVCluster(t, 3, 5)
	for i := range 8 {
		c.put(fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	leader := c.leader()
	require.NotNil(t, leader)
	var cut *kvServer
	for _, s := range c.servers {
		if s != leader {
			cut = s
			break
		}
	}
	_, cutAt := cut.svc.Keys()
	c.net.Cut(cut.id, true)
	var last kv.Reply
	for i := range 40 {
		last = c.put(fmt.Sprintf("k%d", i%12), fmt.Sprintf("w%d", i))
	}
	leader = c.leader()
	require.NotNil(t, leader)
	st, err := leader.rt.Status(context.Background())
	require.NoError(t, err)
	require.Greater(t, st.SnapshotIndex, cutAt+1, "the leader compacted past what the cut-off follower holds, so only a snapshot can catch it up")
	require.NotZero(t, leader.rt.Stats().Snapshots)

	c.net.Cut(cut.id, false)
	last = c.put("after", "heal")
	states := c.waitSame(last.Index)
	require.NotZero(t, cut.rt.Stats().Restores, "%v caught up by InstallSnapshot, its key/value state restored from the snapshot", cut.id)
	for id, state := range states {
		require.Equal(t, string(states[leader.id]), string(state), "%v's key/value state differs from the leader's", id)
	}
	require.Contains(t, string(states[cut.id]), `"sessions":{"7":{"seq":49`, "the client table came with the snapshot")

	// Restart every server from its file store.
	c.stopAll()
	for _, s := range c.servers {
		store, err := raft.OpenFileStore(filepath.Join(c.dir, fmt.Sprintf("n%d.store", s.id)))
		require.NoError(t, err)
		saved, err := store.Load()
		require.NoError(t, err)
		require.False(t, saved.Snapshot.IsEmpty(), "%v's store holds a snapshot", s.id)
		require.LessOrEqual(t, len(saved.Log), 2*int(c.every)+2, "%v's store holds only the log after its snapshot", s.id)
		require.NoError(t, store.Close())
	}
	for _, s := range c.servers {
		restarted := c.start(s.id)
		keys, applied := restarted.svc.Keys()
		saved, _ := restarted.store.Load()
		require.Equal(t, saved.Snapshot.LastIncludedIndex, applied, "%v's state machine starts from its stored snapshot", s.id)
		require.NotZero(t, keys)
	}
	last = c.put("after", "restart")
	states = c.waitSame(last.Index)
	for id, state := range states {
		require.Equal(t, string(states[1]), string(state), "%v's key/value state differs from n1's after the restart", id)
	}
	require.Contains(t, string(states[1]), `"k3":"w39"`, "the last write of before the restart is there")
	require.Contains(t, string(states[1]), `"after":"restart"`)
}

// TestRuntimeSnapshotBoundsTheFile: one server, 1,200 puts of 200-byte
// values over 20 keys with a snapshot every 50 entries: the store file never
// holds more than about 50 entries, the snapshot and the hard state — counted
// in bytes, against the 240 KB the values alone would take without compaction.
func TestRuntimeSnapshotBoundsTheFile(t *testing.T) {
	c := newKVCluster(t, 1, 50)
	s := c.servers[0]
	value := string(bytes.Repeat([]byte("v"), 200))
	var peak int64
	for i := range 1200 {
		c.put(fmt.Sprintf("key%02d", i%20), value)
		peak = max(peak, s.store.Size())
	}
	state, err := s.svc.Snapshot()
	require.NoError(t, err)
	// Live: the snapshot (20 values) plus at most 50 entries of ~300 bytes;
	// the file may be at most 4× its live state before it is rewritten.
	live := int64(len(state)) + 50*400
	require.Less(t, peak, 4*live, "the store file reached %d bytes; the live state is about %d", peak, live)
	t.Logf("1,200 puts of 200 bytes, a snapshot every 50: the file peaked at %d bytes (live state about %d)", peak, live)
	require.NotZero(t, s.rt.Stats().Snapshots)
}

// compactingNode is a one-server "cluster" that commits and applies each
// proposal at once, and records the snapshots its runtime hands it.
type compactingNode struct {
	id    raft.NodeID
	env   raft.Env
	last  uint64
	snaps []uint64
}

func (n *compactingNode) Tick()             {}
func (n *compactingNode) Step(raft.Message) {}
func (n *compactingNode) Propose(cmd []byte) (uint64, uint64, bool) {
	n.last++
	n.env.Apply(raft.Entry{Index: n.last, Term: 1, Command: cmd})
	return n.last, 1, true
}
func (n *compactingNode) Status() raft.Status {
	return raft.Status{ID: n.id, Role: raft.Leader, Leader: n.id, Term: 1, CommitIndex: n.last, LastApplied: n.last}
}
func (n *compactingNode) Snapshot(index uint64, data []byte) { n.snaps = append(n.snaps, index) }

// countingMachine is a StateMachine that counts what it applied.
type countingMachine struct{ applied uint64 }

func (m *countingMachine) Apply(e raft.Entry)               { m.applied = e.Index }
func (m *countingMachine) Snapshot() ([]byte, error)        { return []byte(fmt.Sprint(m.applied)), nil }
func (m *countingMachine) Restore(snap raft.Snapshot) error { return nil }

// TestRuntimeAsksForSnapshotsOnlyWhenTold: a node that implements
// raft.Compactor — as the exercises' Raft does, stubs and all, from stage 1
// on — is never handed a snapshot unless RuntimeOptions.SnapshotEvery is set
// and the runtime has a state machine. So a student who has not reached
// stage 4 runs unchanged under the default options.
func TestRuntimeAsksForSnapshotsOnlyWhenTold(t *testing.T) {
	run := func(every uint64, sm raft.StateMachine) []uint64 {
		cfg := raft.DefaultConfig()
		cfg.ID, cfg.Peers = 1, []raft.Peer{{ID: 1, Address: "127.0.0.1:9001"}}
		var node *compactingNode
		newNode := func(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
			node = &compactingNode{id: cfg.ID, env: env}
			return node
		}
		rt, err := raft.NewRaft(cfg, newNode, raft.NewInmemStore(), raft.NewInmemNetwork().Transport(), raft.RuntimeOptions{SnapshotEvery: every})
		require.NoError(t, err)
		if sm != nil {
			require.NoError(t, rt.SetStateMachine(sm))
		} else {
			go func() {
				for range rt.Applied() {
				}
			}()
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); <-rt.Done() }()
		require.NoError(t, rt.Start(ctx))
		for i := range 10 {
			_, _, err := rt.Propose(ctx, []byte{byte(i)})
			require.NoError(t, err)
		}
		_, err = rt.Status(ctx) // a step after the last proposal: the runtime has done its part
		require.NoError(t, err)
		return node.snaps
	}
	require.Empty(t, run(0, &countingMachine{}), "SnapshotEvery 0 (the default): never")
	require.Empty(t, run(3, nil), "no state machine: never")
	require.Equal(t, []uint64{3, 6, 9}, run(3, &countingMachine{}))
}
