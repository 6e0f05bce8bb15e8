package visualizer

import (
	"time"

	"github.com/raftlab/raftlab/raft"
)

// liveFlights pairs the messages of a live cluster: a send reported by one
// process with its delivery reported by another. The simulator hands one
// *raft.Message to a message's send and deliver events, and the page keys a
// message by its send (sentMessages); here the two events come from two
// processes, so a delivery is matched to the oldest send on the same link
// with the same text (raft.Message.String) and given that send's message.
// A delivery that matches no send (the sender did not report it: see the
// sample in cmd/raftviz/events.go) is not shown; a send whose delivery never
// comes (lost, or to a server killed meanwhile) is forgotten after
// flightForget, and the page stops drawing it on its own.
type liveFlights struct {
	links map[[2]raft.NodeID][]liveFlight
}

type liveFlight struct {
	text string
	msg  *raft.Message
	wall time.Time
}

const (
	flightForget  = 5 * time.Second
	flightsOnLink = 64 // sends remembered per link, the oldest forgotten first
)

// match goes through merged events: it remembers sends, gives each matched
// delivery its send's message, and leaves out deliveries it cannot match.
func (f *liveFlights) match(evs []raft.Event, now time.Time) []raft.Event {
	if f.links == nil {
		f.links = map[[2]raft.NodeID][]liveFlight{}
	}
	out := evs[:0]
	for _, e := range evs {
		switch e.Kind {
		case raft.EvSend:
			link := [2]raft.NodeID{e.Msg.From, e.Msg.To}
			q := append(f.links[link], liveFlight{text: e.Msg.String(), msg: e.Msg, wall: now})
			if len(q) > flightsOnLink {
				q = q[1:]
			}
			f.links[link] = q
		case raft.EvDeliver:
			link := [2]raft.NodeID{e.Msg.From, e.Msg.To}
			q, text, found := f.links[link], e.Msg.String(), false
			for i, fl := range q {
				if fl.text == text {
					e.Msg = fl.msg
					f.links[link] = append(q[:i:i], q[i+1:]...)
					found = true
					break
				}
			}
			if !found {
				continue
			}
		}
		out = append(out, e)
	}
	for link, q := range f.links {
		i := 0
		for i < len(q) && now.Sub(q[i].wall) > flightForget {
			i++
		}
		if i == len(q) {
			delete(f.links, link)
		} else if i > 0 {
			f.links[link] = q[i:]
		}
	}
	return out
}
