package lab

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

// script drives a run through a fixed list of commands, so that two runs with
// the same seed can be compared.
func script(t testing.TB, s *Sim) {
	t.Helper()
	s.RunFor(300 * time.Millisecond)
	require.NoError(t, s.Isolate(2))
	s.RunFor(200 * time.Millisecond)
	require.NoError(t, s.SetNetwork(UnreliableNetwork()))
	require.NoError(t, s.Crash(3))
	s.RunFor(200 * time.Millisecond)
	require.NoError(t, s.Restart(3))
	s.Heal()
	_, _, _, err := s.Propose(1, []byte("x=1"))
	require.NoError(t, err)
	s.RunFor(500 * time.Millisecond)
}

func traceOf(t testing.TB, opts Options, drive func(testing.TB, *Sim)) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw, err := NewTraceWriter(&buf, HeaderFor(opts))
	require.NoError(t, err)
	opts.Sink = tw.Write
	s, err := New(opts)
	require.NoError(t, err)
	drive(t, s)
	require.NoError(t, tw.Flush())
	return buf.Bytes()
}

func TestSameSeedSameTrace(t *testing.T) {
	opts := Options{Nodes: 5, Seed: 7, New: newPingNode, Impl: "ping"}
	a := traceOf(t, opts, script)
	b := traceOf(t, opts, script)
	require.Greater(t, bytes.Count(a, []byte("\n")), 500, "the run should be long enough to mean something")
	require.True(t, bytes.Equal(a, b), "two runs with seed 7 and the same commands gave different traces")

	opts.Seed = 8
	c := traceOf(t, opts, script)
	require.False(t, bytes.Equal(a, c), "seeds 7 and 8 gave the same trace: the seed is not reaching the run")
}

func TestTraceRoundTripAndReplay(t *testing.T) {
	opts := Options{Nodes: 3, Seed: 3, New: newPingNode, Impl: "ping", Network: UnreliableNetwork()}
	data := traceOf(t, opts, script)
	tr, err := ReadTrace(bytes.NewReader(data), "run.jsonl")
	require.NoError(t, err)
	require.Equal(t, uint64(3), tr.Header.Seed)
	require.NotEmpty(t, tr.Commands())

	// Every line reads back and writes out again the same.
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, tr.Events, len(lines)-2, "a header, the events, an end record")
	for i, e := range tr.Events {
		require.Equal(t, lines[i+1], string(e.AppendJSON(nil)), "line %d", i+2)
	}

	// Applying the commands again at their steps gives the same run.
	require.NoError(t, Verify(tr, newPingNode))
}

func TestReplayNoticesDivergence(t *testing.T) {
	opts := Options{Nodes: 3, Seed: 3, New: newPingNode, Impl: "ping"}
	tr, err := ReadTrace(bytes.NewReader(traceOf(t, opts, script)), "run.jsonl")
	require.NoError(t, err)
	tr.Header.Seed = 4 // a different run
	err = Verify(tr, newPingNode)
	require.Error(t, err)
	require.Contains(t, err.Error(), "differs at event")
}

