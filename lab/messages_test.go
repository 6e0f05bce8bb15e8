package lab

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

// recorder runs a Sim of ping nodes and keeps every event.
type recorder struct {
	s      *Sim
	events []raft.Event
}

func newRecorder(t *testing.T, net Network) *recorder {
	t.Helper()
	r := &recorder{}
	s, err := New(Options{Nodes: 3, Seed: 11, New: newPingNode, Impl: "ping", Network: net,
		Sink: func(e *raft.Event) { r.events = append(r.events, *e) }})
	require.NoError(t, err)
	r.s = s
	return r
}

// nextSend runs until a message from -> to is sent and returns its send event.
func (r *recorder) nextSend(t *testing.T, from, to raft.NodeID) raft.Event {
	t.Helper()
	ok := r.s.RunUntilEvent(func(e *raft.Event) bool {
		return e.Kind == raft.EvSend && e.Node == from && e.Msg.To == to
	}, r.s.Now()+time.Second)
	require.True(t, ok, "no message from %v to %v within a second", from, to)
	return r.events[len(r.events)-1]
}

// after returns the events after seq.
func (r *recorder) after(seq uint64) []raft.Event {
	for i, e := range r.events {
		if e.Seq > seq {
			return r.events[i:]
		}
	}
	return nil
}

func delivered(events []raft.Event, m *raft.Message) int {
	n := 0
	for _, e := range events {
		if e.Kind == raft.EvDeliver && e.Msg == m {
			n++
		}
	}
	return n
}

func TestHoldThenRelease(t *testing.T) {
	r := newRecorder(t, Network{})
	send := r.nextSend(t, 1, 2)
	require.NoError(t, r.s.Hold(send.Seq))
	hold := r.events[len(r.events)-1]
	require.Equal(t, raft.EvHold, hold.Kind)
	require.Equal(t, send.Seq, hold.Cause)
	require.Same(t, send.Msg, hold.Msg)

	held := r.s.Held()
	require.Len(t, held, 1)
	require.Equal(t, send.Seq, held[0].Sent)
	inflight := r.s.InFlight()
	require.True(t, inflight[len(inflight)-1].Held, "InFlight lists the held message, marked held")

	// Long past the time it was due, it has not arrived.
	r.s.RunUntil(send.Arrive + time.Second)
	require.Zero(t, delivered(r.after(send.Seq), send.Msg), "a held message arrived")

	before := r.s.Seq()
	require.NoError(t, r.s.Release(send.Seq))
	got := r.after(before)
	require.GreaterOrEqual(t, len(got), 2)
	require.Equal(t, raft.EvRelease, got[0].Kind)
	require.Equal(t, raft.EvDeliver, got[1].Kind, "a released message is delivered at once")
	require.Same(t, send.Msg, got[1].Msg)
	require.Empty(t, r.s.Held())

	// Delivered once, it is gone: a second release is an error, not a panic.
	err := r.s.Release(send.Seq)
	require.ErrorContains(t, err, "no message sent at event")
}

func TestDiscardAndDuplicate(t *testing.T) {
	r := newRecorder(t, Network{})
	a := r.nextSend(t, 1, 3)
	require.NoError(t, r.s.Discard(a.Seq))
	last := r.events[len(r.events)-2:]
	require.Equal(t, raft.EvDiscard, last[0].Kind)
	require.Equal(t, raft.EvDrop, last[1].Kind)
	require.Equal(t, "discarded by a command", last[1].Text)
	r.s.RunUntil(a.Arrive + 100*time.Millisecond)
	require.Zero(t, delivered(r.after(a.Seq), a.Msg), "a discarded message arrived")

	// A copy of a message on its way arrives now; the original still arrives.
	b := r.nextSend(t, 2, 1)
	require.NoError(t, r.s.Duplicate(b.Seq))
	require.Equal(t, 1, delivered(r.after(b.Seq), b.Msg))
	r.s.RunUntil(b.Arrive + 100*time.Millisecond)
	require.Equal(t, 2, delivered(r.after(b.Seq), b.Msg))

	// A held message can be duplicated any number of times, then released.
	c := r.nextSend(t, 3, 2)
	require.NoError(t, r.s.Hold(c.Seq))
	require.NoError(t, r.s.Duplicate(c.Seq))
	require.NoError(t, r.s.Duplicate(c.Seq))
	require.NoError(t, r.s.Release(c.Seq))
	require.Equal(t, 3, delivered(r.after(c.Seq), c.Msg))
}

