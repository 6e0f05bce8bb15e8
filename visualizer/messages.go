package visualizer

import (
	"encoding/json"
	"strconv"
	"weak"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// The page draws every message from the moment it is sent until it arrives
// or is dropped. To match a deliver or drop event to the send that started
// it, each message is keyed by the sequence number of its send event: unique
// in a run, and the same when the run is replayed. The server also gives the
// message's text form (raft.Message.String), so that the page, the trace
// files and the test reports all say a message the same way.

// sentGeneration bounds the messages remembered: two generations of this
// many sends. A message still on its way after that many newer sends (only
// under extreme long delays) loses its key, and the page then drops it from
// the drawing at its arrival time instead.
const sentGeneration = 1 << 14

// sentMessages remembers the send event of each message in flight. The
// simulator hands the same *raft.Message to the send, deliver and drop
// events of one message; weak pointers keep the table from holding
// delivered messages alive.
type sentMessages struct {
	cur, old map[weak.Pointer[raft.Message]]uint64
}

// note records e if it sends a message.
func (s *sentMessages) note(e *raft.Event) {
	if e.Kind != raft.EvSend || e.Msg == nil {
		return
	}
	if s.cur == nil || len(s.cur) >= sentGeneration {
		s.old, s.cur = s.cur, make(map[weak.Pointer[raft.Message]]uint64, 256)
	}
	s.cur[weak.Make(e.Msg)] = e.Seq
}

// key returns the sequence number of the event that sent m, or 0 if unknown.
func (s *sentMessages) key(m *raft.Message) uint64 {
	if m == nil {
		return 0
	}
	p := weak.Make(m)
	if k, ok := s.cur[p]; ok {
		return k
	}
	return s.old[p]
}

// appendEvent writes e as the trace does, with two more fields on an event
// that carries a message: "key" (see sentMessages) and "say" (its text form).
func (s *sentMessages) appendEvent(b []byte, e *raft.Event) []byte {
	b = e.AppendJSON(b)
	if e.Msg == nil || len(b) == 0 || b[len(b)-1] != '}' {
		return b
	}
	b = b[:len(b)-1]
	if k := s.key(e.Msg); k != 0 {
		b = append(b, `,"key":`...)
		b = strconv.AppendUint(b, k, 10)
	}
	b = append(b, `,"say":`...)
	say, _ := json.Marshal(e.Msg.String()) // a string always encodes
	b = append(b, say...)
	return append(b, '}')
}

// inFlight is a message on its way, as a state frame lists it.
type inFlight struct {
	lab.InFlight
	Key uint64 `json:"key,omitempty"`
	Say string `json:"say"`
}

func (s *sentMessages) inFlight(list []lab.InFlight) []inFlight {
	out := make([]inFlight, len(list))
	for i, f := range list {
		out[i] = inFlight{InFlight: f, Key: s.key(f.Msg), Say: f.Msg.String()}
	}
	return out
}
