package raft

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// benchSizes are the log lengths the store's benchmarks compare. 1M entries
// of 16-byte commands is a 30 MB file: it fits everywhere.
var benchSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// benchDir is where the benchmarks' stores live: RAFTLAB_BENCH_DIR (say
// /dev/shm, to see the CPU cost without the disk's fsync), else a temporary
// folder on the test's disk.
func benchDir(b *testing.B) string {
	if d := os.Getenv("RAFTLAB_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "raftlab-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

func benchEntries(from uint64, n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Index: from + uint64(i), Term: 1, Command: fmt.Appendf(nil, "set k%09d=v", from+uint64(i))}
	}
	return es
}

// BenchmarkFileStoreSave measures one single-entry SaveLog and one
// SaveHardState on stores that already hold 1k, 10k, 100k and 1M entries, and
// reports each size's CPU time and allocation per save as a ratio against the 1k
// store, measured in the same run: flat is about 1. Run with -benchtime 1x
// (each size does a fixed number of saves).
func BenchmarkFileStoreSave(b *testing.B) {
	const saves = 300
	var anchorNs, anchorBytes float64
	for range b.N {
		for _, size := range benchSizes {
			path := filepath.Join(benchDir(b), "store")
			s, err := OpenFileStore(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.SaveLog(1, benchEntries(1, size)); err != nil {
				b.Fatal(err)
			}
			next := uint64(size + 1)
			// Warm up: an append soon after a freshly built log grows the
			// log's slice once (Go grows large slices by 1.25×, so the next
			// growth is size/4 saves away). That one copy is amortised over
			// those saves; a window of 300 saves would charge it all to them.
			for grown := cap(s.log); cap(s.log) == grown; {
				if err := s.SaveLog(next, benchEntries(next, 1)); err != nil {
					b.Fatal(err)
				}
				next++
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := cpuTime()
			for i := range saves {
				if err := s.SaveLog(next, benchEntries(next, 1)); err != nil {
					b.Fatal(err)
				}
				next++
				if i%10 == 0 {
					if err := s.SaveHardState(HardState{CurrentTerm: uint64(i + 1), VotedFor: 1}); err != nil {
						b.Fatal(err)
					}
				}
			}
			ns := float64(cpuTime()-start) / saves
			runtime.ReadMemStats(&after)
			bytes := float64(after.TotalAlloc-before.TotalAlloc) / saves
			s.Close()
			if size == benchSizes[0] {
				anchorNs, anchorBytes = ns, bytes
			}
			label := sizeLabel(size)
			b.ReportMetric(ns/1e3, "cpu-µs/save@"+label)
			b.ReportMetric(bytes, "B/save@"+label)
			if size != benchSizes[0] {
				b.ReportMetric(ns/anchorNs, "time-ratio@"+label)
				b.ReportMetric(bytes/anchorBytes, "alloc-ratio@"+label)
			}
		}
	}
}

// BenchmarkFileStoreOpen measures OpenFileStore on a file of N single-entry
// records (the worst case for replay: one record per entry) and reports the
// CPU time per entry at each size as a ratio against the 1k file: flat is about
// 1, O(L) to open.
func BenchmarkFileStoreOpen(b *testing.B) {
	var anchor float64
	for range b.N {
		for _, size := range benchSizes {
			path := filepath.Join(benchDir(b), "store")
			data := freshHeader()
			for i, e := range benchEntries(1, size) {
				data = appendFramed(data, func(b []byte) []byte { return appendLogRecord(b, uint64(i+1), []Entry{e}) })
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			start := cpuTime()
			s, err := OpenFileStore(path)
			if err != nil {
				b.Fatal(err)
			}
			perEntry := float64(cpuTime()-start) / float64(size)
			st, _ := s.Load()
			if len(st.Log) != size {
				b.Fatalf("opened %d entries, want %d", len(st.Log), size)
			}
			s.Close()
			if size == benchSizes[0] {
				anchor = perEntry
			}
			label := sizeLabel(size)
			b.ReportMetric(perEntry, "cpu-ns/entry@"+label)
			if size != benchSizes[0] {
				b.ReportMetric(perEntry/anchor, "ratio@"+label)
			}
		}
	}
}

// cpuTime is the CPU time this process has used, user and system, in
// nanoseconds. The benchmarks measure it rather than wall time: on a shared
// machine, wall time mostly measures the other processes.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Now().UnixNano()
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func sizeLabel(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
