package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/visualizer"
)

// The page keeps its own fold of events into state (static/model.js): the
// server streams events, not states, so that frames stay small and every
// message can be drawn on its way. It must agree with lab.View.Fold. Both
// folds read the same golden files (testdata/fold, written from the
// server's own output by visualizer's TestFoldGoldenFiles) and must give
// the same servers, network and partition after every 25 events, and the
// same messages on their way at the end, each keyed by its send event.

// foldCheckpoint is what both folds must agree on at one event.
type foldCheckpoint struct {
	Seq     uint64            `json:"seq"`
	Nodes   []json.RawMessage `json:"nodes"`
	Groups  [][]raft.NodeID   `json:"groups"`
	Network lab.Network       `json:"network"`
}

// nodeFields are the fields of lab.NodeView, in its JSON names.
var nodeFields = []string{"id", "up", "role", "term", "votedFor", "leader", "commitIndex", "lastApplied", "log", "savedTerm", "savedVote", "savedLog"}

func readGolden(t *testing.T, path string) (header struct {
	Nodes    int         `json:"nodes"`
	Network  lab.Network `json:"network"`
	InFlight []uint64    `json:"inflight"`
}, lines [][]byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	require.True(t, sc.Scan())
	require.NoError(t, json.Unmarshal(sc.Bytes(), &header))
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	require.NoError(t, sc.Err())
	return header, lines
}

// goFold folds the golden events with lab.View.Fold.
func goFold(t *testing.T, nodes int, net lab.Network, lines [][]byte) []foldCheckpoint {
	t.Helper()
	v := lab.NewView(nodes, net)
	var out []foldCheckpoint
	for i, line := range lines {
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(line, &fields))
		delete(fields, "key") // the page's two extra fields
		delete(fields, "say")
		raw, err := json.Marshal(fields)
		require.NoError(t, err)
		var e raft.Event
		require.NoError(t, json.Unmarshal(raw, &e))
		v.Fold(&e)
		if (i+1)%25 == 0 || i == len(lines)-1 {
			cp := foldCheckpoint{Seq: v.Seq, Groups: v.Groups, Network: v.Network}
			for _, n := range v.Nodes {
				b, err := json.Marshal(n)
				require.NoError(t, err)
				cp.Nodes = append(cp.Nodes, pickFields(t, b))
			}
			out = append(out, cp)
		}
	}
	return out
}

// pickFields keeps the fields of lab.NodeView, in one order, so that the two
// folds' servers compare as text.
func pickFields(t *testing.T, b []byte) json.RawMessage {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	if m["log"] == nil {
		m["log"] = []any{}
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for i, f := range nodeFields {
		if i > 0 {
			out.WriteByte(',')
		}
		v, err := json.Marshal(m[f])
		require.NoError(t, err)
		fmt.Fprintf(&out, "%q:%s", f, v)
	}
	out.WriteByte('}')
	return out.Bytes()
}

// pageFold is the script that folds the same events with the page's model.
const pageFold = `(async (first, text) => {
	const { Model } = await import('/static/model.js');
	const m = new Model();
	m.load({ t: 0, seq: 0, paused: true, speed: 1, live: true, horizon: { t: 0, seq: 0 }, impl: '', seed: 0, config: {},
		network: first.network, groups: first.groups, nodes: first.nodes, violations: [], inflight: [], history: [] });
	const lines = text.split('\n').filter(l => l);
	const out = [];
	lines.forEach((l, i) => {
		m.apply(JSON.parse(l));
		if ((i + 1) %% 25 === 0 || i === lines.length - 1) {
			out.push(JSON.parse(JSON.stringify({ seq: m.seq, nodes: m.nodes, groups: m.groups, network: m.network })));
		}
	});
	const keys = [...m.inflight.values()].map(f => f.key);
	return JSON.stringify({ checkpoints: out, keys, distinct: m.inflight.size });
})(%s, %s)`

func TestPageFoldMatchesLabView(t *testing.T) {
	paths, err := filepath.Glob("testdata/fold/*.jsonl")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	p := openPage(t, visualizer.SessionOptions{Nodes: 3, Seed: 1, Speed: 0.01})
	poll[bool](p, `raftviz.model.nodes.length === 3`)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			h, lines := readGolden(t, path)
			want := goFold(t, h.Nodes, h.Network, lines)

			// The file holds what made the old key (link and arrival time)
			// ambiguous: two messages of one link arriving at one moment.
			sends := map[string]int{}
			collide := false
			for _, line := range lines {
				var e struct {
					Kind   string
					Arrive int64
					Msg    *raft.Message
				}
				require.NoError(t, json.Unmarshal(line, &e))
				if e.Kind == "send" {
					k := fmt.Sprintf("%d>%d@%d:%v", e.Msg.From, e.Msg.To, e.Arrive, e.Msg.Type)
					sends[k]++
					collide = collide || sends[k] > 1
				}
			}
			require.True(t, collide, "the golden file should have two messages of one link arriving at one moment")

			start := lab.NewView(h.Nodes, h.Network)
			first, err := json.Marshal(map[string]any{"nodes": start.Nodes, "groups": start.Groups, "network": start.Network})
			require.NoError(t, err)
			text, err := json.Marshal(string(bytes.Join(lines, []byte("\n"))))
			require.NoError(t, err)
			res, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(pageFold, first, text), chromedp.EvalAwaitPromise))
			require.NoError(t, err)
			var got struct {
				Checkpoints []foldCheckpoint
				Keys        []uint64
			}
			require.NoError(t, json.Unmarshal([]byte(res), &got))
			require.Len(t, got.Checkpoints, len(want))
			for i := range want {
				g := got.Checkpoints[i]
				for j := range g.Nodes {
					g.Nodes[j] = pickFields(t, g.Nodes[j])
				}
				require.Equal(t, want[i].Seq, g.Seq)
				for j := range want[i].Nodes {
					require.JSONEq(t, string(want[i].Nodes[j]), string(g.Nodes[j]), "server n%d after event #%d", j+1, want[i].Seq)
				}
				require.Equal(t, want[i].Groups, g.Groups, "the partition after event #%d", want[i].Seq)
				require.Equal(t, want[i].Network, g.Network, "the network after event #%d", want[i].Seq)
			}
			require.ElementsMatch(t, h.InFlight, got.Keys, "the messages on their way at the end, by the number of their send event")
		})
	}
}
