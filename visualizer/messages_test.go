package visualizer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

// Every message the page draws is keyed by its send event's number: the
// deliver or drop that ends it carries the same key, unique even when two
// messages of one link arrive at the same moment; a state frame keys the
// messages in flight the same way.
func TestMessagesKeyedBySendEvent(t *testing.T) {
	ts := startServer(t, SessionOptions{Impl: reference, Nodes: 5, Seed: 11, Speed: 5}, "")
	c := ts.dial("")
	c.state()
	c.do(map[string]any{"op": "network", "knob": "duplicate", "value": 0.2})
	c.do(map[string]any{"op": "network", "knob": "loss", "value": 0.2})
	sent := map[uint64]raft.Message{}
	ended := 0
	for ended < 300 {
		events, keys := decodePageEvents(t, c.next("events"))
		for i, e := range events {
			switch e.Kind {
			case raft.EvSend:
				require.Equal(t, e.Seq, keys[i], "a send is keyed by its own number")
				sent[e.Seq] = *e.Msg
			case raft.EvDeliver, raft.EvDrop:
				m, ok := sent[keys[i]]
				if !ok {
					continue // sent before this viewer joined
				}
				require.Equal(t, m.String(), e.Msg.String(), "event %d ends the message sent by event %d", e.Seq, keys[i])
				ended++
			}
		}
	}
	c.do(map[string]any{"op": "pause"})
	var st stateFrame
	for len(st.InFlight) == 0 { // a moment with messages on their way
		c.do(map[string]any{"op": "step"})
		c.send(map[string]any{"op": "state"})
		st = c.state()
	}
	for _, f := range st.InFlight {
		require.NotZero(t, f.Key)
		require.Equal(t, f.Msg.String(), f.Say)
		if m, ok := sent[f.Key]; ok {
			require.Equal(t, m.String(), f.Msg.String())
		}
	}
}