func TestReadTraceRefusesBadFiles(t *testing.T) {
	opts := Options{Nodes: 3, Seed: 1, New: newPingNode, Impl: "ping"}
	data := string(traceOf(t, opts, func(t testing.TB, s *Sim) { s.RunFor(200 * time.Millisecond) }))
	lines := strings.SplitAfter(data, "\n")
	require.Greater(t, len(lines), 10)
	cut := strings.Join(lines[:6], "") + lines[6][:len(lines[6])/2]

	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "is empty"},
		{"truncated", cut, "line 7: the line ends in the middle of an event: the file is truncated"},
		{"not json", lines[0] + "hello\n", "line 2: not a valid event"},
		{"not a trace", `{"format":"x","version":1,"nodes":3}` + "\n", "line 1: not a raftlab trace"},
		{"future version", strings.Replace(lines[0], `"version":2`, `"version":9`, 1), "line 1: trace format version 9"},
		{"missing event", lines[0] + lines[1] + lines[3], "line 3: event number 3, want 2"},
		{"unknown kind", lines[0] + `{"seq":1,"t":0,"kind":"explode"}` + "\n", `line 2: not a valid event: raft: unknown event kind "explode"`},
		{"bad node", lines[0] + `{"seq":1,"t":0,"kind":"crash","node":9}` + "\n", "line 2: event about n9, but the run has nodes n1 to n3"},
		{"unknown field", lines[0] + `{"seq":1,"t":0,"kind":"crash","node":1,"boom":1}` + "\n", `line 2: not a valid event: json: unknown field "boom"`},
		{"send without message", lines[0] + `{"seq":1,"t":0,"kind":"send","node":1}` + "\n", "line 2: send event without a message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTrace(strings.NewReader(tc.data), "run.jsonl")
			require.Error(t, err)
			require.Contains(t, err.Error(), "run.jsonl")
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNetworkFaults(t *testing.T) {
	count := func(net Network) Stats {
		s, err := New(Options{Nodes: 5, Seed: 11, New: newPingNode, Network: net})
		require.NoError(t, err)
		s.RunFor(10 * time.Second)
		return s.Stats()
	}
	clean := count(DefaultNetwork())
	require.Zero(t, clean.Dropped, "a reliable network dropped messages")
	// Messages sent in the last 10ms of the run are still on their way.
	require.LessOrEqual(t, clean.Messages()-clean.Delivered, uint64(40), "every message sent on a reliable network arrives")

	lossy := DefaultNetwork()
	lossy.Loss = 0.25
	ls := count(lossy)
	frac := float64(ls.Dropped) / float64(ls.Messages())
	require.InDelta(t, 0.25, frac, 0.03, "with Loss 0.25 the share of dropped messages should be near 25%%")

	dup := DefaultNetwork()
	dup.Duplicate = 0.5
	ds := count(dup)
	require.Greater(t, ds.Delivered, ds.Messages()*13/10, "with Duplicate 0.5 about 1.5 deliveries per message are expected")
}

func TestPartitionAndCrashDropMessages(t *testing.T) {
	s, err := New(Options{Nodes: 3, Seed: 5, New: newPingNode})
	require.NoError(t, err)
	var drops []string
	s.opts.Sink = func(e *raft.Event) {
		if e.Kind == raft.EvDrop {
			drops = append(drops, e.Text)
		}
	}
	require.NoError(t, s.Isolate(1))
	s.RunFor(200 * time.Millisecond)
	require.Contains(t, drops, "the network is partitioned")
	// n1 alone on one side, the rest on the other: the view must say so (a
	// loop that only looks at one-server groups would pass on any view).
	require.ElementsMatch(t, [][]raft.NodeID{{1}, {2, 3}}, s.View().Groups)
	require.False(t, s.View().Connected(1, 2))
	require.True(t, s.View().Connected(2, 3))
	s.Heal()
	require.NoError(t, s.Crash(2))
	drops = nil
	s.RunFor(200 * time.Millisecond)
	require.Contains(t, drops, "n2 is down")
	require.False(t, s.Up(2))
	require.Error(t, s.Crash(2), "crashing a node twice must be refused")
	require.NoError(t, s.Restart(2))
	require.Error(t, s.Restart(2), "restarting a running node must be refused")
}

func TestCommandsRefuseBadInput(t *testing.T) {
	s, err := New(Options{Nodes: 3, Seed: 5, New: newPingNode})
	require.NoError(t, err)
	require.ErrorContains(t, s.Crash(9), "there is no node n9: nodes are n1 to n3")
	require.ErrorContains(t, s.Partition([]raft.NodeID{1, 2}, []raft.NodeID{2, 3}), "partition puts n2 in two groups")
	require.ErrorContains(t, s.Partition([]raft.NodeID{1, 7}), "partition names n7")
	bad := DefaultNetwork()
	bad.Loss = 1.5
	require.ErrorContains(t, s.SetNetwork(bad), "Loss (1.5) must be a probability between 0 and 1")
	_, _, _, err = s.Propose(0, []byte("x"))
	require.Error(t, err)
	require.ErrorContains(t, s.ForceTimeout(4), "no node n4")

	_, err = New(Options{Nodes: 0, New: newPingNode})
	require.ErrorContains(t, err, "a cluster has 1 to 15 nodes, not 0")
	_, err = New(Options{Nodes: 3})
	require.ErrorContains(t, err, "Options.New is nil")
	cfg := raft.DefaultConfig()
	cfg.ElectionTimeout = 60 * time.Millisecond
	_, err = New(Options{Nodes: 3, New: newPingNode, Config: cfg})
	require.ErrorContains(t, err, "ElectionTimeout (60ms) must be at least twice HeartbeatTimeout (50ms)")
}

// BenchmarkSimulator measures events processed per second of wall time, 5
// nodes of the trivial pingNode, checker on, no trace written.
func BenchmarkSimulator(b *testing.B) {
	s, err := New(Options{Nodes: 5, Seed: 1, New: newPingNode})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	start := s.Stats().Events
	for s.Stats().Events-start < uint64(b.N) {
		s.RunFor(time.Second)
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Stats().Events-start)/b.Elapsed().Seconds(), "events/s")
}
