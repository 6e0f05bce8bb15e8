package kv_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft/kv"
)

// TestStoreSnapshotRestores: a store restored from another's snapshot holds
// the same map, the same applied index, and the same client table — a
// request retried after the restore gets the first answer, not a second
// application — and encodes to the same snapshot.
func TestStoreSnapshotRestores(t *testing.T) {
	a := kv.NewStore()
	put := cmd(t, kv.Command{Op: kv.OpPut, Key: "x", Value: "1", Client: 7, Seq: 1})
	a.Apply(1, put)
	a.Apply(2, cmd(t, kv.Command{Op: kv.OpPut, Key: "y", Value: "2", Client: 8, Seq: 4}))
	a.Apply(3, nil) // a leader's empty entry
	snap, err := a.Snapshot()
	require.NoError(t, err)

	b := kv.NewStore()
	b.Apply(1, cmd(t, kv.Command{Op: kv.OpPut, Key: "stale", Value: "gone"}))
	require.NoError(t, b.Restore(snap))
	require.Equal(t, uint64(3), b.Applied())
	require.Equal(t, 2, b.Len(), "the restored map replaces the old one")
	again, err := b.Snapshot()
	require.NoError(t, err)
	require.Equal(t, string(snap), string(again))

	// Client 7's put arrives again after the restore.
	res, ok := b.Apply(4, put)
	require.True(t, ok)
	require.Equal(t, kv.Result{Found: false, Duplicate: true}, res, "the client table came with the snapshot")
	res, _ = b.Apply(5, cmd(t, kv.Command{Op: kv.OpGet, Key: "y"}))
	require.Equal(t, kv.Result{Value: "2", Found: true}, res)

	require.ErrorContains(t, b.Restore([]byte("not json")), "kv: the snapshot does not decode")
}
