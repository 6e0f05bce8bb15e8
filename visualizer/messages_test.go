package visualizer

import (
	"slices"

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

// A viewer acts on one message by its key: holds it past its arrival time
// and delivers it later, drops it, or delivers a copy of it. Each shows in
// the events every viewer gets, keyed as the message was drawn.
func TestOneMessageHeldDroppedDuplicated(t *testing.T) {
	ts := startServer(t, SessionOptions{Impl: reference, Nodes: 5, Seed: 12, Speed: 5, Paused: true}, "")
	c := ts.dial("")
	c.state()
	// Paused until this viewer has its state: the first election is then
	// in its events, not already over when it connects.
	c.do(map[string]any{"op": "resume"})
	c.waitEvent(func(e raft.Event) bool { return e.Kind == raft.EvRole && e.Role == raft.Leader })
	c.do(map[string]any{"op": "pause"})
	var st stateFrame
	for len(st.InFlight) < 3 { // a moment with three messages on their way
		c.do(map[string]any{"op": "step"})
		c.send(map[string]any{"op": "state"})
		st = c.state()
	}
	held, dropped, copied := st.InFlight[0], st.InFlight[1], st.InFlight[2]
	// waitKeyed reads events until one of kind is keyed by key.
	waitKeyed := func(kind raft.EventKind, key uint64) raft.Event {
		for {
			events, keys := decodePageEvents(t, c.next("events"))
			for i, e := range events {
				if e.Kind == kind && keys[i] == key {
					return e
				}
			}
		}
	}

	c.do(map[string]any{"op": "hold", "seq": held.Key})
	require.Equal(t, held.Key, waitKeyed(raft.EvHold, held.Key).Cause)
	c.do(map[string]any{"op": "discard", "seq": dropped.Key})
	require.Equal(t, "discarded by a command", waitKeyed(raft.EvDrop, dropped.Key).Text)
	c.do(map[string]any{"op": "duplicate", "seq": copied.Key})
	require.Equal(t, "duplicate", waitKeyed(raft.EvDeliver, copied.Key).Text)

	// Long past its arrival time the held message waits, listed as held.
	c.do(map[string]any{"op": "step", "count": 200})
	c.send(map[string]any{"op": "state"})
	st = c.state()
	require.Greater(t, st.Time, held.Arrive)
	i := slices.IndexFunc(st.InFlight, func(f inFlight) bool { return f.Key == held.Key })
	require.GreaterOrEqual(t, i, 0, "the held message is still listed")
	require.True(t, st.InFlight[i].Held)
	c.refused(map[string]any{"op": "hold", "seq": held.Key}, "already held")
	c.do(map[string]any{"op": "release", "seq": held.Key})
	e := waitKeyed(raft.EvRelease, held.Key)
	require.Equal(t, held.Msg.String(), e.Msg.String())

	c.refused(map[string]any{"op": "discard", "seq": held.Key}, "is on its way")
	c.refused(map[string]any{"op": "hold"}, `say which message in "seq"`)
}
