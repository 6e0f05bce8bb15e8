package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

// Of each kind of message on each link, one per msgSampleEvery is reported,
// however many are sent: a 1 ms heartbeat is reported 4 times a second.
func TestMessageSampleIsBounded(t *testing.T) {
	var s msgSampler
	start := time.Unix(1_700_000_000, 0)
	hb := raft.Message{Type: raft.AppendEntries, From: 1, To: 2}
	entries := raft.Message{Type: raft.AppendEntries, From: 1, To: 2, Entries: []raft.Entry{{Index: 1, Term: 1}}}
	reported := map[string]int{}
	for ms := range 1000 { // one second, a message of each every millisecond, to two peers
		now := start.Add(time.Duration(ms) * time.Millisecond)
		for _, peer := range []raft.NodeID{2, 3} {
			if s.report(peer, hb, now) {
				reported["heartbeat"]++
			}
			if s.report(peer, entries, now) {
				reported["entries"]++
			}
		}
	}
	perSecond := 2 * int(time.Second/msgSampleEvery) // two peers
	require.Equal(t, map[string]int{"heartbeat": perSecond, "entries": perSecond}, reported)
}
