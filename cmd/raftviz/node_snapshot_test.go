package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/raft/kv"
	"github.com/raftlab/raftlab/solutions"
)

// TestTracedNodeCompacts: the node `raftviz node` runs is wrapped to report
// its events (traced); the wrapper passes log compaction through both ways —
// the runtime's snapshot request to the node (raft.Compactor), the node's
// SaveSnapshot and RestoreSnapshot to the runtime (raft.SnapshotEnv). Three
// wrapped servers with a snapshot every 5 entries compact, and a server cut
// off past the leader's snapshot is restored by InstallSnapshot.
func TestTracedNodeCompacts(t *testing.T) {
	dir := t.TempDir()
	network := raft.NewInmemNetwork()
	var peers []raft.Peer
	for id := raft.NodeID(1); id <= 3; id++ {
		peers = append(peers, raft.Peer{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", 9100+id)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	rts := map[raft.NodeID]*raft.Runtime{}
	svcs := map[raft.NodeID]*kv.Service{}
	for _, p := range peers {
		store, err := raft.OpenFileStore(filepath.Join(dir, p.ID.String()))
		require.NoError(t, err)
		cfg := raft.DefaultConfig()
		cfg.ID, cfg.Peers, cfg.ElectionTimeout = p.ID, peers, 300*time.Millisecond
		rt, err := raft.NewRaft(cfg, traced(solutions.New, newEventHub(p.ID), &cutSet{}), store, network.Transport(), raft.RuntimeOptions{SnapshotEvery: 5})
		require.NoError(t, err)
		svcs[p.ID] = kv.NewService(rt, p.ID, peers, kv.ServiceOptions{Timeout: 2 * time.Second})
		network.Attach(p.ID, rt)
		require.NoError(t, rt.Start(ctx))
		rts[p.ID] = rt
		t.Cleanup(func() { <-rt.Done(); store.Close() })
	}
	t.Cleanup(cancel)
	seq := uint64(0)
	put := func(key string) uint64 {
		seq++
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for id, rt := range rts {
				if rt.Leader().Self {
					if rep, err := svcs[id].Do(ctx, kv.Command{Op: kv.OpPut, Key: key, Value: "v", Client: 1, Seq: seq}); err == nil {
						return rep.Index
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("put %s: not applied", key)
		return 0
	}
	put("first")
	var cut raft.NodeID
	for id, rt := range rts {
		if !rt.Leader().Self {
			cut = id
		}
	}
	network.Cut(cut, true)
	for i := range 20 {
		put(fmt.Sprintf("k%d", i))
	}
	network.Cut(cut, false)
	last := put("last")
	deadline := time.Now().Add(30 * time.Second)
	for _, applied := svcs[cut].Keys(); applied < last; _, applied = svcs[cut].Keys() {
		require.True(t, time.Now().Before(deadline), "%v caught up", cut)
		time.Sleep(10 * time.Millisecond)
	}
	keys, _ := svcs[cut].Keys()
	require.Equal(t, 22, keys)
	var snapshots uint64
	for _, rt := range rts {
		snapshots += rt.Stats().Snapshots
	}
	require.NotZero(t, snapshots, "the wrapped nodes compacted")
	require.NotZero(t, rts[cut].Stats().Restores, "%v was restored by InstallSnapshot through the wrapper", cut)
}
