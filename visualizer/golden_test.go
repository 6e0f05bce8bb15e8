package visualizer

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// The page folds events into its model (web/static/model.js) as lab.View.Fold
// does in Go. web/fold_test.go drives both folds from the same golden event
// files and requires the same states. This test writes those files, with
// the events exactly as the server sends them to the page (key and say
// included), and fails when the server's output drifts from them:
//
//	go test ./visualizer -run TestFoldGoldenFiles -rewrite
var rewrite = flag.Bool("rewrite", false, "rewrite the golden event files in web/testdata/fold")

// goldenHeader is the first line of a golden file: the cluster the events
// start from, and the keys of the messages on their way at the end (copies
// made by a duplicating network left out: the page draws one per key).
type goldenHeader struct {
	Nodes    int         `json:"nodes"`
	Network  lab.Network `json:"network"`
	InFlight []uint64    `json:"inflight"`
}

var goldenRuns = []struct {
	name string
	opts lab.Options
	run  func(t *testing.T, s *lab.Sim)
}{
	// Elections, replication, a crash, a partition, a restart; a lossy and
	// duplicating network; one message held and released, one discarded,
	// one duplicated by hand.
	{"faults", lab.Options{Nodes: 5, Seed: 3}, func(t *testing.T, s *lab.Sim) {
		s.RunFor(time.Second)
		for _, c := range []string{"x=1", "y=2"} {
			_, _, _, err := s.ProposeToLeader([]byte(c))
			require.NoError(t, err)
		}
		s.RunFor(100 * time.Millisecond)
		n := s.Network()
		n.Loss, n.Duplicate = 0.1, 0.3
		require.NoError(t, s.SetNetwork(n))
		s.RunFor(300 * time.Millisecond)
		f := s.InFlight()
		require.GreaterOrEqual(t, len(f), 3)
		require.NoError(t, s.Hold(f[0].Sent))
		require.NoError(t, s.Discard(f[1].Sent))
		require.NoError(t, s.Duplicate(f[2].Sent))
		s.RunFor(200 * time.Millisecond)
		require.NoError(t, s.Release(f[0].Sent))
		leader, _ := s.View().Leader()
		require.NoError(t, s.Crash(leader))
		s.RunFor(800 * time.Millisecond)
		_, _, _, _ = s.ProposeToLeader([]byte("z=3"))
		require.NoError(t, s.Partition([]raft.NodeID{1, 2}, []raft.NodeID{3, 4, 5}))
		s.RunFor(500 * time.Millisecond)
		s.Heal()
		require.NoError(t, s.Restart(leader))
		s.RunFor(400 * time.Millisecond)
		f = s.InFlight()
		require.NoError(t, s.Hold(f[len(f)-1].Sent)) // one held at the end
	}},
	// A fixed latency: messages of one link sent at one moment arrive at
	// one moment, so only the send event's number tells them apart.
	{"same-arrival", lab.Options{Nodes: 3, Seed: 1, Network: lab.Network{MinLatency: 5 * time.Millisecond, MaxLatency: 5 * time.Millisecond}}, func(t *testing.T, s *lab.Sim) {
		s.RunFor(700 * time.Millisecond)
		for _, c := range []string{"a", "b", "c", "d"} {
			_, _, _, err := s.ProposeToLeader([]byte(c))
			require.NoError(t, err)
		}
		s.RunFor(300 * time.Millisecond)
	}},
}

func TestFoldGoldenFiles(t *testing.T) {
	for _, g := range goldenRuns {
		t.Run(g.name, func(t *testing.T) {
			var events bytes.Buffer
			var sent sentMessages
			opts := g.opts
			opts.New, opts.Impl = reference.New, reference.Name
			if opts.Network == (lab.Network{}) {
				opts.Network = lab.DefaultNetwork()
			}
			opts.Sink = func(e *raft.Event) {
				sent.note(e)
				events.Write(sent.appendEvent(nil, e))
				events.WriteByte('\n')
			}
			s, err := lab.New(opts)
			require.NoError(t, err)
			g.run(t, s)
			h := goldenHeader{Nodes: opts.Nodes, Network: opts.Network, InFlight: []uint64{}}
			for _, f := range s.InFlight() {
				if !f.Dup {
					h.InFlight = append(h.InFlight, f.Sent)
				}
			}
			head, err := json.Marshal(h)
			require.NoError(t, err)
			got := append(append(head, '\n'), events.Bytes()...)
			path := filepath.Join("..", "web", "testdata", "fold", g.name+".jsonl")
			if *rewrite {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -rewrite to write the golden file")
			require.True(t, bytes.Equal(want, got), "%s differs from what the server sends now; if the change is meant, run: go test ./visualizer -run TestFoldGoldenFiles -rewrite", path)
		})
	}
}