func TestMessageCommandErrors(t *testing.T) {
	r := newRecorder(t, Network{})
	send := r.nextSend(t, 1, 2)
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"hold of an event that is no send", func() error { return r.s.Hold(1) }, "no message sent at event #1"},
		{"release of a message not held", func() error { return r.s.Release(send.Seq) }, "on its way, not held: Hold it first"},
		{"discard of an unknown event", func() error { return r.s.Discard(1 << 40) }, "no message sent at event"},
		{"duplicate of an unknown event", func() error { return r.s.Duplicate(0) }, "no message sent at event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, tc.do(), tc.want)
		})
	}
	require.NoError(t, r.s.Hold(send.Seq))
	require.ErrorContains(t, r.s.Hold(send.Seq), "already held")
	require.NoError(t, r.s.Discard(send.Seq))
	require.ErrorContains(t, r.s.Release(send.Seq), "no message sent at event")
}

// A released message still meets the network as it is now: across a
// partition, or to a server that is down, it is dropped.
func TestReleaseMeetsTheNetwork(t *testing.T) {
	r := newRecorder(t, Network{})
	send := r.nextSend(t, 1, 2)
	require.NoError(t, r.s.Hold(send.Seq))
	require.NoError(t, r.s.Crash(2))
	require.NoError(t, r.s.Release(send.Seq))
	last := r.events[len(r.events)-1]
	require.Equal(t, raft.EvDrop, last.Kind)
	require.Equal(t, "n2 is down", last.Text)
}

// holdScript drives a run with every kind of message command, holding by
// predicate as well as one at a time.
func holdScript(t testing.TB, s *Sim) {
	t.Helper()
	s.HoldMatching(func(m *raft.Message) bool { return m.To == 2 })
	s.RunFor(200 * time.Millisecond)
	s.HoldMatching(nil)
	held := s.Held()
	require.NotEmpty(t, held)
	require.NoError(t, s.Duplicate(held[0].Sent))
	for i := len(held) - 1; i >= 1; i-- { // the latest first: reordered
		require.NoError(t, s.Release(held[i].Sent))
		s.RunFor(3 * time.Millisecond)
	}
	require.NoError(t, s.Discard(held[0].Sent))
	s.RunFor(10 * time.Millisecond)
	for _, f := range s.InFlight() {
		require.NoError(t, s.Hold(f.Sent))
		break
	}
	s.RunFor(100 * time.Millisecond)
}

func TestMessageCommandsReplayExactly(t *testing.T) {
	opts := Options{Nodes: 3, Seed: 5, New: newPingNode, Impl: "ping", Network: UnreliableNetwork()}
	data := traceOf(t, opts, holdScript)
	require.Equal(t, data, traceOf(t, opts, holdScript), "the same commands gave a different trace")
	tr, err := ReadTrace(bytes.NewReader(data), "held.jsonl")
	require.NoError(t, err)
	kinds := map[raft.EventKind]int{}
	for _, c := range tr.Commands() {
		kinds[c.Kind]++
	}
	for _, k := range []raft.EventKind{raft.EvHold, raft.EvRelease, raft.EvDiscard, raft.EvDuplicate} {
		require.Positive(t, kinds[k], "the trace has no %v command", k)
	}
	require.NoError(t, Verify(tr, newPingNode))
}
