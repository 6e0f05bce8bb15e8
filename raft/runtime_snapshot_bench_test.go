package raft_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/raft/kv"
	"github.com/raftlab/raftlab/solutions"
)

// retained counts the bytes of commands a running server holds: in its
// node's log, in its store's log and in its store's snapshot — what grows
// with every command unless the server compacts.
func retained(t testing.TB, s *kvServer) (logEntries int, bytes int) {
	t.Helper()
	st, err := s.rt.Status(context.Background())
	require.NoError(t, err)
	for _, e := range st.Log {
		bytes += len(e.Command)
	}
	saved, err := s.store.Load()
	require.NoError(t, err)
	for _, e := range saved.Log {
		bytes += len(e.Command)
	}
	return len(st.Log), bytes + len(saved.Snapshot.Data)
}

// TestRuntimeSnapshotMemoryFlat: one server of the reference with the
// key/value service, 20 keys overwritten again and again, a snapshot every 50
// entries. After 225 puts and after 625 — the same point of the snapshot
// cycle, the same live state — it holds the same bytes of commands (node log,
// stored log, snapshot) and its file is no larger: what it keeps does not
// grow with the commands it has served.
func TestRuntimeSnapshotMemoryFlat(t *testing.T) {
	c := newKVCluster(t, 1, 50)
	s := c.servers[0]
	value := strings.Repeat("v", 100)
	var entries, bytes [2]int
	var size [2]int64
	for i := range 625 {
		c.put(fmt.Sprintf("key%02d", i%20), value)
		switch i + 1 {
		case 225:
			entries[0], bytes[0] = retained(t, s)
			size[0] = s.store.Size()
		case 625:
			entries[1], bytes[1] = retained(t, s)
			size[1] = s.store.Size()
		}
	}
	t.Logf("after 225 puts: %d entries in the node's log, %d bytes of commands held, a %d-byte file; after 625: %d, %d, %d",
		entries[0], bytes[0], size[0], entries[1], bytes[1], size[1])
	require.LessOrEqual(t, entries[1], 51, "the node's log holds at most the entries since the last snapshot")
	require.LessOrEqual(t, bytes[1], bytes[0]+bytes[0]/4, "bytes held after 625 puts, against 225")
	require.LessOrEqual(t, size[1], size[0]+size[0]/4, "file size after 625 puts, against 225")
}

// BenchmarkRuntimeSnapshotMemory runs one server of the reference with the
// key/value service on a file store, 1,000 keys overwritten with 64-byte
// values, with a snapshot every 1,000 entries and without, and reports after
// 2,000 and after 200,000 commands (RAFTLAB_BENCH_COMMANDS, e.g. 1000000)
// the heap in use after a collection (the whole process) and the store
// file's size, and the ratio of each from 2k to the end: flat is about 1.
// Run with -benchtime 1x; RAFTLAB_BENCH_DIR=/dev/shm keeps the disk's fsync
// out of it (on a disk, each command waits for one).
func BenchmarkRuntimeSnapshotMemory(b *testing.B) {
	for _, every := range []uint64{1000, 0} {
		name := fmt.Sprintf("every=%d", every)
		if every == 0 {
			name = "off"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				benchSnapshotMemory(b, every)
			}
		})
	}
}

func benchSnapshotMemory(b *testing.B, every uint64) {
	dir := b.TempDir()
	if d := os.Getenv("RAFTLAB_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "raftlab-bench-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	store, err := raft.OpenFileStore(filepath.Join(dir, "n1.store"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cfg := raft.DefaultConfig()
	cfg.ID, cfg.Peers = 1, []raft.Peer{{ID: 1, Address: "127.0.0.1:9001"}}
	rt, err := raft.NewRaft(cfg, solutions.New, store, raft.NewInmemNetwork().Transport(), raft.RuntimeOptions{SnapshotEvery: every})
	if err != nil {
		b.Fatal(err)
	}
	svc := kv.NewService(rt, 1, cfg.Peers, kv.ServiceOptions{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-rt.Done() }()
	if err := rt.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for !rt.Leader().Self {
		time.Sleep(10 * time.Millisecond)
	}
	commands := 200_000
	if n, err := strconv.Atoi(os.Getenv("RAFTLAB_BENCH_COMMANDS")); err == nil && n > 2_000 {
		commands = n
	}
	value := strings.Repeat("v", 64)
	heap := func() float64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc)
	}
	var heaps, sizes []float64
	for i := 1; i <= commands; i++ {
		if _, err := svc.Do(ctx, kv.Command{Op: kv.OpPut, Key: fmt.Sprintf("key%04d", i%1000), Value: value}); err != nil {
			b.Fatal(err)
		}
		if i == 2_000 || i == commands {
			heaps = append(heaps, heap())
			sizes = append(sizes, float64(store.Size()))
		}
	}
	end := fmt.Sprintf("%dk", commands/1000)
	b.ReportMetric(heaps[0], "heap-B@2k")
	b.ReportMetric(heaps[1], "heap-B@"+end)
	b.ReportMetric(heaps[1]/heaps[0], "heap-ratio")
	b.ReportMetric(sizes[0], "file-B@2k")
	b.ReportMetric(sizes[1], "file-B@"+end)
	b.ReportMetric(sizes[1]/sizes[0], "file-ratio")
}
