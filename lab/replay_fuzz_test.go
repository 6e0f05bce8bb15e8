package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// craftedTraces are files made to crash or hang a replay (issue 14, item 5).
// Each is in the fuzz corpus too (testdata/fuzz/FuzzReplay).
var craftedTraces = map[string]string{
	// A latency range up to 2^63-1 once panicked in Sim.latency (Int64N).
	"max-latency": `{"format":"raftlab-trace","version":2,"impl":"solutions","seed":1,"nodes":3,"network":{"minLatency":0,"maxLatency":9223372036854775807}}
{"format":"raftlab-trace-end","events":0}
`,
	// One server that leads alone sends nothing: a replay waiting for the
	// notes would tick forever.
	"one-node-notes": `{"format":"raftlab-trace","version":2,"impl":"solutions","seed":1,"nodes":1}
` + notes(5),
	// One server leads alone and then sends nothing, and a command is
	// recorded at a step so far on that a replay running to it (the page's
	// "live", "step") ticked for ever.
	"far-command": `{"format":"raftlab-trace","version":2,"impl":"solutions","seed":1,"nodes":1}
{"seq":1,"t":0,"kind":"propose","node":1,"step":1000000000000000,"entries":[{"index":0,"term":0,"cmd":"x"}]}
{"format":"raftlab-trace-end","events":1}
`,
	// An election timeout of 2^62 ticks of 1ns: forever before anything happens.
	"huge-timeout": `{"format":"raftlab-trace","version":2,"impl":"solutions","seed":1,"nodes":3,"config":{"tickInterval":1,"electionTimeout":4611686018427387904,"heartbeatTimeout":1,"maxAppendEntries":64}}
{"seq":1,"t":1,"kind":"note","node":1,"text":"x"}
{"format":"raftlab-trace-end","events":1}
`,
}

func notes(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"seq":%d,"t":%d,"kind":"note","node":1,"text":"n%d"}`+"\n", i, time.Duration(i)*time.Hour, i)
	}
	fmt.Fprintf(&b, `{"format":"raftlab-trace-end","events":%d}`+"\n", n)
	return b.String()
}

// quietTrace is a real run of one server, which leads alone and then goes
// quiet, followed by 5 notes that never come: the replay must give up.
func quietTrace(t testing.TB) string {
	opts := Options{Nodes: 1, Seed: 1, New: solutions.New, Impl: "solutions"}
	data := string(traceOf(t, opts, func(t testing.TB, s *Sim) { s.RunFor(time.Second) }))
	lines := strings.Split(strings.TrimSpace(data), "\n")
	lines = lines[:len(lines)-1] // the end record
	var last raft.Event
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	for i := 1; i <= 5; i++ {
		lines = append(lines, fmt.Sprintf(`{"seq":%d,"t":%d,"kind":"note","node":1,"text":"n%d"}`, last.Seq+uint64(i), time.Duration(i)*time.Hour, i))
	}
	lines = append(lines, fmt.Sprintf(`{"format":"raftlab-trace-end","events":%d}`, last.Seq+5))
	return strings.Join(lines, "\n") + "\n"
}

// TestCraftedTracesRefusedOrBounded: each crafted trace is refused when read,
// or its replay (-verify, and a replay session's check) ends with an error
// after a bounded amount of work.
func TestCraftedTracesRefusedOrBounded(t *testing.T) {
	crafted := maps.Clone(craftedTraces)
	crafted["quiet-then-notes"] = quietTrace(t)
	for name, data := range crafted {
		t.Run(name, func(t *testing.T) {
			tr, err := ReadTrace(strings.NewReader(data), name)
			if err != nil {
				require.NotContains(t, err.Error(), "\n", "one sentence")
				t.Logf("refused: %v", err)
				return
			}
			start := time.Now()
			err = Verify(tr, solutions.New)
			require.Error(t, err, "a crafted trace cannot replay exactly")
			t.Logf("replay ended in %v: %v", time.Since(start), err)
		})
	}
}

// FuzzReplay fuzzes the whole replay path: read a file, build the
// simulation its header describes, and run a bounded prefix of it with its
// commands and the trace checker. No file may panic, and the work of the
// prefix is bounded by its count of steps.
func FuzzReplay(f *testing.F) {
	for _, data := range craftedTraces {
		f.Add([]byte(data))
	}
	f.Add([]byte(quietTrace(f)))
	opts := Options{Nodes: 3, Seed: 5, New: solutions.New, Impl: "solutions", Network: UnreliableNetwork()}
	f.Add(traceOf(f, opts, func(t testing.TB, s *Sim) {
		s.RunFor(400 * time.Millisecond)
		_ = s.Crash(1)
		_, _, _, _ = s.Propose(2, []byte("x"))
		s.RunFor(300 * time.Millisecond)
		_ = s.Restart(1)
		s.RunFor(300 * time.Millisecond)
	}))
	// Compaction: a node that reports a snapshot once cost work in
	// proportion to its log on every call (TestCompactedLogCostsNoMorePerUnit).
	opts = Options{Nodes: 3, Seed: 2, New: solutions.New, Impl: "solutions", SnapshotEvery: 2}
	f.Add(traceOf(f, opts, func(t testing.TB, s *Sim) {
		s.RunFor(400 * time.Millisecond)
		for i := range 5 {
			_, _, _, _ = s.ProposeToLeader([]byte{'a' + byte(i)})
			s.RunFor(20 * time.Millisecond)
		}
		_, _, _ = s.TakeSnapshot(1)
		s.RunFor(100 * time.Millisecond)
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ReadTrace(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		opts := tr.Header.Options()
		opts.New = solutions.New
		check := NewTraceChecker(tr)
		opts.Sink = check.Check
		r, err := NewReplayer(opts, tr.Commands())
		if err != nil {
			return
		}
		for range 20000 {
			ok, err := r.Advance(Forever)
			if err != nil || !ok || check.Err() != nil {
				return
			}
		}
	})
}
