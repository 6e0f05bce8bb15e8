package visualizer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

// A delivery reported by one process is paired with the send reported by
// another: it gets the send's message, so that the page keys both alike.
// A delivery of an unreported send is left out; a send never delivered is
// forgotten after flightForget.
func TestLiveFlightsPairSendAndDeliver(t *testing.T) {
	var f liveFlights
	now := time.Now()
	hb := raft.Message{Type: raft.AppendEntries, From: 1, To: 2, Term: 3, PrevLogIndex: 4, PrevLogTerm: 3}
	send := hb
	deliver := hb // the same message, decoded by another process
	other := raft.Message{Type: raft.RequestVote, From: 3, To: 2, Term: 4}
	evs := f.match([]raft.Event{
		{Seq: 1, Kind: raft.EvSend, Node: 1, Msg: &send},
		{Seq: 2, Kind: raft.EvDeliver, Node: 2, Msg: &other}, // its send was not reported
		{Seq: 3, Kind: raft.EvDeliver, Node: 2, Msg: &deliver},
	}, now)
	require.Len(t, evs, 2)
	require.Equal(t, uint64(3), evs[1].Seq)
	require.Same(t, evs[0].Msg, evs[1].Msg, "the delivery carries its send's message")
	var sent sentMessages
	sent.note(&evs[0])
	require.Equal(t, uint64(1), sent.key(evs[1].Msg))
	// Delivered once: a second delivery of the same text matches nothing.
	again := hb
	require.Empty(t, f.match([]raft.Event{{Seq: 4, Kind: raft.EvDeliver, Node: 2, Msg: &again}}, now))

	lost := hb
	f.match([]raft.Event{{Seq: 5, Kind: raft.EvSend, Node: 1, Msg: &lost}}, now)
	require.Len(t, f.links[[2]raft.NodeID{1, 2}], 1)
	f.match(nil, now.Add(flightForget+time.Second))
	require.Empty(t, f.links, "a send never delivered is forgotten")
}
